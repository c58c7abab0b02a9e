"""Plans tell the metrics kernel when a plan changes: plan fulfilment (``plan_pct``) is
computed from raw records, so nothing rolled is recomputed, but answers reused for the
plan's days are dropped (``metrics.changed`` with no keys)."""

from __future__ import annotations

import datetime as dt

from funnelwatch import metrics


def plan_changed(sender: object, instance: object, **kwargs: object) -> None:
    if kwargs.get("raw"):
        return
    from funnelwatch.accounts.models import User

    if instance.manager_id:
        managers = [instance.manager_id]
    else:
        users = User.objects.filter(is_active=True)
        if instance.team_id:
            users = users.filter(team_id=instance.team_id)
        managers = list(users.values_list("pk", flat=True))
    days = [
        instance.first_day + dt.timedelta(days=i)
        for i in range((instance.last_day - instance.first_day).days + 1)
    ]
    metrics.changed("plan", managers, days, keys=[])
