"""Reading CDR files: lines of bytes in any encoding, csv rows, times and integers."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo

from funnelwatch.telephony.providers.base import (
    ParseError,
    check_seconds,
    out_of_range,
    time_bounds,
)


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
    for batch in batches(lines, first_line):
        yield from batch


def batches(
    lines: Iterable[bytes], first_line: int = 1, size: int | None = None
) -> Iterator[list[tuple[int, list[str] | str]]]:
    """:func:`rows` in lists, ``size`` physical lines at a time (list comprehensions
    over a chunk, not a Python step per line)."""
    size = size or _BULK
    it = iter(lines)
    number = first_line
    while chunk := list(islice(it, size)):
        try:
            texts = [raw.decode("utf-8").rstrip("\r\n") for raw in chunk]
        except UnicodeDecodeError:
            texts = [decode(raw).rstrip("\r\n") for raw in chunk]
        kept = [
            (n, text)
            for n, text in zip(range(number, number + len(chunk)), texts, strict=True)
            if text and not text.isspace()
        ]
        number += len(chunk)
        if kept:
            yield _parse(kept)


def _parse(batch: list[tuple[int, str]]) -> list[tuple[int, list[str] | str]]:
    """One csv reader for many lines (a reader per line costs more than the parsing).
    When a line is malformed (the reader fails, or a quote left open joins two lines)
    the batch is parsed again line by line, so the error names its line. A line with a
    NUL character (a damaged file; no database text column can hold it) is rejected."""
    texts = [text for _n, text in batch]
    parsed = None
    if "\x00" not in "".join(texts):  # one scan in C, not a step per line
        try:
            parsed = list(csv.reader(texts, strict=True))
        except csv.Error:
            pass
    if parsed is not None and len(parsed) == len(batch):
        return list(zip([n for n, _text in batch], parsed, strict=True))
    out: list[tuple[int, list[str] | str]] = []
    for number, text in batch:
        if "\x00" in text:
            out.append((number, "malformed CSV: the line contains a NUL character"))
            continue
        try:
            out.append((number, next(csv.reader([text], strict=True))))
        except csv.Error as exc:
            out.append((number, f"malformed CSV: {exc}"))
    return out


_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_stamp(
    text: str,
    tz: ZoneInfo,
    field: str,
    required: bool = False,
    bounds: tuple[dt.datetime, dt.datetime] | None = None,
) -> dt.datetime | None:
    """An aware datetime in UTC; naive text is read in ``tz``. A time outside the
    accepted range (``base.time_bounds``: 2000 to a day from now) is a ParseError."""
    text = text.strip()
    if not text:
        if required:
            raise ParseError("is empty", field)
        return None
    value = _stamp(text, tz)
    if value is None:
        raise ParseError(f"{text!r} is not a date and time", field)
    bounds = bounds or time_bounds()
    if not bounds[0] <= value <= bounds[1]:
        raise out_of_range(repr(text), field, bounds)
    return value


_SECONDS = {f"{n:02d}": dt.timedelta(seconds=n) for n in range(60)}


def stamp_reader(tz: ZoneInfo) -> Callable[..., dt.datetime | None]:
    """``read(text, field, required=False)``: :func:`parse_stamp` for many rows. The
    usual "YYYY-MM-DD HH:MM:SS" costs a lookup of its minute (checked and converted once)
    and an addition of its seconds. The accepted range is fixed when the reader is made."""
    minutes: dict[str, dt.datetime] = {}
    bounds = time_bounds()
    earliest, latest = bounds

    def read(text: str, field: str, required: bool = False) -> dt.datetime | None:
        if len(text) == 19 and text[16] == ":":
            minute = minutes.get(text[:16])
            value = None
            if minute is not None:
                seconds = _SECONDS.get(text[17:])
                if seconds is not None:
                    value = minute + seconds
            else:
                m = _ISO_SECONDS.fullmatch(text)
                minute = _minute(m[1], tz) if m else None
                if minute is not None:
                    minutes[m[1]] = minute
                    value = minute + _SECONDS[m[2]]
            if value is not None:
                if earliest <= value <= latest:
                    return value
                raise out_of_range(repr(text), field, bounds)
        return parse_stamp(text, tz, field, required, bounds)

    return read


_ISO_SECONDS = re.compile(r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d):([0-5]\d)", re.ASCII)


@lru_cache(maxsize=100_000)
def _stamp(text: str, tz: ZoneInfo) -> dt.datetime | None:
    # Neighbouring CDR rows share their seconds: each distinct text is converted once.
    # The usual "YYYY-MM-DD HH:MM:SS": its minute is converted once (zone offsets change
    # on whole minutes), the seconds added.
    m = _ISO_SECONDS.fullmatch(text)
    if m:
        minute = _minute(m[1], tz)
        if minute is not None:
            return minute + dt.timedelta(seconds=int(m[2]))
    return _any_stamp(text, tz)


@lru_cache(maxsize=20_000)
def _minute(text: str, tz: ZoneInfo) -> dt.datetime | None:
    return _any_stamp(text, tz)


def _any_stamp(text: str, tz: ZoneInfo) -> dt.datetime | None:
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
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # year 1 east of UTC, 9999 west of it: far outside any range
        return _UNREPRESENTABLE


_UNREPRESENTABLE = dt.datetime.min.replace(tzinfo=dt.UTC)


def parse_seconds(text: str, field: str) -> int:
    """Whole seconds from 0 to 24 hours (``base.MAX_SECONDS``)."""
    try:
        value = int(text.strip() or "0")
    except ValueError:  # not a number, or thousands of digits
        raise ParseError(f"{text[:40]!r} is not a whole number", field) from None
    return check_seconds(value, field)
