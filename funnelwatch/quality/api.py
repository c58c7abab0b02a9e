from __future__ import annotations

import datetime as dt

from ninja import Router, Schema
from ninja.errors import HttpError

from funnelwatch.core.apidocs import errors
from funnelwatch.core.params import ObjectId, page_size
from funnelwatch.quality import queries

router = Router(tags=["quality"])

Limit = page_size(500)


class AnalysisOut(Schema):
    call_id: int
    status: str
    error: str
    vad: str
    analyzed_at: dt.datetime
    duration_s: float | None
    channels: int | None
    sample_rate: int | None
    stereo: bool
    talk_ratio: float | None
    talk_share_of_call: float | None
    silence_pct: float | None
    long_silences: int | None
    longest_monologue_manager_s: float | None
    longest_monologue_client_s: float | None
    switches_per_min: float | None
    patience_s: float | None
    interruptions: int | None
    overtalk_pct: float | None
    noise_level_db: float | None
    flags: list[str]
    segments: dict[str, list[list[float]]]


class ReviewOut(Schema):
    id: int
    call_id: int
    manager: str
    reviewer: str
    checklist: str
    score: float | None
    created_at: dt.datetime

    @staticmethod
    def resolve_manager(obj) -> str:
        return obj.manager.username

    @staticmethod
    def resolve_reviewer(obj) -> str:
        return obj.reviewer.username

    @staticmethod
    def resolve_checklist(obj) -> str:
        return obj.checklist.name


@router.get("/calls/{call_id}/analysis", response={200: AnalysisOut, **errors(401, 404, 422)})
def call_analysis(request, call_id: ObjectId):
    """Conversation metrics and speech segments of a call's recording."""
    call = queries.calls_for(request.auth).filter(pk=call_id).first()
    analysis = getattr(getattr(call, "recording", None), "analysis", None) if call else None
    if analysis is None:
        raise HttpError(404, "no analysis for this call")
    data = {f: getattr(analysis, f) for f in AnalysisOut.model_fields if f != "call_id"}
    return {"call_id": call.pk, **data}


@router.get("/reviews", response={200: list[ReviewOut], **errors(401, 422)})
def reviews(request, limit: Limit = 100):
    """Reviews of the calls the caller may see, newest first (``limit`` at most 500)."""
    return list(queries.reviews_for(request.auth)[:limit])
