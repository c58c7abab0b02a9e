"""The records behind a number, as the drill-down page lists them: each row names the
record and links to it, with its deal, the person credited and the time of the event the
number counted, in the company's time zone (as the calls page shows it)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from funnelwatch.crm.models import Contact

WEEK = "period=week&date=2026-03-02"


def rows(client, key: str, manager) -> list[dict]:
    url = reverse("metrics:records", args=[key])
    response = client.get(f"{url}?{WEEK}&manager={manager.pk}")
    assert response.status_code == 200
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        text = [unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
        out.append(
            {
                "record": text[0],
                "link": (re.findall(r'href="([^"]+)"', cells[0]) or [None])[0],
                "deal": text[1],
                "deal_link": (re.findall(r'href="([^"]+)"', cells[1]) or [None])[0],
                "who": text[2],
                "when": text[3],
                "detail": text[4],
            }
        )
    return out


@pytest.fixture
def call_and_letter(sales, world, at):
    from funnelwatch.mail.models import Direction, Message
    from funnelwatch.telephony.models import Call

    client_contact = Contact.objects.create(name="Tuul Hotels", owner=world.alice)
    # Imported days later (created_at is "now", Monday 9 March): the row shows the call's
    # start, 10:00 in Ulaanbaatar (02:00 UTC).
    call = Call.objects.create(
        provider="test",
        external_id="c1",
        direction="out",
        started_at=at(2026, 3, 3, 10, 0),
        duration_s=95,
        talk_seconds=80,
        outcome="answered",
        manager=world.alice,
        contact=client_contact,
        deal=sales.d1,
        to_number="+97699112233",
        client_number="+97699112233",
    )
    letter = Message.objects.create(
        message_id="offer-1@firm.test",
        thread="offer-1@firm.test",
        subject="Our offer",
        direction=Direction.OUT,
        sent_at=at(2026, 3, 4, 15, 30),
        owner=world.alice,
        contact=client_contact,
        deal=sales.d1,
    )
    return call, letter


def test_call_rows_show_the_local_start_the_manager_and_link_the_call(
    client, world, sales, call_and_letter
):
    call, _letter = call_and_letter
    client.force_login(world.head)
    (row,) = rows(client, "calls_out", world.alice)
    assert row["when"] == "2026-03-03 10:00"
    assert "02:00" not in row["record"]  # nothing in UTC
    assert row["link"] == reverse("telephony:call", args=[call.pk])
    assert (row["deal"], row["deal_link"]) == ("D1", reverse("crm:deal", args=[sales.d1.pk]))
    assert row["who"] == "Alice"
    assert row["detail"].startswith("answered")


def test_a_call_without_a_deal_names_its_client(client, world, sales, call_and_letter):
    call, _letter = call_and_letter
    call.deal = None
    call.save()
    client.force_login(world.head)
    (row,) = rows(client, "calls_out", world.alice)
    assert (row["deal"], row["deal_link"]) == (
        "Tuul Hotels",
        reverse("crm:contact", args=[call.contact_id]),
    )


def test_letter_rows_show_when_it_was_sent_and_link_the_letter(
    client, world, sales, call_and_letter
):
    _call, letter = call_and_letter
    client.force_login(world.lead)
    (row,) = rows(client, "emails_sent", world.alice)
    assert row["when"] == "2026-03-04 15:30"
    assert row["link"] == reverse("mail:message", args=[letter.pk])
    assert (row["deal"], row["who"]) == ("D1", "Alice")
    assert "Our offer" in row["record"]


def test_deal_rows_show_the_event_the_number_counted(client, world, sales):
    client.force_login(world.head)
    (won,) = rows(client, "won_count", world.alice)
    # D1 was created on the 2nd and won on the 7th: a win is listed at the win.
    assert won["when"] == "2026-03-07 10:00"
    assert won["link"] == reverse("crm:deal", args=[sales.d1.pk])
    assert (won["deal"], won["who"]) == ("D1", "Alice")
    (lost,) = rows(client, "lost_count", world.alice)
    assert (lost["deal"], lost["when"]) == ("D3", "2026-03-06 10:00")
    leads = rows(client, "leads_received", world.alice)
    assert {(r["deal"], r["when"]) for r in leads} == {
        ("D1", "2026-03-02 10:00"),
        ("D2", "2026-03-02 11:00"),
    }


def test_stay_task_and_action_rows(client, world, sales):
    client.force_login(world.head)
    stays = rows(client, "objection_avg_days", world.alice)
    # D1 left objections for the contract on the 6th; D3, bob's when it entered
    # objections, was alice's when she lost it that day: the stay is hers.
    assert {(r["deal"], r["when"], r["who"]) for r in stays} == {
        ("D1", "2026-03-06 10:00", "Alice"),
        ("D3", "2026-03-06 10:00", "Alice"),
    }
    assert all(r["link"] and r["link"].startswith("/crm/deals/") for r in stays)
    tasks = rows(client, "tasks_done", world.alice)
    assert {(r["record"], r["when"], r["who"]) for r in tasks} == {
        ("Task: Call", "2026-03-05 09:00", "Alice"),
        ("Task: Mail", "2026-03-03 09:00", "Alice"),
    }
    actions = rows(client, "crm_actions", world.alice)
    assert actions and all(r["who"] == "Alice" and r["when"] for r in actions)


def test_quality_rows_link_the_review_page_of_the_call(client, world, sales, call_and_letter):
    from funnelwatch.quality.models import ReviewQueueItem

    call, _letter = call_and_letter
    ReviewQueueItem.objects.create(
        call=call, manager=world.alice, week="2026-03-02", reason="sampled"
    )
    client.force_login(world.reviewer)
    (row,) = rows(client, "quality_reviewed_share", world.alice)
    assert row["link"] == reverse("quality:call", args=[call.pk])
    assert (row["when"], row["who"], row["deal"]) == ("2026-03-03 10:00", "Alice", "D1")
    # The call is named as people read its time (it was named in UTC: 02:00).
    assert row["record"].endswith("2026-03-03 10:00")


def test_drill_down_reads_a_few_queries_for_many_rows(
    client, world, sales, call_and_letter, django_assert_max_num_queries, at
):
    from funnelwatch.telephony.models import Call

    call, _letter = call_and_letter
    for i in range(30):
        Call.objects.create(
            provider="test",
            external_id=f"more-{i}",
            direction="out",
            started_at=at(2026, 3, 5, 9, i),
            outcome="no_answer",
            manager=world.alice,
            contact=call.contact,
            deal=call.deal,
        )
    client.force_login(world.head)
    url = reverse("metrics:records", args=["calls_out"])
    with django_assert_max_num_queries(10):
        response = client.get(f"{url}?{WEEK}&manager={world.alice.pk}")
    assert len(response.context["rows"]) == 31
