"""The append-only audit trail: who changed what, when, with values before and after.

Audited models are registered with :func:`audited`. Saves and deletes of those models
are recorded from model signals, so changes made anywhere (services, admin, shell) leave a
trace. The actor comes from :func:`acting_as`, which services, the request middleware,
integrations and commands set; without one the change is recorded as the system's. A
service that writes on someone else's behalf (a reviewer turning a manager's letter into
a proposal) names who did it with :func:`attributed_to`.

The trail's own time of an event is always the server's (see ``funnelwatch.audit.chain``);
``acting_as(at=...)`` only states when the change took effect, for imported history.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import models, transaction
from django.db.models.signals import post_delete, post_init, post_save
from django.utils import timezone

from funnelwatch.audit.models import AuditEvent

_AUDITED: dict[type[models.Model], tuple[str, ...]] = {}


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    source: str = AuditEvent.Source.SYSTEM
    name: str = ""
    # When the change took effect, for imported history (the event's ``occurred_at``);
    # the trail records its own time regardless.
    at: dt.datetime | None = None


_current: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("audit_actor", default=None)


@contextmanager
def acting_as(
    user: models.Model | None = None,
    *,
    source: str | None = None,
    name: str = "",
    at: dt.datetime | None = None,
) -> Iterator[Actor]:
    """Attribute every audited change inside the block to ``user`` (or an integration)."""
    if source is None:
        source = AuditEvent.Source.USER if user is not None else AuditEvent.Source.SYSTEM
    with attributed_to(Actor(user.pk if user is not None else None, source, name, at)) as actor:
        yield actor


@contextmanager
def attributed_to(actor: Actor) -> Iterator[Actor]:
    """Attribute every audited change inside the block to ``actor`` as given."""
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def user_actor(user: models.Model) -> Actor:
    """The signed-in person as an actor (for :func:`attributed_to`)."""
    return Actor(user.pk, AuditEvent.Source.USER)


def current_actor() -> Actor:
    return _current.get() or Actor(None)


def audited(*exclude: str):
    """Class decorator: record creates and updates of this model in the audit trail."""

    def register(model: type[models.Model]) -> type[models.Model]:
        _AUDITED[model] = tuple(exclude)
        return model

    return register


def _plain(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    return value


def _snapshot(instance: models.Model) -> dict[str, object]:
    exclude = _AUDITED.get(type(instance), ())
    values = {}
    for field in instance._meta.concrete_fields:
        if field.name in exclude or field.primary_key:
            continue
        values[field.attname] = _plain(instance.__dict__.get(field.attname))
    return values


def _on_init(sender: type[models.Model], instance: models.Model, **kwargs: object) -> None:
    if sender in _AUDITED:
        instance._audit_before = _snapshot(instance) if instance.pk else None


def _on_save(
    sender: type[models.Model], instance: models.Model, created: bool, **kw: object
) -> None:
    if sender not in _AUDITED or kw.get("raw"):
        return
    after = _snapshot(instance)
    before = getattr(instance, "_audit_before", None)
    if created or before is None:
        record(
            instance, AuditEvent.Action.CREATE, {k: v for k, v in after.items() if v is not None}
        )
    else:
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        if changes:
            action = AuditEvent.Action.UPDATE
            if "archived_at" in changes:
                was, now = changes["archived_at"]
                if now and not was:
                    action = AuditEvent.Action.ARCHIVE
                elif was and not now:
                    action = AuditEvent.Action.UNARCHIVE
            record(instance, action, changes)
    instance._audit_before = after


def _on_delete(sender: type[models.Model], instance: models.Model, **kw: object) -> None:
    if sender not in _AUDITED or kw.get("raw"):
        return
    before = getattr(instance, "_audit_before", None) or _snapshot(instance)
    record(instance, AuditEvent.Action.DELETE, {k: v for k, v in before.items() if v is not None})


def record(instance: models.Model, action: str, changes: dict | None = None) -> AuditEvent:
    """Append one event about ``instance`` by the current actor."""
    return _event(instance, action, changes, current_actor())


def record_once(
    instance: models.Model, action: str, changes: dict | None, *, within: dt.timedelta
) -> AuditEvent | None:
    """Append the event unless the current actor has the same action on the same record
    in the trail already, less than ``within`` ago; returns the new event, or None.

    The check runs under the chain's lock (taken by reading the chain's head), so two
    requests arriving together record once."""
    from funnelwatch.audit import chain

    actor = current_actor()
    with transaction.atomic(savepoint=False):
        _hash, last_at = chain.head(AuditEvent.objects.db)
        since = max(timezone.now(), last_at or timezone.now()) - within
        seen = AuditEvent.objects.filter(
            object_type=instance._meta.label_lower,
            object_id=str(instance.pk),
            at__gte=since,
            action=action,
            actor_id=actor.user_id,
            source=actor.source,
        )
        if seen.exists():
            return None
        return _event(instance, action, changes, actor)


def creation_event(instance: models.Model, actor: Actor) -> AuditEvent:
    """The (unsaved) event that saving the new ``instance`` as ``actor`` would record, for
    rows written with bulk_create (signals do not fire there)."""
    changes = {k: v for k, v in _snapshot(instance).items() if v is not None}
    return _event(instance, AuditEvent.Action.CREATE, changes, actor, save=False)


def _event(
    instance: models.Model,
    action: str,
    changes: dict | None,
    actor: Actor,
    save: bool = True,
) -> AuditEvent:
    event = AuditEvent(
        occurred_at=actor.at or timezone.now(),
        actor_id=actor.user_id,
        source=actor.source,
        source_name=actor.name,
        action=action,
        object_type=instance._meta.label_lower,
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=changes or {},
    )
    if save:
        event.save(force_insert=True)
    return event


def record_bulk(instances: list[models.Model], action: str = AuditEvent.Action.CREATE) -> None:
    """Audit rows for records written with bulk_create (signals do not fire there)."""
    actor = current_actor()
    now = actor.at or timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                occurred_at=now,
                actor_id=actor.user_id,
                source=actor.source,
                source_name=actor.name,
                action=action,
                object_type=obj._meta.label_lower,
                object_id=str(obj.pk),
                object_repr=str(obj)[:200],
                changes={},
            )
            for obj in instances
        ],
        batch_size=1000,
    )


def history(instance: models.Model):
    """The audit events of one record, newest first."""
    return AuditEvent.objects.filter(
        object_type=instance._meta.label_lower, object_id=str(instance.pk)
    ).select_related("actor")


def connect_signals() -> None:
    post_init.connect(_on_init, dispatch_uid="audit_post_init")
    post_save.connect(_on_save, dispatch_uid="audit_post_save")
    post_delete.connect(_on_delete, dispatch_uid="audit_post_delete")
