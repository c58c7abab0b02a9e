"""Moving deals, companies, contacts and their history in from another CRM's export.

:func:`run` reads the files, turns every row into the deal it describes (owner, company,
contact, stage, won or lost with dates, history), and writes a whole batch in one
transaction: nothing is half-written, and a dry run (the same work, rolled back) reports
the same numbers with nothing kept. Every imported record keeps its source and its id
there (:class:`ImportedRecord`), so importing the same file again updates what changed and
creates nothing twice. :func:`undo` removes what a batch created.

History follows ``crm.services``: a ``StageChange`` per stage entered (``left_at`` when it
was left, the owner at the time), an ``OwnerChange`` per assignment. When the source has
stage dates (HubSpot's ``Date entered "…"`` columns, Pipedrive's last stage change, a
Kommo or Bitrix24 stage history file) they are used; otherwise the deal is created in the
first stage, moves to its stage and closes on its closing date. The rollups of the days
touched are rebuilt once the batch is committed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import models, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from funnelwatch import metrics
from funnelwatch.accounts.models import Role, User
from funnelwatch.audit.models import AuditEvent
from funnelwatch.audit.trail import Actor, acting_as, attributed_to, creation_event
from funnelwatch.crm.models import (
    MONEY_LIMIT,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    JunkReason,
    LeadSource,
    LostReason,
    Outcome,
    OwnerChange,
    Pipeline,
    Stage,
    StageChange,
)
from funnelwatch.imports import presets, readers, values
from funnelwatch.imports.models import ImportBatch, ImportedRecord
from funnelwatch.lib import phones
from funnelwatch.metrics import refresh
from funnelwatch.metrics.common import local_day

CHUNK = 1000
NO_REASON = "Not stated in the import"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ImportFailed(ValueError):
    """The import as a whole cannot go on (unreadable file, bad mapping); nothing written."""


@dataclass
class Report:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)
    files: list[dict] = field(default_factory=list)

    def reject(self, row: Row, error: str) -> None:
        self.rejected.append(
            {"line": row.line, "error": error, "file": row.file, "values": row.raw}
        )

    def warn(self, row: Row | None, warning: str) -> None:
        self.warnings.append(
            {"line": row.line if row else 0, "warning": warning, "file": row.file if row else ""}
        )

    def as_dict(self, details: bool = False) -> dict:
        out = {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [
                {"line": r["line"], "error": r["error"]}
                | ({"file": r["file"], "values": r["values"]} if details else {})
                for r in self.rejected
            ],
            "warnings": [
                {"line": w["line"], "warning": w["warning"]}
                | ({"file": w["file"]} if details else {})
                for w in self.warnings
            ],
            "owners": dict(self.owners),
        }
        if details:
            out["files"] = self.files
        return out


@dataclass
class Row:
    file: str
    line: int
    raw: dict
    kind: str  # deal, contact, history
    v: dict = field(default_factory=dict)
    stage_dates: list[tuple[str, str]] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------


def validate_mapping(mapping: dict, fmt: str) -> dict:
    """The mapping as given, or ImportFailed naming what is wrong in it."""
    if not isinstance(mapping, dict):
        raise ImportFailed(_("the mapping must be a JSON object"))
    allowed = {"columns", "stages", "date_format", "owners", "owner_map", "pipeline", "source"}
    unknown = set(mapping) - allowed
    if unknown:
        raise ImportFailed(
            _("mapping: unknown keys %(keys)s") % {"keys": ", ".join(sorted(unknown))}
        )
    columns = mapping.get("columns", {})
    if not isinstance(columns, dict):
        raise ImportFailed(_("mapping: columns must be an object of field -> column"))
    for fld, col in columns.items():
        if fld not in presets.GENERIC_FIELDS:
            raise ImportFailed(
                _("mapping: columns: unknown field %(field)s (one of %(fields)s)")
                % {"field": repr(fld), "fields": ", ".join(presets.GENERIC_FIELDS)}
            )
        if not (
            isinstance(col, str) or (isinstance(col, list) and all(isinstance(c, str) for c in col))
        ):
            raise ImportFailed(_("mapping: columns: %(field)s must name a column") % {"field": fld})
    if fmt == "generic" and not columns:
        raise ImportFailed(_("the generic format needs a mapping with columns (--mapping)"))
    stages = mapping.get("stages", {})
    if not isinstance(stages, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in stages.items()
    ):
        raise ImportFailed(
            _("mapping: stages must be an object of source stage -> won|lost|open|stage name")
        )
    if mapping.get("owners", "create") not in ("create", "match"):
        raise ImportFailed(_("mapping: owners must be create or match"))
    owner_map = mapping.get("owner_map", {})
    if not isinstance(owner_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in owner_map.items()
    ):
        raise ImportFailed(
            _("mapping: owner_map must be an object of name in the file -> username")
        )
    date_format = mapping.get("date_format")
    if date_format is not None:
        if not isinstance(date_format, str) or "%" not in date_format:
            raise ImportFailed(
                _("mapping: date_format must be a strptime format such as %(example)s")
                % {"example": "%m/%d/%Y"}
            )
        try:
            dt.datetime(2017, 3, 1).strftime(date_format)
        except ValueError:
            raise ImportFailed(
                _("mapping: date_format %(format)s is not a format") % {"format": repr(date_format)}
            ) from None
    for key in ("pipeline", "source"):
        if key in mapping and (not isinstance(mapping[key], str) or not mapping[key].strip()):
            raise ImportFailed(_("mapping: %(key)s must be a name") % {"key": key})
    return mapping


def _cell(row: dict, header: str) -> str:
    value = row.get(header)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value).strip()


def _split_many(text: str) -> list[str]:
    return [p.strip().lstrip("'") for p in re.split(r"[,;\n]", text) if p.strip().lstrip("'")]


def read_files(
    files: list[tuple[str, bytes]], fmt: str, mapping: dict
) -> tuple[list[Row], list[dict]]:
    """Every data row of the files, with the fields its columns give; a description of
    each file (format, encoding, separator, which columns were used)."""
    rows: list[Row] = []
    described = []
    for name, data in files:
        try:
            table = readers.read(name, data)
        except readers.UnreadableFile as exc:
            raise ImportFailed(str(exc)) from None
        preset = presets.PRESETS.get(fmt)
        kind = "deal"
        if preset is None:
            cols = presets.generic_columns(mapping, table.headers)
            missing = [
                c
                for f, c in (mapping.get("columns") or {}).items()
                for c in (c if isinstance(c, list) else [c])
                if c not in table.headers and f not in presets.MULTI
            ]
            if missing:
                raise ImportFailed(
                    _("%(file)s: the mapping names columns the file does not have: %(columns)s")
                    % {"file": name, "columns": ", ".join(missing)}
                )
        else:
            cols = presets.columns_for(preset, table.headers)
            if mapping.get("columns"):
                extra = presets.generic_columns(mapping, table.headers)
                cols.single.update(extra.single)
                cols.multi.update({k: v for k, v in extra.multi.items() if v})
            if "title" not in cols.single and not cols.stage_dates:
                history = presets.columns_for(preset, table.headers, history=True)
                if {"external_id", "stage", "stage_at"} <= history.found:
                    cols, kind = history, "history"
                elif "contact" in cols.single or cols.multi.get("phone") or cols.multi.get("email"):
                    kind = "contact"
                elif "company" not in cols.single:
                    raise ImportFailed(
                        _(
                            "%(file)s: no columns of a %(format)s export of deals, contacts or "
                            "stage history (found: %(headers)s)"
                        )
                        % {
                            "file": name,
                            "format": fmt,
                            "headers": ", ".join(h for h in table.headers if h)[:300],
                        }
                    )
                else:
                    kind = "contact"
        if kind == "deal" and not ({"title", "external_id", "company", "contact"} & cols.found):
            raise ImportFailed(
                _("%(file)s: no column gives the deal's title or id") % {"file": name}
            )
        described.append(
            {
                "name": name,
                "kind": kind,
                "reader": table.kind,
                "encoding": table.encoding,
                "delimiter": {"\t": "tab"}.get(table.delimiter, table.delimiter),
                "rows": len(table.rows),
                "columns": {**cols.single, **{k: v for k, v in cols.multi.items() if v}},
                "stage_dates": cols.stage_dates,
            }
        )
        for line, raw in table.rows:
            row = Row(name, line, {k: _cell(raw, k) for k in raw if k}, kind)
            for fld, header in cols.single.items():
                row.v[fld] = _cell(raw, header)
            for fld, headers in cols.multi.items():
                found: list[str] = []
                for header in headers:
                    text = _cell(raw, header)
                    found += _split_many(text) if fld != "note" else ([text] if text else [])
                row.v[fld] = found
            for header, stage in cols.stage_dates.items():
                text = _cell(raw, header)
                if text:
                    row.stage_dates.append((stage, text))
            rows.append(row)
    return rows, described


# --- resolving names to records ---------------------------------------------------------


class Context:
    """What the rows are matched against, loaded once per batch."""

    def __init__(self, fmt: str, mapping: dict, report: Report, user: User | None) -> None:
        self.fmt = fmt
        self.source = (mapping.get("source") or fmt).strip()[:20]
        self.mapping = mapping
        self.report = report
        self.user = user
        self.tz = timezone.get_current_timezone()
        self.region = settings.FUNNELWATCH_PHONE_REGION
        self.date_format = mapping.get("date_format")
        self.now = timezone.now()
        self.pipeline = self._pipeline(mapping.get("pipeline"))
        self.stages = list(self.pipeline.stages.order_by("position"))
        self.first = next(s for s in self.stages if s.outcome == Outcome.OPEN)
        self.stage_map = {
            k.strip().casefold(): v.strip() for k, v in (mapping.get("stages") or {}).items()
        }
        self.users: dict[str, User] = {}
        self._user_index: dict[str, User] | None = None
        self.owner_mode = mapping.get("owners", "create")
        self.owner_map = {
            k.strip().casefold(): v for k, v in (mapping.get("owner_map") or {}).items()
        }
        self.companies: dict[str, int] = {}
        self.lost_reasons: dict[str, LostReason] = {}
        self.sources: dict[str, LeadSource] = {}
        self.warned: set[str] = set()
        self._dates: dict[str, dt.datetime | None] = {}

    def _pipeline(self, name: str | None) -> Pipeline:
        if name:
            found = Pipeline.objects.filter(name__iexact=name.strip()).first()
            if found is not None:
                return found
            return _new_pipeline(name.strip()[:100], default=not Pipeline.objects.exists())
        found = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
        return found or _new_pipeline("Sales", default=True)

    def warn_once(self, row: Row | None, key: str, text: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            self.report.warn(row, text)

    # stages

    def stage(self, name: str, row: Row) -> Stage | None:
        """The stage a source stage name stands for: the mapping's choice, a stage of ours
        of that name, won/lost by the vendors' words, or a new open stage."""
        key = name.strip().casefold()
        target = self.stage_map.get(key, "")
        if target:
            if target in ("won", "lost", "junk"):
                return self._closing(target)
            if target == "open":
                return self.first
            found = next((s for s in self.stages if s.name.casefold() == target.casefold()), None)
            if found is None:
                found = self._new_stage(target)
            return found
        found = next((s for s in self.stages if s.name.casefold() == key), None)
        if found is not None:
            return found
        outcome = presets.outcome_of(name)
        if outcome in ("won", "lost"):
            return self._closing(outcome)
        if outcome == "open":
            return self.first
        if self.fmt == "generic" and self.stage_map:
            self.warn_once(
                row,
                f"stage:{key}",
                _("stage %(name)s is not in the mapping: put in %(stage)s")
                % {"name": repr(name), "stage": self.first.name},
            )
            return self.first
        stage = self._new_stage(name.strip()[:100])
        self.warn_once(
            row,
            f"stage:{key}",
            _("new stage %(stage)s added to %(pipeline)s")
            % {"stage": repr(stage.name), "pipeline": self.pipeline},
        )
        return stage

    def _closing(self, outcome: str) -> Stage:
        found = next((s for s in self.stages if s.outcome == outcome), None)
        if found is None:
            found = self._new_stage(outcome.capitalize(), outcome=outcome)
        return found

    def _new_stage(self, name: str, outcome: str = Outcome.OPEN) -> Stage:
        stage = Stage.objects.create(
            pipeline=self.pipeline,
            name=name,
            position=max((s.position for s in self.stages), default=0) + 1,
            block=_block_for(name),
            outcome=outcome,
        )
        self.stages.append(stage)
        return stage

    # owners

    def owner(self, name: str, row: Row) -> User | None:
        key = name.strip().casefold()
        if not key:
            return None
        if key in self.users:
            return self.users[key]
        wanted = self.owner_map.get(key)
        if self._user_index is None:
            self._user_index = {}
            for user in User.objects.all():
                for alias in (
                    user.username,
                    user.email,
                    user.get_full_name(),
                    f"{user.last_name} {user.first_name}",
                ):
                    if alias and alias.strip():
                        self._user_index.setdefault(alias.strip().casefold(), user)
        user = None
        if wanted:
            user = self._user_index.get(wanted.strip().casefold())
            if user is None:
                raise ImportFailed(
                    _("mapping: owner_map: no user %(user)s") % {"user": repr(wanted)}
                )
        else:
            user = self._user_index.get(key) or self._user_index.get(values.person_key(name))
        if user is None:
            if self.owner_mode != "create":
                return None
            user = self._new_user(name.strip())
        self.users[key] = user
        self.report.owners[name.strip()] = user.username
        return user

    def _new_user(self, name: str) -> User:
        base = values.username_for(name)
        username, n = base, 1
        while User.objects.filter(username=username).exists():
            n += 1
            username = f"{base}{n}"
        first, _sep, last = name.partition(" ")
        # Inactive until someone gives them a password: an owner of old deals, not a login.
        user = User(
            username=username,
            first_name=first[:150],
            last_name=last[:150],
            role=Role.MANAGER,
            is_active=False,
            password=make_password(None),
        )
        with attributed_to(self.actor(self.now)):
            user.save()
        self._user_index[name.casefold()] = user
        return user

    def actor(self, at: dt.datetime | None) -> Actor:
        return Actor(
            self.user.pk if self.user else None,
            AuditEvent.Source.INTEGRATION,
            f"import {self.source}"[:100],
            at,
        )

    def lost_reason(self, name: str) -> LostReason:
        name = (name.strip() or NO_REASON)[:100]
        key = name.casefold()
        if key not in self.lost_reasons:
            found = LostReason.objects.filter(name__iexact=name).first()
            self.lost_reasons[key] = found or LostReason.objects.create(name=name)
        return self.lost_reasons[key]

    def lead_source(self, name: str) -> LeadSource | None:
        name = name.strip()[:100]
        if not name:
            return None
        key = name.casefold()
        if key not in self.sources:
            found = LeadSource.objects.filter(name__iexact=name).first()
            self.sources[key] = found or LeadSource.objects.create(name=name)
        return self.sources[key]

    def when(self, text: str, row: Row | None = None, what: str = "") -> dt.datetime | None:
        """The moment a date cell means (BadValue when none). A file repeats the same few
        hundred dates over many rows: each text is read once."""
        if not text:
            return None
        try:
            return self._dates[text]
        except KeyError:
            pass
        moment = self._dates[text] = values.parse_when(text, self.tz, self.date_format)
        return moment


def _new_pipeline(name: str, default: bool) -> Pipeline:
    from django.conf import settings
    from django.utils import translation

    from funnelwatch.crm.demo import STAGES

    pipeline = Pipeline.objects.create(name=name, is_default=default)
    # The standard stages, named in the installation's language.
    with translation.override(settings.LANGUAGE_CODE):
        Stage.objects.bulk_create(
            Stage(
                pipeline=pipeline,
                name=translation.gettext(n),
                position=i,
                block=b,
                outcome=o,
                norm_days=d,
            )
            for i, (_key, n, b, o, d) in enumerate(STAGES, start=1)
        )
    return pipeline


_BLOCK_WORDS = (
    ("closing", ("contract", "invoice", "payment", "договор", "счет", "счёт", "оплат", "гэрээ")),
    ("objections", ("negotiat", "objection", "decision", "переговор", "возражен", "решени")),
    ("proposal", ("proposal", "offer", "quote", "кп", "предложени", "санал")),
)


def _block_for(name: str) -> str:
    text = name.casefold()
    for block, words in _BLOCK_WORDS:
        if any(w in text for w in words):
            return block
    return "intake"


# --- one deal ----------------------------------------------------------------------------


@dataclass
class Plan:
    """What one row makes of a deal: its fields and its history."""

    row: Row
    source_id: str
    fields: dict
    stages: list[tuple[Stage, dt.datetime, int]]  # stage, entered at, owner id then
    owners: list[tuple[int | None, int, dt.datetime]]  # from, to, at
    company: str  # company key ("" for none)
    company_name: str
    contact: ContactPlan | None
    # No date in the row: created at the import time (a rerun keeps the first one).
    guessed_created: bool = False


@dataclass
class ContactPlan:
    name: str
    company: str
    company_name: str
    phones: list[tuple[str, str]]  # (E.164, as written)
    emails: list[str]

    @property
    def key(self) -> str:
        return f"{values.person_key(self.name)}|{self.company}"


def _contact_plan(row: Row, ctx: Context, name_fallback: str) -> ContactPlan | None:
    name = row.v.get("contact", "")
    numbers = []
    for raw in row.v.get("phone", []) or []:
        try:
            numbers.append((phones.normalize(raw, ctx.region), raw[:40]))
        except phones.InvalidPhone as exc:
            ctx.report.warn(
                row, _("phone %(phone)s left out: %(error)s") % {"phone": repr(raw), "error": exc}
            )
    emails = []
    for raw in row.v.get("email", []) or []:
        text = raw.strip().lower()
        if EMAIL.match(text) and len(text) <= 254:
            emails.append(text)
        else:
            ctx.report.warn(
                row, _("e-mail %(email)s left out: not an address") % {"email": repr(raw)}
            )
    if not name and not numbers and not emails:
        return None
    company_name = row.v.get("company", "")
    return ContactPlan(
        name=(name or name_fallback or numbers and numbers[0][0] or emails[0])[:200],
        company=values.company_key(company_name) if company_name else "",
        company_name=company_name[:200],
        phones=list(dict.fromkeys(numbers)),
        emails=list(dict.fromkeys(emails)),
    )


def plan_deal(row: Row, ctx: Context, history: list[tuple[str, dt.datetime, str]]) -> Plan | None:
    """The deal a row describes, or None (the row is rejected, the report says why)."""
    v = row.v
    report = ctx.report
    title = (v.get("title") or "").strip()
    company_name = (v.get("company") or "").strip()
    contact_name = (v.get("contact") or "").strip()
    ext = (v.get("external_id") or "").strip()
    if not title:
        title = company_name or contact_name or (f"#{ext}" if ext else "")
    if not title:
        report.reject(row, _("no title: the row names no deal, company or contact"))
        return None
    owner_name = (v.get("owner") or "").strip()
    if not owner_name:
        report.reject(row, _("no owner"))
        return None
    owner = ctx.owner(owner_name, row)
    if owner is None:
        report.reject(
            row,
            _("owner %(owner)s is not a user here (owners: match)") % {"owner": repr(owner_name)},
        )
        return None
    try:
        amount = values.parse_amount(v.get("amount"))
    except values.BadValue as exc:
        report.reject(row, _("amount: %(error)s") % {"error": exc})
        return None
    amount = amount or Decimal("0")
    if amount < 0 or amount >= MONEY_LIMIT:
        report.reject(
            row,
            _("amount: %(amount)s is outside 0 … %(limit)s")
            % {"amount": amount, "limit": MONEY_LIMIT - 1},
        )
        return None
    amount = amount.quantize(Decimal("0.01"))
    dates = {}
    for fld in ("created_at", "closed_at", "won_at", "lost_at", "stage_at"):
        try:
            dates[fld] = ctx.when(v.get(fld, ""), row, fld)
        except values.BadValue as exc:
            report.reject(row, "%s: %s" % (fld, exc))  # noqa: UP031
            return None
    stage_dates = []
    for name, text in row.stage_dates:
        try:
            at = ctx.when(text)
        except values.BadValue as exc:
            report.reject(
                row, _("date entered %(stage)s: %(error)s") % {"stage": repr(name), "error": exc}
            )
            return None
        if at is not None:
            stage_dates.append((name, at, owner_name))
    history = sorted([*stage_dates, *history], key=lambda h: h[1])

    # Outcome: a status column first (Pipedrive), then the stage's own meaning.
    status_text = (v.get("status") or "").strip()
    stage_name = (v.get("stage") or "").strip()
    outcome = presets.outcome_of(status_text) if status_text else None
    if status_text and outcome is None and status_text.casefold() != "deleted":
        mapped = ctx.stage_map.get(status_text.casefold())
        outcome = mapped if mapped in ("won", "lost", "open") else None
    if status_text.casefold() == "deleted":
        report.reject(row, _("the deal was deleted in the source"))
        return None
    stage = ctx.stage(stage_name, row) if stage_name else None
    reached = None  # the open stage a deal was closed from, when a status column closes it
    if outcome in ("won", "lost") and (stage is None or stage.outcome != outcome):
        if stage is not None and stage.outcome == Outcome.OPEN and stage.pk != ctx.first.pk:
            reached = stage_name
        stage = ctx._closing(outcome)
    if stage is None:
        stage = history and ctx.stage(history[-1][0], row) or ctx.first
    outcome = stage.outcome

    known = [
        d
        for d in (
            dates["created_at"],
            dates["stage_at"],
            dates["closed_at"],
            dates["won_at"],
            dates["lost_at"],
        )
        if d
    ] + [h[1] for h in history]
    created = dates["created_at"]
    if created is None:
        created = min(known) if known else ctx.now
        report.warn(
            row,
            _("no creation date: the row's earliest date used")
            if known
            else _("no creation date: the import time used"),
        )
    if reached and not any(h[0] == reached for h in history):
        history.append((reached, dates["stage_at"] or created, ""))
        history.sort(key=lambda h: h[1])
    closed = None
    if outcome != Outcome.OPEN:
        closed = (
            (dates["won_at"] if outcome == Outcome.WON else dates["lost_at"])
            or dates["closed_at"]
            or dates["stage_at"]
            or (history[-1][1] if history else None)
        )
        if closed is None:
            closed = created
            report.warn(row, _("closed without a closing date: the creation date used"))
        if closed < created:
            report.warn(row, _("closed before it was created: the creation date used for both"))
            closed = created

    # History: the first stage at creation, the stages the source dates, the stage now.
    timeline: list[tuple[Stage, dt.datetime, int]] = [(ctx.first, created, owner.pk)]
    owners: list[tuple[int | None, int, dt.datetime]] = []
    current_owner = owner
    if history and history[0][2] and history[0][2] != owner_name:
        first_owner = ctx.owner(history[0][2], row)
        if first_owner is not None:
            current_owner = first_owner
            timeline[0] = (ctx.first, created, first_owner.pk)
    owners.append((None, current_owner.pk, created))
    for name, at, who in history:
        st = ctx.stage(name, row)
        if st is None:
            continue
        at = max(at, timeline[-1][1])
        if who and who != owner_name or (who == owner_name and current_owner != owner):
            new_owner = ctx.owner(who, row) if who else owner
            if new_owner is not None and new_owner.pk != current_owner.pk:
                owners.append((current_owner.pk, new_owner.pk, at))
                current_owner = new_owner
        if st.pk != timeline[-1][0].pk:
            if st.outcome != Outcome.OPEN and st.pk != stage.pk:
                continue  # closed and reopened in the source: the open stages tell the story
            timeline.append((st, at, current_owner.pk))
    if current_owner.pk != owner.pk:
        owners.append((current_owner.pk, owner.pk, max(timeline[-1][1], created)))
        current_owner = owner
    if stage.pk != timeline[-1][0].pk:
        if outcome == Outcome.OPEN:
            at = dates["stage_at"] or timeline[-1][1]
        else:
            at = closed
        timeline.append((stage, max(at, timeline[-1][1]), owner.pk))
    if outcome != Outcome.OPEN:
        closed = timeline[-1][1]

    fields = {
        "title": title[:200],
        "owner_id": owner.pk,
        "amount": amount,
        "currency": (v.get("currency") or settings.FUNNELWATCH_CURRENCY).strip()[:3].upper()
        if re.fullmatch(r"[A-Za-z]{3}", (v.get("currency") or "").strip())
        else settings.FUNNELWATCH_CURRENCY,
        "pipeline_id": ctx.pipeline.pk,
        "stage_id": stage.pk,
        "status": outcome,
        "created_at": created,
        "closed_at": closed,
        "stage_entered_at": timeline[-1][1],
        "lost_reason_id": ctx.lost_reason(v.get("lost_reason", "")).pk
        if outcome == Outcome.LOST
        else None,
        "junk_reason_id": _junk_reason().pk if outcome == Outcome.JUNK else None,
        "source_id": (s.pk if (s := ctx.lead_source(v.get("source", ""))) else None),
    }
    if v.get("note"):
        ctx.warn_once(row, "notes", _("notes are not imported (see docs/import.md)"))
    source_id = (
        ext
        or "row:"
        + hashlib.sha1(
            "|".join([title, company_name, contact_name, v.get("created_at", "")]).encode()
        ).hexdigest()[:20]
    )
    return Plan(
        row=row,
        source_id=source_id[:200],
        fields=fields,
        stages=timeline,
        owners=owners,
        company=values.company_key(company_name) if company_name else "",
        company_name=company_name[:200],
        contact=_contact_plan(row, ctx, title if not contact_name else contact_name)
        if (contact_name or v.get("phone") or v.get("email"))
        else None,
        guessed_created=not known and dates["created_at"] is None,
    )


_JUNK: list[JunkReason] = []


def _junk_reason() -> JunkReason:
    return JunkReason.objects.get_or_create(name=NO_REASON)[0]


# --- the batch -------------------------------------------------------------------------


class _Rollback(Exception):
    pass


def run(
    files: list[tuple[str, bytes]],
    fmt: str,
    mapping: dict | None = None,
    *,
    user: User | None = None,
    dry_run: bool = False,
    batch: ImportBatch | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Report, ImportBatch | None]:
    """Import ``files`` (name, content) of format ``fmt``. Returns the report and the
    batch (None for a dry run). Raises ImportFailed for what stops the whole import."""
    if fmt not in presets.FORMATS:
        raise ImportFailed(
            _("unknown format %(format)s (one of %(formats)s)")
            % {"format": repr(fmt), "formats": ", ".join(presets.FORMATS)}
        )
    mapping = validate_mapping(mapping or {}, fmt)
    rows, described = read_files(files, fmt, mapping)
    report = Report(rows=len(rows), files=described)
    touched: dict[int, set[dt.date]] = {}
    try:
        with transaction.atomic(), refresh.suspended():
            if batch is None:
                batch = ImportBatch(created_by=user, format=fmt, file_names=[n for n, _ in files])
            batch.mapping = mapping
            batch.encoding = ", ".join(sorted({d["encoding"] for d in described if d["encoding"]}))
            batch.state = ImportBatch.State.RUNNING
            with acting_as(user):
                batch.save()
            ctx = Context(fmt, mapping, report, user)
            _write(rows, ctx, batch, touched, progress)
            if dry_run:
                raise _Rollback
            days = [d for ds in touched.values() for d in ds]
            batch.state = ImportBatch.State.DONE
            batch.rows, batch.created, batch.updated = report.rows, report.created, report.updated
            batch.unchanged, batch.rejected = report.unchanged, len(report.rejected)
            batch.report = report.as_dict(details=True)
            batch.first_day = min(days) if days else None
            batch.last_day = max(days) if days else None
            batch.owner_ids = sorted(touched)
            batch.finished_at = timezone.now()
            batch.progress = report.rows
            with acting_as(user):
                batch.save()
    except _Rollback:
        return report, None
    rebuild(touched)
    return report, batch


def rebuild(touched: dict[int, set[dt.date]]) -> None:
    """Tell the numbers which (owner, day) pairs a batch wrote history for.

    The rows were written with the per-row refresh suspended; here every touched pair
    goes through the one door inside one deferred block, so a file of any size is
    recomputed once, each pair once, when the block ends."""
    with refresh.deferred():
        for owner, days in touched.items():
            metrics.changed("import", [owner], days, keys=refresh.EVERY)


def _write(
    rows: list[Row],
    ctx: Context,
    batch: ImportBatch,
    touched: dict[int, set[dt.date]],
    progress: Callable[[int, int], None] | None,
) -> None:
    report = ctx.report
    total = len(rows)
    history: dict[str, list[tuple[str, dt.datetime, str]]] = {}
    for row in rows:
        if row.kind != "history":
            continue
        try:
            at = ctx.when(row.v.get("stage_at", ""))
        except values.BadValue as exc:
            report.reject(row, "stage_at: %s" % exc)  # noqa: UP031
            continue
        ext, stage = row.v.get("external_id", "").strip(), row.v.get("stage", "").strip()
        if not ext or not stage or at is None:
            report.reject(row, _("a history row needs the deal's id, a stage and a date"))
            continue
        history.setdefault(ext, []).append((stage, at, row.v.get("owner", "").strip()))

    plans: list[Plan] = []
    seen: dict[str, int] = {}
    contact_rows: list[ContactPlan] = []
    for i, row in enumerate(rows, start=1):
        if row.kind == "deal":
            plan = plan_deal(row, ctx, history.get(row.v.get("external_id", "").strip(), []))
            if plan is not None:
                if plan.source_id in seen:
                    report.reject(
                        row,
                        _("the same deal id %(id)s as line %(line)s")
                        % {"id": repr(plan.source_id), "line": seen[plan.source_id]},
                    )
                else:
                    seen[plan.source_id] = row.line
                    plans.append(plan)
        elif row.kind == "contact":
            contact = _contact_plan(row, ctx, row.v.get("company", ""))
            if contact is None:
                report.reject(row, _("no contact name, phone or e-mail"))
            else:
                contact_rows.append(contact)
        if progress and i % 2000 == 0:
            progress(i // 2, total)
    if progress:
        progress(total // 2, total)

    companies = _companies(ctx, batch, plans, contact_rows)
    contacts, new_contacts = _contacts(ctx, batch, plans, contact_rows, companies)
    counted: set[str] = set()
    for person in contact_rows:
        if person.key in new_contacts and person.key not in counted:
            report.created += 1
        else:
            report.unchanged += 1
        counted.add(person.key)
    existing = {
        r.source_id: r
        for chunk in _chunks([p.source_id for p in plans])
        for r in ImportedRecord.objects.filter(
            source=ctx.source, kind=ImportedRecord.Kind.DEAL, source_id__in=chunk
        ).select_related("deal")
    }
    histories: dict[int, list[tuple]] = {}
    for chunk in _chunks([r.deal_id for r in existing.values() if r.deal_id]):
        for deal_id, *rest in (
            StageChange.objects.filter(deal_id__in=chunk)
            .order_by("deal_id", "at", "id")
            .values_list("deal_id", "to_stage_id", "at", "owner_id")
        ):
            histories.setdefault(deal_id, []).append(tuple(rest))
    new: list[tuple[Plan, dict]] = []
    for n, plan in enumerate(plans, start=1):
        fields = dict(plan.fields)
        fields["company_id"] = companies.get(plan.company) if plan.company else None
        fields["contact_id"] = contacts.get(plan.contact.key) if plan.contact else None
        if fields["company_id"] is None and fields["contact_id"] is not None:
            fields["company_id"] = contacts.get(f"company:{plan.contact.key}")
        record = existing.get(plan.source_id)
        if record is None or record.deal is None:
            new.append((plan, fields))
            for owner_id, days in _days(plan, ctx.tz).items():
                touched.setdefault(owner_id, set()).update(days)
        else:
            changed = _update(
                record, plan, fields, ctx, batch, touched, histories.get(record.deal_id, [])
            )
            if changed:
                for owner_id, days in _days(plan, ctx.tz).items():
                    touched.setdefault(owner_id, set()).update(days)
                report.updated += 1
            else:
                report.unchanged += 1
        if progress and n % 2000 == 0:
            progress(total // 2 + n * (total - total // 2) // max(len(plans), 1), total)
    _create_deals(new, ctx, batch)
    report.created += len(new)
    if progress:
        progress(total, total)


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _days(plan: Plan, tz: dt.tzinfo) -> dict[int, set[dt.date]]:
    """The local days (company time zone) of each owner the deal's history touches."""
    out: dict[int, set[dt.date]] = {}
    for _stage, at, owner in plan.stages:
        out.setdefault(owner, set()).add(at.astimezone(tz).date())
    for _from, to, at in plan.owners:
        out.setdefault(to, set()).add(at.astimezone(tz).date())
    owner = plan.fields["owner_id"]
    out.setdefault(owner, set()).add(plan.fields["created_at"].astimezone(tz).date())
    if plan.fields["closed_at"]:
        out[owner].add(plan.fields["closed_at"].astimezone(tz).date())
    return out


def _companies(
    ctx: Context, batch: ImportBatch, plans: list[Plan], contacts: list[ContactPlan]
) -> dict[str, int]:
    """Company key -> id: companies of ours with the same name (however spelled), else new."""
    wanted: dict[str, str] = {}
    for plan in plans:
        if plan.company:
            wanted.setdefault(plan.company, plan.company_name)
        if plan.contact and plan.contact.company:
            wanted.setdefault(plan.contact.company, plan.contact.company_name)
    for c in contacts:
        if c.company:
            wanted.setdefault(c.company, c.company_name)
    if not wanted:
        return {}
    found: dict[str, int] = {}
    for pk, name in Company.objects.values_list("pk", "name"):
        found.setdefault(values.company_key(name), pk)
    missing = [(k, n) for k, n in wanted.items() if k not in found]
    rows = [Company(name=n, created_at=ctx.now) for _k, n in missing]
    Company.objects.bulk_create(rows, batch_size=CHUNK)
    actor = ctx.actor(ctx.now)
    AuditEvent.objects.bulk_create([creation_event(c, actor) for c in rows], batch_size=CHUNK)
    ImportedRecord.objects.bulk_create(
        [
            ImportedRecord(
                source=ctx.source,
                kind="company",
                source_id=k[:200],
                batch=batch,
                last_batch=batch,
                company=c,
            )
            for (k, _n), c in zip(missing, rows, strict=True)
        ],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )
    for (k, _n), c in zip(missing, rows, strict=True):
        found[k] = c.pk
    return found


def _contacts(
    ctx: Context,
    batch: ImportBatch,
    plans: list[Plan],
    contact_rows: list[ContactPlan],
    companies: dict[str, int],
) -> tuple[dict[str, int], set[str]]:
    """Contact key -> id: matched by phone, then e-mail, then the same name at the same
    company imported before; new contacts otherwise (one per person, however many rows)."""
    people = [p.contact for p in plans if p.contact] + contact_rows
    if not people:
        return {}, set()
    numbers = {n for c in people for n, _raw in c.phones}
    emails = {e for c in people for e in c.emails}
    by_phone: dict[str, int] = {}
    for chunk in _chunks(sorted(numbers)):
        by_phone.update(
            ContactPhone.objects.filter(number__in=chunk).values_list("number", "contact_id")
        )
    by_email: dict[str, int] = {}
    for chunk in _chunks(sorted(emails)):
        by_email.update(
            ContactEmail.objects.filter(email__in=chunk).values_list("email", "contact_id")
        )
    by_key: dict[str, int] = {}
    keys = sorted({c.key[:200] for c in people})
    for chunk in _chunks(keys):
        by_key.update(
            ImportedRecord.objects.filter(
                source=ctx.source, kind="contact", source_id__in=chunk, contact__isnull=False
            ).values_list("source_id", "contact_id")
        )
    out: dict[str, int] = {}
    new: dict[str, tuple[ContactPlan, Contact]] = {}
    aliases: dict[str, str] = {}
    pending_phone: dict[str, str] = {}
    pending_email: dict[str, str] = {}
    for person in people:
        key = person.key
        if key in out:
            continue
        if key in new or key in aliases:
            # Another row of the same person: its phones and e-mails join the new contact.
            holder_key = aliases.get(key, key)
            holder = new[holder_key][0]
            holder.phones += [p for p in person.phones if p not in holder.phones]
            holder.emails += [e for e in person.emails if e not in holder.emails]
            for n, _r in person.phones:
                pending_phone.setdefault(n, holder_key)
            for e in person.emails:
                pending_email.setdefault(e, holder_key)
            continue
        hit = next((by_phone[n] for n, _r in person.phones if n in by_phone), None)
        hit = hit or next((by_email[e] for e in person.emails if e in by_email), None)
        hit = hit or by_key.get(key[:200])
        if hit:
            out[key] = hit
            continue
        # The same person on another row of this file, known by a phone or an e-mail.
        same = next((pending_phone[n] for n, _r in person.phones if n in pending_phone), None)
        same = same or next((pending_email[e] for e in person.emails if e in pending_email), None)
        if same:
            holder = new[same][0]
            holder.phones += [p for p in person.phones if p not in holder.phones]
            holder.emails += [e for e in person.emails if e not in holder.emails]
            aliases[key] = same
            continue
        contact = Contact(
            name=person.name,
            company_id=companies.get(person.company) if person.company else None,
            created_at=ctx.now,
        )
        new[key] = (
            ContactPlan(
                person.name,
                person.company,
                person.company_name,
                list(person.phones),
                list(person.emails),
            ),
            contact,
        )
        for n, _r in person.phones:
            pending_phone.setdefault(n, key)
        for e in person.emails:
            pending_email.setdefault(e, key)
    created = [(k, p, c) for k, (p, c) in new.items()]
    Contact.objects.bulk_create([c for _k, _p, c in created], batch_size=CHUNK)
    phone_rows = [
        ContactPhone(contact=c, number=n, raw=r)
        for _k, p, c in created
        for n, r in dict(p.phones).items()
    ]
    email_rows = [
        ContactEmail(contact=c, email=e) for _k, p, c in created for e in dict.fromkeys(p.emails)
    ]
    ContactPhone.objects.bulk_create(phone_rows, batch_size=CHUNK)
    ContactEmail.objects.bulk_create(email_rows, batch_size=CHUNK)
    actor = ctx.actor(ctx.now)
    AuditEvent.objects.bulk_create(
        [
            creation_event(o, actor)
            for o in [*(c for _k, _p, c in created), *phone_rows, *email_rows]
        ],
        batch_size=CHUNK,
    )
    ImportedRecord.objects.bulk_create(
        [
            ImportedRecord(
                source=ctx.source,
                kind="contact",
                source_id=k[:200],
                batch=batch,
                last_batch=batch,
                contact=c,
            )
            for k, _p, c in created
        ],
        batch_size=CHUNK,
        ignore_conflicts=True,
    )
    for k, _p, c in created:
        out[k] = c.pk
        if c.company_id:
            out[f"company:{k}"] = c.company_id
    for alias, key in aliases.items():
        out[alias] = out[key]
        if f"company:{key}" in out:
            out[f"company:{alias}"] = out[f"company:{key}"]
    return out, set(new)


def _history_rows(deal_id: int, plan: Plan) -> tuple[list[tuple], list[tuple]]:
    """The deal's StageChange rows (deal, from, to, at, left at, by, owner then) and
    OwnerChange rows (deal, from, to, at, by), as crm.services would have written them."""
    stages = []
    timeline = plan.stages
    for i, (stage, at, owner) in enumerate(timeline):
        left = timeline[i + 1][1] if i + 1 < len(timeline) else None
        prev = timeline[i - 1][0].pk if i else None
        stages.append((deal_id, prev, stage.pk, at, left, None, owner))
    owners = [(deal_id, f, t, at, None) for f, t, at in plan.owners]
    return stages, owners


DEAL_FIELDS = (
    "title",
    "contact_id",
    "company_id",
    "owner_id",
    "source_id",
    "amount",
    "cost",
    "currency",
    "pipeline_id",
    "stage_id",
    "status",
    "created_at",
    "closed_at",
    "stage_entered_at",
    "lost_reason_id",
    "junk_reason_id",
    "close_comment",
)
STAGE_FIELDS = ("deal_id", "from_stage_id", "to_stage_id", "at", "left_at", "by_id", "owner_id")
OWNER_FIELDS = ("deal_id", "from_owner_id", "to_owner_id", "at", "by_id")
RECORD_FIELDS = (
    "source",
    "kind",
    "source_id",
    "batch_id",
    "last_batch_id",
    "deal_id",
    "company_id",
    "contact_id",
)
ZERO = Decimal("0")


def _create_deals(new: list[tuple[Plan, dict]], ctx: Context, batch: ImportBatch) -> None:
    """New deals with their history, audit events and source records, written with plain
    ``executemany`` (or COPY): the ORM's per-value work would cost more than all the rest
    of an import of 100,000 deals."""
    from funnelwatch.audit import chain
    from funnelwatch.telephony import fastdb

    for part in _chunks(new, 5000):
        ids = fastdb.reserve_ids(Deal, len(part))
        deal_rows, stage_rows, owner_rows, record_rows, events = [], [], [], [], []
        actor = ctx.actor(None)
        for pk, (plan, f) in zip(ids, part, strict=True):
            deal_rows.append(
                (
                    f["title"], f["contact_id"], f["company_id"], f["owner_id"], f["source_id"],
                    f["amount"], ZERO, f["currency"], f["pipeline_id"], f["stage_id"],
                    f["status"], f["created_at"], f["closed_at"], f["stage_entered_at"],
                    f["lost_reason_id"], f["junk_reason_id"], "",
                )
            )  # fmt: skip
            s, o = _history_rows(pk, plan)
            stage_rows += s
            owner_rows += o
            record_rows.append(
                (ctx.source, "deal", plan.source_id, batch.pk, batch.pk, pk, None, None)
            )
            events.append(
                (
                    f["created_at"],
                    actor.user_id,
                    actor.source,
                    actor.name,
                    AuditEvent.Action.CREATE,
                    "crm.deal",
                    str(pk),
                    f["title"][:200],
                    {
                        "title": f["title"],
                        "owner_id": f["owner_id"],
                        "amount": str(f["amount"]),
                        "stage_id": f["stage_id"],
                        "status": f["status"],
                    },
                )
            )
        fastdb.insert(
            Deal, ("id", *DEAL_FIELDS), [(pk, *r) for pk, r in zip(ids, deal_rows, strict=True)]
        )
        fastdb.insert(StageChange, STAGE_FIELDS, stage_rows)
        fastdb.insert(OwnerChange, OWNER_FIELDS, owner_rows)
        fastdb.insert(ImportedRecord, RECORD_FIELDS, record_rows)
        fastdb.insert(AuditEvent, chain.SEALED_FIELDS, chain.seal_rows(events))


_COMPARED = (
    "title",
    "owner_id",
    "amount",
    "currency",
    "stage_id",
    "status",
    "created_at",
    "closed_at",
    "lost_reason_id",
    "company_id",
    "contact_id",
    "source_id",
)


def _update(
    record: ImportedRecord,
    plan: Plan,
    fields: dict,
    ctx: Context,
    batch: ImportBatch,
    touched: dict[int, set[dt.date]],
    history: list[tuple],
) -> bool:
    """Bring an imported deal in line with its row again; False when nothing differs."""
    deal = record.deal
    if plan.guessed_created:
        was, now = fields["created_at"], deal.created_at

        def moved(at: dt.datetime) -> dt.datetime:
            return now if at == was else at

        plan.stages = [(st, moved(at), o) for st, at, o in plan.stages]
        plan.owners = [(f, t, moved(at)) for f, t, at in plan.owners]
        fields["created_at"] = now
        fields["stage_entered_at"] = moved(fields["stage_entered_at"])
    wanted = [(st.pk, at, owner) for st, at, owner in plan.stages]
    if fields["company_id"] is None:
        fields["company_id"] = deal.company_id
    if fields["contact_id"] is None:
        fields["contact_id"] = deal.contact_id
    diff = {k for k in _COMPARED if getattr(deal, k) != fields[k]}
    if not diff and history == wanted:
        return False
    # Days of the old history change too.
    for _st, at, owner in history:
        touched.setdefault(owner, set()).add(local_day(at))
    touched.setdefault(deal.owner_id, set()).add(local_day(deal.created_at))
    with attributed_to(ctx.actor(ctx.now)):
        for k, val in fields.items():
            setattr(deal, k, val)
        deal.save()
        if history != wanted:
            StageChange.objects.filter(deal=deal).delete()
            OwnerChange.objects.filter(deal=deal).delete()
            from funnelwatch.telephony import fastdb

            s, o = _history_rows(deal.pk, plan)
            fastdb.insert(StageChange, STAGE_FIELDS, s)
            fastdb.insert(OwnerChange, OWNER_FIELDS, o)
    ImportedRecord.objects.filter(pk=record.pk).update(last_batch=batch)
    return True


# --- undo ----------------------------------------------------------------------------------


class UndoRefused(ValueError):
    pass


# Rows that go with a deal when it is removed: its history and its source record.
_OWN_ROWS = {StageChange, OwnerChange, ImportedRecord}


def _check_nothing_hangs_on(deal_ids: list[int]) -> None:
    """Records others made on imported deals since (a lost-deal review, a snooze) would go
    with them: refuse instead. Records that protect the deal (calls, letters, notes,
    proposals) stop the delete itself."""
    for rel in Deal._meta.related_objects:
        if rel.related_model in _OWN_ROWS or rel.on_delete is not models.CASCADE:
            continue
        for chunk in _chunks(deal_ids):
            found = rel.related_model._base_manager.filter(
                **{f"{rel.field.name}__in": chunk}
            ).first()
            if found is not None:
                raise UndoRefused(
                    _("records added since the import hang on its deals: %(records)s")
                    % {"records": f"{rel.related_model._meta.verbose_name} {found}"}
                )


def undo(batch: ImportBatch, user: User | None) -> dict:
    """Remove the deals, contacts and companies ``batch`` created (their history with
    them); the batch stays, marked undone, by whom and when. Deals that have gained other
    records since (calls, letters, notes, proposals) stop the undo, which then changes
    nothing. Changes a batch made to records that existed before are not reversed.

    Every change of the undo (the deletions, their audit rows, the batch's days) goes
    through the one door and is recomputed once, when the undo has committed."""
    with refresh.deferred(), transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.state != ImportBatch.State.DONE:
            raise UndoRefused(_("only a finished import can be undone"))
        records = ImportedRecord.objects.filter(batch=batch)
        deal_ids = list(
            records.filter(kind="deal", deal__isnull=False).values_list("deal_id", flat=True)
        )
        contact_ids = list(records.filter(kind="contact").values_list("contact_id", flat=True))
        company_ids = list(records.filter(kind="company").values_list("company_id", flat=True))
        owners = set(Deal.objects.filter(pk__in=deal_ids).values_list("owner_id", flat=True)) | set(
            batch.owner_ids
        )
        _check_nothing_hangs_on(deal_ids)
        removed = {"deals": 0, "contacts": 0, "companies": 0}
        with acting_as(user):
            try:
                for chunk in _chunks(deal_ids):
                    removed["deals"] += (
                        Deal.objects.filter(pk__in=chunk).delete()[1].get("crm.Deal", 0)
                    )
            except ProtectedError as exc:
                names = sorted({str(o) for o in list(exc.protected_objects)[:3]})
                raise UndoRefused(
                    _("records added since the import hang on its deals: %(records)s")
                    % {"records": "; ".join(names)}
                ) from None
            for model, ids, key in (
                (Contact, contact_ids, "contacts"),
                (Company, company_ids, "companies"),
            ):
                for pk in ids:
                    try:
                        with transaction.atomic():
                            removed[key] += (
                                model.objects.filter(pk=pk).delete()[1].get(model._meta.label, 0)
                            )
                    except ProtectedError:
                        continue  # used by deals or calls of ours: kept
            ImportedRecord.objects.filter(batch=batch).delete()
            ImportedRecord.objects.filter(last_batch=batch).update(last_batch=None)
            batch.state = ImportBatch.State.UNDONE
            batch.undone_by = user
            batch.undone_at = timezone.now()
            batch.save()
        if batch.first_day and batch.last_day:
            span = (batch.last_day - batch.first_day).days + 1
            days = [batch.first_day + dt.timedelta(days=n) for n in range(span)]
            metrics.changed("import", owners, days, keys=refresh.EVERY)
    return removed
