"""Device keys out of everything OpenEM keeps or prints: rejected readings' text and the logs.

A device key travels in the URL (Traccar Client's server URL ends in it, or ``key=``) or in an MQTT
reading (``"key": ...``). The receivers take it out of what they store; these catch it where the text is
kept whole: a line that is not even JSON, a URL in a warning or an access-log line.
"""

from __future__ import annotations

import logging
import re

REMOVED = "[key removed]"
_PATTERNS = (
    (re.compile(r"(/osmand/)[^/?#\s\"']+"), rf"\g<1>{REMOVED}"),  # the portal's path form
    (re.compile(r"([?&;]key=)[^&#\s\"']*", re.IGNORECASE), rf"\g<1>{REMOVED}"),  # the parameter
    (re.compile(r"(\"key\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"?"), rf'\g<1>"{REMOVED}"'),  # JSON, even broken
)


def redact_keys(text: str) -> str:
    if "key" not in text and "/osmand/" not in text:
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactDeviceKeys(logging.Filter):
    """A logging filter: the message with every device key taken out (Django logs the path of every
    request it answers 4xx, and the development server every request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_keys(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
