"""Segments counted by hand on a small client base, as of 30 June 2026.

The window is 1 July 2025 – 30 June 2026. Won revenue in it (total 4000):

    Steady  100 on the 15th of every month            1200  12 wins
    Even    200 every other month from August         1200   6 wins (and 300 in May 2025)
    Big     800 on 15 March                            800   1 win
    Mid     300 on 1 December and on 1 June            600   2 wins
    Small   100 on 10 June                             100   1 win
    Tie     100 on 30 April                            100   1 win
    Old     500 on 30 June 2025 (outside the window)     0
    Potential: an open deal only
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from funnelwatch.clients import segments
from funnelwatch.clients.models import SegmentRun, SegmentSnapshot
from funnelwatch.clients.segments import Thresholds, add_months, quintile_scores, xyz_class
from funnelwatch.crm import services
from funnelwatch.crm.models import Company

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 30)


def _win(world, company, owner, when, amount):
    deal = services.create_lead(
        actor=owner,
        title=f"{company.name} {when:%Y-%m-%d}",
        owner=owner,
        company=company,
        amount=amount,
        at=when - dt.timedelta(days=3),
    )
    return services.win(deal, actor=owner, at=when)


@pytest.fixture
def base(world, at):
    alice, bob = world.alice, world.bob
    made = {}
    for name, owner in [
        ("Steady", alice),
        ("Even", alice),
        ("Big", alice),
        ("Mid", bob),
        ("Small", bob),
        ("Tie", bob),
        ("Old", alice),
        ("Potential", bob),
    ]:
        made[name] = Company.objects.create(name=name, owner=owner, created_at=at(2025, 1, 1, 9))
    for i in range(12):
        month = add_months(dt.date(2025, 7, 1), i)
        _win(world, made["Steady"], alice, at(month.year, month.month, 15, 12), 100)
    for i in range(0, 12, 2):
        month = add_months(dt.date(2025, 8, 1), i)
        _win(world, made["Even"], alice, at(month.year, month.month, 10, 12), 200)
    _win(world, made["Even"], alice, at(2025, 5, 10, 12), 300)
    _win(world, made["Big"], alice, at(2026, 3, 15, 12), 800)
    _win(world, made["Mid"], bob, at(2025, 12, 1, 12), 300)
    _win(world, made["Mid"], bob, at(2026, 6, 1, 12), 300)
    _win(world, made["Small"], bob, at(2026, 6, 10, 12), 100)
    _win(world, made["Tie"], bob, at(2026, 4, 30, 12), 100)
    _win(world, made["Old"], alice, at(2025, 6, 30, 12), 500)
    services.create_lead(
        actor=bob,
        title="First order",
        owner=bob,
        company=made["Potential"],
        amount=50,
        at=at(2026, 6, 1, 10),
    )
    # A win after the day counts for no segment as of the day.
    _win(world, made["Small"], bob, at(2026, 7, 2, 12), 999)
    return made


def _by_name(rows):
    return {s.company: s for s in rows}


def test_revenue_and_abc_with_ties_and_exact_boundaries(base):
    got = _by_name(segments.compute(AS_OF, Thresholds()))
    assert {n: got[n].revenue for n in got} == {
        "Steady": Decimal(1200),
        "Even": Decimal(1200),
        "Big": Decimal(800),
        "Mid": Decimal(600),
        "Small": Decimal(100),
        "Tie": Decimal(100),
        "Old": Decimal(0),
        "Potential": Decimal(0),
    }
    # Before Big: 2400 of 4000 = 60 % -> A; before Mid: 3200 = exactly 80 % -> B;
    # before Small and Tie (equal, one group): 3800 = exactly 95 % -> both C.
    assert {n: got[n].abc for n in got} == {
        "Steady": "A",
        "Even": "A",
        "Big": "A",
        "Mid": "B",
        "Small": "C",
        "Tie": "C",
        "Old": "",
        "Potential": "",
    }
    assert got["Steady"].wins == 12 and got["Even"].wins == 6 and got["Old"].wins == 0


def test_abc_thresholds_are_settings(base):
    with override_settings(FUNNELWATCH_ABC_A_PCT=50, FUNNELWATCH_ABC_B_PCT=30):
        got = _by_name(segments.compute(AS_OF))
    # Steady and Even are one group starting at 0 % -> A; Big starts at 60 % -> B (< 80);
    # Mid at 80 % -> C.
    assert [got[n].abc for n in ("Steady", "Even", "Big", "Mid", "Small")] == list("AABCC")


def test_xyz_by_variation_of_monthly_revenue(base):
    got = _by_name(segments.compute(AS_OF, Thresholds()))
    # Steady: 100 every month, cv 0 -> X. Even: 200 in 6 of 12 months: mean 100, sd 100,
    # cv exactly 100 % -> Y (bounds inclusive). Big: first win in March, so the 4 months
    # March–June: [0, 0, 0, 800], mean 200, sd 346.4 -> 173.2 % -> Z. Small: first win in
    # June, at least 3 months: [100, 0, 0] -> 141.4 % -> Z.
    assert (got["Steady"].xyz, got["Steady"].variation) == ("X", 0.0)
    assert (got["Even"].xyz, got["Even"].variation) == ("Y", 100.0)
    assert (got["Big"].xyz, got["Big"].variation) == ("Z", 173.2)
    assert (got["Small"].xyz, got["Small"].variation) == ("Z", 141.4)
    assert got["Old"].xyz == "" and got["Potential"].xyz == ""


def test_xyz_bounds_are_inclusive_and_settings():
    alternate = [Decimal(200), Decimal(0)] * 6
    assert xyz_class(alternate, Thresholds(x_max_pct=50, y_max_pct=100))[0] == "Y"
    assert xyz_class(alternate, Thresholds(x_max_pct=50, y_max_pct=99))[0] == "Z"
    assert xyz_class(alternate, Thresholds(x_max_pct=100, y_max_pct=100))[0] == "X"
    assert xyz_class([Decimal(0)] * 12, Thresholds()) == ("", None)


def test_rfm_quintiles_with_ties(base):
    got = _by_name(segments.compute(AS_OF, Thresholds()))
    # 7 clients (a win ever). R by days since the last win: Steady 15, Even 20, Small 20,
    # Mid 29, Tie 61, Big 107, Old 365; F by wins: 12, 6, 2, 1, 1, 1, 0; M by revenue:
    # 1200, 1200, 800, 600, 100, 100, 0. Score = 1 + floor(5 × worse / 7).
    assert got["Steady"].recency_days == 15 and got["Big"].recency_days == 107
    assert {n: got[n].rfm for n in got} == {
        "Steady": "554",
        "Even": "344",
        "Big": "113",
        "Mid": "333",
        "Small": "311",
        "Tie": "211",
        "Old": "111",
        "Potential": "",
    }


def test_quintile_scores_of_five_distinct_values():
    scores = quintile_scores({1: 10, 2: 20, 3: 30, 4: 40, 5: 50})
    assert scores == {1: 1, 2: 2, 3: 3, 4: 4, 5: 5}
    assert quintile_scores({1: 3, 2: 1}, lower_is_better=True) == {1: 1, 2: 3}


def test_lifecycle(base):
    got = _by_name(segments.compute(AS_OF, Thresholds()))
    # Sleeping: the last win 3 months or more before the day (on or before 30 March);
    # lost: 12 months or more (on or before 30 June 2025); new: the first win after 30 March.
    assert {n: got[n].lifecycle for n in got} == {
        "Steady": "active",
        "Even": "active",
        "Big": "sleeping",
        "Mid": "active",
        "Small": "new",
        "Tie": "new",
        "Old": "lost",
        "Potential": "potential",
    }


def test_as_of_an_earlier_day(base, at):
    got = _by_name(segments.compute(dt.date(2026, 3, 31), Thresholds()))
    # Window April 2025 – March 2026: Steady's July–March wins; Even's May, Aug, Oct, Dec, Feb.
    assert got["Steady"].revenue == 900 and got["Even"].revenue == 1100  # with May 2025
    assert got["Big"].lifecycle == "new"  # first win on 15 March
    assert got["Small"].lifecycle == "potential" and got["Tie"].lifecycle == "potential"
    assert got["Old"].lifecycle == "sleeping"  # 9 months without a win
    assert got["Mid"].revenue == 300


def test_store_keeps_one_snapshot_per_company_and_month(base, world):
    segments.store(AS_OF)
    segments.store(AS_OF, by=world.head)
    june = SegmentSnapshot.objects.filter(month=dt.date(2026, 6, 1))
    assert june.count() == 8
    big = june.get(company__name="Big")
    assert (big.abc, big.xyz, big.rfm, big.lifecycle) == ("A", "Z", "113", "sleeping")
    assert big.manager == world.alice
    assert SegmentRun.objects.filter(by=world.head).count() == 1


def test_refresh_closes_the_month_before_and_runs_once_a_day(base):
    runs = segments.refresh(dt.date(2026, 7, 1))
    assert [r.as_of for r in runs] == [dt.date(2026, 6, 30), dt.date(2026, 7, 1)]
    assert segments.refresh(dt.date(2026, 7, 1)) == []
    assert [r.as_of for r in segments.refresh(dt.date(2026, 7, 2))] == [dt.date(2026, 7, 2)]
    assert set(SegmentSnapshot.objects.values_list("month", flat=True)) == {
        dt.date(2026, 6, 1),
        dt.date(2026, 7, 1),
    }


def test_periodic_job_is_registered():
    from funnelwatch.core.periodic import JOBS

    assert "clients.segments" in JOBS


def test_command_lists_segments_as_json(base):
    out = StringIO()
    call_command("segments", "--as-of", "2026-06-30", "--format", "json", stdout=out)
    rows = {r["company"]: r for r in json.loads(out.getvalue())}
    assert rows["Big"] == {
        "company_id": base["Big"].pk,
        "company": "Big",
        "manager_id": base["Big"].owner_id,
        "revenue": "800.00",
        "wins": 1,
        "abc": "A",
        "xyz": "Z",
        "variation_pct": 173.2,
        "rfm": "113",
        "lifecycle": "sleeping",
    }
    assert rows["Potential"]["abc"] is None and rows["Potential"]["lifecycle"] == "potential"
    assert not SegmentSnapshot.objects.exists()  # listing keeps nothing without --save


def test_command_refuses_a_bad_day():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--as-of"):
        call_command("segments", "--as-of", "2026-02-30")


def test_segment_filter_on_the_deal_and_contact_lists(base, world, client):
    segments.store(AS_OF)
    client.force_login(world.head)
    response = client.get(reverse("crm:deals"), {"status": "all", "abc": "C"})
    titles = {d.title for d in response.context["page"]}
    assert titles and all(t.startswith(("Small", "Tie")) for t in titles)
    assert client.get(reverse("crm:deals"), {"abc": "D"}).status_code == 400
    assert client.get(reverse("crm:contacts"), {"lifecycle": "asleep"}).status_code == 400
    assert client.get(reverse("crm:contacts"), {"lifecycle": "sleeping"}).status_code == 200


def test_a_month_written_at_the_same_time_elsewhere_is_written_again_whole(base, monkeypatch):
    from django.db import IntegrityError

    real = SegmentSnapshot.objects.bulk_create
    calls = []

    def clash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("UNIQUE constraint failed: uniq_segment_month")
        return real(*args, **kwargs)

    monkeypatch.setattr(SegmentSnapshot.objects, "bulk_create", clash)
    run = segments.store(AS_OF)
    assert len(calls) == 2 and run.companies == 8
    assert SegmentSnapshot.objects.count() == 8 and SegmentRun.objects.count() == 1
