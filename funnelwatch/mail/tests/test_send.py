"""Sending from a deal through SMTP (a local aiosmtpd), kept as an outgoing letter."""

from __future__ import annotations

import pytest

from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Proposal
from funnelwatch.mail import services
from funnelwatch.mail.models import Direction, Message, Security
from funnelwatch.mail.sync import sync_mailbox
from funnelwatch.mail.tests.conftest import PASSWORD
from funnelwatch.mail.tests.letters import letter

pytestmark = pytest.mark.django_db


@pytest.fixture
def deal(world):
    contact = crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, emails=["client@acme.test"]
    )
    return crm.create_lead(actor=world.alice, title="Acme", owner=world.alice, contact=contact)


def test_send_from_deal_goes_through_smtp_and_lands_on_the_timeline(smtp_sink, deal, world, client):
    client.force_login(world.alice)
    resp = client.post(
        f"/mail/deals/{deal.pk}/send/",
        {
            "to": "client@acme.test",
            "subject": "Привет",
            "body": "Текст письма",
        },
    )
    assert resp.status_code == 302

    (got,) = smtp_sink.messages
    assert got["X-RcptTo"] == "client@acme.test"
    assert got["From"] == "alice@firm.test"
    msg = Message.objects.get()
    assert msg.direction == Direction.OUT and msg.sent_from_crm
    assert (msg.deal_id, msg.contact_id, msg.owner_id) == (deal.pk, deal.contact_id, world.alice.pk)
    assert msg.subject == "Привет" and "Текст письма" in msg.text_body
    assert msg.message_id.startswith(f"deal-{deal.pk}.")
    assert got["Message-ID"].strip("<>") == msg.message_id
    assert Proposal.objects.count() == 0  # intake stage, no attachment, not marked

    page = client.get(f"/crm/deals/{deal.pk}/")
    assert "Привет" in page.content.decode()


def test_reply_from_deal_continues_the_thread(smtp_sink, deal, world):
    first = services.send_letter(
        deal, actor=world.alice, to=["client@acme.test"], subject="Offer", body="one"
    )
    second = services.send_letter(
        deal, actor=world.alice, to=["client@acme.test"], subject="Re: Offer", body="two"
    )
    assert second.thread == first.thread
    assert smtp_sink.messages[1]["In-Reply-To"].strip("<>") == first.message_id


def test_marked_as_proposal_or_attachment_in_proposal_stage_counts_once(smtp_sink, deal, world):
    services.send_letter(
        deal,
        actor=world.alice,
        to=["client@acme.test"],
        subject="KP",
        body="see attached",
        as_proposal=True,
    )
    assert Proposal.objects.get().deal_id == deal.pk
    assert Proposal.objects.get().amount is None

    crm.move_stage(deal, world.stages["Proposal sent"], actor=world.alice)
    letter_ = services.send_letter(
        deal,
        actor=world.alice,
        to=["client@acme.test"],
        subject="KP v2",
        body="v2",
        attachments=[services.OutgoingAttachment("kp.pdf", b"%PDF", "application/pdf")],
    )
    assert Proposal.objects.count() == 2
    services.mark_as_proposal(letter_, actor=world.alice)  # already counted: no second one
    assert Proposal.objects.count() == 2
    assert letter_.attachments.get().filename == "kp.pdf"


def test_smtp_refusal_is_reported_and_nothing_stored(settings, deal, world):
    from funnelwatch.mail.tests.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    with pytest.raises(services.MailError):
        services.send_letter(
            deal, actor=world.alice, to=["client@acme.test"], subject="x", body="y"
        )
    assert Message.objects.count() == 0


@pytest.mark.imap
def test_sent_letter_found_later_in_the_sent_folder_is_not_duplicated(
    smtp_sink, dovecot, deal, world
):
    box = services.add_mailbox(
        actor=world.head,
        user=world.alice,
        host=dovecot.host,
        port=dovecot.port,
        login=dovecot.new_account(),
        password=PASSWORD,
        security=Security.NONE,
    )
    sent = services.send_letter(
        deal, actor=world.alice, to=["client@acme.test"], subject="Hello", body="hi"
    )
    dovecot.append(box.login, smtp_sink.messages[0].as_bytes(), folder="Sent")
    dovecot.append(
        box.login,
        letter(
            "client@acme.test",
            "alice@firm.test",
            "Re: Hello",
            msgid="<r@acme.test>",
            in_reply_to=f"<{sent.message_id}>",
        ),
    )

    result = sync_mailbox(box)

    assert (result.fetched, result.linked) == (1, 1)
    reply = Message.objects.get(message_id="r@acme.test")
    assert reply.thread == sent.thread and reply.deal_id == deal.pk
    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    "subject", ["Offer\r\nBcc: everyone@evil.test", "Offer\nnext", "Offer\rBcc: x@evil.test"]
)
def test_subject_with_a_line_break_is_refused_on_the_page(smtp_sink, deal, world, client, subject):
    client.force_login(world.alice)
    resp = client.post(
        f"/mail/deals/{deal.pk}/send/",
        {"to": "client@acme.test", "subject": subject, "body": "Text"},
        follow=True,
    )
    assert resp.status_code == 200
    assert "one line" in resp.content.decode()
    assert smtp_sink.messages == [] and not Message.objects.exists()


def test_subject_with_a_line_break_is_refused_by_the_service(smtp_sink, deal, world):
    with pytest.raises(services.MailError) as exc:
        services.send_letter(
            deal, actor=world.alice, to=["client@acme.test"], subject="A\r\nB: c", body="x"
        )
    assert exc.value.field == "subject"
    assert smtp_sink.messages == [] and not Message.objects.exists()
