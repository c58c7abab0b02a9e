"""The page's side of an import: keeping the uploaded files, a preview of them, the run in
the background with its progress, and the rejected rows as a CSV."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction

from funnelwatch.audit.trail import acting_as
from funnelwatch.imports import engine, presets
from funnelwatch.imports.models import ImportBatch
from funnelwatch.reports.exports import safe_text

logger = logging.getLogger("funnelwatch.imports")

MAX_FILES = 10
MAX_BYTES = 200 * 1024 * 1024  # all files of one import together
PREVIEW_ROWS = 5
MAX_CHOICES = 200  # distinct stages or owners offered for mapping


def safe_name(name: str) -> str:
    base = Path(name).name
    return re.sub(r"[^\w.\-]+", "_", base)[:100] or "file"


def store(batch: ImportBatch, uploads: list[tuple[str, bytes]]) -> None:
    stored = []
    for i, (name, data) in enumerate(uploads, start=1):
        stored.append(
            default_storage.save(f"imports/{batch.pk}/{i}-{safe_name(name)}", ContentFile(data))
        )
    batch.stored_files = stored


def files_of(batch: ImportBatch) -> list[tuple[str, bytes]]:
    out = []
    for name, path in zip(batch.file_names, batch.stored_files, strict=True):
        with default_storage.open(path, "rb") as fh:
            out.append((name, fh.read()))
    return out


def make_preview(batch: ImportBatch, files: list[tuple[str, bytes]], fmt: str) -> dict:
    """Each file's reader and encoding, its first rows, and the stage and owner values of
    the deal files (what the mapping form offers); ``format`` is the one detected when
    ``fmt`` is ``auto``."""
    from funnelwatch.imports import readers

    described = []
    stages: dict[str, None] = {}
    owners: dict[str, None] = {}
    headers: list[str] = []
    detected = fmt
    for name, data in files:
        table = readers.read(name, data)
        if fmt == "auto" and detected == "auto":
            detected = presets.detect(table.headers)
        if not headers:
            headers = [h for h in table.headers if h]
        described.append(
            {
                "name": name,
                "reader": table.kind,
                "encoding": table.encoding,
                "delimiter": {"\t": "tab"}.get(table.delimiter, table.delimiter),
                "rows": len(table.rows),
                "headers": [h for h in table.headers if h],
                "first": [
                    [_shown(row.get(h)) for h in table.headers if h]
                    for _line, row in table.rows[:PREVIEW_ROWS]
                ],
            }
        )
    if detected == "auto":
        detected = "generic"
    preset = presets.PRESETS.get(detected)
    for name, data in files:
        table = readers.read(name, data)
        cols = presets.columns_for(preset, table.headers) if preset else presets.Columns()
        stage_col, owner_col = cols.single.get("stage"), cols.single.get("owner")
        for _line, row in table.rows:
            if stage_col and row.get(stage_col) and len(stages) < MAX_CHOICES:
                stages.setdefault(_shown(row[stage_col]), None)
            if owner_col and row.get(owner_col) and len(owners) < MAX_CHOICES:
                owners.setdefault(_shown(row[owner_col]), None)
        if preset:
            described[[d["name"] for d in described].index(name)]["columns"] = cols.single
    return {
        "format": detected,
        "files": described,
        "headers": headers,
        "stages": list(stages),
        "owners": list(owners),
    }


def _shown(value: object) -> str:
    return "" if value is None else str(value).strip()[:200]


def values_of(batch: ImportBatch, column: str) -> list[str]:
    """Distinct values of a column of the uploaded files (for a generic mapping's stages
    and owners once the columns are chosen)."""
    from funnelwatch.imports import readers

    seen: dict[str, None] = {}
    for name, data in files_of(batch):
        table = readers.read(name, data)
        for _line, row in table.rows:
            value = _shown(row.get(column))
            if value and len(seen) < MAX_CHOICES:
                seen.setdefault(value, None)
    return list(seen)


# --- progress ----------------------------------------------------------------------------------
# Kept in a small file beside the uploads: the import's own transaction holds the rows it
# writes until it commits, so another request could not read progress kept in the database.


def _progress_path(batch_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / str(batch_id) / "progress.json"


def write_progress(batch_id: int, done: int, total: int) -> None:
    path = _progress_path(batch_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"done": done, "total": total}, fh)
    os.replace(tmp, path)


def read_progress(batch: ImportBatch) -> dict:
    state = batch.state
    if state in (ImportBatch.State.DONE, ImportBatch.State.UNDONE):
        return {"state": state, "done": batch.rows, "total": batch.rows, "percent": 100}
    try:
        data = json.loads(_progress_path(batch.pk).read_text())
        done, total = int(data["done"]), int(data["total"])
    except (OSError, ValueError, KeyError, TypeError):
        done, total = 0, 0
    percent = min(99, done * 100 // total) if total else 0
    return {"state": state, "done": done, "total": total, "percent": percent}


def run_queued(batch_id: int) -> str:
    """Run a batch the page queued, or its dry run (once: a second enqueue of the same batch
    does nothing)."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is not None and batch.state == ImportBatch.State.CHECKING:
            return _dry_run(batch)
        if batch is None or batch.state != ImportBatch.State.QUEUED:
            return "skipped"
        batch.state = ImportBatch.State.RUNNING
        with acting_as(batch.created_by):
            batch.save(update_fields=["state"])
    try:
        files = files_of(batch)
        engine.run(
            files,
            batch.format,
            batch.mapping,
            user=batch.created_by,
            batch=batch,
            progress=lambda done, total: write_progress(batch.pk, done, total),
        )
    except (engine.ImportFailed, OSError, DatabaseError) as exc:
        _failed(batch_id, str(exc))
        return "failed"
    except Exception as exc:
        logger.exception("import %s failed", batch_id)
        _failed(batch_id, f"{type(exc).__name__}: {exc}")
        raise
    return "done"


def _dry_run(batch: ImportBatch) -> str:
    """The dry run the page asked for: the whole import, rolled back; its report is kept
    on the batch, which is ready for the mapping again."""
    try:
        report, _none = engine.run(
            files_of(batch),
            batch.format,
            batch.mapping,
            user=batch.created_by,
            dry_run=True,
            progress=lambda done, total: write_progress(batch.pk, done, total),
        )
        batch.dry_report = report.as_dict()
    except (engine.ImportFailed, OSError, DatabaseError) as exc:
        batch.dry_report = {"error": str(exc)[:2000]}
    batch.state = ImportBatch.State.DRAFT
    with acting_as(batch.created_by):
        batch.save(update_fields=["dry_report", "state"])
    return "checked"


def _failed(batch_id: int, error: str) -> None:
    batch = ImportBatch.objects.get(pk=batch_id)
    batch.state = ImportBatch.State.FAILED
    batch.error = error[:2000]
    with acting_as(batch.created_by):
        batch.save(update_fields=["state", "error"])


def rejected_csv(batch: ImportBatch) -> str:
    rejected = (batch.report or {}).get("rejected", [])
    columns: dict[str, None] = {}
    for item in rejected:
        for key in item.get("values") or {}:
            columns.setdefault(key, None)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["file", "line", "error", *columns])
    for item in rejected:
        vals = item.get("values") or {}
        writer.writerow(
            [safe_text(item.get("file", "")), item["line"], safe_text(item["error"])]
            + [safe_text(vals.get(c, "")) for c in columns]
        )
    return out.getvalue()
