"""Alerts and digests where people are: e-mail and/or Telegram, as each user chooses.

Transparency: an alert about a manager reaches the manager too, with the same words the
head and their team lead receive; a digest's copy is the one the app keeps
(``alerts.DigestCopy``), sent through the channels its recipient chose. A hand-off past
its due time also warns the department's head.

Telegram goes through the Bot API's ``sendMessage`` (``FUNNELWATCH_TELEGRAM_API_BASE``,
``FUNNELWATCH_TELEGRAM_BOT_TOKEN``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from funnelwatch.accounts.models import Role, User
from funnelwatch.alerts import messages as texts
from funnelwatch.alerts.models import Alert, Kind, Status
from funnelwatch.handoffs.models import NoticeSent, NotificationChoice

logger = logging.getLogger("funnelwatch.handoffs")

# Alerts older than this when the job first sees them are not sent (a new installation,
# a long stop): only fresh warnings are worth a message.
FRESH = dt.timedelta(hours=2)


class SendError(Exception):
    pass


def choice_of(user: User) -> NotificationChoice:
    """The user's choice; e-mail only until they choose."""
    return NotificationChoice.objects.filter(user=user).first() or NotificationChoice(user=user)


def telegram(chat_id: str, text: str) -> None:
    token = settings.FUNNELWATCH_TELEGRAM_BOT_TOKEN
    if not token:
        raise SendError("FUNNELWATCH_TELEGRAM_BOT_TOKEN is not set")
    url = f"{settings.FUNNELWATCH_TELEGRAM_API_BASE.rstrip('/')}/bot{token}/sendMessage"
    body = json.dumps(
        {"chat_id": chat_id, "text": text[:4096], "disable_web_page_preview": True}
    ).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read() or b"{}")
        except ValueError:
            answer = {}
        raise SendError(f"Telegram {exc.code}: {answer.get('description', '')}") from exc
    except (OSError, ValueError) as exc:
        raise SendError(f"Telegram: {exc}") from exc
    if not answer.get("ok"):
        raise SendError(f"Telegram: {answer.get('description', 'not ok')}")


def deliver(user: User, subject: str, text: str) -> tuple[list[str], list[str]]:
    """Send through the user's channels: (channels that took it, errors)."""
    choice = choice_of(user)
    sent, errors = [], []
    if choice.by_email:
        if not user.email:
            errors.append("no e-mail address")
        else:
            try:
                send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, [user.email])
                sent.append("email")
            except Exception as exc:
                errors.append(f"e-mail: {exc}")
    if choice.by_telegram and choice.telegram_chat_id:
        try:
            telegram(choice.telegram_chat_id, f"{subject}\n\n{text}")
            sent.append("telegram")
        except SendError as exc:
            errors.append(str(exc))
    return sent, errors


def recipients_of(alert: Alert) -> list[User]:
    """The manager it is about, their team lead, the heads; for a hand-off past due, the
    department's head too."""
    ids = set(User.objects.filter(is_active=True, role=Role.HEAD).values_list("pk", flat=True))
    if alert.manager_id:
        ids.add(alert.manager_id)
        lead = User.objects.filter(pk=alert.manager_id).values_list("team__lead_id", flat=True)
        ids |= {pk for pk in lead if pk}
    if alert.kind == Kind.HANDOFF_OVERDUE and alert.numbers.get("department_head"):
        ids.add(alert.numbers["department_head"])
    return list(User.objects.filter(pk__in=ids, is_active=True))


def _alert_text(alert: Alert, user: User) -> tuple[str, str]:
    with translation.override(getattr(user, "language", None) or settings.LANGUAGE_CODE):
        kind = str(Kind(alert.kind).label) if alert.kind in Kind.values else alert.kind
        who = str(alert.manager) if alert.manager_id else ""
        text = texts.render(alert.kind, alert.numbers)
        site = (getattr(settings, "SITE_URL", "") or "").rstrip("/")
        links = [f"{label}: {site}{url}" for label, url in texts.links(alert.kind, alert.numbers)]
    subject = f"Funnelwatch: {kind}" + (f" — {who}" if who else "")
    return subject, "\n".join([f"{who}: {text}" if who else text, *links])


def send_alerts(now: dt.datetime | None = None) -> int:
    """Send every fresh open alert to each of its recipients once; how many messages."""
    now = now or timezone.now()
    count = 0
    alerts = Alert.objects.filter(
        status=Status.OPEN, resolved_at__isnull=True, opened_at__gte=now - FRESH
    ).select_related("manager")
    for alert in alerts:
        done = set(NoticeSent.objects.filter(alert=alert).values_list("user_id", flat=True))
        for user in recipients_of(alert):
            if user.pk in done:
                continue
            try:
                with transaction.atomic():
                    notice = NoticeSent.objects.create(alert=alert, user=user, sent_at=now)
            except IntegrityError:  # another run sent it
                continue
            subject, text = _alert_text(alert, user)
            sent, errors = deliver(user, subject, text)
            notice.channels, notice.error = ",".join(sent), "; ".join(errors)[:500]
            notice.save(update_fields=["channels", "error"])
            if errors:
                logger.warning("alert %s to %s: %s", alert.pk, user.username, notice.error)
            count += 1
    return count


def digest_channels(copy, user: User) -> bool:
    """Send a digest copy by Telegram when the user chose it; whether to e-mail it too."""
    choice = choice_of(user)
    if choice.by_telegram and choice.telegram_chat_id:
        try:
            telegram(choice.telegram_chat_id, f"{copy.subject}\n\n{copy.text}")
        except SendError as exc:
            logger.warning("digest %s to %s by Telegram: %s", copy.pk, user.username, exc)
    return choice.by_email
