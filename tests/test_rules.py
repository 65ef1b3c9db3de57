"""Every statutory limit and good-practice check, with the message a practitioner reads."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from openem.cases.rules import Severity, check_order
from openem.engine.casefile import Appointment, ConditionSpec, OrderSpec
from openem.engine.enums import AlcoholMode, AlcoholRequirement, ConditionType, Day, OrderType, Technology
from openem.engine.geometry import Circle
from openem.engine.schedule import Window, parse_hhmm

HOME = Circle(52.6702, -0.7321, 30)
ALL_DAYS = tuple(Day)


def window(start: str, end: str, days: tuple[Day, ...] = ALL_DAYS) -> Window:
    return Window(days, parse_hhmm(start), parse_hhmm(end))


def curfew(*windows: Window, technology: Technology = Technology.RF, **kw) -> ConditionSpec:
    return ConditionSpec(
        id="C1",
        type=ConditionType.CURFEW,
        technology=technology,
        address=HOME,
        windows=windows or (window("19:00", "07:00"),),
        **kw,
    )


def order(
    kind: OrderType, *conditions: ConditionSpec, start=date(2026, 11, 1), end=date(2027, 10, 31), **kw
) -> OrderSpec:
    conds = list(conditions)
    for i, c in enumerate(conds):
        c.id = f"C{i + 1}"
    return OrderSpec(id="O1", type=kind, start=start, end=end, conditions=conds, **kw)


def trail(**kw) -> ConditionSpec:
    return ConditionSpec(id="T", type=ConditionType.TRAIL, **kw)


def zone(kind=ConditionType.EXCLUSION_ZONE, monitored=True, area=None, **kw) -> ConditionSpec:
    area = area or {"lat": 52.70, "lon": -0.70, "radius_m": 200}
    return ConditionSpec(id="Z", type=kind, monitored=monitored, name="Victim's street", area=area, **kw)


def alcohol(requirement=AlcoholRequirement.AAMR, start=None, end=None) -> ConditionSpec:
    return ConditionSpec(
        id="A", type=ConditionType.ALCOHOL, mode=AlcoholMode.ABSTINENCE, requirement=requirement, start=start, end=end
    )


def messages(spec: OrderSpec, severity: Severity = Severity.ERROR) -> list[str]:
    return [f.message for f in check_order(spec) if f.severity == severity]


def test_a_well_made_order_has_no_findings():
    spec = order(OrderType.COMMUNITY_ORDER, curfew(end=date(2027, 1, 31)), trail(), zone())
    assert check_order(spec) == []


# Court curfew (Sentencing Act 2020 Sch 9 para 9)


def test_court_curfew_at_least_two_hours_in_a_day():
    spec = order(OrderType.COMMUNITY_ORDER, curfew(window("20:00", "21:30", (Day.FRI,))))
    assert messages(spec) == [
        "Friday: 1 hours 30 minutes of curfew; a court curfew must be at least 2 hours in any day it applies"
    ]


def test_court_curfew_at_most_twenty_hours_in_a_day():
    spec = order(OrderType.SUSPENDED_SENTENCE_ORDER, curfew(window("12:00", "09:00", (Day.SAT,))))
    assert messages(spec) == ["Saturday: 21 hours of curfew; a court curfew can be at most 20 hours in any day"]


def test_court_curfew_sixteen_hours_if_convicted_before_the_pcsc_act():
    seventeen = curfew(window("14:00", "07:00", (Day.SUN,)))
    assert messages(order(OrderType.COMMUNITY_ORDER, seventeen)) == []
    assert messages(order(OrderType.COMMUNITY_ORDER, seventeen, convicted_before_pcsc_act=True)) == [
        "Sunday: 17 hours of curfew; a court curfew can be at most 16 hours in any day (convicted before the "
        "PCSC Act 2022)"
    ]


def test_court_curfew_at_most_112_hours_in_seven_days():
    spec = order(OrderType.COMMUNITY_ORDER, curfew(window("18:00", "10:00")))  # 16 h x 7 = 112: allowed
    assert messages(spec) == []
    spec = order(OrderType.COMMUNITY_ORDER, curfew(window("17:00", "10:00")))  # 17 h x 7 = 119
    assert messages(spec) == ["119 hours of curfew in a week; a court curfew can be at most 112 hours in any 7 days"]


def test_court_curfew_within_two_years():
    long = curfew(start=date(2026, 11, 1), end=date(2028, 11, 1))
    spec = order(OrderType.COMMUNITY_ORDER, long, end=date(2029, 1, 1))
    assert messages(spec) == [
        "the curfew runs from 1 November 2026 to 1 November 2028; a court curfew must end within 2 years"
    ]
    ok = curfew(start=date(2026, 11, 1), end=date(2028, 10, 31))
    assert messages(order(OrderType.COMMUNITY_ORDER, ok, end=date(2029, 1, 1))) == []


def test_bail_curfews_are_not_held_to_court_order_limits():
    assert messages(order(OrderType.BAIL, curfew(window("12:00", "10:00")))) == []


# Home detention curfew (CJA 2003 s.253)


def test_hdc_at_least_nine_hours_every_day():
    spec = order(OrderType.HDC, curfew(window("19:00", "07:00", tuple(Day)[:6]), window("23:00", "07:00", (Day.SUN,))))
    assert messages(spec) == ["Sunday: 8 hours of curfew; home detention curfew must be at least 9 hours a day"]
    assert messages(order(OrderType.HDC, curfew(window("19:00", "07:00")))) == []


def test_hdc_days_without_a_window_are_caught():
    spec = order(OrderType.HDC, curfew(window("19:00", "07:00", (Day.MON, Day.TUE, Day.WED, Day.THU, Day.FRI))))
    assert "Saturday: 0 hours of curfew; home detention curfew must be at least 9 hours a day" in messages(spec)


def test_overlapping_curfew_windows():
    spec = order(OrderType.COMMUNITY_ORDER, curfew(window("19:00", "07:00"), window("06:00", "09:00", (Day.SAT,))))
    assert messages(spec) == ["overlaps window 1 on Saturday: a curfew window must not overlap another"]


def test_a_sunday_night_window_overlapping_monday_morning_is_caught():
    spec = order(OrderType.BAIL, curfew(window("22:00", "08:00", (Day.SUN,)), window("07:00", "09:00", (Day.MON,))))
    assert messages(spec) == ["overlaps window 1 on Monday: a curfew window must not overlap another"]


# Alcohol (AAMR and AML)


def test_aamr_at_most_120_days():
    ok = alcohol(start=date(2026, 11, 1), end=date(2027, 2, 28))  # 120 days
    assert messages(order(OrderType.COMMUNITY_ORDER, ok)) == []
    long = alcohol(start=date(2026, 11, 1), end=date(2027, 3, 1))
    assert messages(order(OrderType.COMMUNITY_ORDER, long)) == ["the AAMR lasts 121 days; it can last at most 120 days"]


def test_aamr_not_for_dependent_drinkers():
    spec = order(OrderType.COMMUNITY_ORDER, alcohol(end=date(2027, 1, 1)), audit_score=15)
    assert messages(spec) == [
        "AUDIT score 15 suggests alcohol dependency; an AAMR is not for dependent drinkers (AUDIT 15 or more)"
    ]
    assert messages(order(OrderType.COMMUNITY_ORDER, alcohol(end=date(2027, 1, 1)), audit_score=14)) == []


def test_aamr_not_with_an_alcohol_treatment_requirement():
    spec = order(OrderType.COMMUNITY_ORDER, alcohol(end=date(2027, 1, 1)), alcohol_treatment_requirement=True)
    assert messages(spec) == ["an AAMR cannot be made together with an alcohol treatment requirement"]


def test_aml_between_30_days_and_12_months():
    short = alcohol(AlcoholRequirement.AML, start=date(2026, 11, 1), end=date(2026, 11, 29))
    assert messages(order(OrderType.LICENCE, short)) == [
        "alcohol monitoring on licence lasts 29 days; it must last at least 30 days"
    ]
    long = alcohol(AlcoholRequirement.AML, start=date(2026, 11, 1), end=date(2027, 11, 1))
    assert messages(order(OrderType.LICENCE, long, end=date(2028, 1, 1))) == [
        "alcohol monitoring on licence runs from 1 November 2026 to 1 November 2027; it can last at most 12 months"
    ]
    ok = alcohol(AlcoholRequirement.AML, start=date(2026, 11, 1), end=date(2027, 10, 31))
    assert messages(order(OrderType.LICENCE, ok, end=date(2028, 1, 1))) == []


# The inspectorate's technology table


def test_alcohol_monitoring_is_not_for_bail():
    assert messages(order(OrderType.BAIL, alcohol(requirement=None, end=date(2027, 1, 1)))) == [
        "alcohol monitoring is for community orders (AAMR) and licences (AML), not bail"
    ]


def test_aamr_is_a_court_requirement_and_aml_a_licence_one():
    assert messages(order(OrderType.LICENCE, alcohol(AlcoholRequirement.AAMR, end=date(2027, 1, 1))))[0].startswith(
        "an AAMR is a requirement of a community order or suspended sentence order"
    )
    assert messages(order(OrderType.COMMUNITY_ORDER, alcohol(AlcoholRequirement.AML, end=date(2027, 1, 1))))[
        0
    ].startswith("alcohol monitoring on licence (AML) needs a licence")


def test_gps_curfew_only_with_location_monitoring():
    spec = order(OrderType.BAIL, curfew(technology=Technology.GPS))
    assert messages(spec) == [
        "a curfew can be monitored by GPS only together with location monitoring: add a trail "
        "condition or use a radio-frequency tag"
    ]
    assert messages(order(OrderType.BAIL, curfew(technology=Technology.GPS), trail())) == []


def test_attendance_needs_location_monitoring():
    appt = Appointment(datetime(2026, 11, 5, 10, tzinfo=UTC), datetime(2026, 11, 5, 11, tzinfo=UTC))
    att = ConditionSpec(id="A", type=ConditionType.ATTENDANCE, place=HOME, appointments=(appt,))
    assert messages(order(OrderType.LICENCE, att)) == [
        "attendance at appointments is monitored through GPS location monitoring: add a trail condition to this order"
    ]
    late = ConditionSpec(id="A", type=ConditionType.ATTENDANCE, place=HOME, appointments=(appt,))
    spec = order(OrderType.LICENCE, late, trail(start=date(2026, 11, 10)))
    assert messages(spec, Severity.WARNING) == [
        "the appointment on 5 November 2026 falls outside location monitoring, so attendance could not be checked"
    ]


# Zones


def test_exclusion_at_most_two_years():
    spec = order(OrderType.LICENCE, trail(), zone(start=date(2026, 11, 1), end=date(2028, 11, 1)), end=date(2029, 1, 1))
    assert (
        "the exclusion runs from 1 November 2026 to 1 November 2028; an exclusion requirement can last at most "
        "2 years" in messages(spec)
    )


def test_a_zone_drawn_but_not_monitored_will_not_raise_alerts():
    spec = order(OrderType.LICENCE, trail(), zone(monitored=False))
    assert messages(spec) == []
    assert messages(spec, Severity.WARNING) == [
        '"Victim\'s street" is drawn but not GPS-monitored, so this zone will not raise alerts. Mark it monitored if '
        "the order makes it a GPS-monitored exclusion or inclusion zone"
    ]


def test_a_monitored_zone_needs_location_monitoring():
    assert messages(order(OrderType.LICENCE, zone())) == [
        '"Victim\'s street" is marked GPS-monitored but the order has no location monitoring: add a trail '
        "condition, or the zone cannot be monitored"
    ]


def test_an_exclusion_zone_that_contains_the_curfew_address():
    around_home = {"lat": HOME.lat + 0.0005, "lon": HOME.lon, "radius_m": 100}
    spec = order(OrderType.COMMUNITY_ORDER, curfew(), trail(), zone(area=around_home))
    assert messages(spec) == [
        'exclusion zone "Victim\'s street" contains the curfew address: the person could not '
        "keep the curfew without entering the zone"
    ]
    # 80 m from the address boundary is not "containing" it.
    near = {"lat": HOME.lat + 0.0014, "lon": HOME.lon, "radius_m": 100}
    assert messages(order(OrderType.COMMUNITY_ORDER, curfew(), trail(), zone(area=near))) == []


# Monitoring that ends before the order


def test_location_monitoring_ending_before_the_order_is_flagged():
    spec = order(OrderType.LICENCE, trail(end=date(2027, 3, 31)))
    assert messages(spec, Severity.WARNING) == [
        "Location monitoring ends on 31 March 2027, before the order ends on 31 October 2027: check that is what the "
        "order says, or arrange an extension"
    ]


def test_a_monitored_zone_outliving_its_trail_would_go_unmonitored():
    spec = order(OrderType.LICENCE, trail(end=date(2027, 3, 31)), zone())
    assert (
        '"Victim\'s street" needs GPS location monitoring, but there is none from 1 April 2027: it would go '
        "unmonitored. Extend the trail condition or end this condition earlier" in messages(spec, Severity.WARNING)
    )


def test_conditions_must_lie_within_their_order():
    spec = order(OrderType.COMMUNITY_ORDER, curfew(start=date(2026, 10, 1), end=date(2027, 12, 1)))
    assert messages(spec)[:2] == [
        "the curfew starts on 1 October 2026, before the order starts on 1 November 2026",
        "the curfew ends on 1 December 2027, after the order ends on 31 October 2027",
    ]


@pytest.mark.parametrize("text", ["25:00", "24:01", "7:00", "19.00", "", "ab:cd", "12:60"])
def test_times_that_are_not_times(text):
    with pytest.raises(ValueError, match="is not a time"):
        parse_hhmm(text)


def test_24_00_is_the_end_of_the_day():
    w = window("00:00", "24:00", (Day.SAT,))
    assert w.duration_min == 24 * 60 and not w.overnight


def test_two_curfews_on_one_order_are_limited_together():
    """12 hours overnight and 9 hours in the day, back to back: 21 hours of curfew, refused, though each
    alone is lawful. Overlapping windows count once."""
    night, day = curfew(window("19:00", "07:00")), curfew(window("07:00", "16:00"))
    found = messages(order(OrderType.COMMUNITY_ORDER, night, day))
    assert (
        "curfews C1 and C2 together: 21 hours of curfew from 19:00 every day; a court curfew can be at most 20 hours "
        "in any day" in found
    )
    assert any("C1 and C2 together: 147 hours of curfew in a week" in m for m in found)
    # Overlapping by an hour: 19:00-07:00 and 06:00-08:00 merge to 13 hours, within every limit.
    assert messages(order(OrderType.COMMUNITY_ORDER, night, curfew(window("06:00", "08:00")))) == []
    # Back to back round the clock: no time out at all.
    always = messages(order(OrderType.COMMUNITY_ORDER, night, curfew(window("07:00", "19:00"))))
    assert any("together leave no time out of curfew" in m for m in always)


def test_curfews_in_force_at_different_times_are_not_added_together():
    first = curfew(window("19:00", "07:00"), end=date(2027, 1, 31))
    later = curfew(window("07:00", "16:00"), start=date(2027, 2, 1))
    assert messages(order(OrderType.COMMUNITY_ORDER, first, later)) == []


def test_a_zone_nobody_monitors_is_flagged_on_an_rf_only_order_too():
    spec = order(OrderType.COMMUNITY_ORDER, curfew(), zone(monitored=False))
    assert messages(spec) == []
    assert messages(spec, Severity.WARNING) == [
        '"Victim\'s street" is drawn but not GPS-monitored, so this zone will not raise alerts. The order has no '
        "location monitoring: if the zone is meant to be monitored, add a GPS trail condition and mark the zone "
        "monitored"
    ]
