"""Making and varying orders and their conditions. Every save is a new version with a reason."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import Condition, local_today
from openem.cases.rules import Finding
from openem.cases.services import OrderRejected, save_order
from openem.engine.casefile import OrderSpec
from openem.engine.enums import ConditionType, OrderType
from openem.inputs import whole_number

from .access import AuthedRequest, case_records_required, order_setup_required, visible_order, visible_person
from .forms import CONDITION_FORMS, OrderForm, RemoveConditionForm, main_fields
from .presenters import combined_week_grid, condition_rows, map_features


def _report(request: AuthedRequest, warnings: list[Finding]) -> None:
    for w in warnings:
        messages.warning(request, w.message)


def _rejected(form: Any, exc: OrderRejected) -> None:
    for finding in exc.findings:
        form.add_error(None, finding.message[0].upper() + finding.message[1:])


@order_setup_required
def order_create(request: AuthedRequest, pk: int) -> HttpResponse:
    person = visible_person(request, pk)
    suggested = f"O{person.orders.count() + 1:04d}-{person.ref}"
    initial: dict[str, Any] = {"ref": suggested, "start": local_today()}
    # "Make the order from this assessment": its type and the decision's date, then the usual validation.
    source, unusable = _assessment_to_make(person, request.POST.get("assessment") or request.GET.get("assessment"))
    if unusable and request.method != "POST":
        messages.warning(request, unusable)
    if source is not None:
        initial.update(type=source.proposal, start=source.decided_on, reason=f"Made from the assessment of "
                       f"{source.created:%d/%m/%Y}: {source.get_decision_display().lower()} on "
                       f"{source.decided_on:%d/%m/%Y}")  # fmt: skip
    form = OrderForm(request.POST if request.method == "POST" else None, initial=initial)
    proposed = _proposed_from(source)
    taken = (
        {n for i in request.POST.getlist("take") if (n := whole_number(i)) is not None}
        if request.method == "POST"
        else None
    )
    if request.method == "POST" and form.is_valid():
        spec = form.apply_to(OrderSpec(id="", type=OrderType.COMMUNITY_ORDER, start=local_today(), end=local_today()))
        # The conditions recommended in the assessment, as the practitioner ticked them: numbered in order.
        for i, p in enumerate(proposed):
            if p.ready and taken is not None and i in taken:
                spec.conditions += [replace(c, id=f"C{len(spec.conditions) + 1}") for c in p.specs]
        if unusable:  # an order is not made quietly without what the assessment recommended
            form.add_error(None, unusable)
        elif person.orders.filter(ref=spec.id).exists():
            form.add_error("ref", "This person already has an order with this reference")
        else:
            try:
                order, warnings = _save_from(person, spec, request.user, form.cleaned_data["reason"], source)
            except OrderRejected as exc:
                _rejected(form, exc)
            except _AlreadyMade as exc:
                form.add_error(None, str(exc))
            else:
                if spec.conditions:
                    n = len(spec.conditions)
                    made = f"Order {order.ref} made with {n} condition{'s' if n != 1 else ''} from the assessment."
                    messages.success(request, f"{made} Check them against the court's order or the licence.")
                else:
                    messages.success(request, f"Order {order.ref} made. Now add its monitoring conditions.")
                _report(request, warnings)
                return redirect("portal:order", pk=order.pk)
    return render(
        request,
        "portal/order_form.html",
        {
            "form": form, "person": person, "order": None, "fields": main_fields(form), "assessment": source,
            "proposed": [(i, p, taken is None or i in taken) for i, p in enumerate(proposed)],
        },
    )  # fmt: skip


class _AlreadyMade(Exception):
    pass


def _save_from(person: Any, spec: OrderSpec, user: Any, reason: str, source: Any) -> tuple[Any, list[Finding]]:
    """Save the order and, made from an assessment, link it in the same transaction: if another order was
    linked first (two at once, a double click), this one is undone and the practitioner told."""
    if source is None:
        return save_order(person, spec, user, reason)
    from openem.assessments.services import order_made

    with transaction.atomic():
        order, warnings = save_order(person, spec, user, reason)
        if not order_made(source, order, user):
            made = type(source).objects.filter(pk=source.pk).values_list("order__ref", flat=True).first()
            raise _AlreadyMade(f"An order ({made}) has already been made from this assessment: open it from there")
    return order, warnings


def _proposed_from(source: Any) -> list[Any]:
    if source is None:
        return []
    from openem.assessments.ordering import proposed_conditions

    return proposed_conditions(source)


def _assessment_to_make(person: Any, pk: str | None) -> tuple[Any, str]:
    """The person's assessment an order is being made from, if it is one that may make one; else why not
    (nothing when no assessment was named, or it is not this person's)."""
    from openem.assessments.models import Assessment

    number = whole_number(pk)
    found = Assessment.objects.filter(person=person, pk=number).select_related("order").first() if number else None
    if found is None or found.can_make_order:
        return found, ""
    if found.order is not None:
        return None, f"An order ({found.order.ref}) has already been made from this assessment: open it from there"
    return None, "An order is made from an assessment once the court imposed it or the release went ahead"


@case_records_required
def order_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    order = visible_order(request, pk)
    AuditEvent.record(request.user, AuditAction.VIEW, person=order.person, obj=order, summary="order page")
    rows = condition_rows(order)
    return render(
        request,
        "portal/order.html",
        {
            "order": order,
            "person": order.person,
            "rows": rows,
            "combined_grid": combined_week_grid(rows),
            "findings": order.findings(),
            "versions": order.versions.select_related("changed_by"),
            "status": order.status,
            "features": map_features([r["cond"] for r in rows]),
            "can_set_up": request.user.can_set_up_orders,
            "condition_types": ConditionType.choices(),
        },
    )


@order_setup_required
def order_vary(request: AuthedRequest, pk: int) -> HttpResponse:
    order = visible_order(request, pk)
    spec = order.to_spec()
    form = OrderForm(request.POST if request.method == "POST" else None, initial=OrderForm.initial_from(spec))
    if request.method == "POST" and form.is_valid():
        new_ref = form.cleaned_data["ref"]
        if new_ref != order.ref and order.person.orders.filter(ref=new_ref).exists():
            form.add_error("ref", "This person already has an order with this reference")
        else:
            try:
                order, warnings = save_order(
                    order.person, form.apply_to(spec), request.user, form.cleaned_data["reason"], order=order
                )
            except OrderRejected as exc:
                _rejected(form, exc)
            else:
                messages.success(request, f"Order {order.ref} varied (version {order.version}).")
                _report(request, warnings)
                return redirect("portal:order", pk=order.pk)
    AuditEvent.record(request.user, AuditAction.VIEW, person=order.person, obj=order, summary="order: vary form")
    return render(
        request,
        "portal/order_form.html",
        {"form": form, "person": order.person, "order": order, "fields": main_fields(form)},
    )


def _next_ref(spec: OrderSpec) -> str:
    used = {c.id for c in spec.conditions}
    n = len(spec.conditions) + 1
    while f"C{n}" in used:
        n += 1
    return f"C{n}"


def _live_condition(order: Any, cpk: int) -> tuple[Condition, bool]:
    """The condition a link names, as it stands now: a link made before the order was varied names an
    earlier version's row, and leads to the live one with the same reference (True: redirect there).
    A condition since removed from the order is not found."""
    cond = get_object_or_404(order.conditions, pk=cpk)
    if cond.removed_in_version is None:
        return cond, False
    live = order.conditions.filter(ref=cond.ref, removed_in_version__isnull=True).first()
    if live is None:
        raise Http404(f"Condition {cond.ref} was removed from this order in version {cond.removed_in_version}")
    return live, True


@order_setup_required
def condition_edit(request: AuthedRequest, pk: int, ctype: str = "", cpk: int | None = None) -> HttpResponse:
    order = visible_order(request, pk)
    spec = order.to_spec()
    existing = None
    if cpk is not None:
        existing, moved = _live_condition(order, cpk)
        if moved:
            return redirect("portal:condition-vary", order.pk, existing.pk)
        ctype_enum = existing.type_enum
    else:
        if ctype not in ConditionType._value2member_map_:
            raise Http404("No such kind of condition")
        ctype_enum = ConditionType(ctype)
    form_class = CONDITION_FORMS[ctype_enum]
    initial = form_class.initial_from(existing.to_spec()) if existing else {}
    form = form_class(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        ref = existing.ref if existing else _next_ref(spec)
        new = form.to_spec(ref)
        if existing:
            spec.conditions = [new if c.id == ref else c for c in spec.conditions]
        else:
            spec.conditions.append(new)
        try:
            order, warnings = save_order(order.person, spec, request.user, form.cleaned_data["reason"], order=order)
        except OrderRejected as exc:
            _rejected(form, exc)
        else:
            verb = "varied" if existing else "added"
            messages.success(request, f"{ctype_enum.label} {ref} {verb} (order version {order.version}).")
            _report(request, warnings)
            return redirect("portal:order", pk=order.pk)
    windows = form.window_rows() if hasattr(form, "window_rows") else []
    # The form draws the order's zones on its map: a look at where the person may and may not go.
    what = f"{existing.ref} vary form" if existing else f"add {ctype_enum.label.lower()} form"
    AuditEvent.record(request.user, AuditAction.VIEW, person=order.person, obj=order, summary=f"order: {what}")
    return render(
        request,
        "portal/condition_form.html",
        {
            "form": form,
            "order": order,
            "person": order.person,
            "ctype": ctype_enum,
            "existing": existing,
            "fields": main_fields(form),
            "windows": windows,
            "features": map_features(order.conditions_in_force()) if order.conditions.exists() else [],
        },
    )


@order_setup_required
def condition_remove(request: AuthedRequest, pk: int, cpk: int) -> HttpResponse:
    order = visible_order(request, pk)
    cond, moved = _live_condition(order, cpk)
    if moved:
        return redirect("portal:condition-remove", order.pk, cond.pk)
    form = RemoveConditionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        spec = order.to_spec()
        spec.conditions = [c for c in spec.conditions if c.id != cond.ref]
        try:
            order, warnings = save_order(order.person, spec, request.user, form.cleaned_data["reason"], order=order)
        except OrderRejected as exc:
            _rejected(form, exc)
        else:
            messages.success(request, f"{cond.type_enum.label} {cond.ref} removed (order version {order.version}).")
            _report(request, warnings)
            return redirect("portal:order", pk=order.pk)
    AuditEvent.record(
        request.user, AuditAction.VIEW, person=order.person, obj=order, summary=f"order: {cond.ref} remove form"
    )
    return render(
        request, "portal/condition_remove.html", {"form": form, "order": order, "cond": cond, "person": order.person}
    )
