"""The crime pages' template helpers, and the practitioner's view of a match involving their case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from openem.crime.models import Finding, Verdict
from openem.uktime import duration, zone

register = template.Library()


@register.filter
def gap_text(gaps: list[list[float]]) -> str:
    """Gaps as 'no positions 14:02 GMT to 14:31 GMT (29 minutes)', UK time."""
    if not gaps:
        return "no gaps recorded"
    parts = []
    for a, b in gaps[:6]:
        lo = timezone.localtime(datetime.fromtimestamp(a, UTC))
        hi = timezone.localtime(datetime.fromtimestamp(b, UTC))
        parts.append(f"{lo:%H:%M} {zone(lo)} to {hi:%H:%M} {zone(hi)} ({duration(b - a)})")
    more = f" and {len(gaps) - 6} more" if len(gaps) > 6 else ""
    return "no positions " + ", ".join(parts) + more


@register.filter
def distance(metres: float | None) -> str:
    """A distance as people read one: '140 m' under a kilometre, '8.4 km' beyond (the report and the CSVs
    keep metres, to the metre)."""
    if metres is None:
        return ""
    m = float(metres)
    return f"{m:,.0f} m" if m < 1000 else f"{m / 1000:,.1f} km"


@register.filter
def utc_stamp(dt: datetime) -> str:
    """``20261110082000``: a time as a police batch file gives it (yyyyMMddHHmmss, UTC)."""
    return f"{dt.astimezone(UTC):%Y%m%d%H%M%S}"


_CSS_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_./,:;()#+=@")


@register.filter
def css_string(value: object) -> SafeString:
    """Text for inside a double-quoted CSS string in a <style> element (a PDF's page footer): anything but
    plain letters, digits and common punctuation as a CSS hex escape, so a quote, backslash, newline or
    ``</style>`` cannot end the string or the element, and the text prints as typed (``escapejs`` is for
    JavaScript: CSS prints its ``\\u002D`` as "u002D")."""
    return mark_safe("".join(ch if ch in _CSS_PLAIN else f"\\{ord(ch):X} " for ch in str(value)))


@register.inclusion_tag("crime/includes/person_matches.html")
def crime_matches(person: Any) -> dict[str, Any]:
    """That a police crime match involves this person, and its outcome: the crime's type and date only."""
    rows = (
        Finding.objects.filter(person=person, verdict=Verdict.MATCH)
        .select_related("crime")
        .order_by("-crime__window_start")[:20]
    )
    return {"crime_matches": list(rows)}
