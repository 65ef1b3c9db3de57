"""Issue 7's journey: a practitioner signs in, finds who broke curfew last night, sees it on the map,
exports that night's trail and records an enforcement decision; screenshots of every page."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOME = (52.6702, -0.7321)
TOWN = (52.6790, -0.7195)


def last_night_out(evening):
    """Sam's devices from 18:00 last night: home, then out from 20:00 to 23:00 (tag out of range), home."""
    lines = []
    for k in range(0, 6 * 12):  # every 5 minutes for six hours
        t = evening + timedelta(minutes=5 * k)
        out = evening.replace(hour=20) <= t < evening.replace(hour=23)
        stamp = t.astimezone(UTC).isoformat().replace("+00:00", "Z")
        lines.append(json.dumps({"device": "RF-0001", "time": stamp, "type": "rf", "in_range": not out}))
        if out:
            f = min(1.0, (t - evening.replace(hour=20)).total_seconds() / 1800)
            lat, lon = HOME[0] + (TOWN[0] - HOME[0]) * f, HOME[1] + (TOWN[1] - HOME[1]) * f
        else:
            lat, lon = HOME
        lines.append(json.dumps({"device": "GPS-0001", "time": stamp, "type": "fix", "lat": round(lat, 6),
                                 "lon": round(lon, 6), "accuracy_m": 9, "seq": k}))  # fmt: skip
    return "\n".join(lines)


def test_find_last_nights_curfew_breach_see_it_export_the_trail_and_record_a_decision(
    page, live_server, personas, case
):
    from openem.alerts.models import EnforcementDecision
    from openem.alerts.worker import AlertsWorker
    from openem.telemetry.ingest import ingest_jsonl
    from openem.telemetry.worker import EngineWorker

    evening = (timezone.localtime() - timedelta(days=1)).replace(hour=18, minute=0, second=0, microsecond=0)
    ingest_jsonl(last_night_out(evening))
    after = evening + timedelta(hours=6)
    EngineWorker("t").cycle(now=after)
    AlertsWorker("t").cycle(now=after)

    sign_in(page, live_server)
    page.wait_for_selector("h1:has-text('My cases')")
    shot(page, "journey-01-my-cases")
    assert "Violation open" in page.inner_text("main") or "Sam Example" in page.inner_text("main")

    page.click("nav >> text=Alerts")
    page.wait_for_selector("h1:has-text('Alerts')")
    shot(page, "journey-02-alerts")
    row = page.locator("tr", has_text="Sam Example").filter(has_text="Curfew absence")
    assert row.count() == 1 and evening.strftime("%a %-d %b") in row.inner_text()
    row.locator("a", has_text="Curfew absence").click()

    page.wait_for_selector("h1:has-text('Curfew absence')")
    page.wait_for_selector(".app-map--ready")
    shot(page, "journey-03-incident")
    assert "Notified at once" in page.inner_text("main")
    incident_url = page.url

    page.click("text=See the trail for this incident")
    page.check("input[name=reason][value=breach]")
    page.click("button:has-text('Show the trail')")
    page.wait_for_selector("#trail-map[data-trail-points]")
    assert int(page.get_attribute("#trail-map", "data-trail-points")) > 30
    assert page.locator("path.app-trail-line").count() == 1
    shot(page, "journey-04-trail")

    with page.expect_download() as download:
        page.click(".app-exports >> text=GPX")
    gpx = Path(download.value.path()).read_text()
    assert "<gpx" in gpx and gpx.count("<trkpt") > 30

    page.goto(incident_url)
    page.wait_for_selector("h1:has-text('Curfew absence')")
    page.check("input[name='decision-decision'][value=warning]")
    page.fill("#id_decision-reason", "Out for three hours; says he was with friends. First absence: formal warning.")
    page.fill("#id_decision-decided_on", timezone.localdate().isoformat())
    page.fill("#id_decision-action_on", timezone.localdate().isoformat())
    shot(page, "journey-05-decision")
    page.click("button:has-text('Record decision')")
    page.wait_for_selector("text=Enforcement decision recorded")
    shot(page, "journey-06-decided")
    decision = EnforcementDecision.objects.get()
    assert (decision.decision, decision.by) == ("warning", personas["practitioner"])
    assert page.js_errors == []
