"""Read side of the metrics pages, API, exports: the key-numbers table and drill-downs.

Everything is narrowed by :mod:`funnelwatch.accounts.visibility`: the head sees every
manager, a team lead the team, a manager their own row plus their team's totals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, QuerySet, prefetch_related_objects

from funnelwatch.accounts.models import Role, Team, User
from funnelwatch.accounts.visibility import visible_user_ids
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, registry
from funnelwatch.metrics.registry import Metric

SELLER_ROLES = (Role.MANAGER, Role.TEAM_LEAD)
BASELINE_DAYS = 28


@dataclass
class Cell:
    value: object
    previous: object = None
    baseline: object = None
    tone: str = ""  # "good", "bad" or ""
    baseline_tone: str = ""
    z: float | None = None  # robust deviations from the row's own usual (reports.trends)

    @property
    def change(self) -> object:
        return _delta(self.value, self.previous)

    @property
    def vs_baseline(self) -> object:
        return _delta(self.value, self.baseline)


@dataclass
class Row:
    kind: str  # "manager", "team" or "total"
    label: str
    user: User | None = None
    team: Team | None = None
    cells: dict[str, Cell] = field(default_factory=dict)
    members: set[int] | None = None


@dataclass
class KeyNumbers:
    period: Period
    metrics: list[Metric]
    rows: list[Row]

    @property
    def blocks(self) -> list[tuple[str, list[Metric]]]:
        out: list[tuple[str, list[Metric]]] = []
        for m in self.metrics:
            if not out or out[-1][0] != m.block:
                out.append((m.block, []))
            out[-1][1].append(m)
        return out


def _exact(value: object) -> Decimal:
    """``Decimal(str(value))`` without the round trip where it changes nothing."""
    if isinstance(value, Decimal):
        return value
    if type(value) is int:
        return Decimal(value)
    return Decimal(str(value))


def _delta(a: object, b: object) -> object:
    if a is None or b is None:
        return None
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return _exact(a) - _exact(b)
    return round(a - b, 4)


def tone(metric: Metric, value: object, other: object) -> str:
    change = _delta(value, other)
    if change is None or change == 0 or metric.good == "none":
        return ""
    return "good" if (change > 0) == (metric.good == "up") else "bad"


def pick_metrics(keys: list[str] | None) -> list[Metric]:
    """The requested metrics in catalogue order; unknown keys raise KeyError."""
    if not keys:
        return registry.all_metrics()
    wanted = {registry.get(k).key for k in keys}
    return [m for m in registry.all_metrics() if m.key in wanted]


def sellers(viewer: User | None) -> QuerySet[User]:
    """Managers (and team leads) whose rows ``viewer`` may see; None: everyone."""
    qs = User.objects.filter(is_active=True, role__in=SELLER_ROLES).select_related("team")
    ids = visible_user_ids(viewer) if viewer is not None else None
    return qs if ids is None else qs.filter(pk__in=ids)


def _groups(viewer: User | None, by: str) -> list[Row]:
    everyone = viewer is None or viewer.sees_everything
    # Managers without a team last, on every database (SQLite and PostgreSQL sort NULLs
    # differently).
    users = list(
        sellers(viewer).order_by(F("team__name").asc(nulls_last=True), "first_name", "username")
    )
    rows: list[Row] = []
    if by == "manager":
        rows += [Row("manager", str(u), user=u, team=u.team, members={u.pk}) for u in users]
    if everyone:
        teams = Team.objects.all()
    elif viewer.role == Role.TEAM_LEAD:
        teams = Team.objects.filter(pk__in={u.team_id for u in users if u.team_id})
    else:
        teams = Team.objects.filter(pk=viewer.team_id)
    members: dict[int, set[int]] = {}
    if by in ("manager", "team") or not everyone:
        for uid, tid in User.objects.filter(
            is_active=True, role__in=SELLER_ROLES, team__in=teams
        ).values_list("pk", "team_id"):
            members.setdefault(tid, set()).add(uid)
    if by in ("manager", "team"):
        rows += [Row("team", str(t), team=t, members=members.get(t.pk, set())) for t in teams]
    if everyone:
        rows.append(Row("total", "", members=None))
    elif by == "none":
        # The department row of someone who may not see the department: everything they
        # may see as one row (a team lead's teams, a manager's team, or only themselves).
        scope = {u.pk for u in users}.union(*members.values())
        label = ", ".join(str(t) for t in teams) or str(viewer)
        rows.append(Row("total", label, members=scope))
    return rows


def key_numbers(
    viewer: User | None,
    period: Period,
    by: str = "manager",
    metrics: list[str] | None = None,
    source: str = "rollup",
    compare: bool = True,
    only: int | None = None,
    previous: Period | None = None,
) -> KeyNumbers:
    """Managers × metrics for ``period``, with the change against the previous period and
    against each row's own 4-week baseline (sums scaled to the period's length).

    ``previous``: the period to compare with (the one just before by default; a page
    passes the like-for-like one, see ``periods.Choice.previous``).

    ``only``: just that manager's row, if the viewer may see it. Its numbers are read for
    that manager alone, except the "now" metrics: those are computed for everyone the
    full table covers, as the full table computes them (a letter left unanswered, for
    one, is found through threads of any of them).
    """
    chosen = pick_metrics(metrics)
    keys = [m.key for m in chosen]
    rows = _groups(viewer, by)
    live_scope: dict[str, set[int] | None] = {}
    if only is not None:
        members = [row.members for row in rows]
        live_scope["scope"] = None if None in members else set().union(*members)
        rows = [r for r in rows if r.kind == "manager" and r.user.pk == only]
        if not rows:  # not a manager the viewer may see: nothing to read
            return KeyNumbers(period, chosen, [])
    groups = {i: row.members for i, row in enumerate(rows)}
    prev = base = None
    with engine.memoized():
        live = [m.key for m in chosen if m.kind == "live"]
        if live_scope and live:
            now = engine.group_values([k for k in keys if k not in live], period, groups, source)
            also = engine.group_values(live, period, {**groups, **live_scope}, source)
            for i in groups:
                now[i].update(also[i])
        else:
            now = engine.group_values(keys, period, groups, source)
        if compare:
            comparable = [m.key for m in chosen if m.kind != "live"]
            prev = engine.group_values(comparable, previous or period.previous(), groups, source)
            window = Period(period.start - dt.timedelta(days=BASELINE_DAYS), period.start)
            rolled = [m.key for m in chosen if m.rolled]
            base = engine.group_values(rolled, window, groups, source)
    scale = Decimal(period.days) / BASELINE_DAYS
    for i, row in enumerate(rows):
        for m in chosen:
            cell = Cell(now[i][m.key])
            if prev is not None and m.key in prev[i]:
                cell.previous = prev[i][m.key]
                cell.tone = tone(m, cell.value, cell.previous)
            if base is not None and m.key in base[i]:
                b = base[i][m.key]
                if m.kind == "sum" and b is not None:
                    b = _exact(b) * scale
                    b = b.quantize(Decimal("0.01")) if m.unit == "money" else round(float(b), 2)
                cell.baseline = b
                cell.baseline_tone = tone(m, cell.value, b)
            row.cells[m.key] = cell
    return KeyNumbers(period, chosen, rows)


def drill_ids(viewer: User, manager_id: int | None, team_id: int | None) -> set[int] | None:
    """Managers whose records a drill-down may list: never more than the viewer may see."""
    visible = visible_user_ids(viewer)
    if manager_id is not None:
        wanted: set[int] | None = {manager_id}
    elif team_id is not None:
        wanted = set(User.objects.filter(team_id=team_id).values_list("pk", flat=True))
    else:
        wanted = None
    if visible is None:
        return wanted
    return visible if wanted is None else wanted & visible


def records(metric: Metric, period: Period, ids: set[int] | None, limit: int = 500) -> list:
    if metric.records is None:
        return []
    found = metric.records(period, ids)
    return list(found[:limit])


def drill_lines(found: list) -> list[dict]:
    """The drill-down's lines: what each record is, the deal and the person, the time of
    the event the number counted, and a link to the record (see ``RecordShape``)."""
    by_model: dict[type, list] = {}
    for obj in found:
        by_model.setdefault(type(obj), []).append(obj)
    for model, objs in by_model.items():
        shape = registry.shape_of(model)
        if shape is not None and shape.related:
            prefetch_related_objects(objs, *shape.related)
    lines = [_line(obj) for obj in found]
    # A person given by id (an annotation such as the owner when a stay ended).
    ids = {line["who"] for line in lines if isinstance(line["who"], int)}
    if ids:
        people = User.objects.in_bulk(ids)
        for line in lines:
            if isinstance(line["who"], int):
                line["who"] = people.get(line["who"])
    return lines


def _line(obj: object) -> dict:
    shape = registry.shape_of(type(obj))
    if shape is None:
        return _guessed_line(obj)
    return {
        "obj": obj,
        "kind": obj._meta.verbose_name,
        "label": shape.label(obj) if shape.label else obj,
        "url": shape.link(obj) if shape.link else None,
        "deal": registry.attr(obj, shape.deal) if shape.deal is not None else None,
        "contact": registry.attr(obj, shape.contact) if shape.contact is not None else None,
        "when": _first(obj, shape.when),
        "who": _first(obj, shape.who),
        "detail": shape.detail(obj) if shape.detail else "",
    }


def _first(obj: object, paths: str | tuple[str, ...] | None) -> object:
    """The value at the first of ``paths`` that is set."""
    for path in (paths,) if isinstance(paths, str) else paths or ():
        value = registry.attr(obj, path)
        if value is not None:
            return value
    return None


def _guessed_line(obj: object) -> dict:
    """A record no app described: its usual fields, where it has them."""

    def first(*names: str) -> object:
        return next((v for n in names if (v := getattr(obj, n, None)) is not None), None)

    return {
        "obj": obj,
        "kind": obj._meta.verbose_name,
        "label": obj,
        "url": None,
        "deal": getattr(obj, "deal", None),
        "contact": getattr(obj, "contact", None),
        "when": first("at", "sent_at", "started_at", "held_at", "done_at", "created_at"),
        "who": first("owner", "manager", "actor", "assignee", "author"),
        "detail": "",
    }


def as_json(table: KeyNumbers) -> dict:
    """The shape the API and ``funnelwatch metrics`` print (``to`` exclusive)."""

    def plain(value: object) -> object:
        return str(value) if isinstance(value, Decimal) else value

    rows, totals = [], {}
    for row in table.rows:
        values = {k: plain(c.value) for k, c in row.cells.items()}
        if row.kind == "total":
            totals = values
        elif row.kind == "manager":
            rows.append(
                {
                    "manager": row.user.username,
                    "team": row.team and row.team.name,
                    "metrics": values,
                }
            )
        else:
            rows.append({"manager": None, "team": row.label, "metrics": values})
    return {
        "from": table.period.start.isoformat(),
        "to": table.period.end.isoformat(),
        "rows": rows,
        "totals": totals,
    }
