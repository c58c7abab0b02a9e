"""The scale benchmark: ``make bench SIZE=S|M|L DB=sqlite|postgres``.

Builds a department of the given size in a fresh database, then measures, in one run so
the figures share the machine's state: rollup rebuilds, the key-numbers table (through
the rollups, through the HTTP endpoint, computed naively from raw rows with the ORM, and
by DuckDB over the same raw rows in Parquet), a team's funnel for a quarter, one
manager's page for a year, Asterisk CSV import speed, and webhook ingestion with 1, 4
and 16 concurrent clients. Each step runs in its own process so its peak memory is its
own. Results: ``bench/results/<size>-<db>-latest.json`` and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results"
PY = sys.executable
STEPS = ("rollups", "queries", "import", "webhooks")


def database_env(size: str, db: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "funnelwatch.settings"
    env["FUNNELWATCH_DATA_DIR"] = str(DATA / f"{size}-{db}")
    env["FUNNELWATCH_CALLS_WEBHOOK_SECRET"] = "bench-secret"
    env["FUNNELWATCH_TASKS_BACKEND"] = "django_tasks.backends.dummy.DummyBackend"
    if db == "postgres":
        host = os.environ.get("PGHOST", "127.0.0.1")
        env["DATABASE_URL"] = f"postgres://postgres@{host}:5432/fw_bench_{size.lower()}"
    else:
        env.pop("DATABASE_URL", None)
    return env


def fresh_database(size: str, db: str, env: dict[str, str]) -> None:
    folder = Path(env["FUNNELWATCH_DATA_DIR"])
    if folder.exists():
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    folder.mkdir(parents=True)
    if db == "postgres":
        name = f"fw_bench_{size.lower()}"
        host = os.environ.get("PGHOST", "127.0.0.1")
        for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", "-h", host, "-U", "postgres", "-q", "-c", sql], check=True)
    subprocess.run(
        [PY, "-m", "funnelwatch.cli", "migrate", "-v", "0"], env=env, check=True, cwd=ROOT
    )


def step(name: str, args: argparse.Namespace, env: dict[str, str]) -> dict:
    """Run one measurement in its own process and return what it printed (JSON)."""
    print(f"-- {name}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [PY, "-m", "bench.steps", name, "--size", args.size, "--repeat", str(args.repeat)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"step {name} failed")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 2)
    print(f"   {json.dumps(result)[:400]}", flush=True)
    return result


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {system}"


def summarise(args: argparse.Namespace, steps: dict[str, dict]) -> dict:
    gen, q = steps["generate"], steps["queries"]
    return {
        "size": args.size,
        "database": args.db,
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "command": f"make bench SIZE={args.size} DB={args.db}",
        "managers": gen["counts"]["managers"],
        "calls": gen["counts"].get("calls", 0),
        "deals": gen["counts"]["deals"],
        "stage_changes": gen["counts"]["stage_changes"],
        "emails": gen["counts"].get("emails", 0),
        "generate_s": gen["seconds"],
        "rollup_rebuild_year_s": steps["rollups"]["year_s"],
        "rollup_rebuild_day_ms": steps["rollups"]["day_ms"],
        "key_numbers": q["key_numbers"],
        "funnel_quarter_ms": q["funnel_quarter_ms"],
        "manager_year_ms": q["manager_year_ms"],
        "pages_ms": q["pages_ms"],
        "import_rows_per_s": steps["import"]["rows_per_s"],
        "import": steps["import"],
        "webhook_events_per_s": {k: v["per_s"] for k, v in steps["webhooks"]["runs"].items()},
        "webhook_lost": steps["webhooks"]["lost"],
        "webhook_duplicated": steps["webhooks"]["duplicated"],
        "webhook_queue_processed_per_s": steps["webhooks"].get("queue_events_per_s"),
        "webhook_mode": steps["webhooks"].get("mode", "queue"),
        "webhook_dirty_refresh_s": steps["webhooks"].get("dirty_refresh_s"),
        "peak_rss_mb": {name: s.get("peak_rss_mb") for name, s in steps.items()},
    }


def markdown(r: dict) -> str:
    k = r["key_numbers"]

    def ms(d: dict) -> str:
        return f"{d['median']:.1f} / {d['p95']:.1f}"

    rows = [
        f"Size {r['size']} on {r['database']}: {r['managers']} managers, {r['deals']:,} deals, "
        f"{r['stage_changes']:,} stage changes, {r['calls']:,} calls, {r['emails']:,} e-mails "
        f"(generated in {r['generate_s']:.0f} s). {r['date']}, {r['machine']}; `{r['command']}`.",
        "",
        f"Webhooks are measured with {r.get('webhook_mode', 'queue')} settings "
        "(BENCH_WEBHOOK_MODE: `default`, the product's defaults: each event stored and "
        "answered, turned into its call by the worker's batches; or `sync`, each event "
        "turned into its call in its own request), "
        "gunicorn gthread 2 workers × 4 threads. Pages and the key-numbers table are timed "
        "as in the working day: before each request today's rollups are rewritten (as a "
        "call or a deal change would), so every answer that includes today is read from "
        "the database; answers for earlier periods (previous period, 4-week baseline) are "
        "reused while none of their days changed.",
        "",
        "| measurement | median / p95 |",
        "| --- | --- |",
        "| key-numbers table, all managers × 30 days, from rollups (function), in the working "
        f"day: today's rollups just changed | {ms(k['rollup_ms'])} ms |",
        "| the page as it opens through HTTP (`GET /metrics/`: the first tab's columns, "
        f"server time) | {ms(k['http_ms'])} ms |",
        "| the same function reading every rollup row (no earlier answer reused) | "
        f"{ms(k['cold_ms'])} ms |"
        if "cold_ms" in k
        else "",
        f"| the same function when nothing changed since the last view | {ms(k['warm_ms'])} ms |"
        if "warm_ms" in k
        else "",
        f"| the same computed naively from raw rows with the ORM | {ms(k['naive_orm_ms'])} ms |",
        "| flow metrics subset from rollups (no earlier answer reused) | "
        f"{ms(k['subset_rollup_ms'])} ms |",
        f"| the same subset by DuckDB over Parquet of the raw rows | {ms(k['duckdb_ms'])} ms |",
        f"| a team's funnel for a quarter (HTTP) | {ms(r['funnel_quarter_ms'])} ms |",
        f"| one manager's page for a year (HTTP) | {ms(r['manager_year_ms'])} ms |",
    ]
    rows = [row for row in rows if row != ""]
    for tab, d in k.get("http_tabs_ms", {}).items():
        rows.append(f"| key numbers, tab `{tab}` through HTTP (`?block={tab}`) | {ms(d)} ms |")
    for page, d in r["pages_ms"].items():
        rows.append(f"| page `{page}` (HTTP) | {ms(d)} ms |")
    rows += [
        f"| rollup rebuild, whole period | {r['rollup_rebuild_year_s']:.1f} s |",
        f"| rollup rebuild, one day | {r['rollup_rebuild_day_ms']:.0f} ms |",
        f"| Asterisk CSV import | {r['import_rows_per_s']:,.0f} rows/s |",
    ]
    for c, v in r["webhook_events_per_s"].items():
        rows.append(f"| webhook events, {c} concurrent client(s) | {v:,.0f} events/s |")
    rows.append(
        "| queued webhook events turned into calls (worker batch) | "
        f"{r.get('webhook_queue_processed_per_s') or 0:,} events/s |"
    )
    rows.append(
        f"| webhook events lost / duplicated | {r['webhook_lost']} / {r['webhook_duplicated']} |"
    )
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mb"].items() if v)
    rows += ["", f"Peak memory per step (MB): {peaks}."]
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="S", choices=["XS", "S", "M", "L"])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--repeat", type=int, default=20, help="runs per timed query")
    parser.add_argument("--keep", action="store_true", help="reuse the generated database")
    parser.add_argument(
        "--steps",
        default="rollups,queries,import,webhooks",
        help="with --keep: the steps to run again; the others' last results are reused",
    )
    args = parser.parse_args()
    env = database_env(args.size, args.db)
    folder = Path(env["FUNNELWATCH_DATA_DIR"])
    steps: dict[str, dict] = {}
    wanted = ["generate", *STEPS] if not args.keep else args.steps.split(",")
    if not args.keep:
        fresh_database(args.size, args.db, env)
    missing = []
    for name in ["generate", *STEPS]:
        saved = folder / f"{name}.json"
        if name in wanted:
            steps[name] = step(name, args, env)
            saved.write_text(json.dumps(steps[name]))
        elif saved.exists():
            steps[name] = json.loads(saved.read_text())
        else:
            missing.append(name)
    if missing:
        # A kept database measured step by step: the table waits for the other steps.
        print(f"no table yet: steps {', '.join(missing)} have not run on {folder}")
        return
    result = summarise(args, steps)
    RESULTS.mkdir(exist_ok=True)
    base = RESULTS / f"{args.size}-{args.db}-latest"
    base.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    base.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
