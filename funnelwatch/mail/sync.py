"""Incremental IMAP sync: new letters by UIDVALIDITY/UID, flag changes, letters gone.

Per folder: EXAMINE (read-only), fetch the sizes of UIDs above the last one seen, fetch
the new letters in chunks, then compare the UIDs on the server with the stored copies to
mark what disappeared, and (with CONDSTORE) pick up flag changes since the last MODSEQ.
Letters are never removed from the CRM: a letter gone from the server is marked.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import logging
import re
import ssl
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from funnelwatch.mail.crypto import SecretError
from funnelwatch.mail.ingest import Incoming, manager_addresses, store
from funnelwatch.mail.models import FolderState, Mailbox, Message, MessageCopy, Security
from funnelwatch.mail.parsing import parse

logger = logging.getLogger("funnelwatch.mail")

CHUNK = 250
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")
_MODSEQ = re.compile(rb"MODSEQ \((\d+)\)")


class SyncError(Exception):
    pass


@dataclass
class SyncResult:
    mailbox: int
    fetched: int = 0  # new letters stored
    linked: int = 0  # copies of letters already stored (same Message-ID)
    updated: int = 0  # flags changed, gone from the server, back again
    failed: int = 0  # letters or folders that could not be read
    errors: list[str] = field(default_factory=list)
    skipped: bool = False

    def as_dict(self) -> dict:
        return {
            "mailbox": self.mailbox,
            "fetched": self.fetched,
            "linked": self.linked,
            "updated": self.updated,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
        }


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    """Log in; errors never carry the password."""
    timeout = settings.FUNNELWATCH_MAIL_IMAP_TIMEOUT
    try:
        context = ssl.create_default_context(cafile=settings.FUNNELWATCH_MAIL_CA_FILE or None)
        if mailbox.security == Security.SSL:
            conn = imaplib.IMAP4_SSL(
                mailbox.host, mailbox.port, ssl_context=context, timeout=timeout
            )
        else:
            conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=timeout)
            if mailbox.security == Security.STARTTLS:
                conn.starttls(context)
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as exc:
        raise SyncError(f"cannot connect to {mailbox.host}:{mailbox.port}: {exc}") from None
    try:
        conn.login(mailbox.login, mailbox.get_password())
    except SecretError as exc:
        raise SyncError(str(exc)) from None
    except imaplib.IMAP4.error as exc:
        raise SyncError(f"login as {mailbox.login} refused: {_text(exc)}") from None
    return conn


def _text(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _code(conn: imaplib.IMAP4, name: str) -> int | None:
    _typ, data = conn.response(name)
    if data and data[0] is not None:
        try:
            return int(data[0])
        except (TypeError, ValueError):
            return None
    return None


def _fetch_items(data: list) -> list[tuple[bytes, bytes | None]]:
    """(the response line, the literal or None) for each FETCH item."""
    out = []
    for item in data or []:
        if isinstance(item, tuple):
            out.append((item[0], item[1]))
        elif isinstance(item, bytes) and item not in (b")",) and b"UID" in item:
            out.append((item, None))
    return out


def _uid_set(uids: list[int]) -> str:
    """Compact UID set: 1:5,8,10:12."""
    uids = sorted(uids)
    parts = []
    start = prev = uids[0]
    for u in uids[1:]:
        if u == prev + 1:
            prev = u
            continue
        parts.append(f"{start}:{prev}" if start != prev else str(start))
        start = prev = u
    parts.append(f"{start}:{prev}" if start != prev else str(start))
    return ",".join(parts)


def _flags(line: bytes) -> str:
    m = _FLAGS.search(line)
    if not m:
        return ""
    return " ".join(sorted(m.group(1).decode("ascii", "replace").split()))[:200]


class FolderSync:
    def __init__(
        self,
        conn: imaplib.IMAP4,
        mailbox: Mailbox,
        state: FolderState,
        result: SyncResult,
        addresses: dict[str, int],
        condstore: bool,
    ) -> None:
        self.conn, self.mailbox, self.state, self.result = conn, mailbox, state, result
        self.addresses, self.condstore = addresses, condstore

    def run(self) -> None:
        conn, state = self.conn, self.state
        typ, data = conn.select(_quote(state.name), readonly=True)
        if typ != "OK":
            raise SyncError(f"folder {state.name}: {_text(imaplib.IMAP4.error(data[0]))}")
        exists = int(data[0]) if data and data[0] and data[0].isdigit() else 0
        uidvalidity = _code(conn, "UIDVALIDITY")
        modseq = _code(conn, "HIGHESTMODSEQ") if self.condstore else None
        if state.uidvalidity != uidvalidity:
            if state.uidvalidity is not None:
                # The server renumbered the folder: the old copies are no longer addressable.
                self._mark_gone(
                    MessageCopy.objects.filter(
                        mailbox=self.mailbox, folder=state.name, deleted_on_server=False
                    )
                )
            state.uidvalidity, state.last_uid, state.highest_modseq = uidvalidity, 0, None
        self._fetch_new()
        self._reconcile(exists, modseq)
        state.messages_on_server = exists
        state.highest_modseq = modseq
        state.last_sync_at = timezone.now()
        state.last_error = ""
        state.save()

    def _fetch_new(self) -> None:
        conn, state = self.conn, self.state
        typ, data = conn.uid("FETCH", f"{state.last_uid + 1}:*", "(UID RFC822.SIZE FLAGS)")
        if typ != "OK":
            raise SyncError(f"folder {state.name}: cannot list new letters")
        sizes: dict[int, tuple[int, str]] = {}
        for line, _lit in _fetch_items(data):
            m = _UID.search(line)
            if m and int(m.group(1)) > state.last_uid:
                size = _SIZE.search(line)
                sizes[int(m.group(1))] = (int(size.group(1)) if size else 0, _flags(line))
        if not sizes:
            return
        uids = sorted(sizes)
        limit = settings.FUNNELWATCH_MAIL_MAX_MESSAGE_BYTES
        for start in range(0, len(uids), CHUNK):
            chunk = uids[start : start + CHUNK]
            small = [u for u in chunk if sizes[u][0] <= limit]
            big = [u for u in chunk if sizes[u][0] > limit]
            items: list[Incoming] = []
            if small:
                items += self._bodies(small, "BODY.PEEK[]", sizes)
            if big:
                items += self._bodies(big, "BODY.PEEK[HEADER]", sizes, note=True)
            self._store(items)
            state.last_uid = max(state.last_uid, chunk[-1])
            state.save(update_fields=["last_uid", "uidvalidity"])

    def _bodies(
        self, uids: list[int], what: str, sizes: dict[int, tuple[int, str]], note: bool = False
    ) -> list[Incoming]:
        typ, data = self.conn.uid("FETCH", _uid_set(uids), f"(UID {what})")
        if typ != "OK":
            self.result.failed += len(uids)
            self.result.errors.append(f"{self.state.name}: fetch of {len(uids)} letters failed")
            return []
        max_att = settings.FUNNELWATCH_MAIL_MAX_ATTACHMENT_BYTES
        out, seen = [], set()
        for line, literal in _fetch_items(data):
            m = _UID.search(line)
            if not m or literal is None:
                continue
            uid = int(m.group(1))
            seen.add(uid)
            try:
                parsed = parse(literal, max_attachment=max_att)
            except Exception as exc:
                self.result.failed += 1
                self.result.errors.append(f"{self.state.name} UID {uid}: {type(exc).__name__}")
                logger.exception("mail: cannot parse UID %s in %s", uid, self.state)
                continue
            if note:
                parsed.notes.append(f"letter of {sizes[uid][0]} bytes: body not fetched")
            out.append(
                Incoming(parsed, self.state.name, self.state.uidvalidity, uid, sizes[uid][1])
            )
        missing = set(uids) - seen
        if missing:
            self.result.failed += len(missing)
            self.result.errors.append(f"{self.state.name}: {len(missing)} letters not returned")
        return out

    def _store(self, items: list[Incoming]) -> None:
        try:
            new, linked, _ids = store(items, self.mailbox, addresses=self.addresses)
        except IntegrityError:
            # Another mailbox stored one of these letters meanwhile: retry as copies.
            new, linked, _ids = store(items, self.mailbox, addresses=self.addresses)
        self.result.fetched += new
        self.result.linked += linked

    def _reconcile(self, exists: int, modseq: int | None) -> None:
        """Mark letters gone from the server, and pick up flag changes."""
        conn, state = self.conn, self.state
        copies = MessageCopy.objects.filter(
            mailbox=self.mailbox, folder=state.name, uidvalidity=state.uidvalidity
        )
        stored = {
            uid: (deleted, flags)
            for uid, deleted, flags in copies.values_list("uid", "deleted_on_server", "flags")
        }
        if not stored:
            return
        if exists:
            typ, data = conn.uid("SEARCH", "ALL")
            if typ != "OK":
                raise SyncError(f"folder {state.name}: cannot list letters")
            on_server = {int(u) for u in (data[0] or b"").split()}
        else:
            on_server = set()
        gone = [u for u, (deleted, _f) in stored.items() if u not in on_server and not deleted]
        for start in range(0, len(gone), 500):
            self._mark_gone(copies.filter(uid__in=gone[start : start + 500]))
        # Flags of the letters still there (CONDSTORE: only those changed since last time).
        if not on_server:
            return
        if self.condstore and state.highest_modseq and modseq == state.highest_modseq:
            return
        if self.condstore and state.highest_modseq:
            typ, data = conn.uid(
                "FETCH", "1:*", "(UID FLAGS)", f"(CHANGEDSINCE {state.highest_modseq})"
            )
        else:
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
        if typ != "OK":
            return
        current = {uid: flags for uid, (_d, flags) in stored.items() if uid in on_server}
        changed: dict[int, str] = {}
        for line, _lit in _fetch_items(data):
            m = _UID.search(line)
            if m and int(m.group(1)) in current:
                flags = _flags(line)
                if flags != current[int(m.group(1))]:
                    changed[int(m.group(1))] = flags
        for uid, flags in changed.items():
            deleted = "\\Deleted" in flags
            copies.filter(uid=uid).update(
                flags=flags, deleted_on_server=deleted, gone_at=timezone.now() if deleted else None
            )
        if changed:
            self.result.updated += len(changed)
            uids = list(changed)
            for start in range(0, len(uids), 500):
                _refresh_deleted(
                    list(
                        copies.filter(uid__in=uids[start : start + 500]).values_list(
                            "message_id", flat=True
                        )
                    )
                )

    def _mark_gone(self, qs) -> None:
        message_ids = list(qs.values_list("message_id", flat=True))
        n = qs.update(deleted_on_server=True, gone_at=timezone.now())
        self.result.updated += n
        _refresh_deleted(message_ids)


def _refresh_deleted(message_ids: list[int]) -> None:
    """A letter is deleted on the server when none of its copies is left there."""
    if not message_ids:
        return
    alive = set(
        MessageCopy.objects.filter(message_id__in=message_ids, deleted_on_server=False).values_list(
            "message_id", flat=True
        )
    )
    Message.objects.filter(pk__in=set(message_ids) - alive).update(deleted_on_server=True)
    Message.objects.filter(pk__in=alive).update(deleted_on_server=False)


def _enable_condstore(conn: imaplib.IMAP4) -> bool:
    """Capabilities after login (Dovecot lists CONDSTORE only then), and ENABLE it."""
    try:
        typ, data = conn.capability()
        caps = data[0].upper().split() if typ == "OK" and data and data[0] else []
        if b"CONDSTORE" not in caps:
            return False
        typ, _data = conn.enable("CONDSTORE")
        return typ == "OK"
    except imaplib.IMAP4.error:
        return False


def _claim(mailbox: Mailbox, now: dt.datetime) -> bool:
    stale = now - dt.timedelta(minutes=30)
    from django.db.models import Q

    return bool(
        Mailbox.objects.filter(pk=mailbox.pk)
        .filter(Q(syncing_since__isnull=True) | Q(syncing_since__lt=stale))
        .update(syncing_since=now)
    )


def sync_mailbox(mailbox: Mailbox) -> SyncResult:
    """Sync every folder of one mailbox; errors are kept on the mailbox, never raised."""
    result = SyncResult(mailbox.pk)
    now = timezone.now()
    if not _claim(mailbox, now):
        result.skipped = True
        result.errors.append("a sync of this mailbox is already running")
        return result
    conn = None
    try:
        conn = connect(mailbox)
        condstore = _enable_condstore(conn)
        addresses = manager_addresses()
        for name in mailbox.folder_names:
            state, _ = FolderState.objects.get_or_create(mailbox=mailbox, name=name)
            try:
                FolderSync(conn, mailbox, state, result, addresses, condstore).run()
            except SyncError as exc:
                result.failed += 1
                result.errors.append(str(exc))
                FolderState.objects.filter(pk=state.pk).update(
                    last_error=str(exc)[:2000], last_sync_at=timezone.now()
                )
    except SyncError as exc:
        result.failed += 1
        result.errors.append(str(exc))
    except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error) as exc:
        result.failed += 1
        result.errors.append(f"connection lost: {type(exc).__name__}: {_text(exc)}")
    finally:
        if conn is not None:
            try:
                conn.logout()
            except (OSError, imaplib.IMAP4.error):
                pass
        finished = timezone.now()
        fields = {
            "syncing_since": None,
            "last_sync_at": finished,
            "last_error": "\n".join(result.errors)[:5000],
        }
        if not result.errors:
            fields["last_success_at"] = finished
        Mailbox.objects.filter(pk=mailbox.pk).update(**fields)
    return result


def sync_all(mailbox_id: int | None = None) -> list[SyncResult]:
    boxes = Mailbox.objects.filter(is_active=True)
    if mailbox_id is not None:
        boxes = Mailbox.objects.filter(pk=mailbox_id)
    return [sync_mailbox(m) for m in boxes.order_by("pk")]
