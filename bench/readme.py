"""Put the latest benchmark tables into the README's performance section:
``python -m bench.readme`` (after ``make bench``)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    tables = []
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
