"""One benchmark step per process (see bench/run.py); prints one JSON line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import django

HERE = Path(__file__).resolve().parent


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(func: Callable[[], object], repeat: int, warm: bool = True) -> dict:
    if warm:
        func()  # warm caches once, as a server that has answered before would have them
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return {"median": round(statistics.median(times), 2), "p95": round(p95, 2), "runs": repeat}


def span() -> tuple[dt.date, dt.date]:
    from funnelwatch.crm.models import Deal

    first = Deal.objects.order_by("created_at").values_list("created_at", flat=True).first()
    last = Deal.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    return first.date(), last.date() + dt.timedelta(days=1)


def step_generate(args: argparse.Namespace) -> dict:
    from bench.generate import generate

    started = time.perf_counter()
    counts = generate(args.size)
    return {"seconds": round(time.perf_counter() - started, 1), "counts": counts}


def step_rollups(args: argparse.Namespace) -> dict:
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import engine

    start, end = span()
    started = time.perf_counter()
    rows = 0
    month = start
    while month < end:  # month by month keeps memory bounded
        nxt = min(end, month + dt.timedelta(days=31))
        rows += engine.rebuild(Period(month, nxt))
        month = nxt
    engine.refresh_statistics()
    year_s = time.perf_counter() - started
    day = end - dt.timedelta(days=3)
    day_ms = timed(lambda: engine.rebuild(Period(day, day + dt.timedelta(days=1))), 3)
    return {"year_s": round(year_s, 1), "rows": rows, "day_ms": day_ms["median"]}


def _head():
    from funnelwatch.accounts.models import User

    return User.objects.get(username="head")


FLOW_SUBSET = [
    "leads_received",
    "proposals_sent",
    "proposals_amount",
    "won_count",
    "won_amount",
    "lost_count",
    "crm_actions",
    "tasks_done",
    "calls_out",
    "calls_in",
    "calls_connected",
    "talk_minutes",
]


def working(func: Callable[[], object], today: object) -> Callable[[], object]:
    """``func`` as in the working day: something happened today just before (today's
    rollups rewritten), so answers for periods with today are read again, while answers
    for earlier periods (the previous period, the baseline) are reused."""
    from funnelwatch.metrics import engine

    def run() -> object:
        engine.stamp(today)
        return func()

    return run


def cold(func: Callable[[], object]) -> Callable[[], object]:
    """``func`` reading every rollup row, reusing no earlier answer."""
    from django.conf import settings

    def run() -> object:
        saved = settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS
        settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS = 0
        try:
            return func()
        finally:
            settings.FUNNELWATCH_ROLLUP_CACHE_SECONDS = saved

    return run


def custom(period: object) -> str:
    """The query of a period on the pages: they read from/to only with period=custom
    (otherwise the current week or month), and their "to" is inclusive."""
    return f"period=custom&from={period.start}&to={period.end - dt.timedelta(days=1)}"


def _tabs() -> list[str]:
    """The key-numbers tabs of the registered metrics, in the page's order (the head sees
    them all)."""
    from funnelwatch.metrics import registry
    from funnelwatch.reports.views import TABS

    blocks = {m.block for m in registry.all_metrics()}
    return [name for name, _label, b in TABS if blocks & set(b)]


def step_queries(args: argparse.Namespace) -> dict:
    from django.test import Client

    from bench import duck, naive
    from funnelwatch.lib.dates import Period
    from funnelwatch.metrics import registry
    from funnelwatch.reports import queries

    start, end = span()
    month = Period(end - dt.timedelta(days=30), end)
    quarter = Period(end - dt.timedelta(days=91), end)
    year = Period(max(start, end - dt.timedelta(days=365)), end)
    head = _head()
    client = Client()
    client.force_login(head)
    subset = [k for k in FLOW_SUBSET if k in {m.key for m in registry.all_metrics()}]

    today = Period(end - dt.timedelta(days=1), end)

    def get(url: str) -> Callable[[], None]:
        def fetch() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return working(fetch, today)

    q = custom(month)
    from funnelwatch.accounts.models import Team, User

    team = Team.objects.order_by("pk").first()
    manager = User.objects.filter(role="manager").order_by("pk").first()
    parquet = duck.export(HERE / "data" / f"{args.size}-parquet")

    def table() -> object:
        return queries.key_numbers(head, month, by="manager")

    result = {
        "key_numbers": {
            "rollup_ms": timed(working(table, today), args.repeat),
            "cold_ms": timed(cold(table), args.repeat),
            "warm_ms": timed(table, args.repeat),
            "http_ms": timed(get(f"/metrics/?{q}"), args.repeat),
            # Each tab as its own page (``block=`` also makes it the tab the page opens
            # with next time: the first one is chosen again after).
            "http_tabs_ms": {
                tab: timed(get(f"/metrics/?{q}&block={tab}"), max(5, args.repeat // 2))
                for tab in _tabs()
            },
            # Minutes per run at M and L: run it once there, cold like a page view is.
            "naive_orm_ms": (
                timed(lambda: naive.key_numbers(month), max(3, args.repeat // 5))
                if args.size in ("XS", "S")
                else timed(lambda: naive.key_numbers(month), 1, warm=False)
            ),
            "subset_rollup_ms": timed(
                # Cold, like DuckDB's and the naive ORM's answers it is compared with.
                cold(lambda: queries.key_numbers(head, month, by="manager", metrics=subset)),
                args.repeat,
            ),
            "duckdb_ms": timed(lambda: duck.key_numbers(parquet, month, subset), args.repeat),
            "subset": subset,
        },
        "funnel_quarter_ms": timed(
            get(f"/metrics/funnel/?{custom(quarter)}&team={team.pk}"),
            args.repeat,
        ),
        "manager_year_ms": timed(
            get(f"/metrics/managers/{manager.pk}/?from={year.start}&to={year.end}"), args.repeat
        ),
        "pages_ms": {},
    }
    get(f"/metrics/?{q}&block={next(iter(_tabs()))}")()
    deal_id = manager.deals.order_by("-pk").values_list("pk", flat=True).first()
    for page in [
        "/crm/board/",
        "/crm/deals/",
        f"/crm/deals/{deal_id}/",
        "/crm/tasks/",
        "/crm/contacts/",
        f"/metrics/sales/?{q}",
        "/telephony/calls/",
        "/telephony/missed/",
        "/alerts/",
        "/alerts/morning/",
    ]:
        try:
            result["pages_ms"][page] = timed(get(page), max(5, args.repeat // 2))
        except AssertionError as exc:
            result["pages_ms"][page] = {"median": -1, "p95": -1, "error": str(exc)}
    return result


def step_import(args: argparse.Namespace) -> dict:
    from bench.cdr import write_master_csv
    from funnelwatch.telephony.importer import import_file

    rows = {"XS": 20_000, "S": 200_000}.get(args.size, 1_000_000)
    path = HERE / "data" / f"Master-{rows}.csv"
    if not path.exists():
        write_master_csv(path, rows)
    # A rerun on the same database (--keep) would only find duplicates: start clean.
    from django.db import connection

    from funnelwatch.telephony.models import Call, CallLeg

    with connection.cursor() as cur:
        calls = Call._meta.db_table
        ids = f"SELECT id FROM {calls} WHERE provider = 'asterisk'"
        cur.execute(
            f"UPDATE {calls} SET callback_id = NULL, callback_at = NULL "
            f"WHERE callback_id IN ({ids})"
        )
        cur.execute(f"DELETE FROM {CallLeg._meta.db_table} WHERE call_id IN ({ids})")
        if connection.vendor == "postgresql":
            # Nothing points at these calls any more: skip a foreign-key check per row
            # (at L a million rows took over seven minutes with them).
            cur.execute("SET session_replication_role = replica")
        cur.execute(f"DELETE FROM {calls} WHERE provider = 'asterisk'")
        if connection.vendor == "postgresql":
            cur.execute("SET session_replication_role = DEFAULT")
    started = time.perf_counter()
    report = import_file(path, "asterisk-csv")
    seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "created": report.calls_created,
        "rejected": len(report.rejected),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step_webhooks(args: argparse.Namespace) -> dict:
    from bench import http_load
    from bench.webhook_events import make_event, stored_counts

    port = _free_port()
    # BENCH_WEBHOOK_MODE: "default" (the default) runs the product's default settings
    # (events stored and answered at once, turned into calls by the worker in batches);
    # "sync" each event turned into its call in its own request.
    mode = os.environ.get("BENCH_WEBHOOK_MODE", "default")
    env = dict(os.environ)
    env.pop("FUNNELWATCH_WEBHOOK_MODE", None)
    if mode != "default":
        env["FUNNELWATCH_WEBHOOK_MODE"] = mode
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "funnelwatch.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "-k",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=HERE.parent,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        per_run = int(
            os.environ.get("BENCH_WEBHOOK_EVENTS") or {"XS": 300, "S": 2000}.get(args.size, 5000)
        )
        runs, sent = {}, 0
        for concurrency in (1, 4, 16):
            base = sent

            def make(i: int, base: int = base):
                return make_event(base + i)

            runs[str(concurrency)] = http_load.run("127.0.0.1", port, make, per_run, concurrency)
            sent += per_run
        # Every event once more: a PBX retrying must not create a second call.
        replay = http_load.run("127.0.0.1", port, make_event, min(sent, 1000), 4)
    finally:
        server.terminate()
        server.wait(timeout=30)
    from funnelwatch.telephony import webhooks

    started, processed = time.perf_counter(), 0
    while (batch := webhooks.process_pending())["processed"] + batch["failed"]:
        processed += batch["processed"]
    process_s = time.perf_counter() - started
    # The rollups of the (manager, day) pairs the events marked dirty, as the worker's
    # ``metrics-dirty`` job recomputes them.
    from funnelwatch.metrics import refresh

    started = time.perf_counter()
    dirty_pairs = refresh.flush_dirty()
    dirty_s = time.perf_counter() - started
    stored, duplicated = stored_counts(sent)
    return {
        "mode": mode,
        "runs": runs,
        "replayed": replay,
        "sent": sent,
        "stored": stored,
        "lost": sent - stored,
        "duplicated": duplicated,
        "queue_processed": processed,
        "queue_events_per_s": round(processed / process_s) if process_s else None,
        "dirty_pairs_refreshed": dirty_pairs,
        "dirty_refresh_s": round(dirty_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("step")
    parser.add_argument("--size", default="S")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    django.setup()
    result = globals()[f"step_{args.step}"](args)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
