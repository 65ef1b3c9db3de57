"""Every portal view against every persona (tests.helpers.PERSONAS), and someone not signed in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from openem.audit.models import AuditAction, AuditEvent
from tests.helpers import PERSONAS, client_for

# Expected status per persona: 200 seen, 404 hidden (not even its existence), 403 role refused. The
# manager is the case's team's; other_manager manages another team and sees none of it; police
# analysts and victim liaison officers see no case records at all.
READ_VIEWS = {"cases", "person", "order", "centre", "sheet"}
CASE_PAGE = {"practitioner": 200, "other": 404, "manager": 200, "other_manager": 404,
             "operator": 200, "police": 403, "vlo": 403, "hub": 403, "hub_manager": 403, "analyst": 403,
             "admin": 200}  # fmt: skip
ORDER_SETUP = {**CASE_PAGE, "operator": 403, "admin": 403}
MATRIX = {
    "cases": {**CASE_PAGE, "other": 200, "other_manager": 200},  # a list: their own (empty) caseload
    "centre": {**CASE_PAGE, "practitioner": 403, "other": 403, "other_manager": 200},
    "person": CASE_PAGE,
    "sheet": CASE_PAGE,
    "order": CASE_PAGE,
    "order-create": ORDER_SETUP,
    "order-vary": ORDER_SETUP,
    "condition-add": ORDER_SETUP,
    "condition-vary": ORDER_SETUP,
    "condition-remove": ORDER_SETUP,
}


def test_the_matrix_has_every_persona():
    assert all(set(row) == set(PERSONAS) for row in MATRIX.values())


def url_for(name, case):
    order = case.orders.get()
    cond = order.conditions.first()
    return {
        "cases": reverse("portal:cases"),
        "centre": reverse("portal:centre"),
        "sheet": reverse("portal:information-sheet", args=[case.pk]),
        "person": reverse("portal:person", args=[case.pk]),
        "order": reverse("portal:order", args=[order.pk]),
        "order-create": reverse("portal:order-create", args=[case.pk]),
        "order-vary": reverse("portal:order-vary", args=[order.pk]),
        "condition-add": reverse("portal:condition-add", args=[order.pk, "curfew"]),
        "condition-vary": reverse("portal:condition-vary", args=[order.pk, cond.pk]),
        "condition-remove": reverse("portal:condition-remove", args=[order.pk, cond.pk]),
    }[name]


@pytest.mark.django_db
@pytest.mark.parametrize("view", list(MATRIX))
@pytest.mark.parametrize("persona", PERSONAS)
def test_access(view, persona, personas, case):
    client = client_for(personas[persona])
    expected = MATRIX[view][persona]
    assert client.get(url_for(view, case)).status_code == expected
    if view not in READ_VIEWS:
        # Posting is refused in exactly the same way as reading.
        assert client.post(url_for(view, case), {}).status_code == expected


@pytest.mark.django_db
@pytest.mark.parametrize("view", list(MATRIX))
def test_signed_out_users_are_sent_to_sign_in(view, case):
    response = Client().get(url_for(view, case))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_practitioner_list_shows_only_own_caseload(personas, case):
    assert "Sam Example" in client_for(personas["practitioner"]).get(reverse("portal:cases")).content.decode()
    page = client_for(personas["other"]).get(reverse("portal:cases")).content.decode()
    assert "Sam Example" not in page and "No cases match" in page


@pytest.mark.django_db
def test_manager_of_another_team_sees_nothing(personas, case):
    client = client_for(personas["other_manager"])
    assert client.get(reverse("portal:person", args=[case.pk])).status_code == 404
    page = client.get(reverse("portal:cases")).content.decode()
    assert "Sam Example" not in page and "No cases match" in page


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["police", "vlo"])
def test_roles_without_case_records_are_told_why(persona, personas, case):
    page = client_for(personas[persona]).get(reverse("portal:cases")).content.decode()
    assert "Your role does not give access to case records." in page and "Sam Example" not in page


@pytest.mark.django_db
def test_every_view_of_a_person_is_audited(personas, case):
    client_for(personas["practitioner"]).get(reverse("portal:person", args=[case.pk]))
    event = AuditEvent.objects.filter(action=AuditAction.VIEW).get()
    assert (event.actor, event.person, event.summary) == (personas["practitioner"], case, "person page")
    # A refused view leaves no trace of data shown.
    client_for(personas["other"]).get(reverse("portal:person", args=[case.pk]))
    assert AuditEvent.objects.filter(action=AuditAction.VIEW).count() == 1


@pytest.mark.django_db
def test_admin_is_for_administrators_only(personas):
    for persona in PERSONAS:
        response = client_for(personas[persona]).get("/admin/")
        assert response.status_code == (200 if persona == "admin" else 302), persona
    assert client_for(personas["admin"]).get("/admin/cases/person/").status_code == 200


@pytest.mark.django_db
def test_a_missing_page_says_so_in_plain_words(personas):
    response = client_for(personas["practitioner"]).get("/people/999999/")
    assert response.status_code == 404
    assert "may not be on your caseload" in response.content.decode()
