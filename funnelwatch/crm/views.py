from __future__ import annotations

from collections.abc import Callable

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from funnelwatch.accounts.visibility import crm_writer_required, may_change_crm, visible_users
from funnelwatch.audit.trail import history
from funnelwatch.clients.filters import by_segment
from funnelwatch.core import params
from funnelwatch.core.paging import BoundedPaginator
from funnelwatch.crm import forms, queries, services
from funnelwatch.crm.models import Meeting, Note, Outcome, Pipeline, Proposal, Task
from funnelwatch.crm.services import DealError
from funnelwatch.crm.timeline import deal_timeline


def _pipeline(request: HttpRequest) -> Pipeline | None:
    pid = params.object_id(request.GET, "pipeline")
    pipelines = Pipeline.objects.all()
    return (pipelines.filter(pk=pid).first() if pid else None) or pipelines.first()


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    q = params.text(request.GET, "q")
    deals = queries.search_deals(request.user, q)
    status = request.GET.get("status", "open")
    if status in Outcome.values:
        deals = deals.filter(status=status)
    owner = params.object_id(request.GET, "owner")
    if owner is not None:
        deals = deals.filter(owner_id=owner)
    deals = by_segment(request.GET, deals)
    page = BoundedPaginator(deals.order_by("-created_at"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "crm/deal_list.html",
        {
            "page": page,
            "status": status,
            "statuses": Outcome.choices,
            "owners": visible_users(request.user),
            "q": q,
            "owner": str(owner or ""),
        },
    )


@login_required
def deal_board(request: HttpRequest) -> HttpResponse:
    pipeline = _pipeline(request)
    owner_id = params.object_id(request.GET, "owner")
    columns = queries.board(request.user, pipeline.pk, owner_id) if pipeline else []
    move_stages = [c["stage"] for c in columns]
    for column in columns:
        # Every card of a column is in the column's stage: one list of options serves all.
        column["move_options"] = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (s.pk, " selected" if s.pk == column["stage"].pk else "", s.name)
                for s in move_stages
            ),
        )
    return render(
        request,
        "crm/board.html",
        {
            "pipeline": pipeline,
            "pipelines": Pipeline.objects.all(),
            "columns": columns,
            "owners": visible_users(request.user),
            "owner": owner_id,
            "move_stages": move_stages,
        },
    )


@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = get_object_or_404(
        queries.deals_for(request.user).select_related(
            "stage", "owner", "contact", "company", "source", "lost_reason", "junk_reason"
        ),
        pk=pk,
    )
    user = request.user
    return render(
        request,
        "crm/deal_detail.html",
        {
            "deal": deal,
            "timeline": deal_timeline(deal, user),
            "stage_history": queries.stage_durations(deal),
            "open_stages": deal.pipeline.stages.filter(outcome=Outcome.OPEN),
            "forms": {
                "move": forms.MoveForm(initial={"stage": deal.stage_id}),
                "win": forms.WinForm(),
                "lose": forms.LoseForm(),
                "junk": forms.JunkForm(),
                "reassign": forms.ReassignForm(user=user),
                "note": forms.NoteForm(),
                "proposal": forms.ProposalForm(initial={"amount": deal.amount}),
                "meeting": forms.MeetingForm(),
                "task": forms.TaskForm(user=user, initial={"assignee": deal.owner_id}),
                "letter": _letter_form(deal) if may_change_crm(user) else None,
            },
        },
    )


def _letter_form(deal):
    """The form to write to the client from the deal page (the mail app sends it)."""
    if not apps.is_installed("funnelwatch.mail"):
        return None
    from funnelwatch.mail.forms import SendForm

    to = deal.contact.emails.values_list("email", flat=True).first() if deal.contact else ""
    return SendForm(initial={"to": to or "", "subject": deal.title})


@login_required
@crm_writer_required
def deal_create(request: HttpRequest) -> HttpResponse:
    form = forms.LeadForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            contact = None
            if data["contact_name"] or data["phone"] or data["email"]:
                contact = services.create_contact(
                    actor=request.user,
                    name=data["contact_name"] or data["title"],
                    owner=data["owner"],
                    company=data["company"],
                    phone_numbers=[data["phone"]] if data["phone"] else [],
                    emails=[data["email"]] if data["email"] else [],
                )
            deal = services.create_lead(
                actor=request.user,
                title=data["title"],
                owner=data["owner"],
                contact=contact,
                company=data["company"],
                source=data["source"],
                amount=data["amount"] or 0,
            )
        except DealError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Lead created."))
            return redirect("crm:deal", pk=deal.pk)
    return render(request, "crm/deal_form.html", {"form": form})


def _do_move(request, deal, data):
    return services.move_stage(deal, data["stage"], actor=request.user)


def _do_win(request, deal, data):
    return services.win(deal, actor=request.user, amount=data["amount"], cost=data["cost"])


def _do_lose(request, deal, data):
    return services.lose(deal, reason=data["reason"], comment=data["comment"], actor=request.user)


def _do_junk(request, deal, data):
    return services.mark_junk(
        deal, reason=data["reason"], comment=data["comment"], actor=request.user
    )


def _do_reopen(request, deal, data):
    return services.reopen(deal, actor=request.user)


def _do_reassign(request, deal, data):
    return services.reassign(deal, data["owner"], actor=request.user)


def _do_note(request, deal, data):
    return services.add_note(actor=request.user, text=data["text"], deal=deal)


def _do_proposal(request, deal, data):
    return services.send_proposal(
        deal,
        actor=request.user,
        amount=data["amount"],
        channel=data["channel"],
        comment=data["comment"],
    )


def _do_meeting(request, deal, data):
    return services.schedule_meeting(
        deal, actor=request.user, scheduled_at=data["scheduled_at"], place=data["place"]
    )


def _do_task(request, deal, data):
    return services.create_task(
        actor=request.user,
        title=data["title"],
        kind=data["kind"],
        assignee=data["assignee"],
        due_at=data["due_at"],
        deal=deal,
        contact=deal.contact,
    )


class _NoForm(forms.forms.Form):
    pass


# action name -> (form factory, service call, success message)
ACTIONS: dict[str, tuple[Callable, Callable, str]] = {
    "move": (lambda d, u: forms.MoveForm(d), _do_move, gettext_lazy("Stage changed.")),
    "win": (lambda d, u: forms.WinForm(d), _do_win, gettext_lazy("Deal won.")),
    "lose": (lambda d, u: forms.LoseForm(d), _do_lose, gettext_lazy("Deal marked as lost.")),
    "junk": (lambda d, u: forms.JunkForm(d), _do_junk, gettext_lazy("Lead marked as junk.")),
    "reopen": (lambda d, u: _NoForm(d), _do_reopen, gettext_lazy("Deal returned to the funnel.")),
    "reassign": (
        lambda d, u: forms.ReassignForm(d, user=u),
        _do_reassign,
        gettext_lazy("Deal re-assigned."),
    ),
    "note": (lambda d, u: forms.NoteForm(d), _do_note, gettext_lazy("Note added.")),
    "proposal": (
        lambda d, u: forms.ProposalForm(d),
        _do_proposal,
        gettext_lazy("Proposal recorded."),
    ),
    "meeting": (lambda d, u: forms.MeetingForm(d), _do_meeting, gettext_lazy("Meeting scheduled.")),
    "task": (lambda d, u: forms.TaskForm(d, user=u), _do_task, gettext_lazy("Task created.")),
}


@login_required
@require_POST
@crm_writer_required
def deal_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    deal = get_object_or_404(queries.deals_for(request.user), pk=pk)
    if action not in ACTIONS:
        return HttpResponseNotAllowed(["POST"])
    make_form, do, done = ACTIONS[action]
    form = make_form(request.POST, request.user)
    if not form.is_valid():
        for field, errs in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errs)}" if label else " ".join(errs))
    else:
        try:
            do(request, deal, form.cleaned_data)
            messages.success(request, done)
        except DealError as exc:
            messages.error(request, exc.message)
    nxt = request.POST.get("next", "")
    if nxt.startswith("/") and not nxt.startswith("//"):
        return redirect(nxt)
    return redirect("crm:deal", pk=deal.pk)


@login_required
@require_POST
@crm_writer_required
def archive_record(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    models = {"note": Note, "proposal": Proposal, "meeting": Meeting, "task": Task}
    if kind not in models:
        return HttpResponseNotAllowed(["POST"])
    record = get_object_or_404(models[kind], pk=pk)
    deal = get_object_or_404(queries.deals_for(request.user), pk=record.deal_id)
    services.archive(record, actor=request.user)
    messages.success(request, _("Archived. It stays in the deal's history."))
    return redirect("crm:deal", pk=deal.pk)


@login_required
@require_POST
@crm_writer_required
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(queries.tasks_for(request.user), pk=pk)
    try:
        services.complete_task(task, actor=request.user)
        messages.success(request, _("Task done."))
    except DealError as exc:
        messages.error(request, exc.message)
    nxt = request.POST.get("next", "")
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else "crm:tasks")


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    tasks = queries.tasks_for(request.user).filter(done_at__isnull=True).order_by("due_at")
    page = BoundedPaginator(tasks, 50).get_page(request.GET.get("page"))
    return render(request, "crm/task_list.html", {"page": page})


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    contacts = queries.contacts_for(request.user)
    q = params.text(request.GET, "q")
    if q:
        contacts = contacts.filter(name__icontains=q)
    contacts = by_segment(request.GET, contacts)
    page = BoundedPaginator(contacts.prefetch_related("phones", "emails"), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "crm/contact_list.html", {"page": page, "q": q})


@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(queries.contacts_for(request.user), pk=pk)
    return render(
        request,
        "crm/contact_detail.html",
        {
            "contact": contact,
            "deals": queries.deals_for(request.user).filter(contact=contact),
            "notes": contact.notes.active().select_related("author"),
            "history": history(contact)[:100],
        },
    )
