"""Statistics pages (managers: their region; the national analyst: everything, no personal record), their
downloads, equality monitoring on a person, and research extracts for approved projects."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from openem.audit.models import AuditAction, AuditEvent
from openem.inputs import whole_number
from openem.portal.access import AuthedRequest, case_records_required, forbidden, visible_person

from . import charts, publish
from .measures import MEASURES, Kind, Period
from .models import EQUALITY_FIELDS, EqualityRecord, MiRun, ProjectStatus, RefreshStatus, ResearchProject
from .refresh import BREAKDOWNS, threshold

# ------------------------------------------------------------------ equality monitoring


@case_records_required
def equality(request: AuthedRequest, pk: int) -> HttpResponse:
    person = visible_person(request, pk)
    if not EqualityRecord.may_see(request.user, person):
        return forbidden(request, "Only the case's practitioner and their manager see equality monitoring answers.")
    record = EqualityRecord.objects.filter(person=person).first()
    errors: dict[str, str] = {}
    values = {name: getattr(record, name) if record else "" for name in EQUALITY_FIELDS}
    if request.method == "POST":
        for name, enum in EQUALITY_FIELDS.items():
            given = request.POST.get(name, "")
            if given and given not in enum._value2member_map_:
                label = _field(name).verbose_name
                errors[name] = f"Choose one of the answers listed for {label} (or not recorded)"
            else:
                values[name] = given
        seen_version = request.POST.get("version", "")
        if not errors:
            changed = _save_equality(request, person, record, values, seen_version)
            if changed is None:
                errors["__all__"] = (
                    "Someone else saved these answers while you were editing them: check them below and save again."
                )
                record = EqualityRecord.objects.filter(person=person).first()
                values = {name: getattr(record, name) if record else "" for name in EQUALITY_FIELDS}
            else:
                messages.success(request, "Equality monitoring saved.")
                return redirect("portal:person", pk=person.pk)
    else:
        AuditEvent.record(request.user, AuditAction.VIEW, person=person, obj=record or person,
                          summary="equality monitoring")  # fmt: skip
    fields = [
        {"name": name, "label": str(_field(name).verbose_name).capitalize(), "help": _field(name).help_text,
         "choices": [(m.value, m.label) for m in enum if m.value != "prefer_not_to_say"],
         "value": values[name], "error": errors.get(name, "")}
        for name, enum in EQUALITY_FIELDS.items()
    ]  # fmt: skip
    return render(request, "reports/equality_form.html", {
        "person": person, "record": record, "fields": fields, "errors": errors,
        "version": record.version if record else 0,
    })  # fmt: skip


def _field(name: str) -> Any:
    return EqualityRecord._meta.get_field(name)


def _save_equality(request: AuthedRequest, person: Any, record: EqualityRecord | None, values: dict[str, str],
                   seen_version: str) -> list[str] | None:  # fmt: skip
    """Save if nobody else has since the form was shown (a conditional UPDATE on the version): the list of
    fields changed, or None when someone else got there first."""
    now = timezone.now()
    with transaction.atomic():
        if record is None:
            if seen_version not in ("", "0"):
                return None
            record, created = EqualityRecord.objects.get_or_create(
                person=person, defaults={**values, "recorded_by": request.user, "recorded_at": now}
            )
            if not created:
                return None
            changed = [n for n, v in values.items() if v]
        else:
            changed = [n for n, v in values.items() if getattr(record, n) != v]
            updated = EqualityRecord.objects.filter(pk=record.pk, version=whole_number(seen_version) or 0).update(
                **values, recorded_by=request.user, recorded_at=now, version=record.version + 1
            )
            if updated != 1:
                return None
        # Which questions changed, never the answers: the audit log is read more widely than these are.
        AuditEvent.record(request.user, AuditAction.CHANGE, person=person, obj=record,
                          summary="equality monitoring: " + (", ".join(changed) or "saved unchanged"))  # fmt: skip
    return changed


# ------------------------------------------------------------------ statistics


def statistics_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.sees_statistics:
            return forbidden(request, "Statistics are for managers (their region) and the national analyst.")
        return view(request, *args, **kwargs)

    return wrapper


def _period(request: HttpRequest) -> tuple[Period, str]:
    """The quarter asked for, or the latest refreshed (the current quarter before any refresh)."""
    text = request.GET.get("period", "")
    if text:
        try:
            return Period.parse(text), ""
        except ValueError as e:
            error = str(e)
    else:
        error = ""
    last = MiRun.objects.filter(status=RefreshStatus.DONE).order_by("-period").values_list("period", flat=True).first()
    return (Period.parse(last) if last else Period.containing(timezone.localdate())), error


def _periods_available() -> list[str]:
    return sorted(set(MiRun.objects.filter(status=RefreshStatus.DONE).values_list("period", flat=True)), reverse=True)


def _scope(user: Any) -> str:
    return user.statistics_region


def _last_refresh(period: Period) -> MiRun | None:
    return MiRun.objects.filter(period=str(period), status=RefreshStatus.DONE).order_by("-finished_at").first()


@statistics_required
def statistics(request: AuthedRequest) -> HttpResponse:
    period, error = _period(request)
    region = _scope(request.user)
    rows = []
    for m, fig in publish.headline(period, region):
        prev = publish.trend(period, m, region, quarters=2)[0][1]
        rows.append({"measure": m, "figure": fig, "previous": prev})
    return render(request, "reports/statistics.html", {
        "period": period, "period_error": error, "periods": _periods_available(), "rows": rows,
        "scope": region or publish.NATIONAL, "refreshed": _last_refresh(period), "k": threshold(),
        "is_national": request.user.analyses_nationally,
    })  # fmt: skip


@statistics_required
def measure_page(request: AuthedRequest, code: str) -> HttpResponse:
    measure = MEASURES.get(code)
    if measure is None:
        raise Http404("No such measure")
    period, error = _period(request)
    region = _scope(request.user)
    breakdown = request.GET.get("by", "ethnic_group_high")
    if breakdown not in BREAKDOWNS:
        breakdown = "ethnic_group_high"
    from .docs import DEFINITIONS

    context: dict[str, Any] = {
        "measure": measure, "period": period, "period_error": error, "periods": _periods_available(),
        "scope": region or publish.NATIONAL, "breakdowns": [(b.code, b.title) for b in BREAKDOWNS.values()],
        "breakdown": BREAKDOWNS[breakdown], "definition": DEFINITIONS.get(code, ""), "k": threshold(),
        "is_national": request.user.analyses_nationally, "refreshed": _last_refresh(period),
        "has_rri": bool(BREAKDOWNS[breakdown].reference) and measure.kind in (Kind.PROPORTION, Kind.RATIO),
        "has_ci": measure.kind in (Kind.PROPORTION, Kind.RATIO),
    }  # fmt: skip
    if measure.available:
        table = publish.breakdown_table(period, measure, breakdown, region)
        unit = measure.value_label or measure.unit
        context["table"] = table
        context["chart"] = charts.bar_chart(
            [(f.group_label, f.value if f.units else None, f.ci_low, f.ci_high)
             for f in table if f.group_label != "All"],
            f"{measure.title} by {BREAKDOWNS[breakdown].title.lower()}, {period.label}", unit,
        )  # fmt: skip
        if request.user.analyses_nationally:
            context["regions"] = publish.region_table(period, measure)
        trend = publish.trend(period, measure, region)
        context["trend"] = trend
        context["trend_chart"] = charts.line_chart(
            [(str(p), f.value if f and f.units else None) for p, f in trend],
            f"{measure.title}, last {len(trend)} quarters, {region or publish.NATIONAL}", unit,
        )  # fmt: skip
    return render(request, "reports/measure.html", context)


@statistics_required
def download(request: AuthedRequest, fmt: str) -> HttpResponse:
    period, _error = _period(request)
    region = _scope(request.user)
    scope: str | None = region if region else None
    figures = publish.all_figures(period, scope)
    name = f"openem-statistics-{period}{('-' + region.lower().replace(' ', '-')) if region else ''}"
    AuditEvent.record(request.user, AuditAction.EXPORT, summary=f"statistics {period} {region or 'national'} {fmt}")
    if fmt == "csv":
        response = HttpResponse(publish.to_csv(figures), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    if fmt == "ods":
        response = HttpResponse(
            publish.to_ods(figures, period, scope), content_type="application/vnd.oasis.opendocument.spreadsheet"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}.ods"'
        return response
    if fmt == "json":
        return HttpResponse(publish.to_json(figures, period, scope), content_type="application/json")
    raise Http404("Downloads are csv, ods or json")


# ------------------------------------------------------------------ research


def analyst_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.analyses_nationally:
            return forbidden(request, "Research extracts are made by the national analyst.")
        return view(request, *args, **kwargs)

    return wrapper


@analyst_required
def research(request: AuthedRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    given = {k: request.POST.get(k, "").strip() for k in ("title", "organisation", "purpose")}
    if request.method == "POST":
        from openem.inputs import written

        for k, label in (("title", "the project's title"), ("organisation", "the organisation doing the research"),
                         ("purpose", "what the research is for and why it needs these data")):  # fmt: skip
            if not written(given[k]):
                errors[k] = f"Enter {label}"
        if not errors:
            project = ResearchProject.objects.create(requested_by=request.user, **given)
            AuditEvent.record(request.user, AuditAction.CREATE, obj=project, summary=f"research project requested: "
                              f"{project.title}")  # fmt: skip
            messages.success(request, "Project recorded: an administrator must approve it before any extract.")
            return redirect("reports:research")
    projects = ResearchProject.objects.select_related("requested_by", "approved_by").prefetch_related("extracts")
    return render(request, "reports/research.html", {"projects": projects, "errors": errors, "given": given})


@analyst_required
def research_project(request: AuthedRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(ResearchProject, pk=pk)
    today = timezone.localdate()
    start = Period.containing(today).last(4)[0].first_day
    return render(request, "reports/research_project.html", {
        "project": project, "refusal": project.extract_refusal(request.user),
        "extracts": project.extracts.select_related("made_by"), "start": start, "end": today,
        "approved": project.status == ProjectStatus.APPROVED,
    })  # fmt: skip


@analyst_required
@require_POST
def research_extract(request: AuthedRequest, pk: int) -> HttpResponse:
    from datetime import date

    from .research import make_extract

    project = get_object_or_404(ResearchProject, pk=pk)
    refusal = project.extract_refusal(request.user)
    if refusal:
        return forbidden(request, refusal)
    try:
        start = date.fromisoformat(request.POST.get("start", ""))
        end = date.fromisoformat(request.POST.get("end", ""))
    except ValueError:
        messages.error(request, "Give the extract's first and last dates as dates (YYYY-MM-DD).")
        return redirect("reports:research-project", pk=pk)
    if end < start:
        messages.error(request, "The extract's last date is before its first.")
        return redirect("reports:research-project", pk=pk)
    data, extract = make_extract(project, request.user, start, end)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="openem-research-{project.pk}-{extract.pk}.zip"'
    return response
