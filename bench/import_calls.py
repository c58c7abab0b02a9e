"""Import speed of a big Asterisk Master.csv (target: 50,000 rows/s on 1,000,000 rows).

    .venv/bin/python bench/import_calls.py --rows 1000000

Generates a 21-column cdr_csv file (two legs per call for a fifth of the calls, numbers
from a pool of 2,000 clients, 20 managers' extensions), imports it into a fresh SQLite
database in a temporary data folder and prints rows/s. With ``DATABASE_URL`` naming an
empty PostgreSQL database it imports there instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    from bench.standalone import django_in

    django_in(tmp)
    from bench.cdr import client_numbers, write_master_csv
    from funnelwatch.accounts.models import Extension, Role, User
    from funnelwatch.core.testing import make_pipeline
    from funnelwatch.crm.services import create_contact
    from funnelwatch.telephony import importer

    make_pipeline()
    for i in range(20):
        u = User.objects.create_user(f"m{i}", role=Role.MANAGER)
        Extension.objects.create(user=u, number=str(100 + i))
    path = tmp / "Master.csv"
    t = time.perf_counter()
    write_master_csv(path, args.rows)
    print(
        f"generated {args.rows} rows in {time.perf_counter() - t:.1f}s "
        f"({path.stat().st_size / 1e6:.0f} MB)"
    )
    # Most of the client pool is known (contacts); the rest become leads on first call.
    for i, raw in enumerate(client_numbers()[:1950]):
        create_contact(actor=None, name=f"Client {i}", phone_numbers=[raw])
    t, cpu = time.perf_counter(), time.process_time()
    report = importer.import_file(path, "asterisk-csv")
    took, cpu = time.perf_counter() - t, time.process_time() - cpu
    d = report.as_dict()
    print(
        f"rows read {d['rows_read']}, calls {d['calls_created']}, duplicates "
        f"{d['duplicates_skipped']}, rejected {d['rows_rejected']}, leads {d['leads_created']}"
    )
    # On a shared machine the clock also counts waiting for a core: this process's own
    # CPU time says what the import costs here (on PostgreSQL the server's work is apart).
    print(
        f"import: {took:.1f}s, {d['rows_read'] / took:,.0f} rows/s "
        f"(CPU of this process {cpu:.1f}s, {d['rows_read'] / cpu:,.0f} rows per CPU second)"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
