"""Importing CDR files (``funnelwatch import-calls``): read, group legs, write in batches."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import DataError, IntegrityError, connection
from django.utils import timezone

from funnelwatch.metrics import refresh
from funnelwatch.ops import prom
from funnelwatch.telephony.ingest import ingest
from funnelwatch.telephony.providers import asterisk, base, freeswitch
from funnelwatch.telephony.providers.csvfile import batches

FORMATS = ("asterisk-csv", "asterisk-custom", "freeswitch-csv")
BATCH_ROWS = 20_000
SQLITE_CACHE_KB = 128 * 1024
# What storing a call can fail on because of the call's own values (not the database
# being away): such a call is rejected with its lines, the rest of its batch is kept.
_ROW_ERRORS = (DataError, IntegrityError, ValueError, OverflowError)


def zone(name: str, where: str = "--tz") -> ZoneInfo:
    """The IANA zone ``name``, or ValueError saying which setting names an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"{where}: unknown time zone {name!r} (an IANA name such as Asia/Ulaanbaatar)"
        ) from None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while importing: a batch is hundreds of thousands of
    live rows and records (none of them in cycles) that every full collection would walk
    again, which costs more than reading them."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class ImportReport:
    rows_read: int = 0
    calls_created: int = 0
    duplicates_skipped: int = 0
    legs_added: int = 0
    leads_created: int = 0
    rejected: list[base.Rejected] = field(default_factory=list)

    @property
    def nothing_imported(self) -> bool:
        """Rows were read and every one of them was rejected."""
        return self.rows_read > 0 and len(self.rejected) >= self.rows_read

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "calls_created": self.calls_created,
            "duplicates_skipped": self.duplicates_skipped,
            "legs_added": self.legs_added,
            "leads_created": self.leads_created,
            "rows_rejected": len(self.rejected),
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }


class FileImporter:
    """Parses lines of one format and writes calls in batches; keeps state between
    batches (FreeSWITCH B-leg → A-leg links) so a growing file can be fed piecewise."""

    def __init__(self, fmt: str, tz: ZoneInfo | None = None, source_name: str = "") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        self.fmt = fmt
        name = settings.FUNNELWATCH_CDR_TIMEZONE
        self.tz = tz or (
            zone(name, "FUNNELWATCH_CDR_TIMEZONE") if name else timezone.get_current_timezone()
        )
        self.provider = freeswitch.PROVIDER if fmt == "freeswitch-csv" else asterisk.PROVIDER
        self.source_name = source_name or f"{self.provider} CDR file"
        self.report = ImportReport()
        self._layouts = asterisk.layouts_for(fmt)
        self._a_of_b: dict[str, str] = {}
        if connection.vendor == "sqlite":
            # Calls go into indexes by client number and contact, i.e. all over a big
            # table: SQLite's default 2 MB page cache thrashes once the table has a few
            # hundred thousand rows.
            with connection.cursor() as cur:
                cur.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")

    def _parse(
        self, rows: list[tuple[int, list[str]]]
    ) -> tuple[list[base.LegRecord], list[str], list[base.Rejected]]:
        if self.fmt != "freeswitch-csv":
            legs, keys, errors = asterisk.parse_rows(rows, self._layouts, self.tz)
            return legs, keys, [base.Rejected(line, str(exc)) for line, exc in errors]
        legs, keys, rejected = [], [], []
        for line, fields in rows:
            try:
                leg, uuid, bleg = freeswitch.parse_row(fields, line, self.tz)
            except base.ParseError as exc:
                rejected.append(base.Rejected(line, str(exc)))
                continue
            key = self._a_of_b.get(uuid, uuid)
            if bleg:
                self._a_of_b.setdefault(bleg, key)
            legs.append(leg)
            keys.append(key)
        return legs, keys, rejected

    def feed(self, lines: Iterable[bytes], first_line: int = 1) -> None:
        """Import these lines: each batch in its own transaction, the rollups refreshed
        once at the end for everything the batches changed."""
        with _collector_paused(), refresh.deferred():
            self._feed(lines, first_line)

    def _feed(self, lines: Iterable[bytes], first_line: int) -> None:
        legs: list[base.LegRecord] = []
        keys: list[str] = []
        for batch in batches(lines, first_line):
            self.report.rows_read += len(batch)
            good, rejected = [], []
            for number, fields in batch:
                if isinstance(fields, str):
                    rejected.append(base.Rejected(number, fields))
                else:
                    good.append((number, fields))
            new_legs, new_keys, bad = self._parse(good)
            self.report.rejected += sorted(rejected + bad, key=lambda r: r.line)
            prom.observe_import(self.fmt, len(good) - len(bad), len(rejected) + len(bad))
            legs += new_legs
            keys += new_keys
            while len(legs) >= BATCH_ROWS:
                self._flush(legs[:BATCH_ROWS], keys[:BATCH_ROWS])
                legs, keys = legs[BATCH_ROWS:], keys[BATCH_ROWS:]
        self._flush(legs, keys)

    def _flush(self, legs: list[base.LegRecord], keys: list[str]) -> None:
        if not legs:
            return
        groups, repeats = base.group_legs(legs, keys)
        self.report.duplicates_skipped += repeats
        records = [base.combine(self.provider, key, group) for key, group in groups.items()]
        self._store(records)

    def _store(self, records: list[base.CallRecord]) -> None:
        """Ingest the records in one transaction. Should that fail on some call's values,
        the halves are tried on their own (each all or nothing) down to the single call,
        which is rejected with its lines: good calls are kept, none is half-written."""
        try:
            result = ingest(records, source_name=self.source_name)
        except _ROW_ERRORS as exc:
            if len(records) > 1:
                half = len(records) // 2
                self._store(records[:half])
                self._store(records[half:])
                return
            lines = sorted({leg.line for leg in records[0].legs if leg.line is not None})
            reason = f"cannot be stored: {exc}".splitlines()[0][:300]
            self.report.rejected += [base.Rejected(line, reason) for line in lines or [None]]
            self.report.rejected.sort(key=lambda r: r.line or 0)
            return
        self.report.calls_created += len(result.created_ids)
        self.report.duplicates_skipped += result.duplicates
        self.report.legs_added += result.legs_added
        self.report.leads_created += result.leads_created


def import_file(path: Path | str, fmt: str, tz: ZoneInfo | None = None) -> ImportReport:
    importer = FileImporter(fmt, tz)
    with open(path, "rb") as fh:
        importer.feed(fh)
    return importer.report


def follow(
    path: Path | str,
    fmt: str,
    *,
    poll_seconds: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
    on_batch: Callable[[ImportReport], None] | None = None,
    tz: ZoneInfo | None = None,
    from_start: bool = True,
) -> ImportReport:
    """Import a growing file: read complete lines as they are appended (like ``tail -f``);
    a file that shrinks (rotated) is read again from its start."""
    importer = FileImporter(fmt, tz)
    offset, line_no, pending = 0, 1, b""
    if not from_start:
        offset = Path(path).stat().st_size
    while True:
        size = Path(path).stat().st_size if Path(path).exists() else 0
        if size < offset:
            offset, line_no, pending = 0, 1, b""
        if size > offset:
            with open(path, "rb") as fh:
                fh.seek(offset)
                chunk = fh.read(size - offset)
            offset = size
            data = pending + chunk
            *complete, pending = data.split(b"\n")
            if complete:
                importer.feed((c + b"\n" for c in complete), first_line=line_no)
                line_no += len(complete)
                if on_batch:
                    on_batch(importer.report)
        if should_stop():
            return importer.report
        time.sleep(poll_seconds)
