"""A real Dovecot for the IMAP tests, started from a throw-away config, and an SMTP sink.

Dovecot is started once per test session on a free port (no TLS, plain logins, maildir
in a temporary folder). When it is not installed it is installed from the package
manager if we are root; otherwise the IMAP tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

USERS = [f"u{i}" for i in range(1, 41)] + ["bench"]
PASSWORD = "secret-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )


def _ensure_dovecot() -> tuple[str | None, str]:
    binary = _dovecot_binary()
    if binary:
        return binary, ""
    if os.geteuid() != 0:
        return None, "dovecot is not installed and we are not root (run scripts/system-deps.sh)"
    if not shutil.which("apt-get"):
        return None, "dovecot is not installed and there is no apt-get to install it"
    proc = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "dovecot-imapd"],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        check=False,
    )
    binary = _dovecot_binary()
    if not binary:
        return None, "installing dovecot-imapd failed: " + proc.stderr.strip()[-300:]
    return binary, ""


def _mail_user() -> tuple[str, int, int]:
    """The unprivileged user the mail processes run as (Dovecot refuses root)."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_uid, me.pw_gid
    try:
        entry = pwd.getpwnam("vmail")
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "vmail",
            ],
            check=True,
        )
        entry = pwd.getpwnam("vmail")
    return entry.pw_name, entry.pw_uid, entry.pw_gid


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 / localhost, made fresh for the session."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class Dovecot:
    host: str
    port: int
    root: Path
    ssl_port: int = 0
    ca_file: str = ""
    _next: itertools.count = field(default_factory=lambda: itertools.count())

    def new_account(self) -> str:
        """A login nobody used yet in this session (so tests do not see each other's mail)."""
        return USERS[next(self._next)]

    @contextlib.contextmanager
    def imap(self, login: str):
        conn = imaplib.IMAP4(self.host, self.port, timeout=30)
        conn.login(login, PASSWORD)
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def append(self, login: str, raw: bytes, folder: str = "INBOX", flags: str = "") -> int:
        """Deliver a letter; returns its UID."""
        with self.imap(login) as conn:
            conn.create(folder)  # fails harmlessly when it exists
            typ, data = conn.append(
                folder, f"({flags})" if flags else None, imaplib.Time2Internaldate(time.time()), raw
            )
            assert typ == "OK", data
            return int(data[0].split(b"APPENDUID ")[1].split()[1].rstrip(b"]"))

    def append_many(self, login: str, raws: list[bytes], folder: str = "INBOX") -> None:
        with self.imap(login) as conn:
            conn.create(folder)
            for raw in raws:
                conn.append(folder, None, None, raw)

    def create_folder(self, login: str, folder: str) -> None:
        with self.imap(login) as conn:
            conn.create(folder)

    def set_flags(self, login: str, uid: int, flags: str, folder: str = "INBOX") -> None:
        with self.imap(login) as conn:
            conn.select(folder)
            typ, data = conn.uid("STORE", str(uid), "+FLAGS", f"({flags})")
            assert typ == "OK", data

    def delete(self, login: str, uid: int, folder: str = "INBOX") -> None:
        """Delete and expunge one letter."""
        with self.imap(login) as conn:
            conn.select(folder)
            conn.uid("STORE", str(uid), "+FLAGS", r"(\Deleted)")
            conn.expunge()

    def move(self, login: str, uid: int, src: str, dst: str) -> None:
        with self.imap(login) as conn:
            conn.create(dst)
            conn.select(src)
            typ, data = conn.uid("MOVE", str(uid), dst)
            assert typ == "OK", data

    def recreate_folder(self, login: str, folder: str) -> None:
        """Drop and create a folder again: the server gives it a new UIDVALIDITY."""
        with self.imap(login) as conn:
            conn.select("INBOX")
            conn.delete(folder)
            conn.create(folder)


def _start(tmp: Path, binary: str) -> tuple[subprocess.Popen, int, int]:
    """Dovecot with plain IMAP + STARTTLS on one port and IMAPS on another."""
    user, uid, gid = _mail_user()
    port, ssl_port = free_port(), free_port()
    conf_dir, mail_dir = tmp / "dovecot", tmp / "mail"
    conf_dir.mkdir()
    mail_dir.mkdir()
    cert, key = _self_signed(conf_dir)
    os.chown(mail_dir, uid, gid)
    root = os.geteuid() == 0
    internal = (
        ""
        if root
        else (
            f"default_internal_user = {user}\ndefault_login_user = {user}\n"
            f"default_internal_group = {grp.getgrgid(gid).gr_name}\n"
        )
    )
    (conf_dir / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {conf_dir}/run
state_dir = {conf_dir}/state
instance_name = funnelwatch-test-{port}
log_path = {conf_dir}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail_dir}/%u
mail_fsync = never
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
{internal}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {conf_dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={mail_dir}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
}}
""")
    users = conf_dir / "users"
    users.write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}\n" for u in USERS))
    if root:
        with contextlib.suppress(KeyError):
            os.chown(users, 0, grp.getgrnam("dovecot").gr_gid)
        users.chmod(0o640)
    proc = subprocess.Popen(
        [binary, "-F", "-c", str(conf_dir / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("dovecot exited: " + proc.stderr.read().decode()[-500:])
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port, ssl_port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("dovecot did not start listening within 15 s")


@pytest.fixture(scope="session")
def dovecot():
    binary, reason = _ensure_dovecot()
    if not binary:
        pytest.skip(reason)
    tmp = Path(tempfile.mkdtemp(prefix="fw-dovecot-"))
    tmp.chmod(0o755)  # the mail processes run as another user
    proc, port, ssl_port = _start(tmp, binary)
    try:
        yield Dovecot("127.0.0.1", port, tmp, ssl_port, str(tmp / "dovecot" / "cert.pem"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def smtp_sink(settings):
    """aiosmtpd on a free port; Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as MessageHandler

    class Capture(MessageHandler):
        def __init__(self) -> None:
            super().__init__()
            self.messages = []

        def handle_message(self, message) -> None:
            self.messages.append(message)

    handler = Capture()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _mail_settings(settings, tmp_path):
    settings.FUNNELWATCH_FERNET_KEY = "9nlFYP7a5UrrzInuglVwGQkpMr0JR-BXbvhw2KsdMvk="
    settings.MEDIA_ROOT = tmp_path / "media"
