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
