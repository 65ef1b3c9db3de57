"""Devices prove who they are: a reading is stored as a device's only with the device's own key or
through the gateway it is assigned to. Tried as an attacker who can reach the device port would."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from openem.alerts.models import Violation
from openem.audit.models import AuditAction, AuditEvent
from openem.devices.credentials import issue_key, revoke_keys
from openem.devices.models import Device, DeviceKey
from openem.telemetry.models import Gateway, Reading, RejectedReading, Rejection
from openem.telemetry.worker import EngineWorker
from tests.helpers import PERSONAS, client_for

FIX = {"id": "GPS-0001", "lat": "52.6702", "lon": "-0.7321", "timestamp": "1794830400", "accuracy": "9"}


def out_of_range_all_night(device: str = "RF-0001") -> str:
    """What a forger would send to invent a curfew breach: the tag out of range from 20:00."""
    return "\n".join(
        json.dumps({"device": device, "time": f"2026-11-10T{h:02d}:{m:02d}:00Z", "type": "rf", "in_range": h < 20})
        for h in range(18, 23)
        for m in (0, 30)
    )


def post_batch(token: str | None, body: str):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post("/ingest/v1/telemetry", data=body, content_type="application/x-ndjson", **headers)


@pytest.mark.django_db
def test_osmand_without_the_devices_key_is_kept_as_not_authenticated_and_never_evaluated(case):
    response = Client().get("/osmand/", FIX)
    assert response.status_code == 401
    assert response.json()["rejected"][0]["error"].startswith("not authenticated")
    assert not Reading.objects.exists()
    rejected = RejectedReading.objects.get()
    assert rejected.kind == Rejection.UNAUTHENTICATED and rejected.reason.startswith("not authenticated")
    assert "GPS-0001" in rejected.raw  # kept, so the centre can see who is trying


@pytest.mark.django_db
def test_the_key_travels_in_the_server_url_as_traccar_client_sends_it(case):
    key = issue_key(Device.objects.get(ref="GPS-0001"))
    # As the last part of the server URL's path, or as a parameter.
    assert Client().get(f"/osmand/{key}", FIX).status_code == 200
    assert Client().post("/osmand/", {**FIX, "timestamp": "1794830460", "key": key}).status_code == 200
    assert Reading.objects.filter(device="GPS-0001").count() == 2
    # The secret is kept nowhere: not in the readings, not in the key table, not in the audit log.
    assert not Reading.objects.filter(payload__icontains=key).exists()
    assert DeviceKey.objects.get().digest != key and key not in DeviceKey.objects.get().hint
    assert not any(key in e.summary for e in AuditEvent.objects.all())


@pytest.mark.django_db
def test_one_devices_key_cannot_send_for_another(case):
    rf_key = issue_key(Device.objects.get(ref="RF-0001"))
    response = Client().get(f"/osmand/{rf_key}", FIX)  # the RF unit's key, the GPS tag's id
    assert response.status_code == 401
    assert not Reading.objects.exists()
    assert RejectedReading.objects.get().reason == "not authenticated: the key is not this device's active key"


@pytest.mark.django_db
def test_a_rotated_or_revoked_key_stops_working(personas, case):
    device = Device.objects.get(ref="GPS-0001")
    old = issue_key(device)
    new = issue_key(device, personas["operator"], why="shown to the wrong person")
    assert Client().get(f"/osmand/{old}", FIX).status_code == 401
    assert Client().get(f"/osmand/{new}", FIX).status_code == 200
    revoke_keys(device, personas["operator"], why="device lost")
    assert Client().get(f"/osmand/{new}", {**FIX, "timestamp": "1794830500"}).status_code == 401
    assert DeviceKey.objects.filter(device=device, revoked_at__isnull=True).count() == 0
    summaries = list(AuditEvent.objects.filter(action=AuditAction.CREDENTIAL).values_list("summary", flat=True))
    assert any("rotated" in s for s in summaries) and any("revoked" in s for s in summaries)


@pytest.mark.django_db
def test_a_gateway_may_send_only_its_own_devices_readings(case):
    vendor_a, token_a = Gateway.create_with_token("Vendor A")
    vendor_b, token_b = Gateway.create_with_token("Vendor B")
    Device.objects.filter(ref="RF-0001").update(gateway=vendor_a)
    Device.objects.filter(ref="GPS-0001").update(gateway=vendor_b)
    good = json.dumps({"device": "GPS-0001", "time": "2026-11-10T12:00:00Z", "type": "fix", "lat": 52.67, "lon": -0.73})
    # Vendor B invents Sam's curfew breach on Vendor A's home unit, in the same batch as its own tag's fix.
    response = post_batch(token_b, out_of_range_all_night() + "\n" + good)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1 and len(body["rejected"]) == 10
    assert {r["error"] for r in body["rejected"]} == {
        'not authenticated: device "RF-0001" is not assigned to this gateway'
    }
    assert not Reading.objects.filter(device="RF-0001").exists()
    EngineWorker("t").cycle(now=datetime(2026, 11, 10, 22, 35, tzinfo=UTC))
    assert not Violation.objects.filter(type="curfew_absence").exists()
    # Vendor A may.
    assert post_batch(token_a, out_of_range_all_night()).json()["accepted"] == 10


@pytest.mark.django_db
def test_a_batch_without_a_valid_token_is_kept_as_not_authenticated(case):
    for token in (None, "forged-token"):
        response = post_batch(token, out_of_range_all_night())
        assert response.status_code == 401 and "gateway token" in response.json()["error"]
    assert not Reading.objects.exists()
    assert RejectedReading.objects.filter(kind=Rejection.UNAUTHENTICATED).count() == 20


@pytest.mark.django_db
def test_a_deactivated_gateway_is_refused(case):
    gateway, token = Gateway.create_with_token("Vendor A")
    Device.objects.update(gateway=gateway)
    Gateway.objects.update(active=False)
    assert post_batch(token, out_of_range_all_night()).status_code == 401


# The device stock: where keys are issued, shown once, rotated and revoked.

DEVICE_PAGES = ("list", "add", "device")
ALLOWED = {"operator", "admin"}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_monitoring_centre_manages_devices(persona, personas, case):
    device = Device.objects.get(ref="GPS-0001")
    client = client_for(personas[persona])
    urls = [reverse("devices:list"), reverse("devices:add"), reverse("devices:device", args=[device.pk])]
    expected = 200 if persona in ALLOWED else 403
    assert [client.get(u).status_code for u in urls] == [expected] * 3
    posted = client.post(reverse("devices:key", args=[device.pk, "issue"]), {"reason": "test"})
    assert posted.status_code == (200 if persona in ALLOWED else 403)
    assert DeviceKey.objects.exists() == (persona in ALLOWED)
    gw = client.post(reverse("devices:gateway", args=[device.pk]), {"gateway": "", "gateway_reason": "test"})
    assert gw.status_code == (302 if persona in ALLOWED else 403)


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(case):
    response = Client().get(reverse("devices:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_an_operator_adds_a_device_and_sees_its_key_once(personas):
    client = client_for(personas["operator"])
    page = client.post(reverse("devices:add"), {"ref": "GPS-0100", "kind": "gps", "gateway": ""})
    assert page.status_code == 200
    html = page.content.decode()
    key = html.split('id="device-key">')[1].split("<")[0]
    assert len(key) >= 32 and "shown only this once" in html
    assert f"http://127.0.0.1:5055/{key}" in html
    assert "no-store" in page["Cache-Control"]
    device = Device.objects.get(ref="GPS-0100")
    # Never again: not on the device's page, not in the list.
    detail = client.get(reverse("devices:device", args=[device.pk])).content.decode()
    assert key not in detail and key[:6] in detail
    assert key not in client.get(reverse("devices:list")).content.decode()
    # It works at once.
    reading = {**FIX, "id": "GPS-0100"}
    assert Client().get(f"/osmand/{key}", reading).status_code == 200
    events = AuditEvent.objects.filter(action=AuditAction.CREDENTIAL, object_id=str(device.pk))
    assert events.get().actor == personas["operator"]


@pytest.mark.django_db
def test_adding_a_device_says_what_is_wrong(personas, case):
    client = client_for(personas["operator"])
    html = client.post(reverse("devices:add"), {"ref": "GPS-0001", "kind": "gps"}).content.decode()
    assert "A device with serial number GPS-0001 is already in stock" in html
    html = client.post(reverse("devices:add"), {"ref": "<b>x</b>", "kind": "gps"}).content.decode()
    assert "letters, digits, dots and dashes only" in html
    html = client.post(reverse("devices:key", args=[Device.objects.get(ref="GPS-0001").pk, "issue"]), {}).content
    assert b"This field is required" in html or b"Enter" in html


@pytest.mark.django_db
def test_the_command_line_issues_revokes_and_assigns(case, capsys):
    call_command("device_key", "GPS-0001", "--reason", "fitted to a phone")
    key = capsys.readouterr().out.strip()
    assert Client().get(f"/osmand/{key}", FIX).status_code == 200
    call_command("device_key", "GPS-0001", "--revoke")
    assert Client().get(f"/osmand/{key}", {**FIX, "timestamp": "1794830999"}).status_code == 401
    call_command("gateway", "create", "Vendor C")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    call_command("gateway", "assign", "Vendor C", "RF-0001")
    assert post_batch(token, out_of_range_all_night()).json()["accepted"] == 10
    call_command("gateway", "rotate", "Vendor C")
    assert post_batch(token, out_of_range_all_night()).status_code == 401


@pytest.mark.django_db
def test_the_live_simulator_sends_with_device_keys_and_its_gateway_and_nothing_is_refused():
    from openem.cases.casefile_io import import_casefile
    from openem.engine import casefile
    from openem.simulate.live import run_live
    from openem.simulate.population import case_file
    from openem.simulate.profiles import SimConfig
    from openem.simulate.runner import plan

    config = SimConfig(people=4, days=1, seed=4, start="2026-11-16")
    import_casefile(casefile.parse(case_file(plan(config, datetime(2026, 11, 16).date()))), None, "test")
    gateway, token = Gateway.create_with_token("Simulator")
    Device.objects.update(gateway=gateway)
    keys = {d.ref: issue_key(d) for d in Device.objects.filter(kind="gps")}
    assert keys
    client = Client()

    def send(url: str, tok: str, body: bytes) -> dict:
        return post_batch(tok, body.decode()).json()

    def send_osmand(url: str, key: str, params: dict) -> dict:
        return client.post(f"/osmand/{key}", params).json()

    end = datetime(2026, 11, 16, 2, 0, tzinfo=UTC).timestamp()  # two hours are enough
    accepted = run_live(
        config, "", token, live_from_h=48, send=send, clock=lambda: end, sleep=lambda _s: None,
        log=lambda _m: None, stop_at=end, device_keys=keys, send_osmand=send_osmand,
    )  # fmt: skip
    assert accepted == Reading.objects.count() > 100
    assert not RejectedReading.objects.exists()
    by_source = dict(Reading.objects.filter(type="fix").values_list("source").annotate(n=Count("id")))
    assert set(by_source) == {"osmand"}  # every fix of a keyed tag came from the device itself
    assert Reading.objects.exclude(type="fix").filter(source="http").exists()  # the rest through the gateway


@pytest.mark.django_db
def test_the_admin_shows_keys_and_gateways_but_never_a_secret(personas, case):
    device = Device.objects.get(ref="GPS-0001")
    key = issue_key(device)
    gateway, token = Gateway.create_with_token("Vendor A")
    admin = client_for(personas["admin"])
    page = admin.get(f"/admin/devices/device/{device.pk}/change/").content.decode()
    assert key[:6] in page and key not in page
    gw_page = admin.get(f"/admin/telemetry/gateway/{gateway.pk}/change/").content.decode()
    assert token not in gw_page and gateway.token_hash not in gw_page
    assert admin.get("/admin/telemetry/gateway/add/").status_code == 403  # tokens come from `openem gateway`


@pytest.mark.django_db
def test_the_monitoring_centre_counts_readings_not_authenticated(personas, case):
    Client().get("/osmand/", FIX)  # no key
    post_batch("forged-token", out_of_range_all_night())
    page = client_for(personas["operator"]).get(reverse("portal:centre")).content.decode()
    table = page.split('id="rejected-by-kind"')[1].split("</table>")[0]
    row = table.split("Not authenticated")[1].split("</tr>")[0]
    # The OsmAnd fix + the 10 lines of the forged batch, all in the last day.
    assert re.findall(r">(\d+)<", row)[:2] == ["11", "11"]
    # A manager of another team sees none of it: these name no case of theirs.
    other = client_for(personas["other_manager"]).get(reverse("portal:centre")).content.decode()
    assert "rejected-by-kind" not in other


@pytest.mark.django_db
def test_a_device_key_never_reaches_the_logs_or_a_rejected_reading(case, caplog):
    """Red team: a valid key in the URL of a request answered 400 or 401 was written to the log, and an
    MQTT line too broken to parse was kept whole, key and all."""
    import logging

    from openem.telemetry.mqtt import handle

    key = issue_key(Device.objects.get(ref="GPS-0001"))
    with caplog.at_level(logging.INFO):
        assert Client().get(f"/osmand/{key}", {**FIX, "lat": "999"}).status_code == 400  # logged: Bad Request
        assert Client().get(f"/osmand/{key}", {**FIX, "id": "RF-0001"}).status_code == 401  # Unauthorized
        assert Client().get("/osmand/", {**FIX, "key": key, "lat": "999"}).status_code == 400
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "/osmand/" in logged and key not in logged and "[key removed]" in logged
    handle("openem/devices/GPS-0001/telemetry", ('{"type": "fix", "key": "' + key + '", "lat": 1,}').encode())
    kept = RejectedReading.objects.exclude(raw="").values_list("raw", flat=True)
    assert kept and not any(key in raw for raw in kept)


@pytest.mark.django_db
def test_a_second_sender_cannot_hide_a_reading_under_a_taken_seq(case):
    """Red team: the tag's own key sent a fix numbered 987654321; the gateway's tamper alarm with the same
    number was then counted a duplicate and dropped without a trace."""
    from openem.telemetry.mqtt import handle

    gateway, token = Gateway.create_with_token("Vendor A")
    Device.objects.update(gateway=gateway)
    key = issue_key(Device.objects.get(ref="GPS-0001"))
    fix = {"time": "2026-11-10T12:00:00Z", "type": "fix", "lat": 52.67, "lon": -0.73, "seq": 987654321}
    assert handle("openem/devices/GPS-0001/telemetry", json.dumps({**fix, "key": key}).encode()).accepted == 1
    tamper = {"device": "GPS-0001", "time": "2026-11-10T12:01:00Z", "type": "tamper", "kind": "strap",
              "state": "open", "seq": 987654321}  # fmt: skip
    body = post_batch(token, json.dumps(tamper)).json()
    assert body["accepted"] == 0 and body["duplicates"] == 0
    assert (
        body["rejected"][0]["field"] == "seq" and "used already by a different reading" in body["rejected"][0]["error"]
    )
    kept = RejectedReading.objects.get(field="seq")
    assert json.loads(kept.raw)["type"] == "tamper" and kept.device == "GPS-0001"
    # The same reading sent again is still a duplicate, and two different readings under one seq in one
    # batch are not stored as one.
    assert post_batch(token, json.dumps({**fix, "device": "GPS-0001"})).json()["duplicates"] == 1
    both = json.dumps({**tamper, "seq": 5}) + "\n" + json.dumps({**tamper, "seq": 5, "state": "closed"})
    body = post_batch(token, both).json()
    assert body["accepted"] == 1 and "earlier in this batch" in body["rejected"][0]["error"]


@pytest.mark.django_db
def test_changing_who_may_send_a_devices_readings_needs_a_reason(personas, case):
    """Red team: the gateway of a device (who may write its readings) changed with no reason given."""
    gateway, _token = Gateway.create_with_token("Vendor X")
    device = Device.objects.get(ref="RF-0001")
    client = client_for(personas["operator"])
    url = reverse("devices:gateway", args=[device.pk])
    refused = client.post(url, {"gateway": gateway.pk})
    assert refused.status_code == 400 and "This field is required" in refused.content.decode()
    assert Device.objects.get(pk=device.pk).gateway is None
    assert client.post(url, {"gateway": gateway.pk, "gateway_reason": "moved to Vendor X"}).status_code == 302
    event = AuditEvent.objects.filter(action=AuditAction.CREDENTIAL, object_id=str(device.pk)).get()
    assert event.reason == "moved to Vendor X" and "Vendor X" in event.summary


@pytest.mark.django_db
def test_the_portals_osmand_path_keeps_nothing_for_a_request_with_no_reading(case):
    """Red team: a GET of /osmand/ with no parameters stored a rejected reading each time."""
    for url in ("/osmand/", "/osmand/anything"):
        response = Client().get(url)
        assert response.status_code == 400 and "send OsmAnd parameters" in response.json()["error"]
    assert not RejectedReading.objects.exists()


@pytest.mark.parametrize(
    "template",
    [
        "GET /osmand/?id=GPS-0004&k%65y={k}&lat=x",  # a percent-encoded parameter name
        '{{"k\\u0065y": "{k}", "lat": 1,}}',  # an escaped name in a broken line
        '{{"key": {k}, "lat": 1,}}',  # unquoted
        "{{'key': '{k}', 'lat': 1,}}",  # single quotes
        '{{"KEY": "{k}",}}',
        "id=GPS-0004&timestamp=notatime&extra={k}",  # under another name
    ],
)
def test_a_key_is_removed_however_it_is_wrapped(template):
    """Second red-team pass: variants of the key's wrapping that the first redaction missed."""
    from openem.telemetry.redact import redact_keys

    key = "q48-4N7J2yydXicMkB0vgWuifrQw1om8"
    cleaned = redact_keys(template.format(k=key))
    assert key not in cleaned and "[key removed]" in cleaned
    assert redact_keys(cleaned) == cleaned  # cleaning twice (two log filters) changes nothing more
