"""Shared fixtures: one little world (a head, a team lead, two managers in different
teams, a quality reviewer and an outsider) and a pipeline with every kind of stage."""

from __future__ import annotations

import os

# Sync Playwright runs an event loop in the test thread; the ORM must still work there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["funnelwatch.core.testing"]
