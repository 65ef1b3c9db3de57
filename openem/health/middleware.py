"""Answers the health endpoints first, before sessions, sign-in, two-factor sign-in and the audit of
refusals: probes carry no session, must be fast, and must never be redirected to sign in."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from . import views

ENDPOINTS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": views.healthz,
    "/readyz": views.readyz,
    "/metrics": views.metrics,
}


def health_endpoints(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        view = ENDPOINTS.get(request.path_info)
        if view is None:
            return get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        response = view(request)
        response["Cache-Control"] = "no-store"
        # A 503 is the answer, not an error: Django would log a warning for every probe of a load balancer.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response

    return middleware
