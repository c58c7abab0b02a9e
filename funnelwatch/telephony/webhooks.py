"""Receiving provider events: check, store the raw event, then process it idempotently.

- An event is checked before anything is written (every field its call needs, within the
  accepted ranges of ``base.time_bounds`` and ``base.MAX_SECONDS``, no text or number a
  column cannot hold): a bad one raises ParseError naming the field (answered 400) and
  leaves nothing behind, so it can neither spoil later events of its call nor make a
  corrected resend of it a "duplicate".
- The event is written to ``WebhookEvent`` (unique per provider + event key) before any
  processing; the same event again is answered "duplicate" and changes nothing.
- Processing turns it into a call record and hands it to :func:`ingest.ingest`, which
  skips calls already stored and merges legs that arrive later.
- A recording announced before its call is known waits (unprocessed) and is attached
  when the call arrives.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from funnelwatch.metrics import refresh
from funnelwatch.telephony.ingest import ingest
from funnelwatch.telephony.models import Call, Recording, WebhookEvent
from funnelwatch.telephony.providers import base, generic, mango, twilio, zadarma


class Outcome:
    CREATED = "created"
    UPDATED = "updated"
    STORED = "stored"  # kept, nothing to build yet (a progress event)
    DUPLICATE = "duplicate"
    WAITING = "waiting"  # a recording for a call not yet known
    QUEUED = "queued"  # stored; processed in the next batch


def store_event(provider: str, key: str, payload: dict) -> WebhookEvent | None:
    """The event row, or None when this event was received before; ParseError (nothing
    stored) when the payload holds what the database cannot (``base.check_payload``).

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (SQLite ≥ 3.35, PostgreSQL):
    a repeat is no error, so no savepoint, and no ORM compilation on the hot path of
    every webhook (it was most of the request in queue mode)."""
    base.check_payload(payload)
    base.check_payload(key, "event key")
    meta = WebhookEvent._meta
    quote = connection.ops.quote_name
    now = timezone.now()
    key = key[:200]
    cols = ("provider", "event_key", "received_at", "payload", "error")
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(meta.get_field(c).column) for c in cols)}) "
        "VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT ({quote('provider')}, {quote('event_key')}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}"
    )
    params = [
        provider,
        key,
        connection.ops.adapt_datetimefield_value(now),
        meta.get_field("payload").get_db_prep_value(payload, connection),
        "",
    ]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    if row is None:
        return None
    event = WebhookEvent(
        pk=row[0], provider=provider, event_key=key, received_at=now, payload=payload
    )
    event._state.adding = False
    event._state.db = connection.alias
    return event


# --- turning a stored event into call records, by kind --------------------------------


def _mango_legs(entry: str) -> list[base.LegRecord]:
    by_leg: dict[str, list[dict]] = {}
    for payload in WebhookEvent.objects.filter(
        provider=mango.PROVIDER, event_key__startswith=f"call:{entry}:"
    ).values_list("payload", flat=True):
        try:
            # Refused on arrival now; a bad one stored before that is passed over.
            mango.check_call_event(payload)
        except base.ParseError:
            continue
        by_leg.setdefault(str(payload.get("call_id")), []).append(payload)
    return [mango.leg_from_call_events(events) for events in by_leg.values()]


def _build_mango_call(payload: dict, event: WebhookEvent) -> list[base.CallRecord] | None:
    # Leg states are only stored; a leg that ends after the summary joins the call.
    if payload.get("call_state") != "Disconnected":
        return None
    entry = str(payload.get("entry_id"))
    call = Call.objects.filter(provider=mango.PROVIDER, external_id=entry).first()
    if call is None:
        return None
    legs = [leg for leg in _mango_legs(entry) if leg.leg_id == str(payload.get("call_id"))]
    return [
        base.CallRecord(
            provider=mango.PROVIDER, external_id=entry, started_at=call.started_at, legs=legs
        )
    ]


def _build_generic(payload: dict, event: WebhookEvent | None) -> list[base.CallRecord]:
    from pydantic import ValidationError

    from funnelwatch.telephony.schemas import CallEventIn

    try:
        data = CallEventIn.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "body"
        raise base.ParseError(first["msg"], name) from None
    return [generic.to_record(data)]


def _build_twilio(payload: dict, event: WebhookEvent) -> list[base.CallRecord] | None:
    rec = twilio.parse_status(payload, event.received_at)
    return [rec] if rec else None


def _build_zadarma(payload: dict, event: WebhookEvent) -> list[base.CallRecord] | None:
    if payload.get("event") not in ("NOTIFY_END", "NOTIFY_OUT_END"):
        return None
    return [zadarma.parse_end(payload, timezone.get_current_timezone())]


BUILDERS: dict[str, Callable[[dict, WebhookEvent], list[base.CallRecord] | None]] = {
    "generic": _build_generic,
    "twilio_status": _build_twilio,
    "zadarma": _build_zadarma,
    "mango_call": _build_mango_call,
    "mango_summary": lambda p, ev: [mango.parse_summary(p, _mango_legs(str(p["entry_id"])))],
}
KIND_KEY = "_kind"


def _check_zadarma(payload: dict) -> None:
    if payload.get("event") in ("NOTIFY_END", "NOTIFY_OUT_END"):
        zadarma.parse_end(payload, timezone.get_current_timezone())


# What each kind is checked with before it is stored (the builder's own parsing, without
# the database): ParseError naming the field.
CHECKS: dict[str, Callable[[dict], object]] = {
    "generic": lambda p: _build_generic(p, None),
    "twilio_status": lambda p: twilio.parse_status(p, timezone.now()),
    "zadarma": _check_zadarma,
    "mango_call": mango.check_call_event,
    "mango_summary": lambda p: mango.parse_summary(p, []),
}

# What processing a stored event can fail on because of its own values (as opposed to
# the database being unreachable, which leaves the event queued for the next run).
_EVENT_ERRORS = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError)
_STORE_ERRORS = (DataError, IntegrityError, ValueError, OverflowError)


def process(
    provider: str,
    key: str,
    payload: dict,
    kind: str,
    *,
    source_name: str = "",
) -> tuple[str, Call | None]:
    """Check, store then process one event (``kind`` names its builder in BUILDERS).

    An event that fails its check (CHECKS) or cannot be built raises ParseError naming
    the field and stores nothing. In the default mode the event row and its processing
    commit together. With FUNNELWATCH_WEBHOOK_MODE=queue the checked event is only
    stored and answered "queued"; :func:`process_pending` (the ``telephony-webhooks``
    periodic job, or ``funnelwatch call-events --loop``) processes the backlog in batches.
    """
    CHECKS[kind](payload)
    if settings.FUNNELWATCH_WEBHOOK_MODE == "queue":
        stored = store_event(provider, key, payload | {KIND_KEY: kind})
        if stored:
            transaction.on_commit(_process_soon)
        return (Outcome.QUEUED if stored else Outcome.DUPLICATE), None
    for attempt in range(3):
        try:
            # The rollups of the call's (manager, day) are recomputed by the worker
            # (``metrics-dirty``), each pair once for however many events named it: the
            # request costs what storing the event costs.
            with refresh.background():
                return _process_once(provider, key, payload, kind, source_name)
        except IntegrityError:
            # Two events of one call arriving at once may both try to create it; the
            # loser retries and finds the call, merging its leg instead.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _process_once(provider, key, payload, kind, source_name):
    # One transaction: a ParseError while building rolls the event row back with it.
    with transaction.atomic():
        event = store_event(provider, key, payload | {KIND_KEY: kind})
        if event is None:
            return Outcome.DUPLICATE, None
        records = BUILDERS[kind](payload, event)
        result = (
            ingest(records, source_name=source_name or f"{provider} webhook") if records else None
        )
        WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
        if result is None:
            return Outcome.STORED, None
        call = Call.objects.filter(provider=provider, external_id=records[0].external_id).first()
        if call is not None:
            attach_waiting_recordings(provider, call)
        return (Outcome.CREATED if result.created_ids else Outcome.UPDATED), call


# When this process last asked the worker for a batch to run (time.monotonic()).
_batch_due = 0.0
_batch_lock = threading.Lock()


def _process_soon() -> None:
    """Ask the worker to process the queued events in FUNNELWATCH_WEBHOOK_BATCH_MS; events
    stored before then are in that batch, so a process asks at most once per that time
    however many events arrive. A task backend that cannot run tasks later (the immediate
    and dummy ones) leaves the events to the ``telephony-webhooks`` periodic job."""
    global _batch_due
    from funnelwatch.telephony.tasks import process_webhook_events

    if not process_webhook_events.get_backend().supports_defer:
        return
    delay = settings.FUNNELWATCH_WEBHOOK_BATCH_MS / 1000
    now = time.monotonic()
    with _batch_lock:
        if now < _batch_due:
            return
        _batch_due = now + delay
    run_after = timezone.now() + dt.timedelta(seconds=delay)
    process_webhook_events.using(run_after=run_after).enqueue()


def process_all_pending() -> int:
    """Process queued events batch by batch until none is left; returns how many."""
    total = 0
    while True:
        result = process_pending()
        total += result["processed"] + result["failed"]
        if result["processed"] + result["failed"] < BATCH_LIMIT:
            return total


# Events per batch at the most.
BATCH_LIMIT = 5000


def process_pending(limit: int = BATCH_LIMIT) -> dict[str, int]:
    """Process queued events in one batch per provider (oldest first).

    Batches take turns (the worker's batch and the periodic job's may start together):
    each reads the events still unprocessed once it has its turn, so none is processed
    twice. An event that cannot be built, or whose call cannot be stored, keeps its error
    on its row and is not tried again; the others of its batch are processed."""
    # The rollups of the calls' (manager, day) pairs are recomputed by the worker's
    # ``metrics-dirty`` job, each pair once however many batches named it.
    with refresh.background(), transaction.atomic():
        _take_turn()
        return _process_pending(limit)


# Advisory lock key of the webhook batches (PostgreSQL).
_BATCH_LOCK = 0x0F0F


def _take_turn() -> None:
    """PostgreSQL: wait for the other batch (until the transaction ends). SQLite: its
    write transactions already run one at a time (``transaction_mode`` IMMEDIATE)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_BATCH_LOCK])


def _process_pending(limit: int) -> dict[str, int]:
    events = list(
        WebhookEvent.objects.filter(
            processed_at__isnull=True, error="", payload__has_key=KIND_KEY
        ).order_by("received_at", "pk")[:limit]
    )
    failed = 0
    by_provider: dict[str, list[tuple[WebhookEvent, list[base.CallRecord]]]] = {}
    for event in events:
        payload = dict(event.payload)
        kind = payload.pop(KIND_KEY)
        try:
            records = BUILDERS[kind](payload, event) or []
        except _EVENT_ERRORS as exc:
            _failed(event.pk, exc)
            failed += 1
            continue
        by_provider.setdefault(event.provider, []).append((event, records))
    done = created = 0
    for provider, items in by_provider.items():
        ok, made, bad = _process_events(provider, items)
        done, created, failed = done + ok, created + made, failed + bad
    return {"processed": done, "failed": failed, "calls_created": created}


def _failed(pk: int, exc: Exception) -> None:
    WebhookEvent.objects.filter(pk=pk).update(error=(str(exc) or type(exc).__name__)[:2000])


def _process_events(
    provider: str, items: list[tuple[WebhookEvent, list[base.CallRecord]]]
) -> tuple[int, int, int]:
    """Ingest the calls of these events in one transaction, marking them processed;
    should a call's values not store, the halves are tried on their own down to the
    single event, which keeps the error. Returns (processed, calls created, failed)."""
    try:
        with transaction.atomic():
            records = [rec for _event, recs in items for rec in recs]
            created = 0
            if records:
                result = ingest(records, source_name=f"{provider} webhook")
                created = len(result.created_ids)
                _attach_waiting(provider, {r.external_id for r in records})
            WebhookEvent.objects.filter(pk__in=[event.pk for event, _recs in items]).update(
                processed_at=timezone.now()
            )
        return len(items), created, 0
    except _STORE_ERRORS as exc:
        if len(items) == 1:
            _failed(items[0][0].pk, exc)
            return 0, 0, 1
        half = len(items) // 2
        first = _process_events(provider, items[:half])
        second = _process_events(provider, items[half:])
        return tuple(a + b for a, b in zip(first, second, strict=True))


def _attach_waiting(provider: str, external_ids: set[str]) -> None:
    for waiting in WebhookEvent.objects.filter(
        provider=provider, processed_at__isnull=True, event_key__startswith="rec:"
    ):
        ext = waiting.event_key.split(":")[1]
        if ext in external_ids:
            call = Call.objects.filter(provider=provider, external_id=ext).first()
            if call is not None:
                attach_waiting_recordings(provider, call)


def _recording_key(external_id: str, ref: str) -> str:
    return f"rec:{external_id}:{ref}"


def recording_event(
    provider: str,
    external_id: str,
    ref: str,
    payload: dict,
    *,
    source_url: str,
    duration_s: float | None = None,
) -> tuple[str, Recording | None]:
    """A recording announced for a call: attach it (and fetch it in the worker), or keep
    the event until the call arrives."""
    event = store_event(
        provider,
        _recording_key(external_id, ref),
        payload | {"_source_url": source_url, "_duration_s": duration_s},
    )
    if event is None:
        return Outcome.DUPLICATE, None
    call = Call.objects.filter(provider=provider, external_id=external_id).first()
    if call is None:
        WebhookEvent.objects.filter(pk=event.pk).update(error="call not received yet")
        return Outcome.WAITING, None
    rec = _attach(call, source_url, duration_s)
    WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), error="")
    return Outcome.CREATED, rec


def _attach(call: Call, source_url: str, duration_s: float | None) -> Recording:
    from funnelwatch.telephony import recordings

    rec, created = Recording.objects.get_or_create(
        call=call, defaults={"source_url": source_url[:500], "duration_s": duration_s}
    )
    done = (Recording.Status.STORED, Recording.Status.EXPIRED)  # expired: not fetched again
    if not created and rec.status not in done and not rec.source_url:
        rec.source_url = source_url[:500]
        rec.duration_s = duration_s
        rec.save(update_fields=["source_url", "duration_s"])
    if rec.status not in done:
        recordings.schedule_downloads([rec.pk])
    return rec


def attach_waiting_recordings(provider: str, call: Call) -> int:
    waiting = WebhookEvent.objects.filter(
        provider=provider,
        processed_at__isnull=True,
        event_key__startswith=_recording_key(call.external_id, ""),
    )
    n = 0
    for event in waiting:
        _attach(call, event.payload.get("_source_url", ""), event.payload.get("_duration_s"))
        WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now(), error="")
        n += 1
    return n
