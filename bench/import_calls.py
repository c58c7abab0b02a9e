"""Import speed of a big Asterisk Master.csv (target: 50,000 rows/s on 1,000,000 rows).

    .venv/bin/python bench/import_calls.py --rows 1000000

Generates a 21-column cdr_csv file (two legs per call for a fifth of the calls, numbers
from a pool of 2,000 clients, 20 managers' extensions), imports it into a fresh SQLite
database in a temporary data folder and prints rows/s.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path


def generate(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    clients = [f"8{rng.randint(9000000000, 9999999999)}" for _ in range(2000)]
    t0 = 1_767_225_600  # 2026-01-01
    with open(path, "w") as fh:
        n = 0
        call = 0
        while n < rows:
            call += 1
            ext = 100 + rng.randrange(20)
            client = rng.choice(clients)
            start = t0 + call * 3
            answered = rng.random() < 0.7
            bill = rng.randint(5, 600) if answered else 0
            dur = bill + rng.randint(3, 25)
            st = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start))
            an = (
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + dur - bill))
                if answered
                else ""
            )
            en = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(start + dur))
            disp = "ANSWERED" if answered else rng.choice(["NO ANSWER", "BUSY", "FAILED"])
            outbound = rng.random() < 0.6
            src, dst = (str(ext), client) if outbound else (client, str(ext))
            ch = f"PJSIP/{ext}-{call:08x}" if outbound else f"PJSIP/trunk-{call:08x}"
            dch = f"PJSIP/trunk-{call:08x}b" if outbound else f"PJSIP/{ext}-{call:08x}b"
            legs = 2 if rng.random() < 0.2 else 1
            for seq in range(legs):
                if n >= rows:
                    break
                fh.write(
                    f'"","{src}","{dst}","from-internal","""Client"" <{src}>","{ch}","{dch}",'
                    f'"Dial","PJSIP/{dst}",{st!r},{an!r},{en!r},{dur},{bill if seq == 0 else 0},'
                    f'"{disp if seq == 0 else "NO ANSWER"}","DOCUMENTATION","{start}.{call}.{seq}",'
                    f'"","","{start}.{call}",{seq}\n'.replace("'", '"')
                )
                n += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    os.environ["FUNNELWATCH_DATA_DIR"] = str(tmp)
    os.environ.setdefault("FUNNELWATCH_PHONE_REGION", "RU")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnelwatch.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
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
    generate(path, args.rows)
    print(
        f"generated {args.rows} rows in {time.perf_counter() - t:.1f}s "
        f"({path.stat().st_size / 1e6:.0f} MB)"
    )
    # Half of the client pool is known (contacts); the rest become leads on first call.
    rng = random.Random(1)
    for i, raw in enumerate([f"8{rng.randint(9000000000, 9999999999)}" for _ in range(1950)]):
        create_contact(actor=None, name=f"Client {i}", phone_numbers=[raw])
    t = time.perf_counter()
    report = importer.import_file(path, "asterisk-csv")
    took = time.perf_counter() - t
    d = report.as_dict()
    print(
        f"rows read {d['rows_read']}, calls {d['calls_created']}, duplicates "
        f"{d['duplicates_skipped']}, rejected {d['rows_rejected']}, leads {d['leads_created']}"
    )
    print(f"import: {took:.1f}s, {d['rows_read'] / took:,.0f} rows/s")
    if not args.keep:
        import shutil

        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
