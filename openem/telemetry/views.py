"""Receivers: the HTTP batch endpoint for gateways, and the OsmAnd protocol for Traccar Client apps.

Request handlers validate, store and acknowledge; they never evaluate rules (the engine worker does).
Both are exempt from CSRF protection because devices and gateways carry no cookie: they prove who
they are with a credential in the request (a gateway token, a device key), which a forged
cross-site request cannot know. What they answer is decided by the front door (``frontdoor``), as on
the receiver's own port: the same status and the same JSON for the same request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from openem.accounts.signin import client_ip
from openem.devices.credentials import KeyChecker
from openem.health.running import is_transient
from openem.inputs import whole_number

from . import frontdoor
from .frontdoor import Refused
from .ingest import Prepared, store_isolated
from .models import Gateway


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _body(request: HttpRequest) -> bytes:
    """The body, refused unread when it says it is too large (read past the portal's form limit: a
    batch is not a form)."""
    most = frontdoor.max_body_bytes()
    declared = request.META.get("CONTENT_LENGTH") or ""
    length = whole_number(declared)
    if length is not None and length > most:
        raise frontdoor.too_large()
    body = request.read(most + 1)
    if len(body) > most:
        raise frontdoor.too_large()
    return body


def _front_door(view: Callable[[HttpRequest], tuple[int, dict[str, Any]]]) -> Callable[..., HttpResponse]:
    def wrapped(request: HttpRequest, key: str = "") -> HttpResponse:
        try:
            return _answer(*view(request))
        except Refused as exc:
            return _answer(*exc.answer())
        except Exception as exc:
            if not is_transient(exc):
                raise
            return _answer(*frontdoor.unavailable().answer())  # as the receiver: nothing stored, send again

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return csrf_exempt(wrapped)


def _stored(p: Prepared) -> Prepared:
    store_isolated([p])
    return p


@_front_door
def telemetry_batch(request: HttpRequest) -> tuple[int, dict[str, Any]]:
    frontdoor.check_method(request.method or "", ("POST",))
    body = _body(request)
    token = frontdoor.bearer_token(request.headers.get("Authorization", ""))
    gateway = Gateway.for_token(token) if token else None
    p = frontdoor.telemetry_batch(body, gateway.pk if gateway else None, _address(request), frontdoor.LIMITS)
    return frontdoor.telemetry_answer(_stored(p))


@_front_door
def osmand(request: HttpRequest) -> tuple[int, dict[str, Any]]:
    frontdoor.check_method(request.method or "", ("GET", "POST"))
    body = _body(request)
    req = frontdoor.osmand_params(request.META.get("QUERY_STRING", ""), body, request.META.get("CONTENT_TYPE", ""))
    p = frontdoor.osmand_batch(req, request.path, KeyChecker(ttl_s=0), _address(request), frontdoor.LIMITS)
    return frontdoor.osmand_answer(_stored(p))


def _address(request: HttpRequest) -> str:
    return client_ip(request) or "unknown"
