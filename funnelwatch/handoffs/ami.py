"""Click-to-call through the Asterisk Manager Interface (AMI) over TCP.

The PBX is asked to ring the manager's extension and, once they pick up, to dial the
client (``Originate`` with ``Async: true``). The call then arrives through the usual
import of CDRs like any other. The AMI speaks lines ending in CRLF: a banner line, then
blocks of ``Key: Value`` lines ending with an empty line.
"""

from __future__ import annotations

import itertools
import socket

from django.conf import settings
from django.utils.translation import gettext as _

_ids = itertools.count(1)


class AmiError(Exception):
    pass


class _Session:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AmiError(_("The PBX closed the connection."))
            self.buffer += chunk
            if len(self.buffer) > 65536:
                raise AmiError(_("The PBX sent a line too long."))
        raw, self.buffer = self.buffer.split(b"\r\n", 1)
        return raw.decode("utf-8", "replace")

    def block(self) -> dict[str, str]:
        """One message: ``Key: Value`` lines up to an empty line."""
        out: dict[str, str] = {}
        while True:
            text = self.line()
            if not text:
                if out:
                    return out
                continue
            key, _sep, value = text.partition(":")
            out[key.strip().lower()] = value.strip()

    def response(self, action_id: str) -> dict[str, str]:
        """The response to our action (events in between are skipped)."""
        for _i in range(100):
            msg = self.block()
            if "response" in msg and msg.get("actionid", action_id) == action_id:
                return msg
        raise AmiError(_("The PBX did not answer the request."))

    def send(self, action: str, **fields: str) -> dict[str, str]:
        action_id = f"fw-{next(_ids)}"
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        for key, value in fields.items():
            clean = str(value).replace("\r", " ").replace("\n", " ")
            lines.append(f"{key}: {clean}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.response(action_id)


def originate(extension: str, number: str) -> str:
    """Ask the PBX to call ``extension`` and then ``number``; the PBX's message."""
    if not settings.FUNNELWATCH_AMI_HOST:
        raise AmiError(_("Click-to-call is not set up (FUNNELWATCH_AMI_HOST)."))
    try:
        with socket.create_connection(
            (settings.FUNNELWATCH_AMI_HOST, settings.FUNNELWATCH_AMI_PORT),
            timeout=settings.FUNNELWATCH_AMI_TIMEOUT,
        ) as sock:
            session = _Session(sock)
            banner = session.line()
            if "Asterisk Call Manager" not in banner:
                raise AmiError(_("Not an Asterisk manager interface: %s") % banner[:80])
            login = session.send(
                "Login",
                Username=settings.FUNNELWATCH_AMI_USERNAME,
                Secret=settings.FUNNELWATCH_AMI_SECRET,
            )
            if login.get("response", "").lower() != "success":
                raise AmiError(_("The PBX refused the login: %s") % login.get("message", ""))
            answer = session.send(
                "Originate",
                Channel=settings.FUNNELWATCH_AMI_CHANNEL.format(extension=extension),
                Context=settings.FUNNELWATCH_AMI_CONTEXT,
                Exten=number,
                Priority="1",
                CallerID=number,
                Timeout="30000",
                Async="true",
            )
            try:
                session.send("Logoff")
            except (AmiError, OSError):
                pass
    except OSError as exc:
        raise AmiError(_("The PBX cannot be reached: %s") % exc) from exc
    if answer.get("response", "").lower() != "success":
        raise AmiError(_("The PBX refused the call: %s") % answer.get("message", ""))
    return answer.get("message", "")
