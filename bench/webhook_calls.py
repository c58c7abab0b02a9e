"""Webhook throughput: signed JSON call events from 1, 4 and 16 concurrent clients.

    .venv/bin/python bench/webhook_calls.py --events 2000 [--mode queue]
        [--workers 2 --threads 4 --worker-class gthread] [--connections new]

Starts gunicorn (by default the recommended settings: 2 gthread workers x 4 threads)
on 127.0.0.1 with a fresh SQLite database, posts ``--events`` distinct events per run,
every tenth one twice (a replay), then checks that exactly one call per event was
stored. Each client keeps its HTTP connection open (``--connections keep``, as a PBX or
a load tool such as ``wrk`` does; an asyncio client sending requests signed beforehand,
so the load generator takes little of the CPU it shares with the server);
``--connections new`` opens one per event with urllib from a thread per client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"


def _signed(body: dict) -> tuple[bytes, dict[str, str]]:
    from funnelwatch.telephony.providers.generic import signature

    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    return raw, {
        "Content-Type": "application/json",
        "X-Funnelwatch-Timestamp": ts,
        "X-Funnelwatch-Signature": signature(SECRET, ts, raw),
    }


def _request_bytes(port: int, path: str, body: dict) -> bytes:
    raw, headers = _signed(body)
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(raw)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + raw


async def _client(port: int, requests: list[bytes]) -> list[int]:
    """One client on one kept-alive connection (reopened when the server closes it),
    requests prepared beforehand so the client costs the shared CPU little."""
    codes: list[int] = []
    reader = writer = None
    for req in requests:
        for _attempt in range(5):
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                fields = {
                    k.strip().lower(): v.strip()
                    for k, _sep, v in (line.partition(":") for line in lines[1:] if line)
                }
                await reader.readexactly(int(fields.get("content-length", "0")))
                if fields.get("connection", "").lower() == "close":
                    writer.close()
                    reader = writer = None
                if status < 500:
                    codes.append(status)
                    break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                if writer is not None:
                    writer.close()
                reader = writer = None
            await asyncio.sleep(0.2)
        else:
            codes.append(0)
    if writer is not None:
        writer.close()
    return codes


async def _clients(port: int, shares: list[list[bytes]]) -> list[int]:
    parts = await asyncio.gather(*(_client(port, share) for share in shares))
    return [c for part in parts for c in part]


def _post(url: str, body: dict) -> int:
    raw, headers = _signed(body)
    req = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    for _attempt in range(5):
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return exc.code
        except OSError:
            pass
        time.sleep(0.2)
    return 0


def _event(run: str, i: int) -> dict:
    start = f"2026-03-02T{9 + i % 8:02d}:{i % 60:02d}:00+08:00"
    return {
        "event_id": f"{run}-{i}",
        "call_id": f"{run}-call-{i}",
        "direction": "out",
        "from": str(100 + i % 20),
        "to": f"+9769{9000000 + i % 5000}",
        "started_at": start,
        "talk_seconds": 30 + i % 300,
        "outcome": "answered",
        "legs": [{"leg_id": "a", "billsec": 30 + i % 300, "answered": True}],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--mode",
        choices=["sync", "queue"],
        default="sync",
        help="queue: events are stored on receipt and processed in batches",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--connections", choices=["keep", "new"], default="keep")
    parser.add_argument("--clients", default="1,4,16")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fw-hook-"))
    env = os.environ | {
        "FUNNELWATCH_DATA_DIR": str(tmp),
        "FUNNELWATCH_CALLS_WEBHOOK_SECRET": SECRET,
        "FUNNELWATCH_CALLS_CREATE_LEADS": "false",
        "DJANGO_SETTINGS_MODULE": "funnelwatch.settings",
        "DEBUG": "false",
        "FUNNELWATCH_WEBHOOK_MODE": args.mode,
    }
    py = str(ROOT / ".venv/bin/python")
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "funnelwatch.wsgi",
            "-b",
            f"127.0.0.1:{args.port}",
            "-w",
            str(args.workers),
            "-k",
            args.worker_class,
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    sys.path.insert(0, str(ROOT))
    url = f"http://127.0.0.1:{args.port}/api/telephony/webhooks/calls"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/api/docs", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        print(
            f"gunicorn -k {args.worker_class} -w {args.workers} --threads {args.threads}; "
            f"mode {args.mode}; client connections: {args.connections}"
        )
        path = "/api/telephony/webhooks/calls"
        for clients in [int(c) for c in args.clients.split(",")]:
            run = f"c{clients}"
            bodies = [_event(run, i) for i in range(args.events)]
            bodies += [bodies[i] for i in range(0, args.events, 10)]  # replays
            shares = [bodies[k::clients] for k in range(clients)]
            if args.connections == "new":
                t = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    codes = list(pool.map(lambda b: _post(url, b), bodies))
            else:
                prepared = [[_request_bytes(args.port, path, b) for b in sh] for sh in shares]
                t = time.perf_counter()
                codes = asyncio.run(_clients(args.port, prepared))
            took = time.perf_counter() - t
            bad = [c for c in codes if c != 200]
            processing = ""
            if args.mode == "queue":
                t = time.perf_counter()
                subprocess.run(
                    [py, "manage.py", "call-events"],
                    cwd=ROOT,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                processing = f"; batch processing {time.perf_counter() - t:.1f}s"
            out = subprocess.run(
                [
                    py,
                    "manage.py",
                    "shell",
                    "-c",
                    "from funnelwatch.telephony.models import Call;"
                    f"print(Call.objects.filter(external_id__startswith='{run}-').count())",
                ],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            stored = int(out.stdout.strip().splitlines()[-1])
            print(
                f"{clients:>2} clients: {len(bodies)} requests in {took:.1f}s = "
                f"{len(bodies) / took:,.0f} events/s; non-200: {len(bad)}; "
                f"calls stored {stored} of {args.events} "
                f"({'OK' if stored == args.events and not bad else 'MISMATCH'}){processing}"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
