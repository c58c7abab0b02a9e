"""A smoke run of the scale benchmark's parts on a tiny department, so the harness
cannot rot: the generator writes every table the metrics read, and the rollups, the
naive ORM path and DuckDB over Parquet agree on the numbers they share."""

from __future__ import annotations

import datetime as dt

import pytest

from bench import duck, naive
from bench.generate import generate
from funnelwatch.audit import chain
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine

SHARED = [
    "leads_received",
    "proposals_sent",
    "won_count",
    "lost_count",
    "calls_out",
    "calls_in",
    "calls_connected",
]


@pytest.mark.django_db(transaction=True)
def _indexes() -> set[str]:
    from django.db import connection

    with connection.cursor() as cur:
        tables = connection.introspection.table_names(cur)
        found = connection.introspection.get_constraints
        return {f"{t}.{name}" for t in tables for name, c in found(cur, t).items() if c["index"]}


@pytest.mark.django_db(transaction=True)
def test_tiny_department_agrees_across_engines(tmp_path):
    before = _indexes()
    counts = generate("XS", seed=2, end=dt.date(2026, 3, 31))
    # Its audit rows are linked into the audit chain like any others.
    verdict = chain.verify()
    assert verdict.intact and verdict.events == counts["audit_events"] > 1000
    # The bulk load drops secondary indexes while it writes: all are back afterwards.
    assert _indexes() == before and len(before) > 50
    assert counts["deals"] > 500 and counts["calls"] > 2000 and counts["stage_changes"] > 1000
    whole = Period(dt.date(2026, 2, 28), dt.date(2026, 4, 1))
    engine.rebuild(whole)
    month = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    from funnelwatch.accounts.models import User

    managers = list(User.objects.filter(role="manager").values_list("pk", flat=True))
    rolled = engine.group_values(SHARED, month, {m: {m} for m in managers})
    by_duck = duck.key_numbers(duck.export(tmp_path / "parquet"), month, SHARED)
    for key in SHARED:
        for m in managers:
            assert (rolled[m][key] or 0) == (by_duck.get((key, "current", m)) or 0), (key, m)
    assert sum(rolled[m]["calls_out"] for m in managers) > 0
    raw = naive.key_numbers(month)
    for m in managers:
        current = raw.get(("leads_received", m, "current"), [0, 0])[0]
        assert current == rolled[m]["leads_received"]
