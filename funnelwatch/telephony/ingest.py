"""Writing calls: from internal call records to rows, matched to managers, contacts and deals.

Every provider ends here. :func:`ingest` takes a batch of ``CallRecord`` and, in one
transaction and a fixed number of queries per batch (never per row):

- skips calls already stored (provider + external id), adding legs that are new to them;
- normalises numbers to E.164, decides the direction, finds the manager by extension;
- matches the client's number to a contact and the contact's open deal; an inbound call
  from an unknown number creates a contact and a lead assigned by routing;
- writes calls and legs with ``bulk_create`` and records them in the audit trail;
- links missed inbound calls to the first later outbound call to the same number;
- tells the metrics which managers' numbers changed (``metrics.changed``, source "call").
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch import metrics
from funnelwatch.accounts.models import Extension
from funnelwatch.audit import chain
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as, current_actor
from funnelwatch.crm.models import Contact, ContactPhone, Deal, Outcome
from funnelwatch.lib import phones
from funnelwatch.metrics.common import local_day
from funnelwatch.telephony import fastdb
from funnelwatch.telephony.models import (
    UNRETURNED_BY_NUMBER,
    Call,
    CallLeg,
    CallOutcome,
    Direction,
    Recording,
    unreturned_sql,
)
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
        """The first of the call's extensions, in order of preference, that is a
        manager's: inbound, who took it (answered legs first), then whom it rang;
        outbound, who dialled."""
        extensions = self.extensions
        if not extensions:
            return None
        for cand in self._candidates(rec, direction):
            if cand and cand in extensions:
                return extensions[cand]
        return None

    @staticmethod
    def _candidates(rec: CallRecord, direction: str) -> Iterator[str]:
        # A generator: most calls are settled by their first candidates, without the
        # channel names of every leg being parsed.
        yield rec.extension
        legs = rec.legs
        if direction == Direction.IN:
            for leg in [leg for leg in legs if leg.answered] + legs:
                yield channel_extension(leg.dstchannel)
                yield leg.dst
            yield rec.to_raw
        else:
            yield rec.from_raw
            for leg in legs:
                yield channel_extension(leg.channel)
                yield leg.src


def _ids_of(provider: str, external_ids: list[str]) -> dict[str, int]:
    """external id → pk of the stored calls among these; plain SQL, the ORM's IN lookup
    costs several microseconds a value."""
    table = connection.ops.quote_name(Call._meta.db_table)
    out: dict[str, int] = {}
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # One array parameter, not a query per few hundred values.
            cur.execute(
                f"SELECT external_id, id FROM {table} WHERE provider = %s "
                "AND external_id = ANY(%s)",
                [provider, external_ids],
            )
            return dict(cur.fetchall())
        for part in _chunks(external_ids):
            marks = ", ".join(["%s"] * len(part))
            cur.execute(
                f"SELECT external_id, id FROM {table} WHERE provider = %s "
                f"AND external_id IN ({marks})",
                [provider, *part],
            )
            out.update(cur.fetchall())
    return out


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
        _fit_ids(rec, result)
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


def _fit_ids(rec: CallRecord, result: IngestResult) -> None:
    """Ids cut to the columns' length before anything compares them: two ids that differ
    only after it are one call (or one leg) as stored, so they are matched, merged and
    counted as such instead of colliding with the unique keys."""
    rec.external_id = rec.external_id[:120]
    if len(rec.legs) == 1:  # the common case
        rec.legs[0].leg_id = rec.legs[0].leg_id[:120]
        return
    seen: set[str] = set()
    legs = []
    for leg in rec.legs:
        leg.leg_id = leg.leg_id[:120]
        if leg.leg_id in seen:
            result.duplicates += 1
        else:
            seen.add(leg.leg_id)
            legs.append(leg)
    rec.legs = legs


def _ingest_provider(
    provider: str,
    by_id: dict[str, CallRecord],
    matcher: Matcher,
    result: IngestResult,
    source_name: str,
) -> None:
    ids = list(by_id)
    existing = _ids_of(provider, ids)
    changed: list[tuple[int | None, dt.datetime]] = []
    merged_before = len(result.updated_call_ids)
    if existing:
        changed += _merge_into_existing(by_id, existing, matcher, result)
    merged = result.updated_call_ids[merged_before:]
    new = [by_id[i] for i in ids if i not in existing]
    if not new:
        _notify(changed, merged)
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

    if settings.FUNNELWATCH_CALLS_CREATE_LEADS:
        unknown: dict[str, CallRecord] = {}
        for rec, _f, _t, direction, client in prepared:
            if direction == Direction.IN and client and client not in contact_of:
                unknown.setdefault(client, rec)
        if unknown:
            created = _leads_for_unknown(unknown, matcher, source_name)
            for number, (contact_id, owner_id) in created.items():
                contact_of[number] = contact_id
                owner_of_contact[contact_id] = owner_id
            result.leads_created += len(created)

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
    ids = fastdb.reserve_ids(Call, len(rows))
    # Missed calls of this batch are written with the call that returned them, if any;
    # stored ones are linked to calls of this batch after the insert.
    returned = _returned_by(rows, ids)
    fastdb.insert(
        Call,
        ("id", *CALL_FIELDS, "callback", "callback_at"),
        [(pk, *row, *returned.get(pk, _NOT_RETURNED)) for pk, row in zip(ids, rows, strict=True)],
    )
    leg_rows = [
        (pk, *_leg_values(leg))
        for pk, (rec, *_rest) in zip(ids, prepared, strict=True)
        for leg in rec.legs
    ]
    fastdb.insert(CallLeg, LEG_FIELDS, leg_rows)
    recordings = [
        Recording(call_id=pk, source_url=rec.recording_url[:500])
        for pk, (rec, *_rest) in zip(ids, prepared, strict=True)
        if rec.recording_url
    ]
    if recordings:
        Recording.objects.bulk_create(recordings, batch_size=500)
    with acting_as(None, source="integration", name=source_name):
        _audit_created(rows, ids)
    result.created_ids.extend(ids)

    numbers = {row[8] for row in rows if row[8]}
    if numbers:
        changed += link_callbacks(numbers, changes=True)
    # A call counts for its manager, else (missed, nobody took it) for the client's owner.
    changed += [(row[9] or owner_of_contact.get(row[10]), row[12]) for row in rows]
    _notify(changed, merged, [(row[11], row[3], row[8], row[12]) for row in rows])
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


def _audit_created(rows: list[tuple], ids: list[int]) -> None:
    """The same events ``trail.record_bulk`` writes, without building model instances
    (linked into the audit chain as ``AuditEvent.objects.bulk_create`` links them)."""
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
            str(pk),
            f"{row[3]} {row[5] or row[4]} → {row[7] or row[6]} {minute(row[12])}"[:200],
            {},
        )
        for pk, row in zip(ids, rows, strict=True)
    ]
    fastdb.insert(AuditEvent, chain.SEALED_FIELDS, chain.seal_rows(events))


def _merge_into_existing(
    by_id: dict[str, CallRecord], existing: dict[str, int], matcher: Matcher, result: IngestResult
) -> list[tuple[int | None, dt.datetime]]:
    """Calls seen before: count repeated legs, add new ones and recompute those calls.
    Returns (credited manager, start) of each call whose numbers may have changed."""
    call_ids = list(existing.values())
    have: dict[int, list[tuple]] = {}
    for part in _chunks(call_ids):
        for leg in CallLeg.objects.filter(call_id__in=part).values_list(
            "call_id", "leg_id", "channel", "dstchannel", "billsec", "answered"
        ):
            have.setdefault(leg[0], []).append(leg)
    new_legs: list[tuple] = []
    for ext_id, call_id in existing.items():
        rec = by_id[ext_id]
        known = {leg[1] for leg in have.get(call_id, ())}
        if not rec.legs:
            result.duplicates += 1
        for leg in rec.legs:
            if leg.leg_id[:120] in known:
                result.duplicates += 1
            else:
                known.add(leg.leg_id[:120])
                values = (call_id, *_leg_values(leg))
                new_legs.append(values)
                have.setdefault(call_id, []).append((*values[:4], *values[5:7]))
    if not new_legs:
        return []
    fastdb.insert(CallLeg, LEG_FIELDS, new_legs)
    result.legs_added += len(new_legs)
    touched = sorted({leg[0] for leg in new_legs})
    changed: list[tuple[int | None, dt.datetime]] = []
    updates: list[tuple] = []
    for part in _chunks(touched):
        for pk, direction, outcome, talk, manager_id, owner_id, started in Call.objects.filter(
            pk__in=part
        ).values_list(
            "pk",
            "direction",
            "outcome",
            "talk_seconds",
            "manager_id",
            "contact__owner_id",
            "started_at",
        ):
            outcome, talk, new_manager = _recomputed(
                have[pk], direction, outcome, talk, manager_id, matcher.extensions
            )
            updates.append((outcome, talk, new_manager, pk))
            changed += [(manager_id or owner_id, started), (new_manager or owner_id, started)]
            result.updated_call_ids.append(pk)
    fastdb.update(Call, ["outcome", "talk_seconds", "manager"], updates)
    return changed


def _recomputed(
    legs: list[tuple],
    direction: str,
    outcome: str,
    talk: int,
    manager_id: int | None,
    extensions: dict[str, int],
) -> tuple[str, int, int | None]:
    """A call's (outcome, talk seconds, manager) from all its legs (call_id, leg_id,
    channel, dstchannel, billsec, answered) after a late leg arrived: answered by the
    person on the best answered leg, who becomes the call's manager when known."""
    answered = [leg for leg in legs if leg[5]]
    if not answered:
        return outcome, talk, manager_id
    best = max(answered, key=lambda leg: leg[4])
    side = best[2] if direction == Direction.OUT else best[3]
    user_id = extensions.get(channel_extension(side))
    return CallOutcome.ANSWERED, max(talk, best[4]), user_id or manager_id


def _notify(
    changed: list[tuple[int | None, dt.datetime]],
    merged: list[int],
    new: Iterable[tuple[int | None, str, str, dt.datetime]] = (),
) -> None:
    """Tell the metrics (``metrics.changed``, source "call") which managers' numbers
    changed on which days: the (manager, call start) pairs in ``changed``, and what the
    calls change for others (the deal's owner, the owner of a lead they call first:
    ``metrics.touched_by_calls``): the stored calls ``merged`` and the new calls ``new``
    ((deal, direction, client number, start), known without reading them back)."""
    from funnelwatch.telephony.metrics import call_facts, touched_by_calls

    everything = [*changed, *touched_by_calls([*call_facts(merged), *new])]
    # One moment per manager and quarter hour stands for its local day (zone offsets are
    # whole quarter hours): hundreds of thousands of calls name a few days.
    pairs = {(m, int(at.timestamp()) // 900): (m, at) for m, at in everything if m}
    per: dict[int, set[dt.date]] = {}
    for manager, at in pairs.values():
        per.setdefault(manager, set()).add(local_day(at))
    for manager, days in per.items():
        metrics.changed("call", [manager], days)


def _leads_for_unknown(
    unknown: dict[str, CallRecord], matcher: Matcher, source_name: str
) -> dict[str, tuple[int, int]]:
    """A contact and a lead for each inbound caller we do not know (number → the first
    call from it); returns number → (contact id, owner id) of the leads created.

    The lead goes to the manager who took the call; else to whom routing sent this
    caller in the last hours (the PBX asked ``/route`` while it rang); else routing
    picks now. A fixed number of queries for any number of callers."""
    from funnelwatch.accounts.models import User
    from funnelwatch.crm import services
    from funnelwatch.crm.models import LeadSource
    from funnelwatch.telephony import routing
    from funnelwatch.telephony.models import RoutingAssignment

    took = {
        number: matcher.manager_for(rec, Direction.IN)
        for number, rec in unknown.items()
        if rec.outcome == CallOutcome.ANSWERED
    }
    users = User.objects.in_bulk({u for u in took.values() if u})
    # Whom routing sent each caller to within 4 hours of the call (the latest such pick).
    window = dt.timedelta(hours=4)
    asked: dict[str, list[tuple[dt.datetime, int, int]]] = {}
    spellings = sorted({n for number, rec in unknown.items() for n in (number, rec.from_raw[:40])})
    first = min(rec.started_at for rec in unknown.values()) - window
    last = max(rec.started_at for rec in unknown.values()) + window
    for part in _chunks(spellings):
        for pk, number, at, user_id in RoutingAssignment.objects.filter(
            number__in=part, at__gte=first, at__lte=last, user__is_active=True
        ).values_list("pk", "number", "at", "user_id"):
            asked.setdefault(number, []).append((at, pk, user_id))
    routed_to = {}
    for number, rec in unknown.items():
        picks = [
            pick
            for spelling in {number, rec.from_raw[:40]}
            for pick in asked.get(spelling, ())
            if abs(pick[0] - rec.started_at) <= window
        ]
        if picks:
            routed_to[number] = max(picks)[2]
    users.update(User.objects.in_bulk(set(routed_to.values()) - set(users)))

    router = routing.Router()
    owners: dict[str, User] = {}
    for number, rec in unknown.items():
        owner = users.get(took.get(number))
        if owner is None or not owner.is_active:
            owner = users.get(routed_to.get(number))
        if owner is None:
            owner = router.assign_unknown(number, rec.started_at)
        if owner is not None:
            owners[number] = owner
    router.save()
    if not owners:
        return {}
    source, _created = LeadSource.objects.get_or_create(name=_("Phone call"))
    made = services.create_leads(
        [
            services.NewLead(
                name=number,
                phone=number,
                owner=owner,
                title=_("Call from %(number)s") % {"number": number},
                at=unknown[number].started_at,
                source=source,
            )
            for number, owner in owners.items()
        ]
    )
    return {
        number: (contact.pk, contact.owner_id)
        for number, (contact, deal) in zip(owners, made, strict=True)
        if deal is not None
    }


_NOT_RETURNED = (None, None)


def _returned_by(rows: list[tuple], ids: list[int]) -> dict[int, tuple[int, dt.datetime]]:
    """For the missed inbound calls among new call rows (keys ``ids``): key → (the first
    later outbound call to the same number, stored or in these rows, its start)."""
    missed = [
        (pk, row[8], row[12])
        for pk, row in zip(ids, rows, strict=True)
        if row[3] == Direction.IN and row[8] and row[17] != CallOutcome.ANSWERED
    ]
    if not missed:
        return {}
    outs: dict[str, list[tuple[dt.datetime, int]]] = {}
    for pk, row in zip(ids, rows, strict=True):
        if row[3] == Direction.OUT and row[8]:
            outs.setdefault(row[8], []).append((row[12], pk))
    for calls in outs.values():
        calls.sort()
    stored = _first_stored_outbound({(number, at) for _pk, number, at in missed})
    out = {}
    for pk, number, at in missed:
        candidates = []
        if (number, at) in stored:
            candidates.append(stored[(number, at)])
        calls = outs.get(number)
        if calls:
            # Stored calls have lower keys: on a tie of times they come first, as here.
            i = bisect.bisect_right(calls, (at, float("inf")))
            if i < len(calls):
                candidates.append(calls[i])
        if candidates:
            at_back, back = min(candidates)
            out[pk] = (back, at_back)
    return out


def _first_outbound_sql(table: str, number: str, after: str) -> str:
    """A scalar subquery: the key of the first outbound call to ``number`` after
    ``after`` (the lowest key among calls at that start), read through the (client
    number, start) index."""
    return (
        f"(SELECT c.id FROM {table} c WHERE c.client_number = {number} "
        f"AND c.direction = '{Direction.OUT}' AND c.started_at > {after} "
        "ORDER BY c.started_at, c.id LIMIT 1)"
    )


def _starts(keys: set[int]) -> dict[int, dt.datetime]:
    """key → start of these calls."""
    out: dict[int, dt.datetime] = {}
    for part in _chunks(sorted(keys)):
        out.update(Call.objects.filter(pk__in=part).values_list("pk", "started_at"))
    return out


def _first_stored_outbound(
    missed: set[tuple[str, dt.datetime]],
) -> dict[tuple[str, dt.datetime], tuple[dt.datetime, int]]:
    """(number, time) → (start, key) of the first stored outbound call to that number
    after that time (the lowest key among calls at that start)."""
    table = connection.ops.quote_name(Call._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    pairs = sorted(missed)
    back_of: dict[tuple[str, dt.datetime], int] = {}
    with connection.cursor() as cur:
        for part in _chunks(pairs, _IN_CHUNK // 2):
            # Each pair goes with its place in ``part``, which the answer names.
            cur.execute(
                "SELECT v.column3, "
                + _first_outbound_sql(table, "v.column1", "v.column2")
                + f" FROM (VALUES {', '.join(['(%s, %s, %s)'] * len(part))}) AS v",
                [v for i, (number, at) in enumerate(part) for v in (number, adapt(at), i)],
            )
            for i, back in cur.fetchall():
                if back is not None:
                    back_of[part[i]] = back
    starts = _starts(set(back_of.values()))
    return {pair: (starts[back], back) for pair, back in back_of.items()}


def link_callbacks(numbers: set[str], changes: bool = False):
    """Link each unreturned missed inbound call on these numbers to the first later
    outbound call to the same number (by anyone; the lowest key on a tie of starts).
    Returns how many were linked, or with ``changes`` the (credited manager, start) of
    each missed call linked.

    The database finds each missed call's first later outbound call through the
    (client number, start) index: the work follows the missed calls, not how many
    calls the numbers have."""
    table = connection.ops.quote_name(Call._meta.db_table)
    contacts = connection.ops.quote_name(Contact._meta.db_table)
    # SQLite picks a partial index only when told (or after ANALYZE has seen it).
    hint = f" INDEXED BY {UNRETURNED_BY_NUMBER}" if connection.vendor == "sqlite" else ""
    found: list = []
    with connection.cursor() as cur:
        for part in _chunks(sorted(numbers)):
            # The index's condition with its constants written out: only then do the
            # planners know the partial index applies.
            cur.execute(
                "SELECT m.id, "
                + _first_outbound_sql(table, "m.client_number", "m.started_at")
                + ", m.started_at, m.manager_id, ct.owner_id "
                f"FROM {table} m{hint} LEFT JOIN {contacts} ct ON ct.id = m.contact_id "
                f"WHERE m.client_number IN ({', '.join(['%s'] * len(part))}) "
                f"AND {unreturned_sql('m')}",
                part,
            )
            found += [row for row in cur.fetchall() if row[1] is not None]
    if not found:
        return [] if changes else 0
    starts = _starts({row[1] for row in found})
    fastdb.update(
        Call, ["callback", "callback_at"], [(back, starts[back], pk) for pk, back, *_ in found]
    )
    if not changes:
        return len(found)
    return [(manager or owner, _aware(started)) for *_first, started, manager, owner in found]


def _aware(value: object) -> dt.datetime:
    """A stored time from a raw query as an aware datetime (SQLite keeps naive UTC text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


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
