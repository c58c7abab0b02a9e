"""Telephony API: provider webhooks (signed, no session), the PBX routing question, calls.

Webhook URLs (paste into the PBX; the integration settings page shows them in full):

- Twilio: ``/api/telephony/webhooks/twilio/status`` (status callback) and
  ``/api/telephony/webhooks/twilio/recording`` (recording status callback); signed with
  ``X-Twilio-Signature`` and the account's auth token (FUNNELWATCH_TWILIO_AUTH_TOKEN).
- Zadarma: ``/api/telephony/webhooks/zadarma`` (GET ``?zd_echo=`` for the check, POST for
  events); ``Signature`` header with the API secret (FUNNELWATCH_ZADARMA_SECRET).
- Mango Office: base URL ``/api/telephony/webhooks/mango/`` (Mango appends
  ``events/call``, ``events/summary``, ``events/recording``, ``events/record/added``);
  ``sign`` with the VPBX key and salt (FUNNELWATCH_MANGO_API_KEY / _SALT).
- Our JSON webhook: ``/api/telephony/webhooks/calls`` (see its schema below).
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.security import APIKeyQuery, HttpBearer

from funnelwatch.core.apidocs import errors
from funnelwatch.core.params import Day, Text
from funnelwatch.lib import dates
from funnelwatch.telephony import guard, queries, routing, webhooks
from funnelwatch.telephony.providers import base, generic, mango, twilio, zadarma
from funnelwatch.telephony.schemas import CallEventIn

router = Router(tags=["telephony"])


def _bad(exc: base.ParseError) -> HttpError:
    return HttpError(400, str(exc))


def _ok(status: str, call=None) -> dict:
    return {"status": status, "call_id": call.pk if call is not None else None}


def _sender_allowed(request: HttpRequest, provider: str) -> None:
    """403 for an address outside the provider's allow-list (the fast-path middleware
    refuses it first; this holds when a request reaches the view another way)."""
    refused = guard.refusal(request, provider)
    if refused:
        raise HttpError(403, refused)


class WebhookOut(Schema):
    status: str
    call_id: int | None = None


class RecordingOut(Schema):
    status: str
    recording_id: int | None = None


# A webhook answers 400 for a payload it cannot read and 403 for a bad signature.
CALL_HOOK = {200: WebhookOut, **errors(400, 403)}
RECORDING_HOOK = {200: RecordingOut, **errors(400, 403)}
TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}


# --- Twilio -------------------------------------------------------------------------


def _twilio_checked(request: HttpRequest) -> dict[str, str]:
    _sender_allowed(request, twilio.PROVIDER)
    params = {k: request.POST.get(k, "") for k in request.POST}
    url = request.build_absolute_uri()
    if not twilio.verify(
        settings.FUNNELWATCH_TWILIO_AUTH_TOKEN,
        url,
        params,
        request.headers.get("X-Twilio-Signature", ""),
    ):
        raise HttpError(403, "X-Twilio-Signature does not match")
    return params


@router.post(
    "/webhooks/twilio/status",
    auth=None,
    include_in_schema=True,
    response=CALL_HOOK,
    summary="Twilio call status callback",
)
def twilio_status(request: HttpRequest):
    params = _twilio_checked(request)
    try:
        key = twilio.event_key(params)
        status, call = webhooks.process(twilio.PROVIDER, key, params, "twilio_status")
    except base.ParseError as exc:
        raise _bad(exc) from None
    return _ok(status, call)


@router.post(
    "/webhooks/twilio/recording",
    auth=None,
    response=RECORDING_HOOK,
    summary="Twilio recording callback",
)
def twilio_recording(request: HttpRequest):
    params = _twilio_checked(request)
    try:
        key, url, duration, _channels = twilio.parse_recording(params)
        ref = params.get("RecordingSid") or url
        status, rec = webhooks.recording_event(
            twilio.PROVIDER, key, ref, params, source_url=url, duration_s=duration
        )
    except base.ParseError as exc:
        raise _bad(exc) from None
    return {"status": status, "recording_id": rec.pk if rec else None}


# --- Zadarma ------------------------------------------------------------------------


@router.get(
    "/webhooks/zadarma",
    auth=None,
    # The 200 is text only, and keyed as ninja keys its own (an int): a "200" beside
    # ninja's 200 put the code twice in the document, and Swagger UI refused all of it
    # ("duplicated mapping key"), leaving /api/docs without a single operation.
    openapi_extra={"responses": {200: {"description": "The zd_echo value", **TEXT}}},
    summary="Zadarma URL check (zd_echo)",
)
def zadarma_echo(request: HttpRequest, zd_echo: str = ""):
    _sender_allowed(request, zadarma.PROVIDER)
    return HttpResponse(zd_echo, content_type="text/plain")


@router.post(
    "/webhooks/zadarma",
    auth=None,
    response={200: dict, **errors(400, 403)},
    summary="Zadarma PBX notification",
)
def zadarma_event(request: HttpRequest):
    _sender_allowed(request, zadarma.PROVIDER)
    params = {k: request.POST.get(k, "") for k in request.POST}
    if request.GET.get("zd_echo"):
        return HttpResponse(request.GET["zd_echo"], content_type="text/plain")
    try:
        valid = zadarma.verify(
            settings.FUNNELWATCH_ZADARMA_SECRET, params, request.headers.get("Signature", "")
        )
    except base.ParseError as exc:
        raise _bad(exc) from None
    if not valid:
        raise HttpError(403, "Signature does not match")
    event = params.get("event")
    try:
        if event == "NOTIFY_RECORD":
            pbx = params.get("pbx_call_id", "")
            if not pbx:
                raise base.ParseError("is missing", "pbx_call_id")
            status, rec = webhooks.recording_event(
                zadarma.PROVIDER,
                pbx,
                params.get("call_id_with_rec", ""),
                params,
                source_url=f"zadarma:{params.get('call_id_with_rec') or pbx}",
            )
            return {"status": status, "recording_id": rec.pk if rec else None}
        status, call = webhooks.process(
            zadarma.PROVIDER, zadarma.event_key(params), params, "zadarma"
        )
    except base.ParseError as exc:
        raise _bad(exc) from None
    return _ok(status, call)


# --- Mango Office -------------------------------------------------------------------


def _mango_checked(request: HttpRequest) -> dict:
    _sender_allowed(request, mango.PROVIDER)
    form = {k: request.POST.get(k, "") for k in request.POST}
    if not mango.verify(settings.FUNNELWATCH_MANGO_API_KEY, settings.FUNNELWATCH_MANGO_SALT, form):
        raise HttpError(403, "sign does not match")
    try:
        return mango.payload(form)
    except base.ParseError as exc:
        raise _bad(exc) from None


@router.post(
    "/webhooks/mango/events/call",
    auth=None,
    response=CALL_HOOK,
    summary="Mango call leg event",
)
def mango_call(request: HttpRequest):
    data = _mango_checked(request)
    try:
        key = mango.call_event_key(data)
        status, call = webhooks.process(mango.PROVIDER, key, data, "mango_call")
    except base.ParseError as exc:
        raise _bad(exc) from None
    return _ok(status, call)


@router.post(
    "/webhooks/mango/events/summary",
    auth=None,
    response=CALL_HOOK,
    summary="Mango end-of-call summary",
)
def mango_summary(request: HttpRequest):
    data = _mango_checked(request)
    try:
        entry = str(data.get("entry_id") or "")
        if not entry:
            raise base.ParseError("is missing", "entry_id")
        status, call = webhooks.process(mango.PROVIDER, f"summary:{entry}", data, "mango_summary")
    except base.ParseError as exc:
        raise _bad(exc) from None
    return _ok(status, call)


@router.post(
    "/webhooks/mango/events/recording",
    auth=None,
    response=RECORDING_HOOK,
    summary="Mango recording state",
)
def mango_recording(request: HttpRequest):
    data = _mango_checked(request)
    entry, rid = str(data.get("entry_id") or ""), str(data.get("recording_id") or "")
    if not entry or not rid:
        raise HttpError(400, "entry_id and recording_id are required")
    try:
        if data.get("recording_state") != "Completed" or str(data.get("completion_code")) != "1000":
            stored = webhooks.store_event(
                mango.PROVIDER, f"recstate:{rid}:{data.get('seq', '')}", data
            )
            return {
                "status": webhooks.Outcome.STORED if stored else webhooks.Outcome.DUPLICATE,
                "recording_id": None,
            }
        status, rec = webhooks.recording_event(
            mango.PROVIDER, entry, rid, data, source_url=f"mango:{rid}"
        )
    except base.ParseError as exc:
        raise _bad(exc) from None
    return {"status": status, "recording_id": rec.pk if rec else None}


@router.post(
    "/webhooks/mango/events/record/added",
    auth=None,
    response=RECORDING_HOOK,
    summary="Mango recording saved",
)
def mango_record_added(request: HttpRequest):
    data = _mango_checked(request)
    entry, rid = str(data.get("entry_id") or ""), str(data.get("recording_id") or "")
    if not entry or not rid:
        raise HttpError(400, "entry_id and recording_id are required")
    try:
        status, rec = webhooks.recording_event(
            mango.PROVIDER, entry, rid, data, source_url=f"mango:{rid}"
        )
    except base.ParseError as exc:
        raise _bad(exc) from None
    return {"status": status, "recording_id": rec.pk if rec else None}


@router.post(
    "/webhooks/mango/ping", auth=None, response={200: dict}, summary="Mango availability check"
)
def mango_ping(request: HttpRequest):
    _sender_allowed(request, mango.PROVIDER)
    return {"status": "ok"}


# --- our JSON webhook ---------------------------------------------------------------


@router.post(
    "/webhooks/calls",
    auth=None,
    response={200: WebhookOut, **errors(400, 403, 422)},
    summary="Funnelwatch JSON call webhook (HMAC-signed)",
)
def calls_webhook(request: HttpRequest, payload: CallEventIn):
    _sender_allowed(request, generic.PROVIDER)
    problem = generic.verify(
        settings.FUNNELWATCH_CALLS_WEBHOOK_SECRET,
        request.headers.get("X-Funnelwatch-Timestamp", ""),
        request.body,
        request.headers.get("X-Funnelwatch-Signature", ""),
    )
    if problem:
        raise HttpError(403, problem)
    for name in ("started_at", "answered_at", "ended_at"):
        value = getattr(payload, name)
        if value is not None and value.tzinfo is None:
            raise HttpError(400, f"{name}: give a time zone (e.g. Z or +08:00)")
    try:
        status, call = webhooks.process(
            generic.PROVIDER,
            f"event:{payload.event_id}",
            payload.model_dump(mode="json", by_alias=True),
            "generic",
        )
    except base.ParseError as exc:
        raise _bad(exc) from None
    return _ok(status, call)


# --- routing ------------------------------------------------------------------------


class RouteTokenBearer(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> bool | None:
        expected = settings.FUNNELWATCH_ROUTE_TOKEN
        return True if expected and hmac.compare_digest(token, expected) else None


class RouteTokenQuery(APIKeyQuery):
    param_name = "token"

    def authenticate(self, request: HttpRequest, key: str | None) -> bool | None:
        expected = settings.FUNNELWATCH_ROUTE_TOKEN
        return True if expected and key and hmac.compare_digest(key, expected) else None


class RouteOut(Schema):
    extension: str | None
    manager: str | None
    reason: str | None


@router.get(
    "/route",
    auth=[RouteTokenBearer(), RouteTokenQuery()],
    response={200: RouteOut, **errors(401, 422)},
    summary="Whom the PBX should ring for this caller",
)
def route(
    request: HttpRequest,
    number: Text,
    format: Literal["json", "text"] = "json",
):
    """The responsible manager's extension when the number belongs to a client with an
    owner, else the next manager by weighted round-robin (daily cap, working hours,
    absences). ``format=text`` answers just the extension (empty when nobody)."""
    user, reason = routing.route(number)
    ext = user.extensions.order_by("pk").values_list("number", flat=True).first() if user else None
    if format == "text":
        return HttpResponse(ext or "", content_type="text/plain")
    return {
        "extension": ext,
        "manager": user.username if user else None,
        "reason": reason if user else None,
    }


# --- calls --------------------------------------------------------------------------


class CallOut(Schema):
    id: int
    provider: str
    external_id: str
    direction: str
    from_: str = Field(..., alias="from")
    to: str
    started_at: str
    answered: bool
    outcome: str
    talk_seconds: int
    manager: str | None
    contact: int | None
    deal: int | None
    legs: int | None


class CallFilter(Schema):
    date_from: Day = Field(..., alias="from", json_schema_extra={"example": "2026-03-02"})
    date_to: Day = Field(..., alias="to", json_schema_extra={"example": "2026-03-08"})


@router.get(
    "/calls",
    response={200: list[CallOut], **errors(401, 422)},
    by_alias=True,
    summary="Calls of a period the caller may see (local dates, inclusive)",
)
def list_calls(request: HttpRequest, filters: Query[CallFilter]):
    if filters.date_to < filters.date_from:
        raise HttpError(422, "to: before from")
    period = dates.Period(filters.date_from, filters.date_to + dt.timedelta(days=1))
    since, until = dates.period_bounds(period, timezone.get_current_timezone())
    return queries.calls_as_json(queries.calls_between(since, until, request.user)[:20000])
