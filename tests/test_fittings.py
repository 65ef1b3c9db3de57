"""Fitting, removing and swapping devices from the portal, with the visit's time, and each tag's battery
and last contact on the person page and the device pages."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from openem.audit.models import AuditEvent
from openem.cases.models import Person
from openem.devices import visits
from openem.devices.models import Device, Fitting
from openem.telemetry.ingest import ingest_jsonl
from tests.helpers import PERSONAS, client_for

pytestmark = pytest.mark.django_db


def visit(at: Any, **more: Any) -> dict[str, Any]:
    local = timezone.localtime(at)
    return {"date": f"{local:%Y-%m-%d}", "time": f"{local:%H:%M}", **more}


def minute(delta: timedelta = timedelta()) -> Any:
    """Now (or now plus ``delta``) to the minute, as the form takes it."""
    return (timezone.now() + delta).replace(second=0, microsecond=0)


@pytest.fixture
def stock(case: Person) -> Device:
    return Device.objects.create(ref="GPS-0002", kind="gps")


@pytest.fixture
def other_person(personas: dict[str, Any]) -> Person:
    """Someone on the other practitioner's caseload: not the test practitioner's to see."""
    return Person.objects.create(ref="P0099", name="Olly Other", practitioner=personas["other"])


def errors(response: Any) -> str:
    return response.content.decode()


def test_operator_fits_a_device_at_the_visits_time(personas, case, stock):
    at = minute(-timedelta(hours=2))
    client = client_for(personas["operator"])
    response = client.post(
        reverse("devices:fit", args=[case.pk]), visit(at, device="GPS-0002", fitted_by="Field officer Fay")
    )
    assert response.status_code == 302 and response.url == reverse("portal:person", args=[case.pk])
    fitting = Fitting.objects.get(device=stock)
    assert (fitting.person, fitting.fitted_at, fitting.removed_at, fitting.fitted_by) == (
        case, at, None, "Field officer Fay"
    )  # fmt: skip
    event = AuditEvent.objects.get(action="create", object_type="Fitting")
    assert event.actor_name == "omar.operator" and event.person_ref == "P0001" and "GPS-0002 fitted" in event.summary
    page = client.get(response.url).content.decode()
    assert "GPS-0002 fitted to Sam Example" in page
    # Sam already wears GPS-0001: recorded, with a warning that a swap was perhaps meant.
    assert "also wears GPS-0001, a GPS tag too: to replace it, record a swap" in page


def test_a_device_on_someone_else_is_refused_naming_them(personas, case, stock, other_person):
    Fitting.objects.create(device=stock, person=other_person, fitted_at=minute(-timedelta(days=1)))
    response = client_for(personas["operator"]).post(
        reverse("devices:fit", args=[case.pk]), visit(minute(), device="GPS-0002", fitted_by="Fay")
    )
    assert response.status_code == 400
    assert "GPS-0002 is fitted to Olly Other since" in errors(response)
    assert "record its removal first" in errors(response)
    assert not Fitting.objects.filter(person=case, device=stock).exists()


def test_the_other_persons_name_only_for_those_who_may_see_them(personas, case, stock, other_person):
    Fitting.objects.create(device=stock, person=other_person, fitted_at=minute(-timedelta(days=1)))
    with pytest.raises(visits.Refused) as refused:
        visits.fit(personas["practitioner"], case, "GPS-0002", minute(), "Fay")
    assert "fitted to another person since" in refused.value.message and "Olly" not in refused.value.message


def test_an_overlap_with_a_past_fitting_is_refused(personas, case, stock, other_person):
    Fitting.objects.create(
        device=stock, person=other_person, fitted_at=minute(-timedelta(hours=5)), removed_at=minute(-timedelta(hours=1))
    )
    response = client_for(personas["operator"]).post(
        reverse("devices:fit", args=[case.pk]),
        visit(minute(-timedelta(hours=3)), device="GPS-0002", fitted_by="Fay"),
    )
    assert response.status_code == 400
    assert "GPS-0002 was fitted to Olly Other from" in errors(response)
    assert "a fitting cannot overlap another" in errors(response)
    # After its removal it may be fitted.
    response = client_for(personas["operator"]).post(
        reverse("devices:fit", args=[case.pk]), visit(minute(-timedelta(minutes=30)), device="GPS-0002", fitted_by="F")
    )
    assert response.status_code == 302


def test_a_time_in_the_future_or_an_unknown_device_is_refused(personas, case, stock):
    client = client_for(personas["operator"])
    url = reverse("devices:fit", args=[case.pk])
    response = client.post(url, visit(minute(timedelta(hours=1)), device="GPS-0002", fitted_by="Fay"))
    assert response.status_code == 400 and "is in the future: enter when the visit happened" in errors(response)
    response = client.post(url, {"device": "GPS-0002", "date": "2026-11-30", "time": "25:00", "fitted_by": "Fay"})
    assert "Enter the time as hours and minutes, for example 14:30" in errors(response)
    response = client.post(url, visit(minute(), device="GPS-9999", fitted_by="Fay"))
    assert "No device has the serial number &quot;GPS-9999&quot;" in errors(response)
    assert not Fitting.objects.filter(device=stock).exists()
    assert not AuditEvent.objects.filter(action__in=["create", "change"], object_type="Fitting").exists()


def test_a_faulty_device_is_refused(personas, case, stock):
    Device.objects.filter(pk=stock.pk).update(faulty=True)
    response = client_for(personas["operator"]).post(
        reverse("devices:fit", args=[case.pk]), visit(minute(), device="GPS-0002", fitted_by="Fay")
    )
    assert "GPS-0002 is marked faulty: fit another device" in errors(response)


def test_a_device_no_condition_needs_is_fitted_with_a_warning(personas, case):
    Device.objects.create(ref="NF-0001", kind="non_fitted")
    response = client_for(personas["operator"]).post(
        reverse("devices:fit", args=[case.pk]), visit(minute(), device="NF-0001", fitted_by="Fay"), follow=True
    )
    assert Fitting.objects.filter(device__ref="NF-0001", person=case).exists()
    page = response.content.decode()
    assert "None of Sam Example&#x27;s conditions needs a non-fitted device: they need an alcohol tag" in page
    assert "an alcohol tag, a GPS tag and an RF tag" in page


def test_removal_with_its_time_and_reason(personas, case):
    fitting = Fitting.objects.get(person=case, device__ref="RF-0001")
    at = minute(-timedelta(minutes=10))
    client = client_for(personas["operator"])
    url = reverse("devices:remove", args=[fitting.pk])
    assert client.get(url).status_code == 200
    early = client.post(url, visit(fitting.fitted_at - timedelta(days=1), reason="Order ended"))
    assert early.status_code == 400 and "The removal must be after the fitting" in errors(early)
    response = client.post(url, visit(at, reason="Strap damaged", faulty="on"))
    assert response.status_code == 302
    fitting.refresh_from_db()
    assert (fitting.removed_at, fitting.removal_reason) == (at, "Strap damaged")
    assert Device.objects.get(ref="RF-0001").faulty
    event = AuditEvent.objects.get(action="change", object_type="Fitting")
    assert event.reason == "Strap damaged" and "marked faulty" in event.summary


def test_a_swap_is_one_visit_in_one_transaction(personas, case, stock):
    old = Fitting.objects.get(person=case, device__ref="GPS-0001")
    at = minute(-timedelta(minutes=5))
    client = client_for(personas["operator"])
    url = reverse("devices:swap", args=[old.pk])
    response = client.post(url, visit(at, device="GPS-0002", reason="Battery no longer holds a charge", fitted_by="F"))
    assert response.status_code == 302
    old.refresh_from_db()
    new = Fitting.objects.get(device=stock)
    assert old.removed_at == new.fitted_at == at and new.person == case and new.removed_at is None
    assert old.removal_reason == "Swapped for GPS-0002: Battery no longer holds a charge"
    events = AuditEvent.objects.filter(object_type="Fitting", action__in=["create", "change"])
    assert sorted(e.action for e in events) == ["change", "create"]
    assert all("GPS-0001 removed, GPS-0002 fitted" in e.summary for e in events)


def test_a_refused_swap_changes_nothing(personas, case, stock, other_person):
    Fitting.objects.create(device=stock, person=other_person, fitted_at=minute(-timedelta(days=1)))
    old = Fitting.objects.get(person=case, device__ref="GPS-0001")
    response = client_for(personas["operator"]).post(
        reverse("devices:swap", args=[old.pk]), visit(minute(), device="GPS-0002", reason="Faulty", fitted_by="F")
    )
    assert response.status_code == 400 and "GPS-0002 is fitted to Olly Other" in errors(response)
    old.refresh_from_db()
    assert old.removed_at is None and Fitting.objects.filter(device=stock).count() == 1
    response = client_for(personas["operator"]).post(
        reverse("devices:swap", args=[old.pk]), visit(minute(), device="GPS-0001", reason="Faulty", fitted_by="F")
    )
    assert "GPS-0001 is the device being removed" in errors(response)


def test_a_double_submit_records_once(personas, case, stock):
    """The same form sent twice (a double click, or two operators at once): the second is told what the
    first did, and nothing is recorded twice."""
    client = client_for(personas["operator"])
    fit = visit(minute(-timedelta(minutes=20)), device="GPS-0002", fitted_by="Fay")
    assert client.post(reverse("devices:fit", args=[case.pk]), fit).status_code == 302
    again = client.post(reverse("devices:fit", args=[case.pk]), fit)
    assert again.status_code == 400 and "GPS-0002 is already fitted to Sam Example, since" in errors(again)
    assert Fitting.objects.filter(device=stock).count() == 1

    rf = Fitting.objects.get(person=case, device__ref="RF-0001")
    removal = visit(minute(-timedelta(minutes=10)), reason="Order ended")
    assert client.post(reverse("devices:remove", args=[rf.pk]), removal).status_code == 302
    again = client.post(reverse("devices:remove", args=[rf.pk]), removal)
    assert again.status_code == 400 and "RF-0001 was already removed from Sam Example" in errors(again)

    gps = Fitting.objects.get(person=case, device__ref="GPS-0001")
    Device.objects.create(ref="GPS-0003", kind="gps")
    swap = visit(minute(-timedelta(minutes=5)), device="GPS-0003", reason="Faulty", fitted_by="Fay")
    assert client.post(reverse("devices:swap", args=[gps.pk]), swap).status_code == 302
    again = client.post(reverse("devices:swap", args=[gps.pk]), swap)
    assert again.status_code == 400 and "GPS-0001 was already removed" in errors(again)
    assert Fitting.objects.filter(device__ref="GPS-0003").count() == 1
    writes = AuditEvent.objects.filter(object_type="Fitting", action__in=["create", "change"])
    assert writes.count() == 4  # fit, removal, and the swap's two: none for the refused second tries


def test_a_removal_already_recorded_by_someone_else_is_not_recorded_again(personas, case):
    """The conditional update: a removal that lands between our read and our write does not overwrite it."""
    rf = Fitting.objects.get(person=case, device__ref="RF-0001")
    first = minute(-timedelta(minutes=30))
    Fitting.objects.filter(pk=rf.pk).update(removed_at=first, removal_reason="Order ended")
    rf.removed_at = None  # what a request that read the row a moment earlier holds
    with pytest.raises(visits.Refused, match="removed by someone else"):
        visits._end(rf, minute(), "Strap damaged")
    rf.refresh_from_db()
    assert (rf.removed_at, rf.removal_reason) == (first, "Order ended")


CAN_FIT = {p: 403 for p in PERSONAS} | {"operator": 200, "admin": 200}


@pytest.mark.parametrize("persona", PERSONAS)
def test_only_the_centre_records_visits(personas, case, stock, persona):
    client = client_for(personas[persona])
    gps = Fitting.objects.get(person=case, device__ref="GPS-0001")
    urls = [
        reverse("devices:fit", args=[case.pk]),
        reverse("devices:remove", args=[gps.pk]),
        reverse("devices:swap", args=[gps.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == CAN_FIT[persona], (persona, url)
    response = client.post(urls[0], visit(minute(), device="GPS-0002", fitted_by="X"))
    assert response.status_code == (302 if CAN_FIT[persona] == 200 else 403)
    assert Fitting.objects.filter(device=stock).exists() == (CAN_FIT[persona] == 200)
    # Links to the forms only for those who may use them; the person page is the case's as before.
    page = client.get(reverse("portal:person", args=[case.pk]))
    if page.status_code == 200:
        assert (reverse("devices:fit", args=[case.pk]) in page.content.decode()) == (CAN_FIT[persona] == 200)


def power(device: str, at: Any, pct: int) -> str:
    t = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"device": device, "time": t, "type": "power", "battery_pct": pct, "charging": False})


def fix(device: str, at: Any) -> str:
    t = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"device": device, "time": t, "type": "fix", "lat": 52.67, "lon": -0.73, "accuracy_m": 8})


def test_battery_and_last_contact_on_the_person_page(personas, case):
    now = timezone.now()
    ingest_jsonl(
        "\n".join(
            [
                power("GPS-0001", now - timedelta(minutes=40), 80),
                power("GPS-0001", now - timedelta(minutes=12), 12),
                fix("GPS-0001", now - timedelta(minutes=12)),
                power("RF-0001", now - timedelta(hours=5), 90),
            ]
        )
    )
    page = client_for(personas["practitioner"]).get(reverse("portal:person", args=[case.pk])).content.decode()
    # The latest level, low: the warning style; contact 12 minutes ago is within the GPS tag's limit.
    assert '<strong class="govuk-tag govuk-tag--orange">12%</strong>' in page
    assert "Last contact <strong>12 minutes ago</strong>" in page
    # The RF tag silent for 5 hours: stale, in the warning style.
    assert '<strong class="govuk-tag govuk-tag--orange">5 hours ago</strong>' in page
    assert "<strong>90%</strong>" in page


def test_the_contact_columns_take_the_same_queries_whatever_the_number_of_devices(personas, case):
    client = client_for(personas["operator"])
    now = timezone.now()

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    person_url = reverse("portal:person", args=[case.pk])
    before = (count(person_url), count(reverse("devices:list")))
    for i in range(3, 8):
        device = Device.objects.create(ref=f"GPS-00{i:02d}", kind="gps")
        Fitting.objects.create(device=device, person=case, fitted_at=now - timedelta(days=1))
        ingest_jsonl(power(device.ref, now - timedelta(minutes=i), 50 + i))
    assert (count(person_url), count(reverse("devices:list"))) == before
    listing = client.get(reverse("devices:list")).content.decode()
    assert "<strong>57%</strong>" in listing and "7 minutes ago" in listing


def test_the_device_page_shows_battery_and_last_contact(personas, case):
    ingest_jsonl(power("GPS-0001", timezone.now() - timedelta(minutes=3), 8))
    device = Device.objects.get(ref="GPS-0001")
    page = client_for(personas["operator"]).get(reverse("devices:device", args=[device.pk])).content.decode()
    assert '<strong class="govuk-tag govuk-tag--red">8%</strong>' in page and "3 minutes ago" in page


@pytest.mark.django_db(transaction=True)
def test_two_operators_fitting_one_device_at_once_one_wins(personas, case, other_person):
    """Two requests at the same moment, each in its own connection: the device row's lock makes the second
    wait for the first and then see its fitting. PostgreSQL only (SQLite takes one writer at a time)."""
    import threading

    from django.db import connections

    if connections["default"].vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL: DATABASE_URL=postgres://...")
    Device.objects.create(ref="GPS-0002", kind="gps")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(person: Person) -> None:
        try:
            barrier.wait()
            visits.fit(personas["operator"], person, "GPS-0002", minute(), "Fay")
            outcomes.append("fitted")
        except visits.Refused as exc:
            outcomes.append(exc.message)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in (case, other_person)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes)[-1] == "fitted" and "GPS-0002 is fitted to" in sorted(outcomes)[0]
    assert Fitting.objects.filter(device__ref="GPS-0002").count() == 1
