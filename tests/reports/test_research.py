"""Research extracts: only for an approved project, only by the national analyst; pseudonymised (keyed
hashes, weeks, regions, rare combinations generalised); every one recorded and audited."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import pytest
from django.utils import timezone

from openem.audit.models import AuditEvent
from openem.reports.models import EqualityRecord, ProjectStatus, ResearchExtract, ResearchProject
from openem.reports.research import STEPS, protect_people, pseudonym
from tests.helpers import client_for


@pytest.fixture
def project(personas, settings, tmp_path):
    settings.OPENEM_RESEARCH_KEY_FILE = tmp_path / "research.key"
    settings.OPENEM_RESEARCH_KEY = ""
    return ResearchProject.objects.create(
        title="Do curfews reduce reoffending?", purpose="An impact evaluation", organisation="A university",
        requested_by=personas["analyst"],
    )  # fmt: skip


@pytest.mark.django_db
def test_the_analyst_records_a_project_and_no_extract_comes_before_approval(personas, project, incident):
    client = client_for(personas["analyst"])
    made = client.post("/research/", {"title": "Second", "organisation": "ONS", "purpose": " \u200b "})
    assert made.status_code == 200 and b"Enter what the research is for" in made.content
    assert b'value="Second"' in made.content  # what was right is kept
    assert client.post("/research/", {"title": "Second", "organisation": "ONS", "purpose": "Why"}).status_code == 302
    refused = client.post(f"/research/{project.pk}/extract/", {"start": "2026-11-01", "end": "2026-11-30"})
    assert refused.status_code == 403 and b"has not been approved" in refused.content
    assert not ResearchExtract.objects.exists()


def approve(project, personas):
    ResearchProject.objects.filter(pk=project.pk).update(
        status=ProjectStatus.APPROVED, approved_by=personas["admin"], approved_at=timezone.now(),
        approval_reference="NRC 2026-123",
    )  # fmt: skip


def files(response) -> dict[str, str]:
    z = zipfile.ZipFile(io.BytesIO(response.content))
    return {n: z.read(n).decode() for n in z.namelist()}


@pytest.mark.django_db
def test_an_extract_identifies_nobody_and_is_recorded_and_audited(personas, project, incident):
    person = incident.person
    EqualityRecord.objects.create(person=person, ethnic_group="white_roma", religion="muslim", sex="male")
    approve(project, personas)
    client = client_for(personas["analyst"])
    response = client.post(f"/research/{project.pk}/extract/", {"start": "2026-11-01", "end": "2026-11-30"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    got = files(response)
    assert set(got) == {"README.txt", "person_orders.csv", "incidents.csv", "dictionary.csv"}
    orders = list(csv.DictReader(io.StringIO(got["person_orders.csv"])))
    incidents = list(csv.DictReader(io.StringIO(got["incidents.csv"])))
    assert len(orders) == 1 and len(incidents) == 1
    row = orders[0]
    everything = "".join(got.values())
    for identifying in (person.name, person.ref, person.crn, "O0001", "GPS-0001", "52.67"):
        assert identifying not in everything, identifying
    assert "2026-11-01" not in got["person_orders.csv"] + got["incidents.csv"]  # the order's start: a week only
    assert row["person"] == incidents[0]["person"] and len(row["person"]) == 20
    assert row["order_start_week"] == "2026-W44"
    assert row["order_type"] == "community_order" and row["technology"] == "alcohol+gps+rf"
    # One person: fewer than 10 share any combination, so every characteristic, the region too, is generalised
    # away (with a caseload they are kept: test_rare_combinations_are_generalised_until_shared_by_k_people).
    assert row["ethnic_group"] == row["religion"] == row["sex"] == row["region"] == "suppressed"
    assert incidents[0]["kind"] == "behaviour" and incidents[0]["first_violation"] == "behaviour"
    assert "NRC 2026-123" in got["README.txt"] and "Approved by: admin" in got["README.txt"]
    extract = ResearchExtract.objects.get()
    assert (extract.order_rows, extract.incident_rows, extract.made_by) == (1, 1, personas["analyst"])
    event = AuditEvent.objects.filter(action="export", object_type="ResearchExtract").get()
    assert "research extract for project" in event.summary and event.actor == personas["analyst"]
    # The pseudonym is the project's: another project would see another, and no one can make it without the key.
    other = ResearchProject.objects.create(title="B", purpose="B", organisation="B", requested_by=personas["analyst"])
    approve(other, personas)
    again = files(client.post(f"/research/{other.pk}/extract/", {"start": "2026-11-01", "end": "2026-11-30"}))
    assert row["person"] not in again["person_orders.csv"]


@pytest.mark.django_db
def test_a_project_past_its_end_gives_no_more_extracts(personas, project, incident):
    approve(project, personas)
    ResearchProject.objects.filter(pk=project.pk).update(ends_on=date(2020, 1, 1))
    url = f"/research/{project.pk}/extract/"
    response = client_for(personas["analyst"]).post(url, {"start": "2026-11-01", "end": "2026-11-30"})
    assert response.status_code == 403 and b"approval ended" in response.content


def test_rare_combinations_are_generalised_until_shared_by_k_people():
    common = {"region": "London", "ethnic_group": "white_british", "age_band": "30_39", "sex": "male",
              "gender_identity": "same", "sexual_orientation": "straight", "religion": "christian",
              "disability": "not_disabled"}  # fmt: skip
    people = {i: dict(common) for i in range(12)}
    people[12] = {**common, "ethnic_group": "white_roma"}
    people.update({20 + i: {**common, "ethnic_group": "white_irish", "religion": "jewish"} for i in range(11)})
    safe = protect_people(people, 10)
    assert safe[0] == common  # twelve share it: left as it is
    assert safe[12]["ethnic_group"] != "white_roma"  # the one Roma person is not singled out
    assert safe[20]["religion"] == "jewish"  # eleven share that combination
    assert len(STEPS) == 5


def test_pseudonyms_need_the_key():
    assert pseudonym(b"k1", 1, "person", 5) != pseudonym(b"k2", 1, "person", 5)
    assert pseudonym(b"k1", 1, "person", 5) == pseudonym(b"k1", 1, "person", 5)


@pytest.mark.django_db
def test_an_administrator_approves_a_project_in_the_admin_and_is_recorded_as_its_approver(personas, project):
    client = client_for(personas["admin"])
    response = client.post(
        "/admin/reports/researchproject/", {"action": "approve", "_selected_action": [project.pk]}, follow=True
    )
    assert response.status_code == 200
    project.refresh_from_db()
    assert project.status == ProjectStatus.APPROVED and project.approved_by == personas["admin"]
    assert project.approved_at is not None
    assert AuditEvent.objects.filter(action="change", summary__startswith="research project approved").exists()
    assert project.extract_refusal(personas["analyst"]) == ""
    assert "national analyst" in project.extract_refusal(personas["manager"])
