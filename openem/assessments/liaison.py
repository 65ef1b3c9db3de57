"""The victim liaison officer's pages: for each person with a victim to protect, what protects the victim
(the places recorded for them, how far each proposed curfew address is from them, the requirements
recommended, the decision, the exclusion zones on the person's orders and when they changed), and where
the officer records the victim's places and what the victim has asked for. Nothing of the wearer's trail,
their household, the checks or the addresses themselves (DESIGN.md section 2). Every look is audited."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from openem.audit.models import AuditAction, AuditEvent
from openem.engine.enums import ConditionType
from openem.portal.access import AuthedRequest, forbidden

from . import forms, services, victims
from .eligibility import BY_KEY
from .models import Assessment


def liaison_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.liaises_with_victims:
            return forbidden(request, "These pages are for victim liaison officers.")
        return view(request, *args, **kwargs)

    return wrapper


def with_victims() -> QuerySet[Assessment]:
    """Assessments that record a victim to protect, or for a person with a victim's place on record."""
    return Assessment.objects.filter(Q(victim_to_protect=True) | Q(person__victim_places__isnull=False)).distinct()


@liaison_required
def index(request: AuthedRequest) -> HttpResponse:
    rows = with_victims().select_related("person").prefetch_related("person__victim_places")
    return render(request, "assessments/victims.html", {"assessments": rows})


@liaison_required
def detail(request: AuthedRequest, pk: int) -> HttpResponse:
    assessment = get_object_or_404(with_victims().select_related("person"), pk=pk)
    failed: dict[str, Any] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        cls = {"victim_place": forms.VictimPlaceForm, "views": forms.VictimViewsForm}.get(action)
        if cls is None:
            return forbidden(request, "That is not something a victim liaison officer records here.")
        form = cls(request.POST, prefix=action)
        if form.is_valid():
            d = form.cleaned_data
            if action == "views":
                services.record_victim_views(assessment, request.user, d["views"])
                messages.success(request, "The victim's views are recorded and shown to the practitioner.")
            else:
                services.add_victim_place(
                    assessment.person, request.user, kind=d["kind"], description=d["description"], lat=d["lat"],
                    lon=d["lon"], radius_m=d["radius_m"] or 0,
                )  # fmt: skip
                messages.success(request, "The place is recorded: the distance from each proposed address is below.")
            return redirect("assessments:victim", assessment.pk)
        failed[action] = form
    else:
        AuditEvent.record(request.user, AuditAction.VIEW, person=assessment.person, obj=assessment,
                          summary=f"victim liaison: assessment {assessment.pk}")  # fmt: skip
    places = victims.places(assessment.person)
    addresses = [
        {"n": n, "suitability": a.suitability_enum.label, "near": victims.distances(a, places),
         "located": a.lat is not None}
        for n, a in enumerate(assessment.addresses.all(), start=1)
    ]  # fmt: skip
    context = {
        "assessment": assessment,
        "person": assessment.person,
        "places": assessment.person.victim_places.select_related("recorded_by"),
        "addresses": addresses,
        "warning_m": settings.OPENEM_VICTIM_WARNING_M,
        "chosen": [BY_KEY[k].label for k in assessment.chosen() if k in BY_KEY],
        "zones": _zones(assessment.person),
        "place_form": failed.get("victim_place")
        or forms.VictimPlaceForm(prefix="victim_place", initial={"kind": "home"}),
        "views_form": failed.get("views")
        or forms.VictimViewsForm(prefix="views", initial={"views": assessment.victim_views}),
    }
    return render(request, "assessments/victim.html", context, status=400 if failed else 200)


def _zones(person: Any) -> list[dict[str, Any]]:
    """Every exclusion zone on the person's orders, with the dates it was added and removed."""
    out = []
    for order in person.orders.prefetch_related("versions"):
        dates = {v.number: v.changed_at for v in order.versions.all()}
        zones = order.conditions.filter(type=ConditionType.EXCLUSION_ZONE.value)
        for cond in zones.order_by("ref", "added_in_version"):
            out.append({
                "order": order.ref, "ref": cond.ref, "name": cond.spec.get("name") or cond.ref,
                "monitored": bool(cond.spec.get("monitored")), "start": cond.effective_start, "end": cond.effective_end,
                "added": dates.get(cond.added_in_version),
                "removed": dates.get(cond.removed_in_version) if cond.removed_in_version else None,
            })  # fmt: skip
    return out
