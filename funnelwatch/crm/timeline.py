"""The deal page's one timeline: everything that happened on a deal, newest first, in words.

Stage and owner changes, notes, tasks (set and done), proposals, meetings, calls (with
their recordings) and letters are gathered from their own tables, so each reads as a
sentence ("Stage: Qualified → Proposal sent") with the person who did it. Other edits of
the deal (amount, title, contact...) come from the audit trail, with the field's label and
the related record's name in place of database column names and ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext as _

from funnelwatch.audit.trail import history
from funnelwatch.core.templatetags.humanize_fw import money
from funnelwatch.crm.models import Deal, Outcome

# Edits shown by their own entries (stage and owner changes, closing) or of no interest.
_COVERED = {
    "stage",
    "owner",
    "status",
    "stage_entered_at",
    "closed_at",
    "lost_reason",
    "junk_reason",
    "close_comment",
    "updated_at",
    "created_at",
    "pipeline",
}
# (kind, sort order inside one moment: what happened first comes first)
_ORDER = {"created": 0, "stage": 1, "owner": 2, "edit": 3}


@dataclass
class Entry:
    at: dt.datetime
    kind: str  # created, stage, owner, edit, note, task, task_done, proposal, meeting, call, letter
    title: str
    who: object = None
    text: str = ""
    obj: object = None  # the note, task, call or letter, for the template's controls
    lines: list[str] = field(default_factory=list)

    @property
    def order(self) -> tuple:
        return (self.at, _ORDER.get(self.kind, 9))


def _person(user: object) -> str:
    if user is None:
        return "—"
    return (getattr(user, "get_full_name", lambda: "")() or str(user)).strip()


def _stages(deal: Deal, out: list[Entry]) -> None:
    changes = list(deal.stage_changes.select_related("from_stage", "to_stage", "by"))
    for change in changes:
        if change.from_stage_id is None:
            out.append(
                Entry(
                    change.at,
                    "created",
                    _("Lead created in the stage %(stage)s") % {"stage": change.to_stage.name},
                    change.by,
                )
            )
            continue
        entry = Entry(
            change.at,
            "stage",
            _("Stage: %(old)s → %(new)s")
            % {"old": change.from_stage.name, "new": change.to_stage.name},
            change.by,
        )
        if change is changes[-1] and deal.status in (Outcome.LOST, Outcome.JUNK):
            reason = deal.lost_reason or deal.junk_reason
            entry.text = " — ".join(str(x) for x in (reason, deal.close_comment) if x)
        out.append(entry)


def _owners(deal: Deal, out: list[Entry]) -> None:
    for change in deal.owner_changes.select_related("from_owner", "to_owner", "by"):
        if change.from_owner_id is None:
            continue  # the first owner: the lead's creation says who
        out.append(
            Entry(
                change.at,
                "owner",
                _("Owner: %(old)s → %(new)s")
                % {"old": _person(change.from_owner), "new": _person(change.to_owner)},
                change.by,
            )
        )


def _crm_records(deal: Deal, out: list[Entry]) -> None:
    for note in deal.notes.active().select_related("author"):
        out.append(Entry(note.created_at, "note", _("Note"), note.author, note.text, note))
    for task in deal.tasks.active().select_related("author", "assignee"):
        out.append(
            Entry(
                task.created_at,
                "task",
                _("Task for %(who)s: %(title)s")
                % {"who": _person(task.assignee), "title": task.title},
                task.author,
                _("due %(when)s") % {"when": shown(task.due_at)},
                task,
            )
        )
        if task.done_at:
            out.append(
                Entry(
                    task.done_at,
                    "task_done",
                    _("Task done: %(title)s") % {"title": task.title},
                    task.assignee,
                )
            )
    for proposal in deal.proposals.active().select_related("author"):
        out.append(
            Entry(
                proposal.sent_at,
                "proposal",
                _("Proposal sent: %(amount)s, %(channel)s")
                % {"amount": money(proposal.amount), "channel": proposal.get_channel_display()},
                proposal.author,
                proposal.comment,
            )
        )
    for meeting in deal.meetings.active().select_related("owner"):
        if meeting.status == meeting.Status.HELD:
            title, at = _("Meeting held"), meeting.held_at or meeting.scheduled_at
        elif meeting.status == meeting.Status.CANCELLED:
            title, at = _("Meeting cancelled"), meeting.scheduled_at
        else:
            title, at = _("Meeting planned"), meeting.scheduled_at
        out.append(Entry(at, "meeting", title, meeting.owner, meeting.place))


def _calls(deal: Deal, user: object, out: list[Entry], limit: int) -> None:
    if not apps.is_installed("funnelwatch.telephony"):
        return
    from funnelwatch.telephony import queries

    calls = queries.calls_for(user).filter(deal=deal).order_by("-started_at", "-pk")[:limit]
    for call in calls:
        words = _("Outbound call") if call.direction == "out" else _("Inbound call")
        talk = call.talk_seconds or 0
        title = f"{words}: {call.get_outcome_display()}"
        if talk:
            title += f", {talk // 60}:{talk % 60:02d}"
        call.may_listen = call.manager_id == user.pk or user.sees_everything
        out.append(Entry(call.started_at, "call", title, call.manager, obj=call))


def _letters(deal: Deal, user: object, out: list[Entry], limit: int) -> None:
    if not apps.is_installed("funnelwatch.mail"):
        return
    from funnelwatch.mail import queries

    for letter in queries.timeline(user, deal_id=deal.pk, limit=limit):
        words = _("Letter sent") if letter.direction == "out" else _("Letter received")
        out.append(
            Entry(
                letter.sent_at,
                "letter",
                f"{words}: {letter.subject or _('(no subject)')}",
                letter.owner,
                letter.to_addrs if letter.direction == "out" else letter.from_addr,
                letter,
            )
        )


def _value(model: type[models.Model], name: str, raw: object) -> str:
    """A stored value as a person reads it: the related record's name, the choice's label."""
    if raw in (None, ""):
        return "—"
    try:
        fld = model._meta.get_field(name)
    except FieldDoesNotExist:
        return str(raw)
    if fld.is_relation and fld.related_model is not None:
        obj = fld.related_model._default_manager.filter(pk=raw).first()
        return str(obj) if obj is not None else "—"
    if fld.choices:
        return str(dict(fld.flatchoices).get(raw, raw))
    if isinstance(fld, models.DecimalField):
        return money(raw)
    return str(raw)


def _edits(deal: Deal, out: list[Entry]) -> None:
    for event in history(deal).filter(action="update")[:200]:
        lines = []
        for column, change in (event.changes or {}).items():
            name = column[:-3] if column.endswith("_id") else column
            if name in _COVERED or not isinstance(change, list | tuple) or len(change) != 2:
                continue
            try:
                label = str(Deal._meta.get_field(name).verbose_name)
            except FieldDoesNotExist:
                continue
            old, new = (_value(Deal, name, v) for v in change)
            lines.append(f"{label[:1].upper()}{label[1:]}: {old} → {new}")
        if lines:
            out.append(Entry(event.occurred_at, "edit", _("Deal edited"), event.actor, lines=lines))


def shown(moment: dt.datetime | None) -> str:
    """The one date format of the deal page, in the viewer's time zone."""
    from django.template.defaultfilters import date as date_filter
    from django.utils.timezone import template_localtime

    return date_filter(template_localtime(moment), "Y-m-d H:i") if moment else ""


def deal_timeline(deal: Deal, user: object, limit: int = 200) -> list[Entry]:
    """Everything that happened on the deal that ``user`` may see, newest first."""
    out: list[Entry] = []
    _stages(deal, out)
    _owners(deal, out)
    _crm_records(deal, out)
    _edits(deal, out)
    _calls(deal, user, out, limit)
    _letters(deal, user, out, limit)
    out.sort(key=lambda e: e.order, reverse=True)
    return out[:limit]
