"""Metrics summed by the database must give the numbers a walk over the raw rows in Python
gives: local days at midnight and across DST changes, exact money and minutes, stays and
reply times to the microsecond, the manager filter."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from funnelwatch.crm import services
from funnelwatch.lib.dates import Period, local_date, period_bounds
from funnelwatch.mail import metrics as mail_metrics
from funnelwatch.mail.models import Direction as MailDirection
from funnelwatch.mail.models import Message
from funnelwatch.metrics import engine, registry
from funnelwatch.metrics.common import (
    FOUR,
    ElapsedMicroseconds,
    days_between,
    days_of,
    elapsed_us,
    offset_spans,
)
from funnelwatch.telephony.models import Call, CallOutcome, Direction

UTC = dt.UTC
_ids = count(1)


def _call(manager, started, *, direction=Direction.OUT, talk=60, callback_at=None, **extra):
    return Call.objects.create(
        provider="test",
        external_id=f"t{next(_ids)}",
        direction=direction,
        manager=manager,
        started_at=started,
        outcome=CallOutcome.ANSWERED if talk else CallOutcome.NO_ANSWER,
        talk_seconds=talk,
        callback_at=callback_at,
        **extra,
    )


def _points(key: str, period: Period, ids: set[int] | None = None) -> dict:
    """(manager, day) -> [value, weight] as the rollups store them."""
    daily = engine.compute_daily(registry.get(key), period, ids)
    return {k: (v.quantize(FOUR), w.quantize(FOUR)) for k, (v, w) in daily.sums.items()}


# --- the zone's offsets over a period ------------------------------------------------------


def test_offset_spans_find_transitions_to_the_second():
    ny = ZoneInfo("America/New_York")
    since, until = period_bounds(Period(dt.date(2026, 1, 1), dt.date(2027, 1, 1)), ny)
    assert offset_spans(since, until, ny) == (
        (None, -5 * 3600),
        (dt.datetime(2026, 3, 8, 7, tzinfo=UTC), -4 * 3600),
        (dt.datetime(2026, 11, 1, 6, tzinfo=UTC), -5 * 3600),
    )
    howe = ZoneInfo("Australia/Lord_Howe")  # half-hour DST
    since, until = period_bounds(Period(dt.date(2026, 3, 1), dt.date(2026, 5, 1)), howe)
    assert offset_spans(since, until, howe) == (
        (None, 39600),
        (dt.datetime(2026, 4, 4, 15, tzinfo=UTC), 37800),
    )
    ub = ZoneInfo("Asia/Ulaanbaatar")
    since, until = period_bounds(Period(dt.date(2026, 1, 1), dt.date(2027, 1, 1)), ub)
    assert offset_spans(since, until, ub) == ((None, 8 * 3600),)


# --- local days ---------------------------------------------------------------------------


def _moments(tz: ZoneInfo, period: Period) -> list[dt.datetime]:
    """Moments a local day can go wrong at: either side of each local midnight and of each
    offset change, including the repeated hour when clocks go back."""
    since, until = period_bounds(period, tz)
    out = []
    for day in period:
        midnight = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
        out += [
            midnight,
            midnight - dt.timedelta(microseconds=1),
            midnight + dt.timedelta(hours=12),
        ]
        out.append(dt.datetime.combine(day, dt.time(23, 59, 59, 999999), tzinfo=tz))
    for moment, _offset in offset_spans(since, until, tz)[1:]:
        for delta in (-1, 0, 1, 1800 * 10**6, -1800 * 10**6):
            out.append(moment + dt.timedelta(microseconds=delta))
    return [m for m in out if since <= m < until]


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Asia/Ulaanbaatar", dt.date(2026, 3, 1), dt.date(2026, 3, 8)),
        ("America/New_York", dt.date(2026, 3, 6), dt.date(2026, 3, 10)),  # clocks forward
        ("America/New_York", dt.date(2026, 10, 30), dt.date(2026, 11, 3)),  # clocks back
        ("America/New_York", dt.date(2026, 11, 1), dt.date(2026, 11, 2)),  # the 25-hour day
        ("Australia/Lord_Howe", dt.date(2026, 4, 3), dt.date(2026, 4, 7)),  # half an hour
        ("Asia/Kathmandu", dt.date(2026, 3, 1), dt.date(2026, 3, 3)),  # +05:45
    ],
)
def test_calls_fall_on_their_local_day(world, settings, zone, start, end):
    settings.TIME_ZONE = zone
    tz, period = ZoneInfo(zone), Period(start, end)
    moments = _moments(tz, period)
    for i, moment in enumerate(moments):
        _call(world.alice if i % 3 else world.bob, moment, talk=i % 7 * 13)
    # Calls just outside the period count nowhere.
    since, until = period_bounds(period, tz)
    _call(world.alice, since - dt.timedelta(microseconds=1))
    _call(world.alice, until)
    expected = Counter((c.manager_id, local_date(c.started_at, tz)) for c in Call.objects.all())
    expected = {k: n for k, n in expected.items() if k[1] in period}
    got = _points("calls_out", period)
    assert {k: int(v) for k, (v, _w) in got.items()} == expected
    assert all(v == w for v, w in got.values())  # one point per call, weight 1 each
    # Alice alone.
    mine = _points("calls_out", period, {world.alice.pk})
    assert {k: int(v) for k, (v, _w) in mine.items()} == {
        k: n for k, n in expected.items() if k[0] == world.alice.pk
    }


def test_local_midnight_splits_days(world, settings, at):
    settings.TIME_ZONE = "Asia/Ulaanbaatar"
    _call(world.alice, at(2026, 3, 2, 23, 59, 59, 999999))
    _call(world.alice, at(2026, 3, 3, 0, 0))
    _call(world.bob, at(2026, 3, 3, 0, 0))
    got = _points("calls_out", Period(dt.date(2026, 3, 2), dt.date(2026, 3, 4)))
    assert got == {
        (world.alice.pk, dt.date(2026, 3, 2)): (Decimal(1), Decimal(1)),
        (world.alice.pk, dt.date(2026, 3, 3)): (Decimal(1), Decimal(1)),
        (world.bob.pk, dt.date(2026, 3, 3)): (Decimal(1), Decimal(1)),
    }
    assert _points(
        "calls_out", Period(dt.date(2026, 3, 3), dt.date(2026, 3, 4)), {world.bob.pk}
    ) == {(world.bob.pk, dt.date(2026, 3, 3)): (Decimal(1), Decimal(1))}


# --- exact sums ------------------------------------------------------------------------------


def test_talk_minutes_sum_each_call_rounded(world, at):
    talks = list(range(0, 400)) + [3599, 3600, 3601, 86399]
    for talk in talks:
        _call(world.alice, at(2026, 3, 2, 12), talk=talk)
    got = _points("talk_minutes", Period(dt.date(2026, 3, 2), dt.date(2026, 3, 3)))
    answered = [t for t in talks if t]
    exact = sum(Decimal(repr(round(t / 60, 2))) for t in answered)
    assert got == {(world.alice.pk, dt.date(2026, 3, 2)): (exact, Decimal(len(answered)))}


def test_money_sums_are_exact(world, at):
    amounts = ["0.10", "0.20", "0.30", "1234567.89", "12345678901.23", "0.01", "7"]
    for i, amount in enumerate(amounts):
        deal = services.create_lead(
            actor=world.alice, title=f"D{i}", owner=world.alice, at=at(2026, 3, 2, 9)
        )
        services.win(deal, actor=world.alice, amount=amount, cost="0.07", at=at(2026, 3, 2, 10))
    total = sum(Decimal(a) for a in amounts)
    cost = Decimal("0.07") * len(amounts)
    period, key = (
        Period(dt.date(2026, 3, 2), dt.date(2026, 3, 3)),
        (world.alice.pk, dt.date(2026, 3, 2)),
    )
    n = Decimal(len(amounts))
    assert _points("won_amount", period)[key] == (total, n)
    assert _points("revenue", period)[key] == (total, n)
    assert _points("gross_profit", period)[key] == (total - cost, n)
    assert _points("margin_pct", period)[key] == (total - cost, total)
    assert _points("avg_check", period)[key] == (total, n)


# --- stays, to the microsecond ---------------------------------------------------------------


def test_elapsed_microseconds_match_python(world):
    base = dt.datetime(2026, 3, 2, 1, 2, 3, tzinfo=UTC)
    pairs = [
        (base, base + dt.timedelta(days=3, seconds=7)),
        (base.replace(microsecond=999999), base + dt.timedelta(seconds=1, microseconds=1)),
        (base.replace(microsecond=500000), base + dt.timedelta(days=40)),
        (base, base + dt.timedelta(microseconds=123456)),
        (base, base),
        (base.replace(microsecond=1), base + dt.timedelta(days=400, microseconds=2)),
    ]
    for start, end in pairs:
        _call(world.alice, start, callback_at=end)
    rows = Call.objects.annotate(us=ElapsedMicroseconds("started_at", "callback_at")).values_list(
        "started_at", "callback_at", "us"
    )
    assert len(rows) == len(pairs)
    for start, end, us in rows:
        assert us == elapsed_us(start, end)
        assert days_of(us) == days_between(start, end)
        old = (Decimal((end - start).total_seconds()) / Decimal(86400)).quantize(FOUR)
        assert days_of(us) == old


def test_days_in_stage_samples(world, at):
    deal = services.create_lead(
        actor=world.alice, title="D", owner=world.alice, at=at(2026, 3, 2, 9, 0, 0, 250000)
    )
    services.move_stage(
        deal, world.stages["Qualified"], actor=world.alice, at=at(2026, 3, 3, 23, 59, 59, 999999)
    )
    services.move_stage(deal, world.stages["Proposal sent"], actor=world.alice, at=at(2026, 3, 4))
    daily = engine.compute_daily(
        registry.get("stage_velocity"), Period(dt.date(2026, 3, 1), dt.date(2026, 3, 8)), None
    )
    first = days_between(at(2026, 3, 2, 9, 0, 0, 250000), at(2026, 3, 3, 23, 59, 59, 999999))
    second = days_between(at(2026, 3, 3, 23, 59, 59, 999999), at(2026, 3, 4))
    assert daily.samples == {
        (world.alice.pk, dt.date(2026, 3, 3)): [float(first.quantize(Decimal("0.1")))],
        (world.alice.pk, dt.date(2026, 3, 4)): [float(second.quantize(Decimal("0.1")))],
    }


# --- first calls to new leads ----------------------------------------------------------------


def test_first_call_to_a_new_lead(world, at, settings):
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    settings.FUNNELWATCH_CALL_SLA_MINUTES = 15
    two = services.create_contact(
        actor=world.alice, name="Two", phone_numbers=["+97699000021", "+97699000022"]
    )
    none = services.create_contact(actor=world.alice, name="None", phone_numbers=["+97699000023"])
    services.create_lead(
        actor=world.alice, title="A", owner=world.alice, contact=two, at=at(2026, 3, 2, 10)
    )
    services.create_lead(
        actor=world.alice, title="B", owner=world.alice, contact=none, at=at(2026, 3, 2, 10)
    )
    c = services.create_lead(actor=world.bob, title="C", owner=world.bob, at=at(2026, 3, 2, 23))
    # A: calls before creation, inbound and archived calls do not count; the second number's
    # call at 10:40 is later than the first number's at 10:10.
    _call(world.alice, at(2026, 3, 2, 9), client_number="+97699000021")
    _call(world.alice, at(2026, 3, 2, 10, 5), direction=Direction.IN, client_number="+97699000021")
    archived = _call(world.alice, at(2026, 3, 2, 10, 1), client_number="+97699000022")
    Call.objects.filter(pk=archived.pk).update(archived_at=at(2026, 3, 2, 12))
    _call(world.alice, at(2026, 3, 2, 10, 40), client_number="+97699000022")
    _call(world.alice, at(2026, 3, 2, 10, 10), client_number="+97699000021", talk=0)
    # C (no contact): a call filed on the deal itself, the next morning at 9:05.
    _call(world.bob, at(2026, 3, 3, 9, 5), deal=c)
    period = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 3))
    day = dt.date(2026, 3, 2)
    speed = engine.compute_daily(registry.get("speed_to_first_call"), period, None).samples
    assert speed == {(world.alice.pk, day): [10.0], (world.bob.pk, day): [605.0]}
    assert _points("leads_called_pct", period) == {
        (world.alice.pk, day): (Decimal(1), Decimal(2)),
        (world.bob.pk, day): (Decimal(1), Decimal(1)),
    }
    # Within SLA: A (10 working minutes); C was called 5 working minutes into the morning.
    assert _points("leads_called_sla_pct", period) == {
        (world.alice.pk, day): (Decimal(1), Decimal(2)),
        (world.bob.pk, day): (Decimal(1), Decimal(1)),
    }
    assert _points("leads_called_pct", period, {world.bob.pk}) == {
        (world.bob.pk, day): (Decimal(1), Decimal(1))
    }


# --- replies to clients' letters --------------------------------------------------------------


def _reference_reply_minutes(period: Period, ids: set[int] | None) -> list[tuple]:
    """The thread walk (mail.metrics._waits) the database's answer must agree with."""
    tz = timezone.get_current_timezone()
    letters = mail_metrics._client_letters(period, ids).filter(direction=MailDirection.IN)
    threads = set(letters.values_list("thread", flat=True))
    start, end = period_bounds(period, tz)
    out = []
    for owner, since, answered, _pk in mail_metrics._waits(threads, end + mail_metrics.LOOKBACK):
        if answered is None or owner is None or not (start <= since < end):
            continue
        if ids is not None and owner not in ids:
            continue
        out.append(
            (owner, local_date(since, tz), round((answered - since).total_seconds() / 60, 1))
        )
    return sorted(out)


def test_reply_minutes_agree_with_the_thread_walk(world, at):
    alice_client = services.create_contact(actor=world.alice, name="A", owner=world.alice)
    bob_client = services.create_contact(actor=world.bob, name="B", owner=world.bob)
    ids = count(1)

    def letter(thread, direction, when, owner=world.alice, contact=alice_client):
        Message.objects.create(
            message_id=f"m{next(ids)}@test",
            thread=thread,
            direction=direction,
            sent_at=when,
            owner=owner,
            contact=contact,
        )

    IN, OUT = MailDirection.IN, MailDirection.OUT
    # Two questions, then one answer: the wait runs from the first question.
    letter("t1", IN, at(2026, 3, 2, 10))
    letter("t1", IN, at(2026, 3, 2, 10, 30))
    letter("t1", OUT, at(2026, 3, 2, 11, 0, 0, 1))
    # Answered, asked again, answered again; then a question never answered.
    letter("t2", IN, at(2026, 3, 2, 12))
    letter("t2", OUT, at(2026, 3, 2, 12, 20))
    letter("t2", IN, at(2026, 3, 2, 23, 59, 59, 999999))
    letter("t2", OUT, at(2026, 3, 3, 8))
    letter("t2", IN, at(2026, 3, 3, 9))
    # The thread starts with the manager's letter; a letter from no contact is ignored.
    letter("t3", OUT, at(2026, 3, 1, 9))
    letter("t3", IN, at(2026, 3, 3, 10))
    letter("t3", OUT, at(2026, 3, 3, 10, 5), contact=None)
    letter("t3", OUT, at(2026, 3, 3, 10, 7))
    # Same minute: the order is (sent_at, id).
    letter("t4", IN, at(2026, 3, 4, 10), owner=world.bob, contact=bob_client)
    letter("t4", OUT, at(2026, 3, 4, 10), owner=world.bob, contact=bob_client)
    letter("t4", IN, at(2026, 3, 4, 10), owner=world.bob, contact=bob_client)
    # Asked before the period, answered in it: not the period's sample.
    letter("t5", IN, at(2026, 2, 28, 10))
    letter("t5", OUT, at(2026, 3, 2, 10))
    # Asked in the period, answered weeks later (within the look-back).
    letter("t6", IN, at(2026, 3, 4, 16), owner=world.bob, contact=bob_client)
    letter("t6", OUT, at(2026, 3, 25, 16), owner=world.bob, contact=bob_client)
    period = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 5))
    for ids_ in (None, {world.alice.pk}, {world.bob.pk}):
        got = sorted(
            (p.manager_id, p.day, p.value)
            for p in registry.get("email_reply_minutes").compute(period, ids_)
        )
        assert got == _reference_reply_minutes(period, ids_)
    assert len(_reference_reply_minutes(period, None)) == 6
