"""Demo part: evaluate the rules on the demo department, review some lost deals and keep
in-app copies of yesterday's digests (no e-mail is sent from the demo)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count

from funnelwatch.accounts.models import Role, User
from funnelwatch.alerts import digests, engine, services
from funnelwatch.alerts.models import Alert, Kind, LostReview
from funnelwatch.alerts.morning import previous_workday
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Deal, Outcome
from funnelwatch.lib.dates import local_date

RETURN_SHARE = 0.2  # the seed's practice: about a fifth of lost deals go back to the funnel
REVIEWED_SHARE = 0.7  # the rest wait for the next review


def review_lost_deals(ctx, head: User) -> tuple[int, int]:  # noqa: ANN001
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


def generate(ctx) -> None:  # noqa: ANN001
    head = User.objects.filter(role=Role.HEAD, is_active=True).first()
    if head is not None:
        reviewed, returned = review_lost_deals(ctx, head)
        ctx.notes.append(f"alerts: {reviewed} lost deals reviewed, {returned} returned")
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
    yesterday = previous_workday(local_date(ctx.now, ctx.now.tzinfo))
    made = digests.deliver(digests.DAILY, yesterday, ctx.now, send_mail=False)
    ctx.notes.append(f"alerts: {made} in-app copies of the {yesterday} evening digest")
