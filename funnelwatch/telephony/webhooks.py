"""Receiving provider events: store the raw event first, then process it idempotently.

- The event is written to ``WebhookEvent`` (unique per provider + event key) before any
  processing; the same event again is answered "duplicate" and changes nothing.
- Processing turns it into a call record and hands it to :func:`ingest.ingest`, which
  skips calls already stored and merges legs that arrive later.
- A recording announced before its call is known waits (unprocessed) and is attached
  when the call arrives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone

from funnelwatch.telephony.ingest import ingest
from funnelwatch.telephony.models import Call, Recording, WebhookEvent
from funnelwatch.telephony.providers import base


class Outcome:
    CREATED = "created"
    UPDATED = "updated"
    STORED = "stored"  # kept, nothing to build yet (a progress event)
    DUPLICATE = "duplicate"
    WAITING = "waiting"  # a recording for a call not yet known


def store_event(provider: str, key: str, payload: dict) -> WebhookEvent | None:
    """The event row, or None when this event was received before."""
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                provider=provider, event_key=key[:200], payload=payload
            )
    except IntegrityError:
        return None


def process(
    provider: str,
    key: str,
    payload: dict,
    build: Callable[[WebhookEvent], list[base.CallRecord] | None],
    *,
    source_name: str = "",
) -> tuple[str, Call | None]:
    """Store then process one event. ``build`` returns call records (or None to just keep
    the event); a ParseError is stored on the event and raised to the caller.

    The event row and its processing commit together; processing runs in a savepoint,
    so an event that cannot be processed is still kept, with its error."""
    for attempt in range(3):
        try:
            return _process_once(provider, key, payload, build, source_name)
        except IntegrityError:
            # Two events of one call arriving at once may both try to create it; the
            # loser retries and finds the call, merging its leg instead.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _process_once(provider, key, payload, build, source_name):  # noqa: ANN001, ANN202
    error: base.ParseError | None = None
    with transaction.atomic():
        event = store_event(provider, key, payload)
        if event is None:
            return Outcome.DUPLICATE, None
        try:
            with transaction.atomic():
                records = build(event)
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
    if not created and rec.status != Recording.Status.STORED and not rec.source_url:
        rec.source_url = source_url[:500]
        rec.duration_s = duration_s
        rec.save(update_fields=["source_url", "duration_s"])
    if rec.status != Recording.Status.STORED:
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


def received_at(event: WebhookEvent) -> dt.datetime:
    return event.received_at
