"""Making and varying orders through the portal, with the statutory checks in plain words."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from openem.cases.models import Order, OrderVersion

CURFEW = {
    "technology": "rf",
    "address_label": "12 Station Road",
    "lat": "52.6702",
    "lon": "-0.7321",
    "radius_m": "30",
    "w0_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "w0_start": "19:00",
    "w0_end": "07:00",
    "reason": "Court order of 1 November",
}


@pytest.fixture
def client_for(personas):
    def make(persona="practitioner"):
        c = Client()
        c.force_login(personas[persona])
        return c

    return make


@pytest.mark.django_db
def test_make_an_order_then_add_a_curfew(client_for, case):
    client = client_for()
    response = client.post(
        reverse("portal:order-create", args=[case.pk]),
        {"ref": "O0002", "type": "hdc", "start": "2026-12-01", "end": "2027-03-31", "reason": "Released on HDC"},
    )
    order = Order.objects.get(person=case, ref="O0002")
    assert response.status_code == 302 and response["Location"] == reverse("portal:order", args=[order.pk])
    response = client.post(reverse("portal:condition-add", args=[order.pk, "curfew"]), CURFEW, follow=True)
    page = response.content.decode()
    assert "Curfew C1 added (order version 2)." in page
    assert (
        order.to_spec().conditions[0].windows[0].describe()
        == "Mon, Tue, Wed, Thu, Fri, Sat, Sun 19:00 to 07:00 (next day)"
    )
    versions = OrderVersion.objects.filter(order=order).order_by("number")
    assert [v.changes for v in versions] == [["Order made with 0 condition(s)"], ["Added curfew C1"]]


@pytest.mark.django_db
def test_a_bad_time_is_shown_beside_its_window(client_for, case):
    order = case.orders.get()
    data = {**CURFEW, "w0_end": "25:00"}
    page = client_for().post(reverse("portal:condition-add", args=[order.pk, "curfew"]), data).content.decode()
    assert "There is a problem" in page
    assert "Window 1: &quot;25:00&quot; is not a time; use 24-hour HH:MM, for example 19:00" in page


@pytest.mark.django_db
def test_a_curfew_over_the_statutory_limit_is_refused_with_the_reason(client_for, case):
    order = case.orders.get()
    data = {**CURFEW, "w0_start": "10:00", "w0_end": "07:00"}
    page = client_for().post(reverse("portal:condition-add", args=[order.pk, "curfew"]), data).content.decode()
    assert "Monday: 21 hours of curfew; a court curfew can be at most 20 hours in any day" in page
    assert order.conditions.filter(removed_in_version__isnull=True).count() == 6


@pytest.mark.django_db
def test_an_unmonitored_zone_is_saved_with_a_warning(client_for, case):
    order = case.orders.get()
    response = client_for().post(
        reverse("portal:condition-add", args=[order.pk, "exclusion_zone"]),
        {
            "name": "Park",
            "shape": "circle",
            "lat": "52.69",
            "lon": "-0.70",
            "radius_m": "200",
            "reason": "Added by the court",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Exclusion zone C7 added" in page
    assert "&quot;Park&quot; is drawn but not GPS-monitored, so this zone will not raise alerts" in page


@pytest.mark.django_db
def test_a_polygon_zone_with_a_bad_ring_is_explained(client_for, case):
    order = case.orders.get()
    page = (
        client_for()
        .post(
            reverse("portal:condition-add", args=[order.pk, "exclusion_zone"]),
            {
                "name": "Street",
                "shape": "polygon",
                "monitored": "on",
                "reason": "x",
                "geojson": (
                    '{"type": "Polygon", "coordinates": '
                    "[[[-0.74, 52.66], [-0.73, 52.66], [-0.73, 52.665], [-0.74, 52.665]]]}"
                ),
            },
        )
        .content.decode()
    )
    assert "The zone&#x27;s polygon ring is not closed" in page


@pytest.mark.django_db
def test_vary_an_order_and_the_history_says_who_what_and_why(client_for, case, personas):
    order = case.orders.get()
    client = client_for("manager")
    response = client.post(
        reverse("portal:order-vary", args=[order.pk]),
        {
            "ref": order.ref,
            "type": order.type,
            "start": "2026-11-01",
            "end": "2027-05-31",
            "reason": "Order extended by the court on 20 November",
        },
        follow=True,
    )
    assert "Order O0001 varied (version 2)." in response.content.decode()
    version = OrderVersion.objects.get(order=order, number=2)
    assert version.changed_by == personas["manager"]
    assert version.changes == ["End: 2027-04-30 -> 2027-05-31"]
    page = client.get(reverse("portal:order", args=[order.pk])).content.decode()
    assert "Order extended by the court on 20 November" in page and "Morgan Reid" in page


@pytest.mark.django_db
def test_vary_and_remove_a_condition(client_for, case):
    order = case.orders.get()
    alcohol = order.conditions.get(ref="C6")
    client = client_for()
    page = client.get(reverse("portal:condition-vary", args=[order.pk, alcohol.pk])).content.decode()
    assert 'value="abstinence" checked' in page
    response = client.post(
        reverse("portal:condition-remove", args=[order.pk, alcohol.pk]), {"reason": "Requirement revoked"}, follow=True
    )
    assert "Alcohol monitoring C6 removed (order version 2)." in response.content.decode()
    assert [c.id for c in Order.objects.get().to_spec().conditions] == ["C1", "C2", "C3", "C4", "C5"]


@pytest.mark.django_db
def test_a_reason_is_required_for_every_change(client_for, case):
    order = case.orders.get()
    page = client_for().post(reverse("portal:condition-add", args=[order.pk, "trail"]), {}).content.decode()
    assert "This field is required." in page
    assert Order.objects.get().version == 1


@pytest.mark.django_db
def test_person_page_shows_orders_conditions_map_data_and_week_grid(client_for, case):
    page = client_for().get(reverse("portal:person", args=[case.pk])).content.decode()
    assert "Sam Example" in page and "Community order" in page
    assert 'id="map-features"' in page and '"label": "Victim\x27s street"' in page
    assert 'aria-label="Curfew timetable for C1"' in page
    assert "Domestic-abuse perpetrator" in page
    # The gap in the example (zones outliving the trail) is impossible to miss.
    assert "needs GPS location monitoring, but there is none from 1 February 2027" in page


@pytest.mark.django_db
def test_the_wearers_information_sheet_is_in_plain_words(client_for, case):
    from openem.cases.models import Condition

    zone = Condition.objects.get(ref="C2", removed_in_version__isnull=True)
    zone.spec = {**zone.spec, "victim_sensitive": True}
    zone.save()
    page = client_for().get(reverse("portal:information-sheet", args=[case.pk])).content.decode()
    assert "Be at home at these times (Mon, Tue, Wed, Thu, Fri, Sat, Sun 19:00 until 07:00 (next day))" in page
    assert "Do not drink any alcohol, until 28 February 2027." in page
    assert "call 999 first" in page and "charge it every day" in page
    # A victim's zone is described without naming where it is.
    assert "Stay out of the area your practitioner has shown you" in page and "Victim" not in page


@pytest.mark.django_db
def test_a_second_curfew_that_makes_21_hours_a_day_is_refused(client_for, case):
    """Sam's order has a curfew 19:00-07:00; a second one 07:00-16:00 would make 21 hours in a row."""
    order = case.orders.get()
    data = {**CURFEW, "w0_start": "07:00", "w0_end": "16:00"}
    page = client_for().post(reverse("portal:condition-add", args=[order.pk, "curfew"]), data).content.decode()
    assert (
        "Curfews C1 and C7 together: 21 hours of curfew from 19:00 every day; a court curfew can be at most 20 hours "
        "in any day" in page
    )
    assert order.conditions.filter(removed_in_version__isnull=True).count() == 6


@pytest.mark.django_db
def test_two_curfews_in_force_show_one_combined_week_grid(client_for, case):
    order = case.orders.get()
    data = {**CURFEW, "w0_days": ["sat", "sun"], "w0_start": "12:00", "w0_end": "15:00"}
    client_for().post(reverse("portal:condition-add", args=[order.pk, "curfew"]), data)
    assert order.conditions.filter(removed_in_version__isnull=True, type="curfew").count() == 2
    for url in (reverse("portal:order", args=[order.pk]), reverse("portal:person", args=[case.pk])):
        page = client_for().get(url).content.decode()
        assert "Curfews C1 and C7 together" in page and 'aria-label="Combined curfew timetable"' in page


@pytest.mark.django_db
def test_the_information_sheet_gives_the_centres_number_and_only_what_applies(client_for, case, settings):
    """An RF curfew only: no rule about alcohol or zones on the sheet, and the centre's number printed."""
    from openem.cases.models import Condition

    settings.OPENEM_CENTRE_PHONE = "0300 123 4567"
    Condition.objects.filter(order__person=case).exclude(type="curfew").update(removed_in_version=1)
    page = client_for().get(reverse("portal:information-sheet", args=[case.pk])).content.decode()
    assert "0300 123 4567" in page
    assert "Being out, even for a short time" in page
    assert "Drinking alcohol" not in page and "told to stay away from" not in page


@pytest.mark.django_db
def test_dates_are_written_and_read_the_uk_way_whatever_the_browser(client_for, case):
    """A text field for day/month/year, not the browser's picker (which shows its owner's locale): an order
    made with 1/11/2026 starts on 1 November, and its form shows 01/11/2026 back."""
    from datetime import date

    from openem.ukforms import UKDateField, UKDateTimeField

    assert UKDateField().clean("27/3/2026") == date(2026, 3, 27)
    assert UKDateField().clean("2026-03-27") == date(2026, 3, 27)  # links and old bookmarks
    assert UKDateTimeField().clean("10/11/2026 08:05").strftime("%d %m %Y %H:%M") == "10 11 2026 08:05"
    with pytest.raises(Exception, match="day/month/year"):
        UKDateField().clean("11/27/2026")
    order = case.orders.get()
    page = client_for().get(reverse("portal:condition-add", args=[order.pk, "curfew"])).content.decode()
    assert 'type="date"' not in page and "For example, 27/3/2026" in page
    trail = client_for().get(reverse("portal:trail", args=[case.pk])).content.decode()
    assert 'type="datetime-local"' not in trail


@pytest.mark.django_db
def test_a_link_to_a_condition_stays_valid_after_the_order_is_varied(client_for, case):
    """A bookmark or an e-mail names the condition's row as it was; after a variation the curfew is a new
    row, and the old link leads to it instead of a "not found"."""
    order = case.orders.get()
    old = order.conditions.get(ref="C1", removed_in_version__isnull=True)
    data = {**CURFEW, "w0_start": "20:00"}
    client_for().post(reverse("portal:condition-vary", args=[order.pk, old.pk]), data)
    new = order.conditions.get(ref="C1", removed_in_version__isnull=True)
    assert new.pk != old.pk
    for name in ("portal:condition-vary", "portal:condition-remove"):
        r = client_for().get(reverse(name, args=[order.pk, old.pk]))
        assert r.status_code == 302 and r["Location"] == reverse(name, args=[order.pk, new.pk])
