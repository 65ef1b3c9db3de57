"""Ingest over HTTP and OsmAnd, storage once, rejected readings kept, and the engine worker."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from openem.alerts.models import Violation
from openem.telemetry import trail
from openem.telemetry.models import Gateway, Reading, RejectedReading, TrailBlock
from openem.telemetry.worker import EngineWorker


def trail_fixes() -> int:
    return sum(TrailBlock.objects.values_list("n", flat=True))


def line(**kw) -> str:
    return json.dumps(kw)


def out_from_eight_pm() -> str:
    """The home unit's reports from 18:00 to 22:30: the tag out of range from 20:00, a curfew absence."""
    return "\n".join(
        line(device="RF-0001", time=f"2026-11-10T{h:02d}:{m:02d}:00Z", type="rf", in_range=h < 20)
        for h in range(18, 23)
        for m in (0, 30)
    )


@pytest.fixture
def gateway(db, request):
    """Vendor A's token; the test case's devices (when the test has the case) report through Vendor A."""
    from openem.devices.models import Device

    gw, token = Gateway.create_with_token("Vendor A")
    if "case" in request.fixturenames:
        request.getfixturevalue("case")
        Device.objects.update(gateway=gw)
    return token


def post(client: Client, token: str, lines: list[str]):
    return client.post(
        "/ingest/v1/telemetry",
        data="\n".join(lines),
        content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.mark.django_db
def test_a_batch_is_stored_and_bad_lines_are_reported_without_losing_good_ones(gateway, case):
    good = line(device="GPS-0001", time="2026-11-10T12:00:00Z", type="fix", lat=52.67, lon=-0.73, accuracy_m=8, seq=1)
    lines = [
        good,
        "{oops",
        line(device="GPS-0001", time="2026-11-10T12:01:00Z", type="fix", lat=91, lon=0),
        line(device="GPS-0001", time="1901-12-13T20:45:52Z", type="fix", lat=46, lon=13),
        line(device="RF-0001", time="2026-11-10T12:00:00Z", type="rf", in_range=True),
    ]
    response = post(Client(), gateway, lines)
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert [(r["line"], r["field"]) for r in body["rejected"]] == [(2, "(line)"), (3, "lat"), (4, "time")]
    assert body["rejected"][1]["error"] == "lat: 91 is out of range (-90 to 90)"
    assert Reading.objects.count() == 2 and trail_fixes() == 1
    assert RejectedReading.objects.count() == 3
    # The same reading again is a duplicate; the same seq with other content is not stored but kept as
    # rejected, saying why (a second sender must not hide a reading by taking its number).
    again = post(
        Client(),
        gateway,
        [good, line(device="GPS-0001", time="2026-11-10T12:09:00Z", type="fix", lat=52.6, lon=-0.7, seq=1)],
    ).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert again["rejected"][0]["field"] == "seq" and again["rejected"][0]["line"] == 2
    assert Reading.objects.count() == 2


@pytest.mark.django_db
def test_batches_committed_together_store_a_shared_reading_once(case):
    """Group commit: two gateways send the same fix in the same moment; one is told it was stored, the
    other that it was a duplicate, and each keeps its own rejected lines."""
    from openem.telemetry.ingest import decode_lines, prepare, store
    from openem.telemetry.models import Source

    shared = line(device="GPS-0001", time="2026-11-10T12:00:00Z", type="fix", lat=52.67, lon=-0.73, seq=7)
    a = prepare(
        decode_lines(
            "\n".join([shared, line(device="GPS-0001", time="2026-11-10T12:01:00Z", type="fix", lat=52.6, lon=-0.7)])
        ),
        Source.HTTP,
    )
    b = prepare(decode_lines("\n".join(["{", shared, line(device="NOPE", time="2026-11-10T12:00:00Z",
                                                          type="rf", in_range=True)])), Source.HTTP)  # fmt: skip
    store([a, b])
    assert (a.result.accepted, a.result.duplicates, a.result.rejected) == (2, 0, [])
    assert (b.result.accepted, b.result.duplicates) == (0, 1)
    assert [(r["line"], r["field"]) for r in b.result.rejected] == [(1, "(line)"), (3, "device")]
    assert Reading.objects.count() == 2 and trail_fixes() == 2


@pytest.mark.django_db
def test_a_bad_token_is_refused(gateway):
    assert post(Client(), "nope", ["{}"]).status_code == 401
    assert Client().post("/ingest/v1/telemetry", data="", content_type="application/x-ndjson").status_code == 401


@pytest.mark.django_db
def test_osmand_from_a_traccar_client(case):
    from openem.devices.credentials import issue_key
    from openem.devices.models import Device

    key = issue_key(Device.objects.get(ref="GPS-0001"))
    client = Client()
    ok = client.get(
        "/osmand/",
        {
            "key": key,
            "id": "GPS-0001",
            "lat": "52.6702",
            "lon": "-0.7321",
            "timestamp": "1794830400",
            "speed": "10",
            "accuracy": "12",
            "batt": "76",
            "charge": "false",
        },
    )
    assert ok.status_code == 200 and ok.json()["accepted"] == 2
    fix = trail.fixes("GPS-0001", 0, 2e9)
    assert (list(fix.lat), list(fix.acc)) == ([52.6702], [12.0])
    # A device nobody enrolled has no key: whether it exists is not said to the sender.
    unknown = client.get("/osmand/", {"id": "NOPE", "lat": "52", "lon": "0", "timestamp": "1794830400"})
    assert unknown.status_code == 401
    assert RejectedReading.objects.get().reason.startswith("not authenticated: no device key")


@pytest.mark.django_db
def test_the_worker_stores_violations_and_amends_them_when_late_readings_arrive(gateway, case):
    from openem.telemetry.ingest import ingest_jsonl

    ingest_jsonl(out_from_eight_pm())
    from datetime import UTC, datetime

    now = datetime(2026, 11, 10, 22, 35, tzinfo=UTC)
    worker = EngineWorker("test")
    first = worker.cycle(now=now)
    assert first.opened >= 1
    absence = Violation.objects.get(type="curfew_absence")
    assert absence.person == case and absence.end is None and absence.start.isoformat() == "2026-11-10T20:00:00+00:00"
    # Running again with nothing new changes nothing, and nothing is stored twice.
    assert worker.cycle(now=now).opened == 0 and Violation.objects.filter(type="curfew_absence").count() == 1
    # The tag was back at 22:40: the absence now has an end.
    ingest_jsonl(line(device="RF-0001", time="2026-11-10T22:40:00Z", type="rf", in_range=True))
    worker.cycle(now=datetime(2026, 11, 10, 22, 45, tzinfo=UTC))
    absence.refresh_from_db()
    assert absence.end is not None and absence.end.isoformat() == "2026-11-10T22:40:00+00:00"


@pytest.mark.django_db
def test_two_workers_never_hold_the_cursor_at_once(case):
    a, b = EngineWorker("a"), EngineWorker("b")
    assert a.claim() is not None
    assert b.claim() is None
    a.release()
    assert b.claim() is not None


@pytest.mark.django_db
def test_workers_sharing_the_devices_evaluate_each_once(gateway, case):
    from datetime import UTC, datetime

    from openem.telemetry.bus import partition
    from openem.telemetry.ingest import ingest_jsonl

    ingest_jsonl(out_from_eight_pm())
    now = datetime(2026, 11, 10, 22, 35, tzinfo=UTC)
    workers = [EngineWorker(f"w{k}", shard=k, shards=2) for k in range(2)]
    results = [w.cycle(now=now) for w in workers]
    rf_shard = partition("RF-0001", 2)
    assert results[rf_shard].readings == 10 and results[1 - rf_shard].readings == 0
    assert results[rf_shard].opened >= 1 and results[1 - rf_shard].opened == 0
    assert Violation.objects.filter(type="curfew_absence").count() == 1
    # Each has its own cursor: both have moved past everything stored, and a second round adds nothing.
    assert sum(w.cycle(now=now).opened for w in workers) == 0
    with pytest.raises(ValueError, match="shard 2 is not one of 0 to 1"):
        EngineWorker(shard=2, shards=2)


@pytest.mark.django_db
def test_stored_violations_show_on_the_person_page_only_to_those_who_may_see_them(personas, case):
    from datetime import UTC, datetime

    from django.urls import reverse

    from openem.telemetry.ingest import ingest_jsonl

    ingest_jsonl(out_from_eight_pm())
    EngineWorker("t").cycle(now=datetime(2026, 11, 10, 22, 35, tzinfo=UTC))
    client = Client()
    client.force_login(personas["practitioner"])
    page = client.get(reverse("portal:person", args=[case.pk])).content.decode()
    assert "Curfew absence" in page and "Ongoing" in page and "Not fitted" in page
    # The timeline puts the absence, the order's making and the fittings in one list.
    assert "Timeline (" in page and "Community order O0001, version 1" in page and "Radio frequency fitted" in page
    client.force_login(personas["other"])
    assert client.get(reverse("portal:person", args=[case.pk])).status_code == 404


@pytest.mark.django_db
def test_my_cases_shows_each_persons_monitoring_status(personas, case):
    from datetime import UTC, datetime

    from django.urls import reverse

    from openem.telemetry.ingest import ingest_jsonl

    client = Client()
    client.force_login(personas["practitioner"])
    # Fitted but nothing received yet; and the alcohol condition has no tag at all.
    page = client.get(reverse("portal:cases")).content.decode()
    assert "Tag not fitted" in page and "No alcohol device fitted" in page
    ingest_jsonl(out_from_eight_pm())
    EngineWorker("t").cycle(now=datetime(2026, 11, 10, 22, 35, tzinfo=UTC))
    from openem.cases.models import MonitoringStatus, monitoring_statuses
    from openem.devices.models import Device, Fitting

    assert monitoring_statuses([case])[case.pk][0] == MonitoringStatus.NOT_FITTED
    # The alcohol tag is fitted; the engine withdraws "not fitted", and the open absence is what shows.
    tag = Device.objects.create(ref="ALC-0001", kind="alcohol")
    Fitting.objects.create(device=tag, person=case, fitted_at=datetime(2026, 11, 1, 12, tzinfo=UTC))
    EngineWorker("t").cycle(now=datetime(2026, 11, 10, 22, 36, tzinfo=UTC))
    status, why = monitoring_statuses([case])[case.pk]
    assert (status, why) == (MonitoringStatus.VIOLATION_OPEN, ["Curfew absence since Tue 10 Nov 20:00"])
    page = client.get(reverse("portal:cases"), {"status": "violation_open"}).content.decode()
    assert "Sam Example" in page and "Violation open" in page
    assert "Sam Example" not in client.get(reverse("portal:cases"), {"status": "compliant"}).content.decode()


@pytest.mark.django_db
def test_the_monitoring_centre_sees_tags_not_fitted_equipment_work_and_rejected_readings(personas, gateway, case):
    from datetime import UTC, datetime

    from django.urls import reverse

    post(
        Client(),
        gateway,
        [
            line(device="GPS-0001", time="2026-11-10T12:00:00Z", type="fix", lat=99, lon=0),
            line(device="GPS-0001", time="2026-11-10T12:00:00Z", type="power", battery_pct=5, charging=False),
        ],
    )
    EngineWorker("t").cycle(now=datetime(2026, 11, 10, 16, 0, tzinfo=UTC))
    c = Client()
    c.force_login(personas["operator"])
    page = c.get(reverse("portal:centre")).content.decode()
    assert "Sam Example" in page and "No alcohol device fitted" in page
    assert "Battery depleted" in page and "Call the wearer to charge the tag now" in page
    assert "lat: 99 is out of range (-90 to 90)" in page


@pytest.mark.django_db
def test_the_deadline_check_opens_no_signal_for_a_device_that_went_quiet(case):
    from datetime import UTC, datetime

    from openem.telemetry.ingest import ingest_jsonl

    ingest_jsonl(line(device="RF-0001", time="2026-11-10T12:00:00Z", type="rf", in_range=True))
    worker = EngineWorker("t")
    worker.cycle(now=datetime(2026, 11, 10, 12, 5, tzinfo=UTC))
    assert not Violation.objects.filter(type="no_signal").exists()
    # Nothing new arrives; two hours later the silence itself is the violation.
    worker.cycle(now=datetime(2026, 11, 10, 14, 0, tzinfo=UTC))
    silence = Violation.objects.get(type="no_signal")
    assert silence.device == "RF-0001" and silence.end is None and silence.category == "equipment"


@pytest.mark.django_db
def test_the_person_page_charts_alcohol_with_sober_days(personas, case):
    from datetime import UTC, datetime

    from django.urls import reverse

    from openem.devices.models import Device, Fitting
    from openem.telemetry.ingest import ingest_jsonl

    tag = Device.objects.create(ref="ALC-0001", kind="alcohol")
    Fitting.objects.create(device=tag, person=case, fitted_at=datetime(2026, 11, 1, 12, tzinfo=UTC))
    values = [0.0] * 100 + [0.01, 0.03, 0.05, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01] + [0.0] * 40
    t0 = datetime(2026, 11, 8, 0, 10, tzinfo=UTC).timestamp()
    ingest_jsonl(
        "\n".join(
            line(
                device="ALC-0001",
                time=datetime.fromtimestamp(t0 + 1800 * i, UTC).isoformat(),
                type="alcohol",
                tac_g_dl=v,
                ir_v=1.15,
                temp_c=33.5,
            )
            for i, v in enumerate(values)
        )
    )
    EngineWorker("t").cycle(now=datetime(2026, 11, 11, 3, 0, tzinfo=UTC))
    client = Client()
    client.force_login(personas["practitioner"])
    page = client.get(reverse("portal:person", args=[case.pk])).content.decode()
    assert "Alcohol (ALC-0001)" in page and "1 confirmed drinking episode" in page
    assert "2 of 3 days worn were sober" in page


@pytest.mark.django_db
def test_the_engine_worker_command_runs_a_cycle(case):
    from io import StringIO

    from django.core.management import call_command

    from openem.telemetry.ingest import ingest_jsonl

    ingest_jsonl(line(device="RF-0001", time="2026-11-10T12:00:00Z", type="rf", in_range=True))
    out = StringIO()
    call_command("engine_worker", "--once", stdout=out)
    assert out.getvalue().startswith("1 readings from 1 devices")


def test_openem_run_starts_and_its_processes_stay_up(tmp_path):
    """`openem run` (what `make demo` ends with): web server, engine worker and OsmAnd receiver stay up."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OPENEM_SQLITE_PATH": str(tmp_path / "run.sqlite3"), "OPENEM_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env.pop("OPENEM_BUS", None)
    subprocess.run([sys.executable, "-m", "openem.cli", "migrate", "-v0"], cwd=root, env=env, check=True)
    from openem.telemetry.bench import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "openem.cli", "run", f"127.0.0.1:{port}", "--ingest-port", "0"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = None
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/sign-in/", timeout=1) as resp:
                    status = resp.status
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        time.sleep(3)
        assert proc.poll() is None, "a process of openem run exited"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
