"""No script from data: a Content-Security-Policy on every response, no inline script in any page,
labels escaped in every export, CSV cells that cannot become formulas, and the person's version of a
trail that never names the victim."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path, reverse
from pypdf import PdfReader

from openem.cases.models import Condition
from openem.devices.models import Device
from openem.portal.exports import csv_text, neutralise
from openem.settings import _tile_origin
from openem.telemetry.ingest import ingest_jsonl
from openem.urls import urlpatterns as openem_urls
from tests.helpers import PERSONAS, client_for, zone_crossing

PERIOD = {"start": "2026-11-10T08:00", "end": "2026-11-10T12:00", "reason": "supervision", "detail": "review"}
XSS_ZONE = '<img src=x onerror="window.__xss=1">'
VICTIM_ZONE = "Victim: Jane Doe's street"
FORMATS = ("geojson", "gpx", "kml", "csv", "pdf")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a server error, on purpose")


# This module doubles as a URLconf: OpenEM's URLs plus one that fails, for the 500 page.
urlpatterns = [path("test-boom/", boom), *openem_urls]


def rename_zone(name: str, victim: bool = False) -> Condition:
    zone = Condition.objects.get(ref="C2", removed_in_version__isnull=True)
    zone.spec = {**zone.spec, "name": name, "victim_sensitive": victim}
    zone.save()
    return zone


@pytest.fixture
def trail_case(case: Any) -> Any:
    """An hour of positions on 10 November crossing the exclusion zone C2, and the entry the engine
    found there."""
    zone_crossing(case, "ez-entry-1")
    return case


def export(c: Client, person: Any, fmt: str, **extra: str) -> Any:
    r = c.get(reverse("portal:trail-export", args=[person.pk, fmt]), {**PERIOD, **extra})
    assert r.status_code == 200, r.content[:200]
    return r


def export_text(r: Any, fmt: str) -> str:
    if fmt == "pdf":
        return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    return r.content.decode()


# --- Content-Security-Policy on every response ----------------------------------------------------


def directives(response: Any) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.status_code} {response.get('Content-Type')}"
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def assert_strict(response: Any) -> None:
    d = directives(response)
    assert d["script-src"] == ["'self'"], d
    assert d["default-src"] == ["'self'"] and d["object-src"] == ["'none'"] and d["base-uri"] == ["'none'"]
    assert d["frame-ancestors"] == ["'none'"] and d["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in d["style-src"]
    assert "'unsafe-eval'" not in " ".join(v for vals in d.values() for v in vals)


@pytest.mark.django_db
@pytest.mark.urls("tests.security.test_web_hardening")
def test_every_kind_of_response_carries_the_policy(personas, trail_case, incident):
    anonymous = Client()
    practitioner = client_for(personas["practitioner"])
    admin = client_for(personas["admin"])
    person = trail_case.pk
    responses = {
        "sign-in page": anonymous.get(reverse("login")),
        "redirect to sign in": anonymous.get(reverse("portal:cases")),
        "portal page": practitioner.get(reverse("portal:person", args=[person])),
        "trail page": practitioner.get(reverse("portal:trail", args=[person]), PERIOD),
        "forbidden page": client_for(personas["police"]).get(reverse("portal:cases")),
        "not found page": practitioner.get("/no-such-page/"),
        "admin index": admin.get(reverse("admin:index")),
        "admin change list": admin.get(reverse("admin:cases_person_changelist")),
        "admin sign-in": anonymous.get(reverse("admin:login")),
        "roads (JSON)": practitioner.get(reverse("portal:roads")),
        "API without a token (JSON)": anonymous.get("/api/v1/people"),
        "ingest without a token (JSON)": anonymous.post("/ingest/v1/telemetry", b"", content_type="text/plain"),
        "static file": anonymous.get("/static/portal/map.js"),
        "evidence pack (PDF)": practitioner.get(reverse("alerts:evidence", args=[incident.pk])),
    }
    for fmt in FORMATS:
        responses[f"trail export ({fmt})"] = export(practitioner, trail_case, fmt)
    failing = Client(raise_request_exception=False)
    failing.force_login(personas["practitioner"])
    responses["server error page"] = failing.get("/test-boom/")
    assert responses["server error page"].status_code == 500
    assert responses["not found page"].status_code == 404
    for what, response in responses.items():
        assert response.status_code < 600, what
        try:
            assert_strict(response)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from e


def test_a_tile_server_is_the_only_other_image_origin():
    assert _tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == ["https://*.tile.example.org"]
    assert _tile_origin("https://tiles.example.org:8443/{z}/{x}/{y}.png") == ["https://tiles.example.org:8443"]
    assert _tile_origin("") == []


# --- No inline script in any rendered page --------------------------------------------------------


class InlineFinder(HTMLParser):
    """Inline scripts, inline event handlers, javascript: links and style attributes in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and not a.get("src") and a.get("type") != "application/json":
            self.found.append(f"inline <script> at line {self.getpos()[0]}")
        if tag == "style":
            self.found.append(f"<style> element at line {self.getpos()[0]}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}> at line {self.getpos()[0]}")
            if name == "style":
                self.found.append(f"style= on <{tag}> at line {self.getpos()[0]}")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL on <{tag}>")


def portal_pages(person: Any, incident: Any) -> list[str]:
    order = person.orders.get()
    cond = Condition.objects.get(ref="C2", removed_in_version__isnull=True)
    return [
        reverse("login"),
        reverse("portal:cases"),
        reverse("portal:centre"),
        reverse("portal:person", args=[person.pk]),
        reverse("portal:trail", args=[person.pk]),
        reverse("portal:trail", args=[person.pk]) + "?" + "&".join(f"{k}={v}" for k, v in PERIOD.items()),
        reverse("portal:trail", args=[person.pk]) + "?show=person&" + "&".join(f"{k}={v}" for k, v in PERIOD.items()),
        reverse("portal:information-sheet", args=[person.pk]),
        reverse("portal:order", args=[order.pk]),
        reverse("portal:order-create", args=[person.pk]),
        reverse("portal:order-vary", args=[order.pk]),
        reverse("portal:condition-add", args=[order.pk, "exclusion_zone"]),
        reverse("portal:condition-vary", args=[order.pk, cond.pk]),
        reverse("portal:condition-remove", args=[order.pk, cond.pk]),
        reverse("portal:review-create", args=[order.pk, "start"]),
        reverse("alerts:queue"),
        reverse("alerts:queue") + "?show=cleared",
        reverse("alerts:incident", args=[incident.pk]),
        reverse("devices:list"),
        reverse("devices:add"),
        reverse("devices:device", args=[Device.objects.get(ref="GPS-0001").pk]),
        "/no-such-page/",
        reverse("admin:index"),
        reverse("admin:cases_person_changelist"),
        reverse("admin:cases_person_change", args=[person.pk]),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("who", PERSONAS)
def test_no_page_has_inline_script_or_style(personas, trail_case, incident, who):
    rename_zone(XSS_ZONE)
    c = client_for(personas[who])
    seen = 0
    for url in portal_pages(trail_case, incident):
        r = c.get(url)
        if "text/html" not in r.get("Content-Type", ""):
            continue
        seen += 1
        finder = InlineFinder()
        finder.feed(r.content.decode())
        assert finder.found == [], f"{who} {url}: {finder.found}"
        assert XSS_ZONE not in r.content.decode(), f"{who} {url}: the zone's name is in the page as markup"
    assert seen > 5


@pytest.mark.django_db
def test_the_500_page_has_no_inline_style(settings):
    from django.template.loader import render_to_string

    finder = InlineFinder()
    finder.feed(render_to_string("500.html"))
    assert finder.found == []


# --- Exports escape labels ------------------------------------------------------------------------


@pytest.mark.django_db
def test_exports_carry_a_markup_label_as_text(personas, trail_case):
    rename_zone(XSS_ZONE)
    c = client_for(personas["practitioner"])
    geo = json.loads(export(c, trail_case, "geojson").content)
    labels = [f["properties"].get("label") for f in geo["features"]]
    assert XSS_ZONE in labels
    assert f"Exclusion zone entry ({XSS_ZONE})" in labels
    gpx = ET.fromstring(export(c, trail_case, "gpx").content)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    assert XSS_ZONE in [n.text for n in gpx.findall("g:rte/g:name", ns)]
    assert f"Exclusion zone entry ({XSS_ZONE})" in [n.text for n in gpx.findall("g:wpt/g:name", ns)]
    assert gpx.find(".//g:img", ns) is None and gpx.find(".//img") is None
    kml_bytes = export(c, trail_case, "kml").content
    kml = ET.fromstring(kml_bytes)
    names = [n.text for n in kml.iter("{http://www.opengis.net/kml/2.2}name")]
    assert XSS_ZONE in names and b"<img" not in kml_bytes
    rows = list(csv.DictReader(io.StringIO(export(c, trail_case, "csv").content.decode())))
    assert any(r["violation"] == f"Exclusion zone entry ({XSS_ZONE})" for r in rows)


@pytest.mark.django_db
def test_the_pdf_shows_a_markup_label_as_text(personas, trail_case):
    rename_zone(XSS_ZONE)
    c = client_for(personas["practitioner"])
    text = export_text(export(c, trail_case, "pdf"), "pdf")
    assert 'Exclusion zone entry (<img src=x onerror="window.__xss=1">)' in text


# --- CSV cells never become formulas --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+44 1632 960000", "'+44 1632 960000"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("Oakham", "Oakham"),
        ("", ""),
        (-0.73, -0.73),
        (52.67, 52.67),
        (-3, -3),
        (None, None),
    ],
)
def test_formula_cells_are_neutralised_and_numbers_kept(cell, written):
    assert neutralise(cell) == written


def test_a_csv_file_reads_back_with_numbers_numeric():
    text = csv_text(["name", "lon"], [["=2*3", -0.73], ["Oakham", -0.7321]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "lon"], ["'=2*3", "-0.73"], ["Oakham", "-0.7321"]]


@pytest.mark.django_db
def test_every_text_cell_of_the_trail_csv_that_could_be_a_formula_is_quoted(personas, case):
    case.crn = "=A1+A2"  # a CRN is 7 characters at most: a short formula is enough
    case.save()
    ingest_jsonl(
        json.dumps({"device": "GPS-0001", "time": "2026-11-10T09:00:00Z", "type": "fix", "lat": 52.67, "lon": -0.73})
    )
    r = export(client_for(personas["practitioner"]), case, "csv")
    row = next(csv.DictReader(io.StringIO(r.content.decode())))
    assert row["person"] == "'=A1+A2"
    assert row["lon"] == "-0.73"
    # The reference is in the file name too, quoted so that it cannot break the header.
    assert r["Content-Disposition"].startswith('attachment; filename="trail-=A1+A2-')


# --- "Show the person" never names the victim -----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_persons_version_of_every_export_never_names_the_victim(personas, trail_case, fmt):
    rename_zone(VICTIM_ZONE, victim=True)
    c = client_for(personas["practitioner"])
    full = export_text(export(c, trail_case, fmt), fmt)
    mine = export_text(export(c, trail_case, fmt, show="person"), fmt)
    # The practitioner's version has the zone and its violation; the person's has neither.

    def name_in(text: str) -> bool:
        return VICTIM_ZONE in text or "Jane Doe" in text.replace("\n", " ")

    assert name_in(full) and "Exclusion zone entry" in full
    assert not name_in(mine) and "Jane" not in mine
    assert "Exclusion zone entry" not in mine and "exclusion_zone_entry" not in mine


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_varied_order_reference_does_not_bring_the_victims_violations_back(personas, trail_case, fmt):
    """Red team: the violation keeps the reference the order had on its day; after the order's reference
    is varied, the person's version still hides it, and the staff version still names its zone."""
    from openem.cases.services import save_order

    rename_zone(VICTIM_ZONE, victim=True)
    order = trail_case.orders.get()
    spec = order.to_spec()
    spec.id = "O0001-R"
    save_order(trail_case, spec, personas["practitioner"], "Reference corrected by the court", order=order)
    c = client_for(personas["practitioner"])
    mine = export_text(export(c, trail_case, fmt, show="person"), fmt)
    assert "Exclusion zone entry" not in mine and "exclusion_zone_entry" not in mine and "Jane" not in mine
    full = export_text(export(c, trail_case, fmt), fmt)
    assert "Exclusion zone entry" in full and "Jane Doe" in full.replace("\n", " ")


@pytest.mark.django_db
def test_the_persons_trail_page_hides_the_victims_zone_and_its_violations(personas, trail_case):
    rename_zone(VICTIM_ZONE, victim=True)
    c = client_for(personas["practitioner"])
    url = reverse("portal:trail", args=[trail_case.pk])
    full = c.get(url, PERIOD).content.decode()
    assert "Jane Doe" in full and "Exclusion zone entry" in full
    mine = c.get(url, {**PERIOD, "show": "person"}).content.decode()
    assert "Jane Doe" not in mine and "Exclusion zone entry" not in mine
    # Its export links make the person's version too.
    links = re.findall(r'href="(/people/\d+/trail\.\w+\?[^"]*)"', mine)
    assert len(links) == len(FORMATS) and all("show=person" in link for link in links)


@pytest.mark.django_db
def test_a_removed_victim_zone_keeps_its_violations_hidden(personas, trail_case):
    zone = rename_zone(VICTIM_ZONE, victim=True)
    zone.removed_in_version = 2
    zone.save()
    c = client_for(personas["practitioner"])
    mine = export_text(export(c, trail_case, "geojson", show="person"), "geojson")
    assert "Jane Doe" not in mine and "exclusion_zone_entry" not in mine


def test_the_server_drawn_map_carries_a_markup_label_as_text():
    from openem.portal.staticmap import Point, svg_map

    zone = {
        "type": "Feature",
        "properties": {"kind": "exclusion_zone", "label": XSS_ZONE, "condition": "C2"},
        "geometry": {"type": "Point", "coordinates": [-0.73, 52.67]},
    }
    svg = svg_map([zone], [Point(52.67, -0.73)], [(Point(52.671, -0.731), "<b>entry</b>")])
    tree = ET.fromstring(svg)  # well-formed: nothing in it is markup from data
    ns = "{http://www.w3.org/2000/svg}"
    assert [t.text for t in tree.iter(f"{ns}title")] == [XSS_ZONE]
    assert "<b>entry</b>" in [t.text for t in tree.iter(f"{ns}text")]
    assert tree.find(f".//{ns}img") is None and tree.find(f".//{ns}b") is None


@pytest.mark.django_db
def test_the_information_sheet_never_names_a_victims_zone_of_either_kind(personas, case):
    for ref in ("C2", "C3"):
        zone = Condition.objects.get(ref=ref, removed_in_version__isnull=True)
        zone.spec = {**zone.spec, "name": f"{VICTIM_ZONE} ({ref})", "victim_sensitive": True}
        zone.save()
    page = client_for(personas["practitioner"]).get(reverse("portal:information-sheet", args=[case.pk]))
    text = page.content.decode()
    assert "Jane Doe" not in text and "Jane Doe&#x27;s" not in text
    assert text.count("the area your practitioner has shown you") == 2
