from __future__ import annotations

import datetime as dt
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from funnelwatch.accounts.models import User
from funnelwatch.crm.models import Deal, StageChange

NOW = "2026-03-20T15:00:00+08:00"


def _demo(*extra: str) -> dict:
    out = StringIO()
    call_command(
        "demo", "--months", "1", "--managers", "4", "--now", NOW, "--json", *extra, stdout=out
    )
    return json.loads(out.getvalue())


def _fingerprint() -> list:
    return list(
        Deal.objects.order_by("pk").values_list(
            "title", "owner__username", "stage__name", "status", "amount", "created_at", "closed_at"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_same_seed_same_data_and_problems_are_planted():
    # --reset also restarts the id sequences, so ids are comparable between runs.
    summary = _demo("--seed", "3", "--reset")
    first = _fingerprint()
    changes = StageChange.objects.count()
    again = _demo("--seed", "3", "--reset")
    assert again == summary
    assert _fingerprint() == first and StageChange.objects.count() == changes
    planted = summary["planted"]
    assert User.objects.filter(username=planted["activity_drop_manager"], role="manager").exists()
    assert {login["role"] for login in summary["logins"]} >= {"head", "team_lead", "manager"}
    # the printed logins work on the login page (password validators do not apply to them)
    for login in summary["logins"]:
        browser = Client()
        r = browser.post("/login/", {"username": login["username"], "password": "demo"})
        assert r.status_code == 302 and "_auth_user_id" in browser.session, login
    stalled = Deal.objects.filter(pk__in=planted["stalled_deals"])
    assert stalled.count() == len(planted["stalled_deals"]) >= 3
    for deal in stalled:
        assert deal.status == "open" and deal.stage.norm_days
    assert (
        Deal.objects.filter(
            pk__in=planted["revivable_lost_deals"], status="lost", lost_reason__revivable=True
        ).count()
        == 3
    )
    assert (
        Deal.objects.filter(
            pk__in=planted["leads_never_called"], status="open", stage__block="intake"
        ).count()
        == 3
    )
    other = _demo("--seed", "4", "--reset")
    assert _fingerprint() != first
    assert other["planted"].keys() == planted.keys()


@pytest.mark.django_db
def test_demo_refuses_to_overwrite_without_reset(world):
    with pytest.raises(CommandError, match="--reset"):
        _demo()


# --- the story a small demo tells ---------------------------------------------------


def _working_days_back(last: dt.date, n: int) -> list[dt.date]:
    days, day = [], last
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= dt.timedelta(days=1)
    return days


def _per_day(rows) -> dict:
    tz = timezone.get_current_timezone()
    out: dict = {}
    for who, moment in rows:
        key = (who, moment.astimezone(tz).date())
        out[key] = out.get(key, 0) + 1
    return out


@pytest.fixture
def story(transactional_db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    summary = _demo("--managers", "5", "--reset")
    return summary["planted"]


def test_the_demo_tells_one_story(story, settings):
    from funnelwatch.alerts import queries as alert_queries
    from funnelwatch.audit.models import AuditEvent
    from funnelwatch.lib.dates import Period
    from funnelwatch.quality.models import RecordingAnalysis
    from funnelwatch.telephony.models import Call, Recording

    tz = timezone.get_current_timezone()
    now = dt.datetime.fromisoformat(NOW)
    managers = list(User.objects.filter(role="manager"))
    dropper = story["activity_drop_manager"]

    # Only the planted manager's activity drops: everybody else's last five working days
    # are within 25 % of the five before, for outbound calls and for all their activity
    # (calls and work in the CRM together).
    yesterday = now.astimezone(tz).date() - dt.timedelta(days=1)
    days = _working_days_back(yesterday, 15)
    recent, before, before_drop = set(days[:5]), set(days[5:10]), set(days[10:])
    since = now - dt.timedelta(days=25)
    calls = _per_day(
        Call.objects.filter(direction="out", started_at__gte=since).values_list(
            "manager_id", "started_at"
        )
    )
    actions = _per_day(
        AuditEvent.objects.filter(occurred_at__gte=since, actor__role="manager").values_list(
            "actor_id", "occurred_at"
        )
    )
    both = {key: calls.get(key, 0) + actions.get(key, 0) for key in {*calls, *actions}}
    for counts in (calls, both):
        for m in managers:
            last = sum(counts.get((m.pk, d), 0) for d in recent)
            prior = sum(counts.get((m.pk, d), 0) for d in before)
            if m.username == dropper:  # from two weeks ago
                usual = sum(counts.get((m.pk, d), 0) for d in before_drop)
                assert last < usual * 0.6, (m.username, last, usual)
            else:
                assert abs(last - prior) <= 0.25 * prior, (m.username, last, prior)

    # Most leads are called within minutes: the first outbound call to the client came
    # within the 15-minute SLA for at least two leads in three.
    from funnelwatch.crm.models import ContactPhone

    numbers = dict(ContactPhone.objects.values_list("contact_id", "number"))
    out_calls: dict[str, list] = {}
    for number, started in Call.objects.filter(direction="out").values_list(
        "client_number", "started_at"
    ):
        out_calls.setdefault(number, []).append(started)
    leads = Deal.objects.filter(
        contact__isnull=False, created_at__lt=now - dt.timedelta(days=1), owner__role="manager"
    ).exclude(owner__username=dropper)
    quick = called = 0
    for created, contact in leads.values_list("created_at", "contact_id"):
        after = [t for t in out_calls.get(numbers.get(contact), []) if t >= created]
        if after:
            called += 1
            quick += min(after) - created <= dt.timedelta(minutes=15)
    assert leads.count() >= 50
    assert called >= 0.9 * leads.count() and quick >= 0.66 * leads.count(), (quick, called)

    # Calls to a client whose deal was open at the time belong to that deal.
    deals = {
        contact: (pk, created, closed)
        for pk, contact, created, closed in Deal.objects.filter(contact__isnull=False).values_list(
            "pk", "contact_id", "created_at", "closed_at"
        )
    }
    during = on_deal = 0
    for contact, started, deal_id in Call.objects.filter(contact__isnull=False).values_list(
        "contact_id", "started_at", "deal_id"
    ):
        pk, created, closed = deals.get(contact, (None, None, None))
        if pk and created <= started and (closed is None or started < closed):
            during += 1
            on_deal += deal_id == pk
    assert during >= 500 and on_deal >= 0.95 * during, (on_deal, during)

    # Recordings are whole calls; the planted talkative, silent and noisy managers differ.
    recordings = Recording.objects.filter(status="stored").select_related("call")
    assert recordings.count() >= 20
    for rec in recordings:
        assert rec.duration_s == pytest.approx(rec.call.talk_seconds, abs=1)
        assert rec.file.size == pytest.approx(44 + 16000 * rec.call.talk_seconds, rel=0.01)
    styles = story["quality_managers"]
    assert set(styles) == {"talkative", "silent", "noisy"}
    by_manager: dict[str, list] = {}
    for username, ratio, flags in RecordingAnalysis.objects.values_list(
        "recording__call__manager__username", "talk_ratio", "flags"
    ):
        assert "too_short" not in flags
        by_manager.setdefault(username, []).append((ratio, flags))

    def mean_ratio(username: str) -> float:
        ratios = [r for r, f in by_manager[username] if r is not None and not f]
        return sum(ratios) / len(ratios)

    normal = [m.username for m in managers if m.username not in styles.values()]
    assert mean_ratio(styles["talkative"]) > 0.7
    assert mean_ratio(styles["silent"]) < 0.3
    for username in normal:
        assert 0.35 < mean_ratio(username) < 0.65, username
    noisy = by_manager[styles["noisy"]]
    assert sum("mostly_noise" in f for _r, f in noisy) >= len(noisy) / 2
    assert not any("mostly_noise" in f for u in normal for _r, f in by_manager[u])

    # The newest loss waiting for review is the big one worth reviving.
    head = User.objects.get(username="head")
    today = now.astimezone(tz).date()
    period = Period(today - dt.timedelta(days=29), today + dt.timedelta(days=1))  # as the page
    pending = alert_queries.lost_to_review(head, period)
    top = pending.first()
    assert top.pk == story["revivable_lost_deals"][0]
    assert top.lost_reason.revivable and top.amount == max(d.amount for d in pending[:10])


@pytest.mark.django_db(transaction=True)
def test_the_demo_speaks_the_language_it_is_asked_for(settings, tmp_path):
    from funnelwatch.accounts.models import Team
    from funnelwatch.crm.models import LeadSource, LostReason, Stage
    from funnelwatch.plans.models import Plan

    settings.MEDIA_ROOT = tmp_path
    _demo("--language", "ru", "--reset")
    cyrillic = re.compile("[а-яё]", re.IGNORECASE)
    names = (
        list(Stage.objects.values_list("name", flat=True))
        + list(LostReason.objects.values_list("name", flat=True))
        + list(Team.objects.values_list("name", flat=True))
        + list(Plan.objects.values_list("title", flat=True))
        + list(LeadSource.objects.exclude(name="Facebook").values_list("name", flat=True))
        + list(Deal.objects.values_list("title", flat=True)[:50])
        + [u.get_full_name() for u in User.objects.all()]
    )
    assert names and all(cyrillic.search(n) for n in names), [
        n for n in names if not cyrillic.search(n)
    ]
    assert set(Team.objects.values_list("name", flat=True)) == {"Север", "Юг"}
    # The other parts' texts too: leads and chats, departments and their requests,
    # clients, the commission scheme and its lines, skills tests, plan steps.
    from funnelwatch.crm.models import Company, Contact
    from funnelwatch.handoffs.models import Department, Handoff
    from funnelwatch.leads.models import ChatMessage, TelegramBot, WebForm
    from funnelwatch.motivation.models import Scheme, StatementLine
    from funnelwatch.plans.models import PlanStep
    from funnelwatch.skills.models import MysteryCall, Question, SkillTest

    parts = {
        "chats": list(ChatMessage.objects.values_list("text", flat=True)),
        "forms and bots": list(WebForm.objects.values_list("name", flat=True))
        + list(TelegramBot.objects.values_list("name", flat=True)),
        "departments": list(Department.objects.values_list("name", flat=True)),
        "requests": list(Handoff.objects.values_list("text", flat=True))
        + list(Handoff.objects.exclude(return_reason="").values_list("return_reason", flat=True)),
        "companies": list(Company.objects.values_list("name", flat=True)),
        "contacts": list(Contact.objects.values_list("name", flat=True)),
        "deals": list(Deal.objects.values_list("title", flat=True)),
        "schemes": [t for s in Scheme.objects.all() for t in (s.name, s.note)],
        "statement lines": list(StatementLine.objects.values_list("description", flat=True)),
        "questions": [q.text for q in Question.objects.all()]
        + [o["text"] for q in Question.objects.all() for o in q.options],
        "tests": list(SkillTest.objects.values_list("title", flat=True))
        + list(MysteryCall.objects.values_list("note", flat=True)),
        "plan steps": [t for s in PlanStep.objects.all() for t in (s.title, s.resources)],
    }
    for part, texts in parts.items():
        assert texts, part
        assert all(cyrillic.search(t) for t in texts), (
            part,
            [t for t in texts if not cyrillic.search(t)],
        )
    with pytest.raises(CommandError, match="--language"):
        _demo("--language", "xx", "--reset")
