"""Shared fixtures: one little world (a head, a team lead, two managers in different
teams, a quality reviewer and an outsider) and a pipeline with every kind of stage."""

from __future__ import annotations

import os

import pytest

# Sync Playwright runs an event loop in the test thread; the ORM must still work there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["funnelwatch.core.testing"]


@pytest.fixture(autouse=True)
def _language_of_the_installation():
    """Each test starts and ends in the installation's language: a request or command that
    switched the thread's language (a Russian page, a background run) leaves no trace in
    the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
