"""A realistic department of a given size, written in bulk, deterministic by seed.

Sizes (KPI rates per manager and working day are those of a busy call-centre team:
about 29 new deals, 134 calls and 57 e-mails):

- S: 10 managers, 6 months;  M: 50 managers, 1 year;  L: 200 managers, 1 year
  (about 1.5 million deals, 5 million stage changes, 7 million calls, 3 million e-mails).

Everything the product's metrics read is generated: users and teams, contacts with
phones, deals with their stage and owner histories, proposals, meetings, tasks, the audit
events behind ``crm_actions``, calls, and e-mails when the mail app is installed. Rows go
straight to the tables (COPY on PostgreSQL, executemany on SQLite); ids are assigned
here so children can point at their parents without reading anything back.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from django.apps import apps
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction

from bench.load import bulk_load, insert, reset_sequences


@dataclass(frozen=True)
class Size:
    managers: int
    days: int


SIZES = {"S": Size(10, 183), "M": Size(50, 365), "L": Size(200, 365), "XS": Size(4, 30)}
DEALS_PER_DAY = 28.7
CALLS_PER_DAY = 134.0
EMAILS_PER_DAY = 57.0
CHUNK = 50_000
STAGES = [  # name, block, outcome, norm days, mean days spent
    ("New lead", "intake", "open", 1, 0.3),
    ("Qualified", "intake", "open", 3, 1.0),
    ("Proposal prepared", "proposal", "open", 3, 1.5),
    ("Proposal sent", "proposal", "open", 5, 2.0),
    ("Negotiation", "objections", "open", 7, 3.0),
    ("Contract and invoice", "closing", "open", 5, 4.0),
    ("Won", "closing", "won", None, 0),
    ("Lost", "closing", "lost", None, 0),
    ("Junk", "intake", "junk", None, 0),
]
GO_ON = [0.9, 0.85, 0.85, 0.8, 0.7, 0.75]  # chance to move on from each open stage


@dataclass
class World:
    managers: np.ndarray  # user ids
    teams: dict[int, int]
    stage_ids: list[int]
    pipeline_id: int
    lost_reason_ids: list[int]
    junk_reason_ids: list[int]
    source_ids: list[int]
    start: dt.date
    end: dt.date
    day_starts: np.ndarray  # epoch seconds of each working day's 09:00 local
    counts: dict[str, int]


def _ts(epochs: np.ndarray) -> list[str | None]:
    """Epoch seconds -> the text both databases accept for an aware UTC timestamp."""
    text = np.datetime_as_string(epochs.astype("datetime64[s]"), unit="s")
    suffix = "+00:00" if connection.vendor == "postgresql" else ""
    return [f"{t[:10]} {t[11:]}{suffix}" for t in text.tolist()]


def _defaults(model: type[models.Model], given: list[str]) -> tuple[list[str], tuple]:
    """Values for the model's remaining columns: their defaults, '' or NULL."""
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.attname in given or field.name in given:
            continue
        if field.has_default() and not callable(field.default):
            value = field.default
            if isinstance(field, models.JSONField):
                import json

                value = json.dumps(value)
        elif field.null:
            value = None
        elif isinstance(field, models.CharField | models.TextField):
            value = ""
        elif isinstance(field, models.JSONField):
            value = "{}"
        else:
            raise ValueError(f"bench generator gives no value for {model.__name__}.{field.name}")
        names.append(field.attname)
        values.append(value)
    return names, tuple(values)


def _rows(model, given: list[str], columns: list[list]) -> tuple[list[str], Iterator[tuple]]:
    extra_names, extra = _defaults(model, given)
    return given + extra_names, (tuple(r) + extra for r in zip(*columns, strict=True))


def _put(model, given: list[str], columns: list[list]) -> int:
    names, rows = _rows(model, given, columns)
    return insert(model, names, rows)


def setup_people(size: Size, rng: np.random.Generator, end: dt.date) -> World:
    from funnelwatch.accounts.models import Role, Team, User
    from funnelwatch.crm.models import JunkReason, LeadSource, LostReason, Pipeline, Stage

    hashed = make_password("bench")
    User.objects.create(
        username="head", password=hashed, role=Role.HEAD, is_superuser=True, is_staff=True
    )
    teams = [Team.objects.create(name=f"Team {i + 1}") for i in range(max(1, size.managers // 10))]
    managers, team_of = [], {}
    for i in range(size.managers):
        team = teams[i % len(teams)]
        user = User.objects.create(
            username=f"m{i:03d}",
            password=hashed,
            role=Role.MANAGER,
            team=team,
            first_name=f"Manager {i:03d}",
        )
        managers.append(user.pk)
        team_of[user.pk] = team.pk
    pipeline = Pipeline.objects.create(name="Sales", is_default=True)
    stage_ids = [
        Stage.objects.create(
            pipeline=pipeline, name=n, position=i, block=b, outcome=o, norm_days=norm
        ).pk
        for i, (n, b, o, norm, _) in enumerate(STAGES, start=1)
    ]
    start = end - dt.timedelta(days=size.days)
    tz = ZoneInfo(settings.TIME_ZONE)
    days = [start + dt.timedelta(days=i) for i in range(size.days)]
    work = [d for d in days if d.weekday() < 5]
    day_starts = np.array(
        [int(dt.datetime.combine(d, dt.time(9), tzinfo=tz).timestamp()) for d in work],
        dtype=np.int64,
    )
    return World(
        managers=np.array(managers, dtype=np.int64),
        teams=team_of,
        stage_ids=stage_ids,
        pipeline_id=pipeline.pk,
        lost_reason_ids=[
            LostReason.objects.create(name=f"Reason {i}", revivable=i % 2 == 0).pk for i in range(6)
        ],
        junk_reason_ids=[JunkReason.objects.create(name=f"Junk {i}").pk for i in range(4)],
        source_ids=[LeadSource.objects.create(name=f"Source {i}").pk for i in range(6)],
        start=start,
        end=end,
        day_starts=day_starts,
        counts={},
    )


def _work_moments(rng: np.random.Generator, world: World, n: int) -> np.ndarray:
    day = rng.integers(0, len(world.day_starts), n)
    return world.day_starts[day] + rng.integers(0, 9 * 3600, n)


def generate_deals(world: World, rng: np.random.Generator, total: int) -> None:
    """Deals with contacts, phones, stage and owner history, proposals, tasks, audit."""
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.crm import models as crm

    end_epoch = int(world.day_starts[-1]) + 15 * 3600
    next_id = {"deal": 1, "stage": 1}
    for offset in range(0, total, CHUNK):
        n = min(CHUNK, total - offset)
        ids = np.arange(offset + 1, offset + n + 1)
        owners = world.managers[rng.integers(0, len(world.managers), n)]
        created = np.sort(_work_moments(rng, world, n))
        amounts = np.round(np.exp(rng.normal(15.2, 0.8, n)), -3)
        junk = rng.random(n) < 0.14
        stays = rng.exponential(1.0, (n, 6)) * np.array([s[4] for s in STAGES[:6]]) * 86400
        go_on = rng.random((n, 6)) < np.array(GO_ON)
        deals, changes, proposals, tasks = [], [], [], []
        for i in range(n):
            deal_id, owner, t = int(ids[i]), int(owners[i]), int(created[i])
            level, status, closed = 0, "open", None
            path = [(world.stage_ids[0], t)]
            if junk[i]:
                t2 = t + int(stays[i, 0])
                if t2 < end_epoch:
                    status, closed = "junk", t2
                    path.append((world.stage_ids[8], t2))
            else:
                while True:
                    t2 = t + int(stays[i, level])
                    if t2 >= end_epoch:
                        break
                    if not go_on[i, level]:
                        status, closed = "lost", t2
                        path.append((world.stage_ids[7], t2))
                        break
                    t = t2
                    if level == 5:
                        status, closed = "won", t
                        path.append((world.stage_ids[6], t))
                        break
                    level += 1
                    path.append((world.stage_ids[level], t))
                    if level == 3:
                        proposals.append((deal_id, owner, float(amounts[i]), t))
            stage_id, entered = path[-1]
            deals.append(
                (
                    deal_id,
                    owner,
                    float(amounts[i]),
                    status,
                    int(created[i]),
                    closed,
                    stage_id,
                    entered,
                )
            )
            prev = None
            for k, (sid, at) in enumerate(path):
                left = path[k + 1][1] if k + 1 < len(path) else None
                changes.append((deal_id, prev, sid, at, left, owner))
                prev = sid
            tasks.append(
                (
                    deal_id,
                    owner,
                    int(created[i]),
                    int(created[i]) + 7200,
                    int(created[i]) + int(rng.integers(600, 20000)),
                )
            )
        _write_chunk(world, rng, deals, changes, proposals, tasks, crm, AuditEvent)
        next_id["deal"] = offset + n + 1
    reset_sequences(
        crm.Contact,
        crm.ContactPhone,
        crm.Deal,
        crm.StageChange,
        crm.OwnerChange,
        crm.Proposal,
        crm.Task,
    )


def _write_chunk(world, rng, deals, changes, proposals, tasks, crm, AuditEvent):
    n = len(deals)
    ids = [d[0] for d in deals]
    owners = [d[1] for d in deals]
    created = np.array([d[4] for d in deals], dtype=np.int64)
    created_s = _ts(created)
    phones = [f"+9768{d:07d}"[:12] for d in ids]
    c = world.counts
    c["contacts"] = c.get("contacts", 0) + _put(
        crm.Contact,
        ["id", "name", "owner_id", "created_at"],
        [ids, [f"Client {d}" for d in ids], owners, created_s],
    )
    _put(crm.ContactPhone, ["id", "contact_id", "number"], [ids, ids, phones])
    closed = [d[5] for d in deals]
    closed_s = _ts(np.array([x or 0 for x in closed], dtype=np.int64))
    statuses = [d[3] for d in deals]
    lost = [int(rng.choice(world.lost_reason_ids)) if s == "lost" else None for s in statuses]
    junk = [int(rng.choice(world.junk_reason_ids)) if s == "junk" else None for s in statuses]
    amounts = [d[2] for d in deals]
    c["deals"] = c.get("deals", 0) + _put(
        crm.Deal,
        [
            "id",
            "title",
            "contact_id",
            "owner_id",
            "source_id",
            "amount",
            "cost",
            "currency",
            "pipeline_id",
            "stage_id",
            "status",
            "created_at",
            "closed_at",
            "stage_entered_at",
            "lost_reason_id",
            "junk_reason_id",
        ],
        [
            ids,
            [f"Deal {d}" for d in ids],
            ids,
            owners,
            [world.source_ids[d % len(world.source_ids)] for d in ids],
            amounts,
            [round(a * 0.62, 2) for a in amounts],
            [settings.FUNNELWATCH_CURRENCY] * n,
            [world.pipeline_id] * n,
            [d[6] for d in deals],
            statuses,
            created_s,
            [s if x else None for s, x in zip(closed_s, closed, strict=True)],
            _ts(np.array([d[7] for d in deals], dtype=np.int64)),
            lost,
            junk,
        ],
    )
    _put(
        crm.OwnerChange, ["deal_id", "to_owner_id", "at", "by_id"], [ids, owners, created_s, owners]
    )
    at_s = _ts(np.array([ch[3] for ch in changes], dtype=np.int64))
    left_s = _ts(np.array([ch[4] or 0 for ch in changes], dtype=np.int64))
    c["stage_changes"] = c.get("stage_changes", 0) + _put(
        crm.StageChange,
        ["deal_id", "from_stage_id", "to_stage_id", "at", "left_at", "by_id", "owner_id"],
        [
            [ch[0] for ch in changes],
            [ch[1] for ch in changes],
            [ch[2] for ch in changes],
            at_s,
            [s if ch[4] else None for s, ch in zip(left_s, changes, strict=True)],
            [ch[5] for ch in changes],
            [ch[5] for ch in changes],
        ],
    )
    if proposals:
        c["proposals"] = c.get("proposals", 0) + _put(
            crm.Proposal,
            ["deal_id", "author_id", "amount", "sent_at", "channel"],
            [
                [p[0] for p in proposals],
                [p[1] for p in proposals],
                [p[2] for p in proposals],
                _ts(np.array([p[3] for p in proposals], dtype=np.int64)),
                ["email"] * len(proposals),
            ],
        )
    task_ids = [t[0] for t in tasks]
    c["tasks"] = c.get("tasks", 0) + _put(
        crm.Task,
        [
            "id",
            "title",
            "kind",
            "author_id",
            "assignee_id",
            "due_at",
            "done_at",
            "deal_id",
            "contact_id",
            "created_at",
        ],
        [
            task_ids,
            ["First call"] * n,
            ["call"] * n,
            [t[1] for t in tasks],
            [t[1] for t in tasks],
            _ts(np.array([t[3] for t in tasks], dtype=np.int64)),
            _ts(np.array([t[4] for t in tasks], dtype=np.int64)),
            task_ids,
            task_ids,
            created_s,
        ],
    )
    # The audit events crm_actions counts: each deal created, each stage change, each task
    # done, at the time each took effect; linked into the audit chain like any other
    # events (recorded now, in this order).
    objs = (["crm.deal"] * len(changes)) + (["crm.task"] * n)
    acts = ["create" if ch[1] is None else "update" for ch in changes] + ["update"] * n
    oids = [str(ch[0]) for ch in changes] + [str(t) for t in task_ids]
    actors = [ch[5] for ch in changes] + [t[1] for t in tasks]
    epochs = [ch[3] for ch in changes] + [t[4] for t in tasks]
    when = at_s + _ts(np.array([t[4] for t in tasks], dtype=np.int64))
    c["audit_events"] = c.get("audit_events", 0) + _put_audit(
        AuditEvent, when, epochs, actors, acts, objs, oids
    )


def _put_audit(AuditEvent, when, epochs, actors, acts, objs, oids) -> int:
    """Audit rows through the chain (funnelwatch.audit.chain.seal_rows), which hashes the
    times as instants: the text ``_ts`` wrote is what gets inserted."""
    from funnelwatch.audit import chain

    utc = dt.UTC
    sealed = chain.seal_rows(
        [
            (dt.datetime.fromtimestamp(e, utc), a, "user", "", act, obj, oid, "", {})
            for e, a, act, obj, oid in zip(epochs, actors, acts, objs, oids, strict=True)
        ]
    )
    recorded = ""
    if sealed:  # to the microsecond, as hashed
        recorded = sealed[0][0].astimezone(utc).replace(tzinfo=None).isoformat(" ")
        recorded += "+00:00" if connection.vendor == "postgresql" else ""
    names = list(chain.SEALED_FIELDS)
    at_i, occurred_i, changes_i = (names.index(f) for f in ("at", "occurred_at", "changes"))
    rows = []
    for row, text in zip(sealed, when, strict=True):
        row = list(row)
        row[at_i], row[occurred_i], row[changes_i] = recorded, text, "{}"
        rows.append(tuple(row))
    return insert(AuditEvent, names, rows)


def generate_calls(world: World, rng: np.random.Generator, total: int, deals_total: int) -> None:
    """Calls between managers and their clients' numbers (when the telephony app exists)."""
    try:
        call_model = apps.get_model("telephony", "Call")
    except LookupError:
        return
    fields = {f.attname for f in call_model._meta.concrete_fields}
    for offset in range(0, total, CHUNK):
        n = min(CHUNK, total - offset)
        manager = world.managers[rng.integers(0, len(world.managers), n)]
        started = _work_moments(rng, world, n)
        outbound = rng.random(n) < 0.7
        answered = rng.random(n) < 0.62
        talk = np.where(answered, np.minimum(rng.lognormal(4.4, 0.9, n), 3600), 0).astype(int)
        ring = rng.integers(3, 30, n)
        contact = rng.integers(1, deals_total + 1, n)
        numbers = [f"+9768{d:07d}"[:12] for d in contact.tolist()]
        started_s = _ts(started)
        ended_s = _ts(started + ring + talk)
        answered_s = _ts(started + ring)
        ext = [f"1{m % 1000:03d}" for m in manager.tolist()]
        direction = np.where(outbound, "out", "in").tolist()
        outcome = np.where(answered, "answered", np.where(outbound, "no_answer", "missed")).tolist()
        cols = {
            "provider": ["bench"] * n,
            "external_id": [f"b{offset + i}" for i in range(n)],
            "correlation_id": [f"b{offset + i}" for i in range(n)],
            "direction": direction,
            "from_number": [
                e if o else num for e, o, num in zip(ext, outbound, numbers, strict=True)
            ],
            "to_number": [
                num if o else e for e, o, num in zip(ext, outbound, numbers, strict=True)
            ],
            "client_number": numbers,
            "manager_id": manager.tolist(),
            "contact_id": contact.tolist(),
            "started_at": started_s,
            "answered_at": [a if ok else None for a, ok in zip(answered_s, answered, strict=True)],
            "ended_at": ended_s,
            "duration_s": (ring + talk).tolist(),
            "talk_seconds": talk.tolist(),
            "outcome": outcome,
            "created_at": started_s,
        }
        cols = {k: v for k, v in cols.items() if k in fields}
        world.counts["calls"] = world.counts.get("calls", 0) + _put(
            call_model, list(cols), list(cols.values())
        )


def generate_emails(world: World, rng: np.random.Generator, total: int, deals_total: int) -> None:
    """E-mails on deals (when the mail app exists): see bench/mail_rows.py."""
    try:
        from bench.mail_rows import generate as generate_mail
    except ImportError:
        return
    world.counts["emails"] = generate_mail(world, rng, total, deals_total)


def generate(size_name: str, seed: int = 1, end: dt.date | None = None) -> dict:
    size = SIZES[size_name]
    rng = np.random.default_rng(seed)
    if connection.vendor == "sqlite":
        # A bulk load: a big page cache keeps index updates in memory; durability is not
        # needed while generating (a crash means generating again).
        with connection.cursor() as cur:
            cur.execute("PRAGMA cache_size = -2000000")
            cur.execute("PRAGMA synchronous = OFF")
    end = end or dt.date.today()
    with transaction.atomic():
        world = setup_people(size, rng, end)
    work_days = len(world.day_starts)
    manager_days = work_days * size.managers
    deals = int(math.ceil(manager_days * DEALS_PER_DAY))
    with bulk_load():
        with transaction.atomic():
            generate_deals(world, rng, deals)
        with transaction.atomic():
            generate_calls(world, rng, int(manager_days * CALLS_PER_DAY), deals)
        with transaction.atomic():
            generate_emails(world, rng, int(manager_days * EMAILS_PER_DAY), deals)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    else:
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    return {
        "managers": size.managers,
        "days": size.days,
        "from": str(world.start),
        "to": str(world.end),
        **world.counts,
    }
