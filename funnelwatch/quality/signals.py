"""Every recording that reaches "stored" is analysed in the worker after the commit."""

from __future__ import annotations

from funnelwatch.core.jobs import enqueue_on_commit


def recording_saved(sender, instance, **kwargs) -> None:
    if instance.status != "stored" or kwargs.get("raw"):
        return
    from funnelwatch.quality.tasks import analyze_recording

    enqueue_on_commit(analyze_recording, instance.pk)
