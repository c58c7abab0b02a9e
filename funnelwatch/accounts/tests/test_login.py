"""Logging in: wrong passwords are throttled per account and per address, the lock-out is
said on the page and kept in the audit trail, and chosen passwords must be strong."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from funnelwatch.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def _login(client: Client, username: str, password: str, address: str = "203.0.113.5", **kw):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **kw
    )


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_forty_wrong_passwords_then_the_right_one_is_refused(client, world, settings):
    for _ in range(40):
        _login(client, "alice", "guess")
    r = _login(client, "alice", "pw-alice")
    assert r.status_code == 429 and not _signed_in(client)
    page = r.content.decode()
    assert "Too many failed log-in attempts" in page and "15 minutes" in page
    # the lock-out is one audit event, on the account, not one per failure
    events = AuditEvent.objects.filter(action="lockout")
    assert events.count() == 1
    event = events.get()
    assert event.object_type == "accounts.user" and event.object_id == str(world.alice.pk)
    assert event.changes["ip_address"] == "203.0.113.5" and event.changes["failures"] == 10
    assert event.source == "system" and event.actor is None


def test_lock_is_per_account_and_per_address(client, world):
    for _ in range(10):
        _login(client, "alice", "guess", address="203.0.113.5")
    # the account, from another address
    assert _login(Client(), "alice", "pw-alice", address="198.51.100.1").status_code == 429
    # another account, from the same address (one address guessing many names)
    other = Client()
    assert _login(other, "bob", "pw-bob", address="203.0.113.5").status_code == 429
    assert not _signed_in(other)
    # neither: fine
    third = Client()
    assert _login(third, "bob", "pw-bob", address="198.51.100.1").status_code == 302
    assert _signed_in(third)


def test_unknown_names_are_throttled_and_audited_by_name(client, world):
    for i in range(10):
        _login(client, "nobody", "guess", address=f"198.51.100.{i}")
    event = AuditEvent.objects.get(action="lockout")
    assert event.object_type == "accounts.login" and event.object_id == "nobody"


def test_lock_out_message_is_translated(client, world):
    for _ in range(10):
        _login(client, "alice", "guess")
    ru = _login(client, "alice", "pw-alice", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Вход заблокирован на 15 минут" in ru
    mn = _login(client, "alice", "pw-alice", HTTP_ACCEPT_LANGUAGE="mn").content.decode()
    assert "15 минутын турш түгжигдсэн" in mn


def test_unlock_command_and_api_tokens_unaffected(client, world):
    from funnelwatch.accounts.tokens import issue_token

    token = issue_token(world.alice, "script")
    for _ in range(12):
        _login(client, "alice", "guess")
    api = Client().get(
        "/api/crm/deals", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR="203.0.113.5"
    )
    assert api.status_code == 200  # a token is no password login
    assert _login(client, "alice", "pw-alice").status_code == 429
    call_command("axes_reset_username", "alice")
    call_command("axes_reset_ip", "203.0.113.5")
    r = _login(client, "alice", "pw-alice")
    assert r.status_code == 302 and r.url == reverse("home") and _signed_in(client)


def test_success_clears_the_count(client, world):
    for _ in range(9):
        _login(client, "alice", "guess")
    assert _login(client, "alice", "pw-alice").status_code == 302
    client.logout()
    for _ in range(9):
        _login(client, "alice", "guess")
    assert _login(client, "alice", "pw-alice").status_code == 302


def test_weak_passwords_are_refused(world):
    from funnelwatch.accounts.models import User

    user = User(username="oyunchimeg.ts", first_name="Oyunchimeg", email="oyun@firm.test")
    for weak, reason in [
        ("80417263950", "entirely numeric"),
        ("oyunchimeg.ts1", "too similar"),
        ("Ab3$kq9", "too short"),
        ("password123", "too common"),
    ]:
        with pytest.raises(ValidationError) as err:
            validate_password(weak, user)
        assert reason in " ".join(err.value.messages), weak
    validate_password("copper-lantern-river", user)
