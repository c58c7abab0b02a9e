"""Retry recordings that failed to download (the worker made one attempt already)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from funnelwatch.core.periodic import periodic
from funnelwatch.telephony import recordings
from funnelwatch.telephony.models import Recording


@periodic("telephony-recordings", every=dt.timedelta(minutes=5))
def retry_recordings(now: dt.datetime) -> str | None:
    pending = list(
        Recording.objects.filter(
            status=Recording.Status.PENDING, attempts__lt=settings.FUNNELWATCH_RECORDING_RETRIES
        )
        .exclude(source_url="")
        .values_list("pk", flat=True)[:200]
    )
    for pk in pending:
        recordings.fetch(pk)
    return f"{len(pending)} recordings tried" if pending else None


@periodic("telephony-webhooks", every=dt.timedelta(seconds=10))
def process_queued_events(now: dt.datetime) -> str | None:
    """Queued webhook events (FUNNELWATCH_WEBHOOK_MODE=queue) the worker's batches left,
    in batches."""
    from funnelwatch.telephony import webhooks

    total = webhooks.process_all_pending()
    return f"{total} events" if total else None
