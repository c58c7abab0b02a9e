"""Sync against a real Dovecot: deliver, sync, change and delete on the server, check the CRM."""

from __future__ import annotations

import datetime as dt

import pytest

from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Proposal
from funnelwatch.mail import services
from funnelwatch.mail.models import Direction, FolderState, Message, MessageCopy, Security
from funnelwatch.mail.sync import sync_mailbox
from funnelwatch.mail.tests.conftest import PASSWORD
from funnelwatch.mail.tests.letters import letter

pytestmark = [pytest.mark.imap, pytest.mark.django_db]

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def client_deal(world, at):
    contact = crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, emails=["Client@Acme.test"]
    )
    deal = crm.create_lead(
        actor=world.alice,
        title="Acme order",
        owner=world.alice,
        contact=contact,
        at=at(2026, 3, 1, 9),
    )
    return deal


@pytest.fixture
def box(world, dovecot):
    login = dovecot.new_account()
    return services.add_mailbox(
        actor=world.head,
        user=world.alice,
        host=dovecot.host,
        port=dovecot.port,
        login=login,
        password=PASSWORD,
        security=Security.NONE,
        folders="INBOX,Sent",
    )


def test_sync_links_letters_to_contact_and_deal(dovecot, box, client_deal, world):
    dovecot.append(
        box.login,
        letter(
            "Client <client@acme.test>",
            "alice@firm.test",
            "Price question",
            msgid="<q1@acme.test>",
            date=T0,
        ),
    )
    dovecot.append(
        box.login,
        letter(
            "alice@firm.test",
            "client@acme.test",
            "Re: Price question",
            msgid="<a1@firm.test>",
            in_reply_to="<q1@acme.test>",
            references="<q1@acme.test>",
            date=T0 + dt.timedelta(minutes=42),
        ),
        folder="Sent",
    )

    result = sync_mailbox(box)

    assert (result.fetched, result.failed, result.errors) == (2, 0, [])
    q, a = Message.objects.order_by("sent_at")
    assert (q.direction, a.direction) == (Direction.IN, Direction.OUT)
    assert q.contact_id == a.contact_id == client_deal.contact_id
    assert q.deal_id == a.deal_id == client_deal.pk
    assert q.owner_id == a.owner_id == world.alice.pk
    assert q.thread == a.thread == "q1@acme.test"
    state = FolderState.objects.get(mailbox=box, name="INBOX")
    assert state.uidvalidity and state.last_uid == 1
    box.refresh_from_db()
    assert box.last_success_at is not None and box.last_error == ""

    # Nothing new: nothing fetched, nothing changed.
    again = sync_mailbox(box)
    assert (again.fetched, again.updated, again.failed) == (0, 0, 0)
    assert Message.objects.count() == 2


def test_deleted_on_server_is_kept_and_marked(dovecot, box, client_deal):
    uid1 = dovecot.append(
        box.login, letter("client@acme.test", "alice@firm.test", "One", msgid="<one@acme.test>")
    )
    dovecot.append(
        box.login, letter("client@acme.test", "alice@firm.test", "Two", msgid="<two@acme.test>")
    )
    sync_mailbox(box)
    dovecot.delete(box.login, uid1)

    result = sync_mailbox(box)

    assert result.updated == 1
    one = Message.objects.get(message_id="one@acme.test")
    assert one.deleted_on_server is True
    assert Message.objects.get(message_id="two@acme.test").deleted_on_server is False
    with pytest.raises(Exception, match="archived"):
        one.delete()
    assert Message.objects.count() == 2


def test_flag_changes_and_moves(dovecot, box, client_deal):
    uid = dovecot.append(
        box.login, letter("client@acme.test", "alice@firm.test", "Flags", msgid="<flags@acme.test>")
    )
    sync_mailbox(box)
    dovecot.set_flags(box.login, uid, r"\Seen \Flagged")

    result = sync_mailbox(box)

    assert result.updated == 1
    copy = MessageCopy.objects.get(message__message_id="flags@acme.test")
    assert copy.flags == r"\Flagged \Seen"

    # Moved to another synced folder: the INBOX copy is gone, the letter is not.
    dovecot.move(box.login, uid, "INBOX", "Sent")
    sync_mailbox(box)
    msg = Message.objects.get(message_id="flags@acme.test")
    assert msg.copies.count() == 2
    assert msg.copies.filter(deleted_on_server=False).get().folder == "Sent"
    assert msg.deleted_on_server is False


def test_deleted_flag_without_expunge_counts_as_deleted(dovecot, box, client_deal):
    uid = dovecot.append(
        box.login, letter("client@acme.test", "alice@firm.test", "Del", msgid="<del@acme.test>")
    )
    sync_mailbox(box)
    dovecot.set_flags(box.login, uid, r"\Deleted")

    sync_mailbox(box)

    assert Message.objects.get(message_id="del@acme.test").deleted_on_server is True


def test_uidvalidity_change_refetches_without_duplicates(dovecot, box, client_deal):
    dovecot.append(
        box.login,
        letter("alice@firm.test", "client@acme.test", "Sent one", msgid="<s1@firm.test>"),
        folder="Sent",
    )
    sync_mailbox(box)
    before = FolderState.objects.get(mailbox=box, name="Sent").uidvalidity
    dovecot.recreate_folder(box.login, "Sent")
    dovecot.append(
        box.login,
        letter("alice@firm.test", "client@acme.test", "Sent one", msgid="<s1@firm.test>"),
        folder="Sent",
    )

    result = sync_mailbox(box)

    state = FolderState.objects.get(mailbox=box, name="Sent")
    assert state.uidvalidity != before
    assert result.fetched == 0 and result.linked == 1
    msg = Message.objects.get()
    assert msg.copies.count() == 2 and msg.deleted_on_server is False


def test_bcc_and_personal_mailbox_store_one_letter(dovecot, box, client_deal, world):
    bcc = services.add_mailbox(
        actor=world.head,
        user=world.head,
        host=dovecot.host,
        port=dovecot.port,
        login=dovecot.new_account(),
        password=PASSWORD,
        security=Security.NONE,
        folders="INBOX",
        is_shared_bcc=True,
    )
    raw = letter("alice@firm.test", "client@acme.test", "Offer", msgid="<offer@firm.test>")
    dovecot.append(bcc.login, raw)
    dovecot.append(box.login, raw, folder="Sent")

    assert sync_mailbox(bcc).fetched == 1
    personal = sync_mailbox(box)

    assert (personal.fetched, personal.linked) == (0, 1)
    msg = Message.objects.get()
    assert msg.owner_id == world.alice.pk  # credited by sender, not the BCC mailbox owner
    assert msg.direction == Direction.OUT and msg.deal_id == client_deal.pk


def test_outgoing_letter_with_attachment_in_proposal_stage_is_a_proposal(
    dovecot, box, client_deal, world
):
    crm.move_stage(client_deal, world.stages["Proposal sent"], actor=world.alice)
    raw = letter(
        "alice@firm.test",
        "client@acme.test",
        "Our offer",
        msgid="<kp@firm.test>",
        date=dt.datetime.now(dt.UTC),
        attachments=[("offer.pdf", b"%PDF-1.4 offer", "application/pdf")],
    )
    dovecot.append(box.login, raw, folder="Sent")

    sync_mailbox(box)
    sync_mailbox(box)

    msg = Message.objects.get()
    assert msg.proposal is not None
    proposal = Proposal.objects.get()
    assert proposal.deal_id == client_deal.pk and proposal.amount is None
    assert proposal.author_id == world.alice.pk
    att = msg.attachments.get()
    assert att.filename == "offer.pdf" and att.file.read() == b"%PDF-1.4 offer"


def test_wrong_password_is_reported_without_the_password(dovecot, world):
    box = services.add_mailbox(
        actor=world.head,
        user=world.bob,
        host=dovecot.host,
        port=dovecot.port,
        login=dovecot.new_account(),
        password="not-the-password",
        security=Security.NONE,
    )

    result = sync_mailbox(box)

    assert result.failed == 1
    box.refresh_from_db()
    assert "refused" in box.last_error and "not-the-password" not in box.last_error
    assert "not-the-password" not in box.password_encrypted
    assert box.get_password() == "not-the-password"


def test_missing_folder_is_an_error_of_that_folder(dovecot, world):
    box = services.add_mailbox(
        actor=world.head,
        user=world.bob,
        host=dovecot.host,
        port=dovecot.port,
        login=dovecot.new_account(),
        password=PASSWORD,
        security=Security.NONE,
        folders="INBOX,Nonexistent",
    )
    result = sync_mailbox(box)
    assert result.failed == 1
    assert "Nonexistent" in FolderState.objects.get(mailbox=box, name="Nonexistent").last_error


@pytest.mark.parametrize("security", [Security.SSL, Security.STARTTLS])
def test_tls_connections_verify_the_certificate(dovecot, world, settings, security):
    login = dovecot.new_account()
    dovecot.append(login, letter("client@acme.test", "alice@firm.test", "tls", msgid="<tls@a>"))
    port = dovecot.ssl_port if security == Security.SSL else dovecot.port
    box = services.add_mailbox(
        actor=world.head,
        user=world.alice,
        host="127.0.0.1",
        port=port,
        login=login,
        password=PASSWORD,
        security=security,
        folders="INBOX",
    )

    untrusted = sync_mailbox(box)
    assert untrusted.failed == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.errors[0]

    settings.FUNNELWATCH_MAIL_CA_FILE = dovecot.ca_file
    trusted = sync_mailbox(box)
    assert (trusted.fetched, trusted.failed) == (1, 0), trusted.errors
