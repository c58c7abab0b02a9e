"""Demo part: evaluate the rules on the demo department, review some lost deals and keep
in-app copies of yesterday's digests (no e-mail is sent from the demo)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from funnelwatch.accounts.models import Role, User
from funnelwatch.alerts import digests, engine, services
from funnelwatch.alerts.models import Alert, Kind, LostReview
from funnelwatch.alerts.morning import previous_workday
from funnelwatch.alerts.rules import ACTIVITY_METRICS, call_model, sla_due_at
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Deal, Outcome
from funnelwatch.lib.dates import Period, local_date

RETURN_SHARE = 0.2  # the seed's practice: about a fifth of lost deals go back to the funnel
REVIEWED_SHARE = 0.7  # the rest wait for the next review


def review_lost_deals(ctx, head: User) -> tuple[int, int]:
    rng = ctx.rng_for("alerts")
    lost = Deal.objects.filter(
        status=Outcome.LOST,
        closed_at__gte=ctx.now - dt.timedelta(days=60),
        closed_at__lt=ctx.now - dt.timedelta(days=3),
    ).order_by("closed_at")
    reviewed = returned = 0
    for deal in lost[:80]:
        if rng.random() > REVIEWED_SHARE:
            continue
        at = min(deal.closed_at + dt.timedelta(days=rng.randint(1, 3)), ctx.now)
        back = rng.random() < RETURN_SHARE
        decision = LostReview.Decision.RETURNED if back else LostReview.Decision.KEEP_LOST
        services.review_lost(deal, actor=head, decision=decision, at=at)
        reviewed += 1
        if back:
            returned += 1
            won_at = at + dt.timedelta(days=rng.randint(3, 20))
            if won_at < ctx.now and rng.random() < 0.4:
                crm.win(Deal.objects.get(pk=deal.pk), actor=deal.owner, at=won_at)
    return reviewed, returned


def _planted_username(value: object) -> str | None:
    if value is None:
        return None
    return getattr(value, "username", None) or str(value)


def refresh_activity_rollups(ctx) -> None:
    """Make sure the daily rollups the activity rule reads cover the demo's last eight weeks
    (parts that write in bulk may leave them behind); rebuilding is idempotent."""
    from funnelwatch.metrics import registry
    from funnelwatch.metrics.engine import rebuild

    keys = [k for k in ACTIVITY_METRICS if k in {m.key for m in registry.all_metrics()}]
    today = local_date(ctx.now, ctx.now.tzinfo)
    if keys:
        rebuild(Period(today - dt.timedelta(days=56), today + dt.timedelta(days=1)), keys=keys)


PLANTED = (
    ("stalled_deals", Kind.STALLED_DEAL, "deal"),
    ("leads_never_called", Kind.LEAD_NOT_CALLED, "deal"),
    ("missed_calls_not_returned", Kind.MISSED_CALL_NOT_RETURNED, "call"),
)


def planted_report(ctx) -> list[str]:
    """Which planted problems the alerts name; a lead or missed call that came in outside
    working hours is named once working time has used up its SLA, and the note says when."""
    lines = []
    tz = ctx.now.tzinfo
    for key, kind, what in PLANTED:
        ids = [int(i) for i in ctx.planted.get(key) or []]
        if not ids:
            continue
        open_alerts = Alert.objects.filter(kind=kind, resolved_at__isnull=True)
        named = set(open_alerts.values_list("subject_id", flat=True))
        if kind == Kind.MISSED_CALL_NOT_RETURNED:  # one alert per client number
            named |= {
                pk
                for n in open_alerts.values_list("numbers", flat=True)
                for pk in n.get("calls", [n.get("call")])
            }
        parts = [f"#{i}" for i in ids if i in named]
        for pk, start in _arrivals(kind, [i for i in ids if i not in named]):
            due = sla_due_at(start, tz) if start else None
            parts.append(f"#{pk} (due {due:%Y-%m-%d %H:%M})" if due else f"#{pk} (not named)")
        lines.append(f"alerts: planted {what}s ({key}): " + ", ".join(parts))
    return lines


def _arrivals(kind: str, ids: list[int]) -> list[tuple[int, dt.datetime | None]]:
    if kind == Kind.LEAD_NOT_CALLED:
        return list(Deal.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    call = call_model()
    if kind == Kind.MISSED_CALL_NOT_RETURNED and call is not None:
        return list(call.objects.filter(pk__in=ids).values_list("pk", "started_at"))
    return [(pk, None) for pk in ids]


def generate(ctx) -> None:
    head = User.objects.filter(role=Role.HEAD, is_active=True).first()
    if head is not None:
        reviewed, returned = review_lost_deals(ctx, head)
        ctx.notes.append(f"alerts: {reviewed} lost deals reviewed, {returned} returned")
    refresh_activity_rollups(ctx)
    summary = engine.evaluate(ctx.now)
    counts = dict(
        Alert.objects.filter(resolved_at__isnull=True)
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    ctx.notes.append(
        "alerts: "
        + ", ".join(
            f"{kind} {counts.get(kind, 0)}" if summary.get(kind) != "skipped" else f"{kind} skipped"
            for kind in Kind.values
        )
    )
    wanted = _planted_username(ctx.planted.get("activity_drop_manager"))
    if wanted:
        named = Alert.objects.filter(
            kind=Kind.ACTIVITY_DROP, manager__username=wanted, resolved_at__isnull=True
        ).first()
        ctx.notes.append(
            f"alerts: activity drop of {wanted}: " + (named.message if named else "NOT raised")
        )
    ctx.notes.extend(planted_report(ctx))
    yesterday = previous_workday(local_date(ctx.now, ctx.now.tzinfo))
    made = digests.deliver(digests.DAILY, yesterday, ctx.now, send_mail=False)
    ctx.notes.append(f"alerts: {made} in-app copies of the {yesterday} evening digest")
