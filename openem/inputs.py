"""Whole numbers in text from outside (ids in forms and query strings, header values). ``str.isdigit``
accepts "²" and other digits ``int`` refuses, and ``int`` refuses more than 4,300 digits: either was a
server error. Only ASCII digits, at most 18 of them (any id or length OpenEM holds), are a number here."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]{1,18}")


def whole_number(text: str | None) -> int | None:
    """The number ``text`` spells in ASCII digits, or None."""
    return int(text) if text and _DIGITS.fullmatch(text) else None
