from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from funnelwatch.lib.dates import working_deadline, working_minutes_between

TZ = ZoneInfo("Asia/Ulaanbaatar")


def by_minute(start: dt.datetime, end: dt.datetime) -> float:
    """The definition, minute by minute: slow but obviously right."""
    total, t = 0, start
    while t < end:
        local = t.astimezone(TZ)
        if local.weekday() < 5 and 9 <= local.hour < 18:
            total += 1
        t += dt.timedelta(minutes=1)
    return total


moments = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 2, 15)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=TZ)
)


@given(moments, st.integers(min_value=0, max_value=60 * 24 * 20))
def test_matches_the_minute_by_minute_definition(start, minutes):
    end = start + dt.timedelta(minutes=minutes)
    assert working_minutes_between(start, end, TZ, [0, 1, 2, 3, 4], 9, 18) == by_minute(start, end)


def test_a_weekend_call_is_due_on_monday_morning():
    friday_evening = dt.datetime(2026, 3, 6, 20, 0, tzinfo=TZ)
    monday = dt.datetime(2026, 3, 9, 9, 15, tzinfo=TZ)
    assert working_minutes_between(friday_evening, monday, TZ, [0, 1, 2, 3, 4], 9, 18) == 15


@given(moments, st.integers(min_value=1, max_value=60 * 9 * 6))
def test_the_deadline_is_the_first_moment_that_much_working_time_has_passed(start, minutes):
    due = working_deadline(start, minutes, TZ, [0, 1, 2, 3, 4], 9, 18)
    assert working_minutes_between(start, due, TZ, [0, 1, 2, 3, 4], 9, 18) == minutes
    # A minute earlier, it had not: the deadline falls inside working time.
    before = due - dt.timedelta(minutes=1)
    assert working_minutes_between(start, before, TZ, [0, 1, 2, 3, 4], 9, 18) == minutes - 1


def test_a_call_missed_on_saturday_night_is_due_after_mondays_opening():
    saturday_night = dt.datetime(2026, 3, 7, 23, 30, tzinfo=TZ)
    due = working_deadline(saturday_night, 15, TZ, [0, 1, 2, 3, 4], 9, 18)
    assert due == dt.datetime(2026, 3, 9, 9, 15, tzinfo=TZ)
