"""Period metrics answered for many groups at once by the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from funnelwatch.crm import services
from funnelwatch.crm.models import Company, Contact
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine

MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))


def test_turnover_per_client_counts_each_client_once_per_group(world, at):
    acme = Company.objects.create(name="Acme")
    ann = Contact.objects.create(name="Ann")
    won = [
        (world.alice, acme, None, "100.10"),
        (world.alice, acme, ann, "200.20"),  # the company is the client, not the contact
        (world.alice, None, ann, "300.30"),
        (world.bob, None, None, "400.40"),  # no company, no contact: the deal is the client
        (world.bob, None, ann, "0.01"),
    ]
    for owner, company, contact, amount in won:
        deal = services.create_lead(
            actor=owner,
            title="D",
            owner=owner,
            company=company,
            contact=contact,
            amount=Decimal(amount),
            at=at(2026, 3, 2, 10),
        )
        services.win(deal, actor=owner, at=at(2026, 3, 5, 10))
    # A deal won in another month counts nowhere here.
    late = services.create_lead(
        actor=world.bob, title="L", owner=world.bob, amount=9, at=at(2026, 4, 1, 10)
    )
    services.win(late, actor=world.bob, at=at(2026, 4, 2, 10))
    groups = {
        "alice": {world.alice.pk},
        "bob": {world.bob.pk},
        "both": {world.alice.pk, world.bob.pk},
        "all": None,
        "none": set(),
        "lead": {world.lead.pk},
    }
    got = engine.group_values(["avg_turnover_per_client"], MARCH, groups)
    value = {g: got[g]["avg_turnover_per_client"] for g in groups}
    assert value["alice"] == Decimal("300.30")  # 600.60 over Acme and Ann
    assert value["bob"] == Decimal("200.20")  # 400.41 over the deal and Ann, to even cents
    # Ann bought from both managers: one client for the pair.
    assert value["both"] == value["all"] == Decimal("333.67")  # 1001.01 / 3
    assert value["none"] is None and value["lead"] is None


def test_turnover_per_client_is_reused_until_a_win_rebuilds_its_day(
    world, at, django_capture_on_commit_callbacks
):
    def turnover() -> object:
        groups = {"alice": {world.alice.pk}}
        return engine.group_values(["avg_turnover_per_client"], MARCH, groups)["alice"][
            "avg_turnover_per_client"
        ]

    for amount in ("100", "300"):
        with django_capture_on_commit_callbacks(execute=True):
            deal = services.create_lead(
                actor=world.alice,
                title="D",
                owner=world.alice,
                amount=Decimal(amount),
                at=at(2026, 3, 2, 10),
            )
        with django_capture_on_commit_callbacks(execute=True):
            services.win(deal, actor=world.alice, at=at(2026, 3, 5, 10))
        # Each deal without company or contact is a client of its own.
        expected = Decimal("100.00") if amount == "100" else Decimal("200.00")
        assert turnover() == expected
