"""Recording retention: recordings of calls older than the months an administrator chose
are deleted from disk; the call, its analysis and its review stay. Each deletion is an
audit event on the recording (file and status before and after)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as, record

logger = logging.getLogger("funnelwatch.retention")
BATCH = 500


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same local day and time ``months`` calendar months earlier (the month's last day
    when it is shorter)."""
    local = timezone.localtime(moment)
    total = local.year * 12 + (local.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    for day in (local.day, 30, 29, 28):
        try:
            return local.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def expire_recordings(now: dt.datetime | None = None, limit: int | None = None) -> int:
    """Delete the recordings past the retention; return how many."""
    from funnelwatch.ops.models import RecordingRetention
    from funnelwatch.telephony.models import Recording

    months = RecordingRetention.current().months
    if not months:
        return 0
    cutoff = months_before(now or timezone.now(), months)
    done = 0
    with acting_as(None, name="recording retention"):
        while limit is None or done < limit:
            batch = list(
                Recording.objects.filter(
                    status=Recording.Status.STORED, call__started_at__lt=cutoff
                ).order_by("pk")[: BATCH if limit is None else min(BATCH, limit - done)]
            )
            if not batch:
                break
            for rec in batch:
                name = rec.file.name
                with transaction.atomic():
                    changed = Recording.objects.filter(
                        pk=rec.pk, status=Recording.Status.STORED
                    ).update(file="", status=Recording.Status.EXPIRED)
                    if not changed:
                        continue
                    record(
                        rec,
                        AuditEvent.Action.UPDATE,
                        {
                            "file": [name, ""],
                            "status": [Recording.Status.STORED, Recording.Status.EXPIRED],
                            "retention_months": months,
                        },
                    )
                    if name:
                        storage = rec.file.storage
                        transaction.on_commit(lambda s=storage, n=name: _delete(s, n))
                done += 1
    return done


def _delete(storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        logger.warning("recording file %s could not be deleted", name, exc_info=True)
