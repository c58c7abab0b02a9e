from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from funnelwatch.accounts.tokens import issue_token
from funnelwatch.alerts import engine
from funnelwatch.alerts.models import Alert
from funnelwatch.alerts.models import Kind as AlertKind
from funnelwatch.audit.trail import history
from funnelwatch.core import navigation
from funnelwatch.handoffs import services
from funnelwatch.handoffs.models import Handoff, State
from funnelwatch.handoffs.queries import requests_for
from funnelwatch.handoffs.views import kpi_values
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine as metrics_engine

pytestmark = pytest.mark.django_db

MONDAY = (2026, 3, 2)


def ask(world, depts, at, hour=10, minute=0, dept=None, actor=None, deal=None):
    return services.request(
        actor=actor or world.alice,
        deal=deal or depts.deal,
        department=dept or depts.accounting,
        kind="invoice",
        text="Invoice for 1 000 000",
        at=at(*MONDAY, hour, minute),
    )


def test_due_time_counts_working_hours_only(world, depts, at):
    late = ask(world, depts, at, 17)  # 60 minutes today, 60 tomorrow from opening
    assert late.due_at == at(2026, 3, 3, 10)
    friday = services.request(
        actor=world.alice,
        deal=depts.deal,
        department=depts.warehouse,
        kind="readiness",
        text="Ready?",
        at=at(2026, 3, 6, 20),  # Friday evening: the clock starts on Monday morning
    )
    assert friday.due_at == at(2026, 3, 9, 13)


def test_requested_taken_done_each_step_audited_under_its_person(world, depts, at):
    h = ask(world, depts, at, 10)
    services.take(h, actor=world.clerk, at=at(*MONDAY, 10, 30))
    services.finish(h, actor=world.clerk, at=at(*MONDAY, 11, 0))
    h.refresh_from_db()
    assert (h.state, h.assignee, h.take_minutes, h.done_minutes, h.within_sla) == (
        State.DONE,
        world.clerk,
        30,
        60,
        True,
    )
    events = list(history(h).order_by("pk"))
    assert [(e.action, e.actor_id) for e in events] == [
        ("create", world.alice.pk),
        ("update", world.clerk.pk),
        ("update", world.clerk.pk),
    ]
    assert events[1].changes["state"] == ["requested", "taken"]
    assert events[2].changes["state"] == ["taken", "done"]


def test_returned_with_a_reason_and_then_closed(world, depts, at):
    h = ask(world, depts, at)
    with pytest.raises(services.HandoffError) as err:
        services.give_back(h, actor=world.clerk, reason="  ")
    assert err.value.field == "reason"
    services.give_back(h, actor=world.clerk, reason="No tax id", at=at(*MONDAY, 11))
    h.refresh_from_db()
    assert (h.state, h.return_reason, h.assignee) == (State.RETURNED, "No tax id", world.clerk)
    for step in (services.take, services.finish):
        with pytest.raises(services.HandoffError):
            step(h, actor=world.clerk)


def test_only_the_departments_people_work_on_its_requests(world, depts, at):
    h = ask(world, depts, at)
    for outsider in (world.alice, world.head, world.lead, depts.keeper, world.reviewer):
        with pytest.raises(services.HandoffError) as err:
            services.take(h, actor=outsider)
        assert err.value.forbidden, outsider
    assert Handoff.objects.get().state == State.REQUESTED
    services.take(h, actor=depts.ahead)  # the department's head
    assert Handoff.objects.get().assignee == depts.ahead


def test_sales_roles_make_requests_reviewers_and_departments_do_not(world, depts, at):
    for refused in (world.reviewer, world.clerk):
        with pytest.raises(services.HandoffError):
            ask(world, depts, at, actor=refused)
    with pytest.raises(services.HandoffError) as err:
        services.request(
            actor=world.alice, deal=depts.deal, department=depts.accounting, kind="x", text="t"
        )
    assert err.value.field == "kind"


def test_who_sees_which_requests(world, depts, at):
    mine = ask(world, depts, at)
    stock = ask(world, depts, at, dept=depts.warehouse, actor=world.bob, deal=depts.bobs)

    def seen(user):
        return set(requests_for(user))

    assert seen(world.clerk) == seen(depts.ahead) == {mine}
    assert seen(depts.keeper) == {stock}
    assert seen(world.alice) == seen(world.lead) == {mine}
    assert seen(world.bob) == {stock}
    assert seen(world.head) == seen(world.reviewer) == {mine, stock}
    assert seen(world.outsider) == set()


def test_department_staff_reach_only_their_pages(world, depts, at):
    mine = ask(world, depts, at)
    stock = ask(world, depts, at, dept=depts.warehouse)
    client = Client()
    client.force_login(world.clerk)
    assert client.get(reverse("handoffs:detail", args=[mine.pk])).status_code == 200
    page = client.get(reverse("handoffs:detail", args=[mine.pk])).content.decode()
    assert "Acme" in page and reverse("crm:deal", args=[depts.deal.pk]) not in page
    assert client.get(reverse("handoffs:detail", args=[stock.pk])).status_code == 404
    for name in ("crm:deals", "crm:board", "metrics:key_numbers", "alerts:list", "mail:mailboxes"):
        assert client.get(reverse(name)).status_code == 403, name
    assert client.get(reverse("crm:deal", args=[depts.deal.pk])).status_code == 403
    assert client.get("/").url == reverse("handoffs:list")
    token = issue_token(world.clerk, "script")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/crm/deals").status_code == 401
    assert client.get("/api/crm/deals").status_code == 401
    menu = [item["url"] for item in navigation.items_for(world.clerk, "/")]
    assert menu == [reverse("handoffs:list"), reverse("handoffs:kpis"), reverse("calendar:me")]


def test_the_whole_round_through_the_pages(world, depts, client):
    client.force_login(world.alice)
    deal_page = client.get(reverse("crm:deal", args=[depts.deal.pk])).content.decode()
    assert reverse("handoffs:create", args=[depts.deal.pk]) in deal_page
    url = reverse("handoffs:create", args=[depts.deal.pk])
    bad = client.post(url, {"department": depts.accounting.pk, "kind": "invoice", "text": ""})
    assert bad.status_code == 302 and not Handoff.objects.exists()
    client.post(url, {"department": depts.accounting.pk, "kind": "invoice", "text": "Invoice"})
    h = Handoff.objects.get()
    assert (h.requester, h.department, h.state) == (world.alice, depts.accounting, "requested")
    act = reverse("handoffs:act", args=[h.pk, "take"])
    assert client.post(act).status_code == 403  # alice is not in accounting
    client.force_login(world.clerk)
    assert client.post(act).status_code == 302
    response = client.post(reverse("handoffs:act", args=[h.pk, "return"]), {"reason": ""})
    assert response.status_code == 302 and Handoff.objects.get().state == State.TAKEN
    client.post(reverse("handoffs:act", args=[h.pk, "done"]))
    assert Handoff.objects.get().state == State.DONE
    assert client.post(reverse("handoffs:act", args=[h.pk, "explode"])).status_code == 405
    assert client.get(reverse("handoffs:list") + "?state=bogus").status_code == 400


@pytest.fixture
def three(world, depts, at):
    """R1, R2 alice → accounting (clerk), R3 bob → warehouse (keeper), on Monday:
    R1 10:00, taken 10:30 (30 min), done 11:00 (60 min, due 12:00: in time);
    R2 11:00, taken 11:10 (10 min), done 17:00 (360 min, due 13:00: late);
    R3 12:00, taken 17:30 (330 min), returned on Tuesday 09:30."""
    r1 = ask(world, depts, at, 10)
    services.take(r1, actor=world.clerk, at=at(*MONDAY, 10, 30))
    services.finish(r1, actor=world.clerk, at=at(*MONDAY, 11))
    r2 = ask(world, depts, at, 11)
    services.take(r2, actor=world.clerk, at=at(*MONDAY, 11, 10))
    services.finish(r2, actor=world.clerk, at=at(*MONDAY, 17))
    r3 = ask(world, depts, at, 12, dept=depts.warehouse, actor=world.bob, deal=depts.bobs)
    services.take(r3, actor=depts.keeper, at=at(*MONDAY, 17, 30))
    services.give_back(r3, actor=depts.keeper, reason="Out of stock", at=at(2026, 3, 3, 9, 30))
    return r1, r2, r3


KEYS = [
    "handoff_requests",
    "handoff_take_minutes",
    "handoff_done_minutes",
    "handoff_within_sla",
    "handoff_returns",
]


def test_kpis_in_the_key_numbers_count_by_requester(world, three):
    period = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5))
    values = metrics_engine.group_values(
        KEYS, period, {"alice": {world.alice.pk}, "bob": {world.bob.pk}, "all": None}, "raw"
    )
    got = {g: [None if v is None else float(v) for v in (values[g][k] for k in KEYS)]
           for g in values}  # fmt: skip
    assert got["alice"] == [2, (30 + 10) / 2, (60 + 360) / 2, 50.0, 0]
    assert got["bob"][0:2] == [1, 330] and got["bob"][4] == 1
    assert got["bob"][2] is None and got["bob"][3] is None  # nothing done
    assert got["all"] == [3, pytest.approx((30 + 10 + 330) / 3, abs=1e-3), 210, 50.0, 1]


def test_kpis_per_department_and_person(world, depts, three):
    period = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5))
    by_dept = kpi_values(period, "department")
    assert by_dept[depts.accounting.pk] == {
        "handoff_requests": 2,
        "handoff_take_minutes": 20.0,
        "handoff_done_minutes": 210.0,
        "handoff_within_sla": 50.0,
    }  # no returns: nothing to count
    assert by_dept[depts.warehouse.pk]["handoff_returns"] == 1
    assert by_dept[depts.warehouse.pk]["handoff_take_minutes"] == 330
    by_person = kpi_values(period, "taker")
    assert by_person[world.clerk.pk]["handoff_take_minutes"] == 20.0
    assert by_person[depts.keeper.pk]["handoff_returns"] == 1


def test_kpi_page_shows_the_numbers(world, depts, three, client):
    client.force_login(world.clerk)
    page = client.get(reverse("handoffs:kpis") + "?period=custom&from=2026-03-02&to=2026-03-04")
    text = page.content.decode()
    assert page.status_code == 200 and "Accounting" in text and "Warehouse" not in text
    assert ">210.0<" in text and ">50.0%<" in text and ">2<" in text
    client.force_login(world.alice)
    text = client.get(
        reverse("handoffs:kpis") + "?period=custom&from=2026-03-02&to=2026-03-04"
    ).content.decode()
    assert "Warehouse" in text and ">330.0<" in text


def test_a_request_past_due_alerts_the_requester_and_names_the_department_head(world, depts, at):
    h = ask(world, depts, at, 10)  # due 12:00
    with time_machine.travel(at(*MONDAY, 11, 59), tick=False):
        engine.evaluate(kinds=[AlertKind.HANDOFF_OVERDUE])
    assert not Alert.objects.exists()
    with time_machine.travel(at(*MONDAY, 12, 45), tick=False):
        engine.evaluate(kinds=[AlertKind.HANDOFF_OVERDUE])
    alert = Alert.objects.get()
    assert (alert.manager, alert.numbers["minutes_late"]) == (world.alice, 45)
    assert alert.numbers["department_head"] == depts.ahead.pk
    assert "Accounting" in alert.message and "45" in alert.message
    services.finish(h, actor=world.clerk, at=at(*MONDAY, 13))
    with time_machine.travel(at(*MONDAY, 13, 5), tick=False):
        engine.evaluate(kinds=[AlertKind.HANDOFF_OVERDUE])
    assert Alert.objects.get().resolved_at is not None
