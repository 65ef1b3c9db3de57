"""Reading what people and devices send: whole numbers in text (ids in forms and query strings, header
values) and whether a required text says anything at all."""

from __future__ import annotations

import re
import unicodedata

_DIGITS = re.compile(r"[0-9]{1,18}")


def whole_number(text: str | None) -> int | None:
    """The number ``text`` spells in ASCII digits, or None. ``str.isdigit`` accepts "²" and other digits
    ``int`` refuses, and ``int`` refuses more than 4,300 digits: either was a server error. At most 18
    digits: any id or length OpenEM holds."""
    return int(text) if text and _DIGITS.fullmatch(text) else None


def written(text: str | None) -> bool:
    """Whether a text someone must write (a reason, a rationale) has anything visible in it: spaces,
    line breaks and invisible characters (a zero-width space, a non-breaking space) alone are not a reason."""
    return any(unicodedata.category(ch)[0] not in "ZC" for ch in text or "")
