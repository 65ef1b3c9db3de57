"""The crime batch API (/api/v1/crime/): a force's systems send a batch as police send it today and
get back, at once, what was accepted and every problem with its row and column; then its status."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from openem.accounts.models import ApiToken, User
from openem.audit.models import AuditAction, AuditEvent

from .forms import MAX_FILE_BYTES, purpose_problem
from .models import BatchSource, CrimeBatch, CrimeState, Finding, LawfulBasis
from .services import WrongForce, audit_people, basis_text, receive_batch


def error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def police_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A token of a police analyst of a force; the token is the credential, so no CSRF cookie."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = ApiToken.user_of_request(request)
        if user is None:
            return error(401, "an API token is required: Authorization: Token <token>")
        if not user.sends_crime_batches:
            return error(403, "crime batches are sent by police analysts of a force")
        return view(request, user, *args, **kwargs)

    return wrapper


@police_api
def batches(request: HttpRequest, user: User) -> HttpResponse:
    """POST the CSV (the body, or a multipart ``file``) with ``lawful_basis`` and ``purpose`` (query or form)."""
    if request.method != "POST":
        return error(405, "POST a crime batch (CSV) here; GET /api/v1/crime/batches/<id> for its status")
    params = request.POST if (request.content_type or "").startswith("multipart/") else request.GET
    basis, purpose = params.get("lawful_basis", ""), params.get("purpose", "")
    problems = []
    if basis not in {b.value for b in LawfulBasis}:
        problems.append(f"lawful_basis: give one of {', '.join(b.value for b in LawfulBasis)}")
    problem = purpose_problem(purpose)
    if problem:
        problems.append(f"purpose: {problem[0].lower()}{problem[1:]} (recorded with every view of its results)")
    upload = request.FILES.get("file")
    try:
        data = upload.read() if upload is not None else request.body
    except RequestDataTooBig:
        return error(413, "the body is larger than a batch may be: send it as a multipart file, at most 5 MB")
    name = (upload.name if upload is not None else params.get("filename", "")) or ""
    if not data:
        problems.append("file: send the CSV as the request body or as a multipart field named file")
    elif len(data) > MAX_FILE_BYTES:
        problems.append(f"file: {len(data) // 1024} KB is more than the {MAX_FILE_BYTES // 1024} KB a batch may be")
    if problems:
        return error(400, "; ".join(problems), problems=problems)
    try:
        got = receive_batch(
            user, data, filename=name, lawful_basis=basis, purpose=purpose.strip(), source=BatchSource.API
        )
    except WrongForce as e:
        return error(403, str(e))
    body = got.to_json()
    return JsonResponse(body, status=422 if got.batch.status == "rejected" else 201)


@police_api
def batch(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    if request.method != "GET":
        return error(405, "GET a batch's status")
    b = CrimeBatch.objects.filter(pk=pk, force=user.police_force).first()
    if b is None:
        return error(404, f"no batch {pk} of {user.police_force}")
    released = list(
        Finding.objects.released_to(user)
        .filter(crime__batch=b)
        .select_related("crime", "crime__batch", "person", "run")
        .order_by("crime__reference", "closest_m", "pk")
    )
    AuditEvent.record(
        user,
        AuditAction.VIEW,
        obj=b,
        summary=f"api: crime batch {b.batch_ref or b.pk} status",
        reason=basis_text(b.lawful_basis, b.purpose),
    )
    audit_people(user, AuditAction.VIEW, released, f"api: crime batch {b.batch_ref or b.pk} status")
    return JsonResponse(
        {
            "batch": b.pk,
            "batch_id": b.batch_ref,
            "force": b.force,
            "status": b.status,
            "rows_read": b.rows_read,
            "rows_accepted": b.rows_accepted,
            "sha256": b.sha256,
            "matched_at": b.matched_at.isoformat() if b.matched_at else None,
            # Committed crime by crime: how far the crime worker has got, and the crimes it could not match.
            "progress": {"crimes": b.rows_accepted, "matched": b.crimes_done, "failed": b.crimes_failed},
            "failed_crimes": list(b.crimes.filter(state=CrimeState.FAILED).values_list("reference", flat=True)),
            "problems": [p.to_json() for p in b.problems.all()],
            "released_matches": [
                {
                    "crime": f.crime.reference,
                    "version": f.crime.version,
                    "person": f.person.crn or f.person.ref,
                    "closest_m": None if f.closest_m is None else round(f.closest_m, 1),
                    "minutes_near": round(f.minutes_near, 1),
                    "at_home": f.at_home,
                    "released_at": f.released_at.isoformat() if f.released_at else None,
                }
                for f in released
            ],
            # Nothing about matches the hub holds: police learn of a match only once it is released.
        }
    )
