"""Who may do what, for every URL pattern and every API operation.

The rows are checked against the URL conf and the API schema: a new view or operation
without a row here fails ``test_every_pattern_has_a_row``. Each row names, for the six
callers — anonymous, a manager (alice, the records' owner), a manager of another team
(bob), the owner's team lead, the quality reviewer and the head — what a GET and a write
(POST, or the operation's own method) answer. A seventh caller, department staff (clerk,
in accounting), reaches only the hand-off and calendar pages: a row names its answers in
``dept`` (GET then write), or it is refused (403 from pages, 401 from the API) wherever
the six callers' answers differ, and answers as they do where they are all the same
(public pages and webhooks):

    L  sent to sign in (302 to the login page; 401 from the API)
    O  allowed (2xx, or a 3xx that is not the login page)
    D  refused (403)
    H  hidden (404: the record is outside what the caller may see)
    M  method not allowed (405)
    B  refused as bad input (400/422)

A write that is refused leaves no trace: no audit event and no changed row count in the
tables the view could touch. Every request runs in its own savepoint, rolled back after it,
so the callers see the same records.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client
from django.urls import (
    Resolver404,
    URLPattern,
    URLResolver,
    get_resolver,
    resolve,
    reverse,
)
from django.utils import timezone

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "manager", "other_manager", "team_lead", "reviewer", "head", "department")
OUTCOMES = {"L", "O", "D", "H", "M", "B"}


@dataclass(frozen=True)
class Row:
    """Expected answers per role (in ROLES order) for a GET and a write."""

    get: str
    write: str = ""  # "" = the same answers as GET (a page that only reads)
    kwargs: dict = field(default_factory=dict)  # names of objects in the fixture, or values
    data: dict = field(default_factory=dict)  # the write's body (objects by "@name")
    query: str = ""
    dept: str = ""  # the department caller's answers, GET then write ("" = the rule above)

    def answers(self, api: bool = False) -> tuple[str, str]:
        """All seven callers' expected answers: (GET, write)."""
        write = self.write or self.get

        def department(six: str) -> str:
            return six[0] if len(set(six)) == 1 else ("L" if api else "D")

        if self.dept:
            return self.get + self.dept[0], write + self.dept[-1]
        return self.get + department(self.get), write + department(write)


# --- pages -----------------------------------------------------------------------------------
#                     anon mgr other lead rev head
PAGES: dict[str, Row] = {
    "home": Row("LOOOOO", dept="O"),  # a redirect to their requests
    "favicon": Row("OOOOOO"),  # a redirect to the icon among the static files
    "login": Row("OOOOOO"),
    "logout": Row("MMMMMM", "LLLLLL"),  # signed out, on the login page
    "set_language": Row("OOOOOO", data={"language": "ru"}),
    # CRM
    "crm:deals": Row("LOOOOO"),
    "crm:board": Row("LOOOOO"),
    "crm:deal_create": Row("LOOODO", "LOOODO", data={"title": "New one"}),
    "crm:deal": Row("LOHOOO", kwargs={"pk": "@deal"}),
    "crm:deal_action": Row(
        "LMMMMM", "LOHODO", kwargs={"pk": "@deal", "action": "note"}, data={"text": "Called"}
    ),
    "crm:archive": Row("LMMMMM", "LOHODO", kwargs={"kind": "note", "pk": "@note"}),
    "crm:tasks": Row("LOOOOO"),
    "crm:task_done": Row("LMMMMM", "LOHODO", kwargs={"pk": "@task"}),
    "crm:contacts": Row("LOOOOO"),
    "crm:contact": Row("LOHOOO", kwargs={"pk": "@contact"}),
    # Numbers
    "metrics:key_numbers": Row("LOOOOO"),
    "metrics:records": Row("LOOOOO", kwargs={"key": "leads_received"}),
    "metrics:manager": Row("LOHOOO", kwargs={"pk": "@alice"}),
    "metrics:funnel": Row("LOOOOO"),
    "metrics:sales": Row("LOOOOO"),
    # Telephony
    "telephony:index": Row("OOOOOO", dept="D"),  # a redirect to the calls (sign in first)
    "telephony:calls": Row("LOOOOO"),
    "telephony:call": Row("LOHOOO", kwargs={"pk": "@call"}),
    "telephony:recording": Row("LOHOOO", "LMMMMM", kwargs={"pk": "@call"}),
    "telephony:recording_download": Row("LOHOOO", "LMMMMM", kwargs={"pk": "@call"}),
    "telephony:missed": Row("LOOOOO"),
    "telephony:routing": Row("LDDODO"),
    "telephony:routing_save": Row("LMMMMM", "LDDDDO"),
    "telephony:integrations": Row("LDDDDO"),
    # Mail
    "mail:mailboxes": Row("LOOOOO"),
    "mail:mailbox": Row("LOHOOO", kwargs={"pk": "@mailbox"}),
    "mail:sync": Row("LMMMMM", "LOHODO", kwargs={"pk": "@mailbox"}),
    "mail:message": Row("LOHOOO", kwargs={"pk": "@letter"}),
    "mail:archive": Row("LMMMMM", "LOHODO", kwargs={"pk": "@letter"}),
    "mail:mark_proposal": Row("LMMMMM", "LOHODO", kwargs={"pk": "@sent_letter"}),
    "mail:attachment": Row("LOHOOO", kwargs={"pk": "@attachment"}),
    "mail:send": Row(
        "LMMMMM",
        "LOHODO",
        kwargs={"deal_pk": "@deal"},
        data={"to": "client@acme.test", "subject": "Offer", "body": "Hello"},
    ),
    # Quality
    "quality:queue": Row("LDDOOO"),
    "quality:call": Row("LOHOOO", "LDHOOO", kwargs={"call_id": "@call"}),
    "quality:audio": Row("LOHOOO", "LMMMMM", kwargs={"call_id": "@call"}),
    "quality:reviews": Row("LOOOOO"),
    "quality:report": Row("LDDODO"),  # scores of reviewers' work: leaders only
    "quality:library": Row("LOOOOO"),
    "quality:checklists": Row(
        "LDDDDO",
        "LDDDDO",
        data={"name": "Inbound", "criteria": "greeting | 1 | yes_no | Introduced themselves"},
    ),
    # Alerts, plans
    "alerts:list": Row("LOOOOO"),
    "alerts:snooze": Row(
        "LMMMMM",
        "LDHDDO",
        kwargs={"deal_id": "@deal"},
        data={"until": "2099-01-01", "reason": "Client on holiday"},
    ),
    "alerts:resolve": Row("LMMMMM", "LDHODO", kwargs={"pk": "@alert"}),
    "alerts:morning": Row("LDDODO"),
    "alerts:lost": Row("LDDODO"),
    "alerts:review": Row(
        "LMMMMM", "LDDODO", kwargs={"deal_id": "@lost_deal"}, data={"decision": "hopeless"}
    ),
    "alerts:forecast": Row("LOOOOO"),
    "alerts:digests": Row("LOOOOO"),
    "alerts:digest": Row("LDDDDO", kwargs={"pk": "@digest"}),
    "alerts:thresholds": Row("LDDDDO"),
    "plans:list": Row("LOOOOO"),
    "plans:create": Row("LDDODO"),
    # Leads: the list and referrers for everyone (narrowed to what each sees); channels and
    # web forms are the head's; answers and referrers on a deal for those who may change it;
    # the public form and messenger webhooks answer anyone, by their own checks.
    "leads:list": Row("LOOOOO"),
    "leads:channels": Row("LDDDDO", data={"name": "Promo"}),
    "leads:bot_add": Row("LMMMMM", "LDDDDO", data={"token": "not-a-token"}),  # back, with why
    "leads:referrers": Row("LOOOOO"),
    "leads:referrer": Row("LOHOOO", kwargs={"pk": "@alice"}),
    "leads:reply": Row("LMMMMM", "LBHBDB", kwargs={"pk": "@deal"}, data={"text": "Hi"}),
    "leads:set_referrer": Row(
        "LMMMMM", "LOHODO", kwargs={"pk": "@deal"}, data={"referrer": "@alice"}
    ),
    "lead_form": Row("HHHHHH", kwargs={"key": "no-such-form"}),
    "leads:telegram_hook": Row("MMMMMM", "DDDDDD", kwargs={"pk": 1}),
    "leads:whatsapp_hook": Row("MMMMMM", "DDDDDD"),
    # Client base
    "clients:base": Row("LOOOOO"),
    "clients:recompute": Row("LMMMMM", "LDDDDO"),
    "clients:companies": Row("LOOOOO"),
    "clients:company": Row("LOHOOO", kwargs={"pk": "@company"}),
    "clients:wake": Row("LMMMMM", "LOHODO", kwargs={"pk": "@company"}),
    "clients:retention": Row("LOOOOO"),
    "clients:reasons": Row("LOOOOO"),
    "plans:step_add": Row(
        "LMMMMM",
        "LDHODO",
        kwargs={"plan_id": "@plan"},
        data={"title": "Call ten clients", "owner": "@alice", "due_date": "2099-01-31"},
    ),
    "plans:step_progress": Row(
        "LMMMMM", "LOHODO", kwargs={"pk": "@plan_step"}, data={"progress": "50"}
    ),
    # Motivation: money is for the people it concerns and their leaders, not reviewers
    "motivation:statements": Row("LOOODO", "LMMMMM"),
    "motivation:statement": Row(
        "LOHODO", "LMMMMM", kwargs={"manager_id": "@alice", "month": "2026-03"}
    ),
    "motivation:approve": Row(
        "LMMMMM", "LDDDDO", kwargs={"manager_id": "@alice", "month": "2026-03"}
    ),
    "motivation:export": Row("LDDDDO", "LMMMMM", query="?month=2026-03&format=csv"),
    "motivation:schemes": Row("LOOODO", "LMMMMM"),
    "motivation:board": Row("LOOOOO", "LMMMMM"),
    # Skills: managers take their tests; reviewers write the bank and grade; leaders assign
    "skills:index": Row("LOOOOO", "LMMMMM"),
    "skills:assign": Row(
        "LMMMMM",
        "LDDODO",
        data={"test": "@skill_test", "managers": "@alice", "due_date": "2026-04-30"},
    ),
    "skills:assignment": Row("LOHOOO", "LOHDDD", kwargs={"pk": "@test_assignment"}),
    "skills:grade": Row("LMMMMM", "LDDOOO", kwargs={"pk": "@taken_assignment"}),
    "skills:questions": Row(
        "LDDOOO", "LDDDOO", data={"topic": "product", "kind": "open", "text": "Why us?"}
    ),
    "skills:tests": Row(
        "LDDOOO", "LDDDOO", data={"title": "Matrix", "questions": "@skill_question"}
    ),
    "skills:mystery": Row("LOOOOO", "LDDOOO", data={"call": "@call"}),
    # Hand-offs: department staff see and work on their department's requests
    "handoffs:list": Row("LOOOOO", dept="O"),
    "handoffs:kpis": Row("LOOOOO", dept="O"),
    "handoffs:detail": Row("LOHOOO", "LMMMMM", kwargs={"pk": "@handoff"}, dept="OM"),
    "handoffs:act": Row("LMMMMM", "LDHDDD", kwargs={"pk": "@handoff", "action": "take"}, dept="MO"),
    "handoffs:create": Row(
        "LMMMMM",
        "LOHODO",
        kwargs={"deal_pk": "@deal"},
        data={"department": "@department", "kind": "invoice", "text": "Invoice, please"},
        dept="MD",
    ),
    "handoffs:dial": Row(
        "LMMMMM", "LOHODO", kwargs={"kind": "contact", "pk": "@contact"}, dept="MD"
    ),
    # The week and the calendar
    "calendar:week": Row("LDDODO", "LMMMMM", dept="DM"),
    "calendar:week_action": Row(
        "LMMMMM",
        "LDDODO",
        data={"title": "Call the top ten", "assignee": "@alice", "due_at": "2099-01-05 10:00"},
        dept="MD",
    ),
    "calendar:me": Row("LOOOOO", "LMMMMM", dept="OM"),
    "calendar:revoke": Row("LMMMMM", "LOOOOO", dept="MO"),
    "calendar:notifications": Row("LMMMMM", "LOOOOO", data={"by_email": "on"}, dept="MO"),
    "calendar:feed": Row("OOOOOO", "MMMMMM", kwargs={"token": "@feed"}),  # the token is the key
    # Operations: the load balancer's check, the head's status page, the administrator's
    # recording retention, Prometheus (off without FUNNELWATCH_METRICS_TOKEN: 404)
    "healthz": Row("OOOOOO", "MMMMMM"),
    "ops:status": Row("LDDDDO", "LMMMMM"),
    "ops:retention": Row("LMMMMM", "LDDDDD", data={"months": "6"}),
    "ops:metrics": Row("HHHHHH", "MMMMMM"),
    # Imports: the head's alone
    "imports:index": Row("LDDDDO", "LMMMMM"),
    "imports:upload": Row("LMMMMM", "LDDDDO"),  # no file: back to the page, saying so
    "imports:batch": Row("LDDDDO", "LMMMMM", kwargs={"pk": "@import_batch"}),
    "imports:run": Row(
        "LMMMMM", "LDDDDO", kwargs={"pk": "@import_batch"}, data={"action": "dry_run"}
    ),
    "imports:progress": Row("LDDDDO", "LMMMMM", kwargs={"pk": "@import_batch"}),
    "imports:rejected": Row("LDDDDO", "LMMMMM", kwargs={"pk": "@import_batch"}),
    "imports:undo": Row("LMMMMM", "LDDDDO", kwargs={"pk": "@import_batch"}),
    # API documents (the operations themselves are in API below)
    "api-1:openapi-json": Row("LOOOOO"),
    "api-1:openapi-view": Row("LOOOOO"),
}

# The admin is for staff accounts only, whatever the role: one rule for all its patterns.
ADMIN_NAMESPACE = "admin"


# --- API operations ("METHOD /path"), called with each role's bearer token ----------------------
# ``get`` holds the answers to the operation's own method. Webhooks carry their own signatures,
# so a user's token changes nothing for them: unsigned calls are refused for everyone.
#                                                     anon mgr other lead rev head
API: dict[str, Row] = {
    "GET /api/crm/deals": Row("LOOOOO"),
    "POST /api/crm/deals": Row("LOOODO", data={"title": "From the API"}),
    "GET /api/crm/deals/{deal_id}": Row("LOHOOO", kwargs={"deal_id": "@deal"}),
    "POST /api/crm/deals/{deal_id}/move": Row(
        "LOHODO", kwargs={"deal_id": "@deal"}, data={"stage_id": "@stage"}
    ),
    "POST /api/crm/deals/{deal_id}/lose": Row(
        "LOHODO", kwargs={"deal_id": "@deal"}, data={"reason_id": "@lost_reason"}
    ),
    "GET /api/metrics": Row("LOOOOO", query="?from=2026-03-01&to=2026-03-31"),
    "POST /api/telephony/webhooks/twilio/status": Row("DDDDDD"),
    "POST /api/telephony/webhooks/twilio/recording": Row("DDDDDD"),
    "GET /api/telephony/webhooks/zadarma": Row("OOOOOO", query="?zd_echo=abc"),
    "POST /api/telephony/webhooks/zadarma": Row("DDDDDD"),
    "POST /api/telephony/webhooks/mango/events/call": Row("DDDDDD"),
    "POST /api/telephony/webhooks/mango/events/summary": Row("DDDDDD"),
    "POST /api/telephony/webhooks/mango/events/recording": Row("DDDDDD"),
    "POST /api/telephony/webhooks/mango/events/record/added": Row("DDDDDD"),
    "POST /api/telephony/webhooks/mango/ping": Row("OOOOOO"),  # an availability echo
    "POST /api/telephony/webhooks/calls": Row("BBBBBB"),  # unsigned and empty
    # The PBX asks with its own routing token; user tokens are not it.
    "GET /api/telephony/route": Row("LLLLLL", query="?number=%2B97699112233"),
    "GET /api/telephony/calls": Row("LOOOOO", query="?from=2026-03-01&to=2026-03-31"),
    "GET /api/mail/messages": Row("LOOOOO"),
    "GET /api/mail/mailboxes": Row("LOOOOO"),
    "GET /api/quality/calls/{call_id}/analysis": Row("LOHOOO", kwargs={"call_id": "@call"}),
    "GET /api/quality/reviews": Row("LOOOOO"),
    "GET /api/alerts": Row("LOOOOO"),
}


def _walk(resolver: URLResolver, prefix: str = "", namespace: str | None = None):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern, prefix + str(pattern.pattern), ns or None)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield prefix + str(pattern.pattern), name


def url_names() -> list[str]:
    return sorted({name for _path, name in _walk(get_resolver())})


# --- the little world the requests act on ----------------------------------------------------


@pytest.fixture
def objects(world, settings, tmp_path):
    from funnelwatch.alerts.models import Alert, DigestCopy
    from funnelwatch.clients import segments
    from funnelwatch.crm import services as crm
    from funnelwatch.crm.models import Company
    from funnelwatch.handoffs import feeds
    from funnelwatch.handoffs import services as handoffs
    from funnelwatch.handoffs.models import Department
    from funnelwatch.mail import services as mail
    from funnelwatch.mail.ingest import Incoming, store
    from funnelwatch.mail.models import Attachment, Message, Security
    from funnelwatch.mail.parsing import parse
    from funnelwatch.mail.tests.letters import letter
    from funnelwatch.quality.models import RecordingAnalysis
    from funnelwatch.telephony.models import Call, Recording

    settings.MEDIA_ROOT = str(tmp_path / "media")
    now = timezone.now()
    contact = crm.create_contact(
        actor=world.alice, name="Client", owner=world.alice, emails=["client@acme.test"]
    )
    deal = crm.create_lead(actor=world.alice, title="Acme", owner=world.alice, contact=contact)
    lost = crm.create_lead(actor=world.alice, title="Lost one", owner=world.alice)
    crm.lose(lost, actor=world.alice, reason=world.lost_reason)
    note = crm.add_note(deal=deal, actor=world.alice, text="First talk")
    task = crm.create_task(
        actor=world.alice,
        deal=deal,
        title="Call back",
        assignee=world.alice,
        due_at=now + dt.timedelta(days=1),
    )
    call = Call.objects.create(
        provider="test",
        external_id="c1",
        direction="out",
        started_at=now - dt.timedelta(hours=2),
        duration_s=60,
        talk_seconds=60,
        outcome="answered",
        manager=world.alice,
        to_number="+97699112233",
        deal=deal,
    )
    rec = Recording(call=call, status=Recording.Status.STORED, content_type="audio/wav")
    rec.file.save("call.wav", ContentFile(b"RIFF" + b"\0" * 400), save=True)
    RecordingAnalysis.objects.create(recording=rec, status="ok", duration_s=60.0)
    box = mail.add_mailbox(
        actor=world.head,
        user=world.alice,
        host="imap.test",
        port=993,
        login="alice",
        password="pw",
        security=Security.SSL,
    )
    raw = letter(
        "client@acme.test",
        "alice@firm.test",
        "Question",
        attachments=[("offer.pdf", b"%PDF-1.4 x", "application/pdf")],
        msgid="<q1@acme.test>",
    )
    store([Incoming(parse(raw), "INBOX", 1, 1)], box)
    sent = letter("alice@firm.test", "client@acme.test", "Offer", msgid="<o1@firm.test>")
    store([Incoming(parse(sent), "Sent", 1, 2)], box)
    alert = Alert.objects.create(
        kind="stalled_deal",
        manager=world.alice,
        cause_key=f"stalled_deal:{deal.pk}",
        numbers={
            "deal": deal.pk,
            "title": "Acme",
            "stage": "New",
            "days_in_stage": 9,
            "norm_days": 1,
        },
        message="Acme is stalled",
    )
    digest = DigestCopy.objects.create(
        kind="daily", day=now.date(), recipient=world.head, subject="Day", text="t", html="h"
    )
    # A client of alice's that stopped buying: sleeping, to be woken up.
    company = Company.objects.create(name="Sleepy", owner=world.alice)
    old = crm.create_lead(
        actor=world.alice,
        title="Old order",
        owner=world.alice,
        company=company,
        at=now - dt.timedelta(days=200),
    )
    crm.win(old, actor=world.alice, at=now - dt.timedelta(days=190))
    segments.store(timezone.localdate())
    from funnelwatch.plans.models import Plan, PlanStep
    from funnelwatch.skills import services as skills

    plan = Plan.objects.create(
        title="Alice's month",
        target=1000,
        manager=world.alice,
        first_day=now.date(),
        last_day=now.date() + dt.timedelta(days=30),
    )
    plan_step = PlanStep.objects.create(
        plan=plan, title="Call ten clients", owner=world.alice, due_date=now.date()
    )

    question = skills.create_question(
        topic="objections", kind="open", text="Too expensive?", options="", points=2, by=world.head
    )
    skill_test = skills.create_test(
        title="Objections", pass_pct=70, question_ids=[str(question.pk)], by=world.head
    )
    (test_assignment,) = skills.assign(
        test=skill_test, managers=[world.alice], due_date=now.date(), by=world.head
    )
    (taken,) = skills.assign(
        test=skill_test,
        managers=[world.alice],
        due_date=now.date() - dt.timedelta(days=7),
        by=world.head,
    )
    skills.submit(taken, world.alice, {question.pk: {"text": "Compare the yearly cost."}})
    department = Department.objects.create(name="Accounting")
    department.members.set([world.clerk])
    handoff = handoffs.request(
        actor=world.alice, deal=deal, department=department, kind="invoice", text="Invoice"
    )
    from funnelwatch.imports import services as imports
    from funnelwatch.imports.models import ImportBatch

    upload = [("deals.csv", b"Deal Name,Deal owner,Deal Stage,Record ID\nAcme,Alice,Won,1\n")]
    import_batch = ImportBatch.objects.create(
        created_by=world.head, format="hubspot", file_names=["deals.csv"]
    )
    import_batch.preview = imports.make_preview(import_batch, upload, "hubspot")
    imports.store(import_batch, upload)
    import_batch.save()
    letter_row = Message.objects.get(subject="Question")
    sent_row = Message.objects.get(subject="Offer")
    if sent_row.deal_id is None:
        Message.objects.filter(pk=sent_row.pk).update(deal=deal)
    return SimpleNamespace(
        alice=world.alice,
        deal=deal,
        lost_deal=lost,
        stage=world.stages["Qualified"],
        lost_reason=world.lost_reason,
        note=note,
        task=task,
        contact=contact,
        call=call,
        mailbox=box,
        letter=letter_row,
        sent_letter=sent_row,
        attachment=Attachment.objects.get(message=letter_row),
        digest=digest,
        company=company,
        plan=plan,
        plan_step=plan_step,
        skill_question=question,
        skill_test=skill_test,
        test_assignment=test_assignment,
        taken_assignment=taken,
        department=department,
        handoff=handoff,
        feed=SimpleNamespace(pk=feeds.token_for(world.alice)),
        import_batch=import_batch,
        alert=alert,
    )


def _user(world, role: str):
    return {
        "anonymous": None,
        "manager": world.alice,
        "other_manager": world.bob,
        "team_lead": world.lead,
        "reviewer": world.reviewer,
        "head": world.head,
        "department": world.clerk,
    }[role]


def _caller(world, role: str) -> Client:
    client = Client()
    user = _user(world, role)
    if user is not None:
        client.force_login(user)
    return client


def _resolve(value, objects) -> object:
    """``"@name"`` is the primary key of the fixture's object of that name."""
    if isinstance(value, str) and value.startswith("@"):
        return getattr(objects, value[1:]).pk
    return value


def classify(response) -> str:
    code = response.status_code
    if code in (301, 302, 303) and "/login/" in response.get("Location", ""):
        return "L"
    if code == 401:
        return "L"
    if code == 403:
        return "D"
    if code == 404:
        return "H"
    if code == 405:
        return "M"
    if code in (400, 422):
        return "B"
    if code >= 500:
        return "E"
    return "O"


def _audit_count() -> int:
    from funnelwatch.audit.models import AuditEvent

    return AuditEvent.objects.count()


def _ask(client: Client, method: str, url: str, data: dict):
    """One request in a savepoint rolled back afterwards: the outcome, the number of audit
    events the request wrote, and the response."""
    with transaction.atomic():
        before = _audit_count()
        response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
        written = _audit_count() - before
        transaction.set_rollback(True)
    return classify(response), written, response


POST_FORM = re.compile(r"<form\b[^>]*>", re.I)


def _post_actions(response) -> list[str]:
    """The actions of the page's POST forms (an empty action posts to the page itself)."""
    if "text/html" not in response.get("Content-Type", ""):
        return []
    actions = []
    for tag in POST_FORM.findall(response.content.decode()):
        if not re.search(r"method=[\"']?post", tag, re.I):
            continue
        action = re.search(r"action=[\"']([^\"']*)", tag)
        actions.append(html.unescape(action.group(1)) if action else "")
    return actions


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)


def _assert_no_inline_script(name: str, response) -> None:
    """The Content-Security-Policy forbids inline scripts: a page must not need one."""
    if "text/html" not in response.get("Content-Type", ""):
        return
    body = response.content.decode()
    assert not INLINE_SCRIPT.search(body), f"{name}: an inline <script>"
    assert not INLINE_HANDLER.search(body), f"{name}: an inline event handler"
    policy = response.get("Content-Security-Policy", "")
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    ), f"{name}: Content-Security-Policy {policy!r}"


def _links(response) -> list[str]:
    if "text/html" not in response.get("Content-Type", ""):
        return []
    hrefs = re.findall(r"<a\b[^>]*\bhref=[\"'](/[^\"']*)", response.content.decode(), re.I)
    return [html.unescape(h) for h in hrefs if not h.startswith(("/static/", "/media/"))]


def _refused_page(path: str, role: str) -> str | None:
    """The view name when the matrix says ``role`` is refused that page for its role (403)."""
    try:
        name = resolve(urlsplit(path).path).view_name
    except Resolver404:
        return None
    row = PAGES.get(name)
    return name if row is not None and row.answers()[0][ROLES.index(role)] == "D" else None


def _allowed_write(name: str, role: str) -> bool:
    answer = PAGES[name].answers()[1][ROLES.index(role)]
    return answer == "O" or name == "logout"


def test_every_pattern_has_a_row():
    names = [n for n in url_names() if not n.startswith(f"{ADMIN_NAMESPACE}:")]
    api_names = {n for n in names if n.startswith("api-1:")} - set(PAGES)
    missing = sorted(set(names) - set(PAGES) - api_names)
    assert not missing, f"URL patterns with no row in the permission matrix: {missing}"
    stale = sorted(set(PAGES) - set(names))
    assert not stale, f"rows for URL patterns that no longer exist: {stale}"


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page(name, world, objects):
    row = PAGES[name]
    url = reverse(name, kwargs={k: _resolve(v, objects) for k, v in row.kwargs.items()})
    data = {k: _resolve(v, objects) for k, v in row.data.items()}
    got_get, got_write = [], []
    for role in ROLES:
        client = _caller(world, role)
        outcome, _written, response = _ask(client, "get", url + row.query, {})
        got_get.append(outcome)
        if outcome == "O":
            _assert_no_inline_script(name, response)
            # The page shows no control the caller may not use.
            for action in _post_actions(response):
                target = resolve(urlsplit(action).path or url).view_name
                assert _allowed_write(target, role), (
                    f"{name}: {role} is shown a form posting to {target}, which refuses them"
                )
            for href in _links(response):
                refused = _refused_page(href, role)
                assert refused is None, f"{name}: {role} is shown a link to {refused} (403)"
        outcome, written, _response = _ask(client, "post", url + row.query, data)
        got_write.append(outcome)
        if outcome not in "O":
            assert written == 0, f"{name}: {role}'s refused write left {written} audit events"
    assert ("".join(got_get), "".join(got_write)) == row.answers(), (
        f"{name} {url}: GET {''.join(got_get)} write {''.join(got_write)} "
        f"(roles {', '.join(ROLES)})"
    )


def api_operations() -> list[str]:
    from funnelwatch.api import api

    schema = api.get_openapi_schema()
    return sorted(
        f"{method.upper()} {path}" for path, ops in schema["paths"].items() for method in ops
    )


def test_every_api_operation_has_a_row():
    operations = api_operations()
    missing = sorted(set(operations) - set(API))
    assert not missing, f"API operations with no row in the permission matrix: {missing}"
    stale = sorted(set(API) - set(operations))
    assert not stale, f"rows for API operations that no longer exist: {stale}"


def _token_caller(world, role: str) -> Client:
    from funnelwatch.accounts.tokens import issue_token

    user = _user(world, role)
    if user is None:
        return Client(enforce_csrf_checks=True)
    return Client(
        enforce_csrf_checks=True, headers={"Authorization": f"Bearer {issue_token(user, 'matrix')}"}
    )


@pytest.mark.parametrize("operation", sorted(API))
def test_api_operation(operation, world, objects):
    row = API[operation]
    method, path = operation.split(" ", 1)
    url = path
    for key, value in row.kwargs.items():
        url = url.replace("{" + key + "}", str(_resolve(value, objects)))
    body = {k: _resolve(v, objects) for k, v in row.data.items()}
    got = []
    for role in ROLES:
        client = _token_caller(world, role)
        with transaction.atomic():
            before = _audit_count()
            if method == "GET":
                response = client.get(url + row.query)
            else:
                response = client.generic(
                    method, url + row.query, json.dumps(body), content_type="application/json"
                )
            written = _audit_count() - before
            transaction.set_rollback(True)
        outcome = classify(response)
        got.append(outcome)
        if method != "GET" and outcome != "O":
            assert written == 0, f"{operation}: {role}'s refused call left {written} audit events"
    expected = row.answers(api=True)[0]
    assert "".join(got) == expected, f"{operation} {url}: {''.join(got)} (roles {', '.join(ROLES)})"


def test_admin_is_for_staff_accounts_only(world):
    """Every admin page sends a non-staff account, whatever its role, to the admin's sign-in;
    the head's demo account is staff and gets in."""
    from django.contrib import admin

    urls = [reverse("admin:index")] + [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    for role in ROLES:
        client = _caller(world, role)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, (role, url, response.status_code)
            assert response["Location"].startswith(reverse("admin:login")), (role, url)
    world.head.is_staff = world.head.is_superuser = True
    world.head.save()
    client = _caller(world, "head")
    assert all(client.get(url).status_code == 200 for url in urls)


def test_a_team_lead_plans_only_for_their_own_team(world, client):
    from funnelwatch.plans.models import Plan

    client.force_login(world.lead)
    base = {
        "title": "March calls",
        "metric": "leads_received",
        "target": "40",
        "first_day": "2026-03-01",
        "last_day": "2026-03-31",
    }
    for other in ({"manager": world.bob.pk}, {"team": world.south.pk}, {}):
        response = client.post(reverse("plans:create"), {**base, **other})
        assert response.status_code == 200, other  # the form again, with the error
        assert not Plan.objects.exists(), other
    for own in ({"manager": world.alice.pk}, {"team": world.north.pk}):
        response = client.post(reverse("plans:create"), {**base, **own})
        assert response.status_code == 302, own
    assert Plan.objects.count() == 2
    client.force_login(world.head)
    assert client.post(reverse("plans:create"), base).status_code == 302  # the department's
