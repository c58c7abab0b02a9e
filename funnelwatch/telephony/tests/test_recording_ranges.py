"""Recordings are served with byte ranges by one implementation (funnelwatch.lib.ranges)
on the call page and in quality, and no byte leaves without a play (or download) in the
audit trail, however the Range header is spelled; one listening is one event."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from funnelwatch.audit.models import AuditEvent
from funnelwatch.lib import ranges
from funnelwatch.telephony import recordings
from funnelwatch.telephony.tests.factories import make_call

DATA = b"RIFF" + bytes(range(256)) * 4  # 1028 bytes
SIZE = len(DATA)
URLS = ["telephony:recording", "quality:audio"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-9", (0, 9)),
        ("bytes=00-", (0, SIZE - 1)),
        ("bytes=1-", (1, SIZE - 1)),
        ("bytes=-100000000", (0, SIZE - 1)),
        ("bytes=-10", (SIZE - 10, SIZE - 1)),
        ("bytes=1000-5000", (1000, SIZE - 1)),
        ("bytes=0-99999999999999999999999999", (0, SIZE - 1)),
        (f"bytes={SIZE - 1}-", (SIZE - 1, SIZE - 1)),
        (" Bytes=5-6 ", (5, 6)),
        ("bytes=0-1,5-6", None),  # several: the whole file
        ("bytes=0-1, 5000-6000", None),
    ],
)
def test_parse(header, expected):
    got = ranges.parse(header, SIZE)
    assert (got.start, got.end) == expected if expected else got is None


@pytest.mark.parametrize(
    "header",
    [
        f"bytes={SIZE}-",
        f"bytes={SIZE}-{SIZE + 10}",
        "bytes=99999999999999999999999-",
        "bytes=-0",
        "bytes=5-2",
        "bytes=-",
        "bytes=",
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=0-1,x",
        "bytes=5000-6000,7000-",
        "items=0-5",
        "0-5",
    ],
)
def test_parse_refuses_what_is_not_a_range_of_the_file(header):
    with pytest.raises(ranges.Unsatisfiable):
        ranges.parse(header, SIZE)


def test_nothing_of_an_empty_file_can_be_asked_for():
    assert ranges.parse(None, 0) is None
    for header in ("bytes=0-", "bytes=-5", "bytes=0-0"):
        with pytest.raises(ranges.Unsatisfiable):
            ranges.parse(header, 0)


@given(
    size=st.integers(0, 300),
    first=st.integers(0, 400),
    last=st.one_of(st.none(), st.integers(0, 400)),
    zeros=st.integers(0, 3),
)
def test_a_range_selects_what_python_slicing_selects(size, first, last, zeros):
    data = bytes(i % 251 for i in range(size))
    pad = "0" * zeros
    cases = [(f"bytes={pad}{first}-{'' if last is None else last}", first, last)]
    cases.append((f"bytes=-{pad}{first}", None, first))
    for header, a, b in cases:
        if a is None:  # suffix: the last b bytes
            want = data[-b:] if b else b""
        elif b is not None and b < a:
            want = None  # malformed
        else:
            want = data[a : None if b is None else b + 1]
        try:
            got = ranges.parse(header, size)
        except ranges.Unsatisfiable:
            assert not want, header
            continue
        assert got is not None
        assert data[got.start : got.end + 1] == want, header


# --- the views ------------------------------------------------------------------------


@pytest.fixture
def call(world, at, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    call = make_call(direction="out", start=at(2026, 3, 2, 10), ext="101")  # alice's
    wav = tmp_path / "x.wav"
    wav.write_bytes(DATA)
    recordings.import_file(call, wav)
    return call


def _plays(call, action: str = "play", **filters: object):
    return AuditEvent.objects.filter(
        object_type="telephony.call", object_id=str(call.pk), action=action, **filters
    )


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("name", URLS)
@pytest.mark.parametrize(
    ("header", "status", "first", "last"),
    [
        (None, 200, 0, SIZE - 1),
        ("bytes=00-", 206, 0, SIZE - 1),
        ("bytes=-100000000", 206, 0, SIZE - 1),
        ("bytes=1-", 206, 1, SIZE - 1),
        ("bytes=500-599", 206, 500, 599),
        ("bytes=-4", 206, SIZE - 4, SIZE - 1),
        ("bytes=0-1,5-6", 200, 0, SIZE - 1),
    ],
)
def test_every_delivery_is_recorded_as_a_play(
    client, world, call, name, header, status, first, last
):
    client.force_login(world.alice)
    extra = {"HTTP_RANGE": header} if header is not None else {}
    response = client.get(reverse(name, args=[call.pk]), **extra)
    assert response.status_code == status
    assert _body(response) == DATA[first : last + 1]
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(last + 1 - first)
    assert response["Cache-Control"] == "private, no-store"
    if status == 206:
        assert response["Content-Range"] == f"bytes {first}-{last}/{SIZE}"
    (play,) = _plays(call)
    assert play.actor == world.alice and play.changes == {"recording": call.recording.pk}


@pytest.mark.parametrize("name", URLS)
@pytest.mark.parametrize("header", [f"bytes={SIZE}-", "bytes=-0", "bytes=9-3", "items=0-1"])
def test_refused_ranges_are_416_and_deliver_nothing(client, world, call, name, header):
    client.force_login(world.alice)
    response = client.get(reverse(name, args=[call.pk]), HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{SIZE}"
    assert response["Accept-Ranges"] == "bytes"
    assert not _plays(call).exists()


@pytest.mark.parametrize("name", URLS)
def test_one_listening_is_one_play(client, world, call, name):
    """A player's requests within half an hour of a recorded play are the same listening;
    another user, a download, or the same user later are new events."""
    url = reverse(name, args=[call.pk])
    client.force_login(world.alice)
    for header in ("bytes=0-", "bytes=512-", "bytes=100-199", "bytes=-10", "bytes=1-"):
        assert client.get(url, HTTP_RANGE=header).status_code == 206
    assert client.head(url).status_code == 200
    assert _plays(call).count() == 1
    first = _plays(call).get()
    with time_machine.travel(first.at + dt.timedelta(minutes=29), tick=False):
        assert client.get(url, HTTP_RANGE="bytes=700-").status_code == 206
    assert _plays(call).count() == 1
    with time_machine.travel(first.at + dt.timedelta(minutes=31), tick=False):
        assert client.get(url, HTTP_RANGE="bytes=700-").status_code == 206
    assert _plays(call).count() == 2
    client.force_login(world.head)
    assert client.get(url).status_code == 200
    assert _plays(call, actor=world.head).count() == 1


def test_a_head_request_delivers_and_records_nothing(client, world, call):
    client.force_login(world.alice)
    for name in URLS:
        response = client.head(reverse(name, args=[call.pk]), HTTP_RANGE="bytes=0-")
        assert response.status_code == 200 and response["Content-Length"] == str(SIZE)
        assert not response.content
    assert not _plays(call).exists()


def test_if_range_we_cannot_match_sends_the_whole_file(client, world, call):
    client.force_login(world.alice)
    url = reverse("telephony:recording", args=[call.pk])
    response = client.get(url, HTTP_RANGE="bytes=1-", HTTP_IF_RANGE='"some-etag"')
    assert response.status_code == 200 and _body(response) == DATA
    assert _plays(call).count() == 1


@pytest.mark.parametrize("header", [None, "bytes=00-", "bytes=1-", "bytes=-100000000"])
def test_every_download_is_recorded(client, world, call, header):
    client.force_login(world.alice)
    extra = {"HTTP_RANGE": header} if header is not None else {}
    response = client.get(reverse("telephony:recording_download", args=[call.pk]), **extra)
    assert response.status_code in (200, 206)
    assert response["Content-Disposition"].startswith("attachment")
    assert _plays(call, "download", actor=world.alice).count() == 1
    assert not _plays(call).exists()


def test_other_methods_and_missing_files(client, world, call):
    client.force_login(world.alice)
    for name in URLS:
        assert client.post(reverse(name, args=[call.pk])).status_code == 405
    call.recording.file.storage.delete(call.recording.file.name)
    for name in URLS:
        assert client.get(reverse(name, args=[call.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action__in=["play", "download"]).exists()
