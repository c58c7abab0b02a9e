"""What an alert says, in the reader's language, and the records it links to."""

from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from funnelwatch.alerts.models import Kind
from funnelwatch.core.templatetags.humanize_fw import working_minutes
from funnelwatch.metrics import registry


def metric_label(key: str) -> str:
    try:
        return str(registry.get(key).label)
    except KeyError:
        return key


def signed_pct(value: float) -> str:
    # A real minus sign, as people write it.
    return f"{'+' if value > 0 else '−' if value < 0 else ''}{abs(round(value))}%"


def number(value: float | int | str) -> str:
    value = float(value)
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def wait(minutes: object) -> str:
    """Working minutes as a wait people read: "3 days 4 h" (working days), not "1644"."""
    day_hours = settings.FUNNELWATCH_WORKDAY_END - settings.FUNNELWATCH_WORKDAY_START
    return working_minutes(float(minutes), day_hours)  # type: ignore[arg-type]


def days(count: object) -> str:
    """ "1 day", "5 days" (and the plural forms of Russian and Mongolian)."""
    n = int(count)  # type: ignore[call-overload]
    return ngettext("%(n)s day", "%(n)s days", n) % {"n": n}


def render(kind: str, n: dict) -> str:
    """The alert's sentence, with the numbers behind it."""
    if kind == Kind.ACTIVITY_DROP:
        return _(
            "%(metric)s %(value)s in the last %(days)s working days against a usual "
            "%(usual)s (%(change)s)"
        ) % {
            "metric": metric_label(n["metric"]),
            "value": number(n["value"]),
            "days": n["days"],
            "usual": number(n["usual"]),
            "change": signed_pct(n["change_pct"]),
        }
    if kind == Kind.STALLED_DEAL:
        return _("“%(title)s” has been in the stage “%(stage)s” for %(days)s (norm %(norm)s)") % {
            "title": n["title"],
            "stage": n["stage"],
            "days": days(n["days_in_stage"]),
            "norm": days(n["norm_days"]),
        }
    if kind == Kind.LEAD_NOT_CALLED:
        return _("Lead “%(title)s” not called for %(wait)s of working time (SLA %(sla)s)") % {
            "title": n["title"],
            "wait": wait(n["minutes"]),
            "sla": wait(n["sla_minutes"]),
        }
    if kind == Kind.MISSED_CALL_NOT_RETURNED:
        return _(
            "Missed call from %(number)s not returned: %(missed)s missed, waiting %(wait)s "
            "of working time since the first (SLA %(sla)s)"
        ) % {
            "number": n["number"],
            "missed": n["missed"],
            "wait": wait(n["minutes"]),
            "sla": wait(n["sla_minutes"]),
        }
    if kind == Kind.MEETING_WITHOUT_PROPOSAL:
        return _(
            "Meeting on “%(title)s” held %(days)s ago and no proposal since "
            "(expected within %(limit)s)"
        ) % {"title": n["title"], "days": days(n["days"]), "limit": days(n["limit_days"])}
    if kind == Kind.PLAN_AT_RISK:
        return _(
            "Plan at risk: %(needed)s a working day needed for %(days)s days, best recent "
            "pace %(best)s (plan %(plan)s, done %(fact)s)"
        ) % {
            "needed": number(n["needed_per_day"]),
            "days": n["days_left"],
            "best": number(n["best_per_day"]),
            "plan": number(n["plan"]),
            "fact": number(n["fact"]),
        }
    if kind == Kind.CRM_HYGIENE:
        return _(
            "%(deals)s open deals without a next step (allowed %(allowed_deals)s), "
            "%(tasks)s overdue tasks (allowed %(allowed_tasks)s)"
        ) % {
            "deals": n["deals_without_next_step"],
            "allowed_deals": n["allowed_deals"],
            "tasks": n["overdue_tasks"],
            "allowed_tasks": n["allowed_overdue"],
        }
    if kind == Kind.A_CLIENT_SLEEPING:
        return _(
            "A client “%(title)s” is sleeping: no win for %(days)s days, since %(last)s "
            "(%(revenue)s won in 12 months)"
        ) % {
            "title": n["title"],
            "days": n.get("days"),
            "last": n.get("last_win") or "—",
            "revenue": f"{float(n.get('revenue') or 0):,.0f}".replace(",", "\u202f"),
        }
    if kind == Kind.HANDOFF_OVERDUE:
        return _(
            "Request to %(department)s on “%(title)s” is past its due time by %(minutes)s "
            "working minutes (%(state)s)"
        ) % {
            "department": n["department"],
            "title": n["title"],
            "minutes": number(n["minutes_late"]),
            "state": _("taken") if n.get("state") == "taken" else _("not taken yet"),
        }
    return kind


def _url(name: str, *args: object) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def links(kind: str, n: dict, manager_id: int | None = None) -> list[tuple[str, str]]:
    """(label, url) of the records behind an alert."""
    out: list[tuple[str, str | None]] = []
    if n.get("deal"):
        out.append((n.get("title") or _("deal"), _url("crm:deal", n["deal"])))
    if kind == Kind.MISSED_CALL_NOT_RETURNED and n.get("call"):
        out.append((_("call"), _url("telephony:call", n["call"])))
    if kind == Kind.CRM_HYGIENE:
        out += [(f"#{pk}", _url("crm:deal", pk)) for pk in n.get("deal_ids", [])]
        if n.get("overdue_tasks"):
            out.append((_("tasks"), _url("crm:tasks")))
    if kind == Kind.HANDOFF_OVERDUE and n.get("handoff"):
        out.append((_("request"), _url("handoffs:detail", n["handoff"])))
    if kind == Kind.PLAN_AT_RISK:
        out.append((n.get("title") or _("plan"), _url("plans:list")))
    if kind == Kind.A_CLIENT_SLEEPING and n.get("company"):
        out.append((n.get("title") or _("company"), _url("clients:company", n["company"])))
    if kind == Kind.ACTIVITY_DROP and manager_id:
        url = _url("metrics:key_numbers")
        if url:
            out.append((_("key numbers"), f"{url}?manager={manager_id}"))
    return [(label, url) for label, url in out if url]
