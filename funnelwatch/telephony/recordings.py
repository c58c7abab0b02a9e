"""Recordings: fetched from the provider in the worker, or imported from files; stored
through Django's storage API; served with HTTP range requests; every play and download
is written to the audit trail (:func:`serve`).

Fetching: ``http(s)://`` URLs are downloaded through :mod:`funnelwatch.lib.fetch`, only
from the hosts allowed for the call's provider (FUNNELWATCH_RECORDING_HOSTS_<PROVIDER>),
never from internal addresses unless FUNNELWATCH_RECORDING_INTERNAL_HOSTS lists them, at
most FUNNELWATCH_RECORDING_MAX_BYTES, audio only, each redirect checked again. Twilio's
account sid and auth token go only to ``https://api.twilio.com``. ``mango:<recording_id>``
asks Mango's ``/vpbx/queries/recording/post``, which redirects to the file;
``zadarma:<call_id_with_rec>`` asks Zadarma's ``/v1/pbx/record/request/`` for a one-time
link (FUNNELWATCH_ZADARMA_KEY and _SECRET). Each attempt has a timeout
(FUNNELWATCH_RECORDING_TIMEOUT, 30 s); a failed or refused attempt is retried by the
periodic job ``telephony-recordings`` up to FUNNELWATCH_RECORDING_RETRIES times, then it is
marked failed with the error.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import mimetypes
import urllib.parse
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from funnelwatch.audit import trail
from funnelwatch.audit.models import AuditEvent
from funnelwatch.lib import fetch as fetching
from funnelwatch.lib import ranges
from funnelwatch.lib.addresses import as_list
from funnelwatch.telephony.models import Recording

MANGO_URL = "https://app.mango-office.ru/vpbx/queries/recording/post"


def schedule_downloads(recording_ids: list[int]) -> None:
    from funnelwatch.core.jobs import enqueue_on_commit
    from funnelwatch.telephony import tasks

    for pk in recording_ids:
        enqueue_on_commit(tasks.fetch_recording, pk)


ZADARMA_API = "https://api.zadarma.com"
ZADARMA_METHOD = "/v1/pbx/record/request/"


def zadarma_auth(key: str, secret: str, method: str, params: dict[str, str]) -> str:
    """Zadarma REST ``Authorization``: key:base64(hex(HMAC-SHA1(method + query + md5(query))))."""
    import hashlib
    import hmac

    query = urllib.parse.urlencode(sorted(params.items()))
    data = method + query + hashlib.md5(query.encode(), usedforsecurity=False).hexdigest()
    digest = hmac.new(secret.encode(), data.encode(), hashlib.sha1).hexdigest()
    return f"{key}:{base64.b64encode(digest.encode()).decode()}"


def _zadarma_link(ref: str, timeout: int) -> str:
    params = {"call_id": ref}
    url = f"{ZADARMA_API}{ZADARMA_METHOD}?{urllib.parse.urlencode(sorted(params.items()))}"
    req = urllib.request.Request(url)
    req.add_header(
        "Authorization",
        zadarma_auth(
            settings.FUNNELWATCH_ZADARMA_KEY,
            settings.FUNNELWATCH_ZADARMA_SECRET,
            ZADARMA_METHOD,
            params,
        ),
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        answer = json.loads(resp.read())
    link = answer.get("link") or (answer.get("links") or [None])[0]
    if answer.get("status") != "success" or not link:
        raise ValueError(f"Zadarma did not give a link: {answer}")
    return link


TWILIO_API_HOST = "api.twilio.com"


def _credentials(url: urllib.parse.SplitResult) -> dict[str, str]:
    """Twilio's account credentials, for Twilio's own API host over https and nothing else
    (an address merely containing ``api.twilio.com`` somewhere gets none)."""
    exact_host = url.hostname == TWILIO_API_HOST and url.port in (None, 443)
    if url.scheme != "https" or not exact_host:
        return {}
    sid, token = settings.FUNNELWATCH_TWILIO_ACCOUNT_SID, settings.FUNNELWATCH_TWILIO_AUTH_TOKEN
    if not (sid and token):
        return {}
    cred = base64.b64encode(f"{sid}:{token}".encode()).decode()
    return {"Authorization": f"Basic {cred}"}


def hosts_setting(provider: str) -> str:
    """The setting naming the hosts this provider's recordings may be fetched from."""
    return f"FUNNELWATCH_RECORDING_HOSTS_{provider.upper()}"


def policy(provider: str, timeout: float) -> fetching.Policy:
    """What a recording of this provider may be fetched from (docs/telephony.md)."""
    return fetching.Policy(
        hosts=tuple(as_list(getattr(settings, hosts_setting(provider), []))),
        hosts_setting=hosts_setting(provider),
        internal=tuple(as_list(settings.FUNNELWATCH_RECORDING_INTERNAL_HOSTS)),
        internal_setting="FUNNELWATCH_RECORDING_INTERNAL_HOSTS",
        max_bytes=settings.FUNNELWATCH_RECORDING_MAX_BYTES,
        timeout=timeout,
        headers_for=_credentials,
    )


def download(source: str, timeout: int, provider: str = "generic") -> tuple[bytes, str]:
    """(bytes, content type) of a recording of ``provider``'s call; raises on any failure
    or refusal (the message says which)."""
    if source.startswith("mango:"):
        from funnelwatch.telephony.providers import mango

        body = json.dumps({"recording_id": source[6:], "action": "download"})
        key = settings.FUNNELWATCH_MANGO_API_KEY
        data = urllib.parse.urlencode(
            {
                "vpbx_api_key": key,
                "sign": mango.sign(key, body, settings.FUNNELWATCH_MANGO_SALT),
                "json": body,
            }
        ).encode()
        # Mango answers with a redirect to the file, checked like any other address.
        got = fetching.fetch(
            MANGO_URL,
            policy("mango", timeout),
            method="POST",
            body=data,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return got.data, got.content_type
    if source.startswith("zadarma:"):
        got = fetching.fetch(_zadarma_link(source[8:], timeout), policy("zadarma", timeout))
        return got.data, got.content_type
    if not source.startswith(("http://", "https://")):
        raise ValueError(f"cannot fetch {source!r}: no downloader for this source")
    got = fetching.fetch(source, policy(provider, timeout))
    return got.data, got.content_type


def fetch(recording_id: int, downloader=None) -> str:
    """One attempt at fetching a recording; returns the resulting status."""
    rec = Recording.objects.select_related("call").filter(pk=recording_id).first()
    if rec is None or rec.status in (Recording.Status.STORED, Recording.Status.EXPIRED):
        return rec.status if rec else "missing"
    try:
        data, ctype = (downloader or download)(
            rec.source_url, settings.FUNNELWATCH_RECORDING_TIMEOUT, provider=rec.call.provider
        )
    except Exception as exc:
        rec.attempts += 1
        rec.error = f"attempt {rec.attempts}: {exc}"[:2000]
        if rec.attempts >= settings.FUNNELWATCH_RECORDING_RETRIES:
            rec.status = Recording.Status.FAILED
        rec.save(update_fields=["attempts", "error", "status"])
        return rec.status
    store_bytes(rec, data, ctype)
    return rec.status


def _extension(ctype: str) -> str:
    return {
        "audio/mpeg": ".mp3",
        "audio/mp3": ".mp3",
        "audio/x-wav": ".wav",
        "audio/wav": ".wav",
        "audio/ogg": ".ogg",
    }.get(ctype, mimetypes.guess_extension(ctype) or ".bin")


def _duration(data: bytes) -> float | None:
    try:
        import soundfile

        info = soundfile.info(io.BytesIO(data))
        return float(info.duration)
    except Exception:
        return None


def store_bytes(rec: Recording, data: bytes, content_type: str) -> Recording:
    with transaction.atomic():
        rec.file.save(
            f"call-{rec.call_id}{_extension(content_type)}", ContentFile(data), save=False
        )
        rec.content_type = content_type
        rec.duration_s = rec.duration_s or _duration(data)
        rec.status = Recording.Status.STORED
        rec.error = ""
        rec.save()
    return rec


def import_file(call, path: Path | str, manager_channel: str = "left") -> Recording:
    """Attach a recording file from disk to a call."""
    path = Path(path)
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    rec, _created = Recording.objects.get_or_create(call=call)
    rec.manager_channel = manager_channel
    with open(path, "rb") as fh:
        rec.file.save(f"call-{call.pk}{path.suffix}", File(fh), save=False)
    rec.content_type = ctype
    rec.duration_s = _duration(path.read_bytes())
    rec.status = Recording.Status.STORED
    rec.save()
    return rec


# One listening: a player's range requests within this time of a recorded play.
LISTENING = dt.timedelta(minutes=30)


def serve(request: HttpRequest, rec: Recording, as_attachment: bool = False) -> HttpResponse:
    """The recording for the signed-in user, with byte ranges (``funnelwatch.lib.ranges``),
    and its play or download in the audit trail.

    The rule: every GET that delivers bytes of the recording, the whole file or any
    range however the ``Range`` header is spelled (``bytes=00-``, ``bytes=1-``,
    ``bytes=-100000000``, several ranges), is covered by an event of this user on the
    call: ``play`` (``download`` when sent as an attachment) is appended unless the trail
    already has the same action of the same user on the same call from less than
    :data:`LISTENING` ago. A browser player fetches one listening in many ranges and
    leaves one event; listening again later leaves another. HEAD requests and refused
    ranges (416) deliver nothing and record nothing. The check and the append run under
    the audit chain's lock, so requests arriving together record once."""
    try:
        size = rec.file.size
    except OSError:
        raise Http404(_("This call has no stored recording.")) from None
    action = AuditEvent.Action.DOWNLOAD if as_attachment else AuditEvent.Action.PLAY

    def deliver() -> None:
        with trail.acting_as(request.user):
            trail.record_once(rec.call, action, {"recording": rec.pk}, within=LISTENING)

    return ranges.respond(
        request,
        lambda: rec.file.open("rb"),
        size,
        content_type=rec.content_type or "application/octet-stream",
        filename=Path(rec.file.name).name,
        as_attachment=as_attachment,
        on_deliver=deliver,
    )
