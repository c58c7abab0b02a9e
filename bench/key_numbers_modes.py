"""Time the key-numbers table for every manager over the last 30 days, as the benchmark's
queries step does (bench/steps.py), on a database already generated and rolled up:

    DATABASE_URL=postgres://... .venv/bin/python bench/key_numbers_modes.py --repeat 20

Modes: "working" (today's rows rewritten before each call: answers for periods with today
are read again, the earlier ones reused), "cold" (no answer reused), "warm" (nothing
changed), "http" (GET /metrics/ as the head, working day). ``--profile MODE`` prints
where one mode spends its time instead.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--modes", default="working,cold,warm,http")
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from bench.steps import _head, cold, custom, span, timed, working
    from funnelwatch.lib.dates import Period
    from funnelwatch.reports import queries

    settings.ALLOWED_HOSTS = ["*"]
    _start, end = span()
    month = Period(end - dt.timedelta(days=30), end)
    today = Period(end - dt.timedelta(days=1), end)
    head = _head()
    client = Client()
    client.force_login(head)
    query = custom(month)

    def table() -> object:
        return queries.key_numbers(head, month, by="manager")

    def page() -> None:
        response = client.get(f"/metrics/?{query}")
        assert response.status_code == 200, response.status_code

    modes = {
        "working": working(table, today),
        "cold": cold(table),
        "warm": table,
        "http": working(page, today),
    }
    if args.profile:
        func = modes[args.profile]
        func()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(3):
            func()
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(45)
        return
    out = {name: timed(modes[name], args.repeat) for name in args.modes.split(",")}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
