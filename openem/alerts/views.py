"""The alert queue, an incident and what people do with it, enforcement decisions, evidence packs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpResponse, HttpResponseNotAllowed, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header

from openem.accounts.models import Role
from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import local_today
from openem.portal.access import AuthedRequest, case_records_required, forbidden
from openem.portal.live import record_look
from openem.portal.presenters import map_features
from openem.portal.staticmap import Point, svg_map
from openem.portal.trail import audited_fixes
from openem.ukforms import UKDateField

from .models import (
    ClearReason,
    ContactMethod,
    ContactOutcome,
    DecisionKind,
    Incident,
    IncidentKind,
    IncidentStatus,
)

SEVERITY_ORDER = Case(
    When(severity="critical", then=Value(0)),
    When(severity="high", then=Value(1)),
    When(severity="medium", then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)
VIEWS = (("active", "Needs action"), ("overdue", "Decisions overdue"), ("cleared", "Cleared"))


def scoped(request: AuthedRequest) -> QuerySet[Incident]:
    """What this user works on: practitioners and managers behaviour; the centre everything."""
    qs = Incident.objects.visible_to(request.user).select_related("person", "person__practitioner", "acknowledged_by")
    if request.user.role in (Role.PRACTITIONER, Role.MANAGER):
        qs = qs.filter(kind=IncidentKind.BEHAVIOUR)
    return qs


def overdue(qs: QuerySet[Incident], today: date) -> list[Incident]:
    """Recommendation 17: behaviour incidents past their decision date with no decision recorded."""
    candidates = qs.filter(kind=IncidentKind.BEHAVIOUR, decision_due__lt=today, decisions__isnull=True)
    return [i for i in candidates.order_by("decision_due") if i.decision_overdue(today)]


@case_records_required
def queue(request: AuthedRequest) -> HttpResponse:
    show = request.GET.get("show", "active")
    kind = request.GET.get("kind", "")
    qs = scoped(request)
    if kind in IncidentKind._value2member_map_:
        qs = qs.filter(kind=kind)
    today = local_today()
    counts = {
        "active": qs.exclude(status=IncidentStatus.CLEARED).count(),
        "overdue": len(overdue(qs, today)),
        "cleared": qs.filter(status=IncidentStatus.CLEARED).count(),
    }
    if show == "overdue":
        rows = overdue(qs, today)
    elif show == "cleared":
        rows = list(qs.filter(status=IncidentStatus.CLEARED).order_by("-cleared_at")[:100])
    else:
        show = "active"
        rows = list(
            qs.exclude(status=IncidentStatus.CLEARED).annotate(rank=SEVERITY_ORDER).order_by("rank", "-start")[:300]
        )
    kinds = [("", "All")] + [(k.value, k.label) for k in IncidentKind] if request.user.sees_all_cases else []
    acknowledgeable = {i.pk for i in rows if i.status == IncidentStatus.OPEN and i.can_work(request.user)}
    return render(
        request,
        "alerts/queue.html",
        {
            "rows": rows,
            "show": show,
            "kind": kind,
            "kinds": kinds,
            "tabs": [(k, label, counts[k]) for k, label in VIEWS],
            "now": timezone.now(),
            "today": today,
            "acknowledgeable": acknowledgeable,
        },
    )


@case_records_required
def acknowledge(request: AuthedRequest, pk: int) -> HttpResponse:
    """One click from the queue: the same acknowledgement, permission and audit as on the incident page, then
    back to the queue as the user had it (its tab and filter)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    incident = get_object_or_404(scoped(request), pk=pk)
    if not incident.can_work(request.user):
        return forbidden(request, "Your role does not acknowledge this incident.")
    back = reverse("alerts:queue") + queue_query(request.POST.get("back", ""))
    if incident.record_refusal():  # cleared meanwhile: nothing to acknowledge
        messages.info(request, f"Already cleared: {incident.headline}")
        return redirect(back)
    if incident.status != IncidentStatus.OPEN:  # someone else was quicker, or a second click
        who = incident.acknowledged_by.display_name if incident.acknowledged_by else "someone else"
        messages.info(request, f"Already acknowledged by {who}: {incident.headline}")
        return redirect(back)
    incident.acknowledge(request.user)
    summary = f"incident {incident.pk}: acknowledged"
    AuditEvent.record(request.user, AuditAction.CHANGE, person=incident.person, obj=incident, summary=summary)
    messages.success(request, f"Acknowledged: {incident.headline}")
    return redirect(back)


def queue_query(back: str) -> str:
    """The queue's own filters from the form's ``back`` field, and nothing else (it is the client's to send)."""
    given = QueryDict(back)
    kept = QueryDict(mutable=True)
    for name in ("show", "kind"):
        if given.get(name):
            kept[name] = given[name]
    return f"?{kept.urlencode()}" if kept else ""


class ContactForm(forms.Form):
    method = forms.ChoiceField(label="How", choices=ContactMethod.choices(), widget=forms.RadioSelect)
    outcome = forms.ChoiceField(label="Outcome", choices=ContactOutcome.choices(), widget=forms.RadioSelect)
    text = forms.CharField(label="What was said", required=False, widget=forms.Textarea(attrs={"rows": 3}))


class NoteForm(forms.Form):
    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)


class ClearForm(forms.Form):
    reason = forms.ChoiceField(label="Why it can be cleared", choices=(), widget=forms.RadioSelect)
    text = forms.CharField(
        label="Details", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed for an authorised absence (who authorised it) and for not a breach (what explains it).",
    )  # fmt: skip

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.incident = incident
        reason = self.fields["reason"]
        assert isinstance(reason, forms.ChoiceField)
        reason.choices = [(r.value, r.label) for r in incident.clear_reasons()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason"):
            reason = ClearReason(data["reason"])
            problem = self.incident.clear_problem(reason)
            if problem:
                self.add_error("reason", problem)
            elif details := self.incident.details_problem(reason, data.get("text", "")):
                self.add_error("text", details)
        return data


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(label="Decision", choices=DecisionKind.choices(), widget=forms.RadioSelect)
    reason = forms.CharField(
        label="Reasons", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this decision: the wearer's explanation, their compliance so far, the risk.",
    )  # fmt: skip
    decided_on = UKDateField(label="Date of decision")
    action_on = UKDateField(
        label="Date the action was taken", required=False,
        help_text="For example, 27/3/2026: warning letter issued, breach laid before the court, or recall requested.",
    )  # fmt: skip

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.incident = incident

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, problem in self.incident.decision_date_problems(
            data.get("decided_on"), data.get("action_on")
        ).items():
            self.add_error(name, problem)
        return data


ACTIONS = {"acknowledge", "note", "contact", "clear", "decision"}
# What a cleared incident no longer takes (a further enforcement decision it still does).
RECORDS_ON_ACTIVE = {"acknowledge", "note", "contact"}


def visible_incident(request: AuthedRequest, pk: int) -> Incident:
    return get_object_or_404(
        Incident.objects.visible_to(request.user).select_related("person", "person__practitioner"), pk=pk
    )


@case_records_required
def incident_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    incident = visible_incident(request, pk)
    user = request.user
    forms_: dict[str, forms.Form] = {
        "note": NoteForm(prefix="note"),
        "contact": ContactForm(prefix="contact"),
        "clear": ClearForm(prefix="clear", incident=incident),
        "decision": DecisionForm(prefix="decision", incident=incident, initial={"decided_on": local_today()}),
    }
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ACTIONS:
            return HttpResponse("Unknown action", status=400, content_type="text/plain")
        if not incident.can_work(user) or (action == "decision" and not user.decides_enforcement):
            return forbidden(request, "Your role does not record this on an incident.")
        if action == "decision" and not incident.for_practitioner:
            return HttpResponse("Only behaviour incidents take enforcement decisions", status=400)
        if action == "decision" and not incident.can_decide(user):
            return forbidden(request, "Only the case's practitioner or a manager of the team records this decision.")
        if action in RECORDS_ON_ACTIVE and incident.record_refusal():
            return HttpResponse(incident.record_refusal(), status=409, content_type="text/plain; charset=utf-8")
        if action == "clear" and not incident.can_clear(user):
            return forbidden(request, incident.clear_refusal(user))
        if action == "acknowledge":
            incident.acknowledge(user)
            return _done(request, incident, "acknowledged")
        form: forms.Form
        if action == "clear":
            form = ClearForm(request.POST, prefix=action, incident=incident)
        elif action == "decision":
            form = DecisionForm(request.POST, prefix=action, incident=incident)
        else:
            form_class = {"note": NoteForm, "contact": ContactForm}[action]
            form = form_class(request.POST, prefix=action)
        if form.is_valid():
            d = form.cleaned_data
            if action == "note":
                incident.add_note(user, d["text"])
            elif action == "contact":
                incident.record_contact(user, d["method"], d["outcome"], d["text"])
            elif action == "clear":
                incident.clear_by(user, ClearReason(d["reason"]), d["text"])
            else:
                incident.decide(user, DecisionKind(d["decision"]), d["reason"], d["decided_on"], d["action_on"])
            return _done(request, incident, action)
        forms_[action] = form
    record_look(request, AuditAction.VIEW, person=incident.person, obj=incident, summary=f"incident {incident.pk}")
    # An area outage holds other teams' people: list only those the user may see.
    violations = incident.violations.visible_to(user).filter(retracted=False).select_related("person").order_by("start")
    features = []
    if incident.person is not None:
        # The zones and places as they stood when the incident began (the order may have been varied since).
        features = map_features([c for o in incident.person.orders.all() for c in o.conditions_as_of(incident.start)])
    window = (incident.start - timedelta(hours=1), (incident.end or timezone.now()) + timedelta(hours=1))
    return render(
        request,
        "alerts/incident.html",
        {
            "incident": incident,
            "violations": violations,
            "actions": incident.timeline_for(user),
            "decisions": incident.decisions.select_related("by"),
            "forms": forms_,
            "can_work": incident.can_work(user) and incident.is_active,
            "can_clear": incident.can_clear(user),
            "can_decide": incident.can_decide(user),
            "decision_overdue": incident.decision_overdue(),
            "features": features,
            "trail_start": timezone.localtime(window[0]).strftime("%Y-%m-%dT%H:%M"),
            "trail_end": timezone.localtime(window[1]).strftime("%Y-%m-%dT%H:%M"),
            "now": timezone.now(),
        },
    )


def _done(request: AuthedRequest, incident: Incident, action: str) -> HttpResponse:
    summary = f"incident {incident.pk}: {action}"
    AuditEvent.record(request.user, AuditAction.CHANGE, person=incident.person, obj=incident, summary=summary)
    return redirect(f"/alerts/{incident.pk}/?done={action}")


@case_records_required
def evidence_pack(request: AuthedRequest, pk: int) -> HttpResponse:
    """A PDF for breach proceedings or a recall: the incident, its timeline, a map, readings, conditions."""
    from weasyprint import HTML

    from openem.portal.exports import refuse_fetch

    incident = visible_incident(request, pk)
    if incident.person is None:
        return HttpResponse("Evidence packs are for a person's incident", status=400, content_type="text/plain")
    person = incident.person
    start = incident.start - timedelta(hours=1)
    end = (incident.end or timezone.now()) + timedelta(hours=1)
    fixes = audited_fixes(
        request.user, person, start, end, f"Evidence pack for incident {incident.pk}", AuditAction.EXPORT,
        "evidence pack: {n} positions",
    )  # fmt: skip
    # The terms as they stood when the incident began, not as varied since.
    conditions = [c for order in person.orders.all() for c in order.conditions_as_of(incident.start)]
    violations = list(incident.violations.filter(retracted=False).order_by("start"))
    marks = []
    for v in violations:
        near = min(fixes, key=lambda f: abs((f.t - v.start).total_seconds()), default=None)
        if near is not None:
            label = f"{v.type_enum.label} {timezone.localtime(v.start):%H:%M}"
            marks.append((Point(near.lat, near.lon, near.t), label))
    svg = svg_map(
        map_features(conditions), [Point(f.lat, f.lon, timezone.localtime(f.t)) for f in fixes], marks, 680, 420
    )
    html = render_to_string(
        "alerts/evidence_pack.html",
        {
            "incident": incident,
            "person": person,
            "violations": violations,
            "actions": incident.timeline(),
            "decisions": incident.decisions.select_related("by"),
            "conditions": [(c, c.to_spec()) for c in conditions],
            "fixes": fixes,
            "map_svg": svg,
            "start": start,
            "end": end,
            "made_by": request.user,
            "made_at": timezone.now(),
        },
    )
    pdf = HTML(string=html, url_fetcher=refuse_fetch).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"evidence-incident-{incident.pk}-{person.crn or person.ref}.pdf"
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    return response
