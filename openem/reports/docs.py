"""Each measure's published definition: what is counted, from which records, at which date, in which time
zone. The downloads' Definitions sheet carries these words; docs/mi.md carries the same (a test checks)."""

from __future__ import annotations

from openem.engine.violations import ViolationType

DEFINITIONS: dict[str, str] = {
    "people_monitored": (
        "People with a monitored order (an order with at least one condition needing a device: a curfew, a "
        "GPS-monitored zone, a trail, attendance or alcohol monitoring) in force on the last day of the quarter, "
        "or today while the quarter is still running (cases.Order start and end, both inclusive, UK local dates). "
        "A person with several such orders counts once, under the order in force latest in the quarter."
    ),
    "orders_started": "Monitored orders (cases.Order) whose start date (UK local) falls in the quarter.",
    "orders_ended": "Monitored orders (cases.Order) whose end date (UK local) falls in the quarter.",
    "hours_to_fit": (
        "For monitored orders starting in the quarter and fitted by its end: hours from 00:00 UK local time on "
        "the order's start date to the first device fitting of the person (devices.Fitting.fitted_at) that "
        "overlaps the order; a device fitted before the start counts as 0 hours. The median."
    ),
    "never_fitted": (
        "Of monitored orders in force at any time in the quarter (and started by its end, or by now), the "
        "percentage with no device fitting (devices.Fitting) overlapping the order by the end of the quarter."
    ),
    "hours_monitored": (
        "Hours in the quarter during which at least one device was fitted to the person (devices.Fitting, "
        "fitted_at to removed_at, overlapping devices counted once), per person with a monitored order in the "
        "quarter."
    ),
    "hours_no_data": (
        "Device-hours in the quarter with no data: the duration of the equipment violations no signal, location "
        "failure, battery depleted, home unit without power and not fitted (alerts.Violation, not retracted, "
        "clipped to the quarter), per person with a monitored order in the quarter."
    ),
    "curfew_breach_rate": (
        "Hours of curfew absence (alerts.Violation of type curfew_absence, not retracted, clipped to the quarter) "
        "per 1,000 curfew hours scheduled in the quarter (each curfew condition's weekly window hours / 7 x the "
        "days it was in force in the quarter; the hour gained or lost at a clock change is not counted)."
    ),
    "behaviour_violations": (
        "Behaviour violations (alerts.Violation, category behaviour, not retracted) starting in the quarter, per "
        "1,000 device-days (days with at least one device fitted, from devices.Fitting, in the quarter)."
    ),
    "equipment_violations": (
        "Equipment violations (alerts.Violation, category equipment, not retracted) starting in the quarter, per "
        "1,000 device-days."
    ),
    "behaviour_incidents": (
        "Behaviour incidents (alerts.Incident, kind behaviour) starting in the quarter, per 1,000 device-days."
    ),
    "equipment_incidents": (
        "Equipment incidents (alerts.Incident, kind equipment) starting in the quarter, per 1,000 device-days. "
        "Area outages name no person and are not counted."
    ),
    "sober_days": (
        "Of the UK local days in the quarter on which an alcohol tag was worn (any part of the day, from "
        "devices.Fitting), the percentage with no confirmed alcohol, alcohol level exceeded or tamper violation "
        "(alerts.Violation, not retracted) on that day. The service's published national rate is 97%."
    ),
    "alcohol_days_worn": "UK local days in the quarter with an alcohol tag worn, per person who wore one.",
    "minutes_to_notified": (
        "For behaviour incidents starting in the quarter: minutes from the incident's start (its first "
        "violation) to the first notification queued about it (alerts.Notification.created). The median."
    ),
    "minutes_to_acknowledged": (
        "For behaviour incidents starting in the quarter and acknowledged: minutes from the incident's start to "
        "alerts.Incident.acknowledged_at. The median."
    ),
    "days_to_decision": (
        "For behaviour incidents starting in the quarter with an enforcement decision: days from the UK local "
        "date the incident started to the first decision's date (alerts.EnforcementDecision.decided_on). The "
        "median."
    ),
    "decision_no_action": (
        "Of enforcement decisions dated in the quarter (alerts.EnforcementDecision.decided_on), the percentage "
        "of no further action."
    ),
    "decision_warning": "Of enforcement decisions dated in the quarter, the percentage of warnings.",
    "decision_breach": "Of enforcement decisions dated in the quarter, the percentage of breach proceedings.",
    "decision_recall": "Of enforcement decisions dated in the quarter, the percentage of recall requests.",
    "recalls_equipment_first": (
        "Of recall decisions dated in the quarter, the percentage whose incident's earliest violation (by start, "
        "not retracted) was an equipment violation rather than behaviour."
    ),
    "reviews_on_time": (
        "Start-of-monitoring reviews due in the quarter (7 days after a monitored order's start) and "
        "end-of-monitoring reviews due in it (on the order's end date): the percentage held (cases.Review.held_on) "
        "by the date due. Four-weekly reviews during supervision are not yet counted."
    ),
    "checks_before_recommendation": (
        "Assessments recommending a curfew or monitoring, decided in the quarter (assessments.Assessment."
        "decided_on): the percentage where both the domestic-abuse and the safeguarding check were answered for "
        "every proposed address on or before the decision date."
    ),
    "checks_overdue": (
        "Domestic-abuse and safeguarding checks (assessments.Check) due in the quarter and due before today: the "
        "percentage not answered by the date due."
    ),
    "trail_lookups": (
        "Audited looks at a person's location data in the quarter (audit.AuditEvent with a period: trail page, "
        "trail API, exports, evidence packs), by the person whose trail it was."
    ),
    "trail_lookup_seconds": (
        "Audited looks at location data in the quarter that record how long the answer took (audit.AuditEvent "
        ".elapsed_ms, written by the audited trail read since version 2; earlier looks have none and are not "
        "counted): the median, in seconds, by the person whose trail it was. The service inspected waited days."
    ),
}

for _vt in ViolationType:
    DEFINITIONS[f"violations_{_vt.value}"] = (
        f"Violations of type {_vt.value} ({_vt.category.value}; alerts.Violation, not retracted) starting in the "
        "quarter, per 1,000 device-days."
    )
