"""The front door for device data: what the receiver (its own port), the portal's ingest views and the
MQTT subscriber all do the same way, so that they answer alike. The bearer token, the body size and
lines-per-request limits, the rule for a request without readings, the OsmAnd parameters, the rate
limits (token buckets) and the answer's status and JSON body are decided here; the transports only
move bytes. Nothing here evaluates a rule (see docs/operations.md, "Limits").
"""

from __future__ import annotations

import email.parser
import email.policy
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from django.conf import settings

from openem.engine.telemetry import ReadingError

from .ingest import (
    MAX_UNAUTHENTICATED_LINES,
    NO_GATEWAY_TOKEN,
    Prepared,
    Unauthenticated,
    decode_lines,
    prepare,
    status_for,
)
from .models import Source
from .osmand import KEY_PARAM, OsmAndRequest, notes, osmand_items, osmand_key

TELEMETRY_PATH = "/ingest/v1/telemetry"
NO_OSMAND_PARAMETERS = f"send OsmAnd parameters (id, lat, lon, timestamp) or POST {TELEMETRY_PATH}"
NO_READINGS = "the request holds no readings: send telemetry JSON Lines, one reading per line"
MAX_OSMAND_PARAMETERS = 50
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def limit(name: str, default: int | float) -> Any:
    """An ``OPENEM_INGEST_<name>`` setting (read when used, so tests can change it)."""
    return getattr(settings, f"OPENEM_INGEST_{name}", default)


def max_body_bytes() -> int:
    return int(limit("MAX_BODY_BYTES", 20 * 1024 * 1024))


def max_lines() -> int:
    return int(limit("MAX_LINES", 10_000))


class Refused(Exception):
    """A request refused as a whole (no valid method, too large, too fast): the status, the message and
    the seconds to wait before sending again (429 and 503 say when)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def answer(self) -> tuple[int, dict[str, Any], dict[str, str]]:
        return self.status, {"error": str(self)}, retry_headers(self.retry_after)


def retry_headers(retry_after: float | None) -> dict[str, str]:
    return {} if retry_after is None else {"Retry-After": str(max(1, int(retry_after + 0.999)))}


def too_large() -> Refused:
    return Refused(413, f"a request can be at most {max_body_bytes() // 1024 // 1024} MB")


def unavailable() -> Refused:
    return Refused(503, "could not store the readings now; send them again", retry_after=1)


def bearer_token(header: str) -> str:
    """The token of ``Authorization: Bearer <token>`` (the scheme in any case, RFC 7235), or ""."""
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def count_lines(body: bytes) -> int:
    """Lines in a JSON Lines body, blank ones left out only at its end (cheap: no decoding)."""
    stripped = body.rstrip()
    return stripped.count(b"\n") + 1 if stripped else 0


def check_method(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise Refused(
            405, "send readings with POST" if allowed == ("POST",) else "OsmAnd readings come with GET or POST"
        )


# -- rate limits -----------------------------------------------------------------------------------------


# Whose bucket a request draws on: ``gateway:<id>``, ``device:<id>`` or ``address:<ip>``.


def gateway_sender(gateway_id: int) -> str:
    return f"gateway:{gateway_id}"


def device_sender(device: str) -> str:
    return f"device:{device}"


def address_sender(address: str) -> str:
    return f"address:{address}"


# (setting name, default rate a second, default burst): lines for a gateway; requests for a device's own
# key (OsmAnd); rejected lines kept for a sender without a valid credential, per source address.
RATES = {
    "gateway": ("GATEWAY_LINES_PER_S", 100_000, "GATEWAY_BURST_LINES", 200_000),
    "device": ("DEVICE_REQUESTS_PER_S", 1_000, "DEVICE_BURST_REQUESTS", 2_000),
    "address": ("UNAUTHENTICATED_LINES_PER_S", 2_000, "UNAUTHENTICATED_BURST_LINES", 5_000),
}


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimits:
    """Token buckets, one per sender, in this process (the receiver; each portal process its own).

    ``take`` spends ``cost`` from the sender's bucket, or says how many seconds until it could: a
    request over its rate is refused whole (429 with Retry-After), before any of it is validated."""

    MAX_SENDERS = 100_000  # full buckets are forgotten beyond this: a flood of addresses cannot fill memory

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @staticmethod
    def rate(sender: str) -> tuple[float, float]:
        rate_name, rate, burst_name, burst = RATES[sender.split(":", 1)[0]]
        return float(limit(rate_name, rate)), float(limit(burst_name, burst))

    def take(self, sender: str, cost: float, now: float | None = None) -> float:
        """0 if the request may go on (and ``cost`` is spent), else the seconds to wait."""
        rate, burst = self.rate(sender)
        if rate <= 0:
            return 0.0  # no limit set
        now = time.monotonic() if now is None else now
        cost = min(cost, burst)  # a request larger than the burst waits for a full bucket, not for ever
        with self._lock:
            bucket = self._buckets.get(sender)
            if bucket is None:
                if len(self._buckets) >= self.MAX_SENDERS:
                    self._forget_full(now)
                bucket = self._buckets[sender] = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / rate

    def charge(self, sender: str, cost: float, now: float | None = None) -> None:
        """Spend ``cost`` after the fact (what a request turned out to cost), into debt down to one burst:
        the sender's next requests wait until it is paid."""
        rate, burst = self.rate(sender)
        if rate <= 0 or cost <= 0:
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.setdefault(sender, _Bucket(burst, now))
            bucket.tokens = max(-burst, min(burst, bucket.tokens + (now - bucket.at) * rate) - cost)
            bucket.at = now

    def check(self, sender: str, cost: float) -> None:
        """Raise Refused(429) when ``sender`` is over its rate."""
        wait = self.take(sender, cost)
        if wait:
            raise too_fast(wait)

    def in_debt(self, sender: str) -> float:
        """Seconds until ``sender`` may send anything at all (0 when it may): lets a receiver refuse a
        request before reading its body. Spends nothing."""
        rate, burst = self.rate(sender)
        with self._lock:
            bucket = self._buckets.get(sender)
            if rate <= 0 or bucket is None:
                return 0.0
            tokens = min(burst, bucket.tokens + (time.monotonic() - bucket.at) * rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / rate

    def _forget_full(self, now: float) -> None:
        for sender, bucket in list(self._buckets.items()):
            rate, burst = self.rate(sender)
            if bucket.tokens + (now - bucket.at) * rate >= burst:
                del self._buckets[sender]


def too_fast(wait: float) -> Refused:
    return Refused(429, f"too many readings from this sender; send again in {wait:.1f} s", retry_after=wait)


# A rejected line costs its gateway this many lines more (charged once it is known to be rejected): a
# gateway sending junk is slowed long before one sending readings, which is what the rate protects.
REJECTED_LINE_COST = 4

LIMITS = RateLimits()  # this process's buckets (the portal's views; a receiver keeps its own)


# -- gateways' JSON Lines batches ------------------------------------------------------------------------


def telemetry_batch(body: bytes, gateway_id: int | None, address: str, limits: RateLimits) -> Prepared:
    """A gateway's batch (``gateway_id`` None: no valid token). Raises Refused for a batch refused whole:
    no readings (400), too many lines (413), over its sender's rate (429)."""
    lines = count_lines(body)
    if gateway_id is None:  # kept as rejected readings (up to a cap), for the monitoring centre to see
        limits.check(address_sender(address), max(1, min(lines, MAX_UNAUTHENTICATED_LINES)))
        why = Unauthenticated("authorization", NO_GATEWAY_TOKEN)
        return prepare(decode_lines(body), Source.HTTP, unauthenticated=why)
    sender = gateway_sender(gateway_id)
    if not lines:
        raise Refused(400, NO_READINGS)
    if lines > max_lines():
        limits.charge(sender, lines)  # refusing it cost reading it: a sender of nothing else is slowed too
        raise Refused(413, f"a request can hold at most {max_lines():,} lines; this one has {lines:,}: split it")
    limits.check(sender, lines)
    p = prepare(decode_lines(body), Source.HTTP, gateway_id)
    limits.charge(sender, REJECTED_LINE_COST * len(p.result.rejected))
    return p


def telemetry_answer(p: Prepared) -> tuple[int, dict[str, Any]]:
    if p.gateway_id is None:
        return 401, {"error": NO_GATEWAY_TOKEN, **p.result.to_json()}
    return 200, p.result.to_json()


# -- the OsmAnd protocol ---------------------------------------------------------------------------------


def osmand_params(query: bytes | str, body: bytes, content_type: str = "") -> OsmAndRequest:
    """An OsmAnd request: the query string's parameters, and the body's: a JSON object (Traccar Client 9
    and later, ``Content-Type: application/json``) or a form (URL-encoded or multipart; a later value of a
    name wins). Raises Refused when there is nothing: a browser or a probe, not a device. A JSON body that
    cannot be read is the request's one rejected reading (it may name its device in the query)."""

    def parse(text: bytes | str) -> list[tuple[str, str]]:
        data = text.decode("latin-1") if isinstance(text, bytes) else text
        try:
            return parse_qsl(data, keep_blank_values=True, max_num_fields=MAX_OSMAND_PARAMETERS, errors="replace")
        except ValueError as exc:
            raise Refused(400, f"an OsmAnd request has at most {MAX_OSMAND_PARAMETERS} parameters") from exc

    params = dict(parse(query))
    kind = content_type.split(";", 1)[0].strip().lower()
    # JSON as Traccar Client 9 sends it, or a body that is plainly a JSON object whatever its type says (a
    # client that sets no Content-Type); a form never starts with "{".
    is_json = kind == "application/json" or (kind not in _FORMS and body.lstrip()[:1] == b"{")
    if is_json and body.strip():
        try:
            decoded: Any = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            why = "is not UTF-8" if "UTF-8" in exc.msg else f"not valid JSON at column {exc.colno}: {exc.msg}"
            decoded = ReadingError("(body)", why)
        return OsmAndRequest(params, decoded, body)
    if kind == "multipart/form-data":
        params.update(_multipart(body, content_type))
    elif body and b"=" in body:
        params.update(parse(body))
    if not params:
        raise Refused(400, NO_OSMAND_PARAMETERS)
    return OsmAndRequest(params)


def _multipart(body: bytes, content_type: str) -> dict[str, str]:
    """A multipart/form-data body's text fields (an HTML form, some clients)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace") + body
    )
    fields: dict[str, str] = {}
    if not message.is_multipart():
        raise Refused(400, "the multipart form could not be read")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        if len(fields) >= MAX_OSMAND_PARAMETERS:
            raise Refused(400, f"an OsmAnd request has at most {MAX_OSMAND_PARAMETERS} parameters")
        payload = part.get_payload(decode=True)
        fields[str(name)] = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return fields


def osmand_request(
    req: OsmAndRequest, path: str, keys: Any, now: float | None = None
) -> tuple[list[tuple[int, bytes | str, Any]], Unauthenticated | None]:
    """One OsmAnd request's readings and, if its device key is not valid, why. ``keys`` is a
    ``KeyChecker`` (called on the thread that uses the database)."""
    key = osmand_key(req.params, path)
    items = osmand_items(req, now)
    device = req.device
    problem = keys.problem(device, key) if device else None
    return items, (Unauthenticated(KEY_PARAM, problem) if problem else None)


def osmand_batch(req: OsmAndRequest, path: str, keys: Any, address: str, limits: RateLimits) -> Prepared:
    """One OsmAnd request's readings, its device key checked with ``keys`` (a ``KeyChecker``); a device
    with its own key draws on its own bucket (a reading a location), a sender without one on its
    address's."""
    items, problem = osmand_request(req, path, keys)
    device = req.device
    if problem is None and device:
        limits.check(device_sender(device), req.cost)
    else:
        limits.check(address_sender(address), max(1, len(items)))
    p = prepare(items, Source.OSMAND, device_field="id", unauthenticated=problem)
    if problem is None:
        p.notes = notes(items)
    return p


def osmand_answer(p: Prepared) -> tuple[int, dict[str, Any]]:
    """The answer: as a batch's, and ``notes`` for readings kept other than as sent (not evaluated as a
    fix, and why; timed at arrival), each only if its reading was not rejected."""
    body = p.result.to_json()
    rejected = {r["line"] for r in p.result.rejected}
    said = [{"line": line, "note": note} for line, note in p.notes if line not in rejected]
    if said:
        body["notes"] = said
    return status_for(p.result), body
