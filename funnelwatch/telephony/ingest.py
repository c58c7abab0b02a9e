"""Writing calls: from internal call records to rows, matched to managers, contacts and deals.

Every provider ends here. :func:`ingest` takes a batch of ``CallRecord`` and, in one
transaction and a fixed number of queries per batch (never per row):

- skips calls already stored (provider + external id), adding legs that are new to them;
- normalises numbers to E.164, decides the direction, finds the manager by extension;
- matches the client's number to a contact and the contact's open deal; an inbound call
  from an unknown number creates a contact and a lead assigned by routing;
- writes calls and legs with ``bulk_create`` and records them in the audit trail;
- links missed inbound calls to the first later outbound call to the same number;
- tells the metrics which managers' numbers changed (``crm_event`` kind "call").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import Extension
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as, current_actor
from funnelwatch.crm.models import ContactPhone, Deal, Outcome
from funnelwatch.crm.signals import crm_event
from funnelwatch.lib import phones
from funnelwatch.telephony import conf, fastdb
from funnelwatch.telephony.models import Call, CallLeg, CallOutcome, Direction, Recording
from funnelwatch.telephony.providers.base import CallRecord, LegRecord, channel_extension

_IN_CHUNK = 900  # parameters per IN (...) query, below SQLite's limit
_DIRECTIONS = frozenset(Direction.values)


@dataclass
class IngestResult:
    created_ids: list[int] = field(default_factory=list)
    duplicates: int = 0  # legs (rows/events) already stored or repeated in the batch
    legs_added: int = 0  # new legs of calls stored earlier
    leads_created: int = 0
    updated_call_ids: list[int] = field(default_factory=list)


def _chunks(items: list, size: int = _IN_CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@lru_cache(maxsize=200_000)
def _number(raw: str, region: str) -> tuple[str, bool]:
    """(E.164 or "", looks like an internal extension)."""
    text = (raw or "").strip()
    if not text:
        return "", True
    digits = re.sub(r"\D", "", text)
    if not text.startswith("+") and len(digits) <= 6:
        return "", True
    return phones.normalize_or_none(text, region) or "", False


class Matcher:
    """Per-batch lookups: extensions once, contacts and deals once per batch."""

    def __init__(self) -> None:
        self.region = getattr(settings, "FUNNELWATCH_PHONE_REGION", "MN")
        self.extensions = dict(Extension.objects.values_list("number", "user_id"))
        self._numbers: dict[str, tuple[str, bool]] = {}

    def number(self, raw: str) -> tuple[str, bool]:
        known = self._numbers.get(raw)
        if known is None:
            e164, internal = _number(raw, self.region)
            if (raw or "").strip() in self.extensions:
                internal = True
            known = self._numbers[raw] = (e164, internal)
        return known

    def manager_for(self, rec: CallRecord, direction: str) -> int | None:
        legs = rec.legs
        answered = [leg for leg in legs if leg.answered]
        if direction == Direction.IN:
            cands = [rec.extension]
            for leg in answered + legs:
                cands += [channel_extension(leg.dstchannel), leg.dst]
            cands.append(rec.to_raw)
        else:
            cands = [rec.extension, rec.from_raw]
            for leg in legs:
                cands += [channel_extension(leg.channel), leg.src]
        for cand in cands:
            if cand and cand in self.extensions:
                return self.extensions[cand]
        return None


def _ids_of(provider: str, external_ids: list[str]) -> list[tuple[str, int]]:
    """(external id, pk) of stored calls; plain SQL, the ORM's IN lookup costs several
    microseconds a value."""
    table = connection.ops.quote_name(Call._meta.db_table)
    marks = ", ".join(["%s"] * len(external_ids))
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT external_id, id FROM {table} WHERE provider = %s "  # noqa: S608
            f"AND external_id IN ({marks})",
            [provider, *external_ids],
        )
        return cur.fetchall()


def _direction(rec: CallRecord, from_internal: bool, to_internal: bool) -> str:
    if rec.direction in _DIRECTIONS:
        return rec.direction
    if from_internal and to_internal:
        return Direction.INTERNAL
    if from_internal:
        return Direction.OUT
    return Direction.IN


def ingest(records: list[CallRecord], *, source_name: str = "") -> IngestResult:
    """Store a batch of call records (idempotent; see the module docstring)."""
    result = IngestResult()
    if not records:
        return result
    provider_groups: dict[str, dict[str, CallRecord]] = {}
    for rec in records:
        bucket = provider_groups.setdefault(rec.provider, {})
        prev = bucket.get(rec.external_id)
        if prev is None:
            bucket[rec.external_id] = rec
        else:  # the same call twice in one batch: merge new legs
            known = {leg.leg_id for leg in prev.legs}
            for leg in rec.legs:
                if leg.leg_id in known:
                    result.duplicates += 1
                else:
                    prev.legs.append(leg)
            if not rec.legs:
                result.duplicates += 1
    with transaction.atomic():
        matcher = Matcher()
        for provider, by_id in provider_groups.items():
            _ingest_provider(provider, by_id, matcher, result, source_name or provider)
    return result


def _ingest_provider(
    provider: str,
    by_id: dict[str, CallRecord],
    matcher: Matcher,
    result: IngestResult,
    source_name: str,
) -> None:
    ids = list(by_id)
    existing: dict[str, int] = {}
    for part in _chunks(ids):
        existing.update(_ids_of(provider, part))
    if existing:
        _merge_into_existing(by_id, existing, result)
    new = [by_id[i] for i in ids if i not in existing]
    if not new:
        return

    prepared = []
    client_numbers: set[str] = set()
    for rec in new:
        from_e164, from_int = matcher.number(rec.from_raw)
        to_e164, to_int = matcher.number(rec.to_raw)
        direction = _direction(rec, from_int, to_int)
        client = from_e164 if direction == Direction.IN else to_e164
        if direction == Direction.INTERNAL:
            client = ""
        if client:
            client_numbers.add(client)
        prepared.append((rec, from_e164, to_e164, direction, client))

    contact_of: dict[str, int] = {}
    owner_of_contact: dict[int, int | None] = {}
    for part in _chunks(sorted(client_numbers)):
        for number, contact_id, owner_id in (
            ContactPhone.objects.filter(number__in=part)
            .order_by("contact_id")
            .values_list("number", "contact_id", "contact__owner_id")
        ):
            contact_of.setdefault(number, contact_id)
            owner_of_contact[contact_id] = owner_id

    if conf.create_leads():
        unknown = {}
        for rec, _f, _t, direction, client in prepared:
            if direction == Direction.IN and client and client not in contact_of:
                unknown.setdefault(client, rec)
        for number, rec in unknown.items():
            took_it = (
                matcher.manager_for(rec, Direction.IN)
                if rec.outcome == CallOutcome.ANSWERED
                else None
            )
            contact_id = _lead_for_unknown(number, rec, source_name, took_it)
            if contact_id:
                contact_of[number] = contact_id
                result.leads_created += 1

    deal_of: dict[int, tuple[int, int]] = {}
    contact_ids = sorted(set(contact_of.values()))
    for part in _chunks(contact_ids):
        for deal_id, contact_id, owner_id in (
            Deal.objects.filter(contact_id__in=part, status=Outcome.OPEN)
            .order_by("created_at", "pk")
            .values_list("pk", "contact_id", "owner_id")
        ):
            deal_of[contact_id] = (deal_id, owner_id)  # the newest open deal wins

    now = timezone.now()
    rows: list[tuple] = []
    for rec, from_e164, to_e164, direction, client in prepared:
        contact_id = contact_of.get(client) if client else None
        deal = deal_of.get(contact_id) if contact_id else None
        rows.append(
            (
                provider,
                rec.external_id[:120],
                (rec.correlation_id or rec.external_id)[:120],
                direction,
                from_e164,
                (rec.from_raw or "")[:120],
                to_e164,
                (rec.to_raw or "")[:120],
                client,
                matcher.manager_for(rec, direction),
                contact_id,
                deal[0] if deal else None,
                rec.started_at,
                rec.answered_at,
                rec.ended_at,
                rec.duration_s,
                rec.talk_seconds,
                rec.outcome,
                (rec.hangup_cause or "")[:60],
                rec.raw,
                now,
            )
        )
    fastdb.insert(Call, CALL_FIELDS, rows)
    ids: dict[str, int] = {}
    for part in _chunks([r[1] for r in rows]):
        ids.update(_ids_of(provider, part))
    leg_rows = [
        (ids[row[1]], *_leg_values(leg))
        for row, (rec, *_rest) in zip(rows, prepared, strict=True)
        for leg in rec.legs
    ]
    fastdb.insert(CallLeg, LEG_FIELDS, leg_rows)
    recordings = [
        Recording(call_id=ids[row[1]], source_url=rec.recording_url[:500])
        for row, (rec, *_rest) in zip(rows, prepared, strict=True)
        if rec.recording_url
    ]
    if recordings:
        Recording.objects.bulk_create(recordings, batch_size=500)
    with acting_as(None, source="integration", name=source_name):
        _audit_created(rows, ids)
    result.created_ids.extend(ids[row[1]] for row in rows)

    numbers = {row[8] for row in rows if row[8]}
    if numbers:
        link_callbacks(numbers)
    managers = {row[9] for row in rows if row[9]}
    crm_event.send(
        sender=Call,
        kind="call",
        deal=None,
        at=max(row[12] for row in rows),
        user_ids=managers,
    )
    if recordings:
        from funnelwatch.telephony import recordings as rec_mod

        rec_mod.schedule_downloads([r.pk for r in recordings if r.pk])


CALL_FIELDS = (
    "provider",
    "external_id",
    "correlation_id",
    "direction",
    "from_number",
    "from_raw",
    "to_number",
    "to_raw",
    "client_number",
    "manager",
    "contact",
    "deal",
    "started_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "talk_seconds",
    "outcome",
    "hangup_cause",
    "raw",
    "created_at",
)
LEG_FIELDS = (
    "call",
    "leg_id",
    "channel",
    "dstchannel",
    "disposition",
    "billsec",
    "answered",
    "raw",
)


def _leg_values(leg: LegRecord) -> tuple:
    return (
        leg.leg_id[:120],
        leg.channel[:200],
        leg.dstchannel[:200],
        leg.disposition[:40],
        leg.billsec,
        leg.answered,
        leg.raw,
    )


def _audit_created(rows: list[tuple], ids: dict[str, int]) -> None:
    """The same events ``trail.record_bulk`` writes, without building model instances."""
    actor = current_actor()
    at = actor.at or timezone.now()
    minutes: dict[int, str] = {}  # parsed times are shared objects: format each once

    def minute(value: dt.datetime) -> str:
        text = minutes.get(id(value))
        if text is None:
            # isoformat is several times cheaper than strftime ("%Y-%m-%d %H:%M")
            text = minutes[id(value)] = value.isoformat(" ")[:16]
        return text

    events = [
        (
            at,
            actor.user_id,
            actor.source,
            actor.name,
            AuditEvent.Action.CREATE,
            "telephony.call",
            str(ids[row[1]]),
            f"{row[3]} {row[5] or row[4]} → {row[7] or row[6]} {minute(row[12])}"[:200],
            {},
        )
        for row in rows
    ]
    fastdb.insert(
        AuditEvent,
        (
            "at",
            "actor",
            "source",
            "source_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
        ),
        events,
    )


def _merge_into_existing(
    by_id: dict[str, CallRecord], existing: dict[str, int], result: IngestResult
) -> None:
    """Calls seen before: count repeated legs, add new ones and recompute the call."""
    call_ids = list(existing.values())
    have: dict[int, set[str]] = {}
    for part in _chunks(call_ids):
        for call_id, leg_id in CallLeg.objects.filter(call_id__in=part).values_list(
            "call_id", "leg_id"
        ):
            have.setdefault(call_id, set()).add(leg_id)
    new_legs: list[tuple] = []
    touched: dict[int, CallRecord] = {}
    for ext_id, call_id in existing.items():
        rec = by_id[ext_id]
        known = have.get(call_id, set())
        if not rec.legs:
            result.duplicates += 1
        for leg in rec.legs:
            if leg.leg_id[:120] in known:
                result.duplicates += 1
            else:
                new_legs.append((call_id, *_leg_values(leg)))
                touched[call_id] = rec
    if new_legs:
        fastdb.insert(CallLeg, LEG_FIELDS, new_legs)
        result.legs_added += len(new_legs)
        for call_id in touched:
            recompute(Call.objects.get(pk=call_id))
            result.updated_call_ids.append(call_id)


def recompute(call: Call) -> Call:
    """A call's outcome from all its legs (after a late leg arrived): answered by the
    person on the best answered leg, who becomes the call's manager when known."""
    legs = list(call.legs.all())
    answered = [leg for leg in legs if leg.answered]
    fields = ["outcome", "talk_seconds"]
    if answered:
        best = max(answered, key=lambda leg: leg.billsec)
        call.outcome = CallOutcome.ANSWERED
        call.talk_seconds = max(call.talk_seconds, best.billsec)
        side = best.channel if call.direction == Direction.OUT else best.dstchannel
        ext = Extension.objects.filter(number=channel_extension(side)).first()
        if ext is not None and call.manager_id != ext.user_id:
            call.manager_id = ext.user_id
            fields.append("manager")
    call.save(update_fields=fields)
    return call


def _lead_for_unknown(
    number: str, rec: CallRecord, source_name: str, took_it: int | None
) -> int | None:
    """A contact and a lead for an inbound caller we do not know; returns the contact id.

    The lead goes to the manager who took the call; else to whom routing sent this
    caller in the last hours (the PBX asked ``/route`` while it rang); else routing
    picks now."""
    from funnelwatch.accounts.models import User
    from funnelwatch.crm import services
    from funnelwatch.crm.models import LeadSource
    from funnelwatch.telephony import routing
    from funnelwatch.telephony.models import RoutingAssignment

    owner = User.objects.filter(pk=took_it, is_active=True).first() if took_it else None
    if owner is None:
        recent = (
            RoutingAssignment.objects.filter(
                number__in={number, rec.from_raw[:40]},
                at__gte=rec.started_at - dt.timedelta(hours=4),
                at__lte=rec.started_at + dt.timedelta(hours=4),
                user__is_active=True,
            )
            .select_related("user")
            .order_by("-at")
            .first()
        )
        owner = recent.user if recent else None
    if owner is None:
        owner = routing.assign(number, rec.started_at, record=True)
    if owner is None:
        return None
    source, _created = LeadSource.objects.get_or_create(name=_("Phone call"))
    try:
        contact = services.create_contact(
            actor=None, name=number, owner=owner, phone_numbers=[number], at=rec.started_at
        )
        services.create_lead(
            actor=None,
            title=_("Call from %(number)s") % {"number": number},
            owner=owner,
            contact=contact,
            source=source,
            at=rec.started_at,
        )
    except services.DealError:
        return None
    return contact.pk


def link_callbacks(numbers: set[str]) -> int:
    """Link each unreturned missed inbound call on these numbers to the first later
    outbound call to the same number (by anyone). Returns how many were linked."""
    missed: list = []
    for part in _chunks(sorted(numbers)):
        missed += list(
            Call.objects.filter(
                direction=Direction.IN, client_number__in=part, callback__isnull=True
            )
            .exclude(outcome=CallOutcome.ANSWERED)
            .values_list("pk", "client_number", "started_at", named=True)
        )
    if not missed:
        return 0
    first = min(c.started_at for c in missed)
    outs: dict[str, list[tuple[dt.datetime, int]]] = {}
    missed_numbers = sorted({c.client_number for c in missed})
    for part in _chunks(missed_numbers):
        for pk, number, started in (
            Call.objects.filter(
                direction=Direction.OUT, client_number__in=part, started_at__gt=first
            )
            .order_by("started_at", "pk")
            .values_list("pk", "client_number", "started_at")
        ):
            outs.setdefault(number, []).append((started, pk))
    changed = []
    for call in missed:
        for started, pk in outs.get(call.client_number, ()):
            if started > call.started_at:
                changed.append((pk, started, call.pk))
                break
    fastdb.update(Call, ["callback", "callback_at"], changed)
    return len(changed)


def first_call_at(deal_ids: list[int]) -> dict[int, dt.datetime]:
    """The first outbound call on each deal (for speed to first call)."""
    out: dict[int, dt.datetime] = {}
    for part in _chunks(deal_ids):
        out.update(
            Call.objects.filter(deal_id__in=part, direction=Direction.OUT)
            .values("deal_id")
            .annotate(first=Min("started_at"))
            .values_list("deal_id", "first")
        )
    return out
