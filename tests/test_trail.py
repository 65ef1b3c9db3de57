"""The trail page and its exports: any period of my case, with a reason, audited, in four formats."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from openem.audit.models import AuditAction, AuditEvent
from openem.telemetry.ingest import ingest_jsonl
from tests.helpers import client_for as signed_in

PERIOD = {"start": "2026-11-10T08:00", "end": "2026-11-10T12:00", "reason": "supervision", "detail": "weekly review"}


@pytest.fixture
def trail_case(case):
    t0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    lines = [
        json.dumps(
            {
                "device": "GPS-0001",
                "time": (t0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                "type": "fix",
                "lat": 52.6702 + i * 0.0002,
                "lon": -0.7321,
                "accuracy_m": 8,
            }
        )
        for i in range(60)
    ]
    lines.append(
        json.dumps(
            {
                "device": "GPS-0001",
                "time": "2026-11-10T13:00:00Z",
                "type": "fix",
                "lat": 52.7,
                "lon": -0.7,
                "accuracy_m": 8,
            }
        )
    )
    assert ingest_jsonl("\n".join(lines)).accepted == 61
    return case


def client_for(personas, who):
    return signed_in(personas[who])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "status"), [("practitioner", 200), ("other", 404), ("manager", 200), ("operator", 200), ("police", 403)]
)
def test_who_may_see_a_trail(personas, trail_case, who, status):
    c = client_for(personas, who)
    assert c.get(reverse("portal:trail", args=[trail_case.pk]), PERIOD).status_code == status
    assert c.get(reverse("portal:trail-export", args=[trail_case.pk, "csv"]), PERIOD).status_code == status


@pytest.mark.django_db
def test_the_trail_of_a_period_with_the_reason_audited(personas, trail_case):
    c = client_for(personas, "practitioner")
    page = c.get(reverse("portal:trail", args=[trail_case.pk]), PERIOD).content.decode()
    assert "<strong>60</strong> positions" in page
    event = AuditEvent.objects.filter(action=AuditAction.VIEW, summary__startswith="trail").get()
    assert event.reason == "Supervision: reviewing compliance with the person: weekly review"
    assert event.period_start.isoformat() == "2026-11-10T08:00:00+00:00"
    assert event.person == trail_case and event.actor == personas["practitioner"]


@pytest.mark.django_db
def test_a_reason_is_required_and_periods_are_limited(personas, trail_case):
    c = client_for(personas, "practitioner")
    page = c.get(
        reverse("portal:trail", args=[trail_case.pk]), {**PERIOD, "reason": "other", "detail": ""}
    ).content.decode()
    assert "Say why you are looking at this location data" in page
    page = c.get(reverse("portal:trail", args=[trail_case.pk]), {**PERIOD, "end": "2026-12-30T00:00"}).content.decode()
    assert "Choose a period of at most 31 days" in page
    assert not AuditEvent.objects.filter(summary__startswith="trail").exists()


@pytest.mark.django_db
def test_exports_in_four_formats(personas, trail_case):
    c = client_for(personas, "practitioner")
    url = lambda fmt: reverse("portal:trail-export", args=[trail_case.pk, fmt])  # noqa: E731
    geo = json.loads(c.get(url("geojson"), PERIOD).content)
    assert len(geo["features"][0]["geometry"]["coordinates"]) == 60
    gpx = ET.fromstring(c.get(url("gpx"), PERIOD).content)
    assert len(gpx.findall(".//{http://www.topografix.com/GPX/1/1}trkpt")) == 60
    kml = ET.fromstring(c.get(url("kml"), PERIOD).content)
    assert len(kml.findall(".//{http://www.google.com/kml/ext/2.2}coord")) == 60
    response = c.get(url("csv"), PERIOD)
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 60 and rows[0]["device"] == "GPS-0001"
    assert 'attachment; filename="trail-X123456-' in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT).count() == 4


@pytest.mark.django_db
def test_showing_the_person_hides_the_victims_zone(personas, trail_case):
    from openem.cases.models import Condition

    zone = Condition.objects.get(ref="C2", removed_in_version__isnull=True)
    zone.spec = {**zone.spec, "victim_sensitive": True}
    zone.save()
    c = client_for(personas, "practitioner")
    page = c.get(reverse("portal:trail", args=[trail_case.pk]), PERIOD).content.decode()
    assert "Victim\\u0027s street" in page or "Victim's street" in page
    page = c.get(reverse("portal:trail", args=[trail_case.pk]), {**PERIOD, "show": "person"}).content.decode()
    assert "Victim's street" not in page and "Victim\\u0027s street" not in page


@pytest.mark.django_db
def test_the_offline_road_map_is_for_signed_in_users(personas):
    assert Client().get(reverse("portal:roads")).status_code == 302
    data = json.loads(client_for(personas, "practitioner").get(reverse("portal:roads")).content)
    assert "OpenStreetMap" in data["attribution"]
    assert any(f["properties"].get("place") == "Oakham" for f in data["features"])
    assert sum(1 for f in data["features"] if f["geometry"]["type"] == "LineString") > 1000


@pytest.mark.django_db
def test_the_trail_as_a_pdf_map_for_supervision(personas, trail_case):
    c = Client()
    c.force_login(personas["practitioner"])
    r = c.get(reverse("portal:trail-export", args=[trail_case.pk, "pdf"]), PERIOD)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert "Trail of Sam Example" in text and "weekly review" in text
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, summary__startswith="trail export (pdf)").exists()
    # Shown to the person: addressed to them, without the reason recorded for the audit.
    mine = c.get(reverse("portal:trail-export", args=[trail_case.pk, "pdf"]), {**PERIOD, "show": "person"})
    text = PdfReader(io.BytesIO(mine.content)).pages[0].extract_text()
    assert "Where you have been" in text and "weekly review" not in text


def test_map_labels_in_pdfs_never_overprint_each_other() -> None:
    """Three violations a few metres apart and the trail's start and end: five labels, no two on top of
    each other, all inside the map."""
    import re
    from datetime import datetime

    from openem.portal.staticmap import Point, svg_map

    t0 = datetime(2026, 11, 10, 9, 0)
    trail = [Point(52.6702 - i * 0.00002, -0.7351, t0) for i in range(10)]
    marks = [
        (Point(52.6702, -0.7351, t0), "Exclusion zone entry 09:30"),
        (Point(52.67019, -0.7351, t0), "Exclusion zone entry 09:31"),
        (Point(52.67018, -0.73511, t0), "Curfew absence 09:32"),
    ]
    svg = svg_map([], trail, marks, 680, 420)
    found = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="#fff"', svg)
    boxes = [tuple(float(v) for v in box) for box in found]
    assert len(boxes) == 5
    for i, (x, y, w, h) in enumerate(boxes):
        assert x >= 0 and x + w <= 680 and y >= 0 and y + h <= 420
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert not (x < x2 + w2 and x2 < x + w and y < y2 + h2 and y2 < y + h)
