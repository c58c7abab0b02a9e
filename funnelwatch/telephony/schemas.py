"""Schemas of our JSON call webhook (documented in the OpenAPI schema)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Schema


class LegIn(Schema):
    leg_id: str = Field(..., min_length=1, max_length=120)
    channel: str = ""
    dstchannel: str = ""
    extension: str = ""
    disposition: str = ""
    billsec: int = Field(0, ge=0, description="0 to 86400 (24 hours)")
    answered: bool = False


class CallEventIn(Schema):
    """One finished call. Sign it: ``X-Funnelwatch-Timestamp: <unix seconds>`` and
    ``X-Funnelwatch-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``
    with the secret FUNNELWATCH_CALLS_WEBHOOK_SECRET. Requests more than five minutes
    off are refused; the same ``event_id`` twice is stored once. Times outside 2000 to a
    day after now, durations over 24 hours or a ``leg_id`` given twice are answered 400
    naming the field, and nothing of the event is stored."""

    event_id: str = Field(..., min_length=1, max_length=150)
    call_id: str = Field(..., min_length=1, max_length=120, description="the PBX's id of the call")
    direction: Literal["in", "out", "internal"]
    from_number: str = Field(..., alias="from", max_length=120)
    to_number: str = Field(..., alias="to", max_length=120)
    extension: str = Field("", description="the manager's extension, when the PBX knows it")
    started_at: dt.datetime = Field(
        ..., description="with its zone; from 2000 to a day after now (else 400)"
    )
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = Field(None, description="at most 24 hours after started_at")
    talk_seconds: int = Field(0, ge=0, description="0 to 86400 (24 hours)")
    outcome: Literal["answered", "no_answer", "busy", "cancelled", "failed", "voicemail"]
    hangup_cause: str = ""
    recording_url: str = ""
    legs: list[LegIn] = []
