"""The address checks of funnelwatch.lib.fetch, without a network."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from funnelwatch.lib import fetch


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared (carrier NAT)
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 around 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
        "2001:db8::1",  # documentation
    ],
)
def test_internal_addresses_are_not_public(address):
    assert not fetch.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:85e5", "8.8.8.8"])
def test_public_addresses(address):
    assert fetch.is_public(ipaddress.ip_address(address))


def test_every_resolved_address_is_checked(monkeypatch):
    """A name resolving to a public and a private address is refused: the connection
    could go to either."""

    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    policy = fetch.Policy(hosts=("*.example.com",), timeout=1)
    with pytest.raises(fetch.FetchError, match="10.0.0.7, an internal address"):
        fetch.fetch("https://rec.example.com/a.wav", policy)
    allowed = fetch.Policy(hosts=("*.example.com",), internal=("10.0.0.0/24",))
    assert fetch._checked_addresses("rec.example.com", 443, allowed) == [
        "93.184.216.34",
        "10.0.0.7",
    ]


@pytest.mark.parametrize(
    "url,allowed",
    [
        ("https://api.twilio.com/x", True),
        ("https://API.Twilio.com./x", True),
        ("https://media.twiliocdn.com/x", True),
        ("https://twiliocdn.com/x", False),  # *. means subdomains only
        ("https://eviltwiliocdn.com/x", False),
        ("https://api.twilio.com.attacker.example/x", False),
        ("https://attacker.example/api.twilio.com", False),
    ],
)
def test_host_allow_list(url, allowed):
    policy = fetch.Policy(hosts=("api.twilio.com", "*.twiliocdn.com"))
    if allowed:
        assert fetch._parse(url, policy)[1] in ("api.twilio.com", "media.twiliocdn.com")
    else:
        with pytest.raises(fetch.FetchError, match="not an allowed recording host"):
            fetch._parse(url, policy)
