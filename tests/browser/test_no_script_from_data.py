"""No script from data, in a real browser: zone names and other labels that look like markup show as
text to every persona on every page they can see, the map's tooltips and popups included, and nothing
runs. The Content-Security-Policy reports no violation on any page, the admin's included."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from openem.cases.models import Condition
from tests.helpers import PERSONAS, client_for, zone_crossing

from .conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZONE = '<img src=x onerror="window.__xss=1">'
AREA = "<script>window.__xss=2</script>"
NAME = "Sam <script>window.__xss=3</script> Example"
CASE_VIEWERS = {"practitioner", "manager", "operator", "admin"}  # whose pages show Sam Example's record
PERIOD = "start=2026-11-10T08:00&end=2026-11-10T12:00&reason=supervision"

# Record every CSP violation the page reports, before any of its own scripts run.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


@pytest.fixture
def marked_up(incident: Any) -> Any:
    """Sam Example, with a night out on record, renamed so that labels look like markup, and an hour of
    positions crossing the exclusion zone with its entry."""
    person = incident.person
    person.name = NAME
    person.save()
    for ref, name in (("C2", ZONE), ("C3", AREA)):
        c = Condition.objects.get(ref=ref, removed_in_version__isnull=True)
        c.spec = {**c.spec, "name": name}
        c.save()
    zone_crossing(person, "ez-entry-browser")
    return incident


def pages(incident: Any) -> dict[str, tuple[str, list[str], bool]]:
    """Page name: (path, labels it must show as text when the persona may see it, has a map)."""
    person = incident.person
    order = person.orders.get()
    zone = Condition.objects.get(ref="C2", removed_in_version__isnull=True)
    return {
        "person": (reverse("portal:person", args=[person.pk]), [NAME, ZONE, AREA], True),
        "order": (reverse("portal:order", args=[order.pk]), [NAME, ZONE, AREA], True),
        "condition form": (reverse("portal:condition-vary", args=[order.pk, zone.pk]), [NAME], True),
        "trail": (
            reverse("portal:trail", args=[person.pk]) + "?" + PERIOD,
            [NAME, f"Exclusion zone entry ({ZONE})"],
            True,
        ),
        "incident": (reverse("alerts:incident", args=[incident.pk]), [NAME], True),
        "information sheet": (reverse("portal:information-sheet", args=[person.pk]), [NAME, ZONE, AREA], False),
        "alerts queue": (reverse("alerts:queue"), [NAME], False),
        "monitoring centre": (reverse("portal:centre"), [], False),
    }


def signed_in_context(browser: Any, live_server: Any, user: Any) -> Any:
    """A browser context with the user's session: sign-in itself is tested elsewhere."""
    session = client_for(user).cookies["sessionid"].value
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    context.add_init_script(WATCH_CSP)
    return context


def check_map_labels(page: Any, where: str, shoot: str = "") -> None:
    """Hover over and click the exclusion zone: its tooltip and popup show the name as text."""
    page.wait_for_selector(".app-map--ready")
    if shoot:
        shot(page, shoot)
    zone = page.locator(".leaflet-overlay-pane path[stroke='#d4351c']").first
    box = zone.bounding_box()
    # Sent to the zone itself (a wider zone lies over it), at its middle, as a pointer would.
    at = {"clientX": box["x"] + box["width"] / 2, "clientY": box["y"] + box["height"] / 2, "bubbles": True}
    zone.dispatch_event("mouseover", at)
    tooltip = page.locator(".leaflet-tooltip").first
    tooltip.wait_for()
    assert ZONE in tooltip.inner_text(), where
    zone.dispatch_event("click", at)
    popup = page.locator(".leaflet-popup-content").first
    popup.wait_for()
    assert ZONE in popup.inner_text(), where
    assert page.locator(".leaflet-pane img[src='x']").count() == 0, where


def test_labels_are_text_for_every_persona_and_nothing_runs(browser, live_server, personas, marked_up):
    seen: dict[str, list[str]] = {}
    for who in PERSONAS:
        context = signed_in_context(browser, live_server, personas[who])
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        console: list[str] = []
        page.on("console", lambda m, console=console: console.append(f"{m.type}: {m.text}"))
        for name, (url, labels, has_map) in pages(marked_up).items():
            where = f"{who} on the {name} page"
            response = page.goto(live_server.url + url)
            if response.status == 200:
                seen.setdefault(who, []).append(name)
                text = page.inner_text("main")
                for label in labels if who in CASE_VIEWERS else []:
                    assert label in text, f"{where}: {label} is not on the page as text"
                name_of_shot = f"xss-{name.replace(' ', '-')}" if who == "practitioner" else ""
                if has_map:
                    check_map_labels(page, where, name_of_shot)
                if name_of_shot:
                    shot(page, name_of_shot + ("-popup" if has_map else ""))
            assert page.evaluate("window.__xss") is None, f"{where}: a label ran as script"
            assert page.evaluate("window.__csp") == [], f"{where}: {page.evaluate('window.__csp')}"
            assert page.locator("img[src='x']").count() == 0, f"{where}: a label became an element"
        assert dialogs == [] and errors == [], f"{who}: {dialogs} {errors}"
        violations = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
        assert violations == [], f"{who}: {violations}"
        context.close()
    # Each persona saw what their role allows: the case's own people everything, the others nothing.
    case_pages = {"person", "order", "trail", "incident", "information sheet", "alerts queue"}
    assert case_pages | {"condition form"} <= set(seen["practitioner"])
    assert case_pages | {"condition form", "monitoring centre"} <= set(seen["manager"])
    assert case_pages | {"monitoring centre"} <= set(seen["operator"])
    assert case_pages <= set(seen["admin"])
    assert "person" not in seen.get("other", []) and "person" not in seen.get("other_manager", [])
    assert "police" not in seen and "vlo" not in seen


def test_the_admin_works_under_the_policy(browser, live_server, personas, marked_up):
    context = signed_in_context(browser, live_server, personas["admin"])
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    for url in (
        reverse("admin:index"),
        reverse("admin:cases_person_changelist"),
        reverse("admin:cases_person_change", args=[marked_up.person.pk]),
        reverse("admin:cases_order_change", args=[marked_up.person.orders.get().pk]),
    ):
        page.goto(live_server.url + url)
        assert page.evaluate("window.__xss") is None, url
        assert page.evaluate("window.__csp") == [], f"{url}: {page.evaluate('window.__csp')}"
    # The admin's own scripts run: the change list's select-all checkbox ticks every row.
    page.goto(live_server.url + reverse("admin:cases_person_changelist"))
    page.check("#action-toggle")
    assert page.locator("input.action-select:checked").count() == page.locator("input.action-select").count() > 0
    shot(page, "xss-admin-changelist")
    assert [m for m in console if "Content Security Policy" in m or "Refused to" in m] == []
    context.close()


def test_the_sign_in_not_found_and_admin_sign_in_pages_work_under_the_policy(browser, live_server, db):
    context = browser.new_context()
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    for url, status in ((reverse("login"), 200), ("/no-such-page/", 404), (reverse("admin:login"), 200)):
        response = page.goto(live_server.url + url)
        assert response.status == status
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert page.evaluate("window.__csp") == [], f"{url}: {page.evaluate('window.__csp')}"
        if not url.startswith("/admin/"):  # page.js ran: the page knows it has JavaScript
            assert "js-enabled" in page.get_attribute("body", "class")
    context.close()
