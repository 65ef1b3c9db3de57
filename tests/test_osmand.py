"""The OsmAnd protocol as senders really use it: Traccar Client 9's JSON, the older query and form
parameters, every time form, hdop for accuracy, requests without a position, and errors named as the
sender named the field; the portal's path and the receiver's port answering alike."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client

from openem.devices.credentials import issue_key
from openem.devices.models import Device
from openem.engine.telemetry import stored_reading
from openem.telemetry import trail
from openem.telemetry.models import Reading, RejectedReading

from .resilience.test_poison import run_asgi

T = 1794830400  # 2026-11-16T12:00:00Z
ISO = "2026-11-16T12:00:00Z"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

# What Traccar Client 9 posts (its JSON form; speed in m/s, battery level a fraction).
TRACCAR_9 = {
    "location": {
        "timestamp": "2026-11-16T12:00:00.000Z",
        "coords": {"latitude": 52.6702, "longitude": -0.7321, "accuracy": 12.5, "speed": 1.4, "heading": 270.0,
                   "altitude": 121.0, "speed_accuracy": 0.5},
        "is_moving": True,
        "odometer": 1234.5,
        "event": "motionchange",
        "activity": {"type": "walking"},
        "battery": {"level": 0.76, "is_charging": False},
    },
    "device_id": "PHONE-1",
}  # fmt: skip


@pytest.fixture
def phone(db) -> str:
    return issue_key(Device.objects.create(ref="PHONE-1", kind="gps"))


@pytest.fixture
def receiver(db):
    from openem.telemetry.receiver import Receiver, Writer

    writer = Writer(start=False)
    return Receiver(writer), writer


def portal(key: str, query: dict[str, str] | None = None, body: bytes | None = None, content_type: str = FORM):
    """One request to the portal's OsmAnd path: (status, answer)."""
    url = f"/osmand/{key}" + (f"?{urlencode(query)}" if query else "")
    if body is None:
        response = Client().get(url)
    else:
        response = Client().generic("POST", url, data=body, content_type=content_type)
    return response.status_code, response.json()


def payloads() -> list[dict[str, Any]]:
    return [r.payload for r in Reading.objects.order_by("id")]


def both_doors(receiver: Any, key: str, query: str, body: bytes, content_type: str, method: str = "POST"):
    """The same request to the receiver and to the portal, each rolled back after it: both answers."""

    class Undo(Exception):
        pass

    answers = []
    for door in ("receiver", "portal"):
        try:
            with transaction.atomic():
                if door == "receiver":
                    app, writer = receiver
                    status, _h, content = run_asgi(app, writer, method, f"/{key}", body,
                                                   {"Content-Type": content_type}, query)  # fmt: skip
                    answers.append((status, content))
                else:
                    url = f"/osmand/{key}" + (f"?{query}" if query else "")
                    response = Client().generic(method, url, data=body, content_type=content_type)
                    answers.append((response.status_code, response.json()))
                raise Undo
        except Undo:
            pass
    return answers


@pytest.mark.django_db
def test_traccar_client_9_json_is_a_fix_and_a_battery_reading(phone):
    status, answer = portal(phone, body=json.dumps(TRACCAR_9).encode(), content_type=JSON)
    assert (status, answer) == (200, {"accepted": 2, "duplicates": 0, "rejected": []})
    assert Reading.objects.filter(source="osmand").count() == 2
    fix, power = payloads()
    assert fix == {
        "device": "PHONE-1", "time": ISO, "type": "fix", "lat": 52.6702, "lon": -0.7321, "accuracy_m": 12.5,
        "speed_mps": 1.4, "heading": 270.0, "altitude_m": 121.0,  # m/s in the JSON form: not converted
        "extra": {"is_moving": True, "odometer": 1234.5, "event": "motionchange", "activity": {"type": "walking"},
                  "coords": {"speed_accuracy": 0.5}},
    }  # fmt: skip
    assert power == {"device": "PHONE-1", "time": ISO, "type": "power", "battery_pct": 76.0, "charging": False}
    assert list(trail.fixes("PHONE-1", 0, 2e9).acc) == [12.5]
    # The same request again is a duplicate; Traccar's "unknown" values (-1) are not taken as values.
    assert portal(phone, body=json.dumps(TRACCAR_9).encode(), content_type=JSON)[1]["duplicates"] == 2
    unknown = json.loads(json.dumps(TRACCAR_9))
    unknown["location"]["timestamp"] = "2026-11-16T12:01:00Z"
    unknown["location"]["coords"].update(speed=-1, heading=-1, accuracy=0)
    unknown["location"]["battery"] = {"level": -1, "is_charging": False}
    status, answer = portal(phone, body=json.dumps(unknown).encode(), content_type=f"{JSON}; charset=utf-8")
    assert (status, answer["accepted"]) == (200, 1)
    last = payloads()[-1]
    assert "speed_mps" not in last and "heading" not in last and "accuracy_m" not in last
    assert last["extra"]["coords"] == {"speed": -1, "heading": -1, "accuracy": 0, "speed_accuracy": 0.5}
    assert last["extra"]["battery"] == {"level": -1, "is_charging": False}


@pytest.mark.django_db
def test_a_json_body_may_carry_several_locations(phone):
    body = {"device_id": "PHONE-1", "location": [
        {"timestamp": f"2026-11-16T12:0{m}:00Z", "coords": {"latitude": 52.67, "longitude": -0.73, "accuracy": 9}}
        for m in range(3)
    ]}  # fmt: skip
    body["location"][1]["coords"]["latitude"] = "north"
    status, answer = portal(phone, body=json.dumps(body).encode(), content_type=JSON)
    assert (status, answer["accepted"]) == (400, 2)
    field = "location[1].coords.latitude"
    assert answer["rejected"] == [{"line": 2, "field": field, "error": f'{field}: "north" is not a number'}]


@pytest.mark.django_db
def test_a_sender_without_a_key_cannot_multiply_what_it_sends(phone):
    """1,000 locations without a valid key: each kept reading holds its own location, not the whole
    request again (which stored about eight times what was sent)."""
    from openem.telemetry.models import RejectedReading

    body = json.dumps({"device_id": "ATTACKER", "location": [
        {"timestamp": "2026-11-16T12:00:00Z", "coords": {"latitude": 52.67, "longitude": -0.73}, "pad": "x" * 400}
        for _ in range(1_000)
    ]}).encode()  # fmt: skip
    status, _answer = portal("not-a-key", body=body, content_type=JSON)
    assert status == 401
    kept = sum(len(r) for r in RejectedReading.objects.values_list("raw", flat=True))
    assert RejectedReading.objects.count() >= 1_000 and kept < 1.5 * len(body)


@pytest.mark.django_db
def test_query_and_form_parameters_give_the_same_readings(phone):
    params = {"id": "PHONE-1", "lat": "52.6702", "lon": "-0.7321", "timestamp": str(T), "speed": "10",
              "bearing": "90", "altitude": "120", "accuracy": "12", "batt": "76", "charge": "true"}  # fmt: skip
    assert portal(phone, params)[0] == 200
    got = payloads()
    assert got[0] == {"device": "PHONE-1", "time": ISO, "type": "fix", "lat": 52.6702, "lon": -0.7321,
                      "accuracy_m": 12.0, "heading": 90.0, "altitude_m": 120.0, "speed_mps": 5.14}  # knots  # fmt: skip
    assert got[1] == {"device": "PHONE-1", "time": ISO, "type": "power", "battery_pct": 76.0, "charging": True}
    Reading.objects.all().delete()
    assert portal(phone, body=urlencode(params).encode())[0] == 200  # POST, form-encoded
    assert payloads() == got
    Reading.objects.all().delete()
    # deviceid for id, location=lat,lon for lat and lon, heading for bearing: the same fix.
    other = {k: v for k, v in params.items() if k not in ("id", "lat", "lon", "bearing", "batt", "charge")}
    assert portal(phone, {**other, "deviceid": "PHONE-1", "location": "52.6702,-0.7321", "heading": "90"})[0] == 200
    assert payloads() == [got[0]]


@pytest.mark.django_db
def test_hdop_stands_in_for_accuracy_and_unknown_parameters_are_kept(phone):
    sent = {"id": "PHONE-1", "lat": "52.67", "lon": "-0.73", "timestamp": str(T), "hdop": "1.6", "satellites": "9",
            "driverUniqueId": "D-7", "notificationToken": "push-secret"}  # fmt: skip
    status, _ = portal(phone, sent)
    assert status == 200
    (fix,) = payloads()
    assert fix["hdop"] == 1.6 and "accuracy_m" not in fix
    assert fix["extra"] == {"satellites": "9", "driverUniqueId": "D-7"}  # the push token is never kept
    assert stored_reading(fix).accuracy_m == 8.0  # what the engine takes it as: HDOP x 5 m
    # What no field means is kept within the 4 KB a reading may be.
    status, answer = portal(phone, {"id": "PHONE-1", "lat": "52.67", "lon": "-0.73", "timestamp": str(T + 60),
                                    "note": "x" * 5000})  # fmt: skip
    assert status == 400 and answer["rejected"][0]["field"] == "(line)" and "4,096" in answer["rejected"][0]["error"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stamp, expected",
    [
        (str(T), ISO),  # Unix seconds
        (str(T * 1000 + 250), "2026-11-16T12:00:00.250000Z"),  # milliseconds
        ("2026-11-16T12:00:00Z", ISO),
        ("2026-11-16T13:00:00+01:00", "2026-11-16T13:00:00+01:00"),  # kept with its offset
        ("2026-11-16T13:00:00 01:00", "2026-11-16T13:00:00+01:00"),  # its "+" sent unencoded in a query
        ("2026-11-16T12:00:00", ISO),  # no offset: UTC, as the protocol has it
        ("2026-11-16 12:00:00", ISO),
    ],
)
def test_every_time_form_a_sender_uses(phone, stamp, expected):
    status, answer = portal(phone, {"id": "PHONE-1", "lat": "52.67", "lon": "-0.73", "timestamp": stamp})
    assert (status, answer) == (200, {"accepted": 1, "duplicates": 0, "rejected": []})
    assert payloads()[0]["time"] == expected


@pytest.mark.django_db
def test_without_a_timestamp_the_time_of_arrival_is_used_and_marked(phone):
    before = time.time()
    status, answer = portal(phone, {"id": "PHONE-1", "lat": "52.67", "lon": "-0.73"})
    assert status == 200 and answer["notes"] == [{"line": 1, "note": "no timestamp: the time of arrival was used"}]
    (fix,) = payloads()
    assert fix["time_source"] == "arrival"
    assert before - 1 <= stored_reading(fix).t <= time.time() + 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, body, why, stored",
    [
        ({"timestamp": str(T)}, None, "no position in the request (neither lat and lon nor location)", "heartbeat"),
        ({"timestamp": str(T), "batt": "40"}, None, "no position in the request", "power"),
        ({"timestamp": str(T), "lat": "52.67", "lon": "-0.73", "valid": "false"}, None, "not valid (valid=false)",
         "heartbeat"),
        ({"timestamp": str(T), "lat": "0", "lon": "0"}, None, "the position 0,0", "heartbeat"),
        ({}, {"device_id": "PHONE-1", "location": {"timestamp": ISO, "battery": {"level": 0.5, "is_charging": True}}},
         "no location.coords", "power"),
        ({}, {"device_id": "PHONE-1", "location": {"timestamp": ISO, "mock": True,
                                                   "coords": {"latitude": 52.67, "longitude": -0.73}}},
         "mocked", "heartbeat"),
    ],
)  # fmt: skip
def test_a_request_without_a_usable_position_is_kept_but_not_evaluated_and_the_answer_says_why(
    phone, query, body, why, stored
):
    if body is None:
        status, answer = portal(phone, {"id": "PHONE-1", **query})
    else:
        status, answer = portal(phone, body=json.dumps(body).encode(), content_type=JSON)
    assert status == 200 and answer["accepted"] == 1 and answer["rejected"] == []
    (note,) = answer["notes"]
    assert why in note["note"] and "kept" in note["note"] and "not evaluated as a fix" in note["note"]
    (reading,) = payloads()
    assert reading["type"] == stored and why in reading["no_fix"]
    assert len(trail.fixes("PHONE-1", 0, 2e9).t) == 0  # no position on anyone's trail


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, body, field, says",
    [
        ({"lat": "north", "lon": "-0.73", "timestamp": str(T)}, None, "lat", '"north" is not a number'),
        ({"lat": "52.67", "timestamp": str(T)}, None, "lon", "is missing (lat was sent)"),
        ({"location": "52.67", "timestamp": str(T)}, None, "location", "is not lat,lon"),
        ({"location": "95,0", "timestamp": str(T)}, None, "location", "out of range"),
        ({"lat": "52.67", "lon": "-0.73", "timestamp": "yesterday"}, None, "timestamp", "send Unix seconds"),
        ({"lat": "52.67", "lon": "-0.73", "timestamp": "1901-12-13T20:45:52Z"}, None, "timestamp", "before any"),
        ({"lat": "52.67", "lon": "-0.73", "timestamp": str(T), "hdop": "-"}, None, "hdop", "not a number"),
        ({"lat": "52.67", "lon": "-0.73", "timestamp": str(T), "valid": "perhaps"}, None, "valid", "not true or false"),
        ({}, {"device_id": "PHONE-1", "location": {"timestamp": "soon", "coords": {"latitude": 52.6, "longitude": 0}}},
         "location.timestamp", "is not a time"),
        ({}, {"device_id": "PHONE-1", "location": {"timestamp": ISO, "coords": {"latitude": 52.6, "longitude": 0,
                                                                                 "speed": "fast"}}},
         "location.coords.speed", "not a number"),
        ({}, {"device_id": "PHONE-1", "location": {"timestamp": ISO, "coords": {"latitude": 52.6, "longitude": 0},
                                                   "battery": {"level": 76}}},
         "location.battery.level", "out of range (0 to 1, a fraction)"),  # the fix (line 1) is kept
        ({}, "{oops", "(body)", "not valid JSON"),
    ],
)  # fmt: skip
def test_a_bad_value_is_a_line_error_naming_the_senders_field(phone, query, body, field, says):
    if body is None:
        status, answer = portal(phone, {"id": "PHONE-1", **query})
    else:
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        status, answer = portal(phone, {"id": "PHONE-1"} if isinstance(body, str) else None, raw, JSON)
    assert status == 400
    (rejected,) = answer["rejected"]
    line = 2 if "battery" in field else 1
    assert rejected["field"] == field and rejected["line"] == line and says in rejected["error"], answer
    kept = RejectedReading.objects.get()
    assert kept.field == field and phone not in kept.raw


@pytest.mark.django_db
def test_a_json_body_without_the_devices_key_is_kept_as_not_authenticated(phone):
    status, answer = portal("not-the-key", body=json.dumps(TRACCAR_9).encode(), content_type=JSON)
    assert status == 401 and answer["rejected"][0]["error"].startswith("not authenticated")
    assert not Reading.objects.exists() and RejectedReading.objects.count() == 2


@pytest.mark.django_db
def test_the_receiver_and_the_portal_answer_every_form_alike(receiver, phone):
    fix = {"id": "PHONE-1", "lat": "52.67", "lon": "-0.73", "timestamp": str(T)}
    cases = [
        (json.dumps(TRACCAR_9).encode(), JSON, ""),
        (json.dumps(TRACCAR_9).encode(), "text/plain", ""),  # plainly JSON, whatever its type says
        (json.dumps({**TRACCAR_9, "device_id": 7}).encode(), JSON, "id=PHONE-1"),  # not a device id
        (json.dumps({**TRACCAR_9, "location": {"timestamp": ISO}}).encode(), JSON, ""),  # no position
        (b"{oops", JSON, "id=PHONE-1"),
        (urlencode({**fix, "hdop": "1.2", "batt": "50", "charge": "1"}).encode(), FORM, ""),
        (b"", FORM, urlencode({"id": "PHONE-1", "location": "52.67,-0.73", "timestamp": f"{T}000"})),
        (b"", FORM, urlencode({"deviceid": "PHONE-1", "batt": "20"})),  # no position, no time
        (b"", FORM, urlencode({**fix, "lat": "north"})),
        (urlencode(fix).encode(), "multipart/form-data; boundary=x", ""),  # not multipart: refused alike
    ]
    for body, content_type, query in cases:
        at_receiver, at_portal = both_doors(receiver, phone, query, body, content_type)
        assert at_receiver == at_portal, (body, query, at_receiver, at_portal)
        assert at_receiver[0] in (200, 400), at_receiver
    assert not Reading.objects.exists()  # every request was rolled back


@pytest.mark.django_db
def test_through_the_worker_a_fix_without_accuracy_near_a_zones_edge_is_not_an_entry_but_with_hdop_it_is(case):
    """Sam Example's exclusion zone (FORMATS.md) runs up to latitude 52.665: ten minutes 30 m inside its
    edge. Sent by Traccar Client 9 with no accuracy they are not certainly inside (50 m is assumed); sent
    later with hdop 1 (5 m) they are an entry."""
    from datetime import UTC, datetime

    from openem.alerts.models import Violation
    from openem.telemetry.worker import EngineWorker

    key = issue_key(Device.objects.get(ref="GPS-0001"))
    lat, lon = 52.665 - 30 / 111_250, -0.735
    for m in range(10):
        at = {"timestamp": f"2026-11-10T12:{m:02d}:00Z", "coords": {"latitude": lat, "longitude": lon}}
        no_accuracy = {"device_id": "GPS-0001", "location": at}
        assert portal(key, body=json.dumps(no_accuracy).encode(), content_type=JSON)[0] == 200
    worker = EngineWorker("test")
    worker.cycle(now=datetime(2026, 11, 10, 12, 30, tzinfo=UTC))
    assert not Violation.objects.filter(type="exclusion_zone_entry").exists()
    for m in range(10):
        stamp = f"2026-11-10T13:{m:02d}:00Z"
        sent = {"id": "GPS-0001", "lat": str(lat), "lon": str(lon), "hdop": "1", "timestamp": stamp}
        assert portal(key, sent)[0] == 200
    worker.cycle(now=datetime(2026, 11, 10, 13, 30, tzinfo=UTC))
    (entry,) = Violation.objects.filter(type="exclusion_zone_entry")
    assert entry.start == datetime(2026, 11, 10, 13, 0, tzinfo=UTC)
