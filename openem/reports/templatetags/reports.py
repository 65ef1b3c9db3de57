from __future__ import annotations

from typing import Any

from django import template

from openem.reports.models import EqualityRecord

register = template.Library()


@register.inclusion_tag("reports/includes/equality_summary.html", takes_context=True)
def equality_summary(context: Any, person: Any) -> dict[str, Any]:
    """On the person page, for the case's practitioner and manager only: whether equality monitoring is
    recorded and a link to it. The answers themselves are on their own (audited) page."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not EqualityRecord.may_see(user, person):
        return {"shown": False}
    record = EqualityRecord.objects.filter(person=person).select_related("recorded_by").first()
    return {"shown": True, "person": person, "record": record}
