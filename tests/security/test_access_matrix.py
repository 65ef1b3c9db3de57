"""Every URL pattern, for every persona: who sees what. A new view fails `test_every_url_is_in_the_matrix`
until its expectations are written here.

Statuses: 200 seen; 302 done and redirected (a form); 404 someone else's record (its existence is not
disclosed); 403 the role may not; 401 the API or a device endpoint without a credential."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from openem.accounts.models import ApiToken
from openem.devices.models import Device
from tests.helpers import PERSONAS, client_for

OWNER = {"practitioner": 200, "other": 404, "manager": 200, "other_manager": 404,
         "operator": 200, "police": 403, "vlo": 403, "hub": 403, "hub_manager": 403, "analyst": 403,
         "admin": 200}  # fmt: skip
# Making and varying orders and reviews: the case's practitioner and the team's manager only.
SETUP = {**OWNER, "operator": 403, "admin": 403}
EVERY_CASE_ROLE = {**OWNER, "other": 200, "other_manager": 200}
CENTRE = {**EVERY_CASE_ROLE, "practitioner": 403, "other": 403}
DEVICES = {p: 403 for p in PERSONAS} | {"operator": 200, "admin": 200}
SIGNED_IN = {p: 200 for p in PERSONAS}
# A session is not a device credential: every persona signed in is refused at the device endpoints.
DEVICE_ENDPOINT = {p: 401 for p in PERSONAS}
# Resolving an operational alert: the monitoring centre and administrators (POST only, so a GET is 405).
RESOLVE_FAULT = {p: 403 for p in PERSONAS} | {"operator": 405, "admin": 405}
# One-click acknowledge from the queue: POST only (405 to a GET, before the incident is looked up, so it discloses
# nothing); who may acknowledge what is tested by POST in tests/test_live_pages.py.
ACKNOWLEDGE = {**{p: 405 for p in PERSONAS}, "police": 403, "vlo": 403, "hub": 403, "hub_manager": 403, "analyst": 403}
# Health probes answer everyone alike, signed in or not, with no personal data (tests/resilience/test_health.py):
# /readyz is 503 here because no worker has reported in the test database.
# Statistics: managers (their region) and the national analyst; research extracts: the national analyst alone.
# Equality monitoring answers: the case's practitioner and manager, nobody else (the operator and the
# administrator see the case, not these).
STATISTICS = {p: 403 for p in PERSONAS} | {"manager": 200, "other_manager": 200, "analyst": 200}
ANALYST = {p: 403 for p in PERSONAS} | {"analyst": 200}
EQUALITY = {**OWNER, "operator": 403, "admin": 403}
PROBES = {"healthz": {p: 200 for p in PERSONAS}, "readyz": {p: 503 for p in PERSONAS}, "metrics": SIGNED_IN}

# Crime matching: the police analyst's own pages; the hub's; what both see (the analyst only what was released
# to their force, the hub everything); the hub's review and release are POST only (405 to a GET).
POLICE = {p: 403 for p in PERSONAS} | {"police": 200}
HUB = {p: 403 for p in PERSONAS} | {"hub": 200, "hub_manager": 200}
CRIME = POLICE | {"hub": 200, "hub_manager": 200}
HUB_POST = {p: 405 if s == 200 else s for p, s in HUB.items()}

# url name -> (how to build the URL from the case's objects, expected status per persona)
MATRIX: dict[str, tuple[str, dict[str, int]]] = {
    "portal:cases": ("", EVERY_CASE_ROLE),
    "portal:centre": ("", CENTRE),
    "portal:fault-resolve": ("fault", RESOLVE_FAULT),
    "portal:roads": ("", SIGNED_IN),
    "portal:person": ("person", OWNER),
    "portal:trail": ("person", OWNER),
    "portal:information-sheet": ("person", OWNER),
    "portal:trail-export": ("person-geojson", OWNER),
    "portal:order-create": ("person", SETUP),
    "portal:order": ("order", OWNER),
    "portal:order-vary": ("order", SETUP),
    "portal:review-create": ("order-review", SETUP),
    "portal:condition-add": ("order-curfew", SETUP),
    "portal:condition-vary": ("order-condition", SETUP),
    "portal:condition-remove": ("order-condition", SETUP),
    # Assessments before the order: made by practitioners with their managers, like orders.
    "assessments:index": ("", {**SETUP, "other": 200, "other_manager": 200}),
    "assessments:create": ("person", SETUP),
    "assessments:detail": ("assessment", SETUP),
    "assessments:report": ("assessment", SETUP),
    # The victim liaison officer's pages: theirs alone (the victim's places, the zones, never the trail).
    "assessments:victims": ("", {p: 403 for p in PERSONAS} | {"vlo": 200}),
    "assessments:victim": ("victim", {p: 403 for p in PERSONAS} | {"vlo": 200}),
    "crime:batches": ("", POLICE),
    "crime:batch": ("crime-batch", CRIME),
    "crime:matches-csv": ("crime-batch", CRIME),
    "crime:crime": ("crime", CRIME),
    "crime:search": ("", POLICE),
    "crime:search-detail": ("crime-search", POLICE | {"police": 302}),  # to the search's batch page
    "crime:queue": ("", HUB),
    "crime:match": ("crime-match", CRIME),
    "crime:review": ("crime-match", HUB_POST),
    "crime:release": ("crime-match", HUB_POST),
    "crime:report": ("crime-match", CRIME),
    "crime:positions-csv": ("crime-match", CRIME),
    "crime:verify": ("", CRIME),
    # The site's root takes each role to where it works.
    "home": ("", {p: 302 for p in PERSONAS}),
    "alerts:queue": ("", EVERY_CASE_ROLE),
    "alerts:incident": ("incident", OWNER),
    "alerts:evidence": ("incident", OWNER),
    "alerts:acknowledge": ("incident", ACKNOWLEDGE),
    "devices:list": ("", DEVICES),
    "devices:add": ("", DEVICES),
    "devices:device": ("device", DEVICES),
    "devices:gateway": ("device", {p: 405 if s == 200 else s for p, s in DEVICES.items()}),  # POST only
    "devices:key": ("device-issue", {p: 405 if s == 200 else s for p, s in DEVICES.items()}),  # POST only
    # Fitting, removing and swapping devices: the monitoring centre's (and administrators').
    "devices:fit": ("person", DEVICES),
    "devices:remove": ("fitting", DEVICES),
    "devices:swap": ("fitting", DEVICES),
    "reports:statistics": ("", STATISTICS),
    "reports:measure": ("measure", STATISTICS),
    "reports:download": ("download", STATISTICS),
    "reports:research": ("", ANALYST),
    "reports:research-project": ("project", ANALYST),
    "reports:research-extract": ("project", {**ANALYST, "analyst": 405}),  # POST only
    "reports:equality": ("person", EQUALITY),
    "ingest-telemetry": ("", {p: 405 for p in PERSONAS}),  # POST only; see the test below
    "osmand": ("", {p: 400 for p in PERSONAS}),  # no parameters: not a reading, nothing kept
    "osmand-key": ("key", {p: 400 for p in PERSONAS}),
    "login": ("", SIGNED_IN),
    # Everyone's own account: the password, and two-factor sign-in (set up, or the code after the password).
    "account": ("", SIGNED_IN),
    "password-change": ("", SIGNED_IN),
    "two-factor-setup": ("", SIGNED_IN),
    "two-factor-code": ("", {p: 302 for p in PERSONAS}),  # no authenticator app: nothing to ask, on you go
    **{name: ("", expected) for name, expected in PROBES.items()},
}
# The read API, with each persona's own token.
API: dict[str, tuple[str, dict[str, int]]] = {
    "api:openapi": ("", SIGNED_IN),
    "api:people": ("", EVERY_CASE_ROLE),
    "api:devices": ("", EVERY_CASE_ROLE),
    "api:person": ("ref", OWNER),
    "api:violations": ("ref", OWNER),
    "api:incidents": ("ref", OWNER),
    "api:reviews": ("ref", OWNER),
    "api:assessments": ("ref", OWNER),
    "api:trail": ("ref-trail", {**OWNER, "practitioner": 200}),
    # A police analyst's force system sends batches (POST only) and asks for their status.
    "crime-api:batches": ("", POLICE | {"police": 405}),
    "crime-api:batch": ("crime-batch", POLICE),
}
NOT_PERSONA_PAGES = {"logout"}  # POST-only sign-out; tested by the sign-in suite


def url_for(name: str, how: str, incident: Any) -> str:
    person = incident.person
    order = person.orders.get()
    cond = order.conditions.first()
    device = Device.objects.get(ref="GPS-0001")
    args: dict[str, list[Any]] = {
        "": [],
        "person": [person.pk],
        "person-geojson": [person.pk, "geojson"],
        "order": [order.pk],
        "order-review": [order.pk, "start"],
        "order-curfew": [order.pk, "curfew"],
        "order-condition": [order.pk, cond.pk],
        "incident": [incident.pk],
        "device": [device.pk],
        "device-issue": [device.pk, "issue"],
        "fitting": [device.fittings.get().pk],
        "key": ["not-a-key"],
        "ref": [person.ref],
        "ref-trail": [person.ref],
        "fault": [fault_about(person).pk] if how == "fault" else [],
        "assessment": [assessment_of(person).pk] if how == "assessment" else [],
        "victim": [assessment_of(person, victim=True).pk] if how == "victim" else [],
        "crime-batch": [crime_match(person).crime.batch_id] if how == "crime-batch" else [],
        "crime": [crime_match(person).crime_id] if how == "crime" else [],
        "crime-match": [crime_match(person).pk] if how == "crime-match" else [],
        "crime-search": [crime_search(person).pk] if how == "crime-search" else [],
        "measure": ["curfew_breach_rate"],
        "download": ["ods"],
        "project": [research_project().pk] if how == "project" else [],
    }
    url = reverse(name, args=args[how])
    if how == "ref-trail":
        url += "?start=2026-11-10T00:00:00Z&end=2026-11-11T00:00:00Z&reason=supervision"
    if name == "portal:trail-export":
        url += "?start=2026-11-10&end=2026-11-11&reason=supervision"
    return url


def assessment_of(person: Any, victim: bool = False) -> Any:
    from openem.assessments.models import Assessment

    found = Assessment.objects.get_or_create(person=person, defaults={"proposal": "hdc", "offence": "Burglary"})[0]
    if victim and not found.victim_to_protect:
        Assessment.objects.filter(pk=found.pk).update(victim_to_protect=True)
    return found


def crime_match(person: Any) -> Any:
    """A match of the person to a Leicestershire Police crime, qualified by the hub and released to the force."""
    from datetime import UTC, datetime

    import numpy as np

    from openem.crime.evidence import capture
    from openem.crime.models import Crime, CrimeBatch, Finding, FindingEvidence, MatchRun

    found = Finding.objects.filter(person=person).first()
    if found:
        return found
    batch = CrimeBatch.objects.create(
        force="Leicestershire Police", batch_ref="LP-1", lawful_basis="investigation", purpose="Operation Larch",
        status="matched",
    )  # fmt: skip
    crime = Crime.objects.create(
        batch=batch, force=batch.force, reference="LP/1/26", crime_type="BIAD",
        window_start=datetime(2026, 11, 10, 9, 20, tzinfo=UTC), window_end=datetime(2026, 11, 10, 9, 40, tzinfo=UTC),
        lat=52.6642, lon=-0.7351,
    )  # fmt: skip
    run = MatchRun.objects.create(
        batch=batch, params={"distance_m": 100, "buffer_min": 30}, params_version="t", code_version="t"
    )
    found = Finding.objects.create(
        run=run, crime=crime, person=person, verdict="match", closest_m=5, minutes_near=10,
        review="released", review_reason="Passed the house",
    )  # fmt: skip
    at = datetime(2026, 11, 10, 9, 30, tzinfo=UTC).timestamp()
    kept = capture(np.array([at]), np.array([52.6642]), np.array([-0.7351]), np.array([8.0]), ["GPS-0001"], [0],
                   at - 1800, at + 1800, 300, 100)  # fmt: skip
    FindingEvidence.of(found, kept).save()
    return found


def crime_search(person: Any) -> Any:
    from openem.crime.models import AdHocSearch

    batch = crime_match(person).crime.batch
    return AdHocSearch.objects.get_or_create(
        batch=batch,
        defaults={"force": batch.force, "lat": 52.66, "lon": -0.73, "radius_m": 100, "start": batch.uploaded_at,
                  "end": batch.uploaded_at, "lawful_basis": "investigation", "purpose": "Operation Larch"},
    )[0]  # fmt: skip


def research_project() -> Any:
    from openem.accounts.models import User
    from openem.reports.models import ResearchProject

    return ResearchProject.objects.get_or_create(
        title="Impact of curfews", defaults={"purpose": "Evaluation", "organisation": "University",
                                             "requested_by": User.objects.get(username="nina.analyst")},
    )[0]  # fmt: skip


def fault_about(person: Any) -> Any:
    from openem.health.faults import raise_fault
    from openem.health.models import Component, FaultKind

    return raise_fault(
        FaultKind.EVALUATION_FAILED, "RF-0001", "Evaluation failed for RF-0001", component=Component.ENGINE,
        device="RF-0001", person=person,
    )  # fmt: skip


def all_url_names() -> set[str]:
    names: set[str] = set()

    def walk(resolver: URLResolver, ns: str) -> None:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "admin":
                    continue
                walk(p, f"{ns}{p.namespace}:" if p.namespace else ns)
            elif isinstance(p, URLPattern) and p.name:
                names.add(ns + p.name)

    walk(get_resolver(), "")
    return names


def test_every_url_is_in_the_matrix():
    missing = all_url_names() - set(MATRIX) - set(API) - NOT_PERSONA_PAGES
    assert not missing, f"add these views to the access matrix: {sorted(missing)}"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_pages(persona, personas, incident):
    client = client_for(personas[persona])
    got = {name: client.get(url_for(name, how, incident)).status_code for name, (how, _e) in MATRIX.items()}
    want = {name: expected[persona] for name, (_h, expected) in MATRIX.items()}
    assert got == want


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_api(persona, personas, incident):
    _t, token = ApiToken.issue(personas[persona], "matrix")
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    got = {name: client.get(url_for(name, how, incident)).status_code for name, (how, _e) in API.items()}
    want = {name: expected[persona] for name, (_h, expected) in API.items()}
    assert got == want


@pytest.mark.django_db
def test_the_api_without_a_token_is_refused(incident):
    for name, (how, _e) in API.items():
        if name != "api:openapi":
            assert Client().get(url_for(name, how, incident)).status_code == 401, name


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_a_session_is_not_a_device_credential(persona, personas, incident):
    client = client_for(personas[persona])
    line = '{"device": "GPS-0001", "time": "2026-11-10T12:00:00Z", "type": "fix", "lat": 52.6, "lon": -0.7}'
    assert client.post("/ingest/v1/telemetry", line, content_type="application/x-ndjson").status_code == 401
    fix = {"id": "GPS-0001", "lat": "52.6", "lon": "-0.7", "timestamp": "1794830400"}
    assert client.get("/osmand/", fix).status_code == 401


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [n for n in MATRIX if n not in ("login", "ingest-telemetry", "osmand", "osmand-key", "two-factor-code", *PROBES)],
)
def test_signed_out_visitors_are_sent_to_sign_in(name, incident):
    response = Client().get(url_for(name, MATRIX[name][0], incident))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login")), name


@pytest.mark.django_db
@pytest.mark.parametrize("name", PROBES)
def test_health_probes_answer_signed_out_visitors_alike(name, incident):
    signed_out = Client().get(url_for(name, MATRIX[name][0], incident)).status_code
    assert signed_out == PROBES[name]["practitioner"], name
