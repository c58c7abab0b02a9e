"""Recording retention: an administrator chooses the months (audited); the periodic job
deletes older recordings' files, keeps the calls and says so in the audit trail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from funnelwatch.audit.models import AuditEvent
from funnelwatch.ops import retention
from funnelwatch.ops.models import RecordingRetention

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(world):
    from funnelwatch.accounts.models import Role, User

    return User.objects.create_user("ops", role=Role.ADMIN)


def _call(world, started: dt.datetime, n: int):
    from funnelwatch.telephony.models import Call, Recording

    call = Call.objects.create(
        provider="test",
        external_id=f"r{n}",
        direction="out",
        started_at=started,
        outcome="answered",
        manager=world.alice,
    )
    rec = Recording(call=call, status=Recording.Status.STORED, content_type="audio/wav")
    rec.file.save(f"call-{n}.wav", ContentFile(b"RIFF" + bytes([n]) * 100), save=True)
    return call, rec


def test_only_an_administrator_sets_it_and_it_is_audited(world, admin):
    url = reverse("ops:retention")
    head = Client()
    head.force_login(world.head)
    assert head.post(url, {"months": "6"}).status_code == 403
    page = head.get(reverse("ops:status")).content.decode()
    assert "Recordings are kept for ever." in page and url not in page  # no form for the head
    assert not RecordingRetention.objects.exists()

    client = Client()
    client.force_login(admin)
    assert url in client.get(reverse("ops:status")).content.decode()
    for bad in ("0", "-3", "abc", "241"):
        response = client.post(url, {"months": bad}, follow=True)
        assert response.status_code == 200
        assert "Enter a number of months from 1 to 240" in response.content.decode(), bad
    assert not RecordingRetention.objects.exists()
    response = client.post(url, {"months": "6"}, follow=True)
    assert "older than 6 months will be deleted" in response.content.decode()
    assert RecordingRetention.current().months == 6
    event = AuditEvent.objects.get(object_type="ops.recordingretention")
    assert event.actor_id == admin.pk and event.changes["months"] == 6
    client.post(url, {"months": ""})
    assert RecordingRetention.current().months is None
    change = AuditEvent.objects.filter(object_type="ops.recordingretention", action="update").get()
    assert change.changes["months"] == [6, None]


def test_old_recordings_go_and_their_calls_stay(world, settings, tmp_path, at):
    from funnelwatch.telephony.models import Call, Recording

    settings.MEDIA_ROOT = str(tmp_path / "media")
    now = at(2026, 9, 15, 12)
    old_call, old = _call(world, at(2026, 3, 14, 23), 1)  # more than 6 months before
    edge_call, edge = _call(world, at(2026, 3, 15, 13), 2)  # less than 6 months before
    new_call, new = _call(world, at(2026, 9, 1, 10), 3)
    old_path = Path(old.file.path)
    assert retention.expire_recordings(now) == 0  # kept for ever by default

    RecordingRetention.objects.create(months=6)
    with pytest.MonkeyPatch.context() as mp:
        from django.db import transaction

        mp.setattr(transaction, "on_commit", lambda fn, using=None, robust=False: fn())
        assert retention.expire_recordings(now) == 1
        assert retention.expire_recordings(now) == 0  # idempotent
    old.refresh_from_db()
    assert old.status == Recording.Status.EXPIRED and not old.file
    assert not old_path.exists()
    assert Call.objects.filter(pk=old_call.pk).exists()  # the call is kept
    for kept in (edge, new):
        kept.refresh_from_db()
        assert kept.status == Recording.Status.STORED and Path(kept.file.path).exists()
    event = AuditEvent.objects.get(object_type="telephony.recording", object_id=str(old.pk))
    assert event.source_name == "recording retention"
    was, now_file = event.changes["file"]
    assert was.endswith(old_path.name) and now_file == ""
    assert event.changes["status"] == ["stored", "expired"]

    # A late webhook for that call does not fetch it again.
    from funnelwatch.telephony import recordings, webhooks

    scheduled, downloads = [], []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(recordings, "schedule_downloads", scheduled.extend)
        webhooks._attach(old_call, "https://api.twilio.com/rec.wav", 10.0)
    assert scheduled == []
    assert recordings.fetch(old.pk, downloader=lambda *a, **k: downloads.append(a)) == "expired"
    assert downloads == []
    old.refresh_from_db()
    assert old.status == Recording.Status.EXPIRED and not old.file

    # The call's page says what happened to its recording.
    client = Client()
    client.force_login(world.head)
    page = client.get(reverse("telephony:call", args=[old_call.pk])).content.decode()
    assert "The recording was deleted after the retention period." in page


def test_months_are_calendar_months(settings):
    settings.TIME_ZONE = "UTC"
    at = dt.datetime(2026, 8, 31, 10, tzinfo=dt.UTC)
    assert retention.months_before(at, 6) == dt.datetime(2026, 2, 28, 10, tzinfo=dt.UTC)
    assert retention.months_before(at, 12).date() == dt.date(2025, 8, 31)
    assert retention.months_before(timezone.now(), 1) < timezone.now()
