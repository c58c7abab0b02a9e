"""Downloading a file from an address that came from outside, without going where it
should not.

An address in a webhook (a recording URL) is written by whoever can reach the webhook or
the provider's account; followed blindly it makes the server fetch from inside the
company's network (``http://10.0.0.1/admin``, a cloud metadata service at
``169.254.169.254``), hand the provider's credentials to a look-alike address, or fill
the disk. So every request here:

- goes only to a host on the policy's allow-list (``api.twilio.com``, ``*.twilio.com``
  for any subdomain, ``*`` for any host, or an IP network for addresses written as IPs);
- resolves the host itself and refuses when *any* of its addresses is private,
  loopback, link-local, multicast or reserved, unless the host or that address is on the
  policy's internal list (an office PBX on ``10.0.0.5``); then connects to the address
  it checked, so a second DNS answer cannot swap in another one;
- follows redirects itself (at most ``max_redirects``), checking each new address the
  same way and asking the policy afresh for the headers of each hop, so credentials meant
  for one host never travel to another;
- accepts only a 200 answer with one of the policy's content types, and stops reading
  once the body passes ``max_bytes`` (checked against Content-Length first, then while
  reading) or the whole exchange passes ``timeout`` seconds.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from funnelwatch.lib.addresses import Address, networks, parse_address

REDIRECTS = {301, 302, 303, 307, 308}


class FetchError(Exception):
    """The download was refused or failed; the message says why, naming the address."""


@dataclass(frozen=True)
class Policy:
    hosts: tuple[str, ...]
    # Named in errors, so whoever reads them knows which setting to change.
    hosts_setting: str = "the allowed hosts"
    internal: tuple[str, ...] = ()
    internal_setting: str = "the allowed internal hosts"
    max_bytes: int = 200 * 1024 * 1024
    content_types: tuple[str, ...] = ("audio/*", "application/octet-stream")
    timeout: float = 30
    max_redirects: int = 5
    # Extra headers for one hop, given its parsed URL (credentials for an exact host).
    headers_for: Callable[[urllib.parse.SplitResult], dict[str, str]] | None = field(
        default=None, compare=False
    )


@dataclass
class Fetched:
    data: bytes
    content_type: str
    url: str


def _host_matches(host: str, patterns: tuple[str, ...], ip: Address | None) -> bool:
    for pattern in patterns:
        pattern = pattern.strip().lower().rstrip(".")
        if not pattern:
            continue
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
        if ip is not None and ("/" in pattern or parse_address(pattern) is not None):
            try:
                net = ipaddress.ip_network(pattern, strict=False)
            except ValueError:
                continue
            if ip.version == net.version and ip in net:
                return True
    return False


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(ip: Address) -> bool:
    """An address on the public internet: not private, loopback, link-local (the cloud
    metadata service), shared, multicast, reserved or unspecified, nor an IPv6 address
    that carries such an IPv4 address inside (IPv4-mapped, 6to4, Teredo, NAT64)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None and not is_public(inner):
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _checked_addresses(host: str, port: int, policy: Policy) -> list[str]:
    """Every address of ``host``, after checking each; refuses if any is not allowed."""
    literal = parse_address(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"cannot resolve {host}: {exc}") from None
        found = []
        for info in infos:
            ip = parse_address(str(info[4][0]))
            if ip is not None and ip not in found:
                found.append(ip)
        if not found:
            raise FetchError(f"{host} has no address")
    internal_names = tuple(p for p in policy.internal if parse_address(p.split("/")[0]) is None)
    internal_nets = networks(
        [p for p in policy.internal if parse_address(p.split("/")[0]) is not None],
        policy.internal_setting,
    )
    name_allowed = literal is None and _host_matches(host, internal_names, None)
    for ip in found:
        if is_public(ip) or name_allowed:
            continue
        if any(ip.version == net.version and ip in net for net in internal_nets):
            continue
        raise FetchError(
            f"{host} resolves to {ip}, an internal address; add the host or network to "
            f"{policy.internal_setting} if this server is yours"
        )
    return [str(ip) for ip in found]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever DNS says now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS; the certificate is still checked against the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _parse(url: str, policy: Policy) -> tuple[urllib.parse.SplitResult, str, int]:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchError(f"{url!r} is not a valid address: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"{url!r}: only http and https addresses are fetched")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchError(f"{url!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise FetchError(f"{host}: a user name or password in the address is not accepted")
    if not _host_matches(host, policy.hosts, parse_address(host)):
        raise FetchError(f"{host} is not an allowed recording host (see {policy.hosts_setting})")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def _content_type_allowed(ctype: str, allowed: tuple[str, ...]) -> bool:
    for pattern in allowed:
        if pattern.endswith("/*") and ctype.startswith(pattern[:-1]):
            return True
        if ctype == pattern:
            return True
    return False


def fetch(
    url: str,
    policy: Policy,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """The body at ``url`` under ``policy``; raises FetchError with the reason otherwise.

    ``headers`` go with the first request only (they describe its body); after a 303, or
    a 301/302 answering a POST, the next request is a GET without a body, as browsers do.
    """
    deadline = time.monotonic() + policy.timeout
    first_headers = dict(headers or {})
    for _hop in range(policy.max_redirects + 1):
        parts, host, port = _parse(url, policy)
        addresses = _checked_addresses(host, port, policy)
        hop_headers = dict(first_headers)
        if policy.headers_for is not None:
            hop_headers.update(policy.headers_for(parts))
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        conn = _open(parts.scheme, host, port, addresses, deadline)
        try:
            conn.request(method, path, body=body, headers=hop_headers)
            resp = conn.getresponse()
            if resp.status in REDIRECTS:
                location = resp.getheader("Location")
                if not location:
                    raise FetchError(f"{host} answered {resp.status} without a Location")
                url = urllib.parse.urljoin(url, location.strip())
                if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                first_headers = {}
                continue
            return _read(resp, host, url, policy, deadline)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"{host}: {exc}") from None
        finally:
            conn.close()
    raise FetchError(f"more than {policy.max_redirects} redirects, the last to {url}")


def _open(
    scheme: str, host: str, port: int, addresses: list[str], deadline: float
) -> http.client.HTTPConnection:
    last: OSError | None = None
    for address in addresses:
        timeout = max(deadline - time.monotonic(), 0.001)
        conn_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        conn = conn_class(host, port, address, timeout)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            last = exc
            continue
        return conn
    raise FetchError(f"cannot connect to {host}: {last}")


def _read(
    resp: http.client.HTTPResponse, host: str, url: str, policy: Policy, deadline: float
) -> Fetched:
    if resp.status != 200:
        raise FetchError(f"{host} answered HTTP {resp.status} {resp.reason}")
    if resp.getheader("Content-Type") is None:
        raise FetchError(f"{host} sent no Content-Type")
    ctype = resp.headers.get_content_type()
    if not _content_type_allowed(ctype, policy.content_types):
        raise FetchError(
            f"{host} sent {ctype}, not a recording ({', '.join(policy.content_types)})"
        )
    too_big = FetchError(f"{host}: the file is larger than {policy.max_bytes} bytes")
    length = resp.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > policy.max_bytes:
        raise too_big
    chunks, total = [], 0
    while True:
        if time.monotonic() > deadline:
            raise FetchError(f"{host}: not finished within {policy.timeout:g} s")
        block = resp.read(min(65536, policy.max_bytes + 1 - total))
        if not block:
            break
        total += len(block)
        if total > policy.max_bytes:
            raise too_big
        chunks.append(block)
    return Fetched(b"".join(chunks), ctype, url)
