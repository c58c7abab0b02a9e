"""What the stand-alone benchmark scripts (``.venv/bin/python bench/<name>.py``) share:
Django set up on a fresh database whose files live in a throw-away data folder (SQLite
there, unless ``DATABASE_URL`` names a PostgreSQL database), migrated."""

from __future__ import annotations

import os
from pathlib import Path


def django_in(data_dir: str | Path, *, refresh_on_event: bool | None = None) -> None:
    """Set Django up with ``data_dir`` as the data folder and migrate the database.
    ``refresh_on_event=False`` leaves the rollups alone while a script writes its rows in
    bulk (it rebuilds them itself)."""
    os.environ["FUNNELWATCH_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    if refresh_on_event is not None:
        os.environ["FUNNELWATCH_METRICS_REFRESH_ON_EVENT"] = str(refresh_on_event).lower()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
