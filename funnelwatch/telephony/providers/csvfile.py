"""Reading CDR files: lines of bytes in any encoding, csv rows, times and integers."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from zoneinfo import ZoneInfo

from funnelwatch.telephony.providers.base import ParseError


def decode(raw: bytes) -> str:
    """UTF-8 when it is; else cp1251 (caller names in Russian PBX logs); never fails."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")


_BULK = 5000  # lines parsed by one csv reader


def rows(lines: Iterable[bytes], first_line: int = 1) -> Iterator[tuple[int, list[str] | str]]:
    """(line number, csv fields) for each non-empty line; (line, error text) when the
    line is not valid CSV. A quoted field spanning lines is not produced by the PBXs we
    read, so every physical line is one record."""
    number = first_line - 1
    batch: list[tuple[int, str]] = []
    for raw in lines:
        number += 1
        text = decode(raw).rstrip("\r\n")
        if not text or text.isspace():
            continue
        batch.append((number, text))
        if len(batch) >= _BULK:
            yield from _parse(batch)
            batch = []
    yield from _parse(batch)


def _parse(batch: list[tuple[int, str]]) -> Iterator[tuple[int, list[str] | str]]:
    """One csv reader for many lines (a reader per line costs more than the parsing).
    When a line is malformed (the reader fails, or a quote left open joins two lines)
    the batch is parsed again line by line, so the error names its line."""
    try:
        parsed = list(csv.reader([text for _n, text in batch], strict=True))
    except csv.Error:
        parsed = None
    if parsed is not None and len(parsed) == len(batch):
        for (number, _text), fields in zip(batch, parsed, strict=True):
            yield number, fields
        return
    for number, text in batch:
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            yield number, f"malformed CSV: {exc}"
            continue
        yield number, fields


_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_stamp(text: str, tz: ZoneInfo, field: str, required: bool = False) -> dt.datetime | None:
    """An aware datetime in UTC; naive text is read in ``tz``."""
    text = text.strip()
    if not text:
        if required:
            raise ParseError("is empty", field)
        return None
    value = _stamp(text, tz)
    if value is None:
        raise ParseError(f"{text!r} is not a date and time", field)
    return value


@lru_cache(maxsize=100_000)
def _stamp(text: str, tz: ZoneInfo) -> dt.datetime | None:
    # Neighbouring CDR rows share their seconds: each distinct text is converted once.
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        m = _SLASHED.match(text)
        if not m:
            return None
        y, mo, d, h, mi, s = m.groups()
        try:
            value = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(dt.UTC)


def parse_int(text: str, field: str) -> int:
    try:
        value = int(text.strip() or "0")
    except ValueError:
        raise ParseError(f"{text!r} is not a whole number", field) from None
    if value < 0:
        raise ParseError(f"{value} is negative", field)
    return value
