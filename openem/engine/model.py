"""The case file compiled for evaluation: per person, conditions with metric geometry and time spans,
and which device serves which person when."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry import Point

from .casefile import CaseFile, ConditionSpec, OrderSpec, PersonSpec
from .enums import ConditionType, DeviceKind, Technology
from .geometry import LocalProjection, area_shape, fast_metric

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Params:
    """Every threshold the rules use; docs/engine.md says why each default is what it is."""

    rf_grace_s: float = 180.0  # out of range for less than this is range flapping, not absence
    gps_away_margin_m: float = 25.0  # beyond the property plus the fix's accuracy plus this: away
    gps_away_fixes: int = 3  # consecutive away fixes to start a GPS curfew absence
    gps_stale_s: float = 1200.0  # with no fix for longer than this, what the fixes show ends
    gps_home_fixes: int = 1
    zone_enter_fixes: int = 2  # consecutive certainly-inside fixes for a zone entry
    zone_leave_fixes: int = 2  # consecutive certainly-outside fixes to end it (hysteresis)
    pass_through_max_gap_s: float = 300.0  # fixes further apart than this cannot show a pass-through
    pass_through_max_speed_mps: float = 45.0
    pass_through_depth: float = 0.1  # the line must pass this share of its length inside the zone's edge
    max_accuracy_m: float = 100.0  # a fix worse than this is not used for rules
    # A fix that gives neither accuracy_m nor hdop is taken to be this uncertain, never precise: a street's
    # width, what a phone or tag reports on a poor fix, so a fix that says nothing decides no edge alone.
    unreported_accuracy_m: float = 50.0
    spike_jump_m: float = 60.0  # a fix further than this from both neighbours that agree: multipath
    attendance_tolerance_s: float = 600.0
    attendance_away_fixes: int = 2
    location_failure_s: float = 5400.0  # no usable fix for 90 minutes while the tag reports
    no_signal_s: dict[str, float] = field(default_factory=lambda: {"gps": 2700.0, "rf": 4500.0, "alcohol": 4500.0})
    no_signal_other_s: float = 4500.0  # a device of a kind not in no_signal_s
    battery_flat_pct: float = 10.0
    battery_low_pct: float = 15.0
    not_fitted_grace_s: float = 4 * 3600.0
    alcohol_threshold_g_dl: float = 0.02
    alcohol_confirm_readings: int = 2
    alcohol_episode_gap_s: float = 3 * 3600.0  # above-threshold readings closer than this: one episode
    alcohol_max_rise_g_dl_h: float = 0.08  # faster than drinking can raise transdermal alcohol
    obstruction_ir_v: float = 2.0
    obstruction_temp_c: float = 28.0
    obstruction_confirm_readings: int = 2  # an alcohol tag covered: this many readings in a row, not one
    zone_episode_merge_s: float = 300.0  # a zone left and re-entered within this is one episode

    def no_signal_limit_s(self, kind: str) -> float:
        """How long a device of this kind may be silent before it is a violation."""
        return self.no_signal_s.get(kind, self.no_signal_other_s)


@dataclass
class Circle:
    x: float
    y: float
    r: float


@dataclass
class Cond:
    spec: ConditionSpec
    order: OrderSpec
    span: tuple[float, float]  # when the condition applies, Unix seconds [start, end)
    place: Circle | None = None
    shape: Any = None  # metric polygon for zones
    monitored: bool = True
    cores: dict[float, Any] = field(default_factory=dict)  # the zone shrunk by each depth, cached
    spans_cache: dict[tuple[float, float], list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.spec.id

    def needs(self) -> DeviceKind | None:
        return device_kind_needed(self.spec)


def device_kind_needed(spec: ConditionSpec) -> DeviceKind | None:
    """The kind of device a condition is monitored with; None for a zone that is not GPS-monitored."""
    t = spec.type
    if t == ConditionType.CURFEW:
        return DeviceKind.GPS if spec.technology == Technology.GPS else DeviceKind.RF
    if t == ConditionType.ALCOHOL:
        return DeviceKind.ALCOHOL
    if t.is_zone and not spec.monitored:
        return None
    return DeviceKind.GPS


@dataclass
class Subject:
    person: PersonSpec
    proj: LocalProjection
    conditions: list[Cond] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.person.id

    def of_type(self, *types: ConditionType) -> list[Cond]:
        return [c for c in self.conditions if c.spec.type in types]

    def to_metric(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.proj.fast_xy(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))


@dataclass
class Fitting:
    subject: Subject
    kind: DeviceKind
    fitted: float
    removed: float | None


def local_day_start(d: date) -> float:
    return datetime.combine(d, time(0), LONDON).timestamp()


def _span(order: OrderSpec, cond: ConditionSpec) -> tuple[float, float]:
    start = cond.start or order.start
    end = cond.end or order.end
    return local_day_start(start), local_day_start(end + timedelta(days=1))


def _centre(p: PersonSpec) -> tuple[float, float]:
    for o in p.orders:
        for c in o.conditions:
            if c.address:
                return c.address.lat, c.address.lon
            if c.place:
                return c.place.lat, c.place.lon
            if c.area is not None:
                pt = area_shape(c.area).representative_point()
                return pt.y, pt.x
    return 52.67, -0.73


@dataclass
class Model:
    subjects: dict[str, Subject]
    fittings: dict[str, list[Fitting]]  # device id -> fittings

    def fittings_of(self, subject: Subject) -> list[Fitting]:
        if not hasattr(self, "_by_subject"):
            index: dict[str, list[Fitting]] = {}
            for fs in self.fittings.values():
                for f in fs:
                    index.setdefault(f.subject.id, []).append(f)
            self._by_subject = index
        return self._by_subject.get(subject.id, [])

    def fitting_at(self, device: str, t: float) -> Fitting | None:
        for f in self.fittings.get(device, []):
            if f.fitted <= t and (f.removed is None or t < f.removed):
                return f
        return None


def compile_cases(cf: CaseFile, on_error: Callable[[PersonSpec, Exception], None] | None = None) -> Model:
    """The case file ready for evaluation. ``on_error``: a person whose orders cannot be compiled is
    passed to it and left out, and everyone else is compiled (the engine worker); without it the error
    propagates."""
    subjects: dict[str, Subject] = {}
    fittings: dict[str, list[Fitting]] = {}
    for p in cf.people:
        try:
            subj = _compile_person(p)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(p, exc)
            continue
        subjects[p.id] = subj
        for d in p.devices:
            if d.fitted is None:
                continue
            fittings.setdefault(d.id, []).append(
                Fitting(subj, d.kind, d.fitted.timestamp(), d.removed.timestamp() if d.removed else None)
            )
    return Model(subjects, fittings)


def _compile_person(p: PersonSpec) -> Subject:
    lat0, lon0 = _centre(p)
    subj = Subject(p, LocalProjection(lat0, lon0))
    for order in p.orders:
        for spec in order.conditions:
            cond = Cond(spec, order, _span(order, spec))
            circle = spec.address or spec.place
            if circle is not None:
                x, y = subj.to_metric(np.array([circle.lat]), np.array([circle.lon]))
                cond.place = Circle(float(x[0]), float(y[0]), circle.radius_m)
            if spec.area is not None:
                cond.shape = fast_metric(subj.proj, area_shape(spec.area))
                if "radius_m" in spec.area:
                    # A circle stays a true circle in metres, not the 32-gon drawn for maps.
                    x, y = subj.to_metric(np.array([spec.area["lat"]]), np.array([spec.area["lon"]]))
                    cond.shape = Point(float(x[0]), float(y[0])).buffer(spec.area["radius_m"], quad_segs=32)
                shapely.prepare(cond.shape)
                cond.monitored = spec.monitored
            subj.conditions.append(cond)
    return subj
