"""Crime matching in the Django admin: administrators only, read only, nothing deleted, and every look at a
record about a person on the audit log with that person."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from openem.audit.models import AuditAction, AuditEvent
from openem.crime.models import (
    AdHocSearch,
    Crime,
    CrimeBatch,
    Finding,
    FindingEvidence,
    IssuedReport,
    MatchRun,
    ProximityReport,
)
from openem.crime.worker import CrimeWorker
from tests.helpers import PERSONAS, client_for

from .portal_helpers import csv_of, far_crime, near_crime, store_trail

pytestmark = pytest.mark.django_db
MODELS = (CrimeBatch, Crime, MatchRun, Finding, FindingEvidence, ProximityReport, IssuedReport, AdHocSearch)


@pytest.fixture
def matched(personas, case):
    store_trail()
    client_for(personas["police"]).post(
        reverse("crime:batches"),
        {"file": SimpleUploadedFile("b.csv", csv_of([near_crime(), far_crime()]), "text/csv"),
         "lawful_basis": "investigation", "purpose": "Operation Larch: dwelling burglaries in Oakham"},
    )  # fmt: skip
    CrimeWorker("test").run_once()
    f = Finding.objects.get(verdict="match")
    ProximityReport.objects.create(finding=f, sha256="a" * 64, pages=4, size=1000, made_by=personas["hub"])
    IssuedReport.objects.create(sha256="a" * 64, pages=4, force=f.crime.force, crime_reference=f.crime.reference)
    return f


def url(model: type, view: str, *args: object) -> str:
    return reverse(f"admin:crime_{model._meta.model_name}_{view}", args=args)


def test_only_administrators_reach_the_crime_admin(personas, matched):
    for persona in PERSONAS:
        client = client_for(personas[persona])
        for model in MODELS:
            response = client.get(url(model, "changelist"))
            assert response.status_code == (200 if persona == "admin" else 302), (persona, model)
        response = client.get(url(Finding, "change", matched.pk))
        assert response.status_code == (200 if persona == "admin" else 302), persona


def test_a_staff_user_without_the_permission_is_refused_and_the_refusal_names_the_person(
    personas, matched, django_user_model
):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    assert client_for(clerk).get(url(Finding, "change", matched.pk)).status_code == 403
    event = AuditEvent.objects.get(action=AuditAction.DENIED, actor=clerk)
    assert event.person == matched.person


def test_the_crime_admin_is_read_only_and_deletes_nothing(personas, matched):
    admin = client_for(personas["admin"])
    batch = matched.crime.batch
    objects = {
        CrimeBatch: batch,
        Crime: matched.crime,
        MatchRun: matched.run,
        Finding: matched,
        FindingEvidence: matched.stored,
        ProximityReport: ProximityReport.objects.get(),
        IssuedReport: IssuedReport.objects.get(),
    }
    for model in MODELS:
        assert admin.get(url(model, "add")).status_code == 403, model
    for model, obj in objects.items():
        page = admin.get(url(model, "change", obj.pk))
        assert page.status_code == 200 and not page.context["has_change_permission"], model
        assert admin.post(url(model, "change", obj.pk), {}).status_code == 403, model
        assert admin.post(url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403, model
        listed = admin.post(url(model, "changelist"), {"action": "delete_selected", "_selected_action": [obj.pk]})
        assert listed.status_code in (200, 302), model
    assert Finding.objects.filter(pk=matched.pk, review="pending", closest_m=matched.closest_m).exists()
    assert CrimeBatch.objects.filter(pk=batch.pk).exists() and Crime.objects.count() == 2
    assert ProximityReport.objects.exists() and IssuedReport.objects.exists() and FindingEvidence.objects.exists()


def test_every_look_at_crime_records_in_the_admin_is_audited_with_the_person(personas, matched):
    admin = client_for(personas["admin"])
    looks = AuditEvent.objects.filter(actor=personas["admin"], action__in=[AuditAction.VIEW, AuditAction.SEARCH])
    admin.get(url(Finding, "change", matched.pk))
    event = looks.latest("pk")
    assert event.person == matched.person and event.summary.startswith("admin: ")
    admin.get(url(ProximityReport, "change", ProximityReport.objects.get().pk))
    assert looks.latest("pk").person == matched.person  # a report is about its finding's person
    admin.get(url(FindingEvidence, "change", matched.pk))
    assert looks.latest("pk").person == matched.person  # the positions a match was made on: the person's
    admin.get(url(Finding, "changelist") + "?q=Sam")
    assert looks.latest("pk").action == AuditAction.SEARCH and '"Sam"' in looks.latest("pk").summary
    for model, obj in ((CrimeBatch, matched.crime.batch), (Crime, matched.crime)):
        before = looks.count()
        admin.get(url(model, "change", obj.pk))
        assert looks.count() == before + 1, model
    before = looks.count()
    admin.get(url(MatchRun, "change", matched.run.pk))  # parameters and versions: nothing about a person
    admin.get(url(IssuedReport, "changelist"))
    assert looks.count() == before
