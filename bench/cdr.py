"""A synthetic Asterisk ``cdr_csv`` Master.csv for import benchmarks."""

from __future__ import annotations

import random
import time
from pathlib import Path


def client_numbers(seed: int = 1, n: int = 2000) -> list[str]:
    rng = random.Random(seed)
    return [f"+9769{rng.randint(1000000, 9999999)}" for _ in range(n)]


def write_master_csv(path: Path, rows: int, seed: int = 1) -> None:
    """A 21-column Asterisk Master.csv: 20 extensions (100-119) calling and called by a
    pool of 2,000 client numbers, a fifth of the calls with a second (unanswered) leg."""
    rng = random.Random(seed)
    clients = client_numbers(seed)
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
