"""Time of one alert evaluation and one evening digest on a big department.

    .venv/bin/python bench/alerts_evaluate.py --managers 30 --deals 20000 --calls 50000

Builds a fresh SQLite database in a temporary data folder (bulk inserts, not the services:
this measures the rules, not the CRM), then prints the seconds each rule took, the whole
evaluation, a second evaluation (nothing changed: updates only) and the digest build.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(managers: int, deals: int, calls: int, seed: int = 1) -> None:
    from django.utils import timezone

    from funnelwatch.accounts.models import Role, Team, User
    from funnelwatch.alerts.rules import call_model
    from funnelwatch.core.testing import make_pipeline
    from funnelwatch.crm.models import Contact, ContactPhone, Deal, Meeting, Outcome, Task

    rng = random.Random(seed)
    now = timezone.now()
    team = Team.objects.create(name="Sales")
    User.objects.create(username="head", role=Role.HEAD, email="head@x.test")
    people = User.objects.bulk_create(
        User(username=f"m{i}", role=Role.MANAGER, team=team, email=f"m{i}@x.test")
        for i in range(managers)
    )
    _pipeline, stages = make_pipeline()
    open_stages = [s for s in stages.values() if s.outcome == Outcome.OPEN]
    contacts = Contact.objects.bulk_create(Contact(name=f"c{i}") for i in range(deals))
    ContactPhone.objects.bulk_create(
        ContactPhone(contact=c, number=f"+9769{i:07d}") for i, c in enumerate(contacts)
    )
    rows = []
    for i, c in enumerate(contacts):
        created = now - dt.timedelta(hours=rng.randint(1, 24 * 60))
        rows.append(
            Deal(
                title=f"d{i}",
                contact=c,
                owner=rng.choice(people),
                currency="MNT",
                pipeline=_pipeline,
                stage=rng.choice(open_stages),
                created_at=created,
                stage_entered_at=created,
                amount=rng.randint(100, 10000),
            )
        )
    made = Deal.objects.bulk_create(rows, batch_size=2000)
    Task.objects.bulk_create(
        (
            Task(
                title="t",
                author=d.owner,
                assignee=d.owner,
                deal=d,
                due_at=now + dt.timedelta(days=rng.randint(-10, 10)),
            )
            for d in rng.sample(made, len(made) // 4)
        ),
        batch_size=2000,
    )
    Meeting.objects.bulk_create(
        (
            Meeting(
                deal=d,
                owner=d.owner,
                scheduled_at=now - dt.timedelta(days=5),
                held_at=now - dt.timedelta(days=5),
                status="held",
            )
            for d in rng.sample(made, len(made) // 10)
        ),
        batch_size=2000,
    )
    call = call_model()
    if call is not None:
        call.objects.bulk_create(
            (
                call(
                    provider="bench",
                    external_id=str(i),
                    direction=rng.choice(["in", "out"]),
                    outcome=rng.choice(["answered", "no_answer"]),
                    started_at=now - dt.timedelta(minutes=rng.randint(1, 14 * 24 * 60)),
                    client_number=f"+9769{rng.randrange(deals):07d}",
                    manager=rng.choice(people),
                )
                for i in range(calls)
            ),
            batch_size=2000,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--managers", type=int, default=30)
    parser.add_argument("--deals", type=int, default=20000)
    parser.add_argument("--calls", type=int, default=50000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from bench.standalone import django_in

        django_in(tmp)
        t0 = time.perf_counter()
        build(args.managers, args.deals, args.calls)
        print(f"built in {time.perf_counter() - t0:.1f}s")
        from django.utils import timezone

        from funnelwatch.alerts import digests, engine
        from funnelwatch.alerts.models import Alert
        from funnelwatch.alerts.rules import RULES

        for label in ("first evaluation", "second evaluation"):
            t0 = time.perf_counter()
            for kind in RULES:
                t1 = time.perf_counter()
                outcome = engine.evaluate(kinds=[kind])[kind]
                print(f"  {kind}: {outcome} ({time.perf_counter() - t1:.2f}s)")
            print(f"{label}: {time.perf_counter() - t0:.2f}s, {Alert.objects.count()} alerts")
        t0 = time.perf_counter()
        day = timezone.localdate()
        sent = digests.deliver(digests.DAILY, day, timezone.now(), send_mail=False)
        print(f"evening digest: {sent} copies in {time.perf_counter() - t0:.2f}s")


if __name__ == "__main__":
    main()
