from __future__ import annotations

import pytest

from openem.audit.models import AppendOnlyError, AuditAction, AuditEvent


@pytest.mark.django_db
def test_the_audit_log_is_append_only(personas):
    event = AuditEvent.record(personas["practitioner"], AuditAction.VIEW, summary="person page")
    event.summary = "something else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.get().summary == "person page"


@pytest.mark.django_db
def test_changes_to_orders_are_audited_with_who_and_why(personas, case):
    event = AuditEvent.objects.filter(action=AuditAction.CREATE).get()
    assert event.person == case
    assert event.summary == "Order made with 6 condition(s)"
    assert event.actor_name == "system"


@pytest.mark.django_db
def test_changes_in_the_admin_are_audited(personas, case):
    from django.test import Client

    client = Client()
    client.force_login(personas["admin"])
    response = client.post(
        f"/admin/cases/person/{case.pk}/change/",
        {
            "ref": case.ref,
            "crn": case.crn,
            "name": "Samuel Example",
            "rosh": "high",
            "flags": '["domestic_abuse"]',
            "orders-TOTAL_FORMS": "1",
            "orders-INITIAL_FORMS": "1",
            "orders-MIN_NUM_FORMS": "0",
            "orders-MAX_NUM_FORMS": "1000",
            "orders-0-id": case.orders.get().pk,
            "orders-0-person": case.pk,
            "orders-0-ref": "O0001",
            "orders-0-type": "community_order",
            "orders-0-start": "2026-11-01",
            "orders-0-end": "2027-04-30",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.filter(summary__startswith="admin:").get()
    assert event.actor == personas["admin"] and event.person == case
    assert "name" in event.summary


@pytest.mark.django_db
def test_a_look_at_location_data_records_how_long_it_took(case, personas):
    """The statistics' "how long trail look-ups took" is read from here."""
    from datetime import UTC, datetime

    from openem.audit.models import AuditAction, AuditEvent
    from openem.portal.trail import audited_fixes

    day = (datetime(2026, 11, 10, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC))
    audited_fixes(personas["practitioner"], case, *day, "supervision", AuditAction.VIEW, "trail: {n} positions")
    event = AuditEvent.objects.latest("at")
    assert event.summary == "trail: 0 positions" and event.elapsed_ms is not None and event.elapsed_ms >= 0
