from __future__ import annotations

from types import SimpleNamespace

import pytest

from funnelwatch.accounts.models import Role, User
from funnelwatch.crm import services as crm
from funnelwatch.handoffs.models import Department


@pytest.fixture
def depts(world, at):
    """Accounting (head: ahead; member: clerk) and the warehouse (member: keeper), and a
    deal of alice's and one of bob's."""
    ahead = User.objects.create_user("ahead", "ahead@firm.test", "pw", role=Role.DEPARTMENT)
    keeper = User.objects.create_user("keeper", "keeper@firm.test", "pw", role=Role.DEPARTMENT)
    accounting = Department.objects.create(name="Accounting", head=ahead, sla_minutes=120)
    accounting.members.set([world.clerk])
    warehouse = Department.objects.create(name="Warehouse", sla_minutes=240)
    warehouse.members.set([keeper])
    deal = crm.create_lead(actor=world.alice, title="Acme", owner=world.alice, at=at(2026, 3, 2, 9))
    bobs = crm.create_lead(actor=world.bob, title="Bob's", owner=world.bob, at=at(2026, 3, 2, 9))
    return SimpleNamespace(
        accounting=accounting, warehouse=warehouse, ahead=ahead, keeper=keeper, deal=deal,
        bobs=bobs,
    )  # fmt: skip
