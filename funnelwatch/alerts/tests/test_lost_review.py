from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from funnelwatch.alerts import queries, services
from funnelwatch.alerts.models import LostReview
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Outcome
from funnelwatch.lib.dates import Period

MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 4, 1))


@pytest.fixture
def lost(world, at):
    out = []
    for owner, title in [(world.alice, "A1"), (world.alice, "A2"), (world.bob, "B1")]:
        deal = crm.create_lead(
            actor=owner, title=title, owner=owner, amount=500, at=at(2026, 3, 2, 10)
        )
        crm.move_stage(deal, world.stages["Proposal sent"], actor=owner, at=at(2026, 3, 3, 10))
        out.append(crm.lose(deal, reason=world.lost_reason, actor=owner, at=at(2026, 3, 5, 10)))
    return out


def test_return_to_funnel_reopens_with_a_task_for_the_owner(world, lost, at):
    deal = lost[0]
    review = services.review_lost(
        deal,
        actor=world.lead,
        decision="returned",
        comment="Budget comes in April",
        at=at(2026, 3, 6, 17),
    )
    deal.refresh_from_db()
    assert deal.status == Outcome.OPEN and deal.stage == world.stages["Proposal sent"]
    assert review.task.assignee == world.alice and review.task.deal == deal
    # Friday evening: the task is due on Monday morning.
    assert review.task.due_at == at(2026, 3, 9, 9)
    assert review.lost_reason == world.lost_reason and review.owner == world.alice


def test_keep_lost_and_the_summary(world, lost, at):
    services.review_lost(lost[0], actor=world.head, decision="returned", at=at(2026, 3, 6, 10))
    services.review_lost(lost[1], actor=world.head, decision="keep_lost", at=at(2026, 3, 6, 10))
    crm.win(lost[0], actor=world.alice, at=at(2026, 3, 20, 10))
    summary = queries.lost_summary(world.head, MARCH)
    assert (summary.lost, summary.reviewed, summary.returned, summary.won_later) == (3, 2, 1, 1)
    assert summary.returned_pct == 50.0
    assert [d.title for d in queries.lost_to_review(world.head, MARCH)] == ["B1"]
    # The team lead sees their team only.
    assert queries.lost_summary(world.lead, MARCH).lost == 2
    assert list(queries.lost_to_review(world.lead, MARCH)) == []


def test_reviewers_are_the_head_and_the_owners_team_lead(world, lost, at):
    with pytest.raises(services.AlertError):
        services.review_lost(lost[0], actor=world.alice, decision="keep_lost")
    with pytest.raises(services.AlertError):
        services.review_lost(lost[2], actor=world.lead, decision="keep_lost")  # bob: South
    assert not LostReview.objects.exists()


def test_a_loss_is_reviewed_once_and_a_new_loss_again(world, lost, at):
    deal = lost[0]
    services.review_lost(deal, actor=world.head, decision="returned", at=at(2026, 3, 6, 10))
    with pytest.raises(services.AlertError):
        services.review_lost(deal, actor=world.head, decision="keep_lost", at=at(2026, 3, 6, 11))
    deal.refresh_from_db()
    crm.lose(deal, reason=world.lost_reason, actor=world.alice, at=at(2026, 3, 10, 10))
    services.review_lost(deal, actor=world.head, decision="keep_lost", at=at(2026, 3, 11, 10))
    assert LostReview.objects.filter(deal=deal).count() == 2


def test_lost_page_allowed_and_refused(client, world, lost, at, django_assert_max_num_queries):
    with time_machine.travel(at(2026, 3, 10, 10), tick=False):
        client.force_login(world.lead)
        with django_assert_max_num_queries(20):
            response = client.get("/alerts/lost/")
        assert response.status_code == 200
        assert b"A1" in response.content and b"B1" not in response.content
        response = client.post(f"/alerts/lost/{lost[0].pk}/review/", {"decision": "returned"})
        assert response.status_code == 302
        assert LostReview.objects.get().reviewed_by == world.lead
        # Another team's deal: not found for this lead.
        response = client.post(f"/alerts/lost/{lost[2].pk}/review/", {"decision": "returned"})
        assert response.status_code == 404
        client.force_login(world.alice)
        assert client.get("/alerts/lost/").status_code == 403
        response = client.post(f"/alerts/lost/{lost[1].pk}/review/", {"decision": "keep_lost"})
        assert response.status_code == 403
