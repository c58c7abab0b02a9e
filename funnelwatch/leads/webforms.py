"""Web-form submissions: checked, deduplicated, limited per address, made into leads."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import User
from funnelwatch.crm.services import DealError
from funnelwatch.leads.models import UTM_FIELDS, SourceKind, Submission, WebForm
from funnelwatch.leads.services import Origin, capture, clean_email, clean_phone

# The hidden field people leave empty and form-filling robots do not.
HONEYPOT = "website"
LIMITS = {"name": 200, "message": 5000, **{k: 200 for k in UTM_FIELDS}, "referrer": 150}


class FormError(Exception):
    def __init__(self, errors: dict[str, str], status: int = 400) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.status = status


@dataclass
class Outcome:
    status: str  # "created", "repeat" (the same submission again), "ignored" (honeypot)
    submission: Submission | None = None


def clean(data: dict) -> dict[str, str]:
    """The submission's fields as text, or FormError naming each field at fault."""
    errors: dict[str, str] = {}
    out: dict[str, str] = {}
    for key in ("name", "phone", "email", "message", "referrer", *UTM_FIELDS):
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            errors[key] = _("Expected text.")
            continue
        value = str(value).strip()
        if "\x00" in value:
            errors[key] = _("Contains a character that is not allowed.")
            continue
        if key in LIMITS and len(value) > LIMITS[key]:
            errors[key] = _("At most %(n)s characters.") % {"n": LIMITS[key]}
            continue
        out[key] = value
    for key, cleaner in (("phone", clean_phone), ("email", clean_email)):
        if key in out:
            try:
                out[key] = cleaner(out[key], key)
            except DealError as exc:
                errors[key] = exc.message
    if not errors and not out.get("phone") and not out.get("email"):
        errors["phone"] = _("Give a phone number or an e-mail address.")
    if errors:
        raise FormError(errors)
    return out


def fingerprint(form: WebForm, fields: dict[str, str]) -> str:
    same = {k: fields.get(k, "").lower() for k in ("name", "phone", "email", "message")}
    return hashlib.sha256(json.dumps([form.pk, same], sort_keys=True).encode()).hexdigest()


def _referrer(username: str) -> User | None:
    if not username:
        return None
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise FormError({"referrer": _("No such employee.")})
    return user


@transaction.atomic
def submit(form: WebForm, data: dict, address: str, at: dt.datetime | None = None) -> Outcome:
    """One submission from ``address``: FormError (nothing stored) for bad input or over
    the limit; the same submission again within minutes answers "repeat" and adds
    nothing; otherwise the lead (or the known contact's open deal)."""
    at = at or timezone.now()
    if str(data.get(HONEYPOT) or "").strip():
        return Outcome("ignored")
    fields = clean(data)
    # One submission of a form at a time: a double click cannot make two leads.
    form = WebForm.objects.select_for_update().get(pk=form.pk)
    mark = fingerprint(form, fields)
    repeat = Submission.objects.filter(
        form=form,
        fingerprint=mark,
        at__gte=at - dt.timedelta(minutes=settings.FUNNELWATCH_FORM_REPEAT_MINUTES),
    ).first()
    if repeat is not None:
        return Outcome("repeat", repeat)
    window = at - dt.timedelta(minutes=settings.FUNNELWATCH_FORM_RATE_MINUTES)
    if (
        Submission.objects.filter(address=address, at__gte=window).count()
        >= settings.FUNNELWATCH_FORM_RATE_LIMIT
    ):
        raise FormError({"form": _("Too many submissions from this address; try later.")}, 429)
    referrer = _referrer(fields.get("referrer", ""))
    utm = {k: fields.get(k, "") for k in UTM_FIELDS}
    got = capture(
        origin_of=Origin(SourceKind.WEB_FORM, form=form, utm=utm, referrer=referrer),
        name=fields.get("name", ""),
        phone=fields.get("phone", ""),
        email=fields.get("email", ""),
        title=f"{form.name}: {fields.get('name') or fields.get('phone') or fields.get('email')}",
        at=at,
    )
    submission = Submission.objects.create(
        form=form,
        fingerprint=mark,
        address=address[:64],
        at=at,
        deal=got.deal,
        payload=fields,
    )
    return Outcome("created", submission)
