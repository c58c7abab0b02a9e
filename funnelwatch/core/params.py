"""Values read from outside, within the limits that the database and Python can hold.

Pages and the API checked that an id "is digits" or a date "parses", but not that it
fits: an id above 2**63 overflowed SQLite's and PostgreSQL's integers, a date in year 1
or 9999 overflowed the date arithmetic of periods, ``limit=-1`` reached a negative slice,
and each answered 500. Every query-string value is read here instead:

- pages use the readers below, which raise :class:`BadParameter` (Django's
  ``BadRequest``): the visitor gets a 400 page naming the parameter;
- the API declares its parameters with the annotated types below, so django-ninja
  answers 422 naming the field, and the limits show in the OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated

from django.core.exceptions import BadRequest, ValidationError
from django.utils.translation import gettext as _
from pydantic import Field

# Database integers are signed 64-bit (BigAutoField and every foreign key to it).
MAX_ID = 2**63 - 1
# Days the product reasons about. Far from both ends of Python's date range, so a period
# and the one before it, a week's Monday or a month's end are never out of range.
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)

_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also accepts "²", which int() refuses


class BadParameter(BadRequest):
    """A query-string value a page cannot use; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _raw(params: Mapping[str, str], name: str) -> str:
    value = params.get(name) or ""
    if "\x00" in value:
        raise BadParameter(name, _("contains a NUL character."))
    return value.strip()


def text(params: Mapping[str, str], name: str, default: str = "") -> str:
    """A free-text value (a search, a filter); empty when absent."""
    return _raw(params, name) or default


def whole_number(params: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    """A whole number within ``[low, high]``; ``default`` when absent or empty."""
    value = _raw(params, name)
    if not value:
        return default
    number = int(value) if _DIGITS.fullmatch(value) else None
    if number is None or not low <= number <= high:
        raise BadParameter(
            name, _("enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
        )
    return number


def object_id(params: Mapping[str, str], name: str) -> int | None:
    """The id of a record (a manager, a team, a pipeline…); None when absent or empty."""
    value = _raw(params, name)
    if not value:
        return None
    if not _DIGITS.fullmatch(value) or not 1 <= int(value) <= MAX_ID:
        raise BadParameter(name, _("not the id of a record."))
    return int(value)


def day(params: Mapping[str, str], name: str) -> dt.date | None:
    """A date written YYYY-MM-DD between EARLIEST_DAY and LATEST_DAY; None when absent."""
    value = _raw(params, name)
    if not value:
        return None
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise BadParameter(name, _("enter a date as YYYY-MM-DD.")) from None
    check_day(name, parsed)
    return parsed


def check_day(name: str, value: dt.date) -> dt.date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise BadParameter(
            name,
            _("the date must be between %(earliest)s and %(latest)s.")
            % {"earliest": EARLIEST_DAY.isoformat(), "latest": LATEST_DAY.isoformat()},
        )
    return value


def validate_day_range(value: dt.date | dt.datetime) -> None:
    """Validator for form and model fields: a date (or a moment's date) within the
    product's days. Year 1 overflowed on its way to the database (converted to UTC) and
    year 9999 in the periods computed from it."""
    value = value.date() if isinstance(value, dt.datetime) else value
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValidationError(
            _("Enter a date between %(earliest)s and %(latest)s."),
            code="day_range",
            params={"earliest": EARLIEST_DAY.isoformat(), "latest": LATEST_DAY.isoformat()},
        )


# --- the same limits for the API (django-ninja / pydantic) ------------------------------

#: The id of a record, in a path, a query string or a body.
ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
#: How many rows to skip.
Offset = Annotated[int, Field(ge=0, le=MAX_ID)]
#: A calendar day the product can reason about.
Day = Annotated[dt.date, Field(ge=EARLIEST_DAY, le=LATEST_DAY)]
#: Text without NUL characters (PostgreSQL cannot store or compare them).
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]


def page_size(most: int) -> type:
    """How many rows to answer: ``Limit = page_size(500)``, then ``limit: Limit = 100``."""
    return Annotated[int, Field(ge=1, le=most)]
