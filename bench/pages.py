"""Time the funnel (first team, a quarter) and sales (a month) pages over HTTP, as
``step_queries`` in bench/steps.py does: in the working day (today's rollups marked
rewritten before each request), median and p95 of ``--repeat`` runs.

    PYTHONPATH=$PWD FUNNELWATCH_DATA_DIR=... DATABASE_URL=... python -m bench.pages [--queries]

``--queries``: one request of each page with its statements, slowest first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--queries", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.steps import _head, custom, span, timed, working
    from funnelwatch.accounts.models import Team
    from funnelwatch.lib.dates import Period

    _start, end = span()
    today = Period(end - dt.timedelta(days=1), end)
    client = Client()
    client.force_login(_head())
    team = Team.objects.order_by("pk").first()

    pages = {
        "funnel_quarter": f"/metrics/funnel/?{custom(Period(end - dt.timedelta(days=91), end))}"
        f"&team={team.pk}",
        "sales_month": f"/metrics/sales/?{custom(Period(end - dt.timedelta(days=30), end))}",
    }

    def get(url: str):
        def run() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return working(run, today)

    for name, url in pages.items():
        if not args.queries:
            print(name, timed(get(url), args.repeat), flush=True)
            continue
        get(url)()
        with CaptureQueriesContext(connection) as captured:
            get(url)()
        queries = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
        total = sum(float(q["time"]) for q in queries) * 1000
        print(f"{name}: {len(queries)} statements, {total:.0f} ms in the database")
        for q in queries[:10]:
            print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:160]}")


if __name__ == "__main__":
    main()
