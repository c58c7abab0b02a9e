"""Background work of the quality app (django-tasks, run by the worker)."""

from __future__ import annotations

from django_tasks import task


@task()
def analyze_recording(recording_id: int) -> str:
    """Analyse a newly stored recording; a recording already analysed is left alone
    (``funnelwatch quality analyze --force`` redoes it)."""
    from funnelwatch.quality import services
    from funnelwatch.quality.models import RecordingAnalysis
    from funnelwatch.telephony.models import Recording

    recording = Recording.objects.filter(pk=recording_id, status="stored").first()
    if recording is None:
        return "gone"
    if RecordingAnalysis.objects.filter(recording=recording).exists():
        return "already analysed"
    analysis = services.analyze_recording(recording)
    if analysis.status == "ok":
        from funnelwatch.quality import transcription

        if transcription.status()["enabled"]:
            try:
                transcription.transcribe_recording(recording)
            except Exception as exc:  # a transcription failure must not lose the analysis
                services.logger.warning(
                    "transcription of recording %s failed: %s", recording_id, exc
                )
    return analysis.status
