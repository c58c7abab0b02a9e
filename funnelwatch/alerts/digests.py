"""The evening digest and the Friday weekly report: built once, e-mailed, kept in-app.

Each (kind, day, recipient) is recorded in ``DigestCopy`` before the e-mail goes out, so a
second run (or a second scheduler) never sends the same digest twice, and a run after
downtime sends what was missed within ``FUNNELWATCH_DIGEST_CATCHUP_DAYS``.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from funnelwatch.accounts.models import Role, User
from funnelwatch.accounts.visibility import visible_user_ids
from funnelwatch.alerts import keynumbers
from funnelwatch.alerts.calendar import WorkCalendar
from funnelwatch.alerts.models import DigestCopy
from funnelwatch.alerts.queries import open_alerts_per_manager
from funnelwatch.lib.dates import Period, local_date

logger = logging.getLogger("funnelwatch.alerts")
DAILY, WEEKLY = DigestCopy.DigestKind.DAILY, DigestCopy.DigestKind.WEEKLY

# Other ways a digest reaches its recipient (Telegram, from funnelwatch.handoffs): each
# hook sends the copy as the user chose and answers whether they want it by e-mail too.
DELIVERY_HOOKS: list = []


def managers() -> list[User]:
    return list(User.objects.filter(is_active=True, role=Role.MANAGER))


def recipients() -> list[tuple[User, set[int]]]:
    """Who gets a digest and whose rows: the head all, a team lead their team, a manager
    their own row only."""
    manager_ids = {m.pk for m in managers()}
    out = []
    for user in User.objects.filter(
        is_active=True, role__in=[Role.HEAD, Role.TEAM_LEAD, Role.MANAGER]
    ):
        if user.role == Role.MANAGER:
            rows = {user.pk}
        else:
            visible = visible_user_ids(user)
            rows = manager_ids if visible is None else manager_ids & visible
        out.append((user, rows))
    return out


def period_of(kind: str, day: dt.date) -> Period:
    if kind == DAILY:
        return Period(day, day + dt.timedelta(days=1))
    return Period(day - dt.timedelta(days=6), day + dt.timedelta(days=1))


def build_rows(kind: str, day: dt.date, people: list[User]) -> list[dict]:
    """One row per manager: the day's (or week's) key numbers; the weekly report also
    shows the average of the previous four weeks and the change."""
    ids = {m.pk for m in people}
    period = period_of(kind, day)
    now_values = keynumbers.values(period, ids)
    before = []
    if kind == WEEKLY:
        before = [
            keynumbers.values(
                Period(
                    period.start - dt.timedelta(days=7 * k), period.end - dt.timedelta(days=7 * k)
                ),
                ids,
            )
            for k in range(1, 5)
        ]
    alerts = open_alerts_per_manager(ids)
    rows = []
    for m in sorted(people, key=lambda u: str(u)):
        cells = []
        for metric in keynumbers.available():
            value = now_values[m.pk].get(metric.key)
            cell = {
                "key": metric.key,
                "label": str(metric.label),
                "value": keynumbers.display(value, metric.unit),
            }
            if before:
                past = [float(v) for b in before if (v := b[m.pk].get(metric.key)) is not None]
                usual = sum(past) / len(past) if past else None
                cell["usual"] = keynumbers.display(usual, metric.unit)
                if usual and value is not None:
                    cell["change"] = f"{(float(value) - usual) / usual * 100:+.0f}%"
            cells.append(cell)
        rows.append(
            {
                "manager_id": m.pk,
                "manager": str(m),
                "username": m.username,
                "cells": cells,
                "open_alerts": alerts.get(m.pk, 0),
            }
        )
    return rows


def render(kind: str, day: dt.date, recipient: User, rows: list[dict]) -> tuple[str, str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        if kind == DAILY:
            subject = _("Key numbers of %(day)s") % {"day": day.isoformat()}
        else:
            subject = _("Weekly report, week ending %(day)s") % {"day": day.isoformat()}
        context = {
            "kind": kind,
            "day": day,
            "recipient": recipient,
            "rows": rows,
            "columns": rows[0]["cells"] if rows else [],
            "subject": subject,
            "site_url": settings.SITE_URL,
            "weekly": kind == WEEKLY,
        }
        text = render_to_string("alerts/email/digest.txt", context)
        html = render_to_string("alerts/email/digest.html", context)
    return subject, text, html


def due(now: dt.datetime) -> list[tuple[str, dt.date]]:
    """(kind, day) of the digests whose sending time has passed and that may still be missing.

    After downtime the days since the last digest of that kind are caught up, at most
    ``FUNNELWATCH_DIGEST_CATCHUP_DAYS`` back; a fresh installation starts with today's.
    """
    tz = timezone.get_current_timezone()
    local_now = now.astimezone(tz)
    today = local_now.date()
    window_start = today - dt.timedelta(days=settings.FUNNELWATCH_DIGEST_CATCHUP_DAYS)
    latest = dict(
        DigestCopy.objects.values("kind").annotate(day=Max("day")).values_list("kind", "day")
    )
    cal = WorkCalendar(window_start, today)
    out = []
    for kind in (DAILY, WEEKLY):
        last = latest.get(kind)
        day = today if last is None else max(window_start, min(last, today))
        while day <= today:
            sent_at = dt.datetime.combine(day, settings.FUNNELWATCH_DIGEST_TIME, tzinfo=tz)
            passed = sent_at <= local_now
            if passed and kind == DAILY and cal.is_company_workday(day):
                out.append((DAILY, day))
            if (
                passed
                and kind == WEEKLY
                and day.weekday() == settings.FUNNELWATCH_WEEKLY_DIGEST_WEEKDAY
            ):
                out.append((WEEKLY, day))
            day += dt.timedelta(days=1)
    return out


def send_due(now: dt.datetime | None = None, *, send_mail: bool = True) -> int:
    """Create and e-mail every digest that is due and not yet recorded; return how many."""
    now = now or timezone.now()
    count = 0
    for kind, day in due(now):
        count += deliver(kind, day, now, send_mail=send_mail)
    return count


def deliver(kind: str, day: dt.date, now: dt.datetime, *, send_mail: bool = True) -> int:
    done = set(DigestCopy.objects.filter(kind=kind, day=day).values_list("recipient_id", flat=True))
    todo = [(u, ids) for u, ids in recipients() if u.pk not in done and ids]
    if not todo:
        return 0
    all_rows = {r["manager_id"]: r for r in build_rows(kind, day, managers())}
    sent = 0
    for user, ids in todo:
        rows = [r for mid, r in all_rows.items() if mid in ids]
        subject, text, html = render(kind, day, user, rows)
        try:
            with transaction.atomic():
                copy = DigestCopy.objects.create(
                    kind=kind,
                    day=day,
                    recipient=user,
                    subject=subject,
                    text=text,
                    html=html,
                    rows=rows,
                    created_at=now,
                )
        except IntegrityError:  # another run got there first
            continue
        if send_mail and all([hook(copy, user) for hook in DELIVERY_HOOKS]):
            _email(copy, user, now)
        sent += 1
    return sent


def _email(copy: DigestCopy, user: User, now: dt.datetime) -> None:
    if not user.email:
        copy.error = "no e-mail address"
        copy.save(update_fields=["error"])
        return
    message = EmailMultiAlternatives(
        copy.subject, copy.text, settings.DEFAULT_FROM_EMAIL, [user.email]
    )
    message.attach_alternative(copy.html, "text/html")
    try:
        message.send()
    except Exception as exc:  # the in-app copy stays; the error is shown beside it
        logger.warning("digest %s to %s not sent: %s", copy.pk, user.username, exc)
        copy.error = str(exc)[:500]
        copy.save(update_fields=["error"])
        return
    copy.sent_at = now
    copy.save(update_fields=["sent_at"])


def row_about(manager: User, kind: str) -> tuple[DigestCopy | None, dict | None]:
    """The latest copy the head received of ``kind`` and the row in it about ``manager``."""
    copy = (
        DigestCopy.objects.filter(kind=kind, recipient__role=Role.HEAD)
        .order_by("-day", "recipient_id")
        .first()
    )
    if copy is None:
        return None, None
    row = next((r for r in copy.rows if r["manager_id"] == manager.pk), None)
    return copy, row


def today_local(now: dt.datetime) -> dt.date:
    return local_date(now, timezone.get_current_timezone())
