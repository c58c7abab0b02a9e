"""The monthly "best in block" board: for each block of the method, the manager with the
best key number of the month (from the metrics engine, the same numbers the key-numbers
table shows), and the calls put in the call library that month."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from funnelwatch.metrics import engine, registry
from funnelwatch.motivation.payouts import month_period, payees

# One key number per block: what "best" means there.
BOARD = (
    ("intake", _("New leads"), "leads_called_sla_pct"),
    ("proposal", _("Proposals"), "proposals_sent"),
    ("objections", _("Objections"), "objection_attempts"),
    ("closing", _("Closing"), "won_amount"),
)


@dataclass
class Winner:
    block: str
    block_label: str
    metric: registry.Metric
    value: object
    managers: list


def best_in_block(month: dt.date) -> dict:
    period = month_period(month)
    people = list(payees())
    groups = {u.pk: {u.pk} for u in people}
    by_id = {u.pk: u for u in people}
    keys = []
    for _block, _label, key in BOARD:
        try:
            registry.get(key)
            keys.append(key)
        except KeyError:
            continue
    values = engine.group_values(keys, period, groups) if groups and keys else {}
    winners = []
    for block, label, key in BOARD:
        if key not in keys:
            continue
        metric = registry.get(key)
        scored = [
            (Decimal(str(v[key])), uid) for uid, v in values.items() if v.get(key) not in (None, 0)
        ]
        if not scored:
            winners.append(Winner(block, label, metric, None, []))
            continue
        best = (min if metric.good == "down" else max)(s for s, _uid in scored)
        managers = [by_id[uid] for s, uid in scored if s == best]
        winners.append(Winner(block, label, metric, best, managers))
    return {"winners": winners, "exemplary": exemplary_calls(period)}


def exemplary_calls(period) -> list:
    from funnelwatch.metrics.common import bounds
    from funnelwatch.quality.models import ExemplaryCall

    start, end = bounds(period)
    return list(
        ExemplaryCall.objects.filter(added_at__gte=start, added_at__lt=end)
        .select_related("call", "call__manager")
        .order_by("-added_at")[:20]
    )
