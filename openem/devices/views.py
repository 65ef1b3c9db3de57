"""The device stock, for the monitoring centre: devices, their keys and the gateway each reports through.

A new key is shown once, on the page that issued it, and never again (only its digest is kept).
Every issue, rotation and revocation is audited with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from openem.audit.models import AuditAction, AuditEvent
from openem.engine.enums import DeviceKind
from openem.portal.access import AuthedRequest, forbidden

from .credentials import issue_key, revoke_keys
from .forms import DeviceForm, GatewayForm, KeyForm
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
        from django.contrib import messages

        n = revoke_keys(device, request.user, why=why)
        messages.success(request, f"The key of {device.ref} is revoked." if n else f"{device.ref} had no key.")
        return redirect("devices:device", pk=device.pk)
    had = device.key is not None
    return _key_issued(request, device, issue_key(device, request.user, why=why), rotated=had)


@devices_required
@require_POST
def device_gateway(request: AuthedRequest, pk: int) -> HttpResponse:
    from django.contrib import messages

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
