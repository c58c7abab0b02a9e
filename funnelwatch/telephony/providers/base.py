"""The internal call record every provider produces, and helpers they share.

A provider module turns its outside format (a CDR file, a webhook body) into
:class:`CallRecord` objects, each with one or more :class:`LegRecord`. Everything after
that (matching to managers and contacts, writing, missed calls) knows nothing of the
provider.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

ANSWERED = "answered"
NO_ANSWER = "no_answer"
BUSY = "busy"
CANCELLED = "cancelled"
FAILED = "failed"
VOICEMAIL = "voicemail"

# When no leg was answered by a person, the call's outcome is the "strongest" leg outcome.
_NOT_ANSWERED_ORDER = [BUSY, NO_ANSWER, CANCELLED, VOICEMAIL, FAILED]

# PBX plumbing that may "answer" a channel without a person on it.
PLUMBING_CHANNEL_PREFIXES = ("Local/", "Announcer/", "Recorder/")
IVR_APPS = {
    "hangup",
    "playback",
    "background",
    "read",
    "voicemail",
    "voicemailmain",
    "ivr",
    "answer",
    "wait",
    "waitexten",
    "record",
    "congestion",
    "busy",
    "progress",
    "musiconhold",
    "goto",
    "gotoif",
    "set",
    "noop",
    "system",
    "agi",
    "echo",
}


class ParseError(ValueError):
    """A record we cannot read; ``field`` names the column or key at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


# The accepted range of what a PBX reports: a call starts in 2000 or later and at most a
# day after now (a PBX clock or ``--tz`` a few hours off is still a call; year 1 or 9999 is
# a broken record), and lasts, rings or talks from 0 to 24 hours.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=1)
MAX_SECONDS = 24 * 3600


def time_bounds(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """(earliest, latest) accepted call time."""
    return EARLIEST, (now or dt.datetime.now(dt.UTC)) + FUTURE_SLACK


def out_of_range(text: str, field: str, bounds: tuple[dt.datetime, dt.datetime]) -> ParseError:
    earliest, latest = bounds
    return ParseError(
        f"{text} is outside the accepted range "
        f"({earliest:%Y-%m-%d} to {latest:%Y-%m-%d %H:%M} UTC)",
        field,
    )


def check_time(
    value: dt.datetime, field: str, bounds: tuple[dt.datetime, dt.datetime] | None = None
) -> dt.datetime:
    """``value`` (aware; naive is taken as UTC) in UTC, or ParseError naming ``field``
    when it is outside :func:`time_bounds` (or not representable in UTC at all)."""
    bounds = bounds or time_bounds()
    try:
        utc = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not bounds[0] <= utc <= bounds[1]:
        raise out_of_range(value.isoformat(), field, bounds)
    return utc


def check_seconds(value: int, field: str) -> int:
    """A duration in whole seconds within 0..24 h, or ParseError naming ``field``."""
    if 0 <= value <= MAX_SECONDS:
        return value
    text = str(value)
    text = text if len(text) <= 40 else f"{text[:20]}…({len(text)} digits)"
    if value < 0:
        raise ParseError(f"{text} is negative", field)
    raise ParseError(f"{text} is more than {MAX_SECONDS} seconds (24 hours)", field)


def check_payload(value: object, field: str = "") -> None:
    """ParseError naming the field when an event holds what no column can store: a NUL
    character or a lone surrogate in a text (PostgreSQL and UTF-8 refuse them), or a
    number that is not finite (NaN or infinity are not JSON). Walks nested objects and
    lists without recursion (a body may nest deeply)."""
    stack: list[tuple[object, str]] = [(value, field)]
    while stack:
        item, name = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ParseError("contains a NUL character", name or "body")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError("is not valid Unicode text", name or "body") from None
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ParseError(f"{item} is not a finite number", name or "body")
        elif isinstance(item, dict):
            for key, inner in item.items():
                inner_name = f"{name}.{key}" if name else str(key)
                stack.append((str(key), inner_name))
                stack.append((inner, inner_name))
        elif isinstance(item, list | tuple):
            stack.extend((inner, f"{name}[{i}]") for i, inner in enumerate(item))


@dataclass(slots=True)
class LegRecord:
    leg_id: str
    channel: str = ""
    dstchannel: str = ""
    disposition: str = ""
    billsec: int = 0
    # A person (a real endpoint, not Local/ or the IVR) answered and talked.
    answered: bool = False
    outcome: str = NO_ANSWER
    extension: str = ""  # the manager's extension on this leg, when known
    started_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    duration_s: int = 0
    src: str = ""
    dst: str = ""
    hangup_cause: str = ""
    line: int | None = None
    raw: dict = field(default_factory=dict)


@dataclass(slots=True)
class CallRecord:
    provider: str
    external_id: str
    started_at: dt.datetime
    correlation_id: str = ""
    direction: str = ""  # in / out / internal; "" = decide from the numbers
    from_raw: str = ""
    to_raw: str = ""
    extension: str = ""
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    duration_s: int = 0
    talk_seconds: int = 0
    outcome: str = NO_ANSWER
    hangup_cause: str = ""
    recording_url: str = ""
    legs: list[LegRecord] = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    line: int | None = None


@dataclass
class Rejected:
    line: int | None
    reason: str


def is_real_endpoint(channel: str, lastapp: str = "") -> bool:
    if not channel:
        return False
    if channel.startswith(PLUMBING_CHANNEL_PREFIXES):
        return False
    return lastapp.strip().lower() not in IVR_APPS


_CHANNEL_EXT = re.compile(r"^(?:PJSIP|SIP|IAX2|DAHDI|Local|sofia/[^/]+)/([^-@/;]+)")


def channel_extension(channel: str) -> str:
    """``PJSIP/101-0000001a`` → ``101``; ``Local/102@from-queue-0001;1`` → ``102``."""
    m = _CHANNEL_EXT.match(channel or "")
    return m.group(1) if m else ""


def combine(provider: str, external_id: str, legs: list[LegRecord], **extra: object) -> CallRecord:
    """One call from its legs: the call's outcome, not a leg's.

    The call is answered when some leg to a real endpoint was answered with talk time;
    ``talk_seconds`` is that leg's billed seconds (the longest, if several).
    """
    if len(legs) == 1:
        return _combine_one(provider, external_id, legs, extra)
    legs = sorted(legs, key=lambda leg: leg.started_at or dt.datetime.max.replace(tzinfo=dt.UTC))
    first = legs[0]
    answered = [leg for leg in legs if leg.answered]
    starts = [leg.started_at for leg in legs if leg.started_at]
    ends = [leg.ended_at for leg in legs if leg.ended_at]
    started_at = min(starts)
    ended_at = max(ends) if ends else None
    if answered:
        best = max(answered, key=lambda leg: leg.billsec)
        outcome, talk, answered_at = ANSWERED, best.billsec, best.answered_at
        extension = best.extension or first.extension
        cause = best.hangup_cause
    else:
        outcomes = {leg.outcome for leg in legs}
        outcome = next((o for o in _NOT_ANSWERED_ORDER if o in outcomes), NO_ANSWER)
        talk, answered_at, extension = 0, None, first.extension
        cause = next((leg.hangup_cause for leg in legs if leg.hangup_cause), "")
        best = first
    duration = max(leg.duration_s for leg in legs)
    if len(legs) > 1 and ended_at:
        duration = max(duration, int((ended_at - started_at).total_seconds()))
    rec = CallRecord(
        provider=provider,
        external_id=external_id,
        correlation_id=external_id,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration_s=duration,
        talk_seconds=talk,
        outcome=outcome,
        hangup_cause=cause,
        from_raw=first.src,
        to_raw=first.dst,
        extension=extension,
        legs=legs,
        line=first.line,
    )
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


_NOT_ANSWERED = frozenset(_NOT_ANSWERED_ORDER)


def _combine_one(provider: str, external_id: str, legs: list[LegRecord], extra: dict) -> CallRecord:
    """The common case of a call with one leg, without the sorting and grouping."""
    leg = legs[0]
    if leg.answered:
        outcome, talk, answered_at = ANSWERED, leg.billsec, leg.answered_at
    else:
        outcome = leg.outcome if leg.outcome in _NOT_ANSWERED else NO_ANSWER
        talk, answered_at = 0, None
    rec = CallRecord(
        provider=provider,
        external_id=external_id,
        correlation_id=external_id,
        started_at=leg.started_at,
        answered_at=answered_at,
        ended_at=leg.ended_at,
        duration_s=leg.duration_s,
        talk_seconds=talk,
        outcome=outcome,
        hangup_cause=leg.hangup_cause,
        from_raw=leg.src,
        to_raw=leg.dst,
        extension=leg.extension,
        legs=legs,
        line=leg.line,
    )
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def group_legs(legs: list[LegRecord], keys: list[str]) -> tuple[dict[str, list[LegRecord]], int]:
    """Group legs by correlation key (in first-seen order); drop repeated leg ids.

    Returns the groups and how many legs were dropped as repeats.
    """
    groups: dict[str, list[LegRecord]] = {}
    repeats = 0
    for leg, key in zip(legs, keys, strict=True):
        group = groups.get(key)
        if group is None:
            groups[key] = [leg]
        elif any(other.leg_id == leg.leg_id for other in group):
            repeats += 1
        else:
            group.append(leg)
    return groups, repeats
