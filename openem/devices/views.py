"""The device stock, for the monitoring centre: devices, their keys and the gateway each reports through.

A new key is shown once, on the page that issued it, and never again (only its digest is kept).
Every issue, rotation and revocation is audited with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import Person
from openem.engine.enums import DeviceKind
from openem.portal.access import AuthedRequest, forbidden, visible_person
from openem.uktime import when

from . import visits
from .contact import contacts
from .credentials import issue_key, revoke_keys
from .forms import DeviceForm, FitForm, GatewayForm, KeyForm, RemoveForm, SwapForm
from .models import Device, DeviceKey, Fitting


def devices_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    from django.contrib.auth.decorators import login_required

    @login_required
    @wraps(view)
    def wrapper(request: AuthedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.manages_devices:
            return forbidden(request, "The device stock is managed by the monitoring centre.")
        return view(request, *args, **kwargs)

    return wrapper


def _current_fittings() -> Prefetch:
    return Prefetch(
        "fittings", queryset=Fitting.objects.in_force(timezone.now()).select_related("person"), to_attr="current"
    )


@devices_required
def device_list(request: AuthedRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:40]
    kind = request.GET.get("kind", "")
    devices = Device.objects.select_related("gateway").prefetch_related(
        _current_fittings(),
        Prefetch("keys", queryset=DeviceKey.objects.filter(revoked_at__isnull=True), to_attr="active"),
    )
    if q:
        devices = devices.filter(ref__icontains=q)
        AuditEvent.record(request.user, AuditAction.SEARCH, summary=f'device stock: "{q}"')
    if kind in DeviceKind._value2member_map_:
        devices = devices.filter(kind=kind)
    page = Paginator(devices, 50).get_page(request.GET.get("page"))
    found = contacts(page.object_list, fitted={d.ref for d in page.object_list if d.current})
    for d in page.object_list:
        d.contact = found.get(d.ref)
    return render(
        request,
        "devices/device_list.html",
        {"page": page, "q": q, "kind": kind, "kinds": list(DeviceKind), "total": page.paginator.count},
    )


def _key_issued(request: AuthedRequest, device: Device, key: str, rotated: bool) -> HttpResponse:
    """The one time the key is shown. Not a redirect: the key must not travel in a URL or a session."""
    response = render(
        request,
        "devices/key_issued.html",
        {"device": device, "key": key, "rotated": rotated, "ingest_url": settings.OPENEM_INGEST_URL},
    )
    add_never_cache_headers(response)  # never kept by a browser or a proxy
    return response


@devices_required
@require_http_methods(["GET", "POST"])
def device_add(request: AuthedRequest) -> HttpResponse:
    form = DeviceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            device = Device.objects.create(
                ref=form.cleaned_data["ref"], kind=form.cleaned_data["kind"], gateway=form.cleaned_data["gateway"]
            )
            AuditEvent.record(
                request.user, AuditAction.CREATE, obj=device, summary=f"device {device.ref} added to stock"
            )
            key = issue_key(device, request.user, why="enrolled when added to stock")
        return _key_issued(request, device, key, rotated=False)
    return render(request, "devices/device_form.html", {"form": form})


def _detail(
    request: AuthedRequest,
    device: Device,
    key_form: KeyForm | None = None,
    gateway_form: GatewayForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "devices/device_detail.html",
        {
            "device": device,
            "keys": device.keys.all(),
            "active_key": device.key,
            "fittings": device.fittings.select_related("person").order_by("-fitted_at"),
            "contact": contacts([device], fitted={device.ref} if device.fitting_at() else set()).get(device.ref),
            "key_form": key_form or KeyForm(),
            "gateway_form": gateway_form or GatewayForm(initial={"gateway": device.gateway_id}),
        },
        status=status,
    )


@devices_required
def device_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(Device.objects.select_related("gateway"), pk=pk))


@devices_required
@require_POST
def device_key(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    device = get_object_or_404(Device, pk=pk)
    form = KeyForm(request.POST)
    if not form.is_valid() or action not in ("issue", "revoke"):
        return _detail(request, device, key_form=form, status=400)
    why = form.cleaned_data["reason"]
    if action == "revoke":
        n = revoke_keys(device, request.user, why=why)
        messages.success(request, f"The key of {device.ref} is revoked." if n else f"{device.ref} had no key.")
        return redirect("devices:device", pk=device.pk)
    had = device.key is not None
    return _key_issued(request, device, issue_key(device, request.user, why=why), rotated=had)


@devices_required
@require_POST
def device_gateway(request: AuthedRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(Device, pk=pk)
    form = GatewayForm(request.POST)
    if not form.is_valid():
        return _detail(request, device, gateway_form=form, status=400)
    before = device.gateway
    device.gateway = form.cleaned_data["gateway"]
    device.save(update_fields=["gateway"])
    AuditEvent.record(
        request.user,
        AuditAction.CREDENTIAL,
        obj=device,
        summary=f"device {device.ref}: gateway {before or 'none'} -> {device.gateway or 'none'}",
        reason=form.cleaned_data["gateway_reason"],
    )
    messages.success(request, f"{device.ref} now reports through {device.gateway or 'its own key only'}.")
    return redirect("devices:device", pk=device.pk)


# Fitting, removal and swap: the visits of the centre's field officers, each recorded with its own time.


def _in_stock() -> list[Device]:
    """Devices that can be fitted now, for the serial number's suggestions."""
    fitted = Fitting.objects.filter(device=OuterRef("pk"), removed_at__isnull=True)
    return list(Device.objects.filter(retired=False, faulty=False).exclude(Exists(fitted)).order_by("kind", "ref"))


def _needs(person: Person) -> list[str]:
    return sorted(DeviceKind(k).label for k in visits.kinds_needed(person))


def _visit_form(request: AuthedRequest, template_context: dict[str, Any], status: int = 200) -> HttpResponse:
    fitting = template_context.get("fitting")
    noun = visits.NOUN[fitting.device.kind_enum] if fitting else ""
    return render(
        request, "devices/visit_form.html", {"stock": _in_stock(), "noun": noun, **template_context}, status=status
    )


def _done(request: AuthedRequest, person: Person, message: str, warnings: list[str]) -> HttpResponse:
    messages.success(request, message)
    for w in warnings:
        messages.warning(request, w)
    return redirect("portal:person", pk=person.pk)


def _visible_fitting(request: AuthedRequest, pk: int) -> Fitting:
    return get_object_or_404(
        Fitting.objects.select_related("device", "person").filter(person__in=Person.objects.visible_to(request.user)),
        pk=pk,
    )


@devices_required
@require_http_methods(["GET", "POST"])
def fit_device(request: AuthedRequest, pk: int) -> HttpResponse:
    person = visible_person(request, pk)
    initial = FitForm.initial_now(fitted_by=request.user.display_name, device=request.GET.get("device", "")[:40])
    form = FitForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            d = form.cleaned_data
            fitting, warnings = visits.fit(request.user, person, d["device"].strip(), form.at, d["fitted_by"])
        except visits.Refused as exc:
            form.add_error(exc.field, exc.message)
        else:
            return _done(
                request, person, f"{fitting.device.ref} fitted to {person.name} at {when(fitting.fitted_at)}.", warnings
            )
    else:
        AuditEvent.record(request.user, AuditAction.VIEW, person=person, obj=person, summary="fit a device form")
    context = {"form": form, "person": person, "mode": "fit", "needs": _needs(person)}
    return _visit_form(request, context, status=400 if form.is_bound else 200)


def _ended_already(request: AuthedRequest, fitting: Fitting) -> HttpResponse:
    at = fitting.removed_at or timezone.now()
    messages.info(request, f"{fitting.device.ref} was removed from {fitting.person.name} at {when(at)}.")
    return redirect("portal:person", pk=fitting.person_id)


@devices_required
@require_http_methods(["GET", "POST"])
def remove_device(request: AuthedRequest, pk: int) -> HttpResponse:
    fitting = _visible_fitting(request, pk)
    form = RemoveForm(request.POST if request.method == "POST" else None, initial=RemoveForm.initial_now())
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            fitting = visits.remove(request.user, fitting.pk, form.at, d["reason"], d["faulty"])
        except visits.Refused as exc:
            form.add_error(exc.field, exc.message)
        else:
            message = f"{fitting.device.ref} removed from {fitting.person.name} at {when(form.at)}."
            return _done(request, fitting.person, message, [])
    elif request.method == "GET":
        if fitting.removed_at is not None:
            return _ended_already(request, fitting)
        AuditEvent.record(
            request.user, AuditAction.VIEW, person=fitting.person, obj=fitting, summary="remove a device form"
        )
    context = {"form": form, "person": fitting.person, "fitting": fitting, "mode": "remove"}
    return _visit_form(request, context, status=400 if form.is_bound else 200)


@devices_required
@require_http_methods(["GET", "POST"])
def swap_device(request: AuthedRequest, pk: int) -> HttpResponse:
    fitting = _visible_fitting(request, pk)
    form = SwapForm(
        request.POST if request.method == "POST" else None,
        initial=SwapForm.initial_now(fitted_by=request.user.display_name),
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            old, new, warnings = visits.swap(
                request.user, fitting.pk, d["device"].strip(), form.at, d["reason"], d["faulty"], d["fitted_by"]
            )
        except visits.Refused as exc:
            form.add_error(exc.field, exc.message)
        else:
            message = f"{old.device.ref} swapped for {new.device.ref} on {old.person.name} at {when(new.fitted_at)}."
            return _done(request, old.person, message, warnings)
    elif request.method == "GET":
        if fitting.removed_at is not None:
            return _ended_already(request, fitting)
        AuditEvent.record(
            request.user, AuditAction.VIEW, person=fitting.person, obj=fitting, summary="swap a device form"
        )
    context = {
        "form": form, "person": fitting.person, "fitting": fitting, "mode": "swap",
        "needs": _needs(fitting.person),
    }  # fmt: skip
    return _visit_form(request, context, status=400 if form.is_bound else 200)
