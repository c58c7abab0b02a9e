from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from funnelwatch.accounts.models import Role, Team, User
from funnelwatch.accounts.visibility import can_see_user, visible_user_ids
from funnelwatch.core.params import BadParameter, object_id
from funnelwatch.lib.dates import Period
from funnelwatch.metrics import engine, registry
from funnelwatch.reports import exports, periods, queries, trends
from funnelwatch.reports.funnel import funnel as build_funnel

BLOCK_LABELS = {
    "intake": gettext_lazy("New leads"),
    "proposal": gettext_lazy("Proposals"),
    "objections": gettext_lazy("Objections"),
    "closing": gettext_lazy("Closing"),
    "daily": gettext_lazy("Daily control"),
    "tasks": gettext_lazy("Tasks"),
    "sales": gettext_lazy("Sales analysis"),
    "telephony": gettext_lazy("Telephony"),
    "quality": gettext_lazy("Call quality"),
    "mail": gettext_lazy("E-mail"),
    "handoffs": gettext_lazy("Hand-offs"),
}


def _period_query(choice: periods.Choice) -> str:
    return urlencode(
        {
            "period": "custom",
            "from": choice.period.start.isoformat(),
            "to": choice.last_day.isoformat(),
        }
    )


def _one_manager(request: HttpRequest) -> User | None:
    """?manager=N (the alerts link a manager's key numbers so): that manager, if the viewer
    may see them; None without the parameter; 404 for a manager the viewer may not see or
    that does not exist (400 for what is no id at all)."""
    pk = object_id(request.GET, "manager")
    if pk is None:
        return None
    if not can_see_user(request.user, pk):
        raise Http404(_("No such manager."))
    return get_object_or_404(User.objects.select_related("team"), pk=pk)


# The key-numbers page shows one set of columns at a time, chosen with tabs.
TABS = (
    ("intake", gettext_lazy("New leads"), ("intake",)),
    ("proposal", gettext_lazy("Proposals"), ("proposal",)),
    ("objections", gettext_lazy("Objections"), ("objections",)),
    ("closing", gettext_lazy("Closing"), ("closing",)),
    ("control", gettext_lazy("Control"), ("daily", "tasks")),
    ("sales", gettext_lazy("Sales analysis"), ("sales",)),
    ("telephony", gettext_lazy("Telephony"), ("telephony",)),
    ("mail", gettext_lazy("E-mail"), ("mail",)),
    ("quality", gettext_lazy("Call quality"), ("quality",)),
)
TAB_SESSION_KEY = "key_numbers_tab"


def _tab(request: HttpRequest, available: set[str]) -> str:
    """?block=, else the tab this person chose last (kept in their session), else the
    first; an unknown name is answered 400."""
    names = [name for name, _label, blocks in TABS if available & set(blocks)]
    wanted = request.GET.get("block")
    if wanted:
        if wanted not in names:
            raise BadParameter("block", _("one of: %(names)s.") % {"names": ", ".join(names)})
        request.session[TAB_SESSION_KEY] = wanted
        return wanted
    kept = request.session.get(TAB_SESSION_KEY)
    return kept if kept in names else (names[0] if names else "")


def _previous_label(choice: periods.Choice) -> str:
    prev = choice.previous
    return f"{prev.start.isoformat()} – {(prev.end - dt.timedelta(days=1)).isoformat()}"


def _sorted_rows(rows: list, key: str | None, descending: bool) -> list:
    """Managers sorted by one metric (undefined values last); team and total rows after."""
    managers = [r for r in rows if r.kind == "manager"]
    rest = [r for r in rows if r.kind != "manager"]
    if key:
        known = [r for r in managers if r.cells[key].value is not None]
        unknown = [r for r in managers if r.cells[key].value is None]
        known.sort(key=lambda r: float(r.cells[key].value), reverse=descending)
        managers = known + unknown
    return managers + rest


def _idle_lead(row: queries.Row) -> bool:
    """A team lead's own row with nothing in the columns shown: they lead, they do not
    sell."""
    return (
        row.kind == "manager"
        and row.user.role == Role.TEAM_LEAD
        and not any(c.value for c in row.cells.values())
    )


@login_required
def key_numbers(request: HttpRequest) -> HttpResponse:
    choice = periods.from_query(request.GET)
    by = request.GET.get("by", "manager")
    by = by if by in ("manager", "team", "none") else "manager"
    keys = [k for k in request.GET.get("metrics", "").split(",") if k] or None
    try:
        chosen = queries.pick_metrics(keys)
    except KeyError:
        raise Http404(_("Unknown metric.")) from None
    person = _one_manager(request)
    fmt = request.GET.get("format")
    exporting = fmt in ("csv", "xlsx")
    available = {m.block for m in chosen}
    tab = "" if exporting else _tab(request, available)
    if exporting:
        wanted = chosen  # a file holds every column
    else:
        # The page shows one tab's columns: only those are computed.
        blocks = next((b for name, _label, b in TABS if name == tab), ())
        wanted = [m for m in chosen if m.block in blocks] or chosen
    if person:
        by = "manager"
    table = queries.key_numbers(
        request.user,
        choice.period,
        by=by,
        metrics=[m.key for m in wanted],
        only=person.pk if person else None,
        previous=choice.previous,
    )
    scope_query = f"&manager={person.pk}" if person else ""
    if exporting:
        data = exports.to_csv(table) if fmt == "csv" else exports.to_xlsx(table)
        exports.audit_export(table, fmt, by)
        response = HttpResponse(data, content_type=exports.CONTENT_TYPES[fmt])
        who = f"-manager-{person.pk}" if person else ""
        name = f"key-numbers{who}-{choice.period.start}-{choice.last_day}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    shown = table.metrics
    sort = request.GET.get("sort") or None
    if sort is not None and sort not in {m.key for m in shown}:
        sort = None
    descending = request.GET.get("dir", "desc") != "asc"
    rows = [r for r in table.rows if not _idle_lead(r)]
    spark_metric = next((m for m in shown if m.key == sort), None) or next(
        (m for m in shown if m.rolled), None
    )
    _mark_large_changes(rows, shown, choice, spark_metric)
    rows = _sorted_rows(rows, sort, descending)
    base = {k: v for k, v in request.GET.items() if k not in ("sort", "dir", "block")}
    return render(
        request,
        "reports/key_numbers.html",
        {
            "table": table,
            "rows": rows,
            "shown": shown,
            "tabs": [(name, label) for name, label, b in TABS if available & set(b)],
            "tab": tab,
            "sort": sort,
            "descending": descending,
            "base_query": urlencode(base),
            "spark_metric": spark_metric,
            "z_large": trends.Z_LARGE,
            "choice": choice,
            "previous_label": _previous_label(choice),
            "by": by,
            "person": person,
            "scope_query": scope_query,
            "kinds": periods.KINDS,
            "period_query": _period_query(choice),
            "prev_date": (choice.period.start - dt.timedelta(days=1)).isoformat(),
            "next_date": choice.period.end.isoformat(),
        },
    )


def _mark_large_changes(rows: list, shown: list, choice: periods.Choice, spark) -> None:
    """Colour a manager's cell only when its value is far from their own usual (a robust
    z-score over the same windows of the last eight weeks, ``reports.trends``); give each
    manager row the sparkline of ``spark``: the eight windows and the period itself."""
    managers = [r for r in rows if r.kind == "manager"]
    for row in rows:
        for c in row.cells.values():
            c.tone, c.z = "", None
        row.spark = []
    rolled = [m for m in shown if m.rolled]
    if not managers or not rolled:
        return
    past = trends.history(rolled, choice.period, {r.user.pk: {r.user.pk} for r in managers})
    for row in managers:
        for m in rolled:
            c = row.cells[m.key]
            change = trends.large_change(m, c.value, past[row.user.pk][m.key])
            if change is not None:
                c.tone, c.z = change.tone, change.z
        if spark is not None:
            row.spark = [*past[row.user.pk][spark.key], row.cells[spark.key].value]


@login_required
def records(request: HttpRequest, key: str) -> HttpResponse:
    """The records behind one number; only records of managers the viewer may see."""
    try:
        metric = registry.get(key)
    except KeyError:
        raise Http404(_("Unknown metric.")) from None
    choice = periods.from_query(request.GET)
    manager_id, team_id = object_id(request.GET, "manager"), object_id(request.GET, "team")
    manager = team = None
    if manager_id is not None:
        if not can_see_user(request.user, manager_id):
            raise Http404(_("No such manager."))
        manager = get_object_or_404(User, pk=manager_id)
    elif team_id is not None:
        team = get_object_or_404(Team, pk=team_id)
        visible = visible_user_ids(request.user)
        if visible is not None and not team.members.filter(pk__in=visible).exists():
            raise Http404(_("No such team."))
    ids = queries.drill_ids(request.user, manager_id, team_id)
    rows = queries.records(metric, choice.period, ids)
    return render(
        request,
        "reports/records.html",
        {
            "metric": metric,
            "choice": choice,
            "manager": manager,
            "team": team,
            "rows": queries.drill_lines(rows),
            "limit_hit": len(rows) >= 500,
        },
    )


@login_required
def manager(request: HttpRequest, pk: int) -> HttpResponse:
    """One manager's trends, day by day and week by week."""
    if not can_see_user(request.user, pk):
        raise Http404(_("No such manager."))
    person = get_object_or_404(User, pk=pk)
    end = periods.today() + dt.timedelta(days=1)
    daily = Period(end - dt.timedelta(days=42), end)
    monday = end - dt.timedelta(days=end.weekday())
    weekly = Period(monday - dt.timedelta(days=7 * 12), monday + dt.timedelta(days=7))
    metrics = registry.rolled_metrics()
    keys = [m.key for m in metrics]
    days = engine.daily_series({pk}, keys, daily)
    weeks = engine.daily_series({pk}, keys, weekly, step=7)
    series = {
        m.key: {
            "label": str(m.label),
            "days": [[d.isoformat(), _num(v)] for d, v in days[m.key]],
            "weeks": [[d.isoformat(), _num(v)] for d, v in weeks[m.key]],
        }
        for m in metrics
    }
    week = periods.from_query({"period": "week"})
    table = queries.key_numbers(
        request.user, week.period, by="manager", only=pk, previous=week.previous
    )
    row = next((r for r in table.rows if r.user and r.user.pk == pk), None)
    return render(
        request,
        "reports/manager.html",
        {
            "person": person,
            "series": series,
            "metrics": metrics,
            "row": row,
            "table": table,
        },
    )


def _num(value: object) -> float | None:
    return None if value is None else float(value)


def _scope(request: HttpRequest) -> tuple[set[int] | None, User | None, Team | None]:
    """?manager= or ?team= narrowed to what the viewer may see."""
    manager_id, team_id = object_id(request.GET, "manager"), object_id(request.GET, "team")
    if manager_id is not None and not can_see_user(request.user, manager_id):
        raise Http404(_("No such manager."))
    ids = queries.drill_ids(request.user, manager_id, team_id)
    person = User.objects.filter(pk=manager_id).first() if manager_id else None
    team = Team.objects.filter(pk=team_id).first() if team_id else None
    return ids, person, team


@login_required
def funnel(request: HttpRequest) -> HttpResponse:
    choice = periods.from_query(request.GET, default="month")
    ids, person, team = _scope(request)
    result = build_funnel(choice.period, ids)
    chart = {
        "labels": [str(BLOCK_LABELS.get(b["step"], _("Won"))) for b in result.blocks],
        "values": [b["reached"] for b in result.blocks],
    }
    return render(
        request,
        "reports/funnel.html",
        {
            "funnel": result,
            "choice": choice,
            "kinds": periods.KINDS,
            "chart": chart,
            "block_labels": BLOCK_LABELS,
            "person": person,
            "team": team,
            "managers": queries.sellers(request.user),
            "teams": _teams(request.user),
        },
    )


def _teams(user: User):
    visible = visible_user_ids(user)
    teams = Team.objects.all()
    return teams if visible is None else teams.filter(members__in=visible).distinct()


@login_required
def sales(request: HttpRequest) -> HttpResponse:
    choice = periods.from_query(request.GET, default="month")
    keys = [m.key for m in registry.by_block("sales")]
    table = queries.key_numbers(request.user, choice.period, by="manager", metrics=keys)
    ids = visible_user_ids(request.user)
    step = 7 if choice.period.days > 62 else 1
    revenue = engine.daily_series(ids, ["revenue"], choice.period, step=step)["revenue"]
    chart = {
        "labels": [d.isoformat() for d, _v in revenue],
        "values": [_num(v) for _d, v in revenue],
    }
    return render(
        request,
        "reports/sales.html",
        {
            "table": table,
            "choice": choice,
            "kinds": periods.KINDS,
            "chart": chart,
            "period_query": _period_query(choice),
        },
    )
