from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from funnelwatch.accounts.models import User
from funnelwatch.crm.models import Deal, StageChange

NOW = "2026-03-20T15:00:00+08:00"


def _demo(*extra: str) -> dict:
    out = StringIO()
    call_command(
        "demo", "--months", "1", "--managers", "4", "--now", NOW, "--json", *extra, stdout=out
    )
    return json.loads(out.getvalue())


def _fingerprint() -> list:
    return list(
        Deal.objects.order_by("pk").values_list(
            "title", "owner__username", "stage__name", "status", "amount", "created_at", "closed_at"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_same_seed_same_data_and_problems_are_planted():
    # --reset also restarts the id sequences, so ids are comparable between runs.
    summary = _demo("--seed", "3", "--reset")
    first = _fingerprint()
    changes = StageChange.objects.count()
    again = _demo("--seed", "3", "--reset")
    assert again == summary
    assert _fingerprint() == first and StageChange.objects.count() == changes
    planted = summary["planted"]
    assert User.objects.filter(username=planted["activity_drop_manager"], role="manager").exists()
    assert {login["role"] for login in summary["logins"]} >= {"head", "team_lead", "manager"}
    # the printed logins work on the login page (password validators do not apply to them)
    for login in summary["logins"]:
        browser = Client()
        r = browser.post("/login/", {"username": login["username"], "password": "demo"})
        assert r.status_code == 302 and "_auth_user_id" in browser.session, login
    stalled = Deal.objects.filter(pk__in=planted["stalled_deals"])
    assert stalled.count() == len(planted["stalled_deals"]) >= 3
    for deal in stalled:
        assert deal.status == "open" and deal.stage.norm_days
    assert (
        Deal.objects.filter(
            pk__in=planted["revivable_lost_deals"], status="lost", lost_reason__revivable=True
        ).count()
        == 3
    )
    assert (
        Deal.objects.filter(
            pk__in=planted["leads_never_called"], status="open", stage__block="intake"
        ).count()
        == 3
    )
    other = _demo("--seed", "4", "--reset")
    assert _fingerprint() != first
    assert other["planted"].keys() == planted.keys()


@pytest.mark.django_db
def test_demo_refuses_to_overwrite_without_reset(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--reset"):
        _demo()
