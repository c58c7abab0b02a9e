"""Small builders for telephony tests."""

from __future__ import annotations

import datetime as dt

from funnelwatch.telephony.ingest import ingest
from funnelwatch.telephony.models import Call
from funnelwatch.telephony.providers import base

_seq = iter(range(1, 10**9))


def make_call(
    *,
    direction: str,
    start: dt.datetime,
    ext: str = "101",
    number: str = "+97699112233",
    answered: bool = True,
    talk: int = 60,
    provider: str = "generic",
) -> Call:
    n = next(_seq)
    src, dst = (ext, number) if direction == "out" else (number, ext)
    leg = base.LegRecord(
        leg_id=f"leg{n}",
        channel=f"PJSIP/{src}-1",
        dstchannel=f"PJSIP/{dst}-2",
        disposition="ANSWERED" if answered else "NO ANSWER",
        billsec=talk if answered else 0,
        answered=answered,
        outcome=base.ANSWERED if answered else base.NO_ANSWER,
        started_at=start,
        answered_at=start if answered else None,
        ended_at=start + dt.timedelta(seconds=talk + 5),
        duration_s=talk + 5,
        src=src,
        dst=dst,
    )
    rec = base.combine(
        provider, f"c{n}", [leg], direction=direction, from_raw=src, to_raw=dst, extension=ext
    )
    result = ingest([rec])
    return Call.objects.get(pk=result.created_ids[0])
