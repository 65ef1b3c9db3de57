"""Simulated people: where they live, work and go, what their orders say, and how they behave.

Homes, workplaces, pubs and shops are real buildings and places in Rutland. Orders are drawn so that
every order type and condition kind appears, and so that each person's conditions allow their
behaviour (only someone with an exclusion zone can linger in one). Zones are placed with care: a
victim's zone is away from the person's everyday routes, except for those who will drive through it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from openem.engine.casefile import FORMAT

from .profiles import Behaviour, HomeUnitReporting, SimConfig
from .world import FROM_BNG, Place, World, travel_mode

LONDON = ZoneInfo("Europe/London")
NEAR_HOME_M = 100.0
UTC = ZoneInfo("UTC")
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TOWNS = {"Oakham": (486_100, 308_700), "Uppingham": (486_600, 299_700), "Cottesmore": (490_400, 313_700),
         "Ketton": (498_100, 304_500), "Empingham": (495_100, 308_600), "Ryhall": (503_600, 310_900)}  # fmt: skip

FIRST = [
    "Sam",
    "Alex",
    "Jordan",
    "Chris",
    "Jamie",
    "Taylor",
    "Morgan",
    "Casey",
    "Robin",
    "Lee",
    "Dean",
    "Kyle",
    "Ryan",
    "Connor",
    "Liam",
    "Aaron",
    "Jade",
    "Kelly",
    "Leah",
    "Shannon",
    "Darren",
    "Wayne",
    "Craig",
    "Gary",
    "Nathan",
    "Tyler",
    "Reece",
    "Callum",
    "Danielle",
    "Stacey",
    "Mark",
    "Paul",
    "Shaun",
    "Kieran",
    "Louise",
]
LAST = [
    "Walker",
    "Harris",
    "Clarke",
    "Lewis",
    "Robinson",
    "Wood",
    "Thompson",
    "White",
    "Hughes",
    "Edwards",
    "Green",
    "Hall",
    "Wright",
    "Turner",
    "Hill",
    "Cooper",
    "Ward",
    "Morris",
    "Moore",
    "Baker",
    "Carter",
    "Mitchell",
    "Shaw",
    "Fletcher",
    "Barker",
    "Holmes",
    "Pearson",
    "Marsh",
    "Dixon",
    "Booth",
]

# Which order types carry the conditions a behaviour needs (see _conditions below).
COMPATIBLE: dict[Behaviour, list[str]] = {
    Behaviour.COMPLIANT: ["community_order", "suspended_sentence_order", "hdc", "licence", "parole_licence",
                          "post_sentence_supervision", "bail"],
    Behaviour.HOME_LATE: ["community_order", "hdc", "suspended_sentence_order", "bail"],
    Behaviour.OUT_ALL_NIGHT: ["hdc", "community_order", "bail"],
    Behaviour.LEAVES_EARLY: ["community_order", "hdc", "suspended_sentence_order"],
    Behaviour.ZONE_LINGER: ["licence", "parole_licence", "suspended_sentence_order", "bail"],
    Behaviour.ZONE_DRIVE_THROUGH: ["licence", "bail", "suspended_sentence_order", "parole_licence"],
    Behaviour.LEAVES_INCLUSION_ZONE: ["licence"],
    Behaviour.MISSES_APPOINTMENT: ["post_sentence_supervision", "parole_licence"],
    Behaviour.DRINKS: ["community_order", "licence"],
    Behaviour.TAMPERS: ["community_order", "hdc", "licence", "bail"],
}  # fmt: skip
CURFEW_WINDOWS = [
    [{"days": DAYS, "start": "19:00", "end": "07:00"}],
    [{"days": DAYS, "start": "20:00", "end": "06:00"}],
    [{"days": DAYS, "start": "21:00", "end": "07:00"}],
    [
        {"days": ["fri", "sat"], "start": "20:00", "end": "06:00"},
        {"days": ["sun", "mon", "tue", "wed", "thu"], "start": "21:00", "end": "06:00"},
    ],
]


@dataclass
class Zone:
    """An exclusion or inclusion zone in both forms: the case-file area and a metric polygon."""

    condition_id: str
    kind: str
    area: dict[str, Any]
    shape: Any  # shapely polygon in British National Grid metres
    windows: list[dict[str, Any]] = field(default_factory=list)
    monitored: bool = True


@dataclass
class SimPerson:
    index: int
    id: str
    name: str
    behaviour: Behaviour
    order_type: str
    home: Place
    area: str
    work: Place | None
    leisure: list[Place]
    shops: list[Place]
    friend: Place
    order: dict[str, Any] = field(default_factory=dict)
    curfew: dict[str, Any] | None = None
    zones: list[Zone] = field(default_factory=list)
    linger_target: Place | None = None
    drive_target: Place | None = None
    outside_target: Place | None = None
    appointments: list[tuple[float, float]] = field(default_factory=list)
    attendance_id: str = ""
    alcohol: dict[str, Any] | None = None
    trail_id: str = ""
    devices: dict[str, str] = field(default_factory=dict)  # kind -> device id
    never_fitted: set[str] = field(default_factory=set)
    fitted_at: float = 0.0
    home_unit: HomeUnitReporting = HomeUnitReporting.STATUS  # how the RF home unit, if any, reports
    inclusion_wanted: bool = False  # sketched with an inclusion zone in mind (the weekend-trip profile, licences)

    @property
    def exclusion(self) -> Zone | None:
        return next((z for z in self.zones if z.kind == "exclusion_zone" and z.monitored), None)

    @property
    def inclusion(self) -> Zone | None:
        return next((z for z in self.zones if z.kind == "inclusion_zone"), None)


def local_epoch(day: date, hhmm: str | time) -> float:
    t = hhmm if isinstance(hhmm, time) else time(int(hhmm[:2]) % 24, int(hhmm[3:]))
    extra = 1 if isinstance(hhmm, str) and hhmm == "24:00" else 0
    return datetime.combine(day + timedelta(days=extra), t, LONDON).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(round(epoch), UTC).isoformat().replace("+00:00", "Z")


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = FROM_BNG.transform(x, y)
    return round(float(lon), 6), round(float(lat), 6)


def _circle_area(x: float, y: float, radius: float) -> tuple[dict[str, Any], Any]:
    lon, lat = _lonlat(x, y)
    return {"lat": lat, "lon": lon, "radius_m": radius}, Point(x, y).buffer(radius, quad_segs=16)


def _polygon_area(x: float, y: float, half: float, rng: random.Random) -> tuple[dict[str, Any], Any]:
    # A street-shaped rectangle, turned at random: zones drawn on a map are rarely circles.
    poly = shapely.affinity.rotate(
        shapely.box(x - half * 1.6, y - half * 0.7, x + half * 1.6, y + half * 0.7), rng.uniform(0, 180), origin=(x, y)
    )
    ring = [list(_lonlat(px, py)) for px, py in poly.exterior.coords]
    return {"type": "Polygon", "coordinates": [ring]}, poly


def _straight_point(
    x: np.ndarray, y: np.ndarray, rng: random.Random, half_m: float = 800.0
) -> tuple[float, float] | None:
    """A point on a polyline whose path within half_m either side is nearly straight."""
    seg = np.hypot(np.diff(x), np.diff(y))
    dist = np.concatenate([[0.0], np.cumsum(seg)])
    total = dist[-1]
    if total < 2 * half_m + 1_000:
        return None
    for frac in sorted(np.linspace(0.25, 0.75, 11), key=lambda _: rng.random()):
        d = total * frac
        # Straight over the whole stretch and close to the zone: fixes a minute (~700 m) apart either
        # side of a bend at the zone would lie on a line that misses it.
        if all(_chord(dist, x, y, d, h) > 0.985 * 2 * h for h in (half_m, half_m / 2)):
            return float(np.interp(d, dist, x)), float(np.interp(d, dist, y))
    return None


def _chord(dist: np.ndarray, x: np.ndarray, y: np.ndarray, d: float, half_m: float) -> float:
    a, b = d - half_m, d + half_m
    return float(np.hypot(np.interp(b, dist, x) - np.interp(a, dist, x), np.interp(b, dist, y) - np.interp(a, dist, y)))


class PopulationBuilder:
    def __init__(self, world: World, config: SimConfig, start: date) -> None:
        self.world = world
        self.config = config
        self.start = start
        self.end = start + timedelta(days=config.days - 1)
        self.rng = random.Random(config.seed)
        self.type_use: dict[str, int] = {}
        self._xy: dict[int, np.ndarray] = {}

    def _near(self, places: list[Place], x: float, y: float, k: int, max_m: float | None = None) -> list[Place]:
        key = id(places)
        if key not in self._xy:
            self._xy[key] = np.array([[q.x, q.y] for q in places])
        xy = self._xy[key]
        d = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        # Nothing within earshot of the home unit: an evening "out" next door would be heard as at home.
        ok = np.flatnonzero((d > NEAR_HOME_M) & (d <= (np.inf if max_m is None else max_m)))
        if len(ok) > k * 3:
            ok = ok[np.argpartition(d[ok], k * 3)[: k * 3]]
        chosen = [places[i] for i in ok[np.argsort(d[ok], kind="stable")]]
        self.rng.shuffle(chosen)
        return chosen[:k]

    def build(self) -> list[SimPerson]:
        """Everyone, with their orders. The same as ``sketch()`` then ``finish()`` for each person (which
        several processes can share)."""
        people = self.sketch()
        for p in people:
            self.finish(p)
        return people

    def sketch(self) -> list[SimPerson]:
        """Everyone's profile, order type and places, from one random stream (orders of types are kept
        balanced across the caseload), without their conditions."""
        behaviours = list(self.config.mix)
        weights = [self.config.mix[b] for b in behaviours]
        homes = self.world.homes
        names = self.rng.sample(
            [f"{f} {last}" for f in FIRST for last in LAST], min(self.config.people, len(FIRST) * len(LAST))
        )
        people = []
        for i in range(self.config.people):
            behaviour = self.rng.choices(behaviours, weights)[0]
            order_type = min(COMPATIBLE[behaviour], key=lambda t: (self.type_use.get(t, 0), self.rng.random()))
            self.type_use[order_type] = self.type_use.get(order_type, 0) + 1
            home = homes[self.rng.randrange(len(homes))]
            area = min(TOWNS, key=lambda t: np.hypot(TOWNS[t][0] - home.x, TOWNS[t][1] - home.y))
            inclusion = behaviour == Behaviour.LEAVES_INCLUSION_ZONE or (order_type == "licence" and i % 2 == 0)
            reach = 2_500 if inclusion else None
            work = None
            if self.rng.random() < 0.6 and not inclusion:
                work = next(iter(self._near(self.world.workplaces, home.x, home.y, 1, 12_000)), None)
            leisure = self._near(self.world.leisure, home.x, home.y, 3, reach) or [self.world.office]
            shops = self._near(self.world.shops, home.x, home.y, 2, reach) or leisure[:1]
            # A friend's house far enough away that the home unit cannot hear the tag from there.
            friends = [
                h for h in self._near(homes, home.x, home.y, 40, 6_000) if np.hypot(h.x - home.x, h.y - home.y) > 600
            ]
            friend = friends[0] if friends else homes[(home.id + 97) % len(homes)]
            name = names[i % len(names)] if i < len(names) else f"Person {i + 1}"
            person = SimPerson(
                i, f"P{i + 1:04d}", name, behaviour, order_type, home, area, work, leisure, shops, friend
            )
            person.inclusion_wanted = inclusion
            people.append(person)
        return people

    def finish(self, p: SimPerson) -> None:
        """A person's conditions and devices, from a random stream of their own: placing a victim's zone
        away from the person's routes is the costly part of building a caseload, and this way any
        process can do it for any person with the same result."""
        self._conditions(p, p.inclusion_wanted, random.Random(self.config.seed * 1_000_033 + p.index))

    # ------------------------------------------------------------------ conditions

    def _conditions(self, p: SimPerson, inclusion: bool, rng: random.Random) -> None:
        b, t = p.behaviour, p.order_type
        order_start = self.start - timedelta(days=rng.randint(3, 40))
        length = {
            "community_order": 365,
            "suspended_sentence_order": 540,
            "hdc": 120,
            "licence": 270,
            "parole_licence": 720,
            "post_sentence_supervision": 365,
            "bail": 56,
        }[t]
        order_end = max(order_start + timedelta(days=length), self.end + timedelta(days=14))
        conds: list[dict[str, Any]] = []

        def add(c: dict[str, Any]) -> str:
            c["id"] = f"C{len(conds) + 1}"
            conds.append(c)
            return str(c["id"])

        lon, lat = _lonlat(p.home.x, p.home.y)
        address = {"lat": lat, "lon": lon, "radius_m": 30}
        wants_curfew = t in ("community_order", "suspended_sentence_order", "hdc", "bail") or (
            t == "parole_licence" and b != Behaviour.ZONE_DRIVE_THROUGH
        )
        gps = t in ("suspended_sentence_order", "licence", "parole_licence", "post_sentence_supervision", "bail")
        if gps:
            p.trail_id = add({"type": "trail"})
        if wants_curfew:
            windows = CURFEW_WINDOWS[0] if t == "hdc" else CURFEW_WINDOWS[rng.randrange(len(CURFEW_WINDOWS))]
            tech = "gps" if t in ("bail", "parole_licence") else "rf"
            curfew = {"type": "curfew", "technology": tech, "address": address, "windows": windows}
            if t == "hdc":
                curfew["release_day_start"] = "15:00"
            elif t != "bail":
                curfew["end"] = min(order_end, order_start + timedelta(days=180)).isoformat()
            add(curfew)
            p.curfew = curfew
        if gps and t in ("suspended_sentence_order", "licence", "parole_licence", "bail"):
            self._exclusion_zone(p, add, rng)
        if inclusion and t == "licence":
            x, y = p.home.x, p.home.y
            area, shape = _circle_area(x, y, 3_000)
            windows = [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}]
            cid = add(
                {
                    "type": "inclusion_zone",
                    "monitored": True,
                    "name": f"{p.area} area at weekends",
                    "area": area,
                    "windows": windows,
                }
            )
            p.zones.append(Zone(cid, "inclusion_zone", area, shape, windows))
            outside = [q for q in self.world.leisure if 4_500 < np.hypot(q.x - x, q.y - y) < 12_000]
            p.outside_target = rng.choice(outside) if outside else None
        if t in ("parole_licence", "post_sentence_supervision"):
            self._attendance(p, add)
        info_area, info_shape = _circle_area(*self.world.to_bng(-0.7262, 52.6703), 250)
        if t == "parole_licence" and info_shape.distance(Point(p.home.x, p.home.y)) > 100:
            # Drawn for information, not GPS-monitored: must never raise an alert.
            area, shape = info_area, info_shape
            cid = add(
                {"type": "exclusion_zone", "monitored": False, "name": "Oakham town centre (information)", "area": area}
            )
            p.zones.append(Zone(cid, "exclusion_zone", area, shape, monitored=False))
        if (
            b == Behaviour.DRINKS
            or (t == "community_order" and p.index % 3 == 0)
            or (t == "licence" and p.index % 4 == 1)
        ):
            if t == "community_order":
                p.alcohol = {
                    "type": "alcohol",
                    "mode": "abstinence",
                    "requirement": "aamr",
                    "start": self.start.isoformat(),
                    "end": (self.start + timedelta(days=119)).isoformat(),
                }
            elif t == "licence":
                level = p.index % 2 == 0
                p.alcohol = {
                    "type": "alcohol",
                    "requirement": "aml",
                    "start": self.start.isoformat(),
                    "end": (self.start + timedelta(days=180)).isoformat(),
                    **({"mode": "level", "level_g_dl": 0.02} if level else {"mode": "abstinence"}),
                }
            if p.alcohol:
                add(p.alcohol)
        p.order = {
            "id": f"O{p.index + 1:04d}",
            "type": t,
            "start": order_start.isoformat(),
            "end": order_end.isoformat(),
            "conditions": conds,
        }
        if t == "parole_licence":
            p.order["licence_kind"] = rng.choice(["life", "ipp", "extended"])
        if p.alcohol and t == "community_order":
            p.order["audit_score"] = rng.randint(3, 12)
        n = p.index + 1
        if p.curfew and p.curfew["technology"] == "rf":
            p.devices["rf"] = f"RF-{n:04d}"
            # A stream of its own, so the share does not change anything else about the caseload.
            if random.Random(self.config.seed * 1_000_037 + p.index).random() < self.config.change_only_home_units:
                p.home_unit = HomeUnitReporting.CHANGES_ONLY
        if gps:
            p.devices["gps"] = f"GPS-{n:04d}"
        if p.alcohol:
            p.devices["alcohol"] = f"ALC-{n:04d}"
        fitted = datetime.combine(
            max(order_start, self.start - timedelta(days=2)), time(14, rng.randint(0, 59)), LONDON
        )
        p.fitted_at = fitted.timestamp()
        if (
            p.behaviour == Behaviour.COMPLIANT
            and p.devices
            and rng.random() < self.config.faults.never_fitted_per_person
        ):
            p.never_fitted.add(rng.choice(sorted(p.devices)))

    def _routine_lines(self, p: SimPerson) -> list[LineString]:
        """Every route of the person's ordinary days, as they would travel it: from home to each place
        and between the places the way a day goes (to an appointment and back to work, on to the pub)."""
        office, pub = self.world.office, p.leisure[0]
        places = [q for q in [p.work, *p.leisure, *p.shops, office] if q is not None]
        pairs = [(p.home, q) for q in places] + [(q, pub) for q in [p.work, *p.shops, office] if q is not None]
        pairs += [(q, office) for q in [p.work, *p.shops] if q is not None]
        if p.work is not None:
            pairs.append((office, p.work))  # back to work after an appointment
        out = []
        for a, b in pairs:
            r = self.world.route(a, b, travel_mode(a, b, self.config.seed))
            if len(r.x) > 1:
                out.append(LineString(np.column_stack([r.x, r.y])))
        return out

    def _exclusion_zone(self, p: SimPerson, add: Any, rng: random.Random) -> None:
        world = self.world
        # A collection, not a union: distance to it is all we need, and noding the routes costs.
        routine = shapely.multilinestrings(self._routine_lines(p))
        p_home = Point(p.home.x, p.home.y)
        area: dict[str, Any] | None = None
        shape: Any = None
        if p.behaviour == Behaviour.ZONE_DRIVE_THROUGH:
            for _ in range(40):
                dest = rng.choice(world.leisure + world.shops)
                dist = np.hypot(dest.x - p.home.x, dest.y - p.home.y)
                if not 3_000 < dist < 15_000:
                    continue
                r = world.route(p.home, dest, "car")
                # Put the zone on a straight stretch: fixes a minute apart either side of it then
                # lie on a line through it, as they would for a real drive past a victim's road.
                centre = _straight_point(r.x, r.y, rng)
                if centre is None:
                    continue
                cx, cy = centre
                radius = rng.uniform(120, 200)
                a, sh = _circle_area(cx, cy, round(radius))
                if sh.distance(routine) < 60 or sh.distance(p_home) < 500 or sh.distance(Point(dest.x, dest.y)) < 300:
                    continue
                area, shape, p.drive_target = a, sh, dest
                break
        else:
            for _ in range(60):
                victim = world.homes[rng.randrange(len(world.homes))]
                dist = np.hypot(victim.x - p.home.x, victim.y - p.home.y)
                if not 1_500 < dist < 9_000:
                    continue
                if rng.random() < 0.5:
                    area, shape = _circle_area(victim.x, victim.y, rng.choice([200, 250, 300]))
                else:
                    area, shape = _polygon_area(victim.x, victim.y, rng.uniform(120, 180), rng)
                if shape.distance(routine) < 60 or shape.distance(p_home) < 300:
                    continue
                p.linger_target = victim
                break
        if shape is None or area is None:
            p.behaviour = (
                Behaviour.COMPLIANT
                if p.behaviour in (Behaviour.ZONE_DRIVE_THROUGH, Behaviour.ZONE_LINGER)
                else p.behaviour
            )
            return
        name = "Victim's street" if p.linger_target else "Victim's road"
        cid = add({"type": "exclusion_zone", "monitored": True, "victim_sensitive": True, "name": name, "area": area})
        p.zones.append(Zone(cid, "exclusion_zone", area, shape))

    def _attendance(self, p: SimPerson, add: Any) -> None:
        office = self.world.office
        lon, lat = _lonlat(office.x, office.y)
        weekday = p.index % 5
        hour = [9, 10, 11, 14, 15][p.index % 5]
        appts = []
        day = self.start
        while day <= self.end:
            if day.weekday() == weekday:
                s = local_epoch(day, f"{hour:02d}:00")
                appts.append((s, s + 3600))
            day += timedelta(days=1)
        p.appointments = appts
        p.attendance_id = add(
            {
                "type": "attendance",
                "name": "Oakham probation office",
                "place": {"lat": lat, "lon": lon, "radius_m": 60},
                "appointments": [{"start": iso(s), "end": iso(e)} for s, e in appts],
            }
        )


def case_file(people: list[SimPerson], practitioners: tuple[str, ...] = (), team: str = "") -> dict[str, Any]:
    out = []
    rng = random.Random(len(people))
    for p in people:
        person: dict[str, Any] = {
            "id": p.id,
            "name": p.name,
            "date_of_birth": date(1962 + p.index % 42, 1 + p.index % 12, 1 + p.index % 28).isoformat(),
            "crn": f"X{300000 + (p.index + 1) * 37:06d}"[:7],
            "sex": rng.choices(["male", "female", "prefer_not_to_say"], weights=[85, 14, 1])[0],
            "ethnicity": rng.choices(
                ["white", "black", "asian", "mixed", "other", "prefer_not_to_say"], weights=[80, 5, 6, 4, 2, 3]
            )[0],
            "disability": rng.choices(["no", "yes", "prefer_not_to_say"], weights=[70, 22, 8])[0],
            "risk": {
                "rosh": rng.choices(["low", "medium", "high", "very_high"], weights=[3, 5, 3, 1])[0],
                "flags": ["domestic_abuse"] if p.linger_target else [],
            },
            "orders": [p.order],
            "devices": [
                {
                    "id": dev,
                    "kind": kind,
                    "fitted": None if kind in p.never_fitted else iso(p.fitted_at),
                    "removed": None,
                }
                for kind, dev in sorted(p.devices.items())
            ],
        }
        if practitioners:
            person["practitioner"] = practitioners[p.index % len(practitioners)]
        if team:
            person["team"] = team
        out.append(person)
    return {"format": FORMAT, "people": out}
