"""A small load client: N threads, each with its own keep-alive connection, posting
prepared requests to a server on loopback and counting answers by status."""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable

Request = tuple[str, dict[str, str], bytes]  # path, headers, body


def run(
    host: str, port: int, make_request: Callable[[int], Request], total: int, concurrency: int
) -> dict:
    """Send ``total`` requests (request i from ``make_request(i)``) over ``concurrency``
    connections; return the elapsed time, events per second and the status counts."""
    counter = iter(range(total))
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    errors: list[str] = []

    def next_index() -> int | None:
        with lock:
            return next(counter, None)

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        while (i := next_index()) is not None:
            path, headers, body = make_request(i)
            for attempt in range(3):
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    with lock:
                        statuses[response.status] += 1
                    if response.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = http.client.HTTPConnection(host, port, timeout=30)
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=30)
                    if attempt == 2:
                        with lock:
                            errors.append(f"request {i}: {exc!r}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "requests": total,
        "seconds": round(elapsed, 3),
        "per_s": round(total / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors[:10],
    }
