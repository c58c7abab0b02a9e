"""Pages: who may see which mailbox and letter, audit of reading others' mail, query counts."""

from __future__ import annotations

import datetime as dt

import pytest

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services as crm
from funnelwatch.mail import services
from funnelwatch.mail.ingest import Incoming, store
from funnelwatch.mail.models import Mailbox, Message, Security
from funnelwatch.mail.parsing import parse
from funnelwatch.mail.tests.letters import letter

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def _box(world, user, login):
    return services.add_mailbox(
        actor=world.head,
        user=user,
        host="imap.test",
        port=993,
        login=login,
        password="pw",
        security=Security.SSL,
    )


def _deliver(box, n, frm="client@acme.test", to="alice@firm.test", **kw):
    items = [
        Incoming(
            parse(
                letter(
                    frm,
                    to,
                    f"Letter {i}",
                    f"<b>body {i}</b>",
                    msgid=f"<{box.pk}-{i}-{frm}>",
                    date=T0 + dt.timedelta(hours=i),
                    **kw,
                )
            ),
            "INBOX",
            1,
            1000 * box.pk + i,
        )
        for i in range(n)
    ]
    store(items, box)


@pytest.fixture
def mail(world):
    contact = crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, emails=["client@acme.test"]
    )
    deal = crm.create_lead(actor=world.alice, title="Acme", owner=world.alice, contact=contact)
    alice_box, bob_box = _box(world, world.alice, "alice"), _box(world, world.bob, "bob")
    _deliver(alice_box, 3)
    _deliver(bob_box, 2, frm="other@client.test", to="bob@firm.test")
    return alice_box, bob_box, deal


def test_mailbox_list_is_narrowed_by_visibility(client, world, mail):
    alice_box, bob_box, _deal = mail
    client.force_login(world.alice)
    body = client.get("/mail/").content.decode()
    assert "alice@imap.test" in body and "bob@imap.test" not in body
    client.force_login(world.head)
    body = client.get("/mail/").content.decode()
    assert "alice@imap.test" in body and "bob@imap.test" in body


def test_mailbox_page_allowed_and_refused(client, world, mail):
    alice_box, bob_box, _deal = mail
    client.force_login(world.alice)
    assert client.get(f"/mail/mailboxes/{alice_box.pk}/").status_code == 200
    assert client.get(f"/mail/mailboxes/{bob_box.pk}/").status_code == 404
    client.force_login(world.lead)  # leads team North: alice, not bob
    assert client.get(f"/mail/mailboxes/{alice_box.pk}/").status_code == 200
    assert client.get(f"/mail/mailboxes/{bob_box.pk}/").status_code == 404


def test_reading_another_managers_letter_is_audited(client, world, mail):
    letter_ = Message.objects.filter(owner=world.alice).first()
    client.force_login(world.alice)
    assert client.get(f"/mail/letters/{letter_.pk}/").status_code == 200
    assert not AuditEvent.objects.filter(action="view").exists()  # own letter

    client.force_login(world.head)
    resp = client.get(f"/mail/letters/{letter_.pk}/")
    assert resp.status_code == 200
    ev = AuditEvent.objects.get(action="view")
    assert (ev.actor_id, ev.object_type, ev.object_id) == (
        world.head.pk,
        "mail.message",
        str(letter_.pk),
    )

    client.force_login(world.bob)
    assert client.get(f"/mail/letters/{letter_.pk}/").status_code == 404
    assert AuditEvent.objects.filter(action="view").count() == 1


def test_html_is_sanitised_before_display(client, world):
    box = _box(world, world.alice, "alice")
    raw = (
        b"From: x@client.test\r\nTo: alice@firm.test\r\nSubject: html\r\n"
        b"Message-ID: <html@client.test>\r\nContent-Type: text/html\r\n\r\n"
        b'<p onclick="steal()">Hi</p><script>steal()</script>'
        b'<a href="javascript:steal()">x</a>'
    )
    store([Incoming(parse(raw), "INBOX", 1, 1)], box)
    client.force_login(world.alice)
    body = client.get(f"/mail/letters/{Message.objects.get().pk}/").content.decode()
    assert "<p>Hi</p>" in body
    assert "steal()" not in body


def test_archive_not_delete(client, world, mail):
    letter_ = Message.objects.filter(owner=world.alice).first()
    client.force_login(world.alice)
    resp = client.post(f"/mail/letters/{letter_.pk}/archive/")
    assert resp.status_code == 302
    letter_.refresh_from_db()
    assert letter_.archived_at and letter_.archived_by_id == world.alice.pk
    assert AuditEvent.objects.filter(action="archive", object_type="mail.message").exists()
    client.force_login(world.bob)
    assert client.post(f"/mail/letters/{letter_.pk}/archive/").status_code == 404


def test_timeline_on_deal_and_contact_pages(client, world, mail):
    _a, _b, deal = mail
    client.force_login(world.alice)
    page = client.get(f"/crm/deals/{deal.pk}/").content.decode()
    assert "Letter 0" in page and "Letter 2" in page
    page = client.get(f"/crm/contacts/{deal.contact_id}/").content.decode()
    assert "Letter 1" in page


def test_send_refused_for_a_deal_the_user_cannot_see(client, world, mail):
    _a, _b, deal = mail
    client.force_login(world.bob)
    resp = client.post(
        f"/mail/deals/{deal.pk}/send/", {"to": "x@y.test", "subject": "s", "body": "b"}
    )
    assert resp.status_code == 404
    assert not Message.objects.filter(sent_from_crm=True).exists()


def test_list_query_counts_do_not_grow(client, world, mail, django_assert_num_queries):
    alice_box, _b, _d = mail
    client.force_login(world.head)
    client.get("/mail/")  # warm the session
    with django_assert_num_queries(3):
        client.get("/mail/")
    with django_assert_num_queries(6):
        client.get(f"/mail/mailboxes/{alice_box.pk}/")
    _deliver(alice_box, 20, frm="more@acme.test")
    _box(world, world.outsider, "outsider")
    with django_assert_num_queries(3):
        client.get("/mail/")
    with django_assert_num_queries(6):
        client.get(f"/mail/mailboxes/{alice_box.pk}/")


def test_mailbox_password_is_encrypted_and_never_shown(client, world):
    box = _box(world, world.alice, "secretive")
    assert "pw" != box.password_encrypted and box.get_password() == "pw"
    assert Mailbox.objects.get().get_password() == "pw"
    ev = AuditEvent.objects.get(object_type="mail.mailbox", action="create")
    assert "password_encrypted" not in ev.changes
    client.force_login(world.alice)
    assert box.password_encrypted not in client.get(f"/mail/mailboxes/{box.pk}/").content.decode()


def test_api_messages_and_mailboxes_by_visibility(client, world, mail, django_assert_num_queries):
    from funnelwatch.accounts.tokens import issue_token

    alice_box, bob_box, deal = mail
    token = issue_token(world.alice, "script")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    rows = client.get("/api/mail/messages", **auth).json()
    assert {r["owner"] for r in rows} == {world.alice.pk} and len(rows) == 3
    assert rows[0]["from_addr"] == "client@acme.test" and rows[0]["to"] == ["alice@firm.test"]
    assert client.get(f"/api/mail/messages?deal={deal.pk}", **auth).json()[0]["deal"] == deal.pk
    assert client.get(f"/api/mail/messages?mailbox={bob_box.pk}", **auth).json() == []
    boxes = client.get("/api/mail/mailboxes", **auth).json()
    assert [b["id"] for b in boxes] == [alice_box.pk]
    assert "password" not in str(boxes)
    assert client.get("/api/mail/messages").status_code == 401
    head = {"HTTP_AUTHORIZATION": f"Bearer {issue_token(world.head, 's')}"}
    with django_assert_num_queries(3):
        assert len(client.get("/api/mail/messages", **head).json()) == 5


def test_sync_now_queues_a_task_for_visible_mailboxes_only(
    client, world, mail, monkeypatch, django_capture_on_commit_callbacks
):
    from funnelwatch.mail import sync

    alice_box, bob_box, _deal = mail
    seen = []
    monkeypatch.setattr(sync, "sync_mailbox", lambda m: seen.append(m.pk) or sync.SyncResult(m.pk))
    client.force_login(world.alice)
    assert client.post(f"/mail/mailboxes/{bob_box.pk}/sync/").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/mail/mailboxes/{alice_box.pk}/sync/").status_code == 302
    assert seen == [alice_box.pk]
