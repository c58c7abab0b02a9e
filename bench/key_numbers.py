"""Time the key-numbers table: from the daily rollups vs straight from raw records.

    .venv/bin/python bench/key_numbers.py --managers 200 --days 90

Builds a throw-away department (SQLite under a temporary folder unless DATABASE_URL is
set) with bulk inserts: per manager and day a few leads moving through the funnel,
proposals, notes, meetings, tasks and audit rows; then rebuilds the rollups and times
the table for all managers over the last 30 days (with the previous period and the
4-week baseline, as the page shows it), both ways.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def generate(managers: int, days: int, seed: int = 1) -> tuple[object, dt.date]:
    """The department, written with bulk inserts; returns the head and the first day."""
    from django.db import transaction
    from django.utils import timezone

    from funnelwatch.accounts.models import Role, Team, User
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.core.testing import make_pipeline
    from funnelwatch.crm.models import (
        Deal,
        JunkReason,
        LostReason,
        Meeting,
        Note,
        OwnerChange,
        Proposal,
        StageChange,
        Task,
    )

    rng = random.Random(seed)
    tz = timezone.get_current_timezone()
    today = timezone.now().astimezone(tz).date()
    first = today - dt.timedelta(days=days)
    with transaction.atomic():
        head = User.objects.create(username="head", role=Role.HEAD)
        teams = Team.objects.bulk_create(
            [Team(name=f"Team {i}") for i in range(managers // 10 + 1)]
        )
        users = User.objects.bulk_create(
            [
                User(
                    username=f"m{i:04d}",
                    first_name=f"Manager {i}",
                    role=Role.MANAGER,
                    team=teams[i // 10],
                )
                for i in range(managers)
            ]
        )
        pipeline, stages = make_pipeline()
        reason = LostReason.objects.create(name="Too expensive")
        path = ["New lead", "Qualified", "Proposal sent", "Objections", "Contract"]
        closing = {"won": "Won", "lost": "Lost", "junk": "Junk"}
        junk = JunkReason.objects.create(name="Spam")
        now = timezone.now()
        deals, timelines = [], []
        for day_i in range(days):
            day = first + dt.timedelta(days=day_i)
            for u in users:
                for _ in range(rng.randint(1, 4)):
                    created = dt.datetime.combine(day, dt.time(9), tzinfo=tz) + dt.timedelta(
                        minutes=rng.randint(0, 540)
                    )
                    # The deal's life first (stage, entered, left), then one insert.
                    steps = rng.choices(range(1, 6), weights=[3, 2, 3, 2, 2])[0]
                    timeline, t = [], created
                    for name in path[:steps]:
                        nxt = t + dt.timedelta(hours=rng.randint(4, 96))
                        timeline.append([name, t, nxt if nxt < now else None])
                        if nxt >= now:
                            break
                        t = nxt
                    end = rng.choice(["won", "lost", "junk", "open"]) if steps > 1 else "junk"
                    if timeline[-1][2] is None:
                        end = "open"
                    if end == "open":
                        timeline[-1][2] = None
                    else:
                        timeline.append([closing[end], t, None])
                    amount = Decimal(rng.randint(10, 500) * 1000)
                    deals.append(
                        Deal(
                            title=f"D{len(deals)}",
                            owner=u,
                            pipeline=pipeline,
                            stage=stages[timeline[-1][0]],
                            amount=amount,
                            cost=amount * Decimal("0.6"),
                            currency="MNT",
                            status=end,
                            created_at=created,
                            stage_entered_at=timeline[-1][1],
                            closed_at=t if end != "open" else None,
                            lost_reason=reason if end == "lost" else None,
                            junk_reason=junk if end == "junk" else None,
                        )
                    )
                    timelines.append(timeline)
        Deal.objects.bulk_create(deals, batch_size=2000)
        changes, owners, proposals, notes, meetings, tasks, audit = [], [], [], [], [], [], []
        for deal, timeline in zip(deals, timelines, strict=True):
            owners.append(OwnerChange(deal=deal, to_owner=deal.owner, at=deal.created_at))
            prev = None
            for name, t, left in timeline:
                changes.append(
                    StageChange(
                        deal=deal,
                        from_stage=prev,
                        to_stage=stages[name],
                        at=t,
                        left_at=left,
                        owner=deal.owner,
                    )
                )
                audit.append(
                    AuditEvent(
                        occurred_at=t,
                        actor=deal.owner,
                        source="user",
                        action="update" if prev else "create",
                        object_type="crm.deal",
                        object_id=str(deal.pk),
                    )
                )
                prev = stages[name]
                if name == "Proposal sent":
                    proposals.append(
                        Proposal(
                            deal=deal,
                            author=deal.owner,
                            amount=deal.amount,
                            sent_at=t + dt.timedelta(hours=1),
                        )
                    )
                if name == "Objections":
                    notes.append(
                        Note(
                            deal=deal,
                            author=deal.owner,
                            text="objection",
                            created_at=t + dt.timedelta(hours=2),
                        )
                    )
                    meetings.append(
                        Meeting(
                            deal=deal,
                            owner=deal.owner,
                            scheduled_at=t,
                            held_at=t + dt.timedelta(hours=3),
                            status="held",
                        )
                    )
            due = deal.created_at + dt.timedelta(days=1)
            done = due + dt.timedelta(hours=rng.randint(-20, 10))
            tasks.append(
                Task(
                    title="call",
                    author=deal.owner,
                    assignee=deal.owner,
                    due_at=due,
                    done_at=done if done < now else None,
                    deal=deal,
                    created_at=deal.created_at,
                )
            )
        for model, rows in (
            (StageChange, changes),
            (OwnerChange, owners),
            (Proposal, proposals),
            (Note, notes),
            (Meeting, meetings),
            (Task, tasks),
            (AuditEvent, audit),
        ):
            model.objects.bulk_create(rows, batch_size=2000)
    counts = {
        "deals": len(deals),
        "stage changes": len(changes),
        "proposals": len(proposals),
        "tasks": len(tasks),
        "audit rows": len(audit),
    }
    print("raw records:", ", ".join(f"{v} {k}" for k, v in counts.items()))
    return head, first


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from bench.standalone import django_in

        django_in(tmp, refresh_on_event=False)
        from funnelwatch.lib.dates import Period
        from funnelwatch.metrics import engine
        from funnelwatch.metrics.common import today
        from funnelwatch.metrics.models import DailySample, DailyValue
        from funnelwatch.reports import queries

        t0 = time.perf_counter()
        head, first = generate(args.managers, args.days)
        print(
            f"generated {args.managers} managers x {args.days} days "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        end = today() + dt.timedelta(days=1)
        t0 = time.perf_counter()
        engine.rebuild(Period(first, end))
        rows = DailyValue.objects.count() + DailySample.objects.count()
        print(f"rollups rebuilt in {time.perf_counter() - t0:.1f} s ({rows} rows)")
        period = Period(end - dt.timedelta(days=30), end)

        def table(source: str, compare: bool):
            return lambda: queries.key_numbers(head, period, source=source, compare=compare)

        figures = [
            ("rollups, value only", *timed(table("rollup", False), args.repeat)),
            (
                "rollups, + previous period + 4-week baseline",
                *timed(table("rollup", True), args.repeat),
            ),
            ("raw records, value only", *timed(table("raw", False), max(1, args.repeat // 3))),
            ("raw records, + previous period + 4-week baseline", *timed(table("raw", True), 1)),
        ]
        for name, ms, result in figures:
            cells = len(result.rows) * len(result.metrics)
            print(
                f"key numbers {args.managers} managers x 30 days, {name}: {ms:.0f} ms "
                f"({len(result.rows)} rows x {len(result.metrics)} metrics = {cells} cells)"
            )
        a = figures[0][2]
        b = figures[2][2]
        same = all(
            ra.cells[k].value == rb.cells[k].value
            for ra, rb in zip(a.rows, b.rows, strict=True)
            for k in ra.cells
        )
        print("rollup and raw tables agree:", same)
        # Where the rollup read spends its time, metric by metric (the slowest five).
        from funnelwatch.metrics import registry

        groups = {i: r.members for i, r in enumerate(a.rows)}
        costs = []
        for metric in registry.all_metrics():
            with engine.memoized():
                ms, _ = timed(lambda m=metric: engine.group_values([m.key], period, groups), 3)
            costs.append((ms, metric.key, metric.kind))
        for ms, key, kind in sorted(costs, reverse=True)[:5]:
            print(f"  {key} ({kind}): {ms:.1f} ms")


if __name__ == "__main__":
    main()
