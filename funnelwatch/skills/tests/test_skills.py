"""Skill tests counted by hand: a test of four questions over three topics.

- product, single choice, 2 points; - product, multiple choice, 2 points;
- objections, open answer, 4 points (graded by the reviewer);
- scripts, single choice, 1 point.  9 points in all; pass mark 70 %.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from funnelwatch.skills import services
from funnelwatch.skills.models import Attempt, MysteryCall


@pytest.fixture
def quiz(world):
    q1 = services.create_question(
        topic="product",
        kind="single",
        text="Warranty?",
        options="1 year\n*2 years",
        points=2,
        by=world.reviewer,
    )
    q2 = services.create_question(
        topic="product",
        kind="multiple",
        text="Colours?",
        options="*Red\n*Blue\nGreen",
        points=2,
        by=world.reviewer,
    )
    q3 = services.create_question(
        topic="objections",
        kind="open",
        text="Too expensive: answer.",
        options="",
        points=4,
        by=world.reviewer,
    )
    q4 = services.create_question(
        topic="scripts",
        kind="single",
        text="First words?",
        options="*Name\nPrice",
        points=1,
        by=world.reviewer,
    )
    test = services.create_test(
        title="Basics",
        pass_pct=70,
        question_ids=[str(q.pk) for q in (q1, q2, q3, q4)],
        by=world.head,
    )
    (item,) = services.assign(
        test=test, managers=[world.alice], due_date=dt.date(2026, 3, 31), by=world.lead
    )
    return item, (q1, q2, q3, q4)


def test_scoring_counted_by_hand(world, quiz):
    item, (q1, q2, q3, q4) = quiz
    attempt = services.submit(
        item,
        world.alice,
        {
            q1.pk: {"chosen": [1]},  # right: 2
            q2.pk: {"chosen": [0]},  # half the right options: 0 (no partial credit)
            q3.pk: {"text": "Compare the cost of a year."},
            q4.pk: {"chosen": [0]},  # right: 1
        },
    )
    # The open answer waits for a reviewer: no score yet.
    assert attempt.score_pct is None
    scores = {s.topic: s for s in services.topic_scores(attempt)}
    assert (scores["product"].earned, scores["product"].possible) == (2, 4)
    assert scores["product"].pct == Decimal("50.0")
    assert scores["objections"].pct is None and scores["objections"].pending == 1
    open_answer = attempt.answers.get(question=q3)
    with pytest.raises(services.SkillsError):
        services.grade(attempt, world.reviewer, {open_answer.pk: "5"})  # above 4
    with pytest.raises(services.SkillsError):
        services.grade(attempt, world.alice, {open_answer.pk: "3"})  # her own
    services.grade(attempt, world.reviewer, {open_answer.pk: "3"})
    attempt.refresh_from_db()
    # (2 + 0 + 3 + 1) / 9 = 66.7 %
    assert attempt.score_pct == Decimal("66.7")
    failed = services.failed_topics(attempt)
    # product 50 % fails; objections 75 % and scripts 100 % pass.
    assert [s.topic for s in failed] == ["product"]


def test_submit_once_and_only_by_the_manager(world, quiz):
    item, (q1, q2, q3, q4) = quiz
    with pytest.raises(services.SkillsError):
        services.submit(item, world.bob, {})
    with pytest.raises(services.SkillsError):
        services.submit(item, world.alice, {q1.pk: {"chosen": [7]}})
    assert not Attempt.objects.exists()
    services.submit(item, world.alice, {})
    with pytest.raises(services.SkillsError):
        services.submit(item, world.alice, {})
    assert Attempt.objects.count() == 1


def test_failed_topic_suggests_library_calls(world, quiz):
    from funnelwatch.quality.models import ExemplaryCall
    from funnelwatch.telephony.models import Call

    call = Call.objects.create(
        provider="test",
        external_id="x1",
        direction="out",
        started_at=timezone.now(),
        duration_s=60,
        outcome="answered",
        manager=world.bob,
    )
    ExemplaryCall.objects.create(call=call, stages=["presentation"], added_by=world.head)
    assert [c.call_id for c in services.suggestions("product")] == [call.pk]
    assert services.suggestions("objections") == []


def test_history_per_manager_topic_and_month(world, quiz):
    item, (q1, q2, q3, q4) = quiz
    attempt = services.submit(item, world.alice, {q1.pk: {"chosen": [1]}, q4.pk: {"chosen": [1]}})
    services.grade(attempt, world.reviewer, {attempt.answers.get(question=q3).pk: "4"})
    data = services.history({world.alice.pk})
    cells = {r["topic"]: r["cells"][-1] for r in data["rows"]}
    assert cells == {
        "Product": Decimal("50.0"),
        "Scripts": Decimal("0.0"),
        "Objections": Decimal("100.0"),
    }
    assert services.history({world.bob.pk})["rows"] == []


def test_pages(client, world, quiz):
    item, (q1, q2, q3, q4) = quiz
    url = reverse("skills:assignment", args=[item.pk])
    client.force_login(world.alice)
    page = client.get(url).content.decode()
    assert "Warranty?" in page and "Submit the test" in page
    response = client.post(
        url, {f"q_{q1.pk}": "1", f"q_{q2.pk}": ["0", "1"], f"q_{q3.pk}": "x", f"q_{q4.pk}": "0"}
    )
    assert response.status_code == 302
    attempt = Attempt.objects.get()
    assert attempt.answers.get(question=q2).points == 2
    client.force_login(world.bob)
    assert client.get(url).status_code == 404
    client.force_login(world.reviewer)
    answer = attempt.answers.get(question=q3)
    client.post(reverse("skills:grade", args=[item.pk]), {f"a_{answer.pk}": "2"})
    attempt.refresh_from_db()
    assert attempt.score_pct == Decimal("77.8")  # (2 + 2 + 2 + 1) / 9
    client.force_login(world.alice)
    assert "77.8%" in client.get(reverse("skills:index")).content.decode()
    bad = client.post(url, {f"q_{q1.pk}": "x"})
    assert bad.status_code == 403  # submitted already


def test_mystery_call_scored_apart(client, world, django_capture_on_commit_callbacks):
    from funnelwatch.quality.models import Checklist, Review
    from funnelwatch.telephony.models import Call

    checklist = Checklist.objects.create(name="Inbound")
    calls = [
        Call.objects.create(
            provider="test",
            external_id=f"m{i}",
            direction="in",
            started_at=timezone.now(),
            duration_s=60,
            outcome="answered",
            manager=world.alice,
        )
        for i in range(3)
    ]
    for call, score in zip(calls, (40.0, 80.0, 90.0), strict=True):
        Review.objects.create(
            call=call,
            checklist=checklist,
            reviewer=world.reviewer,
            manager=world.alice,
            score=score,
        )
    client.force_login(world.alice)
    assert client.post(reverse("skills:mystery"), {"call": calls[0].pk}).status_code == 403
    client.force_login(world.reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("skills:mystery"), {"call": calls[0].pk, "note": "Shopper A"})
    assert MysteryCall.objects.get().call == calls[0]
    client.post(reverse("skills:mystery"), {"call": calls[0].pk})
    assert MysteryCall.objects.count() == 1
    client.force_login(world.alice)
    page = client.get(reverse("skills:mystery")).content.decode()
    # Test calls 40 (1) against ordinary reviews 85 (2).
    assert '40.0 <span class="muted">(1)</span>' in page
    assert '85.0 <span class="muted">(2)</span>' in page
    # The key numbers' review score is the ordinary calls' only.
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import engine

    today = timezone.localdate()
    period = Period(today, today + dt.timedelta(days=1))
    value = engine.group_values(["quality_review_score"], period, {"a": {world.alice.pk}})
    assert value["a"]["quality_review_score"] == pytest.approx(85.0)


def test_import_flag_command(world):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from funnelwatch.telephony.models import Call

    call = Call.objects.create(
        provider="asterisk",
        external_id="1700000000.42",
        direction="in",
        started_at=timezone.now(),
        duration_s=60,
        outcome="answered",
        manager=world.alice,
    )
    out = StringIO()
    call_command("mystery-calls", "--provider", "asterisk", "1700000000.42", stdout=out)
    assert MysteryCall.objects.get().call == call
    assert MysteryCall.objects.get().source == "import"
    with pytest.raises(CommandError):
        call_command("mystery-calls", "--provider", "asterisk", "1700000000.42", "nope", stdout=out)
    assert MysteryCall.objects.count() == 1
