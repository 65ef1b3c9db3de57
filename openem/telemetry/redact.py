"""Device keys out of everything OpenEM keeps or prints: rejected readings' text and the logs.

A device key travels in the URL (Traccar Client's server URL ends in it, or ``key=``) or in an MQTT
reading (``"key": ...``). The receivers take it out of what they store; these catch it where the text is
kept whole: a line that is not even JSON, a URL in a warning or an access-log line.
"""

from __future__ import annotations

import logging
import re

REMOVED = "[key removed]"
_NOT_DONE = r"(?!\[key removed\])"  # a line already cleaned (by another filter) is left as it is
_PATTERNS = (
    (re.compile(rf"(/osmand/){_NOT_DONE}[^/?#\s\"']+"), rf"\g<1>{REMOVED}"),  # the portal's path form
    (re.compile(rf"([?&;]key=){_NOT_DONE}[^&#\s\"']*", re.IGNORECASE), rf"\g<1>{REMOVED}"),  # the parameter
    (
        re.compile(r"(\"key\"\s*:\s*)(?!\"\[key removed\])\"(?:[^\"\\]|\\.)*\"?", re.IGNORECASE),
        rf'\g<1>"{REMOVED}"',
    ),  # JSON
    # Whatever the wrapping (an escaped or percent-encoded name, no quotes, another parameter): anything
    # shaped like a key OpenEM issues, 32 URL-safe characters standing alone (secrets.token_urlsafe(24)).
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])"), REMOVED),
)


def redact_keys(text: str) -> str:
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
