"""Demo calls: a working day of calls for every manager, missed calls (some never
returned), the planted manager's calls falling off, and short synthesised stereo
recordings (left channel: the manager, right: the client).

Everything goes through the same ingestion as real PBX data (``ingest.ingest``), so
matching, missed-call callbacks and the audit trail behave as in production.
"""

from __future__ import annotations

import datetime as dt
import io
import random

import numpy as np
from django.conf import settings
from django.utils import timezone

from funnelwatch.accounts.models import Extension
from funnelwatch.crm.models import ContactPhone
from funnelwatch.telephony import recordings
from funnelwatch.telephony.ingest import ingest
from funnelwatch.telephony.models import Call, Recording
from funnelwatch.telephony.providers import base

PROVIDER = "demo-pbx"
RATE = 8000
CALLS_PER_DAY = (8, 16)  # outbound per manager per working day
INBOUND_PER_DAY = (2, 6)
RECORDINGS = 40


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
    phones = [
        (n, o)
        for n, o in ContactPhone.objects.order_by("pk").values_list("number", "contact__owner_id")
        if n not in untouchable
    ]
    by_owner: dict[int | None, list[str]] = {}
    for number, owner in phones:
        by_owner.setdefault(owner, []).append(number)
    all_numbers = [n for n, _o in phones] or [
        f"+9769{rng.randrange(10**6, 10**7)}" for _ in range(200)
    ]
    planted_name = ctx.planted.get("activity_drop_manager")
    drop_from = ctx.now - dt.timedelta(days=14)
    never_returned_numbers: list[str] = []
    records: list[base.CallRecord] = []
    seq = 0
    first_day = dates_local(ctx.start, tz)
    last_day = dates_local(ctx.now, tz)
    workdays = settings.FUNNELWATCH_WORKDAYS
    day = first_day
    while day <= last_day:
        if day.weekday() in workdays:
            for user in ctx.managers:
                ext = ext_of[user.pk]
                own = by_owner.get(user.pk) or all_numbers
                n_out = rng.randint(*CALLS_PER_DAY)
                planted = user.username == planted_name
                for moment in _workday_moments(ctx, rng, day, n_out):
                    if moment >= ctx.now:
                        continue
                    if planted and moment >= drop_from and rng.random() > 0.2:
                        continue  # the planted manager has nearly stopped calling
                    seq += 1
                    number = rng.choice(own)
                    talk = rng.choice([0, 0, 0]) if rng.random() < 0.35 else rng.randint(20, 900)
                    lid = f"demo-{seq:07d}"
                    leg = _leg(lid, ext, number, moment, rng.randint(3, 25), talk, ext, True)
                    records.append(
                        base.combine(
                            PROVIDER,
                            lid,
                            [leg],
                            direction="out",
                            from_raw=ext,
                            to_raw=number,
                            extension=ext,
                        )
                    )
                n_in = rng.randint(*INBOUND_PER_DAY)
                for moment in _workday_moments(ctx, rng, day, n_in):
                    if moment >= ctx.now:
                        continue
                    seq += 1
                    number = rng.choice(own)
                    missed = rng.random() < 0.15
                    lid = f"demo-{seq:07d}"
                    talk = 0 if missed else rng.randint(30, 600)
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
                            lid2 = f"demo-{seq:07d}"
                            leg = _leg(lid2, ext, number, back, 5, rng.randint(30, 300), ext, True)
                            records.append(
                                base.combine(
                                    PROVIDER,
                                    lid2,
                                    [leg],
                                    direction="out",
                                    from_raw=ext,
                                    to_raw=number,
                                    extension=ext,
                                )
                            )
        day += dt.timedelta(days=1)

    # A few callers in the last days whom nobody called back (their numbers get no
    # outbound call at all, so they stay open on the missed-calls page).
    recent = [m for m in ctx.managers if m.username != planted_name] or ctx.managers
    for i in range(6):
        seq += 1
        user = rng.choice(recent)
        ext = ext_of[user.pk]
        number = f"+9768{rng.randrange(10**6, 10**7)}"
        never_returned_numbers.append(number)
        moment = ctx.now - dt.timedelta(hours=rng.randint(2, 72), minutes=i)
        lid = f"demo-{seq:07d}"
        leg = _leg(lid, number, ext, moment, rng.randint(10, 40), 0, ext, False)
        records.append(
            base.combine(
                PROVIDER, lid, [leg], direction="in", from_raw=number, to_raw=ext, extension=ext
            )
        )

    created: list[int] = []
    for i in range(0, len(records), 5000):
        created += ingest(records[i : i + 5000], source_name="demo generator").created_ids
    never = list(
        Call.objects.filter(
            provider=PROVIDER, client_number__in=never_returned_numbers, callback__isnull=True
        ).values_list("pk", flat=True)
    )
    ctx.planted["missed_calls_not_returned"] = sorted(
        set(ctx.planted.get("missed_calls_not_returned", [])) | set(never)
    )
    _recordings(ctx, rng)
    ctx.notes.append(
        f"telephony: {len(created)} calls, {len(never)} missed calls never returned, "
        f"{Recording.objects.filter(call__provider=PROVIDER).count()} recordings"
    )


def dates_local(moment: dt.datetime, tz) -> dt.date:
    return moment.astimezone(tz).date()


# --- synthesised recordings ---------------------------------------------------------


def _speech(
    rng: np.random.Generator, seconds: float, share: float, loud: float = 0.3
) -> np.ndarray:
    """Syllable-like bursts of voiced sound covering about ``share`` of the time."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n, dtype=np.float32)
    pos = 0
    while pos < n:
        burst = int(rng.uniform(0.4, 2.5) * RATE)
        gap = int(burst * (1 - share) / max(share, 0.05) * rng.uniform(0.5, 1.5))
        if rng.random() < share:
            end = min(pos + burst, n)
            f0 = rng.uniform(110, 220)
            seg = t[pos:end]
            voice = sum(np.sin(2 * np.pi * f0 * k * seg) / k for k in (1, 2, 3))
            env = np.abs(np.sin(np.pi * 4 * (seg - seg[0]))) ** 0.5
            out[pos:end] = loud * voice * env / 1.8
            pos = end + gap
        else:
            pos += gap or burst
    return out


def synth_wav(kind: str, seconds: float, seed: int) -> bytes:
    """A stereo 8 kHz WAV: ``talkative`` (manager speaks most), ``silent``, ``noisy`` or
    ``normal`` (turn-taking)."""
    import soundfile

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    if kind == "silent":
        left = rng.normal(0, 0.001, n)
        right = rng.normal(0, 0.001, n)
    elif kind == "noisy":
        left = _speech(rng, seconds, 0.4) + rng.normal(0, 0.12, n)
        right = _speech(rng, seconds, 0.4) + rng.normal(0, 0.12, n)
    else:
        mshare = 0.85 if kind == "talkative" else 0.45
        left = _speech(rng, seconds, mshare)
        right = _speech(rng, seconds, 1 - mshare)
        # turn-taking: the client mostly speaks when the manager does not
        right = np.where(np.abs(left) > 0.01, right * 0.1, right)
    stereo = np.clip(np.stack([left, right], axis=1), -1, 1).astype(np.float32)
    buf = io.BytesIO()
    soundfile.write(buf, stereo, RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _recordings(ctx, rng: random.Random) -> None:
    calls = list(
        Call.objects.filter(provider=PROVIDER, outcome="answered", recording__isnull=True)
        .order_by("-started_at")
        .values_list("pk", "manager__username")[:600]
    )
    if not calls:
        return
    sample = rng.sample(calls, min(RECORDINGS, len(calls)))
    kinds = ["normal", "talkative", "silent", "noisy"]
    planted_name = ctx.planted.get("activity_drop_manager")
    rows = []
    for i, (pk, username) in enumerate(sample):
        kind = "talkative" if username == planted_name and i % 2 == 0 else kinds[i % len(kinds)]
        rec = Recording(call_id=pk, content_type="audio/wav")
        data = synth_wav(kind, rng.uniform(3, 6), seed=rng.randrange(10**9))
        rows.append((rec, data, kind))
    for rec, data, _kind in rows:
        recordings.store_bytes(rec, data, "audio/wav")
    ctx.planted["recordings_by_kind"] = {
        kind: [rec.call_id for rec, _d, k in rows if k == kind] for kind in kinds
    }
