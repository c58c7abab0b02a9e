from __future__ import annotations

import datetime as dt

from funnelwatch.core.periodic import periodic
from funnelwatch.handoffs import notify


@periodic("handoffs.notify_alerts", every=dt.timedelta(minutes=5))
def notify_alerts(now: dt.datetime) -> str:
    return f"{notify.send_alerts(now)} alert messages"
