"""Fetching recordings from addresses the outside world gave us: only allowed hosts, no
internal addresses unless configured, credentials only to Twilio itself, a size cap, audio
only, every redirect checked. Against small HTTP servers on loopback addresses."""

from __future__ import annotations

import base64
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from funnelwatch.telephony import recordings
from funnelwatch.telephony.models import Recording
from funnelwatch.telephony.tests.factories import make_call

pytestmark = pytest.mark.django_db

WAV = b"RIFF" + b"\0" * 60


class _Server:
    """Answers each path from ``routes``: (status, headers, body); notes every request."""

    def __init__(self, host: str) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length) if length else b"",
                    }
                )
                status, headers, body = server.routes.get(
                    urllib.parse.urlsplit(self.path).path, (404, {}, b"")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if "Content-Length" not in headers and "Connection" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what a size cap does

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server("127.0.0.1")
    yield s
    s.close()


@pytest.fixture
def other_server():
    s = _Server("127.0.0.2")
    yield s
    s.close()


@pytest.fixture
def fetch_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.FUNNELWATCH_CALLS_CREATE_LEADS = False
    settings.FUNNELWATCH_RECORDING_RETRIES = 5
    settings.FUNNELWATCH_RECORDING_TIMEOUT = 10
    return settings


def _recording(at, url: str, provider: str = "generic") -> Recording:
    call = make_call(direction="out", start=at(2026, 3, 2, 10), provider=provider)
    return Recording.objects.create(call=call, source_url=url)


def _fetch(rec: Recording) -> Recording:
    recordings.fetch(rec.pk)
    rec.refresh_from_db()
    return rec


def test_twilio_credentials_go_only_to_twilio_over_https(world, fetch_settings, server, at):
    fetch_settings.FUNNELWATCH_TWILIO_ACCOUNT_SID = "AC123"
    fetch_settings.FUNNELWATCH_TWILIO_AUTH_TOKEN = "tw-token"
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_TWILIO = ["127.0.0.1"]
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.1"]
    server.routes["/api.twilio.com/2010-04-01/Recordings/RE1"] = (
        200,
        {"Content-Type": "audio/wav"},
        WAV,
    )
    rec = _recording(at, server.url("/api.twilio.com/2010-04-01/Recordings/RE1"), "twilio")
    assert _fetch(rec).status == "stored"
    assert [r["path"] for r in server.requests] == ["/api.twilio.com/2010-04-01/Recordings/RE1"]
    assert "Authorization" not in server.requests[0]["headers"]

    expected = {"Authorization": "Basic " + base64.b64encode(b"AC123:tw-token").decode()}
    split = urllib.parse.urlsplit
    assert recordings._credentials(split("https://api.twilio.com/2010-04-01/R/RE1")) == expected
    assert recordings._credentials(split("https://API.twilio.com:443/x")) == expected
    for url in (
        "http://api.twilio.com/2010-04-01/R/RE1",  # not https
        "https://api.twilio.com.attacker.example/x",
        "https://attacker.example/api.twilio.com/x",
        "https://attacker.example/?u=https://api.twilio.com/",
        "https://api.twilio.com:8443/x",
        "https://eu.api.twilio.com/x",
    ):
        assert recordings._credentials(split(url)) == {}, url


def test_internal_addresses_are_refused_unless_configured(world, fetch_settings, server, at):
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_GENERIC = ["*"]
    server.routes["/r.wav"] = (200, {"Content-Type": "audio/wav"}, WAV)
    by_address = _fetch(_recording(at, server.url("/r.wav")))
    assert by_address.status == "pending" and "internal address" in by_address.error
    assert "FUNNELWATCH_RECORDING_INTERNAL_HOSTS" in by_address.error
    # a name that resolves to a loopback address is refused the same way
    by_name = _fetch(_recording(at, server.url("/r.wav", host="localhost")))
    assert by_name.status == "pending" and "internal address" in by_name.error
    assert server.requests == []  # nothing was asked of the internal server

    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = "10.0.0.0/8, 127.0.0.0/8"
    assert _fetch(by_address).status == "stored"
    assert by_address.file.read() == WAV
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["localhost"]  # by name
    assert _fetch(by_name).status == "stored"


def test_only_the_providers_hosts_are_fetched(world, fetch_settings, server, at):
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.1"]
    server.routes["/r.wav"] = (200, {"Content-Type": "audio/wav"}, WAV)
    # Twilio's recordings come from Twilio's hosts, whatever a callback says
    rec = _fetch(_recording(at, server.url("/r.wav"), "twilio"))
    assert rec.status == "pending"
    assert "not an allowed recording host" in rec.error
    assert "FUNNELWATCH_RECORDING_HOSTS_TWILIO" in rec.error
    # our JSON webhook has no hosts until the company names its PBX
    rec = _fetch(_recording(at, server.url("/r.wav")))
    assert "FUNNELWATCH_RECORDING_HOSTS_GENERIC" in rec.error
    assert server.requests == []
    for url in ("ftp://127.0.0.1/r.wav", "file:///etc/passwd", "http://u:p@127.0.0.1/r.wav"):
        fetch_settings.FUNNELWATCH_RECORDING_HOSTS_GENERIC = ["*"]
        rec = _fetch(_recording(at, url))
        assert rec.status == "pending" and rec.error, url
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_GENERIC = "pbx.example, 127.0.0.1"
    assert _fetch(_recording(at, server.url("/r.wav"))).status == "stored"


def test_size_cap_is_enforced_while_reading(world, fetch_settings, server, at):
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_GENERIC = ["127.0.0.1"]
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.1"]
    fetch_settings.FUNNELWATCH_RECORDING_MAX_BYTES = 100_000
    big = b"\0" * 2_000_000
    server.routes["/declared.wav"] = (200, {"Content-Type": "audio/wav"}, big)
    # no Content-Length: the body ends when the server closes; only reading can tell
    server.routes["/undeclared.wav"] = (
        200,
        {"Content-Type": "audio/wav", "Connection": "close"},
        big,
    )
    server.routes["/fits.wav"] = (200, {"Content-Type": "audio/wav"}, b"\0" * 100_000)
    for path in ("/declared.wav", "/undeclared.wav"):
        rec = _fetch(_recording(at, server.url(path)))
        assert rec.status == "pending" and "larger than 100000 bytes" in rec.error, path
        assert not rec.file
    rec = _fetch(_recording(at, server.url("/fits.wav")))
    assert rec.status == "stored" and rec.file.size == 100_000


def test_only_audio_is_stored(world, fetch_settings, server, at):
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_GENERIC = ["127.0.0.1"]
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.1"]
    server.routes["/page"] = (200, {"Content-Type": "text/html; charset=utf-8"}, b"<h1>admin")
    server.routes["/untyped"] = (200, {}, b"RIFF")
    server.routes["/blob"] = (200, {"Content-Type": "application/octet-stream"}, WAV)
    server.routes["/mp3"] = (200, {"Content-Type": "audio/mpeg"}, b"ID3data")
    server.routes["/gone"] = (404, {"Content-Type": "audio/wav"}, b"")
    page = _fetch(_recording(at, server.url("/page")))
    assert page.status == "pending" and "text/html, not a recording" in page.error
    assert "no Content-Type" in _fetch(_recording(at, server.url("/untyped"))).error
    assert "HTTP 404" in _fetch(_recording(at, server.url("/gone"))).error
    assert _fetch(_recording(at, server.url("/blob"))).status == "stored"
    mp3 = _fetch(_recording(at, server.url("/mp3")))
    assert mp3.status == "stored" and mp3.file.name.endswith(".mp3")


def test_every_redirect_is_checked_again(world, fetch_settings, server, other_server, at):
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_GENERIC = ["127.0.0.1"]
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.1", "127.0.0.2"]
    other_server.routes["/r.wav"] = (200, {"Content-Type": "audio/wav"}, WAV)
    server.routes["/r.wav"] = (200, {"Content-Type": "audio/wav"}, WAV)
    server.routes["/elsewhere"] = (302, {"Location": other_server.url("/r.wav")}, b"")
    server.routes["/here"] = (301, {"Location": "/r.wav"}, b"")
    server.routes["/loop"] = (307, {"Location": "/loop"}, b"")
    server.routes["/nowhere"] = (302, {}, b"")

    # a host that is not allowed, reached by a redirect from one that is
    rec = _fetch(_recording(at, server.url("/elsewhere")))
    assert rec.status == "pending" and "127.0.0.2 is not an allowed recording host" in rec.error
    # allowed as a host, but an internal address nobody allowed
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_GENERIC = ["127.0.0.1", "127.0.0.2"]
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.1"]
    rec = _fetch(rec)
    assert rec.status == "pending" and "127.0.0.2, an internal address" in rec.error
    assert other_server.requests == []
    loop = _fetch(_recording(at, server.url("/loop")))
    assert "more than 5 redirects" in loop.error
    assert "without a Location" in _fetch(_recording(at, server.url("/nowhere"))).error
    assert _fetch(_recording(at, server.url("/here"))).status == "stored"

    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.0/8"]
    assert _fetch(rec).status == "stored"
    assert len(other_server.requests) == 1


def test_mango_post_then_redirect_to_the_file(world, fetch_settings, server, at, monkeypatch):
    fetch_settings.FUNNELWATCH_MANGO_API_KEY = "mg-key"
    fetch_settings.FUNNELWATCH_MANGO_SALT = "mg-salt"
    fetch_settings.FUNNELWATCH_RECORDING_HOSTS_MANGO = ["127.0.0.1"]
    fetch_settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS = ["127.0.0.1"]
    monkeypatch.setattr(recordings, "MANGO_URL", server.url("/vpbx/queries/recording/post"))
    server.routes["/vpbx/queries/recording/post"] = (302, {"Location": "/files/R1.mp3"}, b"")
    server.routes["/files/R1.mp3"] = (200, {"Content-Type": "audio/mpeg"}, b"ID3data")
    rec = _fetch(_recording(at, "mango:R1", "mango"))
    assert rec.status == "stored" and rec.file.read() == b"ID3data"
    post, get = server.requests
    assert post["method"] == "POST" and b"vpbx_api_key=mg-key" in post["body"]
    assert get["method"] == "GET" and get["body"] == b"" and get["path"] == "/files/R1.mp3"
