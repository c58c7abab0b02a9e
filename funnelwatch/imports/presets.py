"""Where each vendor's export keeps each field: header aliases (Russian and English
layouts, old and new), the names of the won and lost stages, and the generic mapping.

The columns come from the vendors' documented exports (see docs/import.md). Headers are
compared case-insensitively after trimming; Pipedrive's ``Deal - `` style prefixes are
removed first, Kommo's `` (контакт)`` / `` (компания)`` suffixes name the same fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FORMATS = ("generic", "kommo", "bitrix24", "pipedrive", "hubspot")

# Fields a row may carry. ``phone`` and ``email`` collect every column mapped to them.
FIELDS = (
    "external_id",
    "title",
    "owner",
    "company",
    "contact",
    "phone",
    "email",
    "stage",
    "status",
    "amount",
    "currency",
    "created_at",
    "closed_at",
    "won_at",
    "lost_at",
    "stage_at",
    "lost_reason",
    "source",
    "note",
    "pipeline",
)
MULTI = {"phone", "email", "note"}
# Fields the generic mapping file may name (the list plus status and stage_at).
GENERIC_FIELDS = (
    "external_id",
    "owner",
    "company",
    "title",
    "stage",
    "status",
    "created_at",
    "closed_at",
    "stage_at",
    "amount",
    "contact",
    "phone",
    "email",
    "lost_reason",
    "source",
    "note",
    "currency",
)

WON_WORDS = {
    "won",
    "closedwon",
    "closed won",
    "closed - won",
    "closed – won",
    "deal won",
    "successfully realized",
    "успешно реализовано",
    "сделка успешна",
    "успешная сделка",
    "выиграна",
    "выиграно",
}
LOST_WORDS = {
    "lost",
    "closedlost",
    "closed lost",
    "closed - lost",
    "closed – lost",
    "deal lost",
    "closed and not realized",
    "закрыто и не реализовано",
    "сделка провалена",
    "анализ причины провала",
    "проиграна",
    "проиграно",
}


def outcome_of(value: str) -> str | None:
    """won / lost / open from a status or stage name the vendors use, or None."""
    text = re.sub(r"\s+", " ", value).strip().casefold()
    if text in WON_WORDS:
        return "won"
    if text in LOST_WORDS:
        return "lost"
    if text in {"open", "открыта", "в работе", "active"}:
        return "open"
    return None


@dataclass(frozen=True)
class Preset:
    name: str
    aliases: dict[str, tuple[str, ...]]
    # Headers that start with these (lower case) are phones / e-mails.
    phone_prefixes: tuple[str, ...] = ()
    email_prefixes: tuple[str, ...] = ()
    note_prefixes: tuple[str, ...] = ()
    strip_prefixes: tuple[str, ...] = ()
    # Headers such as ``Date entered "Stage (Pipeline)"``: the moment the deal entered it.
    stage_entered: re.Pattern | None = None
    history_aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)


KOMMO = Preset(
    "kommo",
    {
        "external_id": ("id", "lead id", "id сделки"),
        "title": ("название сделки", "сделка", "lead title", "lead name", "name", "название"),
        "amount": ("бюджет", "sale", "budget", "продажа"),
        "owner": ("ответственный", "responsible user", "responsible", "lead owner"),
        "created_at": ("дата создания сделки", "дата создания", "date created", "created"),
        "closed_at": ("дата закрытия", "closing date", "closed", "date closed"),
        "stage": ("этап сделки", "этап", "статус", "lead status", "stage", "status"),
        "pipeline": ("воронка", "pipeline"),
        "contact": (
            "полное имя контакта",
            "основной контакт",
            "контакт",
            "contact",
            "main contact",
            "contact full name",
            "full name",
        ),
        "company": ("компания", "компания контакта", "company", "contact company"),
        "source": ("источник сделки", "источник", "source", "lead source"),
        "lost_reason": ("причина отказа", "loss reason", "lost reason"),
        "currency": ("валюта", "currency"),
    },
    phone_prefixes=(
        "рабочий телефон",
        "мобильный телефон",
        "рабочий прямой телефон",
        "домашний телефон",
        "другой телефон",
        "телефон",
        "work phone",
        "mobile phone",
        "work direct",
        "home phone",
        "other phone",
        "phone",
    ),
    email_prefixes=(
        "рабочий email",
        "личный email",
        "другой email",
        "email",
        "work email",
        "personal email",
        "other email",
        "e-mail",
    ),
    note_prefixes=("примечание", "note"),
    history_aliases={
        "external_id": ("id сделки", "lead id", "id"),
        "stage": ("новый этап", "значение после", "value after", "new stage", "этап"),
        "stage_at": ("дата", "date", "дата изменения", "changed at"),
        "owner": ("ответственный", "responsible user"),
    },
)

BITRIX24 = Preset(
    "bitrix24",
    {
        "external_id": ("id",),
        "title": ("название сделки", "deal name", "название", "name"),
        "stage": ("стадия сделки", "стадия", "stage"),
        "amount": ("сумма", "income", "opportunity", "amount"),
        "currency": ("валюта", "currency"),
        "owner": ("ответственный", "responsible"),
        "created_at": ("дата создания", "created", "date created"),
        "closed_at": (
            "дата закрытия",
            "предполагаемая дата закрытия",
            "close date",
            "closing date",
        ),
        "company": ("компания", "company"),
        "contact": ("контакт", "contact"),
        "note": ("комментарий", "comment"),
        "source": ("источник", "source"),
        "pipeline": ("воронка", "pipeline", "направление"),
        "lost_reason": ("причина провала", "причина отказа", "lost reason"),
    },
    phone_prefixes=(
        "рабочий телефон",
        "мобильный телефон",
        "домашний телефон",
        "другой телефон",
        "телефон",
        "work phone",
        "mobile phone",
        "phone",
    ),
    email_prefixes=(
        "рабочий e-mail",
        "частный e-mail",
        "другой e-mail",
        "e-mail",
        "work e-mail",
        "email",
    ),
    history_aliases={
        "external_id": ("owner_id", "id сделки", "deal id"),
        "stage": ("stage_id", "стадия", "stage"),
        "stage_at": ("created_time", "дата", "date", "time"),
        "owner": ("ответственный", "responsible", "assigned_by"),
    },
)

PIPEDRIVE = Preset(
    "pipedrive",
    {
        "external_id": ("id", "deal id"),
        "title": ("title", "deal title"),
        "amount": ("value",),
        "currency": ("currency of value", "currency"),
        "owner": ("owner", "deal owner"),
        "company": ("organization", "organization - name", "person - organization"),
        "contact": ("contact person", "person - name"),
        "stage": ("stage",),
        "status": ("status",),
        "pipeline": ("pipeline",),
        "created_at": ("deal created", "add time", "created"),
        "won_at": ("won time",),
        "lost_at": ("lost time",),
        "closed_at": ("deal closed on", "close time"),
        "stage_at": ("last stage change", "stage change time"),
        "lost_reason": ("lost reason",),
        "source": ("source", "source channel"),
    },
    phone_prefixes=("person - phone", "phone"),
    email_prefixes=("person - email", "email"),
    note_prefixes=("note",),
    strip_prefixes=("deal - ",),
)

HUBSPOT = Preset(
    "hubspot",
    {
        "external_id": ("record id", "deal id"),
        "title": ("deal name",),
        "stage": ("deal stage",),
        "amount": ("amount",),
        "currency": ("currency",),
        "owner": ("deal owner",),
        "created_at": ("create date",),
        "closed_at": ("close date",),
        "stage_at": ("date entered current stage",),
        "pipeline": ("pipeline",),
        "company": (
            "associated company (primary)",
            "associated company",
            "associated company ids (primary)",
        ),
        "contact": ("associated contact", "associated contacts"),
        "lost_reason": ("closed lost reason",),
        "source": ("original source type", "original traffic source", "source"),
        "note": ("deal description",),
    },
    phone_prefixes=("phone number", "mobile phone number"),
    email_prefixes=("email",),
    stage_entered=re.compile(r"""^date entered ["'](.+?)["']$""", re.I),
)

PRESETS = {p.name: p for p in (KOMMO, BITRIX24, PIPEDRIVE, HUBSPOT)}


def _key(header: str, preset: Preset | None) -> str:
    text = header.strip().casefold().replace("ё", "е")
    for prefix in preset.strip_prefixes if preset else ():
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    return text


def _kommo_suffix(text: str) -> str:
    return re.sub(r"\s*\((контакт|компания|contact|company)\)$", "", text)


@dataclass
class Columns:
    """Which header of a file holds which field."""

    single: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    stage_dates: dict[str, str] = field(default_factory=dict)  # header -> stage name

    @property
    def found(self) -> set[str]:
        return set(self.single) | {k for k, v in self.multi.items() if v}


def columns_for(preset: Preset, headers: list[str], history: bool = False) -> Columns:
    cols = Columns()
    aliases = preset.history_aliases if history else preset.aliases
    keyed = [(h, _kommo_suffix(_key(h, preset))) for h in headers if h]
    for fld, names in aliases.items():
        for name in names:
            hit = next((h for h, k in keyed if k == name and h not in cols.single.values()), None)
            if hit is None and fld in ("amount",):
                # "Бюджет руб.", "Lead venda R$": match by prefix
                hit = next((h for h, k in keyed if k.startswith(name)), None)
            if hit is not None:
                if fld in MULTI:
                    cols.multi.setdefault(fld, []).append(hit)
                else:
                    cols.single[fld] = hit
                break
    if history:
        return cols
    used = set(cols.single.values())
    for fld, prefixes in (
        ("phone", preset.phone_prefixes),
        ("email", preset.email_prefixes),
        ("note", preset.note_prefixes),
    ):
        for h, k in keyed:
            if h not in used and any(k.startswith(p) for p in prefixes):
                if h not in cols.multi.setdefault(fld, []):
                    cols.multi[fld].append(h)
    if preset.stage_entered is not None:
        for h in headers:
            m = preset.stage_entered.match(h.strip())
            if m:
                # "Closed Won (Sales Pipeline)" -> "Closed Won"
                cols.stage_dates[h] = re.sub(r"\s*\([^()]*\)$", "", m.group(1)).strip()
    return cols


def generic_columns(mapping: dict, headers: list[str]) -> Columns:
    cols = Columns()
    for fld, value in (mapping.get("columns") or {}).items():
        names = value if isinstance(value, list) else [value]
        present = [n for n in names if n in headers]
        if fld in MULTI:
            cols.multi[fld] = present
        elif present:
            cols.single[fld] = present[0]
    return cols


def detect(headers: list[str]) -> str:
    """The preset whose columns a file's headers fit best; ``generic`` when none fits."""
    best, score = "generic", 4
    for preset in PRESETS.values():
        cols = columns_for(preset, headers)
        if "title" not in cols.found:
            continue
        points = len(cols.found) + 2 * len(cols.stage_dates)
        lowered = " ".join(h.casefold() for h in headers)
        if preset.name == "pipedrive" and "deal - " in lowered:
            points += 5
        if preset.name == "hubspot" and "record id" in lowered:
            points += 5
        if preset.name == "bitrix24" and "стадия сделки" in lowered:
            points += 3
        if preset.name == "kommo" and ("этап сделки" in lowered or "lead status" in lowered):
            points += 3
        if points > score:
            best, score = preset.name, points
    return best
