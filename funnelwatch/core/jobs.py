"""Background jobs through Django's tasks API (django-tasks + the database backend)."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def enqueue_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Enqueue ``task`` once the current transaction commits (never for a rolled-back change).

    Arguments must be JSON-serialisable: pass ids, not model instances.
    """
    transaction.on_commit(lambda: task.enqueue(*args, **kwargs))
