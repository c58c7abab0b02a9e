"""Import speed of deals (target: 100,000 deals in under a minute).

    .venv/bin/python bench/import_deals.py --deals 100000

Generates a data set of the CRM-sales-opportunities shape (funnelwatch.imports.samples:
agents, accounts, products; deals prospecting, engaging, won and lost with their dates and
values), imports it with the generic mapping into a freshly migrated SQLite database in a
temporary data folder (the import creates the pipeline, the stages and the owners), and
prints the time of the import itself, of the rollups it rebuilds, and of a rerun (which
finds every deal unchanged).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    from bench.standalone import django_in

    django_in(tmp)
    from funnelwatch.imports import engine, samples

    t = time.perf_counter()
    data = samples.opportunities(args.deals)["sales_pipeline.csv"]
    print(
        f"generated {args.deals} deals in {time.perf_counter() - t:.1f}s ({len(data) / 1e6:.1f} MB)"
    )
    rebuilt = []
    real_rebuild = engine.rebuild

    def timed_rebuild(touched):
        start, cpu = time.perf_counter(), time.process_time()
        real_rebuild(touched)
        rebuilt.append((time.perf_counter() - start, time.process_time() - cpu))

    engine.rebuild = timed_rebuild
    t, cpu = time.perf_counter(), time.process_time()
    report, _batch = engine.run([("sales_pipeline.csv", data)], "generic", samples.MAPPING)
    took, took_cpu = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"rows {report.rows}, created {report.created}, rejected {len(report.rejected)}, "
        f"warnings {len(report.warnings)}"
    )
    wall, cpu_rebuild = rebuilt[0]
    print(
        f"import: {took:.1f}s in all ({took - wall:.1f}s writing, {wall:.1f}s rebuilding the "
        f"rollups), {report.rows / took:,.0f} deals/s"
    )
    # The machine may be shared: the process's own CPU time (SQLite works in-process) says
    # what the import costs when it has a core to itself.
    print(
        f"CPU time: {took_cpu:.1f}s in all ({took_cpu - cpu_rebuild:.1f}s writing, "
        f"{cpu_rebuild:.1f}s rebuilding the rollups); load average {os.getloadavg()[0]:.1f}"
    )
    t, cpu = time.perf_counter(), time.process_time()
    again, _batch = engine.run([("sales_pipeline.csv", data)], "generic", samples.MAPPING)
    print(
        f"rerun: {time.perf_counter() - t:.1f}s (CPU {time.process_time() - cpu:.1f}s), "
        f"created {again.created}, unchanged {again.unchanged}"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
