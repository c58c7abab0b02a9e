from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from funnelwatch.audit.models import AppendOnlyError, ArchiveOnlyError, AuditEvent
from funnelwatch.crm import services
from funnelwatch.crm.models import Note, Proposal


@pytest.fixture
def deal(world):
    return services.create_lead(actor=world.alice, title="Deal", owner=world.alice)


def test_audit_rows_cannot_be_changed_or_deleted(world, deal):
    event = AuditEvent.objects.first()
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_database_refuses_updates_to_audit_rows(world, deal):
    with pytest.raises(IntegrityError if connection.vendor == "sqlite" else Exception):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("UPDATE audit_auditevent SET action = 'update'")
    assert not AuditEvent.objects.filter(action="update").exists()


def test_notes_and_proposals_are_archived_never_deleted(world, deal):
    note = services.add_note(actor=world.alice, text="hello", deal=deal)
    proposal = services.send_proposal(deal, actor=world.alice, amount=10)
    for record in (note, proposal):
        with pytest.raises(ArchiveOnlyError):
            record.delete()
    with pytest.raises(ArchiveOnlyError):
        Note.objects.all().delete()
    services.archive(note, actor=world.alice)
    note.refresh_from_db()
    assert note.archived_at is not None and note.archived_by == world.alice
    event = AuditEvent.objects.filter(object_type="crm.note", action="archive").get()
    assert event.actor == world.alice
    assert event.changes["archived_at"][0] is None


def test_admin_offers_no_delete_for_notes_and_proposals(client, world, deal):
    from funnelwatch.accounts.models import User

    admin = User.objects.create_superuser("root", "root@x.test", "pw")
    note = services.add_note(actor=world.alice, text="keep me", deal=deal)
    services.send_proposal(deal, actor=world.alice, amount=10)
    client.force_login(admin)
    assert client.get(reverse("admin:crm_note_delete", args=[note.pk])).status_code == 403
    response = client.post(
        reverse("admin:crm_note_changelist"),
        {"action": "delete_selected", "_selected_action": [note.pk]},
    )
    assert Note.objects.filter(pk=note.pk).exists()
    page = client.get(reverse("admin:crm_proposal_changelist")).content.decode()
    assert "delete_selected" not in page
    assert response.status_code in (200, 302)
    assert Proposal.objects.count() == 1


def test_ui_has_no_delete_route(client, world, deal):
    note = services.add_note(actor=world.alice, text="keep me", deal=deal)
    client.force_login(world.alice)
    response = client.post(reverse("crm:archive", args=["note", note.pk]))
    assert response.status_code == 302
    assert Note.objects.filter(pk=note.pk, archived_at__isnull=False).exists()
    assert b"keep me" not in client.get(reverse("crm:deal", args=[deal.pk])).content


def test_deal_page_shows_its_history(client, world, deal):
    services.move_stage(deal, world.stages["Qualified"], actor=world.alice)
    client.force_login(world.head)
    content = client.get(reverse("crm:deal", args=[deal.pk])).content.decode()
    # The history reads as words on the deal's timeline, not as field names.
    assert "Stage: New lead → Qualified" in content and "stage_id" not in content


def test_admin_edit_is_audited_with_the_admin_as_actor(client, world):
    from funnelwatch.accounts.models import User
    from funnelwatch.crm.models import Company

    admin = User.objects.create_superuser("root", "root@x.test", "pw")
    company = Company.objects.create(name="Old name")
    client.force_login(admin)
    client.post(
        reverse("admin:crm_company_change", args=[company.pk]),
        {
            "name": "New name",
            "segment": "",
            "owner": "",
            "created_at_0": "2026-01-01",
            "created_at_1": "10:00:00",
        },
    )
    event = AuditEvent.objects.filter(object_type="crm.company", action="update").get()
    assert event.actor == admin
    assert event.changes["name"] == ["Old name", "New name"]
