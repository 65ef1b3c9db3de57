"""Every look at personal data and every delete leaves an audit event, and nobody can change the log:
not the model, not a queryset, not raw SQL on the database (SQLite here, PostgreSQL when DATABASE_URL
is set), and deleting a person or a user keeps their events readable."""

from __future__ import annotations

import json
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models.deletion import Collector
from django.db.models.signals import post_delete, pre_delete
from django.test import Client
from django.utils import timezone

from openem.alerts.models import Incident, Violation
from openem.audit import triggers
from openem.audit.models import AppendOnlyError, AuditAction, AuditEvent
from openem.cases.models import Order, Person
from openem.telemetry.ingest import ingest_jsonl
from openem.telemetry.models import EvidenceError, Reading, RejectedReading, TrailBlock
from openem.telemetry.retention import enforce

from ..helpers import client_for

pytestmark = pytest.mark.django_db


def events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


def the_event(**filters) -> AuditEvent:
    found = events(**filters)
    assert len(found) == 1, [str(e) for e in AuditEvent.objects.all()]
    return found[0]


def load_readings() -> None:
    """Two fixes of Sam's GPS tag, one RF reading and a line that is rejected."""
    fix = {"device": "GPS-0001", "type": "fix", "lat": 52.67, "lon": -0.73}
    rows = [
        {**fix, "time": "2026-11-10T12:00:00Z"},
        {**fix, "time": "2026-11-10T12:05:00Z"},
        {"device": "RF-0001", "time": "2026-11-10T12:00:00Z", "type": "rf", "in_range": True},
    ]
    ingest_jsonl("\n".join([*(json.dumps(r) for r in rows), "{broken"]))


# 1. Every look at personal data -------------------------------------------------------------------


def test_the_information_sheet_is_audited(personas, case):
    r = client_for(personas["practitioner"]).get(f"/people/{case.pk}/information-sheet/")
    assert r.status_code == 200
    e = the_event(action=AuditAction.VIEW, summary="information sheet")
    assert (e.actor, e.actor_name, e.person_ref) == (personas["practitioner"], "alex.practitioner", "P0001")


def test_order_and_condition_pages_that_draw_zones_are_audited(personas, case):
    order = case.orders.get()
    cond = order.conditions.get(ref="C2")
    c = client_for(personas["practitioner"])
    for url in (
        f"/orders/{order.pk}/",
        f"/orders/{order.pk}/vary/",
        f"/orders/{order.pk}/conditions/new/exclusion_zone/",
        f"/orders/{order.pk}/conditions/{cond.pk}/vary/",
        f"/orders/{order.pk}/conditions/{cond.pk}/remove/",
    ):
        assert c.get(url).status_code == 200, url
    seen = [e.summary for e in events(action=AuditAction.VIEW, person_ref="P0001", actor=personas["practitioner"])]
    assert seen == [
        "order page",
        "order: vary form",
        "order: add exclusion zone form",
        "order: C2 vary form",
        "order: C2 remove form",
    ]


def test_a_case_search_is_one_search_event_with_what_was_searched(personas, case):
    c = client_for(personas["operator"])
    c.get("/cases/")  # the plain list of one's cases is the working view, not a search
    assert not events(action=AuditAction.SEARCH)
    r = c.get("/cases/", {"q": "Sam", "type": "community_order"})
    assert "Sam Example" in r.content.decode()
    e = the_event(action=AuditAction.SEARCH)
    assert e.actor == personas["operator"] and e.person_ref == ""
    assert e.summary == 'case list: "Sam", order type community_order: 1 found'
    assert not events(action=AuditAction.VIEW)  # not one event per person listed


@pytest.fixture
def token(personas):
    from openem.accounts.models import ApiToken

    return ApiToken.issue(personas["practitioner"], "test")[1]


def test_the_api_lists_are_audited(personas, case, token):
    c = client_for(personas["practitioner"])
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert c.get("/api/v1/people", **auth).json()["people"][0]["id"] == "P0001"
    assert the_event(summary__startswith="api: people").summary == "api: people list, 1 people"
    assert len(c.get("/api/v1/devices", **auth).json()["devices"]) == 2
    e = the_event(summary__startswith="api: devices")
    assert e.actor == personas["practitioner"] and e.summary == "api: devices list, 2 fittings of 1 people"


def test_every_api_endpoint_with_personal_data_is_audited(personas, case, token):
    from openem.api import urls

    api = Client(HTTP_AUTHORIZATION=f"Token {token}")  # the token alone, as an API client calls
    params = {"start": "2026-11-10T00:00:00+00:00", "end": "2026-11-11T00:00:00+00:00", "reason": "check"}
    for pattern in urls.urlpatterns:  # every endpoint, including any added later
        if pattern.name == "openapi":  # the API's description: nothing about anyone
            continue
        path = "/api/v1/" + str(pattern.pattern).replace("<str:ref>", "P0001")
        before = AuditEvent.objects.count()
        r = api.get(path, params)
        assert r.status_code == 200, path
        assert AuditEvent.objects.count() == before + 1, f"{path} left no audit event"
        assert AuditEvent.objects.latest("id").actor == personas["practitioner"], path


def test_export_cases_is_audited_with_the_file_and_how_many(tmp_path, case):
    out = tmp_path / "cases.json"
    call_command("export_cases", "--out", str(out), stderr=StringIO())
    assert json.loads(out.read_text())["people"][0]["id"] == "P0001"
    e = the_event(action=AuditAction.EXPORT)
    assert e.summary == f"export-cases: 1 people to {out}" and e.person_ref == "P0001"
    assert e.actor_name == "system" and e.reason.startswith("command line, run by ")


def test_device_key_and_gateway_commands_say_who_ran_them(case, capsys):
    call_command("device_key", "GPS-0001", "--reason", "fitted to a phone")
    call_command("device_key", "GPS-0001", "--revoke")
    call_command("gateway", "create", "Vendor C")
    call_command("gateway", "assign", "Vendor C", "RF-0001")
    call_command("gateway", "rotate", "Vendor C")
    capsys.readouterr()
    recorded = events(action=AuditAction.CREDENTIAL)
    assert [e.summary.split(":")[0] for e in recorded] == ["device GPS-0001"] * 2 + ["gateway Vendor C"] * 3
    for e in recorded:
        assert e.actor_name == "system" and e.reason.startswith("command line, run by "), e.summary
    assert recorded[0].reason.endswith(": fitted to a phone")


def test_issuing_an_api_token_is_audited(personas):
    out = StringIO()
    call_command("api_token", "alex.practitioner", "--name", "reporting", stdout=out)
    assert out.getvalue().strip()
    e = the_event(action=AuditAction.CREDENTIAL)
    assert e.summary.startswith('API token "reporting" issued for alex.practitioner (api-token command, run by ')
    assert e.object_type == "ApiToken" and out.getvalue().strip() not in e.summary  # never the token itself


def test_the_admin_views_of_people_readings_and_positions_are_audited(personas, incident):
    load_readings()
    admin = client_for(personas["admin"])
    person = incident.person
    pages = {
        "/admin/cases/person/": "admin: list of people: 1 found",
        "/admin/telemetry/reading/": "admin: list of readings",
        "/admin/telemetry/rejectedreading/": "admin: list of rejected readings",
        "/admin/alerts/violation/": "admin: list of violations",
        "/admin/alerts/incident/": "admin: list of incidents",
        "/admin/cases/order/": "admin: list of orders",
    }
    for url, summary in pages.items():
        assert admin.get(url).status_code == 200, url
        assert AuditEvent.objects.latest("id").summary.startswith(summary), url
    reading = Reading.objects.filter(device="GPS-0001").first()
    for url, summary in {
        f"/admin/cases/person/{person.pk}/change/": "admin: person P0001",
        f"/admin/alerts/incident/{incident.pk}/change/": f"admin: incident {incident.pk}",
        f"/admin/telemetry/reading/{reading.pk}/change/": f"admin: reading {reading.pk}",
    }.items():
        assert admin.get(url).status_code == 200, url
        e = AuditEvent.objects.latest("id")
        assert (e.action, e.summary, e.person_ref, e.actor) == ("view", summary, "P0001", personas["admin"]), url


def test_an_admin_search_is_a_search_event(personas, case):
    admin = client_for(personas["admin"])
    assert "Sam Example" in admin.get("/admin/cases/person/", {"q": "Sam", "rosh": "high"}).content.decode()
    e = the_event(action=AuditAction.SEARCH)
    assert e.summary == 'admin: people where "Sam", rosh=high: 1 found' and e.actor == personas["admin"]


# 2. Every delete leaves a record ------------------------------------------------------------------


def test_deleting_a_person_in_the_admin_is_audited_and_keeps_their_history(personas, incident):
    person = incident.person
    client_for(personas["practitioner"]).get(f"/people/{person.pk}/")
    assert client_for(personas["admin"]).get(f"/admin/cases/person/{person.pk}/delete/").status_code == 200
    assert the_event(summary="admin: person P0001, delete confirmation").actor == personas["admin"]
    r = client_for(personas["admin"]).post(f"/admin/cases/person/{person.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302 and not Person.objects.exists()
    deleted = events(action=AuditAction.DELETE, actor=personas["admin"])
    summaries = [e.summary for e in deleted]
    assert "admin: deleted person P0001" in summaries
    assert "admin: deleted order O0001" in summaries  # the cascade too, as the admin's
    assert f"admin: deleted incident {incident.pk}" in summaries
    assert any(s.startswith("admin: deleted violation") for s in summaries)
    assert {e.person_ref for e in deleted} == {"P0001"}
    # Their history is still there, findable by ref, with the person's id kept.
    history = events(person_ref="P0001", action=AuditAction.VIEW)
    assert [e.summary for e in history] == ["person page", "admin: person P0001, delete confirmation"]
    assert history[0].person_id == person.pk and history[0].actor == personas["practitioner"]
    assert AuditEvent.objects.filter(person_id=person.pk).count() > len(deleted)


def test_bulk_deletes_in_the_admin_are_audited(personas, incident):
    admin = client_for(personas["admin"])
    pks = list(Violation.objects.values_list("pk", flat=True))
    r = admin.post("/admin/alerts/violation/", {"action": "delete_selected", "_selected_action": pks, "post": "yes"})
    assert r.status_code == 302 and not Violation.objects.exists()
    assert len(events(action=AuditAction.DELETE, summary__startswith="admin: deleted violation")) == len(pks)


def test_deleting_readings_in_the_admin_is_one_event_per_device(personas, case):
    load_readings()
    pks = list(Reading.objects.values_list("pk", flat=True))
    r = client_for(personas["admin"]).post(
        "/admin/telemetry/reading/", {"action": "delete_selected", "_selected_action": pks, "post": "yes"}
    )
    assert r.status_code == 302 and not Reading.objects.exists()
    assert len(events(action=AuditAction.DELETE)) == 2  # the queryset's own summary is not added to these
    gps = the_event(summary="admin: deleted 2 readings of device GPS-0001")
    rf = the_event(summary="admin: deleted 1 readings of device RF-0001")
    assert gps.person_ref == rf.person_ref == "P0001" and gps.actor == personas["admin"]
    assert (gps.period_start.isoformat(), gps.period_end.isoformat()) == (
        "2026-11-10T12:00:00+00:00",
        "2026-11-10T12:05:00+00:00",
    )


def test_deleting_rejected_readings_in_the_admin_is_one_event(personas, case):
    load_readings()
    load_readings()  # its broken line again: two rejected
    pks = list(RejectedReading.objects.values_list("pk", flat=True))
    r = client_for(personas["admin"]).post(
        "/admin/telemetry/rejectedreading/", {"action": "delete_selected", "_selected_action": pks, "post": "yes"}
    )
    assert r.status_code == 302 and not RejectedReading.objects.exists()
    e = the_event(action=AuditAction.DELETE)
    assert e.summary == "admin: deleted 2 rejected readings" and e.actor == personas["admin"]


def test_orm_deletes_of_orders_violations_and_incidents_are_audited(incident):
    n = Violation.objects.filter(person=incident.person).count()
    Violation.objects.filter(person=incident.person).delete()  # a bulk delete: Django sends one signal per row
    assert len(events(action=AuditAction.DELETE, summary__startswith="ORM: deleted violation")) == n
    Incident.objects.filter(pk=incident.pk).delete()
    e = the_event(summary=f"ORM: deleted incident {incident.pk}")
    assert (e.actor_name, e.person_ref) == ("system", "P0001")
    Order.objects.all().delete()
    assert the_event(summary="ORM: deleted order O0001").person_ref == "P0001"


def test_orm_deletes_of_readings_are_one_summary_event_each(case, django_assert_max_num_queries):
    load_readings()
    with django_assert_max_num_queries(8):  # a bulk delete and its one event, not a query per reading
        assert Reading.objects.filter(device="GPS-0001").delete()[0] == 2
    e = the_event(action=AuditAction.DELETE)
    assert (e.summary, e.actor_name, e.person_ref) == ("ORM: deleted 2 readings of device GPS-0001", "system", "P0001")
    assert (e.period_start.isoformat(), e.period_end.isoformat()) == (
        "2026-11-10T12:00:00+00:00",
        "2026-11-10T12:05:00+00:00",
    )
    Reading.objects.get(device="RF-0001").delete()  # one reading, through the model
    assert the_event(summary="ORM: deleted 1 reading of device RF-0001").person_ref == "P0001"
    assert not Reading.objects.exists()
    Reading.objects.all().delete()  # nothing left: nothing deleted, nothing recorded
    assert len(events(action=AuditAction.DELETE)) == 2


def test_erasing_a_trail_is_recorded(case):
    load_readings()
    fixes = TrailBlock.objects.get(device="GPS-0001").n
    TrailBlock.objects.filter(device="GPS-0001").delete()
    e = the_event(action=AuditAction.DELETE)
    assert e.summary == f"ORM: deleted 1 trail block ({fixes} positions) of device GPS-0001"
    assert e.person_ref == "P0001" and e.period_start.isoformat() == "2026-11-10T12:00:00+00:00"


def test_readings_and_trail_blocks_cannot_be_changed(case):
    load_readings()
    with pytest.raises(EvidenceError, match="readings are evidence"):
        Reading.objects.update(payload={"forged": True})
    with pytest.raises(EvidenceError, match="evidence"):
        Reading.objects.filter(device="GPS-0001").update(t=timezone.now())
    reading = Reading.objects.filter(device="GPS-0001").first()
    reading.payload = {"forged": True}
    with pytest.raises(EvidenceError, match="cannot be changed"):
        reading.save()
    with pytest.raises(EvidenceError):
        Reading.objects.bulk_update([reading], ["payload"])
    with pytest.raises(EvidenceError, match="trail blocks are evidence"):
        TrailBlock.objects.filter(device="GPS-0001").update(data=b"")
    assert not Reading.objects.filter(payload__forged=True).exists()
    assert TrailBlock.objects.get(device="GPS-0001").n == 2


def test_orm_deletes_of_versions_conditions_reviews_fittings_and_decisions_are_audited(personas, incident):
    from openem.alerts.models import DecisionKind, EnforcementDecision
    from openem.cases.models import Condition, OrderVersion, Review, ReviewStage
    from openem.devices.models import Fitting

    order = incident.person.orders.get()
    by = personas["practitioner"]
    Review.objects.create(order=order, stage=ReviewStage.START, held_on=date(2026, 11, 2), summary="ok", by=by)
    EnforcementDecision.objects.create(
        incident=incident, decision=DecisionKind.WARNING, reason="first", decided_on=date(2026, 11, 11), by=by
    )
    for model in (OrderVersion, Condition, Review, Fitting, EnforcementDecision):
        n = model.objects.count()
        assert n, model
        name = model._meta.verbose_name
        model.objects.all().delete()
        recorded = events(action=AuditAction.DELETE, summary__startswith=f"ORM: deleted {name} ")
        assert len(recorded) == n, name
        assert {e.person_ref for e in recorded} == {"P0001"}, name


def test_the_admin_cannot_add_or_edit_orders_or_order_versions(personas, case):
    from openem.cases.models import OrderVersion

    admin = client_for(personas["admin"])
    order = case.orders.get()
    version = order.versions.first()
    for url in ("/admin/cases/order/add/", "/admin/cases/orderversion/add/"):
        assert admin.get(url).status_code == 403, url
        forged = {"order": order.pk, "number": 99, "reason": "forged", "snapshot": "{}"}
        assert admin.post(url, forged).status_code == 403, url
    assert not OrderVersion.objects.filter(reason="forged").exists()
    for url in (f"/admin/cases/order/{order.pk}/change/", f"/admin/cases/orderversion/{version.pk}/change/"):
        page = admin.get(url)
        assert page.status_code == 200 and 'name="_save"' not in page.content.decode(), url  # shown, read-only
    r = admin.post(f"/admin/cases/orderversion/{version.pk}/change/", {"reason": "rewritten"})
    assert r.status_code == 403 and OrderVersion.objects.get(pk=version.pk).reason == version.reason
    r = admin.post(f"/admin/cases/order/{order.pk}/change/", {"end": "2099-01-01"})
    assert r.status_code == 403 and case.orders.get().end == order.end
    # Deleting stays possible, and audited.
    r = admin.post(f"/admin/cases/orderversion/{version.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302 and not OrderVersion.objects.filter(pk=version.pk).exists()
    e = the_event(summary=f"admin: deleted order version {version.pk}")
    assert e.actor == personas["admin"] and e.person_ref == "P0001"


def test_retention_leaves_one_event_per_person_with_counts_and_the_period(case, night):
    load_readings()
    Order.objects.filter(person=case).update(end=date(2026, 12, 31))
    RejectedReading.objects.update(received=timezone.now() - timedelta(days=91))
    before = AuditEvent.objects.count()
    result = enforce(today=date(2033, 2, 1))  # past both the readings' and the violations' periods
    assert result.people == 1 and result.readings > 0 and result.violations > 0
    assert not Reading.objects.exists() and not TrailBlock.objects.exists() and not Violation.objects.exists()
    new = list(AuditEvent.objects.order_by("id"))[before:]
    person_event, rejected_event = new  # no event per reading, nor per violation
    assert person_event.action == rejected_event.action == AuditAction.DELETE
    assert person_event.person_ref == "P0001" and person_event.actor_name == "system"
    assert person_event.summary.startswith(f"retention: deleted {result.readings} readings, ")
    assert f"and {result.violations} violations (devices ALC-0001, GPS-0001, RF-0001)" in person_event.summary
    assert person_event.period_start is not None and person_event.period_end >= person_event.period_start
    assert "last order ended 2026-12-31" in person_event.reason
    assert rejected_event.summary == f"retention: deleted {result.rejected} rejected readings"


def test_readings_and_trail_blocks_stay_fast_to_delete():
    """No delete signal on them: a receiver would make retention load and signal each of millions of rows."""
    for model in (Reading, TrailBlock):
        assert not pre_delete.has_listeners(model) and not post_delete.has_listeners(model), model
        assert Collector(using="default", origin=None).can_fast_delete(model.objects.all()), model


# 3. Nobody can change the log ---------------------------------------------------------------------


def test_querysets_cannot_change_or_delete_audit_events(personas):
    e = AuditEvent.record(personas["practitioner"], AuditAction.VIEW, summary="person page")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=e.pk).update(summary="nothing to see")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    e.summary = "nothing to see"
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([e], ["summary"])
    assert AuditEvent.objects.get().summary == "person page"


def test_the_database_refuses_raw_update_delete_and_truncate(personas):
    AuditEvent.record(personas["practitioner"], AuditAction.VIEW, summary="person page")
    assert triggers.installed(connection)
    statements = [
        "UPDATE audit_auditevent SET summary = 'nothing to see'",
        "DELETE FROM audit_auditevent",
    ]
    if connection.vendor == "postgresql":
        statements.append("TRUNCATE audit_auditevent")
    for sql in statements:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AuditEvent.objects.get().summary == "person page"


def test_the_database_refuses_an_insert_over_an_existing_event(personas):
    """SQLite's INSERT OR REPLACE deletes the old row without firing delete triggers; PostgreSQL's
    INSERT ... ON CONFLICT DO UPDATE is an update. Both are refused, and new events are still added."""
    e = AuditEvent.record(personas["practitioner"], AuditAction.VIEW, summary="person page")
    cols = "id, at, actor_name, action, person_ref, object_type, object_id, summary, reason"
    values = f"({e.pk}, '2026-01-01 00:00:00+00:00', 'nobody', 'view', '', '', '', 'REWRITTEN', '')"
    if connection.vendor == "sqlite":
        statements = [
            f"INSERT OR REPLACE INTO audit_auditevent ({cols}) SELECT id, at, actor_name, action, person_ref, "
            f"object_type, object_id, 'REWRITTEN', reason FROM audit_auditevent WHERE id = {e.pk}",
            f"REPLACE INTO audit_auditevent ({cols}) VALUES {values}",
            f"INSERT INTO audit_auditevent ({cols}) VALUES {values} ON CONFLICT (id) DO UPDATE SET summary = 'X'",
        ]
    else:
        statements = [
            f"INSERT INTO audit_auditevent ({cols}) VALUES {values} ON CONFLICT (id) DO UPDATE SET summary = 'X'",
        ]
    for sql in statements:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert AuditEvent.objects.get().summary == "person page"
    AuditEvent.record(personas["practitioner"], AuditAction.VIEW, summary="order page")
    assert AuditEvent.objects.count() == 2


def test_migrate_puts_back_triggers_that_a_table_rebuild_dropped():
    """A later migration that rebuilds the audit table on SQLite drops its triggers with the old table."""
    triggers.remove(connection)
    assert not triggers.installed(connection)
    call_command("migrate", verbosity=0)
    assert triggers.installed(connection)


def test_deleting_a_user_keeps_their_events_readable(personas, case):
    from openem.accounts.models import User

    bea = User.objects.get(username="bea.practitioner")
    AuditEvent.record(bea, AuditAction.SEARCH, summary='case list: "Sam": 0 found')
    bea_id = bea.pk
    bea.delete()
    e = the_event(actor_name="bea.practitioner")
    assert e.actor_id == bea_id and e.summary == 'case list: "Sam": 0 found'
    page = client_for(personas["admin"]).get(f"/admin/audit/auditevent/{e.pk}/change/")
    assert page.status_code == 200
    assert f"bea.practitioner (user {bea_id}, since deleted)" in page.content.decode()


# 4. The log is readable -----------------------------------------------------------------------------


def test_the_admin_audit_log_lists_filters_and_cannot_edit(personas, case):
    client_for(personas["practitioner"]).get(f"/people/{case.pk}/")
    Person.objects.get().delete()  # the person is gone; their history is not
    admin = client_for(personas["admin"])
    page = admin.get("/admin/audit/auditevent/", {"person_ref": "P0001", "action": "view"}).content.decode()
    assert "person page" in page and "Order made with" not in page  # filtered to views of P0001
    assert 'name="person_ref"' in page and 'value="P0001"' in page  # the text filter keeps what was asked
    assert 'value="delete_selected"' not in page and "/admin/audit/auditevent/add/" not in page
    e = the_event(action=AuditAction.VIEW, summary="person page")
    detail = admin.get(f"/admin/audit/auditevent/{e.pk}/change/").content.decode()
    assert "P0001 (record since deleted)" in detail
    assert 'name="_save"' not in detail and "deletelink" not in detail
    assert admin.post(f"/admin/audit/auditevent/{e.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=e.pk).exists()


# The test database flush (live_server, transactional_db) still works with the triggers in place.


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_writes_audit_events(personas, case):
    client_for(personas["practitioner"]).get(f"/people/{case.pk}/")
    Person.objects.get().delete()
    assert AuditEvent.objects.filter(person_ref="P0001").exists()


@pytest.mark.django_db(transaction=True)
def test_the_flush_after_it_emptied_the_log_and_kept_the_triggers():
    assert not AuditEvent.objects.exists()
    assert triggers.installed(connection)
