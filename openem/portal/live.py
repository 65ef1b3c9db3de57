"""Live pages: My cases, Alerts, the monitoring centre, the incident page and the person page refresh a region
of themselves every OPENEM_LIVE_SECONDS (htmx polling the page's own URL, query and all).

An automatic refresh is not the user doing anything: it does not keep an idle session alive
(openem.accounts.middleware.session_limits) and it is not a new look at a record for the audit log
(``record_look``). It is recognised by the header the polling element sends (``REFRESH_HEADER``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent

# Sent by the polling element only (hx-headers), never by a click.
REFRESH_HEADER = "OpenEM-Refresh"


def live_seconds() -> int:
    """How often a live page refreshes itself (the tests lower it)."""
    return max(1, int(getattr(settings, "OPENEM_LIVE_SECONDS", 10)))


def audit_minutes() -> int:
    """A refresh is recorded at most once per user, record and this many minutes."""
    return max(1, int(getattr(settings, "OPENEM_LIVE_AUDIT_MINUTES", 15)))


def is_refresh(request: HttpRequest) -> bool:
    """An automatic refresh of a page the user already has open."""
    return (
        request.method == "GET"
        and request.headers.get("HX-Request") == "true"
        and request.headers.get(REFRESH_HEADER) == "1"
    )


def record_look(
    request: HttpRequest, action: AuditAction, *, summary: str, same_as: str = "", person: Any = None, obj: Any = None
) -> None:
    """Audit a look at personal data. The page's first view is always recorded. A refresh of it is not a new
    look: it is recorded only when this user's look at the same record (``person``, ``obj`` and a summary
    starting ``same_as``, by default the whole summary) is not in the log for the last
    OPENEM_LIVE_AUDIT_MINUTES. The header is the client's to send, so it can only thin the log, never hide a
    look for longer than that."""
    if is_refresh(request):
        same_person = {"person_id": person.pk} if person is not None else {"person__isnull": True}
        recent = AuditEvent.objects.filter(
            actor_id=request.user.pk,
            action=action.value,
            object_id=str(obj.pk) if obj is not None else "",
            **same_person,
            summary__startswith=same_as or summary,
            at__gte=timezone.now() - timedelta(minutes=audit_minutes()),
        )
        if recent.exists():
            return
    AuditEvent.record(request.user, action, person=person, obj=obj, summary=summary)  # type: ignore[arg-type]


def follow_whole_page(response: HttpResponse) -> HttpResponse:
    """A refresh answered by a redirect (the session ended, access was withdrawn) takes the whole page there:
    htmx would otherwise follow it quietly and put a piece of the sign-in page into the region."""
    answer = HttpResponse(status=200)
    answer["HX-Redirect"] = response["Location"]
    return answer


def critical_incidents(request: Any) -> Any:
    """The active critical incidents this user works on, scoped as their Alerts queue is: what a live page
    announces when one appears (portal/static/portal/live.js)."""
    from openem.alerts.models import IncidentStatus, Severity
    from openem.alerts.views import scoped

    active = scoped(request).exclude(status=IncidentStatus.CLEARED)
    return active.filter(severity=Severity.CRITICAL).order_by("-start")


def critical_by_person(request: Any, people: list[Any]) -> dict[int, list[Any]]:
    by_person: dict[int, list[Any]] = {}
    for incident in critical_incidents(request).filter(person__in=people):
        by_person.setdefault(incident.person_id, []).append(incident)
    return by_person
