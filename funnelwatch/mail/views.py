from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from funnelwatch.accounts.visibility import crm_writer_required
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import acting_as, record
from funnelwatch.core.paging import BoundedPaginator
from funnelwatch.crm import queries as crm_queries
from funnelwatch.mail import queries, services
from funnelwatch.mail.forms import SendForm
from funnelwatch.mail.models import Attachment
from funnelwatch.mail.parsing import clean_letter


@login_required
def mailbox_list(request: HttpRequest) -> HttpResponse:
    boxes = queries.mailboxes_for(request.user).order_by("user__username", "login")
    return render(request, "mail/mailbox_list.html", {"mailboxes": boxes})


@login_required
def mailbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    box = get_object_or_404(queries.mailboxes_for(request.user), pk=pk)
    letters = (
        queries.messages_for(request.user)
        .filter(mailbox=box)
        .defer("headers", "html_body", "text_body")
        .order_by("-sent_at", "-id")
    )
    page = BoundedPaginator(letters, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "mail/mailbox_detail.html",
        {
            "mailbox": box,
            "folders": box.folder_states.all(),
            "page": page,
        },
    )


@login_required
@require_POST
@crm_writer_required
def sync_now(request: HttpRequest, pk: int) -> HttpResponse:
    from funnelwatch.core.jobs import enqueue_on_commit
    from funnelwatch.mail.tasks import sync_mailbox_task

    box = get_object_or_404(queries.mailboxes_for(request.user), pk=pk)
    enqueue_on_commit(sync_mailbox_task, box.pk)
    messages.success(request, _("Sync queued; refresh the page in a minute."))
    return redirect("mail:mailbox", pk=box.pk)


@login_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(queries.messages_for(request.user), pk=pk)
    services.record_view(message, request.user)
    # Remote images only when the reader asks for them (?images=1): see clean_letter.
    show_images = request.GET.get("images") == "1"
    html, blocked = clean_letter(message.html_body or "", remote_images=show_images)
    response = render(
        request,
        "mail/message_detail.html",
        {
            "message": message,
            "html": html,
            "blocked_images": blocked,
            "show_images": show_images,
            "attachments": message.attachments.all(),
            "copies": message.copies.select_related("mailbox"),
        },
    )
    # The browser enforces the same, should anything slip through the cleaning: the site's
    # Content-Security-Policy allows images from here only, widened for this page on request.
    if show_images:
        response._csp_update = {"img-src": ["https:", "http:"]}
    return response


@login_required
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    att = get_object_or_404(Attachment.objects.select_related("message"), pk=pk)
    message = get_object_or_404(queries.messages_for(request.user), pk=att.message_id)
    if att.skipped or not att.file:
        raise Http404(_("This attachment was too large to keep."))
    if message.owner_id != request.user.pk:
        with acting_as(request.user):
            record(message, AuditEvent.Action.DOWNLOAD, {"attachment": att.filename})
    return FileResponse(
        att.file.open("rb"),
        as_attachment=True,
        filename=att.filename,
        content_type=att.content_type or "application/octet-stream",
    )


@login_required
@require_POST
@crm_writer_required
def send(request: HttpRequest, deal_pk: int) -> HttpResponse:
    deal = get_object_or_404(crm_queries.deals_for(request.user), pk=deal_pk)
    form = SendForm(request.POST, request.FILES)
    if not form.is_valid():
        for field, errs in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errs)}" if label else " ".join(errs))
        return redirect("crm:deal", pk=deal.pk)
    data = form.cleaned_data
    files = []
    if data["attachment"]:
        upload = data["attachment"]
        files.append(
            services.OutgoingAttachment(
                upload.name, upload.read(), upload.content_type or "application/octet-stream"
            )
        )
    try:
        services.send_letter(
            deal,
            actor=request.user,
            to=data["to"],
            subject=data["subject"],
            body=data["body"],
            attachments=files,
            as_proposal=data["as_proposal"],
        )
    except services.MailError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Letter sent."))
    return redirect("crm:deal", pk=deal.pk)


def _back(request: HttpRequest, message) -> HttpResponse:
    nxt = request.POST.get("next", "")
    if nxt.startswith("/") and not nxt.startswith("//"):
        return redirect(nxt)
    return redirect("mail:message", pk=message.pk)


@login_required
@require_POST
@crm_writer_required
def archive(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(queries.messages_for(request.user), pk=pk)
    services.archive(message, actor=request.user)
    messages.success(request, _("Archived. It stays in the history."))
    return _back(request, message)


@login_required
@require_POST
@crm_writer_required
def mark_proposal(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(queries.messages_for(request.user), pk=pk)
    try:
        services.mark_as_proposal(message, actor=request.user)
    except services.MailError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Counted as a proposal."))
    return _back(request, message)
