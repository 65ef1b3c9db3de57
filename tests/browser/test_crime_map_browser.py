"""The match map stays legible when the near positions crowd together: no number over another, the rest
said to be unnumbered at that zoom, more numbered as the reviewer zooms in, every one in its tooltip."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pytest

from tests.crime.portal_helpers import T0, csv_of, row

from .conftest import shot
from .test_crime_browser import sign_in_as

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CRIME_AT = (52.6600, -0.7351)
OVERLAPS = """() => {
  const r = [...document.querySelectorAll('.app-fix-number, .app-crime-label')].map(e => e.getBoundingClientRect());
  let n = 0;
  for (let a = 0; a < r.length; a++) for (let b = a + 1; b < r.length; b++)
    if (r[a].left < r[b].right && r[b].left < r[a].right && r[a].top < r[b].bottom && r[b].top < r[a].bottom) n++;
  return n;
}"""


def test_crowded_near_positions_are_numbered_without_one_number_over_another(page, live_server, personas, case):
    from django.test import Client
    from django.urls import reverse

    from openem.crime.models import Finding
    from openem.crime.worker import CrimeWorker
    from openem.telemetry.ingest import ingest_jsonl

    # Forty minutes standing within 15 m of the crime, a fix a minute: forty numbers in a few pixels.
    lines = []
    for i in range(40):
        a = i * 2.4
        lat = CRIME_AT[0] + 12 * math.sin(a) / 111_250
        lon = CRIME_AT[1] + 12 * math.cos(a) / 67_540
        t = (T0 + timedelta(minutes=40 + i)).isoformat().replace("+00:00", "Z")
        lines.append(json.dumps({"device": "GPS-0001", "time": t, "type": "fix", "lat": lat, "lon": lon,
                                 "accuracy_m": 10}))  # fmt: skip
    ingest_jsonl("\n".join(lines))
    police = Client()
    police.force_login(personas["police"])
    start = T0 + timedelta(minutes=50)
    data = csv_of([row("LP/7101/26", *CRIME_AT, start, start + timedelta(minutes=20))])
    police.post(reverse("crime:batches"), {"file": _upload(data), "lawful_basis": "investigation",
                                           "purpose": "Operation Larch: dwelling burglaries"})  # fmt: skip
    CrimeWorker("browser").run_once()
    f = Finding.objects.get(verdict="match")
    assert f.stored.near == 40

    sign_in_as(page, live_server, "hana.caseworker")
    page.goto(f"{live_server.url}{reverse('crime:match', args=[f.pk])}")
    page.wait_for_selector("#match-map[data-numbered]")
    numbered = int(page.get_attribute("#match-map", "data-numbered"))
    unnumbered = int(page.get_attribute("#match-map", "data-unnumbered"))
    assert numbered + unnumbered == 40 and numbered > 0 and unnumbered > 0
    assert page.locator(".app-fix-number").count() == numbered
    assert page.evaluate(OVERLAPS) == 0
    assert f"{unnumbered} of the 40 near positions are not numbered at this zoom" in page.inner_text("#match-map-note")
    shot(page, "crime-12-crowded-map")
    # Zoomed in, the positions spread out: more are numbered, still none over another.
    page.evaluate("document.getElementById('match-map')._openemMap.setZoom(20, {animate: false})")
    page.wait_for_function(f"Number(document.getElementById('match-map').dataset.numbered) > {numbered}")
    assert page.evaluate(OVERLAPS) == 0
    shot(page, "crime-13-crowded-map-zoomed")
    # Every position's number and UK time is in its tooltip, and in the table.
    page.locator("#match-map .leaflet-interactive").nth(5).hover(force=True)
    tooltip = page.inner_text(".leaflet-tooltip")
    assert tooltip.startswith("No. ") and "GMT" in tooltip
    assert page.locator("table.app-match-positions tbody tr.app-near").count() == 40
    assert not page.js_errors, page.js_errors


def _upload(data: bytes) -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("batch.csv", data, "text/csv")
