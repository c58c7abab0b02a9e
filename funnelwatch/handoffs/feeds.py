"""A calendar feed per user (iCalendar, RFC 5545) at a secret address.

The address carries a token: the user's id, the feed's version and an HMAC of both under
the installation's secret key, so nothing secret is stored. Revoking bumps the version
and every earlier address stops working at once.

The feed holds, from 30 days back to 90 days ahead: the user's planned meetings, their
open tasks with due times, the due times of hand-off requests they made or that their
department must answer, and the missed calls they should return (due at the call SLA).
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from funnelwatch.accounts.models import User
from funnelwatch.audit.trail import acting_as
from funnelwatch.crm.models import Meeting, Task
from funnelwatch.handoffs.models import OPEN_STATES, CalendarFeed, Handoff
from funnelwatch.handoffs.queries import departments_of

TOKEN = re.compile(r"^(\d{1,19})\.(\d{1,9})\.([0-9a-f]{40})$")
PAST_DAYS, AHEAD_DAYS = 30, 90


def _version(user: User) -> int:
    feed = CalendarFeed.objects.filter(user=user).first()
    return feed.version if feed else 1


def _signature(user_id: int, version: int) -> str:
    return salted_hmac(
        "funnelwatch.calendar", f"{user_id}.{version}", algorithm="sha256"
    ).hexdigest()[:40]


def token_for(user: User) -> str:
    version = _version(user)
    return f"{user.pk}.{version}.{_signature(user.pk, version)}"


def feed_path(user: User) -> str:
    return reverse("calendar:feed", args=[token_for(user)])


def feed_url(user: User) -> str:
    base = (getattr(settings, "SITE_URL", "") or "http://127.0.0.1:8000").rstrip("/")
    return base + feed_path(user)


def user_for_token(token: str) -> User | None:
    """The active user whose current address carries ``token``, else None."""
    match = TOKEN.match(token or "")
    if not match:
        return None
    user_id, version, signature = int(match[1]), int(match[2]), match[3]
    if not constant_time_compare(signature, _signature(user_id, version)):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or _version(user) != version:
        return None
    return user


@transaction.atomic
def revoke(user: User, *, actor: User) -> str:
    """A new address for ``user``; the old one answers 404 from now on."""
    with acting_as(actor):
        feed, created = CalendarFeed.objects.select_for_update().get_or_create(user=user)
        feed.version += 1
        feed.revoked_at = timezone.now()
        feed.save()
    return token_for(user)


def _event(uid: str, summary: str, start: dt.datetime, minutes: int, url: str, desc: str = ""):
    event = Event()
    event.add("uid", f"{uid}@funnelwatch")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", start)
    event.add("dtend", start + dt.timedelta(minutes=minutes))
    event.add("summary", summary)
    if desc:
        event.add("description", desc)
    event.add("url", url)
    return event


def build(user: User, now: dt.datetime | None = None) -> bytes:
    """The user's calendar as iCalendar bytes."""
    now = now or timezone.now()
    since, until = now - dt.timedelta(days=PAST_DAYS), now + dt.timedelta(days=AHEAD_DAYS)
    site = (getattr(settings, "SITE_URL", "") or "").rstrip("/")
    cal = Calendar()
    cal.add("prodid", "-//Funnelwatch//Calendar//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"Funnelwatch: {user}")
    meetings = Meeting.objects.filter(
        owner=user,
        status=Meeting.Status.PLANNED,
        archived_at__isnull=True,
        scheduled_at__gte=since,
        scheduled_at__lt=until,
    ).select_related("deal")
    for m in meetings:
        event = _event(
            f"meeting-{m.pk}",
            _("Meeting: %(deal)s") % {"deal": m.deal.title},
            m.scheduled_at,
            60,
            site + reverse("crm:deal", args=[m.deal_id]),
        )
        if m.place:
            event.add("location", m.place)
        cal.add_component(event)
    tasks = Task.objects.filter(
        assignee=user,
        done_at__isnull=True,
        archived_at__isnull=True,
        due_at__gte=since,
        due_at__lt=until,
    ).select_related("deal")
    for t in tasks:
        url = site + (reverse("crm:deal", args=[t.deal_id]) if t.deal_id else reverse("crm:tasks"))
        cal.add_component(_event(f"task-{t.pk}", _("Task: %(title)s") % {"title": t.title},
                                 t.due_at, 15, url))  # fmt: skip
    handoffs = Handoff.objects.filter(
        state__in=OPEN_STATES, due_at__gte=since, due_at__lt=until
    ).select_related("deal", "department")
    mine = handoffs.filter(requester=user) | handoffs.filter(department__in=departments_of(user))
    for h in mine.distinct():
        cal.add_component(
            _event(
                f"handoff-{h.pk}",
                _("Due: %(kind)s for “%(deal)s” (%(department)s)")
                % {"kind": h.get_kind_display(), "deal": h.deal.title, "department": h.department},
                h.due_at,
                15,
                site + reverse("handoffs:detail", args=[h.pk]),
                h.text,
            )
        )
    for call, due in _callbacks(user):
        cal.add_component(
            _event(
                f"callback-{call.pk}",
                _("Call back %(number)s") % {"number": call.client_number},
                due,
                15,
                site + reverse("telephony:call", args=[call.pk]),
            )
        )
    return cal.to_ical()


def _callbacks(user: User) -> list:
    """Missed calls ``user`` should return, with when each falls due."""
    try:
        from funnelwatch.telephony import missed
        from funnelwatch.telephony.models import Call
    except ImportError:  # telephony not installed
        return []
    # Who should call back, as the missed-calls page says: the contact's owner, else the
    # manager the call rang.
    mine = Q(contact__owner=user) | Q(contact__owner__isnull=True, manager=user)
    calls = missed.oldest_waiting(Call.objects.filter(mine), 200).order_by("started_at", "pk")
    return [(call, missed.due_at(call.started_at)) for call in calls]
