"""The crime pages: police analysts (their force's batches and searches, and the matches released to
them), the hub (the review queue, each match on a map, qualify or reject, release), the proximity
report and its verification. Every look at a match or a trail is audited with the lawful basis and
purpose of the request it answers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from openem.audit.models import AuditAction, AuditEvent
from openem.portal.access import AuthedRequest, forbidden
from openem.portal.exports import csv_text
from openem.portal.paging import paginate
from openem.uktime import stamp

from . import report as reports
from .evidence import EvidenceRefused
from .forms import ReviewForm, SearchForm, UploadForm, VerifyForm
from .models import (
    AdHocSearch,
    BatchSource,
    Crime,
    CrimeBatch,
    Finding,
    IssuedReport,
    ProximityReport,
    ReviewState,
    Verdict,
)
from .positions import map_data, near_counts, positions
from .services import WrongForce, audit_people, basis_text, receive_batch, start_search


def _role(
    test: Callable[[Any], bool], message: str
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not test(request.user):
                return forbidden(request, message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


police_required = _role(lambda u: u.sends_crime_batches, "Crime batches are for police analysts of a force.")
hub_required = _role(lambda u: u.works_crime_hub, "Reviewing crime matches is for the crime matching hub.")
crime_required = _role(
    lambda u: u.sends_crime_batches or u.works_crime_hub,
    "Crime matching is for police analysts and the crime matching hub.",
)


def visible_batches(user: Any) -> QuerySet[CrimeBatch]:
    """The hub sees every batch; an analyst their own force's (someone else's answers 404)."""
    qs = CrimeBatch.objects.all()
    return qs if user.works_crime_hub else qs.filter(force=user.police_force)


def visible_findings(user: Any) -> QuerySet[Finding]:
    qs = Finding.objects.select_related("crime", "crime__batch", "person", "run")
    return qs if user.works_crime_hub else qs.released_to(user)


# ----------------------------------------------------------------------------------------------- police


@police_required
def batches(request: AuthedRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            got = receive_batch(
                request.user,
                upload.read(),
                filename=upload.name or "",
                source=BatchSource.PORTAL,
                lawful_basis=form.cleaned_data["lawful_basis"],
                purpose=form.cleaned_data["purpose"],
            )
        except WrongForce as e:
            form.add_error("file", str(e))
        else:
            b = got.batch
            text = f"Batch {b.batch_ref or b.pk}: {b.rows_accepted} of {b.rows_read} rows accepted"
            if got.problems:
                text += f", {len(got.problems)} problem{'s' if len(got.problems) != 1 else ''} to put right (below)"
            messages.add_message(request, messages.WARNING if got.problems else messages.SUCCESS, text + ".")
            return redirect("crime:batch", b.pk)
    rows = (
        visible_batches(request.user)
        .exclude(source=BatchSource.SEARCH)
        .select_related("uploaded_by")
        .annotate(
            released=Count("crimes__findings", filter=Q(crimes__findings__review=ReviewState.RELEASED), distinct=True),
            problem_count=Count("problems", distinct=True),
        )
        .order_by("-uploaded_at", "-id")
    )
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(request, "crime/batches.html", {"form": form, "page": page})


@crime_required
def batch(request: AuthedRequest, pk: int) -> HttpResponse:
    b = get_object_or_404(visible_batches(request.user).select_related("uploaded_by"), pk=pk)
    hub = request.user.works_crime_hub
    # A batch holds up to OPENEM_CRIME_MAX_ROWS crimes: a page of them at a time, each with its counts (the
    # hub) or its released matches (police) in one query for the page, so the page costs the same for
    # a batch of 1,000 as for one of 10.
    crimes = b.crimes.order_by("window_start", "reference", "pk")  # explicit: a GROUP BY drops Meta.ordering
    if hub:
        crimes = crimes.annotate(**{f"n_{v.value}": Count("findings", filter=Q(findings__verdict=v)) for v in Verdict})
    paged = paginate(request, crimes, anchor="crimes")
    page = list(paged["page"].object_list)
    shown = visible_findings(request.user).filter(crime__in=[c.pk for c in page]).order_by("crime_id", "closest_m")
    by_crime: dict[int, list[Finding]] = {}
    for f in [] if hub else shown:
        by_crime.setdefault(f.crime_id, []).append(f)
    for c in page:
        c.shown = by_crime.get(c.pk, [])
        c.counts = {v: getattr(c, f"n_{v.value}", 0) for v in Verdict}
    findings_shown = sum(sum(c.counts.values()) for c in page) if hub else sum(len(c.shown) for c in page)
    links = paged["links"]
    AuditEvent.record(
        request.user,
        AuditAction.VIEW,
        obj=b,
        summary=f"crime batch {b.batch_ref or b.pk}: crimes {links['first_index']} to {links['last_index']} "
        f"of {links['count']}, {findings_shown} findings shown",
        reason=basis_text(b.lawful_basis, b.purpose),
    )
    if not hub:  # police see who their released matches name
        audit_people(
            request.user, AuditAction.VIEW, [f for c in page for f in c.shown], f"crime batch {b.batch_ref or b.pk}"
        )
    problems = paginate(request, b.problems.filter(row__gt=0), param="problems_page", anchor="problems")
    context = {
        "batch": b,
        "crimes": page,
        "pagination": links,
        "problems": problems["page"].object_list,
        "problem_pages": problems["links"],
        "runs": b.runs.all()[:1],
        "hub": hub,
        "search": getattr(b, "search", None),
        # Police learn of a match only once it is released: how many the hub holds is not theirs to see.
        "released": 0 if hub else visible_findings(request.user).filter(crime__batch=b).count(),
    }
    return render(request, "crime/batch.html", context)


@crime_required
def crime(request: AuthedRequest, pk: int) -> HttpResponse:
    c = get_object_or_404(
        Crime.objects.select_related("batch", "previous").filter(batch__in=visible_batches(request.user)), pk=pk
    )
    findings = list(visible_findings(request.user).filter(crime=c).order_by("verdict", "closest_m"))
    AuditEvent.record(
        request.user,
        AuditAction.VIEW,
        obj=c,
        summary=f"crime {c.reference} v{c.version}: {len(findings)} findings shown",
        reason=basis_text(c.batch.lawful_basis, c.batch.purpose),
        period=(c.window_start, c.window_end),
    )
    audit_people(request.user, AuditAction.VIEW, findings, f"crime {c.reference} v{c.version}")
    versions = Crime.objects.filter(force=c.force, reference=c.reference).order_by("-version")
    groups = {v: [f for f in findings if f.verdict == v] for v in Verdict}
    # Police are told how many monitored people were ruled out or had gaps (who, only the hub sees): that a
    # crime is not down to anyone monitored is worth knowing. Matches they see once released.
    ruled = dict(
        Finding.objects.filter(crime=c, verdict__in=[Verdict.NOT_THERE, Verdict.NOT_COVERED])
        .values("verdict")
        .annotate(n=Count("id"))
        .values_list("verdict", "n")
    )
    return render(
        request,
        "crime/crime.html",
        {
            "crime": c,
            "groups": groups,
            "versions": versions,
            "hub": request.user.works_crime_hub,
            "not_there": ruled.get(Verdict.NOT_THERE.value, 0),
            "not_covered": ruled.get(Verdict.NOT_COVERED.value, 0),
            "within_km": f"{settings.OPENEM_CRIME_RULED_OUT_WITHIN_M / 1000:g}",
        },
    )


@police_required
def searches(request: AuthedRequest) -> HttpResponse:
    form = SearchForm(request.POST or None, force=request.user.police_force)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        s = start_search(
            request.user,
            place=d.get("place") or "",
            lat=d["lat"],
            lon=d["lon"],
            radius_m=d["radius_m"],
            start=d["start"],
            end=d["end"],
            lawful_basis=d["lawful_basis"],
            purpose=d["purpose"],
        )
        messages.success(request, "Search recorded: the results go to the monitoring hub for review first.")
        return redirect("crime:search-detail", s.pk)
    rows = AdHocSearch.objects.filter(force=request.user.police_force).select_related("user", "batch")
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    return render(request, "crime/searches.html", {"form": form, "page": page})


@police_required
def search_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    s = get_object_or_404(AdHocSearch.objects.filter(force=request.user.police_force).select_related("batch"), pk=pk)
    return redirect("crime:batch", s.batch_id) if s.batch_id else redirect("crime:search")


# ----------------------------------------------------------------------------------------------- hub


@hub_required
def queue(request: AuthedRequest) -> HttpResponse:
    base = Finding.objects.matches().select_related("crime", "crime__batch", "person")
    pending = base.filter(review=ReviewState.PENDING).order_by("crime__batch__uploaded_at", "crime__window_start", "pk")
    qualified = base.filter(review=ReviewState.QUALIFIED).order_by("reviewed_at", "pk")
    recent = base.filter(review__in=[ReviewState.RELEASED, ReviewState.REJECTED]).order_by("-reviewed_at", "-pk")[:20]
    latest = CrimeBatch.objects.select_related("uploaded_by").order_by("-uploaded_at")[:10]
    # The queue names people: one event for the list (who looked, how many), as the read API's lists do.
    AuditEvent.record(
        request.user, AuditAction.VIEW, summary=f"crime match queue: {pending.count()} waiting for review"
    )
    return render(
        request,
        "crime/queue.html",
        {
            "pending": pending[:200],
            "pending_count": pending.count(),
            "qualified": qualified[:200],
            "recent": recent,
            "latest": latest,
        },
    )


def _finding(request: AuthedRequest, pk: int) -> Finding:
    return get_object_or_404(visible_findings(request.user).filter(verdict=Verdict.MATCH), pk=pk)


def _sound(request: AuthedRequest, f: Finding) -> HttpResponse | None:
    """A match is qualified or released only on evidence that is what it was made on: kept positions that
    fail their digest refuse it (the page saying so, the refusal audited and the centre told), whatever form
    was sent."""
    stored = getattr(f, "stored", None)  # none kept (a match made before positions were kept in full)
    if stored is None:
        return None
    try:
        stored.positions()
    except EvidenceRefused as exc:
        reports.refuse_evidence(f, request.user, exc)
        return render(request, "crime/evidence_refused.html", {"f": f, "reason": str(exc)}, status=409)
    return None


def _evidence(
    request: AuthedRequest, f: Finding, action: AuditAction, summary: Callable[[int], str]
) -> list[reports.FixRow] | HttpResponse:
    """The positions kept with the match, the look audited; or, when they fail their digest, a page saying
    so (409: the request is sound, the stored evidence is not), the refusal audited and the centre told."""
    try:
        return reports.audited_rows(f, request.user, action, summary)
    except EvidenceRefused as exc:
        return render(request, "crime/evidence_refused.html", {"f": f, "reason": str(exc)}, status=409)


@crime_required
def match(request: AuthedRequest, pk: int) -> HttpResponse:
    f = _finding(request, pk)
    start, end = f.window()
    fixes = _evidence(
        request,
        f,
        AuditAction.VIEW,
        lambda n: f"crime match {f.pk} (crime {f.crime.reference}): trail of {n} positions in the window",
    )
    if isinstance(fixes, HttpResponse):
        return fixes
    rows = positions(f, fixes)
    others = (
        list(
            Finding.objects.filter(crime=f.crime)
            .exclude(verdict=Verdict.MATCH)
            .select_related("person", "run", "crime__batch")
        )
        if request.user.works_crime_hub
        else []
    )
    audit_people(
        request.user,
        AuditAction.VIEW,
        others,
        f"crime match {f.pk} (crime {f.crime.reference}): others monitored in its window",
    )
    context = {
        "f": f,
        "crime": f.crime,
        "person": f.person,
        "data": map_data(f, rows),
        "fixes": rows,
        "near": near_counts(rows),
        "review_form": ReviewForm(),
        "features": [],
        "start": start,
        "end": end,
        "reports": f.reports.all()[:10],
        "can_review": request.user.reviews_crime_matches and f.review == ReviewState.PENDING,
        "can_release": request.user.releases_crime_matches and f.review == ReviewState.QUALIFIED,
        "others": others,
    }
    return render(request, "crime/match.html", context)


@hub_required
@require_POST
def review(request: AuthedRequest, pk: int) -> HttpResponse:
    f = _finding(request, pk)
    if not request.user.reviews_crime_matches:
        return forbidden(request, "A hub caseworker qualifies or rejects matches; a hub manager releases them.")
    form = ReviewForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            for e in errors:
                messages.error(request, f"{form.fields[field].label}: {e}" if field in form.fields else str(e))
        return redirect("crime:match", f.pk)
    decision, reason = form.cleaned_data["decision"], form.cleaned_data["reason"]
    if decision == "qualify" and (refused := _sound(request, f)):
        return refused
    done = f.qualify(request.user, reason) if decision == "qualify" else f.reject(request.user, reason)
    if not done:
        messages.warning(request, "Someone else has already reviewed this match: see its state below.")
        return redirect("crime:match", f.pk)
    AuditEvent.record(
        request.user,
        AuditAction.CHANGE,
        person=f.person,
        obj=f,
        summary=f"crime match {f.pk} (crime {f.crime.reference}) "
        f"{'qualified' if decision == 'qualify' else 'rejected'}: {reason}",
        reason=basis_text(f.crime.batch.lawful_basis, f.crime.batch.purpose),
    )
    messages.success(
        request,
        "Match qualified: a hub manager authorises its release." if decision == "qualify" else "Match rejected.",
    )
    return redirect("crime:queue")


@hub_required
@require_POST
def release(request: AuthedRequest, pk: int) -> HttpResponse:
    f = _finding(request, pk)
    if not request.user.releases_crime_matches:
        return forbidden(request, "Only a hub manager authorises the release of a match to police.")
    if refused := _sound(request, f):
        return refused
    if not f.release(request.user):
        messages.warning(request, "This match is not waiting for release (someone else may have acted on it).")
        return redirect("crime:match", f.pk)
    AuditEvent.record(
        request.user,
        AuditAction.CHANGE,
        person=f.person,
        obj=f,
        summary=f"crime match {f.pk} (crime {f.crime.reference}) released to {f.crime.force}",
        reason=basis_text(f.crime.batch.lawful_basis, f.crime.batch.purpose),
    )
    from .services import tell_sender

    name = f.crime.batch.batch_ref or f"#{f.crime.batch_id}"
    tell_sender(
        f.crime.batch,
        (
            f"OpenEM crime batch {name}: a match released",
            f"The monitoring hub has released a match for crime {f.crime.reference}. Open it in OpenEM to see it "
            "and download the proximity report.",
        ),
    )
    messages.success(request, f"Match released to {f.crime.force}.")
    return redirect("crime:queue")


# ----------------------------------------------------------------------------------------------- evidence


def _download(body: bytes | str, mime: str, name: str) -> HttpResponse:
    response = HttpResponse(body, content_type=mime)
    # A crime reference in the name ("LP/1001/26") must not become a folder, a hidden file or odd bytes.
    safe = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._-]", "-", name)).strip("-.") or "download"
    response["Content-Disposition"] = content_disposition_header(True, safe) or "attachment"
    return response


@crime_required
def report(request: AuthedRequest, pk: int) -> HttpResponse:
    f = _finding(request, pk)
    if f.review not in (ReviewState.QUALIFIED, ReviewState.RELEASED):
        return forbidden(request, "A proximity report is made once a hub caseworker has qualified the match.")
    fixes = _evidence(
        request,
        f,
        AuditAction.EXPORT,
        lambda n: f"proximity report for crime match {f.pk} (crime {f.crime.reference}): {n} positions",
    )
    if isinstance(fixes, HttpResponse):
        return fixes
    pdf, pages = reports.proximity_report(f, fixes, request.user)
    digest = hashlib.sha256(pdf).hexdigest()
    with transaction.atomic():
        ProximityReport.objects.create(finding=f, sha256=digest, pages=pages, size=len(pdf), made_by=request.user)
        IssuedReport.objects.create(
            sha256=digest,
            pages=pages,
            force=f.crime.force,
            batch_ref=f.crime.batch.batch_ref,
            crime_reference=f.crime.reference,
        )
    response = _download(pdf, "application/pdf", f"proximity-report-{f.crime.reference}-{f.pk}-{digest[:12]}.pdf")
    response["X-Report-SHA256"] = digest
    return response


@crime_required
def matches_csv(request: AuthedRequest, pk: int) -> HttpResponse:
    b = get_object_or_404(visible_batches(request.user), pk=pk)
    rows = list(
        visible_findings(request.user).filter(crime__batch=b).order_by("crime__reference", "verdict", "closest_m")
    )
    AuditEvent.record(
        request.user,
        AuditAction.EXPORT,
        obj=b,
        summary=f"crime batch {b.batch_ref or b.pk}: findings CSV ({len(rows)} rows)",
        reason=basis_text(b.lawful_basis, b.purpose),
    )
    audit_people(request.user, AuditAction.EXPORT, rows, f"crime batch {b.batch_ref or b.pk}: findings CSV")
    header = [
        "crime",
        "version",
        "crime_type",
        "from",
        "to",
        "from_uk",
        "to_uk",
        "person",
        "crn",
        "pnc",
        "verdict",
        "closest_m",
        "minutes_near",
        "at_home",
        "review",
        "released_at",
        "released_at_uk",
        "params_version",
    ]
    body = csv_text(
        header,
        (
            [
                f.crime.reference,
                f.crime.version,
                f.crime.crime_type,
                f.crime.window_start.isoformat(),
                f.crime.window_end.isoformat(),
                stamp(f.crime.window_start),
                stamp(f.crime.window_end),
                f.person.ref,
                f.person.crn or "",
                f.person.pnc,
                f.verdict,
                None if f.closest_m is None else round(f.closest_m, 1),
                round(f.minutes_near, 1),
                f.at_home,
                f.review,
                f.released_at.isoformat() if f.released_at else "",
                stamp(f.released_at) if f.released_at else "",
                f.run.params_version,
            ]
            for f in rows
        ),
    )
    return _download(body, "text/csv", f"crime-matches-{b.batch_ref or b.pk}.csv")


@crime_required
def positions_csv(request: AuthedRequest, pk: int) -> HttpResponse:
    f = _finding(request, pk)
    fixes = _evidence(
        request,
        f,
        AuditAction.EXPORT,
        lambda n: f"crime match {f.pk} (crime {f.crime.reference}): positions CSV, {n} positions",
    )
    if isinstance(fixes, HttpResponse):
        return fixes
    body = csv_text(
        [
            "number",
            "time_utc",
            "time_uk",
            "lat",
            "lon",
            "accuracy_m",
            "speed_kmh",
            "direction",
            "distance_m",
            "near",
            "near_by",
            "confidence_radius_m",
            "distance_less_radius_m",
            "in_window",
        ],
        (
            [
                r.n,
                r.t.isoformat(),
                r.uk,
                round(r.lat, 6),
                round(r.lon, 6),
                round(r.accuracy_m, 1) if r.accuracy_m is not None else "",
                r.speed_kmh,
                r.direction,
                round(r.distance_m, 1),
                r.near,
                r.near_by.value if r.near_by is not None else "",
                round(r.radius_m, 1) if r.radius_m is not None else "",
                round(r.edge_m, 1) if r.edge_m is not None else "",
                not r.outside,
            ]
            for r in positions(f, fixes)
        ),
    )
    # A byte order mark, so Excel reads UTF-8 ("302°", not "302Â°").
    return _download("\ufeff" + body, "text/csv; charset=utf-8", f"crime-match-{f.pk}-positions.csv")


@crime_required
def verify(request: AuthedRequest) -> HttpResponse:
    form = VerifyForm(request.POST or None, request.FILES or None)
    result: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        digest = hashlib.sha256(form.cleaned_data["file"].read()).hexdigest()
        found = (
            ProximityReport.objects.select_related("finding", "finding__crime", "made_by").filter(sha256=digest).first()
        )
        visible = found is not None and visible_findings(request.user).filter(pk=found.finding_id).exists()
        # The case data behind a report goes at crime retention; the record that it was made stays.
        issued = None if found else IssuedReport.objects.filter(sha256=digest, data_deleted_at__isnull=False).first()
        result = {"digest": digest, "found": found, "visible": visible, "issued": issued}
        outcome = (
            "matches a recorded report"
            if found
            else "matches a report whose case data was deleted under retention"
            if issued
            else "matches no recorded report"
        )
        AuditEvent.record(
            request.user,
            AuditAction.SEARCH,
            obj=found,
            summary=f"proximity report verified: SHA-256 {digest} {outcome}",
        )
    return render(request, "crime/verify.html", {"form": form, "result": result})
