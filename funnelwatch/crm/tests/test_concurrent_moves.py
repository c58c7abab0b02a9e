"""Two people moving one deal at the same moment, each request on its own connection."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client

from funnelwatch.accounts.tokens import issue_token
from funnelwatch.crm import services
from funnelwatch.crm.models import StageChange
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine
from funnelwatch.metrics.common import today

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 40


def test_simultaneous_moves_are_all_saved_and_the_rollups_match(world):
    if connection.vendor != "postgresql":
        pytest.skip(
            "the race needs concurrent writers: SQLite runs write transactions one at a "
            "time (run with DATABASE_URL=postgres://...; test_services covers the lock "
            "order on any database)"
        )
    deal = services.create_lead(actor=world.alice, title="Contested", owner=world.alice)
    people = [world.alice, world.head]
    tokens = {u.pk: issue_token(u, "script") for u in people}
    stages = [world.stages[n] for n in ("Qualified", "Proposal sent", "Objections", "Contract")]
    start = threading.Barrier(REQUESTS)
    answers: list[tuple[int, bytes] | None] = [None] * REQUESTS

    def move(i: int) -> None:
        try:
            client = Client(raise_request_exception=False)
            start.wait(timeout=60)
            response = client.post(
                f"/api/crm/deals/{deal.pk}/move",
                {"stage_id": stages[i % len(stages)].pk},
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {tokens[people[i % 2].pk]}",
            )
            answers[i] = (response.status_code, response.content[:300])
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(i,)) for i in range(REQUESTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    failed = [a for a in answers if a is None or a[0] != 200]
    assert not failed, failed
    # Every move that changed the stage is in the history, each after the one before.
    changes = list(StageChange.objects.filter(deal=deal).order_by("at", "pk"))
    assert len(changes) > 2
    assert all(a.left_at == b.at for a, b in zip(changes, changes[1:], strict=False))
    assert changes[-1].left_at is None
    # The rollups of the day equal a fresh computation from the raw records.
    day = today()
    assert engine.verify(Period(day, day + dt.timedelta(days=1))) == []
