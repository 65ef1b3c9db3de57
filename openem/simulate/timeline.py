"""What each simulated person actually does, minute by minute: stays at places and trips between them.

A day is planned from the person's routine (work, shops, the pub, appointments) and their curfew, then
changed on a 'bad day' by their behaviour profile. The result is a continuous timeline for the whole
period; the truth and the device readings are both derived from it, so they cannot disagree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from openem.engine.schedule import Window, occurrences

from .population import SimPerson, local_epoch
from .profiles import Behaviour, SimConfig
from .world import Place, Route, World, travel_mode

MIN = 60.0
HOUR = 3600.0


@dataclass
class Stay:
    start: float
    end: float
    place: Place


@dataclass
class Move:
    start: float
    end: float
    route: Route
    mode: str
    origin: Place
    dest: Place


Segment = Stay | Move


@dataclass
class Drinking:
    start: float  # first drink
    peak_g_dl: float
    rise_s: float  # time from first drink to peak transdermal alcohol
    elimination_g_dl_h: float


@dataclass
class Timeline:
    person: SimPerson
    segments: list[Segment] = field(default_factory=list)
    drinking: list[Drinking] = field(default_factory=list)
    env_alcohol: list[tuple[float, float]] = field(default_factory=list)  # (start, peak)
    tampers: list[tuple[str, float, float]] = field(default_factory=list)  # (device kind, open, close)
    bad_days: list[tuple[date, Behaviour]] = field(default_factory=list)
    missed: list[tuple[float, float]] = field(default_factory=list)
    edge_clips: list[tuple[float, float]] = field(default_factory=list)

    def positions(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True (x, y) in metres at times t, and whether the person is indoors (at a place)."""
        x = np.full(len(t), np.nan)
        y = np.full(len(t), np.nan)
        indoors = np.zeros(len(t), dtype=bool)
        starts = np.array([s.start for s in self.segments])
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(self.segments) - 1)
        if len(t) > 1 and (np.diff(t) >= 0).all():
            # Times in order (as the devices ask): each segment's times are one slice.
            ks = np.arange(idx[0], idx[-1] + 1)
            bounds = np.searchsorted(idx, np.append(ks, ks[-1] + 1))
            spans = [
                (int(k), slice(int(a), int(b))) for k, a, b in zip(ks, bounds[:-1], bounds[1:], strict=True) if b > a
            ]
        else:
            spans = [(int(k), idx == k) for k in np.unique(idx)]
        for k, mask in spans:
            seg = self.segments[k]
            if isinstance(seg, Stay):
                x[mask], y[mask] = seg.place.x, seg.place.y
                indoors[mask] = True
            else:
                x[mask], y[mask] = seg.route.position(t[mask] - seg.start)
        return x, y, indoors

    def stays_at(self, place: Place) -> list[tuple[float, float]]:
        return [(s.start, s.end) for s in self.segments if isinstance(s, Stay) and s.place is place]


def tac_curve(events: list[Drinking], t: np.ndarray) -> np.ndarray:
    """Transdermal alcohol (g/dl) at times t: a smooth rise to the peak, then linear elimination,
    the shape of the SCRAM readings in the bar-crawl data."""
    tac = np.zeros(len(t))
    for ev in events:
        dt = t - ev.start
        rising = (dt >= 0) & (dt < ev.rise_s)
        tac[rising] += ev.peak_g_dl * (1 - np.cos(np.pi * dt[rising] / ev.rise_s)) / 2
        falling = dt >= ev.rise_s
        tac[falling] += np.maximum(0.0, ev.peak_g_dl - ev.elimination_g_dl_h * (dt[falling] - ev.rise_s) / HOUR)
    return tac


def environmental_curve(spikes: list[tuple[float, float]], t: np.ndarray) -> np.ndarray:
    """Alcohol on the skin from hand gel or solvents: up within minutes, gone within the hour."""
    out = np.zeros(len(t))
    for start, peak in spikes:
        dt = t - start
        up = (dt >= 0) & (dt < 300)
        out[up] += peak * dt[up] / 300
        down = dt >= 300
        out[down] += peak * np.exp(-(dt[down] - 300) / 1200)
    return out


class DayPlanner:
    def __init__(self, world: World, person: SimPerson, config: SimConfig, rng: random.Random) -> None:
        self.cur: Place = person.home
        self.t = 0.0
        self.since = 0.0
        self.timeline_missed: list[tuple[float, float]] = []
        self.world = world
        self.p = person
        self.config = config
        self.rng = rng
        self.windows = [Window.from_json(w) for w in person.curfew["windows"]] if person.curfew else []

    # A cursor walks through the day: where the person is and since when.
    # ``since`` is when the person arrived where they are; ``t`` the earliest they may leave.
    def _go(self, tl: Timeline, to: Place, depart: float) -> None:
        cur = self.cur
        depart = max(depart, self.t)
        if to is cur:
            return
        tl.segments.append(Stay(self.since, depart, cur))
        mode = self._mode(cur, to)
        route = self.world.route(cur, to, mode)
        tl.segments.append(Move(depart, depart + route.duration_s, route, mode, cur, to))
        self.cur, self.t = to, depart + route.duration_s
        self.since = self.t

    def _travel_s(self, a: Place, b: Place) -> float:
        return self.world.route(a, b, self._mode(a, b)).duration_s

    def _mode(self, a: Place, b: Place) -> str:
        return travel_mode(a, b, self.config.seed)

    def _curfew_bounds(self, day: date) -> tuple[float | None, float | None]:
        """(morning end of last night's curfew, start of tonight's curfew) as epochs, if any."""
        morning = evening = None
        for s, e, _ in occurrences(self.windows, day - timedelta(days=1), day):
            if e.date() == day or (s.date() < day <= e.date()):
                morning = e.timestamp() if s.timestamp() < local_epoch(day, "12:00") else morning
            if s.timestamp() >= local_epoch(day, "12:00") and s.timestamp() < local_epoch(day, "24:00"):
                evening = s.timestamp()
        return morning, evening

    def plan(self, tl: Timeline, day: date, bad: Behaviour | None) -> None:
        rng, p = self.rng, self.p
        home = p.home
        morning_end, evening_start = self._curfew_bounds(day)
        weekend = day.weekday() >= 5
        leave = local_epoch(day, "07:15") + rng.uniform(0, 75) * MIN
        if weekend:
            leave = local_epoch(day, "10:00") + rng.uniform(0, 90) * MIN
        if morning_end is not None:
            leave = max(leave, morning_end + rng.uniform(10, 40) * MIN)
        home_by = local_epoch(day, "22:30") + rng.uniform(0, 60) * MIN
        if evening_start is not None:
            home_by = evening_start - rng.uniform(12, 45) * MIN
        if self.cur is not home:
            # Coming back from a night away.
            self._go(tl, home, max(self.t, leave))
        appt = next(
            ((s, e) for s, e in p.appointments if local_epoch(day, "00:00") <= s < local_epoch(day, "24:00")), None
        )

        if bad == Behaviour.LEAVES_EARLY and morning_end is not None:
            leave = morning_end - rng.uniform(25, 90) * MIN
        plan: list[tuple[Place, float, float]] = []  # (place, arrive_at, leave_at)
        if p.work is not None and not weekend:
            work_end = local_epoch(day, "16:30") + rng.uniform(0, 60) * MIN
            arrive = leave + self._travel_s(home, p.work)
            if appt is not None and bad != Behaviour.MISSES_APPOINTMENT:
                # Out of work for the appointment, and back afterwards.
                to_office = self._travel_s(p.work, self.world.office)
                plan.append((p.work, arrive, appt[0] - to_office - 15 * MIN))
                plan.append((p.work, appt[1] + to_office + 10 * MIN, work_end))
            else:
                plan.append((p.work, arrive, work_end))
        elif rng.random() < 0.7 or bad == Behaviour.LEAVES_EARLY:
            shop = rng.choice(p.shops)
            arrive = leave + self._travel_s(home, shop)
            plan.append((shop, arrive, arrive + rng.uniform(20, 45) * MIN))
        if appt is not None:
            missed = bad == Behaviour.MISSES_APPOINTMENT
            if missed:
                self.timeline_missed.append(appt)
            else:
                plan.append((self.world.office, appt[0] - rng.uniform(5, 15) * MIN, appt[1] + rng.uniform(2, 10) * MIN))
        midday = local_epoch(day, "12:00") + rng.uniform(-60, 120) * MIN
        if bad == Behaviour.ZONE_LINGER and p.linger_target is not None:
            plan.append((p.linger_target, midday, midday + rng.uniform(15, 60) * MIN))
        if bad == Behaviour.ZONE_DRIVE_THROUGH and p.drive_target is not None:
            plan.append((p.drive_target, midday, midday + rng.uniform(30, 90) * MIN))
        if bad == Behaviour.LEAVES_INCLUSION_ZONE and p.outside_target is not None:
            plan.append((p.outside_target, midday, midday + rng.uniform(60, 180) * MIN))
        plan.sort(key=lambda v: v[1])

        # Evening: the pub, a friend's, or home.
        evening: tuple[Place, float, float] | None = None
        pub = p.leisure[0]
        if bad == Behaviour.DRINKS or (bad is None and rng.random() < 0.35):
            start = local_epoch(day, "17:30") + rng.uniform(-60, 60) * MIN
            end = start + rng.uniform(100, 200) * MIN
            evening = (pub, start, end)
        if bad == Behaviour.OUT_ALL_NIGHT:
            evening = (p.friend, local_epoch(day, "18:00") + rng.uniform(0, 60) * MIN, float("inf"))
        if bad == Behaviour.HOME_LATE and evening_start is not None:
            arrive_home = evening_start + rng.uniform(20, 120) * MIN
            place = pub if evening is None else evening[0]
            evening = (
                place,
                min(evening[1] if evening else local_epoch(day, "18:00"), evening_start - HOUR),
                arrive_home - self._travel_s(place, home),
            )
        elif evening is not None and evening[2] != float("inf"):
            latest = home_by - self._travel_s(evening[0], home)
            evening = (evening[0], evening[1], min(evening[2], latest)) if latest - evening[1] > 40 * MIN else None

        # Walk the plan: each visit from wherever the person is, never travelling back in time.
        for place, arrive, leave_at in plan:
            depart = max(self.t, arrive - self._travel_s(self.cur, place))
            if self.cur is not home and depart - self.t > HOUR + self._travel_s(self.cur, home):
                self._go(tl, home, self.t)  # a long wait is spent at home
                depart = max(self.t, arrive - self._travel_s(home, place))
            self._go(tl, place, depart)
            self.t = max(self.t, leave_at) if leave_at > self.t else self.t + 10 * MIN
            if bad != Behaviour.LEAVES_EARLY and bad != Behaviour.HOME_LATE and evening_start is not None:
                # Someone keeping their curfew cuts a visit short rather than be late.
                latest = home_by - self._travel_s(place, home)
                self.t = min(self.t, max(latest, self.t - 10 * HOUR))
        if evening is not None:
            place, start, end = evening
            self._go(tl, place, max(self.t, start - self._travel_s(self.cur, place)))
            if end == float("inf"):
                self.t = max(self.t, start)
                return  # the night away continues into the next day
            self.t = max(self.t, end)
        self._go(tl, home, self.t)

    def run(self, days: list[date], bad_days: dict[date, Behaviour]) -> Timeline:
        tl = Timeline(self.p)
        self.timeline_missed = tl.missed
        self.cur, self.t = self.p.home, local_epoch(days[0], "00:00") - 6 * HOUR
        self.since = self.t
        for day in days:
            bad = bad_days.get(day)
            before = len(tl.segments)
            self.plan(tl, day, bad)
            if bad == Behaviour.DRINKS:
                pub_stays = [s for s in tl.segments[before:] if isinstance(s, Stay) and s.place is self.p.leisure[0]]
                if pub_stays:
                    s = pub_stays[-1]
                    tl.drinking.append(
                        Drinking(
                            s.start + self.rng.uniform(5, 20) * MIN,
                            self.rng.uniform(0.04, 0.16),
                            self.rng.uniform(45, 120) * MIN,
                            self.rng.uniform(0.015, 0.025),
                        )
                    )
            if bad == Behaviour.TAMPERS and self.p.devices:
                kind = self.rng.choice(sorted(self.p.devices))
                opened = local_epoch(day, "10:00") + self.rng.uniform(0, 600) * MIN
                tl.tampers.append((kind, opened, opened + self.rng.uniform(10, 40) * MIN))
        end = local_epoch(days[-1], "24:00") + 6 * HOUR
        tl.segments.append(Stay(self.since, max(end, self.t), self.cur))
        return tl


def choose_bad_days(
    person: SimPerson, days: list[date], config: SimConfig, rng: random.Random
) -> dict[date, Behaviour]:
    b = person.behaviour
    if b == Behaviour.COMPLIANT:
        return {}
    out: dict[date, Behaviour] = {}
    for day in days:
        if b == Behaviour.LEAVES_INCLUSION_ZONE and day.weekday() < 5:
            continue
        if b == Behaviour.MISSES_APPOINTMENT:
            today = [s for s, _ in person.appointments if local_epoch(day, "00:00") <= s < local_epoch(day, "24:00")]
            if today and rng.random() < 0.6:
                out[day] = b
            continue
        if b == Behaviour.OUT_ALL_NIGHT and days.index(day) == len(days) - 1:
            continue
        if rng.random() < config.bad_day_rate:
            out[day] = b
    return out
