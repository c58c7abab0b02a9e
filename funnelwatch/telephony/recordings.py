"""Recordings: fetched from the provider in the worker, or imported from files."""

from __future__ import annotations


def schedule_downloads(recording_ids: list[int]) -> None:
    from funnelwatch.core.jobs import enqueue_on_commit
    from funnelwatch.telephony import tasks

    for pk in recording_ids:
        enqueue_on_commit(tasks.fetch_recording, pk)
