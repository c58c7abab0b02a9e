"""Receiving provider events: store the raw event first, then process it idempotently.

- The event is written to ``WebhookEvent`` (unique per provider + event key) before any
  processing; the same event again is answered "duplicate" and changes nothing.
- Processing turns it into a call record and hands it to :func:`ingest.ingest`, which
  skips calls already stored and merges legs that arrive later.
- A recording announced before its call is known waits (unprocessed) and is attached
  when the call arrives.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from funnelwatch.telephony import conf
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
    """The event row, or None when this event was received before.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (SQLite ≥ 3.35, PostgreSQL):
    a repeat is no error, so no savepoint, and no ORM compilation on the hot path of
    every webhook (it was most of the request in queue mode)."""
    meta = WebhookEvent._meta
    quote = connection.ops.quote_name
    now = timezone.now()
    key = key[:200]
    cols = ("provider", "event_key", "received_at", "payload", "error")
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
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


def _build_generic(payload: dict, event: WebhookEvent) -> list[base.CallRecord]:
    from funnelwatch.telephony.schemas import CallEventIn

    return [generic.to_record(CallEventIn.model_validate(payload))]


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


def process(
    provider: str,
    key: str,
    payload: dict,
    kind: str,
    *,
    source_name: str = "",
) -> tuple[str, Call | None]:
    """Store then process one event (``kind`` names its builder in BUILDERS).

    In the default mode the event row and its processing commit together; processing
    runs in a savepoint, so an event that cannot be processed is still kept with its
    error (and the ParseError is raised to the caller). With
    FUNNELWATCH_WEBHOOK_MODE=queue the event is only stored and answered "queued";
    :func:`process_pending` (the ``telephony-webhooks`` periodic job, or
    ``funnelwatch call-events --loop``) processes the backlog in batches.
    """
    if conf.webhook_mode() == "queue":
        stored = store_event(provider, key, payload | {KIND_KEY: kind})
        return (Outcome.QUEUED if stored else Outcome.DUPLICATE), None
    for attempt in range(3):
        try:
            return _process_once(provider, key, payload, kind, source_name)
        except IntegrityError:
            # Two events of one call arriving at once may both try to create it; the
            # loser retries and finds the call, merging its leg instead.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _process_once(provider, key, payload, kind, source_name):  # noqa: ANN001, ANN202
    error: base.ParseError | None = None
    with transaction.atomic():
        event = store_event(provider, key, payload | {KIND_KEY: kind})
        if event is None:
            return Outcome.DUPLICATE, None
        try:
            with transaction.atomic():
                records = BUILDERS[kind](payload, event)
                result = (
                    ingest(records, source_name=source_name or f"{provider} webhook")
                    if records
                    else None
                )
        except base.ParseError as exc:
            WebhookEvent.objects.filter(pk=event.pk).update(error=str(exc)[:2000])
            error = exc
        else:
            WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
            if result is None:
                return Outcome.STORED, None
            call = Call.objects.filter(
                provider=provider, external_id=records[0].external_id
            ).first()
            if call is not None:
                attach_waiting_recordings(provider, call)
            return (Outcome.CREATED if result.created_ids else Outcome.UPDATED), call
    raise error


def process_pending(limit: int = 5000) -> dict[str, int]:
    """Process queued events in one batch per provider (oldest first)."""
    events = list(
        WebhookEvent.objects.filter(
            processed_at__isnull=True, error="", payload__has_key=KIND_KEY
        ).order_by("received_at", "pk")[:limit]
    )
    done, failed, created = [], 0, 0
    by_provider: dict[str, list[base.CallRecord]] = {}
    for event in events:
        payload = dict(event.payload)
        kind = payload.pop(KIND_KEY)
        try:
            records = BUILDERS[kind](payload, event) or []
        except (base.ParseError, ValueError) as exc:
            WebhookEvent.objects.filter(pk=event.pk).update(error=str(exc)[:2000])
            failed += 1
            continue
        by_provider.setdefault(event.provider, []).extend(records)
        done.append(event.pk)
    with transaction.atomic():
        for provider, records in by_provider.items():
            result = ingest(records, source_name=f"{provider} webhook")
            created += len(result.created_ids)
            ids = {r.external_id for r in records}
            for waiting in WebhookEvent.objects.filter(
                provider=provider, processed_at__isnull=True, event_key__startswith="rec:"
            ):
                ext = waiting.event_key.split(":")[1]
                if ext in ids:
                    call = Call.objects.filter(provider=provider, external_id=ext).first()
                    if call is not None:
                        attach_waiting_recordings(provider, call)
        WebhookEvent.objects.filter(pk__in=done).update(processed_at=timezone.now())
    return {"processed": len(done), "failed": failed, "calls_created": created}


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
