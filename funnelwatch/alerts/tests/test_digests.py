from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail

from funnelwatch.alerts import digests
from funnelwatch.alerts.models import DigestCopy

D = dt.date


@pytest.fixture
def numbers(world, metrics, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    metrics.add("calls_out", "outbound calls")
    metrics.set("calls_out", world.alice, [D(2026, 3, 4)], 17)
    metrics.set("calls_out", world.bob, [D(2026, 3, 4)], 23)
    return metrics


def run(at, *moment):
    with time_machine.travel(at(*moment), tick=False):
        return digests.send_due()


def body_of(user):
    (message,) = [m for m in mail.outbox if m.to == [user.email]]
    return message


def test_evening_digest_right_rows_to_the_right_people(world, numbers, at):
    assert run(at, 2026, 3, 4, 18, 59) == 0  # Wednesday, before 19:00
    assert run(at, 2026, 3, 4, 19, 5) == 5  # head, lead, alice, bob, outsider
    head = {
        r["username"] for r in DigestCopy.objects.get(recipient=world.head, day=D(2026, 3, 4)).rows
    }
    assert head == {"alice", "bob", "outsider"}
    lead = DigestCopy.objects.get(recipient=world.lead, day=D(2026, 3, 4))
    assert [r["username"] for r in lead.rows] == ["alice"]
    alice = body_of(world.alice)
    assert "Alice" in alice.body and "17" in alice.body
    assert "Bob" not in alice.body and "23" not in alice.body
    html, mimetype = alice.alternatives[0]
    assert mimetype == "text/html" and "17" in html and "Bob" not in html
    assert "Bob" in body_of(world.head).body and "Alice" in body_of(world.head).body
    assert not DigestCopy.objects.filter(recipient=world.reviewer).exists()


def test_nothing_is_sent_twice_for_the_same_day(world, numbers, at):
    run(at, 2026, 3, 4, 19, 5)
    sent = len(mail.outbox)
    assert run(at, 2026, 3, 4, 19, 20) == 0
    assert run(at, 2026, 3, 4, 23, 50) == 0
    assert len(mail.outbox) == sent
    assert DigestCopy.objects.filter(recipient=world.alice, kind="daily").count() == 1


def test_catching_up_after_downtime(world, numbers, at, settings):
    settings.FUNNELWATCH_DIGEST_CATCHUP_DAYS = 2
    run(at, 2026, 3, 2, 19, 5)  # Monday sent
    # Down Tuesday and Wednesday evening; back Thursday 08:00: both missed days go out.
    run(at, 2026, 3, 5, 8, 0)
    days = sorted(
        set(DigestCopy.objects.filter(recipient=world.alice).values_list("day", flat=True))
    )
    assert days == [D(2026, 3, 2), D(2026, 3, 3), D(2026, 3, 4)]
    assert len([m for m in mail.outbox if m.to == [world.alice.email]]) == 3


def test_no_evening_digest_on_a_weekend(world, numbers, at):
    assert run(at, 2026, 3, 8, 20, 0) == 0  # Sunday
    assert not DigestCopy.objects.exists()


def test_friday_weekly_report_week_against_previous_four(world, numbers, at):
    numbers.set("calls_out", world.alice, [D(2026, 2, 12), D(2026, 2, 19), D(2026, 2, 26)], 30)
    numbers.set("calls_out", world.alice, [D(2026, 3, 5)], 30)
    run(at, 2026, 3, 6, 19, 30)
    weekly = DigestCopy.objects.get(kind="weekly", recipient=world.alice, day=D(2026, 3, 6))
    (row,) = weekly.rows
    cell = row["cells"][0]
    # This week: 17 + 30; the previous four weeks: 0, 30, 30, 30 -> usual 22.5.
    assert (cell["value"], cell["usual"], cell["change"]) == ("47", "22.5", "+109%")
    assert "usual" in weekly.text


def test_a_manager_sees_what_the_head_receives_about_them(client, world, numbers, at):
    run(at, 2026, 3, 4, 19, 5)
    client.force_login(world.alice)
    page = client.get("/alerts/digests/")
    assert page.status_code == 200
    about = page.context["about_me"][0]
    head_copy = DigestCopy.objects.get(recipient=world.head, kind="daily")
    assert about["copy"] == head_copy
    assert about["rows"] == [r for r in head_copy.rows if r["username"] == "alice"]
    assert b"Bob" not in page.content


def test_digest_copy_visibility(client, world, numbers, at):
    run(at, 2026, 3, 4, 19, 5)
    head_copy = DigestCopy.objects.get(recipient=world.head, kind="daily")
    own = DigestCopy.objects.get(recipient=world.alice, kind="daily")
    client.force_login(world.alice)
    assert client.get(f"/alerts/digests/{own.pk}/").status_code == 200
    assert client.get(f"/alerts/digests/{head_copy.pk}/").status_code == 403
    client.force_login(world.head)
    assert client.get(f"/alerts/digests/{own.pk}/").status_code == 200
