from __future__ import annotations

import datetime as dt

import pytest

from funnelwatch.audit.models import AuditEvent
from funnelwatch.crm import services
from funnelwatch.crm.models import Deal, Outcome, OwnerChange, StageChange
from funnelwatch.crm.queries import time_in_stages
from funnelwatch.crm.services import DealError


@pytest.fixture
def lead(world, at):
    return services.create_lead(
        actor=world.alice,
        title="Printers for school 5",
        owner=world.alice,
        amount=1000,
        source=world.source,
        at=at(2026, 3, 2, 10),
    )


def test_create_lead_starts_in_first_stage_with_history(world, lead, at):
    assert lead.stage == world.stages["New lead"]
    assert lead.status == Outcome.OPEN
    assert lead.currency == "MNT"
    change = StageChange.objects.get(deal=lead)
    assert (change.from_stage, change.to_stage, change.owner) == (None, lead.stage, world.alice)
    assert OwnerChange.objects.get(deal=lead).to_owner == world.alice


def test_stage_durations_across_several_moves(world, lead, at):
    s = world.stages
    services.move_stage(lead, s["Qualified"], actor=world.alice, at=at(2026, 3, 3, 10))
    services.move_stage(lead, s["Proposal sent"], actor=world.alice, at=at(2026, 3, 6, 16))
    services.move_stage(lead, s["Qualified"], actor=world.alice, at=at(2026, 3, 7, 16))
    services.win(lead, actor=world.alice, at=at(2026, 3, 9, 16))
    spent = time_in_stages([lead.pk])
    assert spent[s["New lead"].pk] == dt.timedelta(days=1)
    # Qualified twice: 3d6h, then 2 days.
    assert spent[s["Qualified"].pk] == dt.timedelta(days=5, hours=6)
    assert spent[s["Proposal sent"].pk] == dt.timedelta(days=1)
    assert s["Won"].pk not in spent  # still there
    assert list(lead.stage_changes.values_list("from_stage__name", "to_stage__name")) == [
        (None, "New lead"),
        ("New lead", "Qualified"),
        ("Qualified", "Proposal sent"),
        ("Proposal sent", "Qualified"),
        ("Qualified", "Won"),
    ]


def test_win_closes_and_records_amount(world, lead, at):
    deal = services.win(lead, actor=world.alice, amount="1500.50", cost=900, at=at(2026, 3, 5, 9))
    deal.refresh_from_db()
    assert deal.status == Outcome.WON
    assert deal.closed_at == at(2026, 3, 5, 9)
    assert str(deal.amount) == "1500.50"
    assert deal.stage == world.stages["Won"]


def test_lose_requires_reason_and_leaves_nothing_half_written(world, lead):
    with pytest.raises(DealError) as err:
        services.lose(lead, reason=None, actor=world.alice)
    assert err.value.field == "lost_reason"
    lead.refresh_from_db()
    assert lead.status == Outcome.OPEN
    assert StageChange.objects.filter(deal=lead).count() == 1


def test_junk_requires_reason(world, lead):
    with pytest.raises(DealError) as err:
        services.mark_junk(lead, reason=None, actor=world.alice)
    assert err.value.field == "junk_reason"
    services.mark_junk(lead, reason=world.junk_reason, actor=world.alice)
    lead.refresh_from_db()
    assert (lead.status, lead.junk_reason) == (Outcome.JUNK, world.junk_reason)


def test_closed_deal_cannot_move_or_close_again(world, lead):
    services.win(lead, actor=world.alice)
    with pytest.raises(DealError):
        services.move_stage(lead, world.stages["Qualified"], actor=world.alice)
    with pytest.raises(DealError):
        services.lose(lead, reason=world.lost_reason, actor=world.alice)


def test_move_refuses_terminal_stage_and_time_travel(world, lead, at):
    with pytest.raises(DealError):
        services.move_stage(lead, world.stages["Won"], actor=world.alice)
    with pytest.raises(DealError) as err:
        services.move_stage(
            lead, world.stages["Qualified"], actor=world.alice, at=at(2026, 3, 1, 10)
        )
    assert err.value.field == "at"


def test_reopen_returns_lost_deal_to_the_stage_it_was_lost_from(world, lead, at):
    services.move_stage(lead, world.stages["Objections"], actor=world.alice, at=at(2026, 3, 3, 9))
    services.lose(lead, reason=world.lost_reason, actor=world.alice, at=at(2026, 3, 4, 9))
    deal = services.reopen(lead, actor=world.head, at=at(2026, 3, 10, 9))
    assert deal.stage == world.stages["Objections"]
    assert (deal.status, deal.lost_reason, deal.closed_at) == (Outcome.OPEN, None, None)
    with pytest.raises(DealError):
        services.reopen(deal, actor=world.head)


def test_reassign_keeps_owner_history_and_moves_open_tasks(world, lead, at):
    task = services.create_task(
        actor=world.alice,
        title="Call back",
        assignee=world.alice,
        due_at=at(2026, 3, 4, 10),
        deal=lead,
        at=at(2026, 3, 2, 11),
    )
    services.reassign(lead, world.bob, actor=world.head, at=at(2026, 3, 3, 10))
    services.move_stage(lead, world.stages["Qualified"], actor=world.bob, at=at(2026, 3, 4, 10))
    history = list(OwnerChange.objects.filter(deal=lead).values_list("from_owner", "to_owner"))
    assert history == [(None, world.alice.pk), (world.alice.pk, world.bob.pk)]
    task.refresh_from_db()
    assert task.assignee == world.bob
    # The stage change after the re-assignment is credited to the new owner.
    assert StageChange.objects.filter(deal=lead).last().owner == world.bob


def test_complete_task_once(world, lead, at):
    task = services.create_task(
        actor=world.alice,
        title="Send price",
        assignee=world.alice,
        due_at=at(2026, 3, 4, 10),
        deal=lead,
    )
    services.complete_task(task, actor=world.alice, at=at(2026, 3, 4, 9))
    task.refresh_from_db()
    assert task.done_at == at(2026, 3, 4, 9)
    with pytest.raises(DealError):
        services.complete_task(task, actor=world.alice)


def test_negative_or_garbage_amount_names_the_field(world):
    with pytest.raises(DealError) as err:
        services.create_lead(actor=world.alice, title="x", owner=world.alice, amount="-5")
    assert err.value.field == "amount"
    with pytest.raises(DealError) as err:
        services.create_lead(actor=world.alice, title="x", owner=world.alice, amount="lots")
    assert err.value.field == "amount"
    assert Deal.objects.count() == 0


def test_every_service_call_leaves_before_and_after_in_the_audit(world, lead, at):
    services.move_stage(lead, world.stages["Qualified"], actor=world.alice, at=at(2026, 3, 3, 10))
    services.reassign(lead, world.bob, actor=world.head, at=at(2026, 3, 3, 11))
    services.lose(lead, reason=world.lost_reason, actor=world.bob, at=at(2026, 3, 3, 12))
    events = list(
        AuditEvent.objects.filter(object_type="crm.deal", object_id=str(lead.pk)).order_by(
            "at", "id"
        )
    )
    assert [e.action for e in events] == ["create", "update", "update", "update"]
    create, move, reassign, lose = events
    assert create.actor == world.alice and create.changes["title"] == "Printers for school 5"
    assert move.changes["stage_id"] == [world.stages["New lead"].pk, world.stages["Qualified"].pk]
    # The stated time is when the change took effect; the trail's own time is the server's.
    assert move.occurred_at == at(2026, 3, 3, 10)
    assert move.at > at(2026, 3, 3, 12) and create.at <= move.at <= reassign.at <= lose.at
    assert reassign.actor == world.head
    assert reassign.changes["owner_id"] == [world.alice.pk, world.bob.pk]
    assert lose.actor == world.bob
    assert lose.changes["status"] == ["open", "lost"]
    assert lose.changes["lost_reason_id"] == [None, world.lost_reason.pk]


def _written_by(run) -> tuple[list, list]:
    """What ``run`` stores (contacts with phones, deals with history, audit events,
    crm_event calls), with the ids of records it created replaced by their position;
    everything is rolled back afterwards."""
    from django.db import transaction

    from funnelwatch.crm.models import Contact, ContactPhone
    from funnelwatch.crm.signals import crm_event

    sent = []

    def listen(sender, **kw):
        sent.append((kw["kind"], kw["deal"].title, kw["at"], sorted(kw["user_ids"])))

    crm_event.connect(listen)
    before = {
        "contact": Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "deal": Deal.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "event": AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    }
    try:
        with transaction.atomic():
            run()
            contacts = list(Contact.objects.filter(pk__gt=before["contact"]).order_by("pk"))
            deals = list(Deal.objects.filter(pk__gt=before["deal"]).order_by("pk"))
            new = {("crm.contact", c.pk): f"c{i}" for i, c in enumerate(contacts)}
            new |= {("crm.deal", d.pk): f"d{i}" for i, d in enumerate(deals)}
            phones = {p.pk: p for p in ContactPhone.objects.filter(contact__in=contacts)}
            new |= {("crm.contactphone", pk): f"p{i}" for i, pk in enumerate(sorted(phones))}

            def ref(kind: str, pk: object) -> object:
                return new.get((kind, pk), pk)

            rows = [
                (ref("crm.contact", c.pk), c.name, c.owner_id, c.created_at, c.position)
                for c in contacts
            ]
            rows += [
                (ref("crm.contactphone", p.pk), ref("crm.contact", p.contact_id), p.number, p.raw)
                for p in phones.values()
            ]
            for d in deals:
                rows.append(
                    (
                        ref("crm.deal", d.pk),
                        d.title,
                        ref("crm.contact", d.contact_id),
                        d.owner_id,
                        d.source_id,
                        d.amount,
                        d.cost,
                        d.currency,
                        d.pipeline_id,
                        d.stage_id,
                        d.status,
                        d.created_at,
                        d.stage_entered_at,
                        list(
                            d.stage_changes.values_list(
                                "from_stage", "to_stage", "at", "left_at", "by", "owner"
                            )
                        ),
                        list(d.owner_changes.values_list("from_owner", "to_owner", "at", "by")),
                    )
                )
            events = []
            # The CRM's own records; what other apps make on the same signal (a lead's
            # origin, whose kind differs by path on purpose) is tested by those apps.
            for e in AuditEvent.objects.filter(
                pk__gt=before["event"], object_type__startswith="crm."
            ):
                changes = dict(e.changes)
                if "contact_id" in changes:
                    changes["contact_id"] = ref("crm.contact", changes["contact_id"])
                events.append(
                    (
                        e.occurred_at,
                        e.actor_id,
                        e.source,
                        e.source_name,
                        e.action,
                        e.object_type,
                        ref(e.object_type, int(e.object_id)),
                        e.object_repr,
                        sorted(changes.items()),
                    )
                )
            transaction.set_rollback(True)
    finally:
        crm_event.disconnect(listen)
    return sorted(rows, key=repr), sorted(events, key=repr) + sorted(sent, key=repr)


def test_create_leads_writes_what_contact_and_lead_services_write(world, at):
    """The bulk service for imports stores exactly what create_contact + create_lead store
    one by one, including the refusals (a bad phone: nothing; a disabled owner: the
    contact without a lead)."""
    world.outsider.is_active = False
    world.outsider.save()
    items = [
        services.NewLead("+97699000001", "+97699000001", world.alice, "Call 1", at(2026, 3, 2, 9)),
        services.NewLead(
            " Ann ", "99000002", world.bob, " Call 2 ", at(2026, 3, 3, 10), world.source
        ),
        services.NewLead("Bad", "12", world.bob, "Call 3", at(2026, 3, 3, 11)),
        services.NewLead("Off", "+97699000004", world.outsider, "Call 4", at(2026, 3, 3, 12)),
        services.NewLead("No title", "+97699000005", world.alice, " ", at(2026, 3, 3, 13)),
    ]

    def one_by_one() -> None:
        for item in items:
            try:
                contact = services.create_contact(
                    actor=None,
                    name=item.name,
                    owner=item.owner,
                    phone_numbers=[item.phone],
                    at=item.at,
                )
                services.create_lead(
                    actor=None,
                    title=item.title,
                    owner=item.owner,
                    contact=contact,
                    source=item.source,
                    at=item.at,
                )
            except DealError:
                pass

    made = []
    expected = _written_by(one_by_one)
    assert len(expected[0]) == 2 * 4 + 2  # 4 contacts with a phone each, 2 deals
    assert _written_by(lambda: made.extend(services.create_leads(items))) == expected
    assert [(c is not None, d is not None) for c, d in made] == [
        (True, True),
        (True, True),
        (False, False),
        (True, False),
        (True, False),
    ]


def test_a_move_that_waited_for_the_lock_takes_its_time_after_the_wait(
    world, lead, at, monkeypatch
):
    """Someone else moves the deal while this move waits for the row: this move happens
    after theirs, so it is not refused as earlier than the previous change."""
    import time_machine

    s = world.stages
    real_locked = services._locked
    traveller = time_machine.travel(at(2026, 3, 3, 10), tick=False)
    clock = traveller.start()

    def locked_after_another_move(deal):
        monkeypatch.setattr(services, "_locked", real_locked)
        clock.move_to(at(2026, 3, 3, 10, 0, 1))  # the other move holds the row a second
        services.move_stage(deal, s["Proposal sent"], actor=world.head)
        return real_locked(deal)

    monkeypatch.setattr(services, "_locked", locked_after_another_move)
    try:
        moved = services.move_stage(lead, s["Qualified"], actor=world.alice)
    finally:
        traveller.stop()
    assert moved.stage == s["Qualified"]
    assert moved.stage_entered_at == at(2026, 3, 3, 10, 0, 1)
    history = StageChange.objects.filter(deal=lead).order_by("at", "pk")
    assert [c.to_stage.name for c in history] == ["New lead", "Proposal sent", "Qualified"]
