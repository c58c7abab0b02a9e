from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import may_change_crm
from funnelwatch.alerts.views import decorate
from funnelwatch.audit.trail import acting_as
from funnelwatch.core import params
from funnelwatch.core.paging import BoundedPaginator
from funnelwatch.crm import queries as crm
from funnelwatch.crm import services as crm_services
from funnelwatch.crm.services import DealError
from funnelwatch.handoffs import ami, feeds, metrics, services, weekly
from funnelwatch.handoffs.forms import ActionForm, NotificationForm, RequestForm, ReturnForm
from funnelwatch.handoffs.models import (
    OPEN_STATES,
    AgreedAction,
    ClickToCall,
    Department,
    Handoff,
    State,
)
from funnelwatch.handoffs.notify import choice_of
from funnelwatch.handoffs.queries import departments_of, requests_for
from funnelwatch.lib import phones
from funnelwatch.metrics import registry
from funnelwatch.reports import periods

LEADERS = (Role.HEAD, Role.TEAM_LEAD, Role.ADMIN)


def _back(request: HttpRequest, default: str, *args: object) -> HttpResponse:
    nxt = request.POST.get("next", "")
    if nxt.startswith("/") and not nxt.startswith("//"):
        return redirect(nxt)
    return redirect(default, *args)


def _form_errors(request: HttpRequest, form) -> None:
    for field, errs in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        messages.error(request, f"{label}: {' '.join(errs)}" if label else " ".join(errs))


# --- hand-off requests ------------------------------------------------------------------


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    state = params.text(request.GET, "state")
    if state and state not in State.values and state != "open":
        raise params.BadParameter("state", _("requested, taken, done, returned or open."))
    department_id = params.object_id(request.GET, "department")
    qs = requests_for(request.user).order_by("due_at" if state == "open" else "-created_at")
    if state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif state:
        qs = qs.filter(state=state)
    if department_id:
        qs = qs.filter(department_id=department_id)
    page = BoundedPaginator(qs, 50).get_page(request.GET.get("page"))
    now = timezone.now()
    for h in page:
        h.late = h.is_open and h.due_at < now
    return render(
        request,
        "handoffs/list.html",
        {
            "page": page,
            "state": state,
            "states": State.choices,
            "department_id": department_id,
            "departments": Department.objects.all(),
            "mine": departments_of(request.user),
        },
    )


@login_required
@require_GET
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = get_object_or_404(requests_for(request.user), pk=pk)
    works = services.may_work_on(request.user, handoff)
    return render(
        request,
        "handoffs/detail.html",
        {
            "h": handoff,
            "deal": handoff.deal,
            "may_work": works and handoff.is_open,
            "late": handoff.is_open and handoff.due_at < timezone.now(),
            "return_form": ReturnForm(),
            "history": _history(handoff),
        },
    )


def _history(handoff: Handoff) -> list:
    from funnelwatch.audit.trail import history

    return list(history(handoff)[:50])


@login_required
@require_POST
def request_create(request: HttpRequest, deal_pk: int) -> HttpResponse:
    if not may_change_crm(request.user):
        raise PermissionDenied
    deal = get_object_or_404(crm.deals_for(request.user), pk=deal_pk)
    form = RequestForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("crm:deal", pk=deal.pk)
    try:
        handoff = services.request(actor=request.user, deal=deal, **form.cleaned_data)
    except services.HandoffError as exc:
        if exc.forbidden:
            raise PermissionDenied from exc
        messages.error(request, exc.message)
        return redirect("crm:deal", pk=deal.pk)
    messages.success(
        request,
        _("Request sent to %(department)s, due %(due)s.")
        % {
            "department": handoff.department,
            "due": timezone.localtime(handoff.due_at).strftime("%Y-%m-%d %H:%M"),
        },
    )
    return redirect("crm:deal", pk=deal.pk)


@login_required
@require_POST
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    handoff = get_object_or_404(requests_for(request.user), pk=pk)
    if action not in ("take", "done", "return"):
        return HttpResponseNotAllowed(["POST"])
    if not services.may_work_on(request.user, handoff):
        raise PermissionDenied
    try:
        if action == "take":
            services.take(handoff, actor=request.user)
            messages.success(request, _("You have taken the request."))
        elif action == "done":
            services.finish(handoff, actor=request.user)
            messages.success(request, _("The request is done."))
        else:
            form = ReturnForm(request.POST)
            if not form.is_valid():
                _form_errors(request, form)
                return redirect("handoffs:detail", pk=handoff.pk)
            services.give_back(handoff, actor=request.user, reason=form.cleaned_data["reason"])
            messages.success(request, _("The request is returned to the requester."))
    except services.HandoffError as exc:
        if exc.forbidden:
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    return redirect("handoffs:detail", pk=handoff.pk)


# --- reaction-time KPIs ---------------------------------------------------------------------

KPI_FUNCS = (
    ("handoff_requests", metrics.requests_made, "sum"),
    ("handoff_take_minutes", metrics.take_minutes, "mean"),
    ("handoff_done_minutes", metrics.done_minutes, "mean"),
    ("handoff_within_sla", metrics.within_sla, "pct"),
    ("handoff_returns", metrics.returns, "sum"),
)
# The KPI page's column headings (the metrics' own labels are for the key numbers).
KPI_HEADINGS = (
    gettext_lazy("Requests"),
    gettext_lazy("Minutes to take"),
    gettext_lazy("Minutes to done"),
    gettext_lazy("Done in time"),
    gettext_lazy("Returned"),
)


def shown_kpi(value: float | None, how: str) -> str:
    if value is None:
        return "—"
    if how == "sum":
        return f"{value:.0f}"
    return f"{value:.1f}%" if how == "pct" else f"{value:.1f}"


def kpi_values(period, credit: str, ids: set[int] | None = None) -> dict[int, dict[str, float]]:
    """{department or person id: {metric key: value over the period}}, from the metrics'
    own definitions credited to ``credit`` ("department" or "taker")."""
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for key, func, how in KPI_FUNCS:
        sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        for point in func(period, ids, credit):
            sums[point.manager_id][0] += float(point.value)
            sums[point.manager_id][1] += float(point.weight)
        for who, (value, weight) in sums.items():
            if how == "sum":
                out[who][key] = value
            elif weight:
                out[who][key] = round(value / weight * (100 if how == "pct" else 1), 1)
    return out


@login_required
def kpis(request: HttpRequest) -> HttpResponse:
    choice = periods.from_query(request.GET)
    user = request.user
    departments = list(Department.objects.prefetch_related("members").select_related("head"))
    if user.role == Role.DEPARTMENT and not user.is_superuser:
        own = set(departments_of(user).values_list("pk", flat=True))
        departments = [d for d in departments if d.pk in own]
    by_department = kpi_values(choice.period, "department", {d.pk for d in departments})
    people_ids = {u.pk for d in departments for u in d.members.all()} | {
        d.head_id for d in departments if d.head_id
    }
    by_person = kpi_values(choice.period, "taker", people_ids)
    now = timezone.now()
    open_now = defaultdict(lambda: [0, 0])
    for dept_id, due_at in Handoff.objects.filter(
        state__in=OPEN_STATES, department__in=departments
    ).values_list("department_id", "due_at"):
        open_now[dept_id][0] += 1
        open_now[dept_id][1] += due_at < now
    keys = [key for key, _f, _h in KPI_FUNCS]
    hows = [how for _k, _f, how in KPI_FUNCS]

    def cells(values: dict) -> list[str]:
        return [shown_kpi(values.get(k), how) for k, how in zip(keys, hows, strict=True)]

    rows = []
    for d in departments:
        rows.append(
            {
                "department": d,
                "values": cells(by_department.get(d.pk, {})),
                "open": open_now[d.pk][0],
                "late": open_now[d.pk][1],
                "people": [
                    (u, cells(by_person.get(u.pk, {})))
                    for u in User.objects.filter(
                        pk__in={m.pk for m in d.members.all()} | {d.head_id}
                    )
                ],
            }
        )
    return render(
        request,
        "handoffs/kpis.html",
        {
            "choice": choice,
            "kinds": periods.KINDS,
            "rows": rows,
            "labels": list(zip(KPI_HEADINGS, [registry.get(k).label for k in keys], strict=True)),
        },
    )


# --- click-to-call ------------------------------------------------------------------------


@login_required
@require_POST
def dial(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Ask the PBX to ring the manager's extension, then the client."""
    if not may_change_crm(request.user):
        raise PermissionDenied
    if kind == "contact":
        contact = get_object_or_404(crm.contacts_for(request.user), pk=pk)
        deal = None
        back = ("crm:contact", contact.pk)
    elif kind == "deal":
        deal = get_object_or_404(crm.deals_for(request.user), pk=pk)
        contact = deal.contact
        back = ("crm:deal", deal.pk)
    else:
        raise Http404
    numbers = list(contact.phones.values_list("number", flat=True)) if contact else []
    wanted = params.text(request.POST, "number")
    if wanted:
        wanted = phones.normalize_or_none(wanted, settings.FUNNELWATCH_PHONE_REGION)
        if wanted is None or wanted not in numbers:
            messages.error(request, _("That number is not the contact's."))
            return redirect(*back)
        numbers = [wanted]
    extension = request.user.extensions.values_list("number", flat=True).first()
    if not numbers:
        messages.error(request, _("The contact has no phone number."))
        return redirect(*back)
    if not extension:
        messages.error(request, _("You have no phone extension to ring."))
        return redirect(*back)
    try:
        note = ami.originate(extension, numbers[0])
        status, error = ClickToCall.Status.QUEUED, ""
    except ami.AmiError as exc:
        status, error, note = ClickToCall.Status.FAILED, str(exc)[:500], ""
    with transaction.atomic(), acting_as(request.user):
        ClickToCall.objects.create(
            user=request.user,
            contact=contact,
            deal=deal,
            extension=extension,
            number=numbers[0],
            status=status,
            error=error,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request,
            _("Your phone (%(ext)s) will ring, then %(number)s. %(note)s")
            % {"ext": extension, "number": numbers[0], "note": note},
        )
    return redirect(*back)


# --- the week and the calendar --------------------------------------------------------------


def _require_leader(request: HttpRequest) -> None:
    if not (request.user.is_superuser or request.user.role in LEADERS):
        raise PermissionDenied


def _week(request: HttpRequest):
    day = params.day(request.GET, "week") or params.day(request.POST, "week")
    return weekly.monday_of(day) if day else weekly.this_week()


@login_required
@require_GET
def week(request: HttpRequest) -> HttpResponse:
    _require_leader(request)
    page = weekly.build(request.user, _week(request))
    decorate(page.alerts)
    return render(
        request,
        "handoffs/week.html",
        {"page": page, "form": ActionForm(user=request.user), "weekly": True},
    )


@login_required
@require_POST
def week_action(request: HttpRequest) -> HttpResponse:
    _require_leader(request)
    monday = _week(request)
    form = ActionForm(request.POST, user=request.user)
    if not form.is_valid():
        _form_errors(request, form)
    else:
        data = form.cleaned_data
        try:
            with transaction.atomic():
                task = crm_services.create_task(
                    actor=request.user,
                    title=data["title"],
                    assignee=data["assignee"],
                    due_at=data["due_at"],
                    kind="other",
                )
                with acting_as(request.user):
                    AgreedAction.objects.create(week=monday, task=task, author=request.user)
            messages.success(request, _("Agreed: a task for %(who)s.") % {"who": data["assignee"]})
        except DealError as exc:
            messages.error(request, exc.message)
    return redirect(f"{_url('calendar:week')}?week={monday.isoformat()}")


def _url(name: str) -> str:
    from django.urls import reverse

    return reverse(name)


@login_required
@require_GET
def me(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "handoffs/me.html",
        {
            "feed_url": feeds.feed_url(request.user),
            "form": NotificationForm(instance=choice_of(request.user)),
        },
    )


@login_required
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    feeds.revoke(request.user, actor=request.user)
    messages.success(request, _("The old calendar address no longer works; here is the new one."))
    return redirect("calendar:me")


@login_required
@require_POST
def notifications(request: HttpRequest) -> HttpResponse:
    form = NotificationForm(request.POST, instance=choice_of(request.user))
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("calendar:me")
    with transaction.atomic(), acting_as(request.user):
        choice = form.save(commit=False)
        choice.user = request.user
        choice.save()
    messages.success(request, _("Saved."))
    return redirect("calendar:me")


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The calendar itself: no session, the secret address is the key."""
    user = feeds.user_for_token(token)
    if user is None:
        raise Http404
    response = HttpResponse(feeds.build(user), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="funnelwatch.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response
