from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from funnelwatch.accounts.models import User
from funnelwatch.accounts.visibility import can_see_user, crm_writer_required, visible_user_ids
from funnelwatch.audit.trail import acting_as
from funnelwatch.core import params
from funnelwatch.crm import queries as crm_queries
from funnelwatch.crm.services import DealError
from funnelwatch.leads import email_leads, messengers, reports, webforms
from funnelwatch.leads.models import LeadOrigin, SourceKind, TelegramBot, WebForm
from funnelwatch.lib.addresses import client_ip
from funnelwatch.lib.dates import Period


def _head_only(user) -> None:
    if not user.is_head:
        raise PermissionDenied


def _month(request: HttpRequest) -> Period:
    today = timezone.localdate()
    first = params.day(request.GET, "from") or today.replace(day=1)
    last = params.day(request.GET, "to") or today
    if last < first:
        raise params.BadParameter("to", _("ends before it starts."))
    return Period(first, last + dt.timedelta(days=1))


@login_required
def lead_list(request: HttpRequest) -> HttpResponse:
    source = params.text(request.GET, "source")
    if source and source not in SourceKind.values:
        raise params.BadParameter("source", _("not a known source."))
    period = _month(request)
    deals = (
        crm_queries.deals_for(request.user)
        .filter(origin__isnull=False)
        .select_related("origin", "origin__form", "origin__bot", "origin__referrer")
        .order_by("-created_at", "-pk")
    )
    if source:
        deals = deals.filter(origin__kind=source)
    return render(
        request,
        "leads/lead_list.html",
        {
            "deals": deals[:200],
            "source": source,
            "sources": SourceKind.choices,
            "period": period,
            "last_day": period.end - dt.timedelta(days=1),
            "by_source": reports.by_source(period, visible_user_ids(request.user)),
            "may_manage": request.user.is_head,
        },
    )


class WebFormForm(forms.ModelForm):
    thank_you_url = forms.URLField(
        label=gettext_lazy("thank-you page"), required=False, assume_scheme="https"
    )

    class Meta:
        model = WebForm
        fields = ["name", "thank_you_url", "allowed_origins"]
        widgets = {"allowed_origins": forms.Textarea(attrs={"rows": 2})}


class BotForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("name"), max_length=100, required=False)
    token = forms.CharField(label=gettext_lazy("token"), max_length=200)


@login_required
def channels(request: HttpRequest) -> HttpResponse:
    """Web forms (with their snippets), the Telegram bot, WhatsApp and e-mail settings."""
    _head_only(request.user)
    form = WebFormForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic(), acting_as(request.user):
            created = form.save()
        messages.success(request, _("Form %(name)s added.") % {"name": created.name})
        return redirect("leads:channels")
    base = request.build_absolute_uri("/").rstrip("/")
    return render(
        request,
        "leads/channels.html",
        {
            "form": form,
            "bot_form": BotForm(),
            "web_forms": [
                {"form": f, "url": base + reverse("lead_form", args=[f.key])}
                for f in WebForm.objects.all()
            ],
            "bots": TelegramBot.objects.all(),
            "whatsapp_url": base + reverse("leads:whatsapp_hook"),
            "whatsapp_from": settings.FUNNELWATCH_WHATSAPP_FROM,
            "lead_addresses": sorted(email_leads.lead_addresses()),
        },
    )


@login_required
@require_POST
def bot_add(request: HttpRequest) -> HttpResponse:
    _head_only(request.user)
    form = BotForm(request.POST)
    if not form.is_valid():
        return HttpResponse(
            _("Check the fields: %(fields)s") % {"fields": ", ".join(form.errors)}, status=400
        )
    try:
        bot = messengers.add_bot(
            name=form.cleaned_data["name"], token=form.cleaned_data["token"], actor=request.user
        )
    except (DealError, messengers.ChannelError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Bot %(bot)s connected.") % {"bot": bot})
    return redirect("leads:channels")


@login_required
def referrers(request: HttpRequest) -> HttpResponse:
    period = _month(request)
    return render(
        request,
        "leads/referrers.html",
        {
            "rows": reports.referrer_rows(period, visible_user_ids(request.user)),
            "period": period,
            "last_day": period.end - dt.timedelta(days=1),
        },
    )


@login_required
def referrer(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(User, pk=pk)
    if not can_see_user(request.user, person.pk):
        raise Http404
    period = _month(request)
    leads = (
        LeadOrigin.objects.filter(referrer=person)
        .select_related("deal", "deal__owner", "deal__stage", "deal__contact")
        .order_by("-created_at")[:200]
    )
    return render(
        request,
        "leads/referrer.html",
        {
            "person": person,
            "numbers": reports.referrer_numbers(period, person.pk),
            "leads": leads,
            "period": period,
            "last_day": period.end - dt.timedelta(days=1),
        },
    )


def _visible_deal(request: HttpRequest, pk: int):
    return get_object_or_404(crm_queries.deals_for(request.user), pk=pk)


@login_required
@require_POST
@crm_writer_required
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    deal = _visible_deal(request, pk)
    try:
        messengers.reply(deal, request.POST.get("text", ""), actor=request.user)
    except DealError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    except messengers.ChannelError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Message sent."))
    return redirect("crm:deal", deal.pk)


@login_required
@require_POST
@crm_writer_required
def set_referrer(request: HttpRequest, pk: int) -> HttpResponse:
    from funnelwatch.leads.services import set_referrer as save

    deal = _visible_deal(request, pk)
    raw = request.POST.get("referrer", "").strip()
    person = None
    if raw:
        if not raw.isdigit() or len(raw) > 18:
            return HttpResponse(_("referrer: choose an employee."), status=400)
        person = User.objects.filter(pk=int(raw), is_active=True).first()
        if person is None:
            return HttpResponse(_("referrer: choose an employee."), status=400)
    try:
        save(deal, person, actor=request.user)
    except DealError as exc:
        return HttpResponse(f"{exc.field}: {exc.message}", status=400)
    messages.success(request, _("Saved."))
    return redirect("crm:deal", deal.pk)


# --- public endpoints ------------------------------------------------------------------


def _origin_of(request: HttpRequest) -> str:
    origin = request.headers.get("Origin") or ""
    if not origin and request.headers.get("Referer"):
        parts = urlsplit(request.headers["Referer"])
        origin = f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""
    return origin.rstrip("/").lower()


def _cors(response: HttpResponse, form: WebForm, origin: str) -> HttpResponse:
    if origin and (not form.origins() or origin in form.origins()):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Vary"] = "Origin"
    return response


def _safe_next(form: WebForm, value: str) -> str:
    """``next`` only to the form's own sites or its thank-you page's site."""
    if not value or len(value) > 2000:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        return ""
    site = f"{parts.scheme}://{parts.netloc}".lower()
    allowed = set(form.origins())
    if form.thank_you_url:
        own = urlsplit(form.thank_you_url)
        allowed.add(f"{own.scheme}://{own.netloc}".lower())
    return value if site in allowed else ""


@csrf_exempt
def form_submit(request: HttpRequest, key: str) -> HttpResponse:
    """``POST /f/<key>/``: a web-form submission, form-encoded or JSON."""
    form = WebForm.objects.filter(key=key, active=True).first()
    if form is None:
        raise Http404
    origin = _origin_of(request)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), form, origin)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    is_json = request.content_type == "application/json"
    wants_json = is_json or "application/json" in request.headers.get("Accept", "")

    def answer(status: int, body: dict) -> HttpResponse:
        if wants_json:
            return _cors(JsonResponse(body, status=status), form, origin)
        return render(
            request, "leads/form_answer.html", {"body": body, "form": form}, status=status
        )

    if form.origins() and origin not in form.origins():
        return answer(403, {"errors": {"origin": _("This site may not use the form.")}})
    if is_json:
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return answer(400, {"errors": {"body": _("Not valid JSON.")}})
        if not isinstance(data, dict):
            return answer(400, {"errors": {"body": _("Expected a JSON object.")}})
    else:
        data = {k: request.POST.get(k) for k in request.POST}
    try:
        outcome = webforms.submit(form, data, client_ip(request))
    except webforms.FormError as exc:
        return answer(exc.status, {"errors": exc.errors})
    body = {"status": "ok" if outcome.status != "repeat" else "repeat"}
    if wants_json:
        return answer(201 if outcome.status == "created" else 200, body)
    target = _safe_next(form, str(data.get("next") or "")) or form.thank_you_url
    if target:
        return HttpResponseRedirect(target)
    return answer(200, body)


@csrf_exempt
@require_POST
def telegram_hook(request: HttpRequest, pk: int) -> HttpResponse:
    bot = TelegramBot.objects.filter(pk=pk, active=True).first()
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if bot is None or not messengers.secret_matches(bot, given):
        return JsonResponse(
            {"detail": "X-Telegram-Bot-Api-Secret-Token does not match"}, status=403
        )
    try:
        update = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"detail": "body: not valid JSON"}, status=400)
    try:
        status, _message = messengers.telegram_update(bot, update)
    except messengers.BadUpdate as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    except DealError as exc:
        return JsonResponse({"detail": f"{exc.field}: {exc.message}"}, status=400)
    return JsonResponse({"status": status})


@csrf_exempt
@require_POST
def whatsapp_hook(request: HttpRequest) -> HttpResponse:
    params_ = {k: request.POST.get(k, "") for k in request.POST}
    url = request.build_absolute_uri()
    if not messengers.twilio_signature_ok(
        url, params_, request.headers.get("X-Twilio-Signature", "")
    ):
        return JsonResponse({"detail": "X-Twilio-Signature does not match"}, status=403)
    try:
        messengers.whatsapp_message(params_)
    except messengers.BadUpdate as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    except DealError as exc:
        return JsonResponse({"detail": f"{exc.field}: {exc.message}"}, status=400)
    return HttpResponse("<Response/>", content_type="text/xml")
