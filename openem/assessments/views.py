"""The assessment pages: start one for a person, then propose addresses and their households, ask for and
record the checks, conclude on each address, recommend (with the rationale), submit and record the
decision. Practitioners and their managers only (like orders); a manager alone may waive the checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from openem.accounts.models import Role
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import Person, local_today
from openem.inputs import whole_number
from openem.portal.access import AuthedRequest, forbidden, order_setup_required, visible_person

from . import facts, forms, services, victims
from .models import Assessment, AssessmentStatus, Check, CheckAnswer, CheckKind, Decision, Occupant, ProposalType


def visible_assessments(request: AuthedRequest) -> QuerySet[Assessment]:
    return Assessment.objects.filter(person__in=Person.objects.visible_to(request.user)).select_related("person")


@order_setup_required
def index(request: AuthedRequest) -> HttpResponse:
    """Assessments in progress and the checks overdue: the practitioner's own, the manager's team's."""
    mine = visible_assessments(request)
    overdue = (
        Check.objects.overdue(local_today())
        .filter(address__assessment__in=mine)
        .select_related("address__assessment__person")
    )
    return render(
        request,
        "assessments/index.html",
        {"assessments": mine.exclude(status=AssessmentStatus.DECIDED), "overdue": overdue, "today": local_today()},
    )


@order_setup_required
def create(request: AuthedRequest, pk: int) -> HttpResponse:
    person = visible_person(request, pk)
    form = forms.AssessmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        assessment = services.start(person, ProposalType(d["proposal"]), d["offence"], request.user)
        for field in (
            "alcohol_link", "audit_score", "alcohol_dependent", "offending_times", "acquisitive", "victim_to_protect",
            "victim_location_recorded", "alcohol_treatment_requirement", "sentence_days", "sex_offender_notification",
        ):  # fmt: skip
            setattr(assessment, field, d[field])
        assessment.save()
        messages.success(request, "Assessment started: propose the curfew address and ask for the checks.")
        return redirect("assessments:detail", assessment.pk)
    return render(request, "assessments/form.html", {"form": form, "person": person})


ACTIONS = (
    "address", "occupant", "ask", "answer", "conclude", "recommend", "override", "submit", "decide", "victim_place",
)  # fmt: skip


@order_setup_required
def detail(request: AuthedRequest, pk: int) -> HttpResponse:
    assessment = get_object_or_404(visible_assessments(request), pk=pk)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST":
        if action not in ACTIONS:
            raise Http404("No such step")
        if action == "override" and request.user.role != Role.MANAGER:
            return forbidden(request, "Only a manager can record why the assessment goes ahead without the checks.")
        done = _act(request, assessment, action)
        if done is not None:
            return done
    else:
        AuditEvent.record(request.user, AuditAction.VIEW, person=assessment.person, obj=assessment,
                          summary=f"assessment {assessment.pk}")  # fmt: skip
    return _page(request, assessment, getattr(request, "_failed_form", None), action)


recommendation = facts.recommendation  # the report and the page read the same answer


def _page(request: AuthedRequest, assessment: Assessment, failed: Any, action: str) -> HttpResponse:
    def form(name: str, cls: Any, **initial: Any) -> Any:
        return failed if failed is not None and action == name else cls(initial=initial, prefix=name)

    # The facts are read once (places, distances, the eligibility rules) for every part of the page.
    places = victims.places(assessment.person)
    the_facts = _facts_or_none(assessment, places)
    rec = recommendation(assessment, the_facts) if the_facts is not None else None
    if failed is not None and action == "recommend":
        recommend = failed
    else:
        initial = forms.RecommendForm.initial_from(assessment)
        recommend = forms.RecommendForm(initial=initial, prefix="recommend", rec=rec)

    return render(
        request,
        "assessments/detail.html",
        {
            "assessment": assessment,
            "person": assessment.person,
            "addresses": _with_distances(assessment, places),
            "warning_m": settings.OPENEM_VICTIM_WARNING_M,
            "missing": assessment.missing_checks() if assessment.recommends_curfew else [],
            "recommendation": rec,
            "choices_problems": facts.problems_with_choices(assessment, the_facts) if the_facts is not None else [],
            "chosen": _chosen_labels(assessment),
            "victim_places": assessment.person.victim_places.select_related("recorded_by"),
            "versions": assessment.versions.select_related("changed_by")[:20],
            "forms": {
                "address": form("address", forms.AddressForm),
                "occupant": form("occupant", forms.OccupantForm),
                "ask": form("ask", forms.AskForm, asked_on=local_today()),
                "answer": form("answer", forms.AnswerForm, answered_on=local_today()),
                "conclude": form("conclude", forms.ConcludeForm),
                "recommend": recommend,
                "victim_place": form("victim_place", forms.VictimPlaceForm, kind="home"),
                "override": form("override", forms.OverrideForm),
                "decide": form("decide", forms.DecideForm, decided_on=local_today()),
            },
            "is_manager": request.user.role == Role.MANAGER,
            "today": local_today(),
            "draft": assessment.status == AssessmentStatus.DRAFT,
        },
        status=400 if failed is not None else 200,
    )


@transaction.atomic  # a step's writes (the change, its version, its audit event) stand or fall together
def _act(request: AuthedRequest, assessment: Assessment, action: str) -> HttpResponse | None:
    """Carry out one step; a redirect when done, None (the page again, with the errors) when not."""
    user = request.user
    if action == "recommend":
        return _recommend(request, assessment)
    cls = {
        "victim_place": forms.VictimPlaceForm,
        "address": forms.AddressForm, "occupant": forms.OccupantForm, "ask": forms.AskForm,
        "answer": forms.AnswerForm, "conclude": forms.ConcludeForm, "recommend": forms.RecommendForm,
        "override": forms.OverrideForm, "decide": forms.DecideForm, "submit": None,
    }[action]  # fmt: skip
    form = cls(request.POST, prefix=action) if cls is not None else None
    if form is not None and not form.is_valid():
        request._failed_form = form  # type: ignore[attr-defined]
        return None
    d = form.cleaned_data if form is not None else {}
    if action not in ("decide",) and assessment.status != AssessmentStatus.DRAFT and action != "submit":
        messages.error(request, "A submitted assessment cannot be changed; record the decision.")
        return redirect("assessments:detail", assessment.pk)
    address = None
    if action in ("occupant", "ask", "conclude"):
        address = get_object_or_404(assessment.addresses, pk=whole_number(request.POST.get("address")))
    try:
        if action == "address":
            services.add_address(
                assessment, user, label=d["label"], lat=d["lat"], lon=d["lon"], home_visit_on=d["home_visit_on"],
                occupier_consents=forms.yes_no(d["occupier_consents"]), electricity=forms.yes_no(d["electricity"]),
            )  # fmt: skip
        elif action == "occupant":
            assert address is not None
            Occupant.objects.create(address=address, name=d["name"], relationship=d["relationship"], age=d["age"])
            services._record(assessment, user, f"Occupant recorded at {address.label}: {d['relationship']}")
        elif action == "ask":
            assert address is not None
            if address.checks.filter(kind=d["kind"]).exists():
                raise services.NotAllowed([f"{CheckKind(d['kind']).label} has already been asked for {address.label}"])
            services.ask(address, CheckKind(d["kind"]), d["asked_whom"], d["asked_on"], user)
        elif action == "answer":
            check = get_object_or_404(Check, pk=whole_number(request.POST.get("check")), address__assessment=assessment)
            services.answer(
                check, CheckAnswer(d["answer"]), d["answered_on"], d["said"], user, d["person_may_be_victim"]
            )
        elif action == "conclude":
            assert address is not None
            services.conclude(
                address, user, d["suitability"], not_suitable_reason=d["not_suitable_reason"],
                no_measures_can_make_suitable=d["no_measures_can_make_suitable"],
                alternative_accommodation=d["alternative_accommodation"],
            )  # fmt: skip
        elif action == "victim_place":
            services.add_victim_place(
                assessment.person, user, kind=d["kind"], description=d["description"], lat=d["lat"], lon=d["lon"],
                radius_m=d["radius_m"] or 0,
            )  # fmt: skip
        elif action == "override":
            services.override(assessment, user, d["reason"])
        elif action == "submit":
            services.submit(assessment, user)
        elif action == "decide":
            services.decide(assessment, Decision(d["decision"]), d["decided_on"], user)
    except services.NotAllowed as refused:
        for reason in refused.reasons:
            messages.error(request, reason)
        return redirect("assessments:detail", assessment.pk)
    return redirect("assessments:detail", assessment.pk)


def _facts_or_none(assessment: Assessment, places: list[victims.Place]) -> Any:
    try:
        return facts.facts_of(assessment, places)
    except ValueError:  # facts the rules cannot read: the page still shows, without suggestions
        return None


def _with_distances(assessment: Assessment, places: list[victims.Place] | None = None) -> list[Any]:
    """The proposed addresses, each with ``near``: its distances from the places that protect a victim."""
    places = victims.places(assessment.person) if places is None else places
    addresses = list(assessment.addresses.prefetch_related("checks", "occupants"))
    for a in addresses:
        a.near = victims.distances(a, places)  # type: ignore[attr-defined]
    return addresses


def _chosen_labels(assessment: Assessment) -> list[str]:
    from .eligibility import BY_KEY

    return [BY_KEY[k].title for k in assessment.chosen() if k in BY_KEY]


def _responses(assessment: Assessment, places: list[victims.Place]) -> list[dict[str, Any]]:
    """Each suggestion and the practitioner's answer, in words, for the report."""
    from .eligibility import BY_KEY
    from .models import Response

    the_facts = _facts_or_none(assessment, places)
    rec = recommendation(assessment, the_facts) if the_facts is not None else None
    out = []
    for r in assessment.responses:
        cand = BY_KEY.get(r["candidate"])
        if cand is None:
            continue
        proposal = rec.proposal(cand) if rec is not None else None
        to = BY_KEY.get(r.get("to") or "")
        out.append({
            "label": cand.label, "reasons": [x.message for x in proposal.reasons] if proposal else [],
            "response": Response(r["response"]).label, "to": to.label if to else "", "why": r.get("why", ""),
        })  # fmt: skip
    return out


def _recommend(request: AuthedRequest, assessment: Assessment) -> HttpResponse | None:
    """Save the recommendation; a requirement chosen that the rules refuse is an error on the form, with the
    rule's reason, and nothing typed is lost."""
    from .eligibility import BY_KEY

    if assessment.status != AssessmentStatus.DRAFT:
        messages.error(request, "A submitted assessment cannot be changed; record the decision.")
        return redirect("assessments:detail", assessment.pk)
    the_facts = _facts_or_none(assessment, victims.places(assessment.person))
    rec = recommendation(assessment, the_facts) if the_facts is not None else None
    form = forms.RecommendForm(request.POST, prefix="recommend", rec=rec)
    if form.is_valid() and the_facts is not None:
        responses = form.cleaned_data["responses"]
        chosen = [BY_KEY[r["to"] or r["candidate"]] for r in responses if r["response"] != "rejected"]
        for problem in facts.refused_choices(the_facts, chosen):
            form.add_error(None, problem)
    if not form.is_valid():
        request._failed_form = form  # type: ignore[attr-defined]
        return None
    d = form.cleaned_data
    services.recommend(assessment, request.user, d["responses"], d["curfew_times"], d["rationale"])
    messages.success(request, "Recommendation saved.")
    return redirect("assessments:detail", assessment.pk)


@order_setup_required
def report(request: AuthedRequest, pk: int) -> HttpResponse:
    """The assessment's section for the court report or the release decision, as a PDF: plain language, the
    checks with their dates, each address's conclusion, the proposal and its rationale, and any waiver."""
    from django.template.loader import render_to_string
    from django.utils import timezone
    from django.utils.http import content_disposition_header
    from weasyprint import HTML

    from openem.portal.exports import refuse_fetch

    assessment = get_object_or_404(visible_assessments(request), pk=pk)
    places = victims.places(assessment.person)
    html = render_to_string(
        "assessments/report.html",
        {
            "assessment": assessment, "person": assessment.person,
            "addresses": _with_distances(assessment, places), "warning_m": settings.OPENEM_VICTIM_WARNING_M,
            "chosen": _chosen_labels(assessment), "responses": _responses(assessment, places),
            "made_by": request.user,
            "made_at": timezone.now(),
        },
    )  # fmt: skip
    AuditEvent.record(request.user, AuditAction.EXPORT, person=assessment.person, obj=assessment,
                      summary=f"assessment {assessment.pk}: report section (PDF)")  # fmt: skip
    response = HttpResponse(HTML(string=html, url_fetcher=refuse_fetch).write_pdf(), content_type="application/pdf")
    name = f"assessment-{assessment.pk}-{assessment.person.crn or assessment.person.ref}.pdf"
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    return response
