"""Edge values in query strings and bodies get a 4xx naming the value, never a 500.

Ids past 2**63, dates in year 1 or 9999, negative or huge limits and offsets, out-of-range
day counts and NUL characters are swept over every page and API operation that reads
them (``funnelwatch.core.params`` reads them all). A page answers 400 naming the
parameter; the API answers 422 naming the field; a good value still answers 200.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from funnelwatch.accounts.tokens import issue_token
from funnelwatch.crm import services
from funnelwatch.crm.models import Deal

BIG_IDS = [str(2**63), str(2**64), "99999999999999999999999", "-1", "1e5", "²", "0x10"]
BAD_DATES = ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01", "2026-02-30", "tomorrow"]
NUL = "a\x00b"


def _page_cases():
    id_pages = [
        ("/crm/deals/", "owner"),
        ("/crm/board/", "owner"),
        ("/crm/board/", "pipeline"),
        ("/metrics/funnel/", "manager"),
        ("/metrics/funnel/", "team"),
        ("/metrics/records/revenue/", "manager"),
        ("/metrics/records/revenue/", "team"),
        ("/telephony/calls/", "manager"),
        ("/alerts/thresholds/", "team"),
    ]
    for url, field in id_pages:
        for value in BIG_IDS:
            yield url, {field: value}, field
    period_pages = ["/metrics/", "/metrics/funnel/", "/metrics/sales/", "/metrics/records/revenue/"]
    for url in period_pages:
        for value in BAD_DATES:
            for kind in ("day", "week", "month"):
                yield url, {"period": kind, "date": value}, "date"
            yield url, {"period": "custom", "from": value, "to": "2026-03-01"}, "from"
            yield url, {"period": "custom", "from": "2026-03-01", "to": value}, "to"
        yield url, {"period": "custom", "from": "2026-03-10", "to": "2026-03-01"}, "to"
        yield url, {"period": "custom", "from": "2020-01-01", "to": "2026-03-01"}, "to"
        yield url, {"period": "quarter"}, "period"
    for value in BAD_DATES:
        yield "/metrics/", {"period": "day", "date": value, "format": "csv"}, "date"
        yield (
            "/metrics/",
            {"period": "custom", "from": value, "to": "2026-03-01", "format": "csv"},
            "from",
        )
        yield "/telephony/calls/", {"from": value}, "from"
        yield "/telephony/calls/", {"to": value}, "to"
        yield "/quality/", {"week": value}, "week"
    for url in ("/telephony/routing/", "/alerts/lost/"):
        for value in ["999999999", "0", "-1", str(2**64), "367", "1.5", "²"]:
            yield url, {"days": value}, "days"
    for url, field in [
        ("/crm/deals/", "q"),
        ("/crm/contacts/", "q"),
        ("/quality/library/", "stage"),
    ]:
        yield url, {field: NUL}, field


PAGE_CASES = [
    pytest.param(url, query, field, id=f"{url}?{query}") for url, query, field in _page_cases()
]

GOOD_PAGES = [
    ("/crm/deals/", {"owner": "1", "q": "printer"}),
    ("/crm/board/", {"owner": "1", "pipeline": "1"}),
    ("/metrics/", {"period": "custom", "from": "2026-03-01", "to": "2026-03-07"}),
    ("/metrics/", {"period": "day", "date": "2026-03-02", "format": "csv"}),
    ("/metrics/funnel/", {"period": "month", "date": "2026-03-02", "manager": "3"}),
    ("/metrics/sales/", {"period": "week", "date": "1900-01-08"}),
    ("/metrics/records/revenue/", {"period": "week", "date": "2999-12-30"}),
    ("/telephony/calls/", {"from": "1900-01-01", "to": "2999-12-31", "manager": "3"}),
    ("/telephony/routing/", {"days": "366"}),
    ("/alerts/lost/", {"days": "1"}),
    ("/quality/", {"week": "2026-03-02"}),
    ("/metrics/", {"period": "custom", "from": "", "to": ""}),  # not filled in: the usual period
]


@pytest.fixture
def head_client(world):
    client = Client()
    client.force_login(world.head)
    return client


@pytest.mark.parametrize("url,query,field", PAGE_CASES)
def test_page_answers_400_naming_the_parameter(head_client, url, query, field):
    response = head_client.get(url, query)
    assert response.status_code == 400, response.status_code
    assert f"<code>{field}</code>" in response.content.decode()


@pytest.mark.parametrize("url,query", GOOD_PAGES, ids=lambda v: str(v))
def test_page_keeps_answering_good_values(head_client, url, query):
    assert head_client.get(url, query).status_code == 200


def test_bad_request_page_is_translated(head_client):
    head_client.cookies["django_language"] = "ru"
    response = head_client.get("/metrics/", {"period": "day", "date": "9999-12-31"})
    assert response.status_code == 400
    assert "дат" in response.content.decode()


# --- the API ----------------------------------------------------------------------------


def _api_cases():
    for url, most in [
        ("/api/crm/deals", 1000),
        ("/api/alerts", 2000),
        ("/api/mail/messages", 500),
        ("/api/quality/reviews", 500),
    ]:
        for value in ["-1", "0", str(most + 1), str(2**64), "1e20", "1.5"]:
            yield url, {"limit": value}, "limit"
    for url in ("/api/crm/deals", "/api/alerts"):
        for value in ["-1", "1e20", str(2**63), str(2**64)]:
            yield url, {"offset": value}, "offset"
    for field in ("deal", "contact", "mailbox"):
        for value in [str(2**63), str(2**64), "-1", "0", "1e5"]:
            yield "/api/mail/messages", {field: value}, field
    for value in [str(2**63), str(2**64), "0"]:
        yield f"/api/crm/deals/{value}", {}, "deal_id"
        yield f"/api/quality/calls/{value}/analysis", {}, "call_id"
    for value in ["0001-01-01", "9999-12-31", "3000-01-01", "2026-02-30"]:
        yield "/api/metrics", {"from": value, "to": "2026-03-01"}, "from"
        yield "/api/metrics", {"from": "2026-03-01", "to": value}, "to"
        yield "/api/telephony/calls", {"from": value, "to": "2026-03-01"}, "from"
        yield "/api/telephony/calls", {"from": "2026-03-01", "to": value}, "to"
    yield "/api/telephony/calls", {"from": "2026-03-10", "to": "2026-03-01"}, "to"
    yield "/api/metrics", {"from": "2026-03-01", "to": "2026-04-01", "by": "x"}, "by"
    yield "/api/crm/deals", {"status": "x"}, "status"
    yield "/api/alerts", {"status": "x"}, "status"
    yield "/api/alerts", {"kind": NUL}, "kind"


API_CASES = [
    pytest.param(url, query, field, id=f"{url}?{query}") for url, query, field in _api_cases()
]


@pytest.fixture
def api(world):
    client = Client()
    token = issue_token(world.head, "script")

    def call(method: str, url: str, data: object = None):
        auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if method == "get":
            return client.get(url, data or {}, **auth)
        return client.post(url, json.dumps(data), content_type="application/json", **auth)

    return call


def _names_field(response, field: str) -> bool:
    detail = response.json()["detail"]
    if isinstance(detail, str):  # the operation's own check: "field: why"
        return detail.startswith(f"{field}:")
    return any(problem["loc"][-1] == field for problem in detail)


@pytest.mark.parametrize("url,query,field", API_CASES)
def test_api_answers_422_naming_the_field(api, url, query, field):
    response = api("get", url, query)
    assert response.status_code == 422, (response.status_code, response.content)
    assert _names_field(response, field), response.content


@pytest.mark.parametrize(
    "url,query",
    [
        ("/api/crm/deals", {"limit": "1000", "offset": str(2**63 - 1)}),
        ("/api/alerts", {"limit": "2000", "offset": str(2**63 - 1)}),
        ("/api/mail/messages", {"deal": str(2**63 - 1), "limit": "500"}),
        ("/api/metrics", {"from": "2998-01-01", "to": "2999-12-31"}),
        ("/api/telephony/calls", {"from": "1900-01-01", "to": "1900-01-31"}),
    ],
    ids=str,
)
def test_api_keeps_answering_good_edge_values(api, url, query):
    response = api("get", url, query)
    assert response.status_code == 200, response.content


@pytest.fixture
def deal(world):
    return services.create_lead(actor=world.alice, title="Printers", owner=world.alice)


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/api/crm/deals", {"title": "x" * 5000}, "title"),
        ("/api/crm/deals", {"title": ""}, "title"),
        ("/api/crm/deals", {"title": NUL}, "title"),
        ("/api/crm/deals", {"title": "Fine", "owner": NUL}, "owner"),
        ("/api/crm/deals/{deal}/move", {"stage_id": 2**64}, "stage_id"),
        ("/api/crm/deals/{deal}/move", {"stage_id": 0}, "stage_id"),
        ("/api/crm/deals/{deal}/lose", {"reason_id": 2**64}, "reason_id"),
        ("/api/crm/deals/{deal}/lose", {"reason_id": 1, "comment": "x" * 501}, "comment"),
    ],
    ids=lambda v: str(v)[:40],
)
def test_api_refuses_bodies_naming_the_field_and_writes_nothing(api, deal, path, body, field):
    response = api("post", path.format(deal=deal.pk), body)
    assert response.status_code == 422, (response.status_code, response.content)
    assert _names_field(response, field), response.content
    deal.refresh_from_db()
    assert list(Deal.objects.values_list("title", flat=True)) == ["Printers"]
    assert (deal.stage.name, deal.status) == ("New lead", "open")


def test_services_refuse_a_title_longer_than_its_column(world):
    with pytest.raises(services.DealError) as exc:
        services.create_lead(actor=world.alice, title="x" * 5000, owner=world.alice)
    assert exc.value.field == "title"
    assert not Deal.objects.exists()


# --- forms on pages ---------------------------------------------------------------------


@pytest.mark.parametrize("when", ["0001-01-01T00:00", "9999-12-31T23:59", "1899-12-31 10:00"])
@pytest.mark.parametrize(
    "action,model,field",
    [("meeting", "Meeting", "scheduled_at"), ("task", "Task", "due_at")],
)
def test_deal_forms_refuse_out_of_range_moments(
    head_client, deal, world, action, model, field, when
):
    from funnelwatch.crm import models

    data = {field: when, "place": "x", "title": "Call", "kind": "call", "assignee": world.alice.pk}
    response = head_client.post(f"/crm/deals/{deal.pk}/{action}/", data, follow=True)
    assert response.status_code == 200
    assert "1900-01-01" in " ".join(str(m) for m in response.context["messages"])
    assert not getattr(models, model).objects.exists()


@pytest.mark.parametrize("until", ["0001-01-01", "9999-12-31"])
def test_snooze_refuses_out_of_range_day(head_client, deal, until):
    from funnelwatch.alerts.models import DealSnooze

    response = head_client.post(f"/alerts/snooze/{deal.pk}/", {"until": until, "reason": "x"})
    assert response.status_code == 302
    assert not DealSnooze.objects.exists()


@pytest.mark.parametrize(
    "target,first,last,field",
    [
        ("99999999999999.99", "2026-01-01", "2026-12-31", "target"),
        ("100", "0001-01-01", "0001-12-31", "first_day"),
        ("100", "2026-01-01", "9999-12-31", "last_day"),
    ],
)
def test_plan_form_refuses_what_the_plans_page_cannot_show(head_client, target, first, last, field):
    from funnelwatch.plans.models import Plan

    data = {"title": "Q", "metric": "won_amount", "target": target}
    response = head_client.post("/plans/new/", {**data, "first_day": first, "last_day": last})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Plan.objects.exists()
    assert head_client.get("/plans/").status_code == 200
