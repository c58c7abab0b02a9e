"""Reading CDR files: lines of bytes in any encoding, csv rows, times and integers."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from funnelwatch.telephony.providers.base import ParseError


def decode(raw: bytes) -> str:
    """UTF-8 when it is; else cp1251 (caller names in Russian PBX logs); never fails."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")


def rows(lines: Iterable[bytes], first_line: int = 1) -> Iterator[tuple[int, list[str] | str]]:
    """(line number, csv fields) for each non-empty line; (line, error text) when the
    line is not valid CSV. A quoted field spanning lines is not produced by the PBXs we
    read, so every physical line is one record."""
    number = first_line - 1
    for raw in lines:
        number += 1
        text = decode(raw).rstrip("\r\n")
        if not text.strip():
            continue
        try:
            parsed = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            yield number, f"malformed CSV: {exc}"
            continue
        yield number, parsed


_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_stamp(text: str, tz: ZoneInfo, field: str, required: bool = False) -> dt.datetime | None:
    text = text.strip()
    if not text:
        if required:
            raise ParseError("is empty", field)
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        m = _SLASHED.match(text)
        if not m:
            raise ParseError(f"{text!r} is not a date and time", field) from None
        y, mo, d, h, mi, s = m.groups()
        try:
            value = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
        except ValueError:
            raise ParseError(f"{text!r} is not a date and time", field) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def parse_int(text: str, field: str) -> int:
    try:
        value = int(text.strip() or "0")
    except ValueError:
        raise ParseError(f"{text!r} is not a whole number", field) from None
    if value < 0:
        raise ParseError(f"{value} is negative", field)
    return value
