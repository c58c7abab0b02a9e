"""Notifications by Telegram and click-to-call through Asterisk, each against a local
stand-in of the outside service: nothing here reaches the internet."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from funnelwatch.alerts import digests, engine
from funnelwatch.alerts.models import Kind as AlertKind
from funnelwatch.audit.trail import history
from funnelwatch.crm import services as crm
from funnelwatch.handoffs import ami, notify, services
from funnelwatch.handoffs.models import ClickToCall, NoticeSent, NotificationChoice

pytestmark = pytest.mark.django_db

TOKEN = "123:test-token"


# --- a stand-in of Telegram's Bot API ------------------------------------------------------


@pytest.fixture
def telegram(settings):
    """A Bot API stand-in: records each sendMessage; chat "666" is refused as Telegram
    refuses a chat that blocked the bot."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ok = self.path == f"/bot{TOKEN}/sendMessage" and body.get("chat_id") != "666"
            received.append({"path": self.path, **body})
            answer = (
                {"ok": True, "result": {"message_id": len(received)}}
                if ok
                else {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
            )
            data = json.dumps(answer).encode()
            self.send_response(200 if ok else 403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.FUNNELWATCH_TELEGRAM_API_BASE = f"http://127.0.0.1:{server.server_port}"
    settings.FUNNELWATCH_TELEGRAM_BOT_TOKEN = TOKEN
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield received
    server.shutdown()
    server.server_close()


def choose(user, email=True, chat=""):
    NotificationChoice.objects.update_or_create(
        user=user,
        defaults={"by_email": email, "by_telegram": bool(chat), "telegram_chat_id": chat},
    )


def test_a_past_due_request_reaches_requester_lead_head_and_department_head(
    world, depts, at, telegram
):
    choose(world.alice, email=False, chat="1001")  # Telegram only
    choose(world.head, email=True, chat="1002")  # both
    choose(depts.ahead, email=True)  # e-mail only (the default)
    services.request(
        actor=world.alice, deal=depts.deal, department=depts.accounting, kind="invoice",
        text="Invoice", at=at(2026, 3, 2, 10),
    )  # fmt: skip
    with time_machine.travel(at(2026, 3, 2, 12, 30), tick=False):
        engine.evaluate(kinds=[AlertKind.HANDOFF_OVERDUE])
        assert notify.send_alerts() == 4  # alice, her lead, the head, accounting's head
        assert notify.send_alerts() == 0  # each once
    chats = sorted(m["chat_id"] for m in telegram)
    assert chats == ["1001", "1002"]
    # Transparency: the manager reads what the head reads about her.
    texts = {m["chat_id"]: m["text"] for m in telegram}
    assert texts["1001"] == texts["1002"] and "Accounting" in texts["1001"]
    assert "Alice" in texts["1001"]
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ahead@firm.test",
        "head@firm.test",
        "lead@firm.test",
    ]
    assert {n.user_id: n.channels for n in NoticeSent.objects.all()} == {
        world.alice.pk: "telegram",
        world.head.pk: "email,telegram",
        world.lead.pk: "email",
        depts.ahead.pk: "email",
    }


def test_telegram_refusal_is_recorded_and_email_still_goes(world, depts, at, telegram):
    choose(world.alice, email=True, chat="666")
    sent, errors = notify.deliver(world.alice, "Subject", "Text")
    assert sent == ["email"] and "bot was blocked" in errors[0]
    assert telegram[0]["chat_id"] == "666"


def test_digests_follow_each_users_choice(world, at, telegram):
    choose(world.alice, email=False, chat="2001")
    choose(world.head, email=True)
    crm.create_lead(actor=world.alice, title="New", owner=world.alice, at=at(2026, 3, 2, 10))
    with time_machine.travel(at(2026, 3, 2, 19), tick=False):
        digests.deliver(digests.DAILY, at(2026, 3, 2, 19).date(), at(2026, 3, 2, 19))
    by_telegram = [m for m in telegram if m["chat_id"] == "2001"]
    assert len(by_telegram) == 1 and "Alice" in by_telegram[0]["text"]
    emailed = {m.to[0] for m in mail.outbox}
    assert "head@firm.test" in emailed and "alice@firm.test" not in emailed


def test_the_notification_form_checks_the_chat_id(world, client):
    client.force_login(world.alice)
    url = reverse("calendar:notifications")
    client.post(url, {"by_telegram": "on", "telegram_chat_id": "not a number"})
    client.post(url, {"by_telegram": "on"})
    assert not NotificationChoice.objects.exists()
    client.post(url, {"by_telegram": "on", "telegram_chat_id": "123456"})
    choice = NotificationChoice.objects.get()
    assert (choice.by_email, choice.by_telegram, choice.telegram_chat_id) == (False, True, "123456")
    assert history(choice).get().actor_id == world.alice.pk


# --- a stand-in of the Asterisk Manager Interface --------------------------------------------


@pytest.fixture
def asterisk(settings):
    """An AMI stand-in: banner, Login (secret "s3cret"), Originate, Logoff."""
    actions: list[dict] = []

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"Asterisk Call Manager/7.0.3\r\n")
            while True:
                block = {}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    line = line.decode().rstrip("\r\n")
                    if not line:
                        break
                    key, _sep, value = line.partition(": ")
                    block[key] = value
                actions.append(block)
                action, action_id = block.get("Action"), block.get("ActionID", "")
                if action == "Login":
                    good = block.get("Secret") == "s3cret"
                    reply = (
                        "Response: Success\r\nMessage: Authentication accepted"
                        if good
                        else "Response: Error\r\nMessage: Authentication failed"
                    )
                elif action == "Originate":
                    # An event arrives before the answer, as a real PBX may send one.
                    self.wfile.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\n\r\n")
                    reply = "Response: Success\r\nMessage: Originate successfully queued"
                elif action == "Logoff":
                    reply = "Response: Goodbye\r\nMessage: Thanks for all the fish."
                else:
                    reply = "Response: Error\r\nMessage: Invalid/unknown command"
                self.wfile.write(f"{reply}\r\nActionID: {action_id}\r\n\r\n".encode())
                if action == "Logoff":
                    return

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.FUNNELWATCH_AMI_HOST = "127.0.0.1"
    settings.FUNNELWATCH_AMI_PORT = server.server_address[1]
    settings.FUNNELWATCH_AMI_USERNAME = "funnelwatch"
    settings.FUNNELWATCH_AMI_SECRET = "s3cret"
    settings.FUNNELWATCH_AMI_TIMEOUT = 5
    yield actions
    server.shutdown()
    server.server_close()


@pytest.fixture
def client_contact(world):
    return crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, phone_numbers=["+97699112233"]
    )


def test_click_to_call_asks_the_pbx_to_ring_the_manager_then_the_client(
    world, client_contact, asterisk, client
):
    client.force_login(world.alice)
    response = client.post(reverse("handoffs:dial", args=["contact", client_contact.pk]))
    assert response.status_code == 302
    login, originate, logoff = asterisk
    assert (login["Action"], login["Username"], login["Secret"]) == (
        "Login",
        "funnelwatch",
        "s3cret",
    )
    assert originate["Action"] == "Originate"
    assert (originate["Channel"], originate["Exten"], originate["Async"]) == (
        "PJSIP/101",
        "+97699112233",
        "true",
    )
    assert logoff["Action"] == "Logoff"
    call = ClickToCall.objects.get()
    assert (call.user, call.number, call.extension, call.status) == (
        world.alice,
        "+97699112233",
        "101",
        "queued",
    )
    assert history(call).get().actor_id == world.alice.pk


def test_click_to_call_refusals(world, client_contact, asterisk, client, settings):
    client.force_login(world.bob)  # not his client
    url = reverse("handoffs:dial", args=["contact", client_contact.pk])
    assert client.post(url).status_code == 404
    client.force_login(world.reviewer)
    assert client.post(url).status_code == 403
    client.force_login(world.alice)
    client.post(url, {"number": "+97688000000"})  # not the contact's number
    assert not asterisk and not ClickToCall.objects.exists()
    settings.FUNNELWATCH_AMI_SECRET = "wrong"
    client.post(url)
    failed = ClickToCall.objects.get()
    assert failed.status == "failed" and "refused the login" in failed.error


def test_no_pbx_listening_is_an_error_not_a_crash(settings):
    settings.FUNNELWATCH_AMI_HOST = "127.0.0.1"
    settings.FUNNELWATCH_AMI_PORT = 9  # nothing listens on discard
    settings.FUNNELWATCH_AMI_TIMEOUT = 2
    with pytest.raises(ami.AmiError):
        ami.originate("101", "+97699112233")
