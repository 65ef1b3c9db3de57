"""Every portal view against every persona: practitioner (owner), other practitioner, manager,
operator, police analyst, and someone not signed in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from openem.audit.models import AuditAction, AuditEvent

# Expected status per persona: 200 seen, 404 hidden (not even its existence), 403 role refused.
READ_VIEWS = {"cases", "person", "order", "centre", "sheet"}
MATRIX = {
    #                 owner other manager operator police admin
    "cases": (200, 200, 200, 200, 403, 200),
    "person": (200, 404, 200, 200, 403, 200),
    "order": (200, 404, 200, 200, 403, 200),
    "order-create": (200, 404, 200, 403, 403, 403),
    "order-vary": (200, 404, 200, 403, 403, 403),
    "condition-add": (200, 404, 200, 403, 403, 403),
    "condition-vary": (200, 404, 200, 403, 403, 403),
    "condition-remove": (200, 404, 200, 403, 403, 403),
}
PERSONAS = ("practitioner", "other", "manager", "operator", "police", "admin")


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
    # The manager sees the team's cases: the case belongs to the manager's team.
    client = Client()
    client.force_login(personas[persona])
    expected = MATRIX[view][PERSONAS.index(persona)]
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
    client = Client()
    client.force_login(personas["practitioner"])
    assert "Sam Example" in client.get(reverse("portal:cases")).content.decode()
    client.force_login(personas["other"])
    page = client.get(reverse("portal:cases")).content.decode()
    assert "Sam Example" not in page and "No cases match" in page


@pytest.mark.django_db
def test_manager_of_another_team_sees_nothing(personas, case):
    from openem.accounts.models import Team

    manager = personas["manager"]
    manager.team = Team.objects.create(name="Leicester North")
    manager.save()
    client = Client()
    client.force_login(manager)
    assert client.get(reverse("portal:person", args=[case.pk])).status_code == 404


@pytest.mark.django_db
def test_police_analyst_is_told_why(personas, case):
    client = Client()
    client.force_login(personas["police"])
    page = client.get(reverse("portal:cases")).content.decode()
    assert "Your role does not give access to case records." in page


@pytest.mark.django_db
def test_every_view_of_a_person_is_audited(personas, case):
    client = Client()
    client.force_login(personas["practitioner"])
    client.get(reverse("portal:person", args=[case.pk]))
    event = AuditEvent.objects.filter(action=AuditAction.VIEW).get()
    assert (event.actor, event.person, event.summary) == (personas["practitioner"], case, "person page")
    # A refused view leaves no trace of data shown.
    client.force_login(personas["other"])
    client.get(reverse("portal:person", args=[case.pk]))
    assert AuditEvent.objects.filter(action=AuditAction.VIEW).count() == 1


@pytest.mark.django_db
def test_admin_is_for_administrators_only(personas):
    client = Client()
    for persona in ("practitioner", "operator", "police", "manager"):
        client.force_login(personas[persona])
        assert client.get("/admin/").status_code == 302
    client.force_login(personas["admin"])
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/cases/person/").status_code == 200


@pytest.mark.django_db
def test_a_missing_page_says_so_in_plain_words(personas):
    client = Client()
    client.force_login(personas["practitioner"])
    response = client.get("/people/999999/")
    assert response.status_code == 404
    assert "may not be on your caseload" in response.content.decode()
