"""Demo hand-offs: accounting, the warehouse and legal, each with its people; a month of
requests from the managers' deals, most taken and done in time, a few returned, and one
invoice request waiting far too long in accounting (the alert and the KPIs show it)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.hashers import make_password
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from funnelwatch.accounts.models import Role, User
from funnelwatch.alerts import engine
from funnelwatch.alerts.models import Kind as AlertKind
from funnelwatch.audit.trail import acting_as
from funnelwatch.core.demo import DemoContext
from funnelwatch.crm.demo import person_name
from funnelwatch.crm.models import Deal, Outcome
from funnelwatch.handoffs import services
from funnelwatch.handoffs.models import Department, Kind

DEPARTMENTS = [
    # name, SLA minutes, (username, first, last) of the head, then of members, kinds
    (gettext_noop("Accounting"), 120, ("accounting.head", "Solongo", "Dorj"),
     [("accountant", "Enkhjin", "Bat")], [Kind.INVOICE, Kind.CONTRACT]),
    (gettext_noop("Warehouse"), 240, ("warehouse", "Ganbold", "Tumur"),
     [("storekeeper", "Otgon", "Baatar")], [Kind.READINESS]),
    (gettext_noop("Legal"), 480, ("lawyer", "Saruul", "Nergui"), [], [Kind.CONTRACT, Kind.LEGAL]),
]  # fmt: skip

TEXTS = {
    Kind.INVOICE: gettext_noop("Invoice for the agreed amount, please; the client pays this week."),
    Kind.CONTRACT: gettext_noop("Contract on our standard terms, 30 days' payment."),
    Kind.READINESS: gettext_noop("Is the order in stock and ready to ship on Friday?"),
    Kind.LEGAL: gettext_noop("The client asks for their own liability clause: can we accept it?"),
}


def _people(ctx: DemoContext) -> dict[str, User]:
    hashed = make_password(ctx.password)
    out = {}
    for _name, _sla, head, members, _kinds in DEPARTMENTS:
        for username, first, last in [head, *members]:
            out[username] = User.objects.create(
                username=username,
                email=f"{username}@funnelwatch.demo",
                password=hashed,
                role=Role.DEPARTMENT,
                first_name=person_name(first),
                last_name=person_name(last),
            )
            ctx.users[username] = out[username]
    return out


def _working_moment(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng_for("handoffs")
    people = _people(ctx)
    head = ctx.users["head"]
    departments = []
    with acting_as(head, at=ctx.now):
        for name, sla, (head_name, *_r), members, kinds in DEPARTMENTS:
            dept = Department.objects.create(name=_(name), sla_minutes=sla, head=people[head_name])
            dept.members.set([people[m[0]] for m in members])
            departments.append(
                (dept, [people[head_name]] + [people[m[0]] for m in members], kinds, name)
            )
    deals = list(
        Deal.objects.filter(owner__in=ctx.managers, status=Outcome.OPEN).order_by("pk")[:60]
    )
    if not deals:
        return
    today = timezone.localdate(ctx.now)
    made = 0
    for back in range(28, 0, -1):
        day = today - dt.timedelta(days=back)
        if day.weekday() >= 5:
            continue
        for _i in range(rng.randint(1, 3)):
            dept, staff, kinds, key = rng.choice(departments)
            deal = rng.choice(deals)
            kind = rng.choice(kinds)
            at = _working_moment(day, rng.randint(9, 15), rng.randint(0, 59))
            handoff = services.request(
                actor=deal.owner, deal=deal, department=dept, kind=kind, text=_(TEXTS[kind]), at=at
            )
            made += 1
            worker = rng.choice(staff)
            slow = key == "Warehouse" and rng.random() < 0.4
            taken = at + dt.timedelta(minutes=rng.randint(5, 60) * (4 if slow else 1))
            if taken >= ctx.now:
                continue
            services.take(handoff, actor=worker, at=taken)
            roll = rng.random()
            finished = taken + dt.timedelta(minutes=rng.randint(15, dept.sla_minutes + 90))
            if finished >= ctx.now:
                continue
            if roll < 0.12:
                services.give_back(
                    handoff,
                    actor=worker,
                    reason=_("The client's tax number is missing in the deal."),
                    at=finished,
                )
            else:
                services.finish(handoff, actor=worker, at=finished)
    # The one the head should see: an invoice waiting in accounting since two working
    # days ago, not even taken, while the client cools.
    accounting = departments[0][0]
    day = today
    for _i in range(2):  # two working days back, mid-morning
        day -= dt.timedelta(days=1)
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
    deal = deals[0]
    waiting = services.request(
        actor=deal.owner,
        deal=deal,
        department=accounting,
        kind=Kind.INVOICE,
        text=_("Invoice for 12 500 000 MNT, please: the client is ready to pay today."),
        at=_working_moment(day, 10, 15),
    )
    engine.evaluate(ctx.now, kinds=[AlertKind.HANDOFF_OVERDUE])
    ctx.planted["handoff_waiting_in_accounting"] = [waiting.pk]
    ctx.logins.append({"username": "accountant", "password": ctx.password, "role": "department"})
    ctx.notes.append(
        f"hand-offs: {made + 1} requests to departments; #{waiting.pk} (“{deal.title}”) has "
        f"waited in accounting since {day:%Y-%m-%d} 10:15; accountant / {ctx.password} sees "
        "only accounting's requests"
    )
