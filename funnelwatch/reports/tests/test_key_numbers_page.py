"""The key-numbers page reads at a glance: the last complete period by default, compared
like for like; one block of columns at a time, remembered; sorting; numbers as people
write them; no rows of zeros for team leads; the team row named once."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import translation

from funnelwatch.core.params import BadParameter
from funnelwatch.lib.dates import Period
from funnelwatch.reports import periods
from funnelwatch.reports.templatetags.reports_fw import show, signed, sparkline

URL = "/metrics/"


def test_the_default_is_the_last_complete_week_compared_with_the_week_before(client, sales, world):
    client.force_login(world.head)
    response = client.get(URL)  # Monday 9 March, noon
    choice = response.context["choice"]
    assert choice.kind == "week" and choice.complete
    assert choice.period == Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    assert choice.previous == Period(dt.date(2026, 2, 23), dt.date(2026, 3, 2))
    total = response.context["table"].rows[-1].cells["leads_received"]
    assert total.value == 4 and total.previous == 0


def test_week_to_date_is_compared_with_the_same_days_of_last_week():
    wtd = periods.Choice("wtd", periods.period_of("wtd", dt.date(2026, 3, 11)))
    assert wtd.period == Period(dt.date(2026, 3, 9), dt.date(2026, 3, 12))
    assert wtd.previous == Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5))
    day = periods.Choice("day", periods.period_of("day", dt.date(2026, 3, 11)))
    assert day.previous == Period(dt.date(2026, 3, 4), dt.date(2026, 3, 5))
    march = periods.Choice("month", periods.period_of("month", dt.date(2026, 3, 11)))
    assert march.previous == Period(dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    custom = periods.Choice("custom", Period(dt.date(2026, 3, 1), dt.date(2026, 3, 11)))
    assert custom.previous == Period(dt.date(2026, 2, 19), dt.date(2026, 3, 1))


def test_without_a_date_every_kind_is_its_last_complete_period(monkeypatch):
    monkeypatch.setattr(periods, "today", lambda: dt.date(2026, 3, 11))  # a Wednesday
    got = {k: periods.from_query({"period": k}).period for k in ("day", "week", "wtd", "month")}
    assert got["day"] == Period(dt.date(2026, 3, 10), dt.date(2026, 3, 11))
    assert got["week"] == Period(dt.date(2026, 3, 2), dt.date(2026, 3, 9))
    assert got["wtd"] == Period(dt.date(2026, 3, 9), dt.date(2026, 3, 11))
    assert got["month"] == Period(dt.date(2026, 2, 1), dt.date(2026, 3, 1))
    assert periods.from_query({}, default="month").period == got["month"]
    with pytest.raises(BadParameter):
        periods.from_query({"period": "year"})


def test_sales_and_funnel_open_on_the_last_complete_month(client, sales, world):
    client.force_login(world.head)
    for name in ("metrics:sales", "metrics:funnel"):
        choice = client.get(reverse(name)).context["choice"]
        assert choice.period == Period(dt.date(2026, 2, 1), dt.date(2026, 3, 1)), name


def test_a_block_of_columns_is_chosen_with_tabs_and_remembered(client, sales, world):
    client.force_login(world.head)
    first = client.get(URL)
    assert first.context["tab"] == "intake"
    assert {m.block for m in first.context["shown"]} == {"intake"}
    closing = client.get(f"{URL}?block=closing")
    assert {m.block for m in closing.context["shown"]} == {"closing"}
    again = client.get(URL)  # remembered for this person
    assert again.context["tab"] == "closing"
    control = client.get(f"{URL}?block=control").context["shown"]
    assert {m.block for m in control} == {"daily", "tasks"}
    response = client.get(f"{URL}?block=nonsense")
    assert response.status_code == 400 and b"block" in response.content
    client.force_login(world.bob)  # another person starts on the first tab
    assert client.get(URL).context["tab"] == "intake"


def test_sorting_by_a_column(client, sales, world):
    client.force_login(world.head)
    url = f"{URL}?block=intake&sort=leads_received"
    rows = client.get(f"{url}&dir=asc").context["rows"]
    managers = [r for r in rows if r.kind == "manager"]
    values = [r.cells["leads_received"].value for r in managers]
    assert values == sorted(values)
    rows = client.get(f"{url}&dir=desc").context["rows"]
    values = [r.cells["leads_received"].value for r in rows if r.kind == "manager"]
    assert values == sorted(values, reverse=True)
    assert [r.kind for r in rows][-3:] == ["team", "team", "total"]  # totals stay last
    # A column not on the tab does not sort.
    assert client.get(f"{URL}?block=intake&sort=won_amount").context["sort"] is None


def test_team_leads_are_no_rows_of_zeros_and_teams_are_named_once(client, sales, world):
    client.force_login(world.head)
    response = client.get(URL)
    assert "lead" in {r.user.username for r in response.context["table"].rows if r.user}
    assert "lead" not in {r.user.username for r in response.context["rows"] if r.user}
    html = response.content.decode()
    assert ">North</th>" in html and "Team North" not in html
    # The export keeps every row, as before.
    lines = client.get(f"{URL}?format=csv").content.decode("utf-8-sig").splitlines()
    assert any(line.startswith("lead,") for line in lines)


def test_numbers_as_people_write_them():
    minutes = SimpleNamespace(unit="minutes")
    days = SimpleNamespace(unit="days")
    pct = SimpleNamespace(unit="pct")
    money = SimpleNamespace(unit="money")
    assert show(1233.5, minutes) == "20 h 34 min"
    assert show(12, minutes) == "12 min"
    assert show(2.5, days) == "2 days 12 h"
    assert show(1, days) == "1 day"
    assert signed(-20748.8, minutes) == "−14 days 9 h"
    assert show(1234567.5, money) == "1\u202f234\u202f568 ₮"
    assert signed(4.25, pct) == "+4.2 pp"
    assert show(None, money) == "—"
    with translation.override("ru"):
        assert signed(4.25, pct) == "+4.2 п.п."
        assert show(2.5, days) == "2 дня 12 ч"


def test_sparkline_is_inline_svg_of_the_weeks():
    svg = sparkline([1, 2, None, 4, 3], "Calls")
    assert svg.startswith('<svg class="spark"') and "<title>Calls</title>" in svg
    assert svg.count(",") == 4  # four known points
    assert sparkline([None, 5], "x") == ""


def test_cells_are_coloured_only_for_large_changes(client, sales, world):
    client.force_login(world.head)
    rows = client.get(f"{URL}?block=intake").context["rows"]
    for row in rows:
        for cell in row.cells.values():
            assert (cell.tone != "") == (cell.z is not None)
            if cell.z is not None:
                assert abs(cell.z) >= 2.5 and row.kind == "manager"
    # Alice had no leads in the eight weeks before: nothing to be far from, no colour.
    alice = next(r for r in rows if r.user == world.alice)
    assert alice.cells["leads_received"].tone == ""
    assert len(alice.spark) == 9
