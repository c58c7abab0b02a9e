"""Money amounts are checked at every layer: the API's schema, the services (with the
model's validators) and the database, so none of them can store an amount that the
lists, the board and the reports then fail to read ("1e30" on SQLite did exactly that)."""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from funnelwatch.accounts.tokens import issue_token
from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services
from funnelwatch.crm.models import Deal, Proposal
from funnelwatch.crm.services import DealError

BAD = [
    "1e30",
    1e30,
    "10000000000000",
    "99999999999999.99",
    "-1",
    -0.01,
    "NaN",
    "Infinity",
    "-Infinity",
    "1.234",
]
GOOD = [("0", 0), ("9999999999999.99", "9999999999999.99"), (12.5, 12.5)]


@pytest.fixture
def api(client, world):
    token = issue_token(world.head, "script")

    def call(method, url, body=None):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if method == "get":
            return client.get(url, **extra)
        return client.post(url, json.dumps(body), content_type="application/json", **extra)

    return call


@pytest.fixture
def deal(world):
    return services.create_lead(actor=world.alice, title="Printers", owner=world.alice)


@pytest.mark.parametrize("amount", BAD, ids=str)
def test_api_refuses_amount_with_422_and_stores_nothing(api, world, amount):
    response = api("post", "/api/crm/deals", {"title": "Huge", "amount": amount})
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][-1] == "amount"
    assert not Deal.objects.filter(title="Huge").exists()
    # everyone's lists keep working
    assert api("get", "/api/crm/deals").status_code == 200


@pytest.mark.parametrize("amount,stored", GOOD, ids=str)
def test_api_accepts_amounts_the_column_holds(api, world, amount, stored):
    response = api("post", "/api/crm/deals", {"title": "Fine", "amount": amount})
    assert response.status_code == 201, response.content
    assert Deal.objects.get(title="Fine").amount == Decimal(str(stored))
    assert api("get", "/api/crm/deals").status_code == 200


@pytest.mark.parametrize("amount", BAD, ids=str)
def test_services_refuse_amount_naming_the_field(world, deal, amount):
    with pytest.raises(DealError) as exc:
        services.create_lead(actor=world.alice, title="Huge", owner=world.alice, amount=amount)
    assert exc.value.field == "amount"
    with pytest.raises(DealError) as exc:
        services.win(deal, actor=world.alice, cost=amount)
    assert exc.value.field == "cost"
    with pytest.raises(DealError) as exc:
        services.send_proposal(deal, actor=world.alice, amount=amount)
    assert exc.value.field == "amount"
    assert list(Deal.objects.values_list("title", flat=True)) == ["Printers"]
    deal.refresh_from_db()
    assert (deal.status, deal.cost) == ("open", 0)
    assert not Proposal.objects.exists()


@pytest.mark.parametrize("amount", [Decimal("1e30"), Decimal("-1"), Decimal("1.234")], ids=str)
def test_model_validation_refuses_amount(deal, amount):
    deal.amount = amount
    with pytest.raises(ValidationError) as exc:
        deal.full_clean()
    assert "amount" in exc.value.message_dict


@pytest.mark.parametrize("value", ["1e30", "10000000000000", "-1"])
@pytest.mark.parametrize("column", ["amount", "cost"])
def test_database_refuses_amount_written_around_the_services(deal, column, value):
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE crm_deal SET {column} = %s WHERE id = %s", [value, deal.pk])
    deal.refresh_from_db()
    assert getattr(deal, column) == 0


def test_database_refuses_negative_proposal_amount(world, deal):
    proposal = services.send_proposal(deal, actor=world.alice, amount=100)
    with pytest.raises(DatabaseError), transaction.atomic():
        Proposal.objects.filter(pk=proposal.pk).update(amount=Decimal("-5"))
    Proposal.objects.filter(pk=proposal.pk).update(amount=None)  # no amount is allowed


@pytest.mark.parametrize("amount", ["1e30", "NaN", "-1"])
def test_lead_form_refuses_amount(client, world, amount):
    client.force_login(world.alice)
    response = client.post(
        "/crm/deals/new/", {"title": "Huge", "owner": world.alice.pk, "amount": amount}
    )
    assert response.status_code == 200
    assert "amount" in response.context["form"].errors
    assert not Deal.objects.filter(title="Huge").exists()


def _store_around_the_checks(table: str, column: str, value: str, pk: int) -> None:
    """Write a value the way it could be written before the checks existed."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA ignore_check_constraints = ON")
            try:
                cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])
            finally:
                cursor.execute("PRAGMA ignore_check_constraints = OFF")
        else:  # PostgreSQL: the dropped check comes back with the test's rollback
            name = {"crm_deal": "deal_amount_in_range", "crm_proposal": "proposal_amount_in_range"}
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no ALTER with checks pending
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name[table]}")
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


def test_migration_repairs_amounts_stored_before_the_checks(client, world, deal):
    proposal = services.send_proposal(deal, actor=world.alice, amount=100)
    # numeric(16,2) never held 1e30 on PostgreSQL; a negative amount it did hold
    huge = "1e30" if connection.vendor == "sqlite" else "-7.00"
    _store_around_the_checks("crm_deal", "amount", huge, deal.pk)
    _store_around_the_checks("crm_proposal", "amount", "-5", proposal.pk)
    migration = importlib.import_module("funnelwatch.crm.migrations.0002_amounts_in_range")

    def execute(sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)

    migration.repair_amounts(apps, SimpleNamespace(connection=connection, execute=execute))

    deal.refresh_from_db()
    proposal.refresh_from_db()
    assert (deal.amount, proposal.amount) == (0, None)
    kept = AuditEvent.objects.get(object_type="crm.deal", source_name="migration crm 0002")
    assert Decimal(kept.changes["amount"][0]) == Decimal(huge)
    assert kept.changes["amount"][1] == "0"
    client.force_login(world.alice)
    assert client.get("/crm/deals/").status_code == 200
