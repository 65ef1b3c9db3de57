"""A poison value in any field is that line's problem alone: the batch's valid lines, and the other
batches committed with it, are stored; the poison line is kept as rejected, saying which field and why."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from django.test import Client

from openem.devices.models import Device
from openem.telemetry.models import Gateway, Reading, RejectedReading, Source

T = "2026-11-10T12:00:00Z"


def fix(device: str = "GPS-0001", n: int = 0, **kw: Any) -> dict[str, Any]:
    return {"device": device, "time": f"2026-11-10T12:{n // 60:02d}:{n % 60:02d}Z", "type": "fix", "lat": 52.67,
            "lon": -0.73, "accuracy_m": 8, "seq": n, **kw}  # fmt: skip


def jl(*readings: Any) -> bytes:
    # json, not orjson: a poison line may hold an integer too large for 64 bits.
    return b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in readings)


def gateway_with(*devices: str, name: str = "Vendor A") -> str:
    gw, token = Gateway.create_with_token(name)
    for ref in devices:
        Device.objects.create(ref=ref, kind="gps", gateway=gw)
    return token


def post(token: str, body: bytes, client: Client | None = None, **extra: Any) -> Any:
    return (client or Client()).post(
        "/ingest/v1/telemetry", data=body, content_type="application/x-ndjson", HTTP_AUTHORIZATION=f"Bearer {token}",
        **extra,
    )  # fmt: skip


# Each poison line as sent, the field the rejection names, and words of its reason.
POISON: list[tuple[bytes, str, str]] = [
    (jl(fix(seq=2**63)), "seq", "out of range"),  # one past a bigint
    (jl(fix(seq=2**64 - 1)), "seq", "out of range"),  # the largest unsigned 64-bit: JSON parsers keep it whole
    (
        b'{"device": "GPS-0001", "time": "'
        + T.encode()
        + b'", "type": "fix", "lat": 52, "lon": 0, "seq": '
        + str(2**64).encode()
        + b"}",
        "seq",
        "out of range",
    ),
    (jl(fix(seq=-1)), "seq", "out of range"),
    (jl(fix(seq=10**30)), "seq", "out of range"),  # read as a float, but a whole one
    (jl(fix(seq=1.5)), "seq", "not a whole number"),
    (
        b'{"device": "GPS-0001", "time": "' + T.encode() + b'", "type": "power", "battery_pct": 1e400}',
        "(line)",
        "infinity",
    ),
    (jl({"device": "GPS-0001", "time": T, "type": "power", "battery_pct": 10**40}), "battery_pct", "out of range"),
    (
        b'{"device": "GPS-0001", "time": "' + T.encode() + b'", "type": "fix", "lat": NaN, "lon": 0}',
        "(line)",
        "not valid JSON",
    ),
    (jl(fix(accuracy_m=1e308)), "accuracy_m", "out of range"),
    (jl(fix(speed_mps=1e300)), "speed_mps", "out of range"),
    (jl(fix(heading="north")), "heading", "not a number"),
    (
        jl({"device": "ALC-0001", "time": T, "type": "alcohol", "tac_g_dl": 0.01, "temp_c": -1e200}),
        "temp_c",
        "out of range",
    ),
    (jl(fix(time="9999-12-31T23:59:59Z")), "time", "after 2099"),
    (jl(fix(time="0001-01-01T00:00:00+01:00")), "time", "before any device"),
    (jl(fix(time="0001-01-01T00:00:00Z")), "time", "before any device"),
    (jl(fix(time="2026-11-10T12:00:00")), "time", "no offset"),
    (jl(fix(time="x" * 3000)), "time", "not an ISO 8601 time"),
    (jl(fix(device="G" * 10_000)), "(line)", "at most 4,096"),  # a 10 KB device id: the line is too long
    (jl(fix(device="G" * 41)), "device", "at most 40"),
    (jl(fix(device="GPS\u00000001")), "device", "control character"),
    (jl(fix(device=["GPS-0001"])), "device", "not a device id"),
    (jl(fix(type=["fix"])), "type", "not one of"),
    (jl(fix(vendor="NEST"))[:-1].replace(b'"NEST"', b"[" * 1000 + b"]" * 1000) + b"}", "vendor", "nested more than 8"),
    (jl(fix(vendor={"note": "a\u0000b"})), "vendor", "NUL"),
    (jl(fix(vendor="v" * 5000)), "(line)", "at most 4,096"),
    (b"\xff\xfe not utf-8", "(line)", "not UTF-8"),
    (jl([1, 2, 3]), "(line)", "not a JSON object"),
]


@pytest.mark.django_db
def test_each_poison_value_is_rejected_with_its_line_and_field_and_the_valid_lines_are_stored():
    token = gateway_with("GPS-0001", "ALC-0001")
    # Valid lines between every poison one (seqs 1000 + k, distinct from the poison lines' own).
    lines: list[bytes] = []
    for k, (poison, _field, _why) in enumerate(POISON):
        lines += [jl(fix(n=k, seq=1000 + k)), poison]
    lines.append(jl(fix(n=59, seq=2**63 - 1)))  # the largest seq a bigint holds is fine
    response = post(token, b"\n".join(lines))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] == len(POISON) + 1
    got = {r["line"]: r for r in body["rejected"]}
    for k, (_poison, field, why) in enumerate(POISON):
        r = got[2 * k + 2]
        assert r["field"] == field and why in r["error"], (k, r)
        assert len(r["error"]) < 300  # a reason never echoes a 10 KB value back
    assert len(body["rejected"]) == len(POISON)
    assert Reading.objects.count() == len(POISON) + 1
    assert Reading.objects.filter(seq=2**63 - 1).exists()
    assert RejectedReading.objects.count() == len(POISON)
    assert all("\x00" not in r.raw and len(r.raw) <= 4000 for r in RejectedReading.objects.all())


@pytest.mark.django_db
def test_unknown_fields_are_kept_in_the_stored_reading_within_the_size_limit():
    token = gateway_with("GPS-0001")
    body = jl(fix(n=1, vendor={"hdop": 0.9, "sats": [1, 2, 3]}, note="x" * 3000))
    assert post(token, body).json()["accepted"] == 1
    payload = Reading.objects.get().payload
    assert payload["vendor"] == {"hdop": 0.9, "sats": [1, 2, 3]} and len(payload["note"]) == 3000


@pytest.mark.django_db
def test_osmand_poison_parameters_are_rejected_not_crashed_on():
    from openem.devices.credentials import issue_key

    key = issue_key(Device.objects.create(ref="PHONE-1", kind="gps"))
    base = {"id": "PHONE-1", "lat": "52.67", "lon": "-0.73", "timestamp": "1794830400"}
    for params, field in [
        ({"timestamp": "9" * 40}, "timestamp"),
        ({"speed": "fast"}, "speed"),  # named as the sender named it
        ({"speed": "inf"}, "speed"),
        ({"batt": "nan"}, "batt"),
        ({"accuracy": "1e999"}, "accuracy"),
        ({"hdop": "1e999"}, "hdop"),
        ({"accuracy": "nan"}, "accuracy"),
        ({"altitude": "high"}, "altitude"),
        ({"batt": "50", "charge": "maybe"}, "charge"),
        ({"id": "P" * 300}, "id"),
    ]:
        response = Client().get(f"/osmand/{key}", {**base, **params})
        assert response.status_code in (400, 401), (params, response.content)
        assert any(r["field"] in (field, "device", "key") for r in response.json()["rejected"]), (
            params,
            response.json(),
        )
    assert Client().get(f"/osmand/{key}", base).status_code == 200


@pytest.mark.django_db
def test_a_group_commit_that_fails_stores_each_batch_on_its_own_and_finds_the_bad_line():
    """A value the checks missed (here forced into a prepared row) fails the group's transaction: the
    other batch is stored all the same, and the bad batch loses only the bad reading, kept as rejected."""
    from openem.telemetry.ingest import decode_lines, prepare, store_isolated

    a_token, b_token = gateway_with("GPS-0001", name="A"), gateway_with("GPS-0002", name="B")
    a_gw, b_gw = Gateway.for_token(a_token), Gateway.for_token(b_token)
    a = prepare(decode_lines(jl(*(fix("GPS-0001", n) for n in range(5)))), Source.HTTP, a_gw)
    b = prepare(decode_lines(jl(*(fix("GPS-0002", n) for n in range(5)), b"{oops")), Source.HTTP, b_gw)
    key = next(iter(b.rows))
    b.rows[key] = (*b.rows[key][:3], 2**70, *b.rows[key][4:])  # a seq no column holds
    store_isolated([a, b])
    assert (a.result.accepted, a.result.rejected) == (5, [])
    assert b.result.accepted == 4
    assert [(r["line"], r["field"]) for r in b.result.rejected] == [(1, "(line)"), (6, "(line)")]
    assert "could not be stored" in b.result.rejected[0]["error"]
    assert Reading.objects.filter(device="GPS-0001").count() == 5
    assert Reading.objects.filter(device="GPS-0002").count() == 4
    assert RejectedReading.objects.count() == 2


def run_asgi(app: Any, writer: Any, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
             query: str = "") -> tuple[int, dict[str, str], Any]:  # fmt: skip
    """One request through the receiver's ASGI application, its event loop on a thread of its own while
    this thread (the test's database connection) does the writer's work."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": raw_headers,
             "client": ("203.0.113.9", 5000)}  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    done = threading.Event()

    def serve() -> None:
        try:
            asyncio.run(app(scope, receive, send))
        finally:
            done.set()

    thread = threading.Thread(target=serve)
    thread.start()
    while not done.wait(0.002):
        writer.drain()
    thread.join()
    start, content = sent[0], sent[1]["body"]
    answer_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, json.loads(content)


@pytest.fixture
def receiver(db):
    from openem.telemetry.receiver import Receiver, Writer

    writer = Writer(start=False)
    return Receiver(writer), writer


@pytest.mark.django_db
def test_two_gateways_in_one_group_commit_one_with_poison_the_other_is_stored(receiver):
    from openem.telemetry.frontdoor import telemetry_batch

    _app, writer = receiver
    a_token, b_token = gateway_with("GPS-0001", name="A"), gateway_with("GPS-0002", name="B")
    a_body = jl(*(fix("GPS-0001", n) for n in range(3)), fix("GPS-0001", 9, seq=2**64 - 1))
    b_body = jl(*(fix("GPS-0002", n) for n in range(3)))

    def work(token: str, body: bytes) -> Any:
        return lambda: telemetry_batch(body, writer.gateway_id(token), "127.0.0.1", writer.limits)

    futures = [writer.submit(work(token, body), token) for token, body in ((a_token, a_body), (b_token, b_body))]
    writer.drain()  # both in one group
    a, b = (f.result(timeout=1) for f in futures)
    assert (a.result.accepted, [r["field"] for r in a.result.rejected]) == (3, ["seq"])
    assert (b.result.accepted, b.result.rejected) == (3, [])
    assert writer.beat.counters["accepted_http"] == 6 and writer.beat.counters["rejected_http"] == 1
