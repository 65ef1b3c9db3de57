"""Each measure against a hand-built quarter with a known answer (2026Q4: 1 October to 31 December, UK
local; British Summer Time ends on 25 October)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from openem.reports.measures import MEASURES, Kind, Period, load
from openem.reports.stats import median

Q4 = Period.parse("2026Q4")
NOW = datetime(2027, 1, 10, 12, tzinfo=UTC)


def t(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def quarter(personas):
    """Two people. Ann (East Midlands): a community order for the whole quarter with an RF curfew 19:00-07:00
    every day, tagged 36 hours after it started, a curfew absence of 2 hours that became an incident
    (notified after 5 minutes, acknowledged after 30, a recall decided two days later), 3 hours of no
    signal, an alcohol tag worn for 10 days with one drinking day, a start review on time and no end review,
    three trail look-ups, and an assessment whose two checks were answered before the recommendation, one
    of them late. Ben (London): an HDC order from 20 December, never fitted, its start review not held."""
    from openem.accounts.models import Team
    from openem.alerts.models import Channel, EnforcementDecision, Incident, Notification, Violation
    from openem.assessments.models import Assessment, Check, ProposedAddress
    from openem.audit.models import AuditAction, AuditEvent
    from openem.cases.models import Condition, Order, Person, Review
    from openem.devices.models import Device, Fitting
    from openem.reports.models import EqualityRecord

    alex = personas["practitioner"]
    london, _ = Team.objects.get_or_create(name="Camden", defaults={"region": "London"})
    ann = Person.objects.create(ref="A1", name="Ann", practitioner=alex, team=alex.team, date_of_birth=date(1990, 1, 1))
    ben = Person.objects.create(ref="B1", name="Ben", team=london, date_of_birth=date(2000, 6, 1))
    EqualityRecord.objects.create(person=ann, ethnic_group="white_british", sex="female", recorded_by=alex)
    EqualityRecord.objects.create(person=ben, ethnic_group="prefer_not_to_say", recorded_by=alex)
    o1 = Order.objects.create(person=ann, ref="O1", type="community_order", start=date(2026, 10, 1),
                              end=date(2026, 12, 31))  # fmt: skip
    window = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "19:00", "end": "07:00"}
    Condition.objects.create(order=o1, ref="C1", type="curfew",
                             spec={"id": "C1", "type": "curfew", "technology": "rf", "windows": [window]})  # fmt: skip
    Condition.objects.create(order=o1, ref="C2", type="alcohol", spec={"id": "C2", "type": "alcohol"})
    o2 = Order.objects.create(person=ben, ref="O2", type="hdc", start=date(2026, 12, 20), end=date(2027, 3, 31))
    Condition.objects.create(order=o2, ref="C1", type="curfew",
                             spec={"id": "C1", "type": "curfew", "technology": "gps", "windows": [window]})  # fmt: skip
    rf = Device.objects.create(ref="RF-A", kind="rf")
    alc = Device.objects.create(ref="ALC-A", kind="alcohol")
    # 1 October 00:00 BST is 30 September 23:00 UTC: fitted 36 hours later.
    Fitting.objects.create(device=rf, person=ann, fitted_at=t(10, 2, 11), removed_at=t(1, 2, year=2027))
    Fitting.objects.create(device=alc, person=ann, fitted_at=t(12, 1), removed_at=t(12, 11))
    absence = Violation.objects.create(key="v1", person=ann, order_ref="O1", type="curfew_absence",
                                       category="behaviour", start=t(11, 10, 20), end=t(11, 10, 22))  # fmt: skip
    Violation.objects.create(key="v2", person=ann, order_ref="O1", type="no_signal", category="equipment",
                             start=t(11, 12, 1), end=t(11, 12, 4))  # fmt: skip
    Violation.objects.create(key="v3", person=ann, order_ref="O1", type="alcohol_confirmed", category="behaviour",
                             start=t(12, 5, 21), end=t(12, 5, 23))  # fmt: skip
    incident = Incident.objects.create(person=ann, kind="behaviour", severity="high", start=t(11, 10, 20),
                                       end=t(11, 10, 22), summary="Curfew absence",
                                       acknowledged_at=t(11, 10, 20, 30))  # fmt: skip
    Violation.objects.filter(pk=absence.pk).update(incident=incident)
    channel = Channel.objects.create(user=alex, kind="email", target="alex@example.org")
    n = Notification.objects.create(incident=incident, user=alex, channel=channel, kind="immediate", subject="s",
                                    body="b")  # fmt: skip
    Notification.objects.filter(pk=n.pk).update(created=t(11, 10, 20, 5))
    EnforcementDecision.objects.create(incident=incident, decision="recall", reason="r", decided_on=date(2026, 11, 12),
                                       by=alex)  # fmt: skip
    Review.objects.create(order=o1, stage="start", held_on=date(2026, 10, 5), summary="s", by=alex)
    for ms in (120, 400, None):  # the last recorded before look-ups were timed: not in the median
        AuditEvent.record(alex, AuditAction.VIEW, person=ann, summary="trail", period=(t(11, 1), t(11, 2)),
                          elapsed_ms=ms)  # fmt: skip
    a = Assessment.objects.create(person=ann, proposal="community_order", offence="x", recommends_curfew=True,
                                  status="decided", decision="imposed", decided_on=date(2026, 11, 1))  # fmt: skip
    address = ProposedAddress.objects.create(assessment=a, label="1 Road")
    Check.objects.create(address=address, kind="domestic_abuse", asked_whom="police", asked_on=date(2026, 10, 11),
                         due_on=date(2026, 10, 25), answer="no_concerns", answered_on=date(2026, 10, 20))  # fmt: skip
    Check.objects.create(address=address, kind="safeguarding", asked_whom="cs", asked_on=date(2026, 10, 11),
                         due_on=date(2026, 10, 25), answer="no_concerns", answered_on=date(2026, 10, 28))  # fmt: skip
    return load(Q4, NOW)


def figure(code: str, facts) -> float | None:
    m = MEASURES[code]
    units = m.compute(facts)
    if m.kind == Kind.COUNT:
        return len(units)
    if m.kind == Kind.MEDIAN:
        return median(u[2] for u in units)
    return sum(u[2] for u in units) / sum(u[3] for u in units) * m.scale


MONITORED_H = (t(1, 1, year=2027) - t(10, 2, 11)).total_seconds() / 3600  # to the quarter's end
KNOWN = {
    "people_monitored": 2,  # both orders in force on 31 December
    "orders_started": 2,
    "orders_ended": 1,
    "hours_to_fit": 36.0,
    "never_fitted": 50.0,  # Ben's
    "hours_monitored": MONITORED_H / 2,  # Ann's hours, per person monitored (Ben: none)
    "hours_no_data": 3 / 2,
    # Scheduled: Ann 12 h x 92 days, Ben 12 h x 12 days (20-31 December); breach: Ann's 2 hours.
    "curfew_breach_rate": 2 / (12 * 92 + 12 * 12) * 1000,
    "behaviour_violations": 2 / (MONITORED_H / 24) * 1000,  # per person with a device: Ann alone
    "equipment_violations": 1 / (MONITORED_H / 24) * 1000,
    "behaviour_incidents": 1 / (MONITORED_H / 24) * 1000,
    "equipment_incidents": 0.0,
    "sober_days": 90.0,  # 9 of 10 days worn
    "alcohol_days_worn": 10.0,
    "minutes_to_notified": 5.0,
    "minutes_to_acknowledged": 30.0,
    "days_to_decision": 2.0,
    "decision_no_action": 0.0,
    "decision_warning": 0.0,
    "decision_breach": 0.0,
    "decision_recall": 100.0,
    "recalls_equipment_first": 0.0,  # it began with the curfew absence
    "reviews_on_time": 100 / 3,  # Ann's start review; not her end review, nor Ben's start review
    "checks_before_recommendation": 100.0,
    "checks_overdue": 50.0,  # the safeguarding check answered three days late
    "trail_lookups": 3,
    "trail_lookup_seconds": 0.26,  # the median of 0.12 s and 0.40 s
}
# By type: Ann's curfew absence, drinking and silence, per 1,000 of her device-days; no other type.
KNOWN |= {f"violations_{t}": 0.0 for t in ("exclusion_zone_entry", "inclusion_zone_exit", "attendance_missed",
                                           "alcohol_level_exceeded", "tamper", "location_failure",
                                           "battery_depleted", "home_unit_power", "not_fitted")}  # fmt: skip
KNOWN |= {
    f"violations_{t}": 1 / (MONITORED_H / 24) * 1000 for t in ("curfew_absence", "alcohol_confirmed", "no_signal")
}


@pytest.mark.django_db
@pytest.mark.parametrize("code", sorted(KNOWN))
def test_each_measure_has_its_known_answer(quarter, code):
    assert figure(code, quarter) == pytest.approx(KNOWN[code], rel=1e-9), code


def test_every_available_measure_is_tested_and_the_others_say_why():
    for code, m in MEASURES.items():
        assert code in KNOWN or (not m.available and m.not_available), code


@pytest.mark.django_db
def test_a_measure_counts_the_person_in_their_own_groups(quarter):
    """People monitored: Ann under female and White British, Ben under prefer not to say and sex not
    recorded; order type and technology as the official statistics' cohorts."""
    units = MEASURES["people_monitored"].compute(quarter)
    groups = sorted(g for _p, g, _y, _x in units)
    assert groups == ["community_order|alcohol+rf", "hdc|gps"]
    assert {quarter.people[p]["region"] for p, *_r in units} == {"East Midlands", "London"}
    assert sorted(quarter.people[p]["sex"] for p, *_r in units) == ["female", "not_recorded"]
    assert sorted(quarter.people[p]["ethnic_group_high"] for p, *_r in units) == ["prefer_not_to_say", "white"]


@pytest.mark.django_db
def test_the_refresh_stores_the_figures_and_hides_what_is_small(quarter, settings):
    from openem.reports.models import MiCell
    from openem.reports.refresh import refresh

    refresh(Q4, NOW)
    total = MiCell.objects.get(period="2026Q4", measure="people_monitored", breakdown="", region="")
    assert total.suppressed and total.small and total.units == 0 and total.value is None  # 2 people: fewer than 10
    settings.OPENEM_MI_SUPPRESS_BELOW = 1
    refresh(Q4, NOW)
    total = MiCell.objects.get(period="2026Q4", measure="people_monitored", breakdown="", region="")
    assert not total.suppressed and total.value == 2
    london = MiCell.objects.get(period="2026Q4", measure="people_monitored", breakdown="", region="London")
    assert london.value == 1


def test_quarters():
    assert str(Period.parse(" 2026 q4 ")) == "2026Q4"
    assert Q4.first_day == date(2026, 10, 1) and Q4.last_day == date(2026, 12, 31)
    assert [str(p) for p in Q4.last(3)] == ["2026Q2", "2026Q3", "2026Q4"]
    assert Q4.start.utcoffset().total_seconds() == 3600  # 1 October is summer time
    with pytest.raises(ValueError, match="like 2026Q4"):
        Period.parse("2026-10")


@pytest.mark.django_db
def test_a_refreshed_quarter_with_nothing_in_it_shows_nothing_counted_not_not_refreshed(quarter, settings):
    from openem.reports.publish import trend
    from openem.reports.refresh import refresh

    settings.OPENEM_MI_SUPPRESS_BELOW = 1
    refresh(Q4, NOW)
    refresh(Q4.previous(), NOW)  # no orders then
    (_q3, before), (_q4, now) = trend(Q4, MEASURES["people_monitored"], "", quarters=2)
    assert before is not None and before.units == 0 and before.shown == "0"
    assert now is not None and now.units == 2
    (_q, rate), _now = trend(Q4, MEASURES["curfew_breach_rate"], "", quarters=2)
    assert rate is not None and rate.shown == "-"
    (_q, never), _now = trend(Q4.previous(), MEASURES["people_monitored"], "", quarters=2)
    assert never is None  # 2026Q2 was never refreshed
