"""Turning raw RFC 5322 bytes into plain values, tolerant of what real mail programs send.

Nothing here touches the database: :func:`parse` returns a :class:`Parsed` that the sync
and the tests look at.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

import nh3

_MSGID = re.compile(r"<([^<>\s]+)>")
_PREFIX = re.compile(
    r"^\s*((re|fwd?|aw|wg|sv|vs|tr|rif|odp|ответ|отв|пересл|ha)\s*(\[\d+\])?\s*:\s*)+",
    re.IGNORECASE,
)
_WS = re.compile(r"\s+")


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    size: int
    payload: bytes | None  # None when too big to keep


@dataclass
class Parsed:
    message_id: str
    synthesised_id: bool
    in_reply_to: str
    references: list[str]
    subject: str
    from_addr: str
    from_name: str
    to: list[str]
    cc: list[str]
    sent_at: dt.datetime
    headers: str
    text: str
    html: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    size: int = 0

    @property
    def participants(self) -> set[str]:
        return {self.from_addr, *self.to, *self.cc} - {""}


def normalise_msgid(value: str) -> str:
    """``<Abc@Example.COM>`` -> ``Abc@example.com`` (the local part is case-sensitive)."""
    value = value.strip().strip("<>").strip()
    if "@" in value:
        local, _, domain = value.rpartition("@")
        value = f"{local}@{domain.lower()}"
    return value[:255]


def msgids(value: str | None) -> list[str]:
    if not value:
        return []
    found = _MSGID.findall(str(value))
    if not found and str(value).strip():
        # Some mailers drop the brackets; take the whitespace-separated tokens with an @.
        found = [t for t in re.split(r"[\s,]+", str(value)) if "@" in t]
    out: list[str] = []
    for item in found:
        norm = normalise_msgid(item)
        if norm and norm not in out:
            out.append(norm)
    return out


def subject_key(subject: str) -> str:
    """The subject without Re:/Fwd:/Ответ: prefixes, case and spacing: for the thread fallback."""
    return _WS.sub(" ", _PREFIX.sub("", subject or "")).strip().lower()[:200]


def decode_text(value: object) -> str:
    """A header value as Unicode, whatever encoded words or stray 8-bit bytes it holds."""
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
            pass
    return _WS.sub(" ", text.replace("\x00", "")).strip()


def _unbinary(text: str) -> str:
    """Raw 8-bit bytes in a header (parsed as surrogate escapes): UTF-8, else windows-1251."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogateescape")
    for charset in ("utf-8", "windows-1251"):
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _raw_values(msg: Message, name: str) -> list[str]:
    """Header values as they came (compat32 keeps them raw): unfolded, 8-bit fixed."""
    name = name.lower()
    return [
        _unbinary(str(v)).replace("\r\n", "").replace("\n", "")
        for k, v in msg.raw_items()
        if k.lower() == name
    ]


def _header(msg: Message, name: str) -> str:
    values = _raw_values(msg, name)
    return decode_text(values[0]) if values else ""


def _addresses(msg: Message, *names: str) -> list[tuple[str, str]]:
    values = [v for name in names for v in _raw_values(msg, name)]
    out = []
    # Split the raw (still encoded) values: a decoded name may hold a comma.
    for display, addr in getaddresses(values):
        addr = decode_text(addr).strip().lower()
        if "@" in addr and " " not in addr:
            out.append((decode_text(display), addr[:254]))
    return out


def _decode_payload(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "windows-1251", "latin-1"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except (ValueError, IndexError, AttributeError, TypeError, LookupError):
        name = None
    return decode_text(name)[:255]


def _walk(msg: Message, out: Parsed, max_attachment: int) -> None:
    text_parts: list[str] = []
    html_parts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = (part.get_content_type() or "text/plain").lower()
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        filename = _filename(part)
        if disposition != "attachment" and not filename and ctype in ("text/plain", "text/html"):
            (html_parts if ctype == "text/html" else text_parts).append(_decode_payload(part))
            continue
        if ctype.startswith("multipart/"):
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except (ValueError, TypeError, AssertionError):
            payload = b""
            out.notes.append(f"unreadable part {ctype}")
        name = filename or f"part-{len(out.attachments) + 1}"
        if len(payload) > max_attachment:
            out.notes.append(f"attachment {name} ({len(payload)} bytes) not stored: too large")
            out.attachments.append(ParsedAttachment(name, ctype, len(payload), None))
        else:
            out.attachments.append(ParsedAttachment(name, ctype, len(payload), payload))
    out.text = "\n".join(t for t in text_parts if t).replace("\x00", "")
    out.html = "\n".join(h for h in html_parts if h).replace("\x00", "")


def _date(msg: Message, fallback: dt.datetime | None) -> dt.datetime:
    raw = _header(msg, "Date")
    if raw:
        try:
            value = parsedate_to_datetime(raw)
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return value.astimezone(dt.UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return fallback or dt.datetime.now(dt.UTC)


def synthesise_id(sent_at: dt.datetime, from_addr: str, subject: str, body: str) -> str:
    """A stable id for a letter without Message-ID: the same letter gets the same id."""
    digest = hashlib.sha256(
        "\x1f".join([sent_at.isoformat(), from_addr, subject, body[:4000]]).encode()
    ).hexdigest()[:32]
    return f"{digest}@synthesised.funnelwatch"


def parse(
    raw: bytes, *, max_attachment: int = 10 * 1024 * 1024, received_at: dt.datetime | None = None
) -> Parsed:
    """Parse one letter; never raises on malformed input (problems land in ``notes``)."""
    notes: list[str] = []
    # compat32 keeps headers raw, which we decode ourselves: several times faster than
    # policy.default's header objects and more forgiving of broken headers.
    try:
        msg: Message = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:
        notes.append(f"unparseable message: {type(exc).__name__}")
        msg = email.message_from_string("")
    if msg.defects:
        notes.append("MIME defects: " + ", ".join(type(d).__name__ for d in msg.defects[:5]))
    header_end = raw.find(b"\r\n\r\n")
    if header_end < 0:
        header_end = raw.find(b"\n\n")
    headers = raw[: header_end if header_end >= 0 else len(raw)].decode("utf-8", "replace")
    subject = _header(msg, "Subject")[:500]
    froms = _addresses(msg, "From") or _addresses(msg, "Sender")
    from_name, from_addr = froms[0] if froms else ("", "")
    out = Parsed(
        message_id="",
        synthesised_id=False,
        in_reply_to="",
        references=msgids(_header(msg, "References")),
        subject=subject,
        from_addr=from_addr,
        from_name=from_name[:200],
        to=[a for _, a in _addresses(msg, "To")],
        cc=[a for _, a in _addresses(msg, "Cc")],
        sent_at=_date(msg, received_at),
        headers=headers[:20000],
        text="",
        html="",
        notes=notes,
        size=len(raw),
    )
    irt = msgids(_header(msg, "In-Reply-To"))
    out.in_reply_to = irt[0] if irt else ""
    try:
        _walk(msg, out, max_attachment)
    except Exception as exc:
        out.notes.append(f"body not readable: {type(exc).__name__}")
        if not out.text:
            body = raw[header_end:] if header_end >= 0 else b""
            out.text = body.decode("utf-8", "replace").strip()[:100000]
    ids = msgids(_header(msg, "Message-ID"))
    if ids:
        out.message_id = ids[0]
    else:
        out.message_id = synthesise_id(
            out.sent_at, out.from_addr, out.subject, out.text or out.html
        )
        out.synthesised_id = True
    return out


def thread_root(parsed: Parsed) -> str:
    """First id of References, else In-Reply-To, else the letter's own id."""
    if parsed.references:
        return parsed.references[0]
    return parsed.in_reply_to or parsed.message_id


# Attributes through which a page loads something by itself, without a click.
_LOADING_ATTRIBUTES = frozenset({"src", "srcset", "background", "poster", "lowsrc", "dynsrc"})
_CSS_URL = re.compile(r"url\s*\(", re.IGNORECASE)


def clean_html(html: str, *, remote_images: bool = False) -> str:
    """HTML safe to show inside our pages: no scripts, styles, event handlers, remote forms,
    and (unless ``remote_images``) nothing that loads by itself (see :func:`clean_letter`)."""
    return clean_letter(html, remote_images=remote_images)[0]


def clean_letter(html: str, *, remote_images: bool = False) -> tuple[str, int]:
    """The letter's HTML made safe, and how many remote loads were blocked.

    A remote image in a letter is a tracking pixel as often as a picture: opening the
    letter would tell the sender when, how often and from which address it was read. So
    by default every attribute that loads something by itself (``src``, ``srcset``,
    ``background``, ``poster``; a ``style`` with ``url(...)``) is removed unless it points
    to an inline part of the letter (``cid:``); with ``remote_images`` (the reader asked
    to see them) absolute ``http(s)`` addresses are kept. Relative addresses would load
    from our own site and are always removed.
    """
    blocked = 0

    def loads(element: str, attribute: str, value: str) -> str | None:
        nonlocal blocked
        if attribute == "style" and _CSS_URL.search(value):
            if remote_images:
                return value
            blocked += 1
            return None
        if attribute not in _LOADING_ATTRIBUTES:
            return value
        target = value.strip().lower()
        if target.startswith("cid:"):
            return value
        if remote_images and target.startswith(("http://", "https://")):
            return value
        blocked += 1
        return None

    cleaned = nh3.clean(
        html, url_schemes={"http", "https", "mailto", "cid"}, attribute_filter=loads
    )
    return cleaned, blocked
