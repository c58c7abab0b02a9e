from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from funnelwatch.audit.trail import acting_as
from funnelwatch.crm import services
from funnelwatch.crm.models import Deal
from funnelwatch.crm.timeline import deal_timeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(world, at):
    """A deal with one of everything, each a day apart, from 2026-03-02 09:00 (local)."""
    w = world
    day = lambda n, h=9: at(2026, 3, 2 + n, h)  # noqa: E731
    contact = services.create_contact(
        actor=w.alice, name="Client", owner=w.alice, phone_numbers=["+97699112233"], at=day(0)
    )
    deal = services.create_lead(
        actor=w.alice, title="Printers", owner=w.alice, contact=contact, amount=5, at=day(0)
    )
    task = services.create_task(
        actor=w.alice, title="First call", assignee=w.alice, due_at=day(0, 10), deal=deal, at=day(0)
    )
    services.complete_task(task, actor=w.alice, at=day(1))
    services.move_stage(deal, w.stages["Qualified"], actor=w.alice, at=day(2))
    services.add_note(actor=w.alice, deal=deal, text="Wants a discount", at=day(3))
    services.send_proposal(deal, actor=w.alice, amount=Decimal(5000), at=day(4), channel="email")
    meeting = services.schedule_meeting(deal, actor=w.alice, scheduled_at=day(6), at=day(5))
    services.hold_meeting(meeting, actor=w.alice, at=day(6))
    services.reassign(Deal.objects.get(pk=deal.pk), w.bob, actor=w.head, at=day(7))
    deal = Deal.objects.get(pk=deal.pk)
    with acting_as(w.head, at=day(8)):
        deal.amount = Decimal(7000)
        deal.save()
    return deal


def test_everything_on_one_timeline_newest_first_in_words(story, world):
    entries = deal_timeline(story, world.head)
    kinds = [e.kind for e in entries]
    assert kinds == [
        "edit",
        "owner",
        "meeting",
        "proposal",
        "note",
        "stage",
        "task_done",
        "task",
        "created",
    ], kinds
    moments = [e.at for e in entries]
    assert moments == sorted(moments, reverse=True)
    titles = {e.kind: e.title for e in entries}
    assert titles["stage"] == "Stage: New lead → Qualified"
    assert titles["owner"] == "Owner: Alice → Bob"
    assert titles["task_done"] == "Task done: First call"
    assert titles["created"] == "Lead created in the stage New lead"
    assert titles["meeting"] == "Meeting held"
    edit = entries[0]
    assert edit.who == world.head and len(edit.lines) == 1
    assert edit.lines[0] == "Amount: 5 → 7\u202f000"
    everything = " ".join(f"{e.title} {e.text} {' '.join(e.lines)}" for e in entries)
    assert not re.search(r"_id\b|crm\.deal|stage_id|contact_id", everything)


def test_the_page_shows_the_timeline_in_local_time(client, story, world):
    client.force_login(world.head)
    body = client.get(reverse("crm:deal", args=[story.pk])).content.decode()
    assert "Stage: New lead → Qualified" in body
    assert "Wants a discount" in body and "Task done: First call" in body
    # 2026-03-04 09:00 in the company's time zone, not in UTC
    assert "2026-03-04 09:00" in body
    for raw in ("stage_id", "contact_id", "crm.deal", "owner_id"):
        assert raw not in body
    # every form control of the page has a label
    for form in re.findall(r"<form.*?</form>", body, flags=re.S):
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", form):
            if 'type="hidden"' in tag or 'type="submit"' in tag:
                continue
            name = re.search(r'name="([^"]+)"', tag).group(1)
            assert re.search(r"<label>[^<]*" + re.escape(tag), form) or "aria-label" in tag, name


def test_reviewer_sees_the_timeline_without_write_controls(client, story, world):
    client.force_login(world.reviewer)
    body = client.get(reverse("crm:deal", args=[story.pk])).content.decode()
    assert "Stage: New lead → Qualified" in body
    for action in ("note", "task", "move", "lose", "reassign", "proposal", "meeting"):
        assert reverse("crm:deal_action", args=[story.pk, action]) not in body
    task = story.tasks.get()
    assert reverse("crm:task_done", args=[task.pk]) not in body
    assert reverse("crm:archive", args=["note", story.notes.get().pk]) not in body


def test_calls_on_the_timeline_with_the_player_for_who_may_listen(client, story, world, at):
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.telephony.models import Call, Recording

    call = Call.objects.create(
        provider="test",
        external_id="c1",
        direction="out",
        client_number="+97699112233",
        manager=world.alice,
        contact=story.contact,
        deal=story,
        started_at=at(2026, 3, 5, 11),
        talk_seconds=95,
        outcome="answered",
    )
    Recording.objects.create(call=call, status="stored", content_type="audio/wav")
    client.force_login(world.head)
    body = client.get(reverse("crm:deal", args=[story.pk])).content.decode()
    assert "Outbound call: answered, 1:35" in body
    player = reverse("telephony:recording", args=[call.pk])
    assert player in body
    assert AuditEvent.objects.filter(action="play").count() == 0  # listing is not playing
    client.force_login(world.bob)  # owns the deal now, but did not make the call
    body = client.get(reverse("crm:deal", args=[story.pk])).content.decode()
    assert "Outbound call" in body and player not in body
