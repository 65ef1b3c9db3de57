"""Receivers: the HTTP batch endpoint for gateways, and the OsmAnd protocol for Traccar Client apps.

Request handlers validate, store and acknowledge; they never evaluate rules (the engine worker does).
Both are exempt from CSRF protection because devices and gateways carry no cookie: they prove who
they are with a credential in the request (a gateway token, a device key), which a forged
cross-site request cannot know.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from openem.devices.credentials import KeyChecker

from .ingest import NO_GATEWAY_TOKEN, Unauthenticated, ingest_jsonl, ingest_objects, osmand_request, status_for
from .models import Gateway, Source

MAX_BATCH_BYTES = 20 * 1024 * 1024


@csrf_exempt
@require_http_methods(["POST"])
def telemetry_batch(request: HttpRequest) -> HttpResponse:
    if len(request.body) > MAX_BATCH_BYTES:
        return JsonResponse({"error": f"a batch can be at most {MAX_BATCH_BYTES // 1024 // 1024} MB"}, status=413)
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else ""
    gateway = Gateway.for_token(token) if token else None
    if gateway is None:
        # Kept as rejected readings, so the monitoring centre sees who is sending without a credential.
        result = ingest_jsonl(
            request.body, Source.HTTP, unauthenticated=Unauthenticated("authorization", NO_GATEWAY_TOKEN)
        )
        return JsonResponse({"error": NO_GATEWAY_TOKEN, **result.to_json()}, status=401)
    result = ingest_jsonl(request.body, Source.HTTP, gateway)
    return JsonResponse(result.to_json(), status=200)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def osmand(request: HttpRequest, key: str = "") -> HttpResponse:
    params = {**request.GET.dict(), **request.POST.dict()}
    if not params:  # a browser or a probe, not a device: nothing to keep (as on the receiver's port)
        return JsonResponse({"error": "send OsmAnd parameters (id, lat, lon, timestamp)"}, status=400)
    items, problem = osmand_request(params, request.path, KeyChecker(ttl_s=0))
    result = ingest_objects(items, Source.OSMAND, device_field="id", unauthenticated=problem)
    return JsonResponse(result.to_json(), status=status_for(result))
