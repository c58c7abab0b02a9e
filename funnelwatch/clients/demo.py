"""Demo part: a few clients with a telling history, then the segment history of every
month of the demo and the alert about A clients gone sleeping.

Runs after the other parts (last in INSTALLED_APPS), so the segments cover every deal.
Planted: an A client that stopped buying about four months ago (sleeping, with an alert
for its manager), a smaller sleeping one, a new client, and a potential one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from funnelwatch.alerts import engine
from funnelwatch.alerts.models import Alert, Kind
from funnelwatch.clients import segments
from funnelwatch.clients.models import SegmentSnapshot
from funnelwatch.crm import services
from funnelwatch.crm.demo import person_name
from funnelwatch.crm.models import Company
from funnelwatch.lib.dates import local_date

MILLION = Decimal(1_000_000)


def _planted(ctx) -> list[tuple[str, list[tuple[int, int]]]]:
    """name, [(days before now, amount in millions)] of its wins (none: an open lead only).
    The big client's last win is exactly the sleeping age ago: it was active at the end of
    last month and is sleeping now, so the month's movement and the alert show it."""
    today = local_date(ctx.now, timezone.get_current_timezone())
    months = settings.FUNNELWATCH_CLIENT_SLEEPING_MONTHS
    edge = (today - segments.add_months(today, -months)).days
    return [
        (
            gettext_noop("Tavan Bogd Trade"),
            [(edge + 40, 60), (edge + 25, 35), (edge + 12, 60), (edge, 60)],
        ),
        (gettext_noop("Zuun Kharaa Foods"), [(edge + 10, 12)]),
        (gettext_noop("Khuvsgul Tours"), [(10, 20)]),
        (gettext_noop("Uvs Water"), []),
    ]


def _plant(ctx) -> dict[str, Company]:
    rng = ctx.rng_for("clients")
    made = {}
    for i, (key, wins) in enumerate(_planted(ctx)):
        name = _(key)  # in the demo's language
        manager = ctx.managers[i % len(ctx.managers)]
        first_at = ctx.now - dt.timedelta(days=(wins[0][0] if wins else 5) + 7)
        company = Company.objects.create(name=name, owner=manager, created_at=first_at)
        contact = services.create_contact(
            actor=manager,
            name=f"{person_name(rng.choice(['Ganaa', 'Tsetseg', 'Batbold', 'Uyanga']))} ({name})",
            owner=manager,
            company=company,
            phone_numbers=[f"+9769{rng.randint(1000000, 9999999)}"],
            at=first_at,
        )
        for days, millions in wins:
            won_at = ctx.now - dt.timedelta(days=days)
            if days > 0:  # at noon, so the local day is the one intended
                won_at = won_at.astimezone(timezone.get_current_timezone()).replace(
                    hour=12, minute=0
                )
            amount = millions * MILLION
            deal = services.create_lead(
                actor=manager,
                title=_("Supply for %(client)s") % {"client": name},
                owner=manager,
                contact=contact,
                company=company,
                amount=amount,
                cost=amount * Decimal("0.6"),
                at=won_at - dt.timedelta(days=7),
            )
            services.win(deal, actor=manager, at=won_at)
        if not wins:
            services.create_lead(
                actor=manager,
                title=_("First order of %(client)s") % {"client": name},
                owner=manager,
                contact=contact,
                company=company,
                amount=8 * MILLION,
                at=first_at,
            )
        made[name] = company
    return made


def generate(ctx) -> None:
    from funnelwatch.crm.models import Deal
    from funnelwatch.telephony.demo import call_new_leads

    last_before = Deal.objects.aggregate(m=Max("pk"))["m"] or 0
    planted = _plant(ctx)
    # Their leads were called within minutes, as every lead of the demo is.
    call_new_leads(
        ctx,
        Deal.objects.filter(pk__gt=last_before).select_related("owner").order_by("pk"),
        ctx.rng_for("clients:calls"),
    )
    tz = timezone.get_current_timezone()
    today = local_date(ctx.now, tz)
    month = segments.month_of(local_date(ctx.start, tz))
    runs = 0
    while month < segments.month_of(today):
        segments.store(segments.month_end(month))
        month = segments.add_months(month, 1)
        runs += 1
    segments.store(today)
    engine.evaluate(ctx.now, kinds=[Kind.A_CLIENT_SLEEPING])
    sleeping_a = Alert.objects.filter(kind=Kind.A_CLIENT_SLEEPING, resolved_at__isnull=True)
    ctx.planted["a_clients_sleeping"] = sorted(sleeping_a.values_list("subject_id", flat=True))
    current = SegmentSnapshot.objects.filter(month=segments.month_of(today))
    ctx.notes.append(
        f"clients: segments of {runs + 1} months; now "
        + ", ".join(f"{cls} {current.filter(abc=cls).count()}" for cls in ("A", "B", "C"))
        + f", sleeping {current.filter(lifecycle='sleeping').count()}"
        + f"; planted: {', '.join(f'{n} #{c.pk}' for n, c in planted.items())}"
    )
