"""Background work: fetching recordings from the providers, turning queued webhook events
into calls."""

from __future__ import annotations

from django_tasks import task

from funnelwatch.telephony import recordings


@task()
def fetch_recording(recording_id: int) -> str:
    return recordings.fetch(recording_id)


@task()
def process_webhook_events() -> int:
    """The queued webhook events (FUNNELWATCH_WEBHOOK_MODE=queue), batch by batch."""
    from funnelwatch.telephony import webhooks

    return webhooks.process_all_pending()
