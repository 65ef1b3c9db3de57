"""A practitioner draws an exclusion zone on the map and saves it, and varies a zone by dragging a corner:
the form's fields are filled in from the drawing, and typing in them moves the shape."""

from __future__ import annotations

import json

import pytest

from .conftest import shot
from .test_portal_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def csp_refusals(page):
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    return refused


def wait_until(page, check, what):
    """Poll from Python: the page's CSP refuses the eval a string predicate would need."""
    for _ in range(50):
        if check():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"not seen in 5 s: {what}")


def map_box(page):
    page.locator("#map").scroll_into_view_if_needed()
    return page.locator("#map").bounding_box()


def test_draw_a_polygon_zone_and_save_it(page, live_server, personas, case):
    refused = csp_refusals(page)
    sign_in(page, live_server)
    order = case.orders.get()
    page.goto(f"{live_server.url}/orders/{order.pk}/conditions/new/exclusion_zone/")
    page.wait_for_selector(".app-map--drawing")
    page.fill("#id_name", "Market Place")
    page.check("#id_monitored")
    page.check("#id_shape_1")  # a polygon: the drawing picks it by itself too
    page.check("#id_shape_0")
    box = map_box(page)
    # Away from the curfew address in the middle of the map (a zone around it is refused): the top right.
    x0, y0 = box["x"] + box["width"] - 150, box["y"] + 40
    page.click(".leaflet-pm-icon-polygon")
    corners = [(x0, y0), (x0 + 100, y0 + 10), (x0 + 90, y0 + 90), (x0 + 10, y0 + 80)]
    for x, y in corners:
        page.mouse.click(x, y)
    page.mouse.click(*corners[0])  # back to the first corner closes it
    wait_until(page, lambda: page.input_value("#id_geojson"), "the GeoJSON filled in")
    assert page.is_checked("#id_shape_1"), "drawing a polygon chooses the polygon shape"
    area = json.loads(page.input_value("#id_geojson"))
    assert area["type"] == "Polygon" and len(area["coordinates"][0]) == 5  # four corners, closed
    assert "Polygon of 4 corners" in page.inner_text("#zone-draw-status")
    page.fill("#id_reason", "Added by the court on 1 December")
    shot(page, "zone-01-polygon-drawn")
    page.click("button:has-text('Add exclusion zone')")
    page.wait_for_selector("text=Exclusion zone C7 added")
    saved = order.conditions.get(ref="C7").to_spec()
    assert saved.area["type"] == "Polygon" and saved.name == "Market Place"
    assert [round(v, 6) for v in saved.area["coordinates"][0][0]] == area["coordinates"][0][0]
    shot(page, "zone-02-saved")
    assert page.js_errors == [] and refused == []


def test_draw_a_circle_then_type_its_radius(page, live_server, personas, case):
    refused = csp_refusals(page)
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/orders/{case.orders.get().pk}/conditions/new/exclusion_zone/")
    page.wait_for_selector(".app-map--drawing")
    box = map_box(page)
    cx, cy = box["x"] + box["width"] - 100, box["y"] + 100
    page.click(".leaflet-pm-icon-circle")
    page.mouse.click(cx, cy)
    page.mouse.click(cx + 40, cy)
    wait_until(page, lambda: page.input_value("#id_radius_m"), "the radius filled in")
    assert page.is_checked("#id_shape_0")
    lat, lon, radius = (float(page.input_value(f"#id_{n}")) for n in ("lat", "lon", "radius_m"))
    assert 52 < lat < 53.5 and -1.5 < lon < 0 and radius > 10
    drawn = page.locator(".leaflet-overlay-pane path[stroke='#d4351c'][stroke-width='3']")  # the zone drawn
    before = drawn.bounding_box()["width"]
    page.fill("#id_radius_m", str(round(radius * 2)))  # typing moves the shape
    assert drawn.bounding_box()["width"] > before * 1.6
    page.fill("#id_name", "Victim's workplace")
    page.fill("#id_reason", "Added by the court on 1 December")
    shot(page, "zone-03-circle-drawn")
    page.click("button:has-text('Add exclusion zone')")
    page.wait_for_selector("text=Exclusion zone C7 added")
    area = case.orders.get().conditions.get(ref="C7").to_spec().area
    assert area == {"lat": lat, "lon": lon, "radius_m": round(radius * 2)}
    assert page.js_errors == [] and refused == []


def test_vary_a_zone_by_dragging_a_corner(page, live_server, personas, case):
    refused = csp_refusals(page)
    sign_in(page, live_server)
    order = case.orders.get()
    c2 = order.conditions.get(ref="C2")
    before = json.loads(json.dumps(c2.to_spec().area))
    page.goto(f"{live_server.url}/orders/{order.pk}/conditions/{c2.pk}/vary/")
    page.wait_for_selector(".app-map--drawing")
    # C2 is drawn once, editable (the order's own C2 layer made way for it), with its corners to drag.
    assert page.locator(".leaflet-overlay-pane path[stroke='#d4351c']").count() == 1
    handles = page.locator(".marker-icon:not(.marker-icon-middle)")
    assert handles.count() == 4
    shot(page, "zone-04-vary-before")
    page.locator("#map").scroll_into_view_if_needed()
    handle = handles.first.bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 40, y - 30, steps=8)
    page.mouse.up()
    wait_until(page, lambda: json.loads(page.input_value("#id_geojson")) != before, "the GeoJSON changed")
    moved = json.loads(page.input_value("#id_geojson"))
    assert moved != before and len(moved["coordinates"][0]) == 5
    page.fill("#id_reason", "Varied by the court on 1 December")
    shot(page, "zone-05-vary-dragged")
    page.click("button:has-text('Save variation')")
    page.wait_for_selector("text=C2 varied")
    assert order.conditions.get(ref="C2", removed_in_version__isnull=True).to_spec().area == moved
    assert page.js_errors == [] and refused == []
