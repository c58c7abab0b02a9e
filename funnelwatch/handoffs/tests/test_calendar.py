from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from icalendar import Calendar

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Meeting
from funnelwatch.handoffs import feeds, services
from funnelwatch.handoffs.models import AgreedAction
from funnelwatch.telephony.models import Call

pytestmark = pytest.mark.django_db


def events_of(body: bytes) -> dict[str, dict]:
    cal = Calendar.from_ical(body)
    assert cal["VERSION"] == "2.0" and "PRODID" in cal
    out = {}
    for event in cal.walk("VEVENT"):
        out[str(event["UID"])] = {
            "summary": str(event["SUMMARY"]),
            "start": event.decoded("DTSTART"),
            "end": event.decoded("DTEND"),
        }
    return out


@pytest.fixture
def agenda(world, depts, at):
    """Alice's week: a meeting, a task, a request to accounting, a missed call to return;
    and what is not hers (bob's task, a done task, a cancelled meeting)."""
    deal = depts.deal
    meeting = Meeting.objects.create(
        deal=deal, owner=world.alice, scheduled_at=at(2026, 3, 4, 15), place="Their office"
    )
    Meeting.objects.create(
        deal=deal, owner=world.alice, scheduled_at=at(2026, 3, 4, 16), status="cancelled"
    )
    task = crm.create_task(
        actor=world.alice, title="Send the price list", assignee=world.alice,
        due_at=at(2026, 3, 3, 11), deal=deal,
    )  # fmt: skip
    done = crm.create_task(
        actor=world.alice, title="Old", assignee=world.alice, due_at=at(2026, 3, 3, 12)
    )
    crm.complete_task(done, actor=world.alice)
    crm.create_task(actor=world.bob, title="Bob's", assignee=world.bob, due_at=at(2026, 3, 3, 11))
    handoff = services.request(
        actor=world.alice, deal=deal, department=depts.accounting, kind="invoice",
        text="Invoice", at=at(2026, 3, 2, 10),
    )  # fmt: skip
    missed = Call.objects.create(
        provider="test", external_id="m1", direction="in", outcome="missed",
        started_at=at(2026, 3, 2, 10, 5), client_number="+97699112233",
        from_number="+97699112233", to_number="101", manager=world.alice,
    )  # fmt: skip
    return meeting, task, handoff, missed


def test_the_feed_is_icalendar_with_the_users_events(world, depts, agenda, at):
    meeting, task, handoff, missed = agenda
    with time_machine.travel(at(2026, 3, 2, 12), tick=False):
        body = Client().get(feeds.feed_path(world.alice))
    assert body.status_code == 200 and body["Content-Type"].startswith("text/calendar")
    events = events_of(body.content)
    assert set(events) == {
        f"meeting-{meeting.pk}@funnelwatch",
        f"task-{task.pk}@funnelwatch",
        f"handoff-{handoff.pk}@funnelwatch",
        f"callback-{missed.pk}@funnelwatch",
    }
    m = events[f"meeting-{meeting.pk}@funnelwatch"]
    assert (m["start"], m["end"]) == (at(2026, 3, 4, 15), at(2026, 3, 4, 16))
    assert "Acme" in m["summary"]
    assert events[f"task-{task.pk}@funnelwatch"]["start"] == at(2026, 3, 3, 11)
    assert "Send the price list" in events[f"task-{task.pk}@funnelwatch"]["summary"]
    assert events[f"handoff-{handoff.pk}@funnelwatch"]["start"] == at(2026, 3, 2, 12)  # 2 h SLA
    assert events[f"callback-{missed.pk}@funnelwatch"]["start"] == at(2026, 3, 2, 10, 20)


def test_the_department_gets_the_due_times_of_its_requests(world, depts, agenda, at):
    _meeting, _task, handoff, _missed = agenda
    with time_machine.travel(at(2026, 3, 2, 12), tick=False):
        events = events_of(feeds.build(world.clerk))
    assert set(events) == {f"handoff-{handoff.pk}@funnelwatch"}
    with time_machine.travel(at(2026, 3, 2, 12), tick=False):
        bobs = events_of(feeds.build(world.bob))
    assert [e["summary"] for e in bobs.values()] == ["Task: Bob's"]  # nothing of alice's


def test_a_revoked_address_stops_working(world, client):
    old = feeds.feed_path(world.alice)
    assert Client().get(old).status_code == 200
    client.force_login(world.alice)
    before = AuditEvent.objects.count()
    assert client.post(reverse("calendar:revoke")).status_code == 302
    assert AuditEvent.objects.count() > before  # the revocation is in the trail
    new = feeds.feed_path(world.alice)
    assert new != old
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 200
    page = client.get(reverse("calendar:me")).content.decode()
    assert new in page and old not in page


@pytest.mark.parametrize(
    "token",
    ["", "1.1.abc", "x.y.z", "99999.1." + "0" * 40, "1.1." + "f" * 40, "1.1." + "0" * 41],
)
def test_made_up_tokens_are_not_found(world, token):
    assert feeds.user_for_token(token) is None
    if token:
        assert Client().get(f"/calendar/feed/{token}.ics").status_code == 404


def test_another_users_signature_does_not_open_a_feed(world):
    _uid, version, signature = feeds.token_for(world.bob).split(".")
    assert feeds.user_for_token(f"{world.alice.pk}.{version}.{signature}") is None


def test_calendar_url_command(world):
    out = StringIO()
    call_command("calendar-url", "alice", stdout=out)
    url = out.getvalue().strip()
    assert url.endswith(feeds.feed_path(world.alice))
    call_command("calendar-url", "alice", "--revoke", stdout=(out := StringIO()))
    assert out.getvalue().strip() != url and feeds.user_for_token(url.split("/")[-1][:-4]) is None
    with pytest.raises(CommandError):
        call_command("calendar-url", "nobody")


def test_weekly_meeting_page_and_agreed_actions(world, depts, agenda, at, client):
    client.force_login(world.lead)
    with time_machine.travel(at(2026, 3, 2, 9, 30), tick=False):
        page = client.get(reverse("calendar:week"))
        text = page.content.decode()
        assert page.status_code == 200 and "2026-03-02" in text
        assert "Their office" in text  # this week's meeting
        assert "Send the price list" in text  # a deal's step due this week
        assert "data-print" in text
        response = client.post(
            reverse("calendar:week_action"),
            {"week": "2026-03-02", "title": "Call the ten biggest clients",
             "assignee": world.alice.pk, "due_at": "2026-03-06 12:00"},
        )  # fmt: skip
    assert response.status_code == 302
    action = AgreedAction.objects.get()
    assert (action.week, action.task.assignee, action.task.title) == (
        dt.date(2026, 3, 2),
        world.alice,
        "Call the ten biggest clients",
    )
    bad = client.post(
        reverse("calendar:week_action"),
        {"week": "2026-03-02", "title": "x", "assignee": world.bob.pk, "due_at": "2026-03-06"},
    )  # bob is not in the lead's team
    assert bad.status_code == 302 and AgreedAction.objects.count() == 1
    assert client.get(reverse("calendar:week") + "?week=nonsense").status_code == 400
    client.force_login(world.alice)
    assert client.get(reverse("calendar:week")).status_code == 403
