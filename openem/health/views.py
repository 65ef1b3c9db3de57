"""Health endpoints for load balancers and monitoring. They hold no personal data (process names, ages,
lags, counts) and answer without a session: ``/healthz`` and ``/readyz`` are open; ``/metrics`` is open too
unless OPENEM_METRICS_TOKEN is set, then it asks for ``Authorization: Bearer <token>``. The middleware in
``openem.health.middleware`` answers them before sessions, sign-in, two-factor and the refusal audit, so a
browser's stale session can never turn a probe into a sign-in redirect. docs/operations.md, "Health"."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from .metrics import HealthCollector
from .models import Component
from .status import Status, assess, bus_connected

log = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: nothing else is checked (no database), so a slow database never has a load
    balancer kill healthy web workers."""
    return HttpResponse("ok\n", content_type="text/plain")


def database_ok() -> str:
    """Empty when the database answers, else what went wrong."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return ""
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]


def readiness(status: Status) -> list[str]:
    """Why the service is not ready to serve: a required component with no live process, a required
    worker down, or evaluation later than OPENEM_MAX_LAG_S. Empty when ready."""
    reasons = []
    known = {c.value for c in Component}
    required = [Component(c) for c in settings.OPENEM_READY_REQUIRES if c in known]
    for p in status.problems:
        if p.component in required:
            reasons.append(p.message)
    for c in required:
        if not status.live(c) and not any(p.component == c for p in status.problems):
            reasons.append(f"no {c.value} process is running")
    return reasons


def readyz(request: HttpRequest) -> JsonResponse:
    problem = database_ok()
    if problem:
        refused = {
            "ready": False,
            "database": {"ok": False, "error": problem},
            "reasons": ["the database cannot be reached"],
        }
        return JsonResponse(refused, status=503)
    status = assess()
    reasons = readiness(status)
    body: dict[str, Any] = {
        "ready": not reasons,
        "state": status.state.value,
        "checked_at": status.at.isoformat(),
        "database": {"ok": True},
        "lag_s": status.lag_s,
        "max_lag_s": settings.OPENEM_MAX_LAG_S,
        "processes": [
            {
                "name": p.heartbeat.name,
                "component": p.heartbeat.component,
                "host": p.heartbeat.host,
                "pid": p.heartbeat.pid,
                "beat_at": p.heartbeat.beat_at.isoformat(),
                "age_s": round(p.age_s, 1),
                "down": p.down and not p.superseded,
                "stopped": p.heartbeat.stopped,
                "superseded": p.superseded,
                "lag_s": p.heartbeat.lag_s,
                "backlog": p.heartbeat.backlog,
            }
            for p in status.processes
        ],
        "bus": {"configured": bool(settings.OPENEM_BUS), "connected": bus_connected(status)},
        "outbox_backlog": next((p.heartbeat.backlog for p in status.live(Component.BUS)), None),
        "problems": [p.message for p in status.problems],
        "reasons": reasons,
    }
    return JsonResponse(body, status=200 if not reasons else 503)


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.OPENEM_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            refusal = "metrics need Authorization: Bearer <OPENEM_METRICS_TOKEN>\n"
            response = HttpResponse(refusal, status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="openem metrics"'
            return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
