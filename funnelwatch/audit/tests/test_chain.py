"""The trail nobody can erase: the database refuses deletes however they are issued, each
event is chained to the one before it by SHA-256, the server sets the times, and
``funnelwatch audit verify`` names the first link that does not add up."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from funnelwatch.audit import chain, guards, trail
from funnelwatch.audit.models import AppendOnlyError, AuditEvent
from funnelwatch.crm import services

COLUMNS = (
    "at, occurred_at, actor_id, source, source_name, action, object_type, object_id, "
    "object_repr, changes, prev_hash, hash"
)


@pytest.fixture
def events(world):
    contact = services.create_contact(
        actor=world.alice, name="Client", owner=world.alice, phone_numbers=["+97699112233"]
    )
    deal = services.create_lead(actor=world.alice, title="Deal", owner=world.alice, contact=contact)
    services.move_stage(deal, world.stages["Qualified"], actor=world.alice)
    services.add_note(actor=world.bob, text="hello", deal=deal)
    task = services.create_task(
        actor=world.alice, title="Call", assignee=world.alice, due_at=timezone.now(), deal=deal
    )
    services.complete_task(task, actor=world.alice)
    return list(AuditEvent.objects.order_by("id"))


def _verify_output(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue()


def _raw_insert(values: tuple) -> int:
    """A row written past the application, as someone with database access would."""
    adapt = connection.ops.adapt_datetimefield_value
    at, occurred_at, *rest, changes, prev_hash, hash_ = values
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO audit_auditevent ({COLUMNS}) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [adapt(at), adapt(occurred_at), *rest, json.dumps(changes), prev_hash, hash_],
        )
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()


def test_every_event_is_chained_to_the_one_before(events):
    assert len(events) >= 5
    assert events[0].prev_hash == chain.GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
        assert after.at >= before.at
    for event in events:
        content = [getattr(event, name) for name in chain.CONTENT]
        assert event.hash == chain.digest(event.prev_hash, content)
    verdict = chain.verify()
    assert verdict.intact and verdict.events == len(events)
    assert (verdict.last_id, verdict.last_hash) == (events[-1].pk, events[-1].hash)


def test_the_hash_covers_every_part_of_the_content(events):
    event = events[2]
    content = [getattr(event, name) for name in chain.CONTENT]
    for i in range(len(content)):
        changed = list(content)
        value = changed[i]
        if isinstance(value, dt.datetime):
            changed[i] = value + dt.timedelta(microseconds=1)
        elif isinstance(value, dict):
            changed[i] = {**value, "x": 1}
        elif isinstance(value, int):
            changed[i] = value + 1
        else:
            changed[i] = (value or "") + "x"
        assert chain.digest(event.prev_hash, changed) != event.hash, chain.CONTENT[i]
    assert chain.digest(events[0].hash, content) != event.hash  # and the link


def test_the_hash_of_numbers_survives_the_round_trip_through_json(world):
    changes = {"a": 2.0, "b": 1e20, "c": 0.1, "d": [1.5e-7, -0.0], "e": {"f": 3}}
    with trail.acting_as(world.alice):
        event = trail.record(world.alice, AuditEvent.Action.UPDATE, changes)
    stored = AuditEvent.objects.get(pk=event.pk)
    content = [getattr(stored, name) for name in chain.CONTENT]
    assert chain.digest(stored.prev_hash, content) == stored.hash
    assert chain.verify().intact


_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_TEXT, children, max_size=3),
    max_leaves=8,
)


@examples(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(changes=st.dictionaries(_TEXT, _JSON, max_size=4), repr_=_TEXT)
def test_any_changes_verify_after_the_round_trip_through_the_database(world, changes, repr_):
    with trail.acting_as(world.alice):
        event = trail.record(world.alice, AuditEvent.Action.UPDATE, changes)
    AuditEvent.objects.filter(pk=event.pk).values_list("changes", flat=True).get()
    assert chain.verify().intact


def test_values_are_hashed_as_they_are_stored(world):
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                source="system", action="view", object_type="x", object_id=5, object_repr="r" * 300
            )
        ]
    )
    event = AuditEvent.objects.get(object_type="x")
    assert event.object_id == "5" and event.object_repr == "r" * 200
    assert chain.verify().intact


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM audit_auditevent",
        "DELETE FROM audit_auditevent WHERE id = (SELECT max(id) FROM audit_auditevent)",
        "UPDATE audit_auditevent SET object_repr = 'x'",
    ],
)
def test_the_database_refuses_to_change_or_delete_audit_rows(events, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AuditEvent.objects.count() == len(events)
    assert chain.verify().intact


def test_a_raw_queryset_delete_is_refused(events):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            AuditEvent.objects.all()._raw_delete(AuditEvent.objects.db)
    assert AuditEvent.objects.count() == len(events)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
@pytest.mark.parametrize(
    "sql", ["TRUNCATE audit_auditevent", "TRUNCATE accounts_user, audit_auditevent CASCADE"]
)
def test_postgresql_refuses_truncate(events, sql):
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own pending checks
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AuditEvent.objects.count() == len(events)


@pytest.mark.parametrize("conflict", ["OR REPLACE", "ON CONFLICT (id) DO UPDATE"])
def test_an_insert_cannot_replace_an_audit_row(events, conflict):
    """SQLite's INSERT OR REPLACE deletes the row it collides with without firing delete
    triggers; an upsert turns into an update. Both are refused."""
    if conflict.startswith("OR") and connection.vendor != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's")
    victim = events[1]
    head, tail = ("INSERT OR REPLACE", "") if conflict.startswith("OR") else ("INSERT", "")
    if not conflict.startswith("OR"):
        tail = f" {conflict} SET object_repr = excluded.object_repr"
    adapt = connection.ops.adapt_datetimefield_value
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                f"{head} INTO audit_auditevent (id, {COLUMNS}) VALUES "
                f"(%s, %s, %s, NULL, 'system', '', 'update', 'x', '1', 'forged', '{{}}', %s, %s)"
                f"{tail}",
                [victim.pk, adapt(victim.at), adapt(victim.at), victim.prev_hash, victim.hash],
            )
    assert AuditEvent.objects.get(pk=victim.pk).object_repr == victim.object_repr
    assert chain.verify().intact


def test_the_application_refuses_ids_and_merged_bulk_inserts(world):
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.create(id=10_000, source="system", action="view", object_type="x")
    for kwargs in ({"ignore_conflicts": True}, {"update_conflicts": True}):
        with pytest.raises(AppendOnlyError):
            AuditEvent.objects.bulk_create(
                [AuditEvent(source="system", action="view", object_type="x")], **kwargs
            )
    assert not AuditEvent.objects.filter(object_type="x").exists()


def test_the_server_sets_the_time_not_the_caller(world):
    year_ago = timezone.now() - dt.timedelta(days=365)
    before = timezone.now()
    one = AuditEvent.objects.create(
        at=year_ago, source="user", actor=world.alice, action="update", object_type="crm.deal"
    )
    (two,) = AuditEvent.objects.bulk_create(
        [AuditEvent(at=year_ago, source="user", action="update", object_type="crm.deal")]
    )
    for event in (one, two):
        stored = AuditEvent.objects.get(pk=event.pk)
        assert stored.at >= before and stored.occurred_at >= before
    # A time a service states (imported history) is when the change took effect, only.
    with trail.acting_as(world.alice, at=year_ago):
        three = trail.record(world.alice, AuditEvent.Action.UPDATE, {})
    assert three.occurred_at == year_ago and three.at >= before
    assert chain.verify().intact


def test_the_trail_never_goes_back_in_time_even_when_the_clock_does(world):
    with trail.acting_as(world.alice):
        first = trail.record(world.alice, AuditEvent.Action.UPDATE, {})
    with time_machine.travel(first.at - dt.timedelta(hours=3), tick=False):
        with trail.acting_as(world.alice):
            second = trail.record(world.alice, AuditEvent.Action.UPDATE, {})
    assert second.at == first.at
    assert second.occurred_at == first.at - dt.timedelta(hours=3)
    assert chain.verify().intact


def test_a_forged_back_dated_row_breaks_the_chain(events):
    last = events[-1]
    back = last.at - dt.timedelta(days=30)
    content = (back, back, None, "system", "", "update", "crm.deal", "1", "forged", {})
    # Correctly linked and hashed, as someone who read this code would write it:
    forged = _raw_insert((*content, last.hash, chain.digest(last.hash, content)))
    verdict = chain.verify()
    assert verdict.broken_at == forged and verdict.problem.startswith("back-dated")
    assert verdict.events == len(events)
    with pytest.raises(CommandError, match=f"#{forged}: back-dated"):
        _verify_output()


def test_a_row_slipped_in_without_the_chain_breaks_it(events):
    last = events[-1]
    forged = _raw_insert(
        (last.at, last.at, None, "system", "", "update", "crm.deal", "1", "x", {}, "", "")
    )
    verdict = chain.verify()
    assert verdict.broken_at == forged and verdict.problem.startswith("missing link")


def test_verify_names_the_first_changed_event(events):
    victim = events[2]
    with transaction.atomic():
        guards.lift(connection, ("audit_event_no_update",))
        with connection.cursor() as cur:
            cur.execute(
                "UPDATE audit_auditevent SET object_repr = 'edited' WHERE id >= %s", [victim.pk]
            )
        guards.install(connection)
    verdict = chain.verify()
    assert verdict.broken_at == victim.pk and verdict.problem.startswith("changed")
    assert verdict.events == 2
    with pytest.raises(CommandError, match=f"broken at event #{victim.pk}"):
        _verify_output()


def test_verify_names_the_link_after_a_removed_event(events):
    victim = events[2]
    with transaction.atomic():
        guards.lift(connection)
        with connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
        guards.install(connection)
    verdict = chain.verify()
    assert verdict.broken_at == events[3].pk and verdict.problem.startswith("missing link")


def test_verify_notices_removed_first_events(events):
    with transaction.atomic():
        guards.lift(connection)
        with connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[0].pk])
        guards.install(connection)
    assert chain.verify().broken_at == events[1].pk


def test_an_anchor_notices_events_cut_off_the_end(events):
    last = events[-1]
    anchor = f"{last.pk}:{last.hash}"
    assert "intact" in _verify_output("--anchor", anchor)
    with transaction.atomic():
        guards.lift(connection)
        with connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditevent WHERE id = %s", [last.pk])
        guards.install(connection)
    assert chain.verify().intact  # a chain alone cannot tell
    verdict = chain.verify(anchor=(last.pk, last.hash))
    assert verdict.broken_at == last.pk and verdict.problem.startswith("missing")
    with pytest.raises(CommandError, match=f"#{last.pk}"):
        _verify_output("--anchor", anchor)
    with pytest.raises(CommandError, match="ID:HASH"):
        _verify_output("--anchor", "12:nothex")


def test_verify_command_reports_an_intact_trail(events):
    assert _verify_output().startswith(f"intact: {len(events)} events; the last is #")
    report = json.loads(_verify_output("--json"))
    assert report == {
        "intact": True,
        "events": len(events),
        "last_id": events[-1].pk,
        "last_hash": events[-1].hash,
    }


def test_verify_command_on_an_empty_trail(db):
    assert _verify_output() == "intact: 0 events\n"


def test_playing_twice_in_one_listening_is_recorded_once_under_the_lock(world):
    with trail.acting_as(world.alice):
        first = trail.record_once(world.bob, "play", {}, within=dt.timedelta(minutes=30))
        again = trail.record_once(world.bob, "play", {}, within=dt.timedelta(minutes=30))
    with trail.acting_as(world.head):
        other = trail.record_once(world.bob, "play", {}, within=dt.timedelta(minutes=30))
    assert first is not None and again is None and other is not None
    with time_machine.travel(first.at + dt.timedelta(minutes=31), tick=False):
        with trail.acting_as(world.alice):
            later = trail.record_once(world.bob, "play", {}, within=dt.timedelta(minutes=30))
    assert later is not None


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has one writer at a time by design"
)
@pytest.mark.django_db(transaction=True)
def test_parallel_appends_do_not_fork_the_chain(world):
    """Eight connections append at once; every event links to the one before it in id
    order, none to the same predecessor."""
    errors = []
    start = threading.Barrier(8)

    def append(n: int) -> None:
        try:
            start.wait()
            for i in range(15):
                with transaction.atomic(), trail.acting_as(world.alice):
                    trail.record(world.alice, AuditEvent.Action.VIEW, {"n": n, "i": i})
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    verdict = chain.verify()
    assert verdict.intact and verdict.events == AuditEvent.objects.count()
    links = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(links)) == len(links)
    assert AuditEvent.objects.filter(action="view").count() == 8 * 15


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_trail_and_puts_the_guards_back(world):
    services.create_lead(actor=world.alice, title="Deal", owner=world.alice)
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    AuditEvent.objects.create(source="system", action="view", object_type="x", object_id="1")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditevent")
    assert chain.verify().intact and chain.verify().events == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_the_events_already_there():
    """Rows written before the chain (the demo wrote history with past times, out of id
    order) get their link and hash; their times become when they took effect."""
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target: str) -> None:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([("audit", target)])

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("audit")[0][1]
    times = [dt.datetime(2026, 3, d, 10, 0, 0, 123456, tzinfo=dt.UTC) for d in (5, 2, 9, 9, 1)]
    try:
        migrate("0002_append_only_trigger")
        with connection.cursor() as cur:
            for i, when in enumerate(times):
                cur.execute(
                    "INSERT INTO audit_auditevent (at, actor_id, source, source_name, action, "
                    "object_type, object_id, object_repr, changes) "
                    "VALUES (%s, NULL, 'system', '', 'update', 'crm.deal', %s, %s, %s)",
                    [
                        connection.ops.adapt_datetimefield_value(when),
                        str(i),
                        f"Deal {i}",
                        json.dumps({"amount": [i, i + 0.5]}),
                    ],
                )
    finally:
        migrate(latest)
    rows = list(AuditEvent.objects.order_by("id"))
    assert [r.occurred_at for r in rows] == times
    assert [r.at for r in rows] == [times[0], times[0], times[2], times[2], times[2]]
    verdict = chain.verify()
    assert verdict.intact and verdict.events == len(times)
    AuditEvent.objects.create(source="system", action="view", object_type="x", object_id="1")
    assert chain.verify().intact
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("DELETE FROM audit_auditevent")
