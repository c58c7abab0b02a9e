"""Background processes say they are alive: the task worker from a thread beside its loop,
the periodic runner at every turn of its loop. The status page and /healthz read the beats;
a process silent for FUNNELWATCH_HEARTBEAT_STALE_SECONDS is reported stopped."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid

from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger("funnelwatch.heartbeat")


def process_id(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def beat(kind: str, process: str, *, stopped: bool = False) -> None:
    """Write this process's heartbeat (never raises: a busy database must not stop a worker)."""
    from funnelwatch.ops.models import Heartbeat

    now = timezone.now()
    fields = {"beat_at": now, "stopped_at": now if stopped else None}
    try:
        updated = Heartbeat.objects.filter(kind=kind, process_id=process).update(**fields)
        if not updated:
            Heartbeat.objects.create(
                kind=kind,
                process_id=process,
                host=socket.gethostname()[:200],
                pid=os.getpid(),
                started_at=now,
                **fields,
            )
    except DatabaseError:
        logger.warning("heartbeat of %s could not be written", process, exc_info=True)


class Beater:
    """A daemon thread writing a heartbeat every ``every`` seconds until stopped."""

    def __init__(self, kind: str, every: float) -> None:
        self.kind = kind
        self.process = process_id(kind)
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{kind}-heartbeat", daemon=True)

    def start(self) -> Beater:
        from funnelwatch.ops.models import Heartbeat

        # Processes that ended a month ago (killed ones never said so) are forgotten.
        try:
            Heartbeat.objects.filter(beat_at__lt=timezone.now() - dt.timedelta(days=30)).delete()
        except DatabaseError:
            logger.warning("old heartbeats could not be removed", exc_info=True)
        beat(self.kind, self.process)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                close_old_connections()
                beat(self.kind, self.process)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every + 5)
        beat(self.kind, self.process, stopped=True)
