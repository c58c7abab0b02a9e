from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services
from funnelwatch.telephony import recordings
from funnelwatch.telephony.models import Call, RoutingRule
from funnelwatch.telephony.tests.factories import make_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def calls(world, at, settings):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    a = make_call(direction="out", start=at(2026, 3, 2, 10), ext="101")
    b = make_call(direction="out", start=at(2026, 3, 2, 11), ext="102", number="+97699112244")
    return a, b


def test_call_list_visibility_and_filters(client, world, calls, django_assert_num_queries):
    a, b = calls
    client.force_login(world.alice)
    r = client.get(reverse("telephony:calls"))
    assert r.status_code == 200
    assert list(r.context["page"]) == [a]
    client.force_login(world.head)
    r = client.get(reverse("telephony:calls"), {"direction": "out", "manager": world.bob.pk})
    assert list(r.context["page"]) == [b]
    for i in range(30):
        make_call(
            direction="in", start=a.started_at, ext="101", number=f"+9769911{i:04d}", answered=False
        )
    # session, user, count, page of calls with related rows, managers filter
    with django_assert_num_queries(5):
        r = client.get(reverse("telephony:calls"))
    assert len(r.context["page"]) == 32


def test_anonymous_redirected(client, world):
    for name in ("calls", "missed", "routing", "integrations"):
        assert client.get(reverse(f"telephony:{name}")).status_code == 302


def test_call_detail_allowed_and_refused(client, world, calls):
    a, b = calls
    client.force_login(world.alice)
    assert client.get(reverse("telephony:call", args=[a.pk])).status_code == 200
    assert client.get(reverse("telephony:call", args=[b.pk])).status_code == 404
    client.force_login(world.lead)  # leads North, alice's team
    assert client.get(reverse("telephony:call", args=[a.pk])).status_code == 200
    assert client.get(reverse("telephony:call", args=[b.pk])).status_code == 404


def test_recording_range_and_audit(client, world, calls, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    a, b = calls
    wav = tmp_path / "x.wav"
    wav.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    recordings.import_file(a, wav)
    url = reverse("telephony:recording", args=[a.pk])
    client.force_login(world.bob)
    assert client.get(url).status_code == 404  # not bob's call
    client.force_login(world.alice)
    r = client.get(url, HTTP_RANGE="bytes=0-9")
    assert r.status_code == 206
    assert r["Content-Range"] == f"bytes 0-9/{wav.stat().st_size}"
    assert b"".join(r.streaming_content) == wav.read_bytes()[:10]
    r = client.get(url, HTTP_RANGE="bytes=100-")
    assert r.status_code == 206 and b"".join(r.streaming_content) == wav.read_bytes()[100:]
    r = client.get(url, HTTP_RANGE="bytes=99999-")
    assert r.status_code == 416
    plays = AuditEvent.objects.filter(action="play", object_id=str(a.pk))
    assert plays.count() == 1 and plays.get().actor == world.alice
    r = client.get(reverse("telephony:recording_download", args=[a.pk]))
    assert r.status_code == 200 and r["Accept-Ranges"] == "bytes"
    assert "attachment" in r["Content-Disposition"]
    assert AuditEvent.objects.filter(action="download", actor=world.alice).count() == 1
    client.force_login(world.reviewer)
    assert client.get(url).status_code == 200


def test_deal_timeline_shows_calls(client, world, at, settings):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    contact = services.create_contact(
        actor=world.alice, name="Client", owner=world.alice, phone_numbers=["+97699112233"]
    )
    deal = services.create_lead(actor=world.alice, title="Deal", owner=world.alice, contact=contact)
    call = make_call(direction="out", start=at(2026, 3, 2, 10))
    assert call.deal == deal and call.contact == contact
    client.force_login(world.alice)
    r = client.get(reverse("crm:deal", args=[deal.pk]))
    assert reverse("telephony:call", args=[call.pk]) in r.content.decode()
    r = client.get(reverse("crm:contact", args=[contact.pk]))
    assert reverse("telephony:call", args=[call.pk]) in r.content.decode()


def test_missed_page(client, world, at, settings, django_assert_max_num_queries):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    with time_machine.travel(at(2026, 3, 2, 12), tick=False):
        old = make_call(direction="in", start=at(2026, 3, 2, 9), ext="101", answered=False)
        make_call(
            direction="in",
            start=at(2026, 3, 2, 11, 50),
            ext="101",
            answered=False,
            number="+97699000001",
        )
        back = make_call(
            direction="in",
            start=at(2026, 3, 2, 10),
            ext="101",
            answered=False,
            number="+97699000002",
        )
        make_call(direction="out", start=at(2026, 3, 2, 10, 5), ext="102", number="+97699000002")
        client.force_login(world.alice)
        with django_assert_max_num_queries(6):
            r = client.get(reverse("telephony:missed"))
    rows = r.context["open"]
    assert [row.call for row in rows][0] == old  # oldest first
    assert rows[0].overdue and not rows[1].overdue
    returned = r.context["returned"]
    assert [row.call for row in returned] == [back]
    assert returned[0].waited_minutes == 5 and returned[0].who == world.bob
    client.force_login(world.bob)
    assert client.get(reverse("telephony:missed")).context["open"] == []


def test_missed_page_who_calls_back_and_bounded_queries(
    client, world, at, settings, django_assert_num_queries, django_assert_max_num_queries
):
    """Who should call back: the contact's owner, else the deal's owner, else who the call
    rang; the page's queries do not grow with its rows."""
    from funnelwatch.crm.models import Contact, Deal

    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    with time_machine.travel(at(2026, 3, 2, 18), tick=False):
        first = make_call(direction="in", start=at(2026, 3, 2, 9), ext="101", answered=False)
        client.force_login(world.head)
        client.get(reverse("telephony:missed"))
        with django_assert_max_num_queries(6) as one:
            client.get(reverse("telephony:missed"))
        contact = Contact.objects.create(name="Client Ltd", owner=world.bob)
        deal = services.create_lead(actor=world.head, title="Deal", owner=world.lead)
        with_contact = make_call(
            direction="in", start=at(2026, 3, 2, 10), answered=False, number="+97699000011"
        )
        with_deal = make_call(
            direction="in", start=at(2026, 3, 2, 11), answered=False, number="+97699000012"
        )
        Call.objects.filter(pk=with_contact.pk).update(contact=contact, deal=deal)
        Call.objects.filter(pk=with_deal.pk).update(deal=deal, contact=None)
        with django_assert_num_queries(len(one.captured_queries)):
            r = client.get(reverse("telephony:missed"))
    rows = {row.call.pk: row for row in r.context["open"]}
    assert rows[first.pk].who == world.alice and rows[first.pk].call.manager == world.alice
    assert rows[with_contact.pk].who == world.bob
    assert rows[with_deal.pk].who == world.lead
    body = r.content.decode()
    assert "Client Ltd" in body and reverse("crm:contact", args=[contact.pk]) in body
    assert Deal.objects.count() == 1


# The rows as the template wrote them before the tags built them.
OPEN_ROWS_BY_TEMPLATE = """{% for row in open %}<tr{% if row.overdue %} class="bad"{% endif %}>
<td><a href="{% url 'telephony:call' row.call.pk %}">{{ row.call.started_at|date:"Y-m-d H:i" }}</a></td>
<td>{{ row.call.from_number|default:row.call.from_raw }}</td>
<td>{% if row.call.contact %}<a href="{% url 'crm:contact' row.call.contact_id %}">{{ row.call.contact }}</a>{% endif %}</td>
<td>{{ row.call.manager|default:"—" }}</td><td>{{ row.who|default:"—" }}</td>
<td class="num">{{ row.waited_minutes }}{% if row.overdue %} <span class="badge lost">{{ over_sla }}</span>{% endif %}</td></tr>
{% endfor %}"""  # noqa: E501
RETURNED_ROWS_BY_TEMPLATE = """{% for row in returned %}<tr><td><a href="{% url 'telephony:call' row.call.pk %}">{{ row.call.started_at|date:"Y-m-d H:i" }}</a></td><td>{{ row.call.from_number|default:row.call.from_raw }}</td><td>{{ row.who|default:"—" }}</td><td class="num{% if row.overdue %} bad{% else %} good{% endif %}">{{ row.waited_minutes }}</td></tr>
{% endfor %}"""  # noqa: E501


def test_missed_rows_are_what_the_template_wrote(world, at, settings):
    from django.template import engines

    from funnelwatch.crm.models import Contact
    from funnelwatch.telephony import missed

    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    with time_machine.travel(at(2026, 3, 2, 12), tick=False):
        make_call(direction="in", start=at(2026, 3, 2, 9), answered=False)
        late = make_call(
            direction="in", start=at(2026, 3, 2, 11, 50), answered=False, number="+97699000001"
        )
        contact = Contact.objects.create(name="O'Brien & Sons <Ltd>", owner=world.bob)
        Call.objects.filter(pk=late.pk).update(contact=contact, from_number="")
        make_call(direction="in", start=at(2026, 3, 2, 10), answered=False, number="+97699000002")
        make_call(direction="out", start=at(2026, 3, 2, 10, 5), ext="102", number="+97699000002")
        now = at(2026, 3, 2, 12)
        context = {
            "open": missed.unreturned(world.head, now),
            "returned": missed.returned(world.head, at(2026, 2, 20)),
            "over_sla": "over <SLA>",
        }
    assert len(context["open"]) == 2 and len(context["returned"]) == 1
    assert {row.overdue for row in context["open"]} == {True, False}
    django_engine = engines["django"]
    for before, tag in (
        (OPEN_ROWS_BY_TEMPLATE, "{% missed_open_rows open over_sla %}"),
        (RETURNED_ROWS_BY_TEMPLATE, "{% missed_returned_rows returned %}"),
    ):
        expected = django_engine.from_string(before).render(context)
        got = django_engine.from_string("{% load telephony_tags %}" + tag).render(context)
        assert got == expected
    assert "O&#x27;Brien &amp; Sons &lt;Ltd&gt;" in django_engine.from_string(
        "{% load telephony_tags %}{% missed_open_rows open over_sla %}"
    ).render(context)


def test_routing_page_head_edits_manager_refused(client, world):
    client.force_login(world.alice)
    assert client.get(reverse("telephony:routing")).status_code == 403
    assert client.post(reverse("telephony:routing_save"), {}).status_code == 403
    client.force_login(world.head)
    assert client.get(reverse("telephony:routing")).status_code == 200
    r = client.post(
        reverse("telephony:routing_save"),
        {
            f"u{world.alice.pk}_weight": "3",
            f"u{world.alice.pk}_cap": "10",
            f"u{world.alice.pk}_start": "9",
            f"u{world.alice.pk}_end": "18",
            f"u{world.alice.pk}_active": "on",
        },
    )
    assert r.status_code == 302
    rule = RoutingRule.objects.get(user=world.alice)
    assert rule.weight == 3 and rule.daily_cap == 10 and rule.active


def _routing_row(user, weight="3", cap="10", start="9", end="18") -> dict:
    p = f"u{user.pk}_"
    return {p + "weight": weight, p + "cap": cap, p + "start": start, p + "end": end}


@pytest.mark.parametrize(
    "bad",
    [
        {"weight": str(2**64)},
        {"weight": "1001"},
        {"cap": "-1"},
        {"cap": str(2**63)},
        {"start": "-1"},
        {"end": "25"},
        {"weight": "²"},
    ],
    ids=str,
)
def test_routing_save_refuses_out_of_range_values_and_saves_no_row(client, world, bad):
    """Bob's row is checked before Alice's is saved: a bad row saves nothing at all."""
    client.force_login(world.head)
    data = {**_routing_row(world.alice), **_routing_row(world.bob, **bad)}
    r = client.post(reverse("telephony:routing_save"), data, follow=True)
    assert r.status_code == 200
    assert [m.level_tag for m in r.context["messages"]] == ["error"]
    assert not RoutingRule.objects.exists()


def test_integrations_page(client, world, settings):
    settings.FUNNELWATCH_ZADARMA_SECRET = "zd-secret-value"
    client.force_login(world.alice)
    assert client.get(reverse("telephony:integrations")).status_code == 403
    client.force_login(world.head)
    r = client.get(reverse("telephony:integrations"))
    body = r.content.decode()
    assert "/api/telephony/webhooks/zadarma" in body and "zd-secret-value" not in body
    assert (
        "zd-secret-value"
        in client.get(reverse("telephony:integrations") + "?reveal=1").content.decode()
    )


def test_calls_api_visibility(client, world, calls, django_assert_num_queries):
    a, b = calls
    client.force_login(world.alice)
    r = client.get("/api/telephony/calls", {"from": "2026-03-02", "to": "2026-03-02"})
    assert r.status_code == 200
    assert [c["id"] for c in r.json()] == [a.pk]
    assert r.json()[0]["from"] == "101" and r.json()[0]["legs"] == 1
    client.force_login(world.head)
    with django_assert_num_queries(3):
        r = client.get("/api/telephony/calls", {"from": "2026-03-02", "to": "2026-03-02"})
    assert len(r.json()) == 2
    client.logout()
    assert (
        client.get("/api/telephony/calls", {"from": "2026-03-02", "to": "2026-03-02"}).status_code
        == 401
    )
    assert Call.objects.count() == 2
