"""Phone numbers in one spelling: E.164, via the phonenumbers library."""

from __future__ import annotations

import re

import phonenumbers


class InvalidPhone(ValueError):
    """The text is not a phone number we can store."""


_RU_TRUNK = re.compile(r"^8(\d{10})$")
_INTL_810 = re.compile(r"^810(\d{6,15})$")


def normalize(raw: str, region: str = "MN") -> str:
    """Return ``raw`` as E.164 (``+97699112233``) or raise InvalidPhone with the reason.

    Besides what phonenumbers reads on its own, two spellings common in our users'
    PBX logs are handled: the Russian trunk prefix ``8XXXXXXXXXX`` and the old
    ``810`` international prefix.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("empty phone number")
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if m := _INTL_810.match(digits):
        digits = "+" + m.group(1)
    elif region == "RU" and (m := _RU_TRUNK.match(digits)):
        digits = "+7" + m.group(1)
    if not re.fullmatch(r"\+?\d+", digits):
        raise InvalidPhone(f"{raw!r} is not a phone number")
    try:
        parsed = phonenumbers.parse(digits, None if digits.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhone(f"{raw!r} has the wrong length for a phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_or_none(raw: str | None, region: str = "MN") -> str | None:
    try:
        return normalize(raw or "", region)
    except InvalidPhone:
        return None
