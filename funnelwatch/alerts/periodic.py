from __future__ import annotations

import datetime as dt

from django.conf import settings

from funnelwatch.alerts import digests, engine
from funnelwatch.core.periodic import periodic


@periodic("alerts.evaluate", every=dt.timedelta(minutes=settings.FUNNELWATCH_ALERTS_EVERY_MINUTES))
def evaluate_rules(now: dt.datetime) -> str:
    summary = engine.evaluate(now)
    return "; ".join(f"{kind}: {outcome}" for kind, outcome in summary.items())


@periodic("alerts.digests", every=dt.timedelta(minutes=5))
def send_digests(now: dt.datetime) -> str:
    return f"{digests.send_due(now)} digests"
