"""Funnelwatch: a self-hosted CRM that shows a head of sales where the funnel loses money."""

__version__ = "0.1.0"
