"""IP addresses and networks from settings, and the address a request really came from.

Settings name addresses as comma-separated lists of single addresses (``203.0.113.7``,
``2001:db8::1``) and networks (``10.0.0.0/8``). Behind a reverse proxy every request
arrives from the proxy, so the client's address is read from ``X-Forwarded-For`` — but
only when the request came from a proxy named in FUNNELWATCH_TRUSTED_PROXIES: anyone
else can write that header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def as_list(value: str | Iterable[str] | None) -> list[str]:
    """A setting given either as a list or as one comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [item.strip() for item in value if item and item.strip()]


def parse_address(text: str) -> Address | None:
    """The address, with an IPv4-mapped IPv6 address read as the IPv4 one; None if not one."""
    try:
        ip = ipaddress.ip_address(text.strip().split("%", 1)[0].strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@lru_cache(maxsize=64)
def _networks(entries: tuple[str, ...], setting: str) -> tuple[Network, ...]:
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{setting}: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(out)


def networks(value: str | Iterable[str] | None, setting: str) -> tuple[Network, ...]:
    """The networks of a setting; an entry that is not one names the setting in the error."""
    return _networks(tuple(as_list(value)), setting)


def in_networks(ip: Address | None, nets: Iterable[Network]) -> bool:
    return ip is not None and any(ip.version == net.version and ip in net for net in nets)


def trusted_proxies() -> tuple[Network, ...]:
    return networks(
        getattr(settings, "FUNNELWATCH_TRUSTED_PROXIES", None), "FUNNELWATCH_TRUSTED_PROXIES"
    )


def client_ip(request: HttpRequest) -> str:
    """The address the request came from.

    ``REMOTE_ADDR``, unless it is a trusted proxy: then the right-most address of
    ``X-Forwarded-For`` that is not itself a trusted proxy (each proxy appends the address
    it was contacted from, so everything left of that may have been written by the
    client). Empty when there is no usable address.
    """
    remote = (request.META.get("REMOTE_ADDR") or "").strip()
    proxies = trusted_proxies()
    if not proxies or not in_networks(parse_address(remote), proxies):
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    forwarded = [part.strip() for part in header.split(",") if part.strip()]
    for hop in reversed(forwarded):
        ip = parse_address(hop)
        if ip is None:
            return ""  # a malformed hop: trust nothing to its left
        if not in_networks(ip, proxies):
            return str(ip)
    return remote
