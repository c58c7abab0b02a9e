import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from funnelwatch.telephony import fastdb
from funnelwatch.telephony.providers.csvfile import rows


@given(st.lists(st.text()))
def test_json_of_a_row_reads_back_the_same(row):
    assert json.loads(fastdb._json(row)) == row


def test_json_of_other_values():
    for value in ({}, {"a": [1, "x"]}, [1, "a"], ["a\x00b", "c"], ['"Client" <101>', "é"]):
        assert json.loads(fastdb._json(value)) == value


def test_sqlite_datetime_as_django_writes_it():
    plus8 = dt.timezone(dt.timedelta(hours=8))
    for value in (
        dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 2, 10, 0, 1, 250, tzinfo=dt.UTC),
        dt.datetime(2026, 3, 2, 18, 0, tzinfo=plus8),
    ):
        utc = value.astimezone(dt.UTC).replace(tzinfo=None)
        assert fastdb._sqlite_datetime(value) == str(utc)


def test_rows_in_bulk_name_a_malformed_line_and_keep_the_next():
    good = b'"a","b"\n'
    lines = [good] * 3 + [b'"open,"x\n'] + [good] * 2 + [b"  \n", good]
    out = list(rows(lines))
    assert [n for n, _f in out] == [1, 2, 3, 4, 5, 6, 8]
    assert out[3][1].startswith("malformed CSV")
    assert out[4][1] == ["a", "b"] and out[6][1] == ["a", "b"]


def test_reserved_keys_are_free_and_follow_the_stored_ones(world):
    """Keys reserved for new rows, written with them; a second reservation continues
    after the first; outside a transaction there is nothing to hold them."""
    from django.db import transaction
    from django.utils import timezone

    from funnelwatch.telephony.models import Call

    now = timezone.now()
    from funnelwatch.telephony.ingest import CALL_FIELDS

    fields = ["id", *CALL_FIELDS]

    def rows(keys: list[int], prefix: str) -> list[tuple]:
        out = []
        for i, pk in enumerate(keys):
            values = dict.fromkeys(CALL_FIELDS, "") | {
                "provider": "t",
                "external_id": f"{prefix}{i}",
                "direction": "in",
                "outcome": "busy",
                "manager": None,
                "contact": None,
                "deal": None,
                "started_at": now,
                "answered_at": None,
                "ended_at": None,
                "duration_s": 0,
                "talk_seconds": 0,
                "raw": {},
                "created_at": now,
            }
            out.append((pk, *(values[f] for f in CALL_FIELDS)))
        return out

    before = Call.objects.create(provider="t", external_id="before", direction="in", started_at=now)
    with transaction.atomic():
        first = fastdb.reserve_ids(Call, 7)
        fastdb.insert(Call, fields, rows(first, "a"))
        second = fastdb.reserve_ids(Call, 2)
        fastdb.insert(Call, fields, rows(second, "b"))
        assert fastdb.reserve_ids(Call, 0) == []
    assert first == list(range(before.pk + 1, before.pk + 8))
    assert second == [first[-1] + 1, first[-1] + 2]
    stored = dict(Call.objects.filter(provider="t").values_list("pk", "external_id"))
    assert [stored[pk] for pk in first + second] == [f"a{i}" for i in range(7)] + ["b0", "b1"]
    # the ORM continues after them too
    after = Call.objects.create(provider="t", external_id="after", direction="in", started_at=now)
    assert after.pk > second[-1]


@pytest.mark.django_db(transaction=True)
def test_keys_are_reserved_only_inside_a_transaction():
    from funnelwatch.telephony.models import Call

    with pytest.raises(RuntimeError):
        fastdb.reserve_ids(Call, 3)


def test_update_by_key_sets_each_row_its_values(world):
    import datetime as dt

    from django.utils import timezone

    from funnelwatch.telephony.models import Call

    now = timezone.now()
    a, b, c = (
        Call.objects.create(provider="t", external_id=x, direction="in", started_at=now)
        for x in "abc"
    )
    later = now + dt.timedelta(minutes=5)
    fastdb.update(
        Call,
        ["callback", "callback_at", "outcome", "raw"],
        [(c.pk, later, "answered", {"k": ["é", 1]}, a.pk), (None, None, "busy", [], b.pk)],
    )
    for call in (a, b, c):
        call.refresh_from_db()
    assert (a.callback, a.callback_at, a.outcome, a.raw) == (c, later, "answered", {"k": ["é", 1]})
    assert (b.callback, b.callback_at, b.outcome, b.raw) == (None, None, "busy", [])
    assert c.outcome == "" and c.raw == {}
