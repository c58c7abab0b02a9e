from __future__ import annotations

import random

from funnelwatch.alerts.models import Alert
from funnelwatch.alerts.models import Kind as AlertKind
from funnelwatch.core.demo import DemoContext
from funnelwatch.crm import services as crm
from funnelwatch.handoffs import demo
from funnelwatch.handoffs.models import Department, Handoff, State
from funnelwatch.handoffs.queries import requests_for


def test_demo_part_plants_a_request_waiting_in_accounting(world, at):
    for i in range(5):
        crm.create_lead(actor=world.alice, title=f"D{i}", owner=world.alice, at=at(2026, 2, 2, 10))
    now = at(2026, 3, 25, 10)  # a Wednesday
    ctx = DemoContext(
        seed=1,
        months=1,
        managers_count=2,
        rng=random.Random(1),
        now=now,
        start=at(2026, 2, 1, 0),
        managers=[world.alice, world.bob],
        users={"head": world.head},
    )
    demo.generate(ctx)
    assert set(Department.objects.values_list("name", flat=True)) == {
        "Accounting",
        "Warehouse",
        "Legal",
    }
    waiting = Handoff.objects.get(pk=ctx.planted["handoff_waiting_in_accounting"][0])
    assert (waiting.department.name, waiting.state) == ("Accounting", State.REQUESTED)
    assert waiting.created_at == at(2026, 3, 23, 10, 15) and waiting.due_at < now
    alert = Alert.objects.get(kind=AlertKind.HANDOFF_OVERDUE, resolved_at__isnull=True)
    assert alert.numbers["handoff"] == waiting.pk
    assert Handoff.objects.filter(state=State.DONE).count() > 10
    assert Handoff.objects.filter(created_at__gt=now).count() == 0
    accountant = ctx.users["accountant"]
    assert {"username": "accountant", "password": "demo", "role": "department"} in ctx.logins
    seen = requests_for(accountant)
    assert seen.exists() and not seen.exclude(department__name="Accounting").exists()
