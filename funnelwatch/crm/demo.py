"""The CRM part of the demo department: people, the pipeline and six months of deals.

Deals are written through the services (so stage history, owner history and the audit
trail are exactly what real use produces), with the event times of the simulation.
Planted: one manager whose activity halves in the last two weeks, deals stalled past
their stage norm, new leads nobody has called, and lost deals worth reviving.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, pgettext

from funnelwatch.accounts.models import Extension, Role, Team, User, UserEmail
from funnelwatch.core.demo import DemoContext
from funnelwatch.crm import services
from funnelwatch.crm.models import (
    Block,
    Company,
    JunkReason,
    LeadSource,
    LostReason,
    Outcome,
    Pipeline,
    Stage,
)

# Names and catalogues are written in the demo's language (``funnelwatch demo --language``):
# each is marked for translation here and translated when the demo is generated.
FIRST = [
    "Bat-Erdene",
    "Saraa",
    "Temuulen",
    "Anu",
    "Ganbold",
    "Oyun",
    "Nomin",
    "Tuvshin",
    "Enkhjin",
    "Bold",
    "Khulan",
    "Munkh-Orgil",
    "Solongo",
    "Erdem",
    "Sarnai",
    "Tsogt",
    "Altan",
    "Naraa",
    "Dorj",
    "Zaya",
]
LAST = [
    "Batbayar",
    "Ganzorig",
    "Dashdorj",
    "Tsend",
    "Purev",
    "Sukhbaatar",
    "Enkhbat",
    "Baatar",
    "Ochir",
    "Jargal",
]
STAFF = ["Oyunchimeg", "Tseveen", "Ariunaa", "Batbold", "Namjil", "Delger", "Sodnom"]
COMPANIES = [
    gettext_noop("Khan Steel"),
    gettext_noop("Altai Logistics"),
    gettext_noop("Nomad Foods"),
    gettext_noop("Gobi Build"),
    gettext_noop("Steppe Tech"),
    gettext_noop("Orkhon Pharma"),
    gettext_noop("Selenge Agro"),
    gettext_noop("Tuul Hotels"),
    gettext_noop("Blue Sky Print"),
    gettext_noop("Erdenet Mining"),
    gettext_noop("Darkhan Textiles"),
    gettext_noop("Bogd Dental"),
    gettext_noop("Chinggis Motors"),
    gettext_noop("Khangai Energy"),
    gettext_noop("Ulaanbaatar School No. 5"),
    gettext_noop("Mongol Post Office"),
    gettext_noop("Sunrise Clinic"),
    gettext_noop("Arvai Bakery"),
    gettext_noop("Zuun Mod Farm"),
    gettext_noop("Terelj Resort"),
]
SEGMENTS = [
    gettext_noop("Small business"),
    gettext_noop("Enterprise"),
    gettext_noop("Public sector"),
]
PRODUCTS = [
    gettext_noop("office printers"),
    gettext_noop("CRM licences"),
    gettext_noop("server rack"),
    gettext_noop("security cameras"),
    gettext_noop("warehouse shelving"),
    gettext_noop("laptops"),
    gettext_noop("ERP roll-out"),
    gettext_noop("network upgrade"),
    gettext_noop("coffee machines"),
    gettext_noop("solar panels"),
    gettext_noop("staff training"),
    gettext_noop("delivery vans"),
]
# The simulation refers to stages by these keys; their names are translated.
STAGES = [  # key, name, block, outcome, norm days
    ("new", gettext_noop("New lead"), Block.INTAKE, Outcome.OPEN, 1),
    ("qualified", gettext_noop("Qualified"), Block.INTAKE, Outcome.OPEN, 3),
    ("prepared", gettext_noop("Proposal prepared"), Block.PROPOSAL, Outcome.OPEN, 3),
    ("sent", gettext_noop("Proposal sent"), Block.PROPOSAL, Outcome.OPEN, 5),
    ("negotiation", gettext_noop("Negotiation"), Block.OBJECTIONS, Outcome.OPEN, 7),
    ("contract", gettext_noop("Contract and invoice"), Block.CLOSING, Outcome.OPEN, 5),
    ("won", gettext_noop("Won"), Block.CLOSING, Outcome.WON, None),
    ("lost", gettext_noop("Lost"), Block.CLOSING, Outcome.LOST, None),
    ("junk", gettext_noop("Junk"), Block.INTAKE, Outcome.JUNK, None),
]
LOST_REASONS = [
    (gettext_noop("Too expensive"), True),
    (gettext_noop("Chose a competitor"), False),
    (gettext_noop("No budget now"), True),
    (gettext_noop("Postponed by the client"), True),
    (gettext_noop("Stopped answering"), False),
    (gettext_noop("Not the decision maker"), False),
]
JUNK_REASONS = [
    gettext_noop("Wrong number"),
    gettext_noop("Spam"),
    gettext_noop("Not our product"),
    gettext_noop("Duplicate request"),
]
SOURCES = [
    gettext_noop("Website form"),
    gettext_noop("Inbound call"),
    "Facebook",
    gettext_noop("Referral"),
    gettext_noop("Exhibition"),
    gettext_noop("Cold call"),
]
TEAMS = [gettext_noop("North"), gettext_noop("South")]
NOTES = [
    gettext_noop("Client asked for a discount."),
    gettext_noop("Decision next week."),
    gettext_noop("Sent the price list."),
    gettext_noop("Needs approval from the director."),
]
LOST_COMMENTS = ["", gettext_noop("asked to call in spring"), gettext_noop("price")]


def person_name(name: str) -> str:
    """A person's name as written in the demo's language (Cyrillic in ru and mn)."""
    return pgettext("person name", name)


def _catalogues() -> dict:
    pipeline = Pipeline.objects.create(name=_("Sales"), is_default=True)
    stages = {
        key: Stage.objects.create(
            pipeline=pipeline,
            name=_(name),
            position=i,
            block=block,
            outcome=outcome,
            norm_days=norm,
        )
        for i, (key, name, block, outcome, norm) in enumerate(STAGES, start=1)
    }
    return {
        "pipeline": pipeline,
        "stages": stages,
        "lost": [LostReason.objects.create(name=_(n), revivable=r) for n, r in LOST_REASONS],
        "junk": [JunkReason.objects.create(name=_(n)) for n in JUNK_REASONS],
        "sources": [LeadSource.objects.create(name=_(n)) for n in SOURCES],
    }


def _people(ctx: DemoContext, rng: random.Random) -> None:
    hashed = make_password(ctx.password)  # hashing is slow on purpose: do it once

    def person(username: str, role: str, first: str, last: str, team: Team | None = None) -> User:
        user = User.objects.create(
            username=username,
            email=f"{username}@funnelwatch.demo",
            password=hashed,
            role=role,
            team=team,
            first_name=person_name(first),
            last_name=person_name(last),
        )
        UserEmail.objects.create(user=user, email=f"{username}@funnelwatch.demo")
        ctx.users[username] = user
        return user

    head = person("head", Role.HEAD, "Oyunchimeg", "Tseveen")
    head.is_staff = head.is_superuser = True
    head.save()
    # The pages say "Team North": the team's own name is just "North".
    teams = [Team.objects.create(name=_(name)) for name in TEAMS]
    for team, (username, first) in zip(
        teams, [("lead.north", "Ariunaa"), ("lead.south", "Batbold")], strict=True
    ):
        team.lead = person(username, Role.TEAM_LEAD, first, "Namjil", team)
        team.save()
    person("reviewer", Role.REVIEWER, "Delger", "Sodnom")
    names = (
        rng.sample(FIRST, ctx.managers_count)
        if ctx.managers_count <= len(FIRST)
        else [f"Manager{i}" for i in range(ctx.managers_count)]
    )
    for i, first in enumerate(names):
        username = first.lower().replace("-", "")
        user = person(username, Role.MANAGER, first, rng.choice(LAST), teams[i % 2])
        Extension.objects.create(user=user, number=str(101 + i))
        ctx.managers.append(user)
    ctx.logins = [
        {"username": "head", "password": ctx.password, "role": "head"},
        {"username": "lead.north", "password": ctx.password, "role": "team_lead"},
        {"username": ctx.managers[0].username, "password": ctx.password, "role": "manager"},
        {"username": "reviewer", "password": ctx.password, "role": "reviewer"},
    ]


def _work_time(day: dt.date, rng: random.Random, tz: dt.tzinfo) -> dt.datetime:
    minutes = rng.randint(9 * 60, 17 * 60 + 15)
    return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=tz)


def _after(moment: dt.datetime, rng: random.Random, days: float) -> dt.datetime:
    """A moment roughly ``days`` of business later, inside working hours."""
    target = moment + dt.timedelta(days=max(0.02, rng.expovariate(1 / days)) if days else 0.02)
    while target.weekday() >= 5:
        target += dt.timedelta(days=1)
    if not 9 <= target.hour < 18:
        target = target.replace(hour=rng.randint(9, 17), minute=rng.randint(0, 59))
        if target <= moment:
            target = moment + dt.timedelta(minutes=rng.randint(20, 120))
    return target


def talk_seconds(rng: random.Random) -> int:
    """How long an answered sales call lasts: mostly two to six minutes, a few long ones."""
    return int(min(1200, max(25, rng.lognormvariate(5.0, 0.6))))


class _Simulation:
    def __init__(self, ctx: DemoContext, cat: dict, rng: random.Random) -> None:
        self.ctx, self.cat, self.rng = ctx, cat, rng
        self.now = ctx.now
        self.tz = timezone.get_current_timezone()
        self.dropper = ctx.managers[min(2, len(ctx.managers) - 1)]
        self.drop_from = self.now - dt.timedelta(days=14)
        self.companies = [
            Company.objects.create(name=_(n), segment=_(rng.choice(SEGMENTS))) for n in COMPANIES
        ]
        self.numbers: dict[int, str] = {}  # deal id -> the client's phone

    def skips(self, manager: User, when: dt.datetime) -> bool:
        """The planted manager does about half of the work in the last two weeks."""
        return manager == self.dropper and when >= self.drop_from and self.rng.random() < 0.5

    def call(self, deal, manager: User, at: dt.datetime, talk: int | None = None) -> None:
        """A call the telephony part places at this moment to the deal's client."""
        if at < self.now and deal.pk in self.numbers:
            talk = talk_seconds(self.rng) if talk is None else talk
            self.ctx.call_plan.append((manager.pk, deal.pk, self.numbers[deal.pk], at, talk))

    def lead(self, manager: User, created: dt.datetime, amount: int | None = None):
        rng = self.rng
        company = rng.choice(self.companies) if rng.random() < 0.6 else None
        first = rng.choice(FIRST)
        phone = f"+976{rng.choice('89')}{rng.randint(1000000, 9999999)}"
        contact = services.create_contact(
            actor=manager,
            name=f"{person_name(first)} {person_name(rng.choice(LAST))}",
            owner=manager,
            company=company,
            phone_numbers=[phone],
            emails=[f"{first.lower().replace('-', '')}{rng.randint(1, 999)}@client.demo"],
            at=created,
        )
        title = _("%(product)s for %(client)s") % {
            "product": _(rng.choice(PRODUCTS)),
            "client": company.name if company else contact.name,
        }
        amount = Decimal(amount or rng.choice([2, 3, 5, 8, 12, 20, 35, 60])) * 1_000_000
        deal = services.create_lead(
            actor=manager,
            title=title[:1].upper() + title[1:],
            owner=manager,
            contact=contact,
            company=company,
            source=rng.choice(self.cat["sources"]),
            amount=amount,
            cost=amount * Decimal("0.62"),
            at=created,
        )
        self.numbers[deal.pk] = phone
        return deal

    def first_call_at(self, manager: User, created: dt.datetime) -> dt.datetime:
        """Most leads are called within minutes; some wait an hour or more."""
        rng = self.rng
        roll = rng.random()
        if manager == self.dropper and created >= self.drop_from:
            minutes = rng.uniform(60, 600)  # part of the planted story: slow to call back
        elif roll < 0.82:
            minutes = min(14.0, 1 + rng.expovariate(1 / 4))
        elif roll < 0.94:
            minutes = rng.uniform(15, 90)
        else:
            minutes = rng.uniform(120, 480)
        moment = created + dt.timedelta(minutes=minutes)
        if moment.hour >= 18:  # after hours: first thing the next working morning
            moment = (moment + dt.timedelta(days=1)).replace(hour=9, minute=rng.randint(0, 20))
        while moment.weekday() >= 5:
            moment += dt.timedelta(days=1)
        return moment

    def run_deal(self, manager: User, created: dt.datetime) -> None:
        rng, st, now = self.rng, self.cat["stages"], self.now
        deal = self.lead(manager, created)
        t = created
        first_call = self.first_call_at(manager, created)
        if first_call < now and not self.skips(manager, first_call):
            task = services.create_task(
                actor=manager,
                title=_("First call"),
                assignee=manager,
                due_at=t + dt.timedelta(minutes=15),
                deal=deal,
                at=t,
            )
            talk = talk_seconds(rng)
            self.call(deal, manager, first_call, talk)
            services.complete_task(
                task, actor=manager, at=first_call + dt.timedelta(seconds=talk + 30)
            )
            t = first_call + dt.timedelta(seconds=talk + 60)
        if rng.random() < 0.14:  # junk at intake
            t = _after(t, rng, 0.5)
            if t < now:
                services.mark_junk(deal, reason=rng.choice(self.cat["junk"]), actor=manager, at=t)
            return
        path = [
            ("qualified", 1.0, 0.85),
            ("prepared", 1.5, 0.85),
            ("sent", 1.0, 0.8),
            ("negotiation", 3.0, 0.7),
            ("contract", 4.0, 0.75),
        ]
        for key, days, go_on in path:
            nxt = _after(t, rng, days)
            if nxt >= now or self.skips(manager, nxt):
                # still open in its current stage, with the next call planned (but not
                # by the planted manager, whose deals go stale)
                if nxt >= now and not self.skips(manager, t):
                    services.create_task(
                        actor=manager,
                        title=_("Call the client"),
                        assignee=manager,
                        due_at=nxt,
                        deal=deal,
                        at=min(t + dt.timedelta(minutes=10), now - dt.timedelta(minutes=1)),
                    )
                return
            # a call with the client comes before each step
            self.call(deal, manager, nxt - dt.timedelta(minutes=rng.randint(12, 40)))
            if rng.random() > go_on:
                services.lose(
                    deal,
                    reason=rng.choice(self.cat["lost"]),
                    actor=manager,
                    at=nxt,
                    comment=_(c) if (c := rng.choice(LOST_COMMENTS)) else "",
                )
                return
            services.move_stage(deal, st[key], actor=manager, at=nxt)
            t = nxt
            self.activities(deal, manager, key, t)
        done = _after(t, rng, 4)
        if done < now:
            self.call(deal, manager, done - dt.timedelta(minutes=rng.randint(12, 40)))
            services.win(deal, actor=manager, at=done)

    def activities(self, deal, manager: User, stage: str, t: dt.datetime) -> None:
        rng = self.rng
        if stage == "sent":
            services.send_proposal(
                deal,
                actor=manager,
                amount=deal.amount,
                at=t,
                channel=rng.choice(["email", "email", "messenger"]),
            )
            # a follow-up call a day or two later to hear what the client thinks
            due = _after(t, rng, 1.5)
            if not self.skips(manager, t):
                task = services.create_task(
                    actor=manager,
                    title=_("Call about the proposal"),
                    assignee=manager,
                    due_at=due,
                    deal=deal,
                    at=t + dt.timedelta(minutes=2),
                )
                if due < self.now:
                    self.call(deal, manager, due)
                    services.complete_task(task, actor=manager, at=due + dt.timedelta(minutes=8))
        if stage in ("negotiation", "contract") and rng.random() < 0.5:
            meeting_at = _after(t, rng, 1)
            meeting = services.schedule_meeting(deal, actor=manager, scheduled_at=meeting_at, at=t)
            if meeting_at < self.now and not self.skips(manager, meeting_at):
                services.hold_meeting(meeting, actor=manager, at=meeting_at)
        if rng.random() < 0.4 and not self.skips(manager, t):
            services.add_note(
                actor=manager, deal=deal, at=t + dt.timedelta(minutes=5), text=_(rng.choice(NOTES))
            )


def _plant(sim: _Simulation, ctx: DemoContext) -> None:
    """Deals stalled past the norm, leads nobody called, lost deals worth reviving."""
    from funnelwatch.crm.models import Deal

    st, now = sim.cat["stages"], sim.now
    stalled, never_called, revivable = [], [], []
    for i, manager in enumerate(ctx.managers[:4]):
        created = now - dt.timedelta(days=30 + 3 * i)
        deal = sim.lead(manager, created)
        entered = created + dt.timedelta(days=4)
        services.move_stage(deal, st["negotiation"], actor=manager, at=entered)
        stalled.append(deal.pk)  # 7-day norm, three weeks in the stage, no next step
    for i, manager in enumerate(ctx.managers[1:4]):
        deal = sim.lead(manager, now - dt.timedelta(hours=3 + 20 * i))
        never_called.append(deal.pk)
    # The lost-deal review lists the newest losses first: these are the newest, and the
    # first of them is the big one worth a call.
    reasons = [r for r in sim.cat["lost"] if r.revivable]
    latest = Deal.objects.filter(status=Outcome.LOST).order_by("-closed_at").values_list(
        "closed_at", flat=True
    ).first() or now - dt.timedelta(days=1)
    base = max(latest, now - dt.timedelta(days=2))
    for i, manager in enumerate(ctx.managers[:3]):
        deal = sim.lead(manager, now - dt.timedelta(days=20 + i), amount=(60, 35, 20)[i])
        services.move_stage(deal, st["negotiation"], actor=manager, at=now - dt.timedelta(days=12))
        sim.call(deal, manager, now - dt.timedelta(days=11, hours=2), 420)
        services.add_note(
            actor=manager,
            deal=deal,
            at=now - dt.timedelta(days=11),
            text=_("The client likes the offer; the budget is approved for next quarter."),
        )
        services.lose(
            deal,
            reason=reasons[i % len(reasons)],
            actor=manager,
            at=base + (now - base) * (0.9 - 0.2 * i),
            comment=_("asked to come back next quarter"),
        )
        revivable.append(deal.pk)
    ctx.planted.update(
        {
            "activity_drop_manager": sim.dropper.username,
            "stalled_deals": stalled,
            "leads_never_called": never_called,
            "revivable_lost_deals": revivable,
        }
    )


def generate(ctx: DemoContext) -> None:
    rng = ctx.rng_for("crm")
    cat = _catalogues()
    _people(ctx, rng)
    sim = _Simulation(ctx, cat, rng)
    day = ctx.start.date()
    while day < ctx.now.date():
        if day.weekday() < 5:
            for manager in ctx.managers:
                # a steady flow of leads: one a day, now and then two
                for _lead in range(1 + (rng.random() < 0.12)):
                    created = _work_time(day, rng, sim.tz)
                    if created < ctx.now and not sim.skips(manager, created):
                        sim.run_deal(manager, created)
        day += dt.timedelta(days=1)
    _plant(sim, ctx)
