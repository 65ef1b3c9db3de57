"""The read API (/api/v1/): people, orders, devices, violations, incidents (with what was done and
decided), supervision reviews and trails, for the same people the
portal would show the token's user, and audited the same way. OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET

from openem.accounts.models import ApiToken, User
from openem.alerts.models import Incident, IncidentStatus, Violation
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.casefile_io import export_people
from openem.cases.models import Person, Review, reviews_due
from openem.devices.models import Fitting
from openem.portal.trail import MAX_DAYS, audited_fixes

from .openapi import OPENAPI


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @require_GET
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = ApiToken.user_of_request(request)
        if user is None:
            return error(401, "an API token is required: Authorization: Token <token>")
        if not user.sees_case_records:
            return error(403, "this role does not give access to case records")
        return view(request, user, *args, **kwargs)

    return wrapper


def _person(user: User, ref: str) -> Person | None:
    return Person.objects.visible_to(user).filter(ref=ref).first()


@api
def people(request: HttpRequest, user: User) -> HttpResponse:
    rows = list(Person.objects.visible_to(user).select_related("practitioner"))
    # One event for the list (who asked and how many were listed), not one per person.
    AuditEvent.record(user, AuditAction.VIEW, summary=f"api: people list, {len(rows)} people")
    return JsonResponse(
        {
            "people": [
                {
                    "id": p.ref,
                    "crn": p.crn,
                    "name": p.name,
                    "rosh": p.rosh or None,
                    "practitioner": p.practitioner.username if p.practitioner else None,
                }
                for p in rows
            ]
        }
    )


@api
def person(request: HttpRequest, user: User, ref: str) -> HttpResponse:
    p = _person(user, ref)
    if p is None:
        return error(404, f'no person "{ref}" on your caseload')
    AuditEvent.record(user, AuditAction.VIEW, person=p, obj=p, summary="api: person")
    return JsonResponse(export_people(Person.objects.filter(pk=p.pk))["people"][0])


@api
def violations(request: HttpRequest, user: User, ref: str) -> HttpResponse:
    p = _person(user, ref)
    if p is None:
        return error(404, f'no person "{ref}" on your caseload')
    qs = Violation.objects.filter(person=p, retracted=False).order_by("start")
    since = request.GET.get("since")
    if since:
        when = parse_datetime(since)
        if when is None:
            return error(400, f'since: "{since}" is not a date-time')
        qs = qs.filter(start__gte=when)
    AuditEvent.record(user, AuditAction.VIEW, person=p, obj=p, summary="api: violations")
    return JsonResponse({"violations": [v.to_json() for v in qs]})


@api
def incidents(request: HttpRequest, user: User, ref: str) -> HttpResponse:
    p = _person(user, ref)
    if p is None:
        return error(404, f'no person "{ref}" on your caseload')
    qs = Incident.objects.filter(person=p).select_related("acknowledged_by", "cleared_by").order_by("start", "pk")
    status = request.GET.get("status", "")
    if status:
        allowed = [s.value for s in IncidentStatus]
        if status not in allowed:
            return error(400, f'status: "{status}" is not one of {", ".join(allowed)}')
        qs = qs.filter(status=status)
    AuditEvent.record(user, AuditAction.VIEW, person=p, obj=p, summary="api: incidents")
    return JsonResponse({"incidents": [i.to_json() for i in qs]})


@api
def reviews(request: HttpRequest, user: User, ref: str) -> HttpResponse:
    p = _person(user, ref)
    if p is None:
        return error(404, f'no person "{ref}" on your caseload')
    orders = list(p.orders.all())
    held = Review.objects.filter(order__in=orders).select_related("order", "by").order_by("held_on", "pk")
    due = [
        {"order": d.order.ref, "stage": d.stage.value, "due": d.due.isoformat(), "overdue": d.overdue()}
        for order in orders
        for d in reviews_due(order)
    ]
    AuditEvent.record(user, AuditAction.VIEW, person=p, obj=p, summary="api: reviews")
    return JsonResponse({"reviews": [r.to_json() for r in held], "due": due})


@api
def assessments(request: HttpRequest, user: User, ref: str) -> HttpResponse:
    """The person's assessments before the order, read only: each version's snapshot of the latest state."""
    from openem.assessments.models import Assessment

    p = _person(user, ref)
    if p is None:
        return error(404, f'no person "{ref}" on your caseload')
    found = Assessment.objects.filter(person=p).prefetch_related("addresses__checks").order_by("created", "pk")
    out = [
        {
            "id": a.pk, "proposal": a.proposal, "offence": a.offence, "status": a.status,
            "decision": a.decision or None,
            "decided_on": a.decided_on.isoformat() if a.decided_on else None,
            "recommends_curfew": a.recommends_curfew, "rationale": a.rationale,
            # Each suggestion's answer ("curfew:rf" accepted, changed "to" another, or rejected with "why").
            "recommended": a.chosen(), "responses": a.responses,
            "checks_waived": {"by": a.override_by.get_username(), "reason": a.override_reason}
            if a.overridden and a.override_by else None,
            "order": a.order.ref if a.order else None, "version": a.version,
            "addresses": [
                {
                    "label": ad.label, "suitability": ad.suitability, "not_suitable_reason": ad.not_suitable_reason,
                    "checks": [
                        {"kind": c.kind, "asked_of": c.asked_whom, "asked_on": c.asked_on.isoformat(),
                         "due_on": c.due_on.isoformat(), "answer": c.answer or None,
                         "answered_on": c.answered_on.isoformat() if c.answered_on else None}
                        for c in ad.checks.all()
                    ],
                }
                for ad in a.addresses.all()
            ],
        }
        for a in found
    ]  # fmt: skip
    AuditEvent.record(user, AuditAction.VIEW, person=p, obj=p, summary="api: assessments")
    return JsonResponse({"assessments": out})


@api
def trail(request: HttpRequest, user: User, ref: str) -> HttpResponse:
    p = _person(user, ref)
    if p is None:
        return error(404, f'no person "{ref}" on your caseload')
    start, end = parse_datetime(request.GET.get("start", "")), parse_datetime(request.GET.get("end", ""))
    reason = request.GET.get("reason", "").strip()
    if start is None or end is None:
        return error(400, "start and end are required, as ISO 8601 date-times with an offset")
    if not start < end <= start + timedelta(days=MAX_DAYS):
        return error(400, f"end must be after start, and the period at most {MAX_DAYS} days")
    if not reason:
        return error(400, "reason is required: why you are looking at this location data (it is audited)")
    fixes = audited_fixes(user, p, start, end, reason, AuditAction.VIEW, "api: trail, {n} positions")
    return JsonResponse(
        {
            "person": p.ref,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "positions": [
                {"device": f.device, "time": f.t.isoformat(), "lat": f.lat, "lon": f.lon, "accuracy_m": f.accuracy_m}
                for f in fixes
            ],
        }
    )


@api
def devices(request: HttpRequest, user: User) -> HttpResponse:
    fittings = list(
        Fitting.objects.filter(person__in=Person.objects.visible_to(user)).select_related("device", "person")
    )
    people = len({f.person_id for f in fittings})
    AuditEvent.record(user, AuditAction.VIEW, summary=f"api: devices list, {len(fittings)} fittings of {people} people")
    return JsonResponse(
        {
            "devices": [
                {
                    "id": f.device.ref,
                    "kind": f.device.kind,
                    "person": f.person.ref,
                    "fitted": f.fitted_at.isoformat(),
                    "removed": f.removed_at.isoformat() if f.removed_at else None,
                }
                for f in fittings
            ]
        }
    )


def openapi(request: HttpRequest) -> HttpResponse:
    return JsonResponse(OPENAPI)
