"""Dirty values of exported spreadsheets, read into what the CRM stores: dates, amounts,
names of companies and people (for matching), usernames for new owners."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _


class BadValue(ValueError):
    """A value that cannot be read; the message says what was found."""


# Day-first formats come before month-first ones: 01.03.2017 is the 1st of March (the
# dotted form is day-first everywhere it is used); a slashed 3/1/2017 is the US month-first
# form unless the first number cannot be a month (25/1/2017).
_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d.%m.%y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%Y/%m/%d",
)

# What exports write in a date column of an open deal instead of a date.
_NO_DATE = {"", "-", "—", "не закрыта", "not closed", "n/a", "none", "null", "0000-00-00"}


def parse_when(value: object, tz: dt.tzinfo, fmt: str | None = None) -> dt.datetime | None:
    """An aware moment from a cell, or None for an empty one; BadValue when unreadable.
    ``fmt`` (strptime) is tried first when given. Times without a zone are local (``tz``)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min, tzinfo=tz)
    text = re.sub(r"\s+", " ", str(value)).strip()
    if text.casefold() in _NO_DATE:
        return None
    candidates = (fmt, *_DATE_FORMATS) if fmt else _DATE_FORMATS
    for pattern in candidates:
        try:
            moment = dt.datetime.strptime(text, pattern)
        except ValueError:
            continue
        if not 1900 <= moment.year <= 2999:
            break
        return moment.replace(tzinfo=tz)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadValue(_("%(value)s is not a date") % {"value": repr(text)}) from None
    if not 1900 <= moment.year <= 2999:
        raise BadValue(_("%(value)s is not a date") % {"value": repr(text)}) from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=tz)


_CURRENCY = re.compile(r"[^\d.,\-]")


def parse_amount(value: object) -> Decimal | None:
    """A money amount from ``"1 234 567,50 ₽"``, ``"$45,362.12"``, ``"150000.00"``,
    ``"1.234.567,5"``; None for an empty cell; BadValue for what is not a number."""
    if value is None:
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise BadValue(_("%(value)s is not an amount") % {"value": repr(value)}) from None
    raw = str(value).strip()
    if not raw:
        return None
    text = _CURRENCY.sub("", raw.replace("\u00a0", "").replace("\u202f", "")).strip(".,")
    if not re.search(r"\d", text) or text.count("-") > 1 or "-" in text[1:]:
        raise BadValue(_("%(value)s is not an amount") % {"value": repr(raw)})
    if "," in text and "." in text:
        # The later of the two is the decimal mark.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        head, _sep, tail = text.rpartition(",")
        # 1,234,567 or 12,345 (thousands) against 1234,5 or 12,50 (decimals)
        if text.count(",") > 1 or (len(tail) == 3 and head.lstrip("-").isdigit()):
            text = text.replace(",", "")
        else:
            text = head.replace(",", "") + "." + tail
    elif text.count(".") > 1:
        head, _sep, tail = text.rpartition(".")
        text = head.replace(".", "") + ("." + tail if len(tail) != 3 else tail)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BadValue(_("%(value)s is not an amount") % {"value": repr(raw)}) from None
    if not amount.is_finite():
        raise BadValue(_("%(value)s is not an amount") % {"value": repr(raw)})
    return amount


_LEGAL_FORMS = {
    "ооо",
    "оао",
    "зао",
    "пао",
    "ао",
    "ип",
    "хх",
    "ххк",
    "хк",
    "тхх",
    "llc",
    "ltd",
    "inc",
    "corp",
    "corporation",
    "co",
    "company",
    "gmbh",
    "plc",
    "limited",
}


def company_key(name: str) -> str:
    """The form two spellings of one company share: ``ООО «Ромашка»`` and ``Ромашка ООО``,
    ``Acme Corp.`` and ``ACME corp``."""
    text = unicodedata.normalize("NFKC", name).casefold().replace("ё", "е")
    words = re.findall(r"\w+", text)
    kept = [w for w in words if w not in _LEGAL_FORMS]
    return " ".join(kept or words)


def person_key(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).casefold().replace("ё", "е")
    return " ".join(re.findall(r"\w+", text))


_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяөү",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "i",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "sch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
            "o",
            "u",
        ],
        strict=True,
    )
)


def username_for(name: str) -> str:
    """A login for a new owner from their name as the file spells it: ``Anna Petrova`` ->
    ``anna.petrova``, ``Батбаяр Дорж`` -> ``batbayar.dorzh``."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = "".join(_TRANSLIT.get(ch, ch) for ch in text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text)
    return ".".join(words)[:140] or "owner"
