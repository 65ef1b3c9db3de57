"""Statutory limits and good-practice checks for an order and its conditions.

Pure Python (no Django): the same rules run on a case-file import, on the portal's forms and on the
person page, so a practitioner sees the same plain message wherever an order is set up or varied.
Sources: DESIGN.md section 4 (Sentencing Act 2020 Sch 9; CJA 2003 s.253; the inspectorate's table).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from openem.engine.casefile import ConditionSpec, OrderSpec
from openem.engine.enums import AlcoholRequirement, ConditionType, Day, OrderType, Technology
from openem.engine.geometry import circle_intersects_area
from openem.engine.schedule import MINUTES_PER_DAY, MINUTES_PER_WEEK, merged_runs, minutes_by_start_day, overlaps

COURT_CURFEW_MIN_H = 2
COURT_CURFEW_MAX_H = 20
COURT_CURFEW_MAX_H_PRE_PCSC = 16
COURT_CURFEW_MAX_WEEK_H = 112
COURT_CURFEW_MAX_YEARS = 2
HDC_MIN_H = 9
AAMR_MAX_DAYS = 120
AUDIT_DEPENDENT = 15
AML_MIN_DAYS = 30
AML_MAX_MONTHS = 12
EXCLUSION_MAX_YEARS = 2

LICENCE_TYPES = (OrderType.HDC, OrderType.LICENCE, OrderType.PAROLE_LICENCE, OrderType.POST_SENTENCE_SUPERVISION)


class Severity(StrEnum):
    ERROR = "error"  # the order cannot be saved like this
    WARNING = "warning"  # allowed, but someone must look at it


@dataclass(frozen=True)
class Finding:
    path: str
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def add_months(d: date, months: int) -> date:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _fmt(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _hours(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    return f"{h} hours" if not m else f"{h} hours {m} minutes"


def condition_dates(order: OrderSpec, cond: ConditionSpec) -> tuple[date, date]:
    """A condition without dates runs for its order."""
    return cond.start or order.start, cond.end or order.end


def check_order(order: OrderSpec, path: str = "order") -> list[Finding]:
    """Every finding for one order, errors first."""
    out: list[Finding] = []
    if order.end < order.start:
        out.append(
            Finding(f"{path}.end", f"the order ends on {_fmt(order.end)}, before it starts on {_fmt(order.start)}")
        )
    trails = [c for c in order.conditions if c.type == ConditionType.TRAIL]
    has_trail = bool(trails)
    curfews = [c for c in order.conditions if c.type == ConditionType.CURFEW]
    out.extend(_check_gps_cover(order, trails, path))
    out.extend(_check_curfews_together(order, path))
    for i, cond in enumerate(order.conditions):
        here = f"{path}.conditions[{i}]"
        out.extend(_check_dates(order, cond, here))
        out.extend(_check_technology(order, cond, has_trail, here))
        if cond.type == ConditionType.CURFEW:
            out.extend(_check_curfew(order, cond, here))
        elif cond.type.is_zone:
            out.extend(_check_zone(order, cond, curfews, has_trail, here))
        elif cond.type == ConditionType.ALCOHOL:
            out.extend(_check_alcohol(order, cond, here))
    out.sort(key=lambda f: f.severity != Severity.ERROR)
    return out


def _check_dates(order: OrderSpec, cond: ConditionSpec, here: str) -> list[Finding]:
    out = []
    start, end = condition_dates(order, cond)
    label = cond.type.label.lower() if cond.type != ConditionType.TRAIL else "location monitoring"
    if cond.start and cond.start < order.start:
        out.append(
            Finding(
                f"{here}.start",
                f"the {label} starts on {_fmt(cond.start)}, before the order starts on {_fmt(order.start)}",
            )
        )
    if cond.end and cond.end > order.end:
        out.append(
            Finding(f"{here}.end", f"the {label} ends on {_fmt(cond.end)}, after the order ends on {_fmt(order.end)}")
        )
    if end < start:
        out.append(Finding(f"{here}.end", f"the {label} ends on {_fmt(end)}, before it starts on {_fmt(start)}"))
    # GPS monitoring that lapses while the order runs is how zones went unmonitored for months.
    lapses = cond.type == ConditionType.TRAIL or (cond.type.is_zone and cond.monitored)
    if lapses and start <= end < order.end:
        out.append(
            Finding(
                f"{here}.end",
                f"{'Location monitoring' if cond.type == ConditionType.TRAIL else label.capitalize()} ends on "
                f"{_fmt(end)}, before the order ends on {_fmt(order.end)}: check that is what the order says, "
                "or arrange an extension",
                Severity.WARNING,
            )
        )
    return out


def _needs_gps(cond: ConditionSpec) -> bool:
    return (
        (cond.type.is_zone and cond.monitored)
        or cond.type == ConditionType.ATTENDANCE
        or (cond.type == ConditionType.CURFEW and cond.technology == Technology.GPS)
    )


def _check_gps_cover(order: OrderSpec, trails: list[ConditionSpec], path: str) -> list[Finding]:
    """A GPS-monitored condition should be covered by location monitoring on every one of its days.

    A warning rather than an error: the example in FORMATS.md has exactly such a gap, and orders are
    sometimes made that way pending an extension; the person page then shows the gap until it is fixed."""
    if not trails:
        return []  # reported per condition by _check_technology / _check_zone
    spans = sorted(condition_dates(order, t) for t in trails)
    out = []
    for i, cond in enumerate(order.conditions):
        if not _needs_gps(cond):
            continue
        if cond.type == ConditionType.ATTENDANCE:
            for ai, appt in enumerate(cond.appointments):
                when = appt.start.date()
                if not any(s_start <= when <= s_end for s_start, s_end in spans):
                    out.append(
                        Finding(
                            f"{path}.conditions[{i}].appointments[{ai}]",
                            f"the appointment on "
                            f"{_fmt(when)} falls outside location monitoring, so attendance could "
                            "not be checked",
                            Severity.WARNING,
                        )
                    )
            continue
        start, end = condition_dates(order, cond)
        day = start
        for s_start, s_end in spans:
            if s_start <= day <= s_end:
                day = s_end + timedelta(days=1)
        if day <= end:
            name = f'"{cond.name}"' if cond.name else f"the {cond.type.label.lower()}"
            out.append(
                Finding(
                    f"{path}.conditions[{i}]",
                    f"{name} needs GPS location monitoring, but there is "
                    f"none from {_fmt(day)}: it would go unmonitored. Extend the trail condition or "
                    "end this condition earlier",
                    Severity.WARNING,
                )
            )
    return out


def _check_technology(order: OrderSpec, cond: ConditionSpec, has_trail: bool, here: str) -> list[Finding]:
    """The inspectorate's table of which technology serves which requirement."""
    t = cond.type
    if t == ConditionType.CURFEW and cond.technology == Technology.GPS and not has_trail:
        return [
            Finding(
                f"{here}.technology",
                "a curfew can be monitored by GPS only together with location "
                "monitoring: add a trail condition or use a radio-frequency tag",
            )
        ]
    if t == ConditionType.ATTENDANCE and not has_trail:
        return [
            Finding(
                here,
                "attendance at appointments is monitored through GPS location monitoring: "
                "add a trail condition to this order",
            )
        ]
    if t == ConditionType.ALCOHOL and order.type == OrderType.BAIL:
        return [
            Finding(f"{here}.type", "alcohol monitoring is for community orders (AAMR) and licences (AML), not bail")
        ]
    if t == ConditionType.ALCOHOL and cond.requirement:
        if cond.requirement == AlcoholRequirement.AAMR and order.type not in (
            OrderType.COMMUNITY_ORDER,
            OrderType.SUSPENDED_SENTENCE_ORDER,
        ):
            return [
                Finding(
                    f"{here}.requirement",
                    "an AAMR is a requirement of a community order or suspended "
                    "sentence order; on licence use alcohol monitoring on licence (AML)",
                )
            ]
        if cond.requirement == AlcoholRequirement.AML and order.type not in LICENCE_TYPES:
            return [
                Finding(
                    f"{here}.requirement",
                    "alcohol monitoring on licence (AML) needs a licence; for a court order use an AAMR",
                )
            ]
    return []


def _check_curfew(order: OrderSpec, cond: ConditionSpec, here: str) -> list[Finding]:
    out: list[Finding] = []
    start, end = condition_dates(order, cond)
    for a, b, day in overlaps(cond.windows):
        out.append(
            Finding(
                f"{here}.windows[{b}]",
                f"overlaps window {a + 1} on {day.label}: a curfew window must not overlap another",
            )
        )
    per_day = minutes_by_start_day(cond.windows)
    if order.type.is_court_order:
        limit = COURT_CURFEW_MAX_H_PRE_PCSC if order.convicted_before_pcsc_act else COURT_CURFEW_MAX_H
        for day in Day:
            minutes = per_day[day]
            if minutes and minutes < COURT_CURFEW_MIN_H * 60:
                out.append(
                    Finding(
                        f"{here}.windows",
                        f"{day.label}: {_hours(minutes)} of curfew; a court curfew "
                        f"must be at least {COURT_CURFEW_MIN_H} hours in any day it applies",
                    )
                )
            if minutes > limit * 60:
                why = " (convicted before the PCSC Act 2022)" if order.convicted_before_pcsc_act else ""
                out.append(
                    Finding(
                        f"{here}.windows",
                        f"{day.label}: {_hours(minutes)} of curfew; a court curfew "
                        f"can be at most {limit} hours in any day{why}",
                    )
                )
        week = sum(per_day.values())
        if week > COURT_CURFEW_MAX_WEEK_H * 60:
            out.append(
                Finding(
                    f"{here}.windows",
                    f"{_hours(week)} of curfew in a week; a court curfew can be at "
                    f"most {COURT_CURFEW_MAX_WEEK_H} hours in any 7 days",
                )
            )
        if end > add_years(start, COURT_CURFEW_MAX_YEARS) - timedelta(days=1):
            out.append(
                Finding(
                    f"{here}.end",
                    f"the curfew runs from {_fmt(start)} to {_fmt(end)}; a court curfew "
                    f"must end within {COURT_CURFEW_MAX_YEARS} years",
                )
            )
    if order.type == OrderType.HDC:
        # The first and last days are exempt (release day and the day the curfew ends), so the
        # weekly timetable itself must give at least 9 hours every day.
        for day in Day:
            if per_day[day] < HDC_MIN_H * 60:
                out.append(
                    Finding(
                        f"{here}.windows",
                        f"{day.label}: {_hours(per_day[day])} of curfew; home "
                        f"detention curfew must be at least {HDC_MIN_H} hours a day",
                    )
                )
    if cond.release_day_start is not None and cond.release_day_start >= MINUTES_PER_DAY:
        out.append(Finding(f"{here}.release_day_start", "the release-day curfew must start before midnight"))
    return out


def _check_curfews_together(order: OrderSpec, path: str) -> list[Finding]:
    """The statutory limits hold for the curfew a person is actually under: all the curfew conditions of
    the order in force on the same days, their windows merged (two curfews of 12 and 9 hours back to
    back are one of 21 hours). Each condition alone is checked in ``_check_curfew``."""
    if not order.type.is_court_order:
        return []
    curfews = [(i, c) for i, c in enumerate(order.conditions) if c.type == ConditionType.CURFEW]
    if len(curfews) < 2:
        return []
    limit = COURT_CURFEW_MAX_H_PRE_PCSC if order.convicted_before_pcsc_act else COURT_CURFEW_MAX_H
    why = " (convicted before the PCSC Act 2022)" if order.convicted_before_pcsc_act else ""
    out: list[Finding] = []
    seen: set[tuple[int, ...]] = set()
    for _i, c in curfews:  # the curfews in force on the day each one starts
        day = condition_dates(order, c)[0]
        together = tuple(
            j for j, other in curfews if condition_dates(order, other)[0] <= day <= condition_dates(order, other)[1]
        )
        if len(together) < 2 or together in seen:
            continue
        seen.add(together)
        windows = [w for j in together for w in order.conditions[j].windows]
        names = " and ".join(order.conditions[j].id for j in together)
        here = f"{path}.conditions[{together[-1]}].windows"
        runs = merged_runs(windows)
        too_long: dict[tuple[int, int], list[Day]] = {}  # (time of day, length) -> the days it starts on
        for start, minutes in runs:
            start_day = list(Day)[start // MINUTES_PER_DAY]
            at = f"{start % MINUTES_PER_DAY // 60:02d}:{start % 60:02d}"
            if minutes >= MINUTES_PER_DAY:
                out.append(
                    Finding(here, f"curfews {names} together leave no time out of curfew from {start_day.label} "
                            f"{at} ({_hours(minutes)} in a row); a court curfew can be at most {limit} hours in any "
                            f"day{why}")
                )  # fmt: skip
            elif minutes > limit * 60:
                too_long.setdefault((start % MINUTES_PER_DAY, minutes), []).append(start_day)
        for (at_min, minutes), days in too_long.items():
            on = "every day" if len(days) == 7 else "on " + _and(d.label for d in days)
            out.append(
                Finding(here, f"curfews {names} together: {_hours(minutes)} of curfew from "
                        f"{at_min // 60:02d}:{at_min % 60:02d} {on}; a court curfew can be at most {limit} hours in "
                        f"any day{why}")
            )  # fmt: skip
        week = sum(minutes for _s, minutes in runs)
        if week > COURT_CURFEW_MAX_WEEK_H * 60 and week < MINUTES_PER_WEEK:
            out.append(
                Finding(here, f"curfews {names} together: {_hours(week)} of curfew in a week; a court curfew can be "
                        f"at most {COURT_CURFEW_MAX_WEEK_H} hours in any 7 days")
            )  # fmt: skip
    return out


def _and(items: Any) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _check_zone(
    order: OrderSpec, cond: ConditionSpec, curfews: list[ConditionSpec], has_trail: bool, here: str
) -> list[Finding]:
    out: list[Finding] = []
    start, end = condition_dates(order, cond)
    name = f'"{cond.name}"' if cond.name else "this zone"
    if cond.type == ConditionType.EXCLUSION_ZONE and end > add_years(start, EXCLUSION_MAX_YEARS) - timedelta(days=1):
        out.append(
            Finding(
                f"{here}.end",
                f"the exclusion runs from {_fmt(start)} to {_fmt(end)}; an exclusion "
                f"requirement can last at most {EXCLUSION_MAX_YEARS} years",
            )
        )
    if cond.monitored and not has_trail:
        out.append(
            Finding(
                f"{here}.monitored",
                f"{name} is marked GPS-monitored but the order has no location "
                "monitoring: add a trail condition, or the zone cannot be monitored",
            )
        )
    if not cond.monitored:
        # Flagged on every order, RF-only ones too: a zone nobody monitors is how exclusion zones went
        # unmonitored for months while everyone believed otherwise.
        fix = (
            "Mark it monitored if the order makes it a GPS-monitored exclusion or inclusion zone"
            if has_trail
            else "The order has no location monitoring: if the zone is meant to be monitored, add a GPS trail "
            "condition and mark the zone monitored"
        )
        out.append(
            Finding(
                f"{here}.monitored",
                f"{name} is drawn but not GPS-monitored, so this zone will not raise alerts. {fix}",
                Severity.WARNING,
            )
        )
    if cond.type == ConditionType.EXCLUSION_ZONE and cond.area is not None:
        for curfew in curfews:
            if curfew.address and circle_intersects_area(curfew.address, cond.area):
                out.append(
                    Finding(
                        f"{here}.area",
                        f"exclusion zone {name} contains the curfew address: the "
                        "person could not keep the curfew without entering the zone",
                    )
                )
    return out


def _check_alcohol(order: OrderSpec, cond: ConditionSpec, here: str) -> list[Finding]:
    out: list[Finding] = []
    start, end = condition_dates(order, cond)
    days = (end - start).days + 1
    requirement = cond.requirement or (
        AlcoholRequirement.AML if order.type in LICENCE_TYPES else AlcoholRequirement.AAMR
    )
    if requirement == AlcoholRequirement.AAMR:
        if days > AAMR_MAX_DAYS:
            out.append(Finding(f"{here}.end", f"the AAMR lasts {days} days; it can last at most {AAMR_MAX_DAYS} days"))
        if order.audit_score is not None and order.audit_score >= AUDIT_DEPENDENT:
            out.append(
                Finding(
                    f"{here}.type",
                    f"AUDIT score {order.audit_score} suggests alcohol dependency; an "
                    f"AAMR is not for dependent drinkers (AUDIT {AUDIT_DEPENDENT} or more)",
                )
            )
        if order.alcohol_treatment_requirement:
            out.append(Finding(f"{here}.type", "an AAMR cannot be made together with an alcohol treatment requirement"))
    else:
        if days < AML_MIN_DAYS:
            out.append(
                Finding(
                    f"{here}.end",
                    f"alcohol monitoring on licence lasts {days} days; it must last at least {AML_MIN_DAYS} days",
                )
            )
        if end > add_months(start, AML_MAX_MONTHS) - timedelta(days=1):
            out.append(
                Finding(
                    f"{here}.end",
                    f"alcohol monitoring on licence runs from {_fmt(start)} to "
                    f"{_fmt(end)}; it can last at most {AML_MAX_MONTHS} months",
                )
            )
    return out


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == Severity.ERROR]


def warnings(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == Severity.WARNING]
