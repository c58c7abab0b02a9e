"""The pages that read waiting calls, when thousands of missed calls were never returned.

    .venv/bin/python bench/missed_backlog.py --numbers 2000 --waiting 150000 --returned 150000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/fw_missed \\
        .venv/bin/python bench/missed_backlog.py

A PBX that records only inbound calls, or a history imported without its callbacks,
leaves every missed call waiting: ``--waiting`` missed calls from ``--numbers`` numbers
over 90 days, none returned, beside ``--returned`` missed calls each followed by a
callback (so waiting has to be worked out, not just counted). Builds a fresh SQLite
database in a temporary data folder, or uses the (empty) PostgreSQL database of
DATABASE_URL, then prints the median of three runs of: the morning meeting's missed
calls (the 100 numbers whose wait began last), the missed-calls page's list (the 500
oldest waiting calls) and the alert rule's full list of overdue numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(numbers: int, waiting: int, returned: int, now: dt.datetime, seed: int = 1) -> None:
    from funnelwatch.accounts.models import Role, Team, User
    from funnelwatch.telephony.models import Call

    rng = random.Random(seed)
    team = Team.objects.create(name="Sales")
    User.objects.create(username="head", role=Role.HEAD, email="head@x.test")
    people = User.objects.bulk_create(
        User(username=f"m{i}", role=Role.MANAGER, team=team, email=f"m{i}@x.test")
        for i in range(20)
    )
    seq = iter(range(10**9))

    def call(direction: str, outcome: str, at: dt.datetime, number: str) -> Call:
        return Call(
            provider="bench",
            external_id=str(next(seq)),
            direction=direction,
            outcome=outcome,
            started_at=at,
            client_number=number,
            manager=rng.choice(people),
        )

    def moment() -> dt.datetime:
        return now - dt.timedelta(minutes=rng.randint(60, 90 * 24 * 60))

    rows = [call("in", "missed", moment(), f"+9768{rng.randrange(numbers):07d}")]
    rows += (
        call("in", "missed", moment(), f"+9768{rng.randrange(numbers):07d}")
        for _ in range(waiting - 1)
    )
    for i in range(returned):
        at, number = moment(), f"+9767{i:07d}"
        rows.append(call("in", "missed", at, number))
        rows.append(call("out", "answered", at + dt.timedelta(minutes=30), number))
    Call.objects.bulk_create(rows, batch_size=5000)
    from django.db import connection

    if connection.vendor == "postgresql":
        # What autovacuum does a minute after such a load (on a server where it is on).
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {Call._meta.db_table}")


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=2000)
    parser.add_argument("--waiting", type=int, default=150_000)
    parser.add_argument("--returned", type=int, default=150_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from bench.standalone import django_in

        django_in(tmp)
        from django.db import connection
        from django.utils import timezone

        from funnelwatch.accounts.models import User
        from funnelwatch.alerts import morning
        from funnelwatch.telephony import missed

        now = timezone.now()
        started = time.perf_counter()
        build(args.numbers, args.waiting, args.returned, now)
        print(
            f"{connection.vendor}: {args.waiting:,} calls waiting from {args.numbers:,} numbers, "
            f"{args.returned:,} returned; built in {time.perf_counter() - started:.0f} s"
        )
        head = User.objects.get(username="head")
        shown = len(morning.missed_calls(head, now))
        seconds = timed(lambda: morning.missed_calls(head, now))
        print(f"morning meeting, {shown} numbers: {seconds:.2f} s")
        rows = len(missed.unreturned(head, now))
        print(
            f"missed-calls page, {rows} calls: {timed(lambda: missed.unreturned(head, now)):.2f} s"
        )
        overdue = len(missed.overdue_numbers(now))
        print(f"alert rule, {overdue} numbers: {timed(lambda: missed.overdue_numbers(now)):.2f} s")


if __name__ == "__main__":
    main()
