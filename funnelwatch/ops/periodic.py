"""The daily backup (when FUNNELWATCH_BACKUP_DAILY_AT is set) and recording retention."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from funnelwatch.core.periodic import periodic
from funnelwatch.ops.backup import backup_daily_at


def backup_due(now: dt.datetime) -> bool:
    """Today's backup is due once the local time has passed FUNNELWATCH_BACKUP_DAILY_AT and
    no backup has succeeded since then (a missed one is taken late, never twice)."""
    from funnelwatch.ops.models import Backup

    at = backup_daily_at()
    if at is None:
        return False
    local = timezone.localtime(now)
    slot = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if local < slot:
        slot -= dt.timedelta(days=1)
    return not Backup.objects.filter(
        started_at__gte=slot, finished_at__isnull=False, error=""
    ).exists()


@periodic("ops.backup", every=dt.timedelta(minutes=10))
def scheduled_backup(now: dt.datetime) -> str | None:
    from funnelwatch.ops import backup

    if not backup_due(now):
        return None
    result = backup.take(trigger="schedule", prune=True)
    pruned = f", {len(result.deleted)} old archives deleted" if result.deleted else ""
    return f"{result.archive.name}: {result.bytes} bytes{pruned}"


@periodic("ops.recording-retention", every=dt.timedelta(hours=6))
def recording_retention(now: dt.datetime) -> str | None:
    from funnelwatch.ops import retention

    deleted = retention.expire_recordings(now)
    return f"{deleted} recordings deleted" if deleted else None
