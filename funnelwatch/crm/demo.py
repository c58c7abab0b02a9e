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
COMPANIES = [
    "Khan Steel",
    "Altai Logistics",
    "Nomad Foods",
    "Gobi Build",
    "Steppe Tech",
    "Orkhon Pharma",
    "Selenge Agro",
    "Tuul Hotels",
    "Blue Sky Print",
    "Erdenet Mining",
    "Darkhan Textiles",
    "Bogd Dental",
    "Chinggis Motors",
    "Khangai Energy",
    "Ulaanbaatar School No. 5",
    "Mongol Post Office",
    "Sunrise Clinic",
    "Arvai Bakery",
    "Zuun Mod Farm",
    "Terelj Resort",
]
PRODUCTS = [
    "office printers",
    "CRM licences",
    "server rack",
    "security cameras",
    "warehouse shelving",
    "laptops",
    "ERP roll-out",
    "network upgrade",
    "coffee machines",
    "solar panels",
    "staff training",
    "delivery vans",
]
STAGES = [  # name, block, outcome, norm days
    ("New lead", Block.INTAKE, Outcome.OPEN, 1),
    ("Qualified", Block.INTAKE, Outcome.OPEN, 3),
    ("Proposal prepared", Block.PROPOSAL, Outcome.OPEN, 3),
    ("Proposal sent", Block.PROPOSAL, Outcome.OPEN, 5),
    ("Negotiation", Block.OBJECTIONS, Outcome.OPEN, 7),
    ("Contract and invoice", Block.CLOSING, Outcome.OPEN, 5),
    ("Won", Block.CLOSING, Outcome.WON, None),
    ("Lost", Block.CLOSING, Outcome.LOST, None),
    ("Junk", Block.INTAKE, Outcome.JUNK, None),
]
LOST_REASONS = [
    ("Too expensive", True),
    ("Chose a competitor", False),
    ("No budget now", True),
    ("Postponed by the client", True),
    ("Stopped answering", False),
    ("Not the decision maker", False),
]
JUNK_REASONS = ["Wrong number", "Spam", "Not our product", "Duplicate request"]
SOURCES = ["Website form", "Inbound call", "Facebook", "Referral", "Exhibition", "Cold call"]


def _catalogues() -> dict:
    pipeline = Pipeline.objects.create(name="Sales", is_default=True)
    stages = {
        name: Stage.objects.create(
            pipeline=pipeline, name=name, position=i, block=block, outcome=outcome, norm_days=norm
        )
        for i, (name, block, outcome, norm) in enumerate(STAGES, start=1)
    }
    return {
        "pipeline": pipeline,
        "stages": stages,
        "lost": [LostReason.objects.create(name=n, revivable=r) for n, r in LOST_REASONS],
        "junk": [JunkReason.objects.create(name=n) for n in JUNK_REASONS],
        "sources": [LeadSource.objects.create(name=n) for n in SOURCES],
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
            first_name=first,
            last_name=last,
        )
        UserEmail.objects.create(user=user, email=f"{username}@funnelwatch.demo")
        ctx.users[username] = user
        return user

    head = person("head", Role.HEAD, "Oyunchimeg", "Tseveen")
    head.is_staff = head.is_superuser = True
    head.save()
    teams = [Team.objects.create(name="Team North"), Team.objects.create(name="Team South")]
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
    minutes = rng.randint(9 * 60, 17 * 60 + 45)
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


class _Simulation:
    def __init__(self, ctx: DemoContext, cat: dict, rng: random.Random) -> None:
        self.ctx, self.cat, self.rng = ctx, cat, rng
        self.now = ctx.now
        self.tz = timezone.get_current_timezone()
        self.dropper = ctx.managers[min(2, len(ctx.managers) - 1)]
        self.drop_from = self.now - dt.timedelta(days=14)
        self.companies = [
            Company.objects.create(name=n, segment=rng.choice(["SMB", "Enterprise", "Public"]))
            for n in COMPANIES
        ]

    def skips(self, manager: User, when: dt.datetime) -> bool:
        """The planted manager does about half of the work in the last two weeks."""
        return manager == self.dropper and when >= self.drop_from and self.rng.random() < 0.5

    def lead(self, manager: User, created: dt.datetime):
        rng = self.rng
        company = rng.choice(self.companies) if rng.random() < 0.6 else None
        first = rng.choice(FIRST)
        contact = services.create_contact(
            actor=manager,
            name=f"{first} {rng.choice(LAST)}",
            owner=manager,
            company=company,
            phone_numbers=[f"+976{rng.choice('89')}{rng.randint(1000000, 9999999)}"],
            emails=[f"{first.lower().replace('-', '')}{rng.randint(1, 999)}@client.demo"],
            at=created,
        )
        title = (
            f"{rng.choice(PRODUCTS).capitalize()} for {company.name if company else contact.name}"
        )
        amount = Decimal(rng.choice([2, 3, 5, 8, 12, 20, 35, 60])) * 1_000_000
        deal = services.create_lead(
            actor=manager,
            title=title,
            owner=manager,
            contact=contact,
            company=company,
            source=rng.choice(self.cat["sources"]),
            amount=amount,
            cost=amount * Decimal("0.62"),
            at=created,
        )
        return deal

    def run_deal(self, manager: User, created: dt.datetime) -> None:
        rng, st, now = self.rng, self.cat["stages"], self.now
        deal = self.lead(manager, created)
        t = created
        first_call = _after(t, rng, 0.1)
        if first_call < now and not self.skips(manager, first_call):
            task = services.create_task(
                actor=manager,
                title="First call",
                assignee=manager,
                due_at=t + dt.timedelta(hours=2),
                deal=deal,
                at=t,
            )
            services.complete_task(task, actor=manager, at=first_call)
        if rng.random() < 0.14:  # junk at intake
            t = _after(t, rng, 0.5)
            if t < now:
                services.mark_junk(deal, reason=rng.choice(self.cat["junk"]), actor=manager, at=t)
            return
        path = [
            ("Qualified", 1.0, 0.85),
            ("Proposal prepared", 1.5, 0.85),
            ("Proposal sent", 1.0, 0.8),
            ("Negotiation", 3.0, 0.7),
            ("Contract and invoice", 4.0, 0.75),
        ]
        for name, days, go_on in path:
            nxt = _after(t, rng, days)
            if nxt >= now or self.skips(manager, nxt):
                return  # still open in its current stage
            if rng.random() > go_on:
                services.lose(
                    deal,
                    reason=rng.choice(self.cat["lost"]),
                    actor=manager,
                    at=nxt,
                    comment=rng.choice(["", "asked to call in spring", "price"]),
                )
                return
            services.move_stage(deal, st[name], actor=manager, at=nxt)
            t = nxt
            self.activities(deal, manager, name, t)
        done = _after(t, rng, 4)
        if done < now:
            services.win(deal, actor=manager, at=done)

    def activities(self, deal, manager: User, stage: str, t: dt.datetime) -> None:
        rng = self.rng
        if stage == "Proposal sent":
            services.send_proposal(
                deal,
                actor=manager,
                amount=deal.amount,
                at=t,
                channel=rng.choice(["email", "email", "messenger"]),
            )
        if stage in ("Negotiation", "Contract and invoice") and rng.random() < 0.5:
            meeting_at = _after(t, rng, 1)
            meeting = services.schedule_meeting(deal, actor=manager, scheduled_at=meeting_at, at=t)
            if meeting_at < self.now and not self.skips(manager, meeting_at):
                services.hold_meeting(meeting, actor=manager, at=meeting_at)
        if rng.random() < 0.4 and not self.skips(manager, t):
            services.add_note(
                actor=manager,
                deal=deal,
                at=t + dt.timedelta(minutes=5),
                text=rng.choice(
                    [
                        "Client asked for a discount.",
                        "Decision next week.",
                        "Sent the price list.",
                        "Needs approval from the director.",
                    ]
                ),
            )


def _plant(sim: _Simulation, ctx: DemoContext) -> None:
    """Deals stalled past the norm, leads nobody called, lost deals worth reviving."""
    st, now = sim.cat["stages"], sim.now
    stalled, never_called, revivable = [], [], []
    for i, manager in enumerate(ctx.managers[:4]):
        created = now - dt.timedelta(days=30 + 3 * i)
        deal = sim.lead(manager, created)
        entered = created + dt.timedelta(days=4)
        services.move_stage(deal, st["Negotiation"], actor=manager, at=entered)
        stalled.append(deal.pk)  # 7-day norm, three weeks in the stage, no next step
    for i, manager in enumerate(ctx.managers[1:4]):
        deal = sim.lead(manager, now - dt.timedelta(hours=3 + 20 * i))
        never_called.append(deal.pk)
    reasons = [r for r in sim.cat["lost"] if r.revivable]
    for i, manager in enumerate(ctx.managers[:3]):
        deal = sim.lead(manager, now - dt.timedelta(days=20 + i))
        services.move_stage(deal, st["Negotiation"], actor=manager, at=now - dt.timedelta(days=12))
        services.lose(
            deal,
            reason=reasons[i % len(reasons)],
            actor=manager,
            at=now - dt.timedelta(days=3 + i),
            comment="asked to come back next quarter",
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
                for _ in range(_poisson(rng, 1.1)):
                    created = _work_time(day, rng, sim.tz)
                    if created < ctx.now and not sim.skips(manager, created):
                        sim.run_deal(manager, created)
        day += dt.timedelta(days=1)
    _plant(sim, ctx)


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method; lam is small.
    import math

    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
