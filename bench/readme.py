"""Put the latest benchmark tables into the README's performance section:
``python -m bench.readme`` (after ``make bench``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _runs() -> list[dict]:
    runs = []
    for size in ("S", "M", "L"):
        for db in ("sqlite", "postgres"):
            path = ROOT / "bench" / "results" / f"{size}-{db}-latest.json"
            if path.exists():
                runs.append(json.loads(path.read_text()))
    return runs


def summary(runs: list[dict]) -> str:
    """The targets (L size) against every run, one column per run."""
    if not runs:
        return ""

    def worst_page(r: dict) -> str:
        pages = {
            "key numbers": r["key_numbers"]["http_ms"],
            **{
                f"key numbers, {tab}": d
                for tab, d in r["key_numbers"].get("http_tabs_ms", {}).items()
            },
            "team funnel, quarter": r["funnel_quarter_ms"],
            "manager, year": r["manager_year_ms"],
            **r["pages_ms"],
        }
        name, d = max(pages.items(), key=lambda kv: kv[1]["p95"])
        return f"{d['p95']:.0f} ms ({name.split('?')[0]})"

    def ratio(a: dict, b: dict) -> str:
        return f"{a['median'] / b['median']:.0f}×" if b["median"] else "–"

    k = lambda r: r["key_numbers"]  # noqa: E731
    lines = [
        (
            "key numbers p95, working day (target < 100 ms)",
            lambda r: f"{k(r)['rollup_ms']['p95']:.0f} ms",
        ),
        (
            "key numbers p95, nothing reused",
            lambda r: f"{k(r)['cold_ms']['p95']:.0f} ms" if "cold_ms" in k(r) else "–",
        ),
        (
            "naive ORM ÷ rollups, nothing reused (target ≥ 20×)",
            lambda r: ratio(k(r)["naive_orm_ms"], k(r).get("cold_ms", k(r)["rollup_ms"])),
        ),
        (
            "DuckDB ÷ rollups, flow subset (target ≥ 1×)",
            lambda r: ratio(k(r)["duckdb_ms"], k(r)["subset_rollup_ms"]),
        ),
        ("slowest page p95 (target < 300 ms)", worst_page),
        (
            "Asterisk import (target ≥ 50,000 rows/s)",
            lambda r: f"{r['import_rows_per_s']:,} rows/s",
        ),
        (
            "webhooks, 1 / 4 / 16 clients (target ≥ 500 events/s)",
            lambda r: " / ".join(f"{v:,.0f}" for v in r["webhook_events_per_s"].values()),
        ),
        (
            "webhook events lost / duplicated",
            lambda r: f"{r['webhook_lost']} / {r['webhook_duplicated']}",
        ),
        ("generation (target L < 15 min)", lambda r: f"{r['generate_s'] / 60:.1f} min"),
        (
            "rollup rebuild, whole period / one day",
            lambda r: f"{r['rollup_rebuild_year_s']:.0f} s / {r['rollup_rebuild_day_ms']:.0f} ms",
        ),
    ]
    head = "| | " + " | ".join(f"{r['size']} {r['database']}" for r in runs) + " |"
    out = [head, "|---" * (len(runs) + 1) + "|"]
    for label, cell in lines:
        out.append(f"| {label} | " + " | ".join(cell(r) for r in runs) + " |")
    return "### Targets\n\n" + "\n".join(out) + "\n"


def main() -> None:
    tables = [summary(_runs())] if _runs() else []
    for size in ("S", "M", "L"):
        for db in ("sqlite", "postgres"):
            md = ROOT / "bench" / "results" / f"{size}-{db}-latest.md"
            if md.exists():
                tables.append(
                    f"### {size} on {'SQLite' if db == 'sqlite' else 'PostgreSQL'}"
                    f"\n\n{md.read_text().strip()}\n"
                )
    readme = ROOT / "README.md"
    text = readme.read_text()
    body = "\n".join(tables) or "No benchmark has been run yet.\n"
    text = re.sub(
        r"<!-- bench:start -->.*<!-- bench:end -->",
        lambda _m: f"<!-- bench:start -->\n{body}<!-- bench:end -->",
        text,
        flags=re.S,
    )
    readme.write_text(text)


if __name__ == "__main__":
    main()
