"""Background work: fetching recordings from the providers."""

from __future__ import annotations

from django_tasks import task

from funnelwatch.telephony import recordings


@task()
def fetch_recording(recording_id: int) -> str:
    return recordings.fetch(recording_id)
