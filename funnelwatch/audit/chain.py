"""The audit trail as a hash chain, so that an event changed, removed or slipped in
afterwards shows.

Each event carries ``hash``: the SHA-256 of the previous event's hash (``prev_hash``)
followed by the event's own content (its times, who, what, which record, the changes).
The first event links to :data:`GENESIS`. :func:`verify` walks the events in id order
and names the first one whose link or content does not add up.

Appending is serialised so the chain cannot fork: on PostgreSQL the database function
``audit_chain_head()`` takes a transaction-level advisory lock and then reads the last
event, in one round trip; on SQLite the database's single write lock does it (the
project's transactions begin IMMEDIATE; otherwise a write that changes nothing takes the
lock first). Either lock is held until the appending transaction ends, so events join
the chain in the order of their ids. The cost per append is that one read of the last
row by primary key (newest first), once per batch for bulk inserts.

Times come from the server, never from the caller: ``at`` is set here, from this
server's clock, and never earlier than the event before it (so a row slipped in with an
earlier time breaks the chain, and clocks of several web hosts that differ a little
cannot). The time a change took effect in the business, when an import or the demo
states one, is kept apart in ``occurred_at``; for live changes it is the same moment.

Nothing here writes rows itself: ``AuditEvent.save`` and ``AuditQuerySet.bulk_create``
call :func:`seal`, the few raw bulk writers call :func:`seal_rows`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

GENESIS = "0" * 64

# The content an event's hash covers, in this order (attnames of AuditEvent).
CONTENT = (
    "at",
    "occurred_at",
    "actor_id",
    "source",
    "source_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
)
# What :func:`seal_rows` takes per row: the content without ``at`` (the server sets it).
ROW_FIELDS = CONTENT[1:]
# What it returns per row, ready for an INSERT.
SEALED_FIELDS = (*CONTENT, "prev_hash", "hash")

# The advisory lock's key ("fwaudit" in ASCII); any constant would do.
LOCK_KEY = 0x66776175646974

HEAD_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_chain_head(OUT head_hash varchar, OUT head_at timestamptz)
AS $$
BEGIN
    -- Held until the transaction ends: one appender at a time. The read below is a new
    -- statement, so in READ COMMITTED it sees what the previous holder committed.
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    SELECT e.hash, e.at INTO head_hash, head_at
    FROM audit_auditevent e ORDER BY e.id DESC LIMIT 1;
END; $$ LANGUAGE plpgsql VOLATILE;
"""
HEAD_FUNCTION_DROP = "DROP FUNCTION IF EXISTS audit_chain_head();"


def _time(value: dt.datetime) -> str:
    """One spelling of an instant, whatever zone it came in (and as both databases give it
    back: UTC, microseconds)."""
    if timezone.is_naive(value):
        raise ValueError("audit times must carry a time zone")
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _number(value: float) -> float | int:
    return int(Decimal(repr(value))) if value.is_integer() else value


def _canonical(value: object) -> object:
    """The JSON value as it reads back from either database: PostgreSQL's jsonb keeps
    numbers as decimals, so 2.0 comes back as 2.0 or 2, and 1e20 as an integer."""
    kind = type(value)
    if kind is dict:
        return {str(k): _canonical(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_canonical(v) for v in value]
    if kind is float:
        return _number(value)
    return value


_DECODER = json.JSONDecoder(parse_float=lambda text: _number(float(text)))


def _loaded(text: str | bytes) -> object:
    """Stored JSON text as :func:`_canonical` would give it (in one pass, while parsing)."""
    return _DECODER.decode(text if isinstance(text, str) else text.decode())


def digest(prev_hash: str, content: Sequence[object], *, canonical: bool = False) -> str:
    """The hash of one event: ``content`` holds the values of :data:`CONTENT`, in order
    (``canonical``: its changes come from :func:`_loaded` already)."""
    at, occurred_at, *rest, changes = content
    if not changes:
        changes = {}
    elif not canonical:
        changes = _canonical(changes)
    payload = json.dumps(
        [_time(at), _time(occurred_at), *rest, changes], separators=(",", ":"), sort_keys=True
    )
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def head(using: str) -> tuple[str, dt.datetime | None]:
    """Lock the chain for this transaction and read its last link: (hash, time)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit events are appended inside a transaction")
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT head_hash, head_at FROM audit_chain_head()")
            last_hash, last_at = cur.fetchone()
            return last_hash or GENESIS, last_at
        if connection.vendor == "sqlite":
            if connection.settings_dict.get("OPTIONS", {}).get("transaction_mode") != "IMMEDIATE":
                # Transactions begin DEFERRED here: take the write lock before reading.
                cur.execute("UPDATE sqlite_sequence SET seq = seq WHERE name = 'audit_auditevent'")
            cur.execute("SELECT hash, at FROM audit_auditevent ORDER BY id DESC LIMIT 1")
            last = cur.fetchone()
            if last is None:
                return GENESIS, None
            # As Django stores times in SQLite: UTC, without the zone.
            at = last[1] if isinstance(last[1], dt.datetime) else parse_datetime(last[1])
            return last[0], at.replace(tzinfo=dt.UTC)
    from funnelwatch.audit.models import AuditEvent

    last = AuditEvent.objects.using(using).order_by("-id").values_list("hash", "at").first()
    return (last[0], last[1]) if last else (GENESIS, None)


def _now(last_at: dt.datetime | None) -> dt.datetime:
    now = timezone.now()
    return now if last_at is None or now >= last_at else last_at


# Text columns and their lengths: values are hashed as they will read back.
_TEXT = {"source": 20, "source_name": 100, "action": 20, "object_type": 60, "object_id": 40}
_TEXT["object_repr"] = 200


def _stored(name: str, value: object) -> object:
    if name in _TEXT:
        return "" if value is None else str(value)[: _TEXT[name]]
    if name == "actor_id":
        return None if value is None else int(value)
    return value


def seal(events: Iterable, using: str = DEFAULT_DB_ALIAS) -> None:
    """Give unsaved ``AuditEvent`` objects their time and their links, in order; they must
    be inserted in this order in the same transaction."""
    prev, last_at = head(using)
    at = _now(last_at)
    for event in events:
        event.at = at
        if event.occurred_at is None:
            event.occurred_at = at
        for name in _TEXT:
            setattr(event, name, _stored(name, getattr(event, name)))
        event.actor_id = _stored("actor_id", event.actor_id)
        event.prev_hash = prev
        event.hash = prev = digest(prev, [getattr(event, name) for name in CONTENT])


def seal_rows(
    rows: Sequence[Sequence[object]], using: str = DEFAULT_DB_ALIAS
) -> list[tuple[object, ...]]:
    """For raw bulk inserts: each row holds :data:`ROW_FIELDS` (``occurred_at`` may be
    None for "now"); returns rows of :data:`SEALED_FIELDS` to insert in this order, in the
    same transaction."""
    prev, last_at = head(using)
    at = _now(last_at)
    out = []
    names = ROW_FIELDS[1:]
    for occurred_at, *rest in rows:
        values = (_stored(n, v) for n, v in zip(names, rest, strict=True))
        content = (at, occurred_at or at, *values)
        prev_hash, prev = prev, digest(prev, content)
        out.append((*content, prev_hash, prev))
    return out


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: ``broken_at`` is the id of the first event that does not
    add up (None when the chain is intact)."""

    events: int
    last_id: int | None = None
    last_hash: str = GENESIS
    broken_at: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None

    def as_dict(self) -> dict[str, object]:
        if self.intact:
            return {
                "intact": True,
                "events": self.events,
                "last_id": self.last_id,
                "last_hash": self.last_hash,
            }
        return {
            "intact": False,
            "events_checked": self.events,
            "broken_at": self.broken_at,
            "problem": self.problem,
        }


def _instant(value: object) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    # SQLite keeps UTC without the zone.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _as_read(row: Sequence[object]) -> list[object]:
    """A row of plain SQL as (id, prev_hash, hash, *CONTENT) with the values the ORM
    would give (aware times, changes as :func:`_loaded` gives them)."""
    pk, prev_hash, stored, at, occurred_at, *rest, changes = row
    changes = _loaded(changes) if isinstance(changes, str | bytes) else _canonical(changes)
    return [pk, prev_hash, stored, _instant(at), _instant(occurred_at), *rest, changes]


def verify(
    using: str = DEFAULT_DB_ALIAS,
    batch: int = 5000,
    anchor: tuple[int, str] | None = None,
) -> Verdict:
    """Walk the whole chain in id order (a batch of rows at a time).

    A chain alone cannot show that its newest events were cut off: ``anchor`` is an
    (id, hash) noted from an earlier run, which must still be in the chain."""
    connection = connections[using]
    # Plain SQL: Django's conversions of every value cost more than the hashing.
    sql = (
        f"SELECT id, prev_hash, hash, {', '.join(CONTENT)} FROM audit_auditevent "
        "WHERE id > %s ORDER BY id LIMIT %s"
    )
    prev, prev_at, last_id, count = GENESIS, None, None, 0
    while True:
        with connection.cursor() as cur:
            cur.execute(sql, [last_id or 0, batch])
            chunk = [_as_read(row) for row in cur.fetchall()]
        if not chunk:
            if anchor is not None and (last_id is None or last_id < anchor[0]):
                return Verdict(
                    count,
                    broken_at=anchor[0],
                    problem="missing: the anchored event is gone (events at the end of the "
                    "chain were removed)",
                )
            return Verdict(count, last_id, prev)
        for pk, prev_hash, stored, *content in chunk:
            if prev_hash != prev:
                return Verdict(
                    count,
                    broken_at=pk,
                    problem=(
                        "missing link: this event was chained to an event that is no longer "
                        "the one before it (an event before it was removed, or this one was "
                        "slipped in)"
                        if last_id is not None
                        else "missing link: the first event is not the start of the chain "
                        "(events before it were removed)"
                    ),
                )
            if digest(prev_hash, content, canonical=True) != stored:
                return Verdict(
                    count,
                    broken_at=pk,
                    problem="changed: this event's content does not match its hash",
                )
            at = content[0]
            if prev_at is not None and at < prev_at:
                return Verdict(
                    count,
                    broken_at=pk,
                    problem="back-dated: this event is dated before the event before it",
                )
            if anchor is not None and last_id is not None and last_id < anchor[0] < pk:
                return Verdict(
                    count, broken_at=anchor[0], problem="missing: the anchored event is gone"
                )
            if anchor is not None and pk == anchor[0] and stored != anchor[1]:
                return Verdict(
                    count,
                    broken_at=pk,
                    problem="replaced: this event's hash is not the one noted as the anchor",
                )
            prev, prev_at, last_id = stored, at, pk
            count += 1
