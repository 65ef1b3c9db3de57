"""Receivers: the HTTP batch endpoint for gateways, and the OsmAnd protocol for Traccar Client apps.

Request handlers validate, store and acknowledge; they never evaluate rules (the engine worker does).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .ingest import ingest_jsonl, ingest_objects, osmand_items
from .models import Gateway, Source

MAX_BATCH_BYTES = 20 * 1024 * 1024


@csrf_exempt
@require_http_methods(["POST"])
def telemetry_batch(request: HttpRequest) -> HttpResponse:
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else ""
    gateway = Gateway.for_token(token) if token else None
    if gateway is None:
        return JsonResponse({"error": "a valid gateway token is required (Authorization: Bearer ...)"}, status=401)
    if len(request.body) > MAX_BATCH_BYTES:
        return JsonResponse({"error": f"a batch can be at most {MAX_BATCH_BYTES // 1024 // 1024} MB"}, status=413)
    result = ingest_jsonl(request.body, Source.HTTP, gateway)
    return JsonResponse(result.to_json(), status=200)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def osmand(request: HttpRequest) -> HttpResponse:
    params = {**request.GET.dict(), **request.POST.dict()}
    result = ingest_objects(osmand_items(params), Source.OSMAND, device_field="id")
    return JsonResponse(result.to_json(), status=200 if not result.rejected else 400)
