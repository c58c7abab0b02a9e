"""Walking a large table in slices, for data migrations and bulk upkeep.

A data migration that touches every row of a big table (calls, stage changes, the audit
trail) must not read it whole into memory or hold one transaction for minutes: declare
``atomic = False`` on the Migration and change the rows slice by slice, each slice in its
own transaction, so the work is resumable and other writers wait seconds at most. Name such
a migration in CHANGELOG.md (``tests/test_release_notes.py`` checks it)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import models

DEFAULT_SIZE = 5000


def in_batches(queryset: models.QuerySet, size: int = DEFAULT_SIZE) -> Iterator[models.QuerySet]:
    """The queryset as consecutive primary-key ranges of at most ``size`` rows; each slice
    is a queryset of its own, read when it is used."""
    if size < 1:
        raise ValueError("size must be at least 1")
    last = None
    while True:
        window = queryset.order_by("pk")
        if last is not None:
            window = window.filter(pk__gt=last)
        keys = list(window.values_list("pk", flat=True)[:size])
        if not keys:
            return
        low = {"pk__gt": last} if last is not None else {}
        yield queryset.filter(pk__lte=keys[-1], **low)
        last = keys[-1]
