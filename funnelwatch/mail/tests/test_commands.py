"""``funnelwatch mail add-mailbox | sync | messages``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from funnelwatch.crm import services as crm
from funnelwatch.mail.models import Mailbox
from funnelwatch.mail.tests.conftest import PASSWORD
from funnelwatch.mail.tests.letters import letter

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("mail", *args, stdout=out)
    return out.getvalue()


def test_add_mailbox_prints_the_id_and_never_stores_the_plain_password(world, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret-app-password\n")
    out = run(
        "add-mailbox",
        "--user",
        "alice",
        "--host",
        "imap.firm.test",
        "--port",
        "993",
        "--login",
        "alice@firm.test",
        "--password-file",
        str(pw),
        "--security",
        "ssl",
        "--folders",
        "INBOX,Sent Items",
    )
    box = Mailbox.objects.get(pk=int(out.strip()))
    assert box.folder_names == ["INBOX", "Sent Items"]
    assert box.get_password() == "s3cret-app-password"
    assert "s3cret" not in box.password_encrypted


def test_add_mailbox_errors_name_the_option(world, tmp_path):
    with pytest.raises(CommandError, match="--user"):
        run(
            "add-mailbox",
            "--user",
            "nobody",
            "--host",
            "h",
            "--port",
            "993",
            "--login",
            "l",
            "--password-file",
            str(tmp_path / "pw"),
        )
    with pytest.raises(CommandError, match="--password-file"):
        run(
            "add-mailbox",
            "--user",
            "alice",
            "--host",
            "h",
            "--port",
            "993",
            "--login",
            "l",
            "--password-file",
            str(tmp_path / "missing"),
        )


@pytest.mark.imap
def test_sync_and_messages_json(world, dovecot, tmp_path):
    contact = crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, emails=["client@acme.test"]
    )
    deal = crm.create_lead(actor=world.alice, title="Acme", owner=world.alice, contact=contact)
    login = dovecot.new_account()
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    box_id = int(
        run(
            "add-mailbox",
            "--user",
            "alice",
            "--host",
            dovecot.host,
            "--port",
            str(dovecot.port),
            "--login",
            login,
            "--password-file",
            str(pw),
            "--security",
            "none",
            "--folders",
            "INBOX,Sent",
        )
    )
    raw = letter("client@acme.test", "alice@firm.test", "x", msgid="<cmd@acme.test>")
    raw = raw.replace(b"Subject: x", b"Subject: =?utf-8?B?0KHRh9C10YIg4oSWIDc=?=")
    uid = dovecot.append(login, raw)
    dovecot.create_folder(login, "Sent")

    result = json.loads(run("sync", "--json"))
    assert (result["fetched"], result["updated"], result["failed"]) == (1, 0, 0)

    dovecot.delete(login, uid)
    result = json.loads(run("sync", "--mailbox", str(box_id), "--json"))
    assert (result["fetched"], result["updated"], result["failed"]) == (0, 1, 0)

    (row,) = json.loads(run("messages", "--mailbox", str(box_id), "--format", "json"))
    assert set(row) == {
        "id",
        "mailbox",
        "message_id",
        "thread",
        "direction",
        "from",
        "to",
        "subject",
        "sent_at",
        "contact",
        "deal",
        "deleted_on_server",
    }
    assert row["subject"] == "Счет № 7"
    assert row["mailbox"] == box_id and row["message_id"] == "cmd@acme.test"
    assert (row["direction"], row["from"], row["to"]) == (
        "in",
        "client@acme.test",
        ["alice@firm.test"],
    )
    assert (row["contact"], row["deal"], row["deleted_on_server"]) == (contact.pk, deal.pk, True)


def test_sync_of_unknown_mailbox_fails(world):
    with pytest.raises(CommandError, match="--mailbox"):
        run("sync", "--mailbox", "999")
