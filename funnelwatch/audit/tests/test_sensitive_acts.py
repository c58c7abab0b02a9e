"""Every sensitive act is in the audit trail, under the person who did it (not the
system, an integration or the record's owner)."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services as crm
from funnelwatch.crm.models import Proposal

USER = AuditEvent.Source.USER


def _events(object_type: str, **filters: object) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=object_type, **filters).order_by("id"))


@pytest.fixture
def deal(world):
    contact = crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, emails=["client@acme.test"]
    )
    return crm.create_lead(actor=world.alice, title="Acme", owner=world.alice, contact=contact)


# --- alerts ---------------------------------------------------------------------------


def test_snoozing_a_deal_is_recorded_under_the_head(world, deal):
    from funnelwatch.alerts import services

    until = timezone.localdate() + dt.timedelta(days=10)
    snooze = services.snooze_deal(deal, actor=world.head, until=until, reason="Tender in May")
    (event,) = _events("alerts.dealsnooze")
    assert (event.action, event.actor, event.source) == ("create", world.head, USER)
    assert event.object_id == str(snooze.pk)
    assert event.changes["reason"] == "Tender in May"
    assert event.changes["until"] == until.isoformat()
    assert event.changes["deal_id"] == deal.pk


@pytest.mark.parametrize("decision", ["keep_lost", "returned"])
def test_the_lost_deal_review_decision_is_recorded_under_the_reviewer(world, deal, decision):
    from funnelwatch.alerts import services

    crm.lose(deal, reason=world.lost_reason, actor=world.alice)
    review = services.review_lost(deal, actor=world.lead, decision=decision, comment="why")
    (event,) = _events("alerts.lostreview")
    assert (event.action, event.actor, event.source) == ("create", world.lead, USER)
    assert event.object_id == str(review.pk)
    assert event.changes["decision"] == decision and event.changes["comment"] == "why"
    assert event.changes["owner_id"] == world.alice.pk


def test_changing_alert_thresholds_is_recorded_under_the_head(client, world):
    client.force_login(world.head)
    url = reverse("alerts:thresholds")
    form = {
        "activity_drop_pct": 30,
        "activity_mad_k": 2.0,
        "activity_min_usual": 2.0,
        "meeting_proposal_days": 3,
        "hygiene_deals_without_task": 3,
        "hygiene_overdue_tasks": 5,
        "lookback_days": 14,
    }
    assert client.post(url, form).status_code == 302
    assert client.post(url, {**form, "activity_drop_pct": 45}).status_code == 302
    create, update = _events("alerts.rulesettings")
    assert (create.action, create.actor, create.source) == ("create", world.head, USER)
    assert (update.action, update.actor) == ("update", world.head)
    assert update.changes == {"activity_drop_pct": [30, 45]}


# --- telephony routing ----------------------------------------------------------------


def test_routing_rules_are_recorded_when_created_changed_and_deleted(client, world):
    from funnelwatch.accounts.models import User
    from funnelwatch.telephony.models import RoutingRule

    client.force_login(world.head)
    prefix = f"u{world.alice.pk}_"
    form = {prefix + "weight": "2", prefix + "active": "on", prefix + "start": "9"}
    client.post(reverse("telephony:routing_save"), {**form, prefix + "end": "18"})
    client.post(reverse("telephony:routing_save"), {**form, prefix + "end": "17"})
    rule = RoutingRule.objects.get(user=world.alice)
    admin = User.objects.create_superuser("root", "root@x.test", "pw")
    client.force_login(admin)
    url = reverse("admin:telephony_routingrule_delete", args=[rule.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not RoutingRule.objects.exists()
    create, update, delete = _events("telephony.routingrule", object_id=str(rule.pk))
    assert (create.action, create.actor, create.source) == ("create", world.head, USER)
    assert create.changes["weight"] == 2 and create.changes["user_id"] == world.alice.pk
    assert (update.action, update.actor) == ("update", world.head)
    assert update.changes == {"end_hour": [18, 17]}
    assert (delete.action, delete.actor, delete.source) == ("delete", admin, USER)
    assert delete.changes["end_hour"] == 17 and delete.changes["user_id"] == world.alice.pk


# --- the call library -----------------------------------------------------------------


def test_adding_a_call_to_the_library_is_recorded_under_the_reviewer(world, at):
    from funnelwatch.quality import services
    from funnelwatch.telephony.tests.factories import make_call

    call = make_call(direction="out", start=at(2026, 3, 2, 10))
    item = services.mark_exemplary(call, world.reviewer, ["greeting"], "Textbook opening")
    services.mark_exemplary(call, world.head, ["greeting", "closing"], "Textbook opening")
    add, change = _events("quality.exemplarycall", object_id=str(item.pk))
    assert (add.action, add.actor, add.source) == ("create", world.reviewer, USER)
    assert add.changes["call_id"] == call.pk and add.changes["stages"] == ["greeting"]
    assert (change.action, change.actor) == ("update", world.head)
    assert change.changes["stages"] == [["greeting"], ["greeting", "closing"]]


# --- API tokens -----------------------------------------------------------------------


def test_createtoken_is_recorded_with_name_and_user_but_never_the_token(world):
    from funnelwatch.accounts.models import ApiToken

    out = StringIO()
    call_command("createtoken", "alice", "--name", "nightly export", stdout=out)
    token = out.getvalue().strip()
    row = ApiToken.objects.get()
    (event,) = _events("accounts.apitoken")
    assert event.action == "create" and event.object_id == str(row.pk)
    assert event.source == AuditEvent.Source.SYSTEM and "createtoken" in event.source_name
    assert event.changes["name"] == "nightly export" and event.object_repr == "nightly export"
    assert event.changes["user_id"] == world.alice.pk
    everything = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert token.startswith("fw_") and token not in everything
    assert row.digest not in everything


def test_createtoken_refuses_a_name_it_cannot_keep(world):
    from django.core.management.base import CommandError

    from funnelwatch.accounts.models import ApiToken

    for name in ("x" * 101, "  "):
        with pytest.raises(CommandError, match="--name"):
            call_command("createtoken", "alice", "--name", name, stdout=StringIO())
    assert not ApiToken.objects.exists() and not _events("accounts.apitoken")


# --- mail -----------------------------------------------------------------------------


def test_a_letter_sent_from_a_deal_is_recorded_under_the_manager(settings, world, deal):
    from funnelwatch.mail import services

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    letter = services.send_letter(
        deal, actor=world.alice, to=["client@acme.test"], subject="Offer", body="Hello"
    )
    (event,) = _events("mail.message", object_id=str(letter.pk))
    assert (event.action, event.actor, event.source) == ("create", world.alice, USER)
    assert event.source_name == ""


def test_a_proposal_made_from_a_letter_is_recorded_under_whoever_made_it(
    client, settings, world, deal
):
    from funnelwatch.mail import services

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    letter = services.send_letter(
        deal, actor=world.alice, to=["client@acme.test"], subject="Offer", body="Hello"
    )
    assert not Proposal.objects.exists()  # a lead, no attachment, not marked
    client.force_login(world.reviewer)  # reads letters, changes nothing
    assert client.post(reverse("mail:mark_proposal", args=[letter.pk])).status_code == 403
    assert not Proposal.objects.exists()
    client.force_login(world.lead)
    client.post(reverse("mail:mark_proposal", args=[letter.pk]))
    proposal = Proposal.objects.get()
    assert proposal.author == world.alice  # it counts for the manager who sent it...
    (event,) = _events("crm.proposal")
    assert (event.actor, event.source) == (world.lead, USER)  # ...the team lead made it
    (marked,) = _events("mail.message", action="update")
    assert marked.actor == world.lead


def test_a_proposal_the_manager_sends_from_a_deal_is_recorded_under_the_manager(
    settings, world, deal
):
    from funnelwatch.audit import chain
    from funnelwatch.mail import services

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    services.send_letter(
        deal,
        actor=world.lead,
        to=["client@acme.test"],
        subject="KP",
        body="Offer",
        as_proposal=True,
    )
    (event,) = _events("crm.proposal")
    assert (event.actor, event.source) == (world.lead, USER)
    assert Proposal.objects.get().author == world.lead
    assert chain.verify().intact
