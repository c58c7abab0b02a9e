import datetime as dt
import json

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


def test_insert_returning_ids_gives_each_row_its_key(world):
    """Keys in row order, without reading rows back; a second insert in the same
    transaction continues after the first."""
    from django.utils import timezone

    from funnelwatch.telephony.ingest import CALL_FIELDS
    from funnelwatch.telephony.models import Call

    now = timezone.now()

    def row(ext: str) -> tuple:
        values = dict.fromkeys(CALL_FIELDS, "")
        values.update(
            provider="t",
            external_id=ext,
            direction="in",
            outcome="no_answer",
            raw={},
            manager=None,
            contact=None,
            deal=None,
            started_at=now,
            answered_at=None,
            ended_at=None,
            duration_s=0,
            talk_seconds=0,
            created_at=now,
        )
        return tuple(values[f] for f in CALL_FIELDS)

    Call.objects.create(provider="t", external_id="before", direction="in", started_at=now)
    first = fastdb.insert_returning_ids(Call, CALL_FIELDS, [row(f"a{i}") for i in range(7)])
    second = fastdb.insert_returning_ids(Call, CALL_FIELDS, [row("b0"), row("b1")])
    stored = dict(Call.objects.filter(provider="t").values_list("pk", "external_id"))
    assert [stored[pk] for pk in first] == [f"a{i}" for i in range(7)]
    assert [stored[pk] for pk in second] == ["b0", "b1"]
    assert sorted(first) == first and first[-1] < second[0]
    assert fastdb.insert_returning_ids(Call, CALL_FIELDS, []) == []
