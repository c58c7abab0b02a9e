"""Demo calls: a working day of calls for every manager, missed calls (some never
returned), the planted manager's calls falling off, and full-length synthesised stereo
recordings (left channel: the manager, right: the client; 8 kHz G.711 µ-law WAV, as a
PBX writes them).

The calls the CRM part's story needs (the first call of a lead, a call before each
step) are placed at their moments; the rest of a manager's day goes to clients whose
deals are open that day, so most calls to a client with an open deal belong to it.

Everything goes through the same ingestion as real PBX data (``ingest.ingest``), so
matching, missed-call callbacks and the audit trail behave as in production.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections import defaultdict

import numpy as np
import soundfile
from django.conf import settings
from django.utils import timezone

from funnelwatch.accounts.models import Extension
from funnelwatch.crm.demo import talk_seconds
from funnelwatch.crm.models import ContactPhone, Deal
from funnelwatch.telephony import recordings
from funnelwatch.telephony.ingest import ingest
from funnelwatch.telephony.models import Call, Recording
from funnelwatch.telephony.providers import base

PROVIDER = "demo-pbx"
RATE = 8000
CALLS_PER_DAY = (8, 16)  # outbound per manager per working day
INBOUND_PER_DAY = (2, 6)
NEVER_RETURNED = 6  # missed calls in the last days nobody returns
RECORDINGS_PER_MANAGER = 5  # the newest answered outbound calls of 1-15 minutes


def _extensions(ctx) -> dict[int, str]:
    have = dict(Extension.objects.filter(user__in=ctx.managers).values_list("user_id", "number"))
    taken = set(Extension.objects.values_list("number", flat=True))
    n = 100
    for user in ctx.managers:
        if user.pk in have:
            continue
        while str(n) in taken:
            n += 1
        Extension.objects.create(user=user, number=str(n))
        have[user.pk] = str(n)
        taken.add(str(n))
    return have


def _leg(
    leg_id: str,
    src: str,
    dst: str,
    start: dt.datetime,
    ring: int,
    talk: int,
    ext_channel: str,
    outbound: bool,
) -> base.LegRecord:
    answered = talk > 0
    end = start + dt.timedelta(seconds=ring + talk)
    chan = f"PJSIP/{ext_channel}-{leg_id[-6:]}" if outbound else f"PJSIP/trunk-{leg_id[-6:]}"
    dchan = f"PJSIP/trunk-{leg_id[-6:]}b" if outbound else f"PJSIP/{ext_channel}-{leg_id[-6:]}b"
    return base.LegRecord(
        leg_id=leg_id,
        channel=chan,
        dstchannel=dchan,
        disposition="ANSWERED" if answered else "NO ANSWER",
        billsec=talk,
        answered=answered,
        outcome=base.ANSWERED if answered else base.NO_ANSWER,
        started_at=start,
        answered_at=start + dt.timedelta(seconds=ring) if answered else None,
        ended_at=end,
        duration_s=ring + talk,
        src=src,
        dst=dst,
    )


def _workday_moments(ctx, rng: random.Random, day: dt.date, n: int) -> list[dt.datetime]:
    tz = timezone.get_current_timezone()
    start_h, end_h = settings.FUNNELWATCH_WORKDAY_START, settings.FUNNELWATCH_WORKDAY_END
    out = []
    for _ in range(n):
        minute = rng.randrange(start_h * 60, end_h * 60 - 10)
        out.append(
            dt.datetime.combine(
                day, dt.time(minute // 60, minute % 60, rng.randrange(60)), tzinfo=tz
            )
        )
    return sorted(out)


def _client_numbers(ctx) -> dict[int, list[tuple[dt.date, dt.date | None, str, int]]]:
    """Per manager: (first day, last day or None, number, deal id) of each deal's client."""
    tz = timezone.get_current_timezone()
    number_of = dict(
        ContactPhone.objects.order_by("contact_id", "pk").values_list("contact_id", "number")
    )
    out: dict[int, list] = defaultdict(list)
    for pk, owner, contact, created, closed in Deal.objects.filter(
        owner__in=ctx.managers, contact__isnull=False
    ).values_list("pk", "owner_id", "contact_id", "created_at", "closed_at"):
        if contact in number_of:
            out[owner].append(
                (
                    created.astimezone(tz).date(),
                    closed.astimezone(tz).date() if closed else None,
                    number_of[contact],
                    pk,
                )
            )
    return out


def _out_record(lid: str, ext: str, number: str, moment: dt.datetime, ring: int, talk: int):
    leg = _leg(lid, ext, number, moment, ring, talk, ext, True)
    return base.combine(
        PROVIDER, lid, [leg], direction="out", from_raw=ext, to_raw=number, extension=ext
    )


def generate(ctx) -> None:
    rng = ctx.rng_for("telephony")
    if not ctx.managers:
        return
    ext_of = _extensions(ctx)
    tz = timezone.get_current_timezone()
    # Leads planted as "never called" must stay uncalled: leave their numbers alone.
    untouchable = set(
        ContactPhone.objects.filter(
            contact__deals__pk__in=list(ctx.planted.get("leads_never_called", []))
        ).values_list("number", flat=True)
    )
    # A few old clients (their deals closed, none open) call in the last days and nobody
    # calls them back: their numbers get no other outbound call. Known numbers, so the
    # calls stay missed calls and do not open new leads nobody calls.
    planted_name = ctx.planted.get("activity_drop_manager")
    recent = [m for m in ctx.managers if m.username != planted_name] or ctx.managers
    unreturned = _old_clients(ctx, recent, untouchable, rng, NEVER_RETURNED)
    untouchable |= {number for number, _owner in unreturned}
    clients = _client_numbers(ctx)
    planned: dict[tuple[int, dt.date], list] = defaultdict(list)
    for manager_id, _deal, number, moment, talk in ctx.call_plan:
        planned[(manager_id, moment.astimezone(tz).date())].append((moment, number, talk))
    # Before a manager has clients of their own (the first day): any known client, so
    # that no call comes from a stranger (a stranger's call would open a lead).
    by_owner: dict[int | None, list[str]] = defaultdict(list)
    for number, owner in ContactPhone.objects.order_by("pk").values_list(
        "number", "contact__owner_id"
    ):
        if number not in untouchable:
            by_owner[owner].append(number)
    everyone = [n for numbers in by_owner.values() for n in numbers]
    drop_from = ctx.now - dt.timedelta(days=14)
    never_returned_ids: list[str] = []
    records: list[base.CallRecord] = []
    seq = 0
    first_day = dates_local(ctx.start, tz)
    last_day = dates_local(ctx.now, tz)
    workdays = settings.FUNNELWATCH_WORKDAYS
    day = first_day
    while day <= last_day:
        for user in ctx.managers:
            ext = ext_of[user.pk]
            planted = user.username == planted_name
            story = [p for p in planned_calls(planned, user.pk, day) if p[0] < ctx.now]
            for moment, number, talk in story:
                seq += 1
                records.append(
                    _out_record(f"demo-{seq:07d}", ext, number, moment, rng.randint(3, 12), talk)
                )
            if day.weekday() not in workdays:
                continue
            mine = clients.get(user.pk, [])
            # deals open today that came in before today; older clients for the rest
            open_today = [
                n
                for first, last, n, _pk in mine
                if first < day and (last is None or last >= day) and n not in untouchable
            ]
            known = [n for first, _l, n, _pk in mine if first < day and n not in untouchable]
            own = known or by_owner.get(user.pk) or everyone
            if not own:
                continue
            n_out = max(0, rng.randint(*CALLS_PER_DAY) - len(story))
            for moment in _workday_moments(ctx, rng, day, n_out):
                if moment >= ctx.now:
                    continue
                if planted and moment >= drop_from and rng.random() > 0.2:
                    continue  # the planted manager has nearly stopped calling
                seq += 1
                pool = open_today if open_today and rng.random() < 0.75 else own
                number = rng.choice(pool)
                talk = 0 if rng.random() < 0.35 else talk_seconds(rng)
                records.append(
                    _out_record(f"demo-{seq:07d}", ext, number, moment, rng.randint(3, 25), talk)
                )
            n_in = rng.randint(*INBOUND_PER_DAY)
            for moment in _workday_moments(ctx, rng, day, n_in):
                if moment >= ctx.now:
                    continue
                seq += 1
                number = rng.choice(open_today if open_today and rng.random() < 0.6 else own)
                missed = rng.random() < 0.15
                lid = f"demo-{seq:07d}"
                talk = 0 if missed else talk_seconds(rng)
                leg = _leg(lid, number, ext, moment, rng.randint(3, 30), talk, ext, False)
                records.append(
                    base.combine(
                        PROVIDER,
                        lid,
                        [leg],
                        direction="in",
                        from_raw=number,
                        to_raw=ext,
                        extension=ext,
                    )
                )
                if missed and (planted or rng.random() < 0.8):
                    # returned a few minutes (or hours, for the planted one) later
                    delay = rng.randint(120, 14400) if planted else rng.randint(60, 3600)
                    back = moment + dt.timedelta(seconds=delay)
                    if back < ctx.now and not (planted and moment >= drop_from):
                        seq += 1
                        records.append(
                            _out_record(
                                f"demo-{seq:07d}", ext, number, back, 5, rng.randint(30, 300)
                            )
                        )
        day += dt.timedelta(days=1)

    # The callers in the last days whom nobody called back (their numbers get no
    # outbound call afterwards, so they stay open on the missed-calls page).
    for i, (number, owner_id) in enumerate(unreturned):
        seq += 1
        ext = ext_of[owner_id]
        moment = ctx.now - dt.timedelta(hours=rng.randint(2, 72), minutes=i)
        lid = f"demo-{seq:07d}"
        never_returned_ids.append(lid)
        leg = _leg(lid, number, ext, moment, rng.randint(10, 40), 0, ext, False)
        records.append(
            base.combine(
                PROVIDER, lid, [leg], direction="in", from_raw=number, to_raw=ext, extension=ext
            )
        )

    records.sort(key=lambda r: r.started_at)
    created: list[int] = []
    for i in range(0, len(records), 5000):
        created += ingest(records[i : i + 5000], source_name="demo generator").created_ids
    linked = link_to_deals_of_their_time(ctx)
    never = list(
        Call.objects.filter(
            provider=PROVIDER, external_id__in=never_returned_ids, callback__isnull=True
        ).values_list("pk", flat=True)
    )
    ctx.planted["missed_calls_not_returned"] = sorted(
        set(ctx.planted.get("missed_calls_not_returned", [])) | set(never)
    )
    _recordings(ctx, rng)
    ctx.notes.append(
        f"telephony: {len(created)} calls ({linked} on a deal), {len(never)} missed calls "
        f"never returned, {Recording.objects.filter(call__provider=PROVIDER).count()} recordings"
    )


def _old_clients(
    ctx,
    managers: list,
    taken: set[str],
    rng: random.Random,
    n: int,
) -> list[tuple[str, int]]:
    """(number, owner id) of ``n`` clients of these managers whose deals all closed more
    than a week ago; strangers' numbers (given to a manager) when there are too few."""
    open_contacts = set(
        Deal.objects.filter(status="open", contact__isnull=False).values_list(
            "contact_id", flat=True
        )
    )
    recent_contacts = set(
        Deal.objects.filter(
            contact__isnull=False, closed_at__gte=ctx.now - dt.timedelta(days=7)
        ).values_list("contact_id", flat=True)
    )
    seen: dict[str, int] = {}
    for number, contact_id, owner_id in (
        ContactPhone.objects.filter(
            contact__owner__in=managers, contact__deals__closed_at__isnull=False
        )
        .order_by("pk")
        .values_list("number", "contact_id", "contact__owner_id")
    ):
        if contact_id in open_contacts or contact_id in recent_contacts or number in taken:
            continue
        seen.setdefault(number, owner_id)
    pool = sorted(seen.items())
    chosen = rng.sample(pool, min(n, len(pool)))
    while len(chosen) < n and managers:
        chosen.append((f"+9768{rng.randrange(10**6, 10**7)}", rng.choice(managers).pk))
    return chosen


def planned_calls(planned: dict, manager_id: int, day: dt.date) -> list:
    return sorted(planned.get((manager_id, day), []))


def link_to_deals_of_their_time(ctx) -> int:
    """File each demo call under the client's deal that was open when the call was made.

    Ingestion matches a call to the deal open at the moment it arrives; the demo ingests
    six months at once, so without this the history's calls would all be matched to
    today's open deals (and most to none). Returns how many calls belong to a deal."""
    deals: dict[int, list[tuple[dt.datetime, dt.datetime | None, int]]] = defaultdict(list)
    for pk, contact, created, closed in (
        Deal.objects.filter(contact__isnull=False)
        .order_by("created_at", "pk")
        .values_list("pk", "contact_id", "created_at", "closed_at")
    ):
        deals[contact].append((created, closed, pk))
    slack = dt.timedelta(minutes=5)
    changed, linked = [], 0
    for pk, contact, started, deal_id in Call.objects.filter(
        provider=PROVIDER, contact__isnull=False
    ).values_list("pk", "contact_id", "started_at", "deal_id"):
        want = None
        for created, closed, deal_pk in deals.get(contact, []):
            if created - slack <= started and (closed is None or started <= closed + slack):
                want = deal_pk  # the newest one open at the time
        linked += want is not None
        if want != deal_id:
            changed.append(Call(pk=pk, deal_id=want))
    Call.objects.bulk_update(changed, ["deal"], batch_size=2000)
    # A call filed under another deal moves the numbers that count calls on deals: the
    # days of those calls are recomputed (through the one door, once each on commit).
    from funnelwatch import metrics

    days_of: dict[int, set] = defaultdict(set)
    for manager_id, started in Call.objects.filter(
        pk__in=[c.pk for c in changed], manager__isnull=False
    ).values_list("manager_id", "started_at"):
        days_of[manager_id].add(started)
    for manager_id, moments in days_of.items():
        metrics.changed("call", [manager_id], moments)
    return linked


def dates_local(moment: dt.datetime, tz) -> dt.date:
    return moment.astimezone(tz).date()


# --- synthesised recordings ---------------------------------------------------------

PROFILES = {  # manager's share of the talk, turn length s, pause between turns s, floor dB
    "normal": ((0.38, 0.55), 7.0, 0.8, -62.0),
    "talkative": ((0.76, 0.86), 16.0, 0.5, -62.0),
    "silent": ((0.12, 0.22), 6.0, 6.0, -62.0),
    "noisy": ((0.40, 0.55), 7.0, 0.8, -27.0),
}
_BANK_SIZE = 1 << 17


def _bank() -> np.ndarray:
    return np.random.default_rng(20240101).standard_normal(_BANK_SIZE).astype(np.float32)


def _tiled(bank: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.resize(np.roll(bank, int(rng.integers(_BANK_SIZE))), n)


def synth_call(
    kind: str, seconds: float, seed: int, bank: np.ndarray | None = None
) -> tuple[bytes, float]:
    """A whole call as a stereo 8 kHz µ-law WAV: two voices taking turns with pauses, the
    manager's share of the talk and the line's noise set by ``kind`` (see ``PROFILES``).
    Returns the file and the manager's planned share of the talk."""
    from funnelwatch.quality.audio import synth

    rng = np.random.default_rng(seed)
    bank = _bank() if bank is None else bank
    (low, high), turn, gap, floor_db = PROFILES[kind]
    share = float(rng.uniform(low, high))
    floor_db += float(rng.uniform(-6, 4)) if kind == "noisy" else 0.0  # some lines worse
    parties = synth.dialogue(seconds, manager_share=share, turn_s=turn, gap_s=gap, seed=seed)
    n = round(seconds * RATE)
    t = np.arange(n, dtype=np.float32) / RATE
    channels = []
    for ch, segments in enumerate(parties):
        x = _tiled(bank, n, rng) * (10 ** (floor_db / 20) * 32768)
        env = np.zeros(n, np.float32)
        for a, b in segments:
            env[int(a * RATE) : int(b * RATE)] = 1.0
        loud = 10 ** (rng.uniform(-22, -18) / 20) * 32768
        syllables = 0.7 + 0.3 * np.sin(2 * np.pi * 4.0 * t + ch)
        x += _tiled(bank, n, rng) * env * syllables * loud
        channels.append(np.clip(x, -32768, 32767) / 32768)
    buf = io.BytesIO()
    # libsndfile writes the µ-law WAV (format tag 7), as PBXs store their recordings.
    soundfile.write(buf, np.stack(channels, axis=1), RATE, subtype="ULAW", format="WAV")
    return buf.getvalue(), share


def planted_styles(ctx) -> dict[str, str]:
    """username -> recording style: one talkative, one silent and one noisy manager (not
    the one whose activity fell: each planted manager has one story)."""
    dropper = ctx.planted.get("activity_drop_manager")
    others = [m.username for m in ctx.managers if m.username != dropper]
    styles = {}
    for kind, index in (("talkative", 1), ("silent", 2), ("noisy", 3)):
        if index < len(others):
            styles[others[index]] = kind
    return styles


def _recordings(ctx, rng: random.Random) -> None:
    styles = planted_styles(ctx)
    bank = _bank()
    rows = []
    for user in ctx.managers:
        calls = list(
            Call.objects.filter(
                provider=PROVIDER,
                manager=user,
                direction="out",
                outcome="answered",
                recording__isnull=True,
                talk_seconds__gte=60,
                talk_seconds__lte=900,
            )
            .order_by("-started_at")
            .values_list("pk", "talk_seconds")[:RECORDINGS_PER_MANAGER]
        )
        kind = styles.get(user.username, "normal")
        for pk, talk in calls:
            data, _share = synth_call(kind, float(talk), seed=rng.randrange(10**9), bank=bank)
            rec = Recording(call_id=pk, duration_s=float(talk), manager_channel="left")
            rows.append((rec, data, kind))
    for rec, data, _kind in rows:
        recordings.store_bytes(rec, data, "audio/wav")
    ctx.planted["recordings_by_kind"] = {
        kind: [rec.call_id for rec, _d, k in rows if k == kind] for kind in PROFILES
    }
    ctx.planted["quality_managers"] = {kind: name for name, kind in styles.items()}


# --- first calls to the leads other parts bring in ------------------------------------


def first_call_moment(rng: random.Random, created: dt.datetime, slow: bool = False) -> dt.datetime:
    """When a lead that came in at ``created`` gets its first call: within minutes in
    working hours (hours later for a manager who is ``slow``), first thing the next
    working morning when it came in after hours."""
    tz = timezone.get_current_timezone()
    start_h, end_h = settings.FUNNELWATCH_WORKDAY_START, settings.FUNNELWATCH_WORKDAY_END
    workdays = settings.FUNNELWATCH_WORKDAYS
    minutes = rng.uniform(60, 600) if slow else min(14.0, 1 + rng.expovariate(1 / 4))
    moment = (created + dt.timedelta(minutes=minutes)).astimezone(tz)
    if moment.hour >= end_h or moment.hour < start_h or moment.weekday() not in workdays:
        day = moment.date() + dt.timedelta(days=1 if moment.hour >= end_h else 0)
        while day.weekday() not in workdays:
            day += dt.timedelta(days=1)
        moment = dt.datetime.combine(
            day, dt.time(start_h, rng.randint(1, 12), rng.randrange(60)), tzinfo=tz
        )
    return moment


def call_new_leads(ctx, deals, rng: random.Random) -> int:
    """Give each of these leads (deals with a client's phone) its first call as the CRM
    part's leads get theirs: an answered outbound call from the owner within minutes, the
    planted manager's hours later. Ingested like PBX data and filed under the deal; a
    first call still in the future is left to be made. Returns how many were placed."""
    dropper = ctx.planted.get("activity_drop_manager")
    managers = {m.pk for m in ctx.managers}
    ext_of = _extensions(ctx)
    number_of = dict(
        ContactPhone.objects.order_by("-pk").values_list("contact_id", "number")
    )  # the first number of each contact wins
    records = []
    for deal in deals:
        number = number_of.get(deal.contact_id)
        if number is None or deal.owner_id not in managers:
            continue
        slow = deal.owner.username == dropper
        moment = first_call_moment(rng, deal.created_at, slow=slow)
        if moment >= ctx.now:
            continue
        ext = ext_of[deal.owner_id]
        records.append(
            _out_record(
                f"demo-lead-{deal.pk:07d}",
                ext,
                number,
                moment,
                rng.randint(3, 12),
                talk_seconds(rng),
            )
        )
    ingest(records, source_name="demo generator")
    link_to_deals_of_their_time(ctx)
    return len(records)
