"""A synthetic caseload in Rutland: people, orders of every type, conditions of every kind, devices.

Deterministic for a seed and a reference date, and valid against the statutory rules, so that the
demo and the tests start from a caseload a practitioner would recognise. The movement simulator
(issue 3) builds device data on top of this.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from openem.engine.casefile import FORMAT

# Real places in Rutland (lat, lon), so that the map makes sense to someone who knows the area.
PLACES = {
    "Oakham": (52.6705, -0.7276),
    "Uppingham": (52.5887, -0.7237),
    "Cottesmore": (52.7115, -0.6640),
    "Ketton": (52.6275, -0.5530),
    "Empingham": (52.6680, -0.5960),
    "Whissendine": (52.7190, -0.7720),
    "Langham": (52.6960, -0.7510),
    "Ryhall": (52.6880, -0.4690),
    "Edith Weston": (52.6400, -0.6330),
    "Greetham": (52.7230, -0.6280),
}
PROBATION_OFFICE = (52.6712, -0.7302)
SUPPORT_CENTRE = (52.5893, -0.7262)

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

ORDER_TYPES = [
    "community_order",
    "suspended_sentence_order",
    "hdc",
    "licence",
    "parole_licence",
    "post_sentence_supervision",
    "bail",
]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _jitter(rng: random.Random, lat: float, lon: float, metres: float) -> tuple[float, float]:
    # About 111 km per degree of latitude; longitude shrinks by cos(52.6) ~ 0.607.
    return (
        round(lat + rng.uniform(-metres, metres) / 111_000, 6),
        round(lon + rng.uniform(-metres, metres) / 67_500, 6),
    )


def _square(lat: float, lon: float, half_m: float) -> dict[str, Any]:
    dlat, dlon = half_m / 111_000, half_m / 67_500
    ring = [
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
        [lon - dlon, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]}


def _utc(day: date, hh: int, mm: int = 0) -> str:
    return datetime.combine(day, time(hh, mm), UTC).isoformat().replace("+00:00", "Z")


def generate(
    people: int = 36,
    seed: int = 1,
    today: date | None = None,
    practitioners: tuple[str, ...] = ("alex.practitioner", "bea.practitioner"),
    team: str = "Rutland probation delivery unit",
) -> dict[str, Any]:
    rng = random.Random(seed)
    today = today or date.today()
    out: list[dict[str, Any]] = []
    towns = list(PLACES)
    # Distinct names: a practitioner must never confuse two people on one list.
    pairs = [(f, last) for f in FIRST for last in LAST]
    names = [f"{f} {last}" for f, last in rng.sample(pairs, people)]
    for i in range(people):
        n = i + 1
        order_type = ORDER_TYPES[i % len(ORDER_TYPES)]
        town = towns[rng.randrange(len(towns))]
        home = _jitter(rng, *PLACES[town], 900)
        start = today - timedelta(days=rng.randint(5, 40 if order_type == "bail" else 60))
        rosh = rng.choices(["low", "medium", "high", "very_high"], weights=[3, 5, 3, 1])[0]
        flags = []
        if rng.random() < 0.3:
            flags.append("domestic_abuse")
        if rng.random() < 0.1:
            flags.append("stalking")
        mappa = rng.random() < 0.2 or order_type == "parole_licence"
        person: dict[str, Any] = {
            "id": f"P{n:04d}",
            "name": names[i],
            "date_of_birth": (today - timedelta(days=rng.randint(19 * 365, 62 * 365))).isoformat(),
            "crn": f"X{300000 + n * 37 + seed:06d}"[:7],
            "pnc": f"{rng.randint(1990, 2024)}/{rng.randint(1000000, 9999999)}{rng.choice('ABCDEFGHJKLMN')}",
            "sex": rng.choices(["male", "female", "prefer_not_to_say"], weights=[85, 14, 1])[0],
            "ethnicity": rng.choices(
                ["white", "black", "asian", "mixed", "other", "prefer_not_to_say"], weights=[80, 5, 6, 4, 2, 3]
            )[0],
            "disability": rng.choices(["no", "yes", "prefer_not_to_say"], weights=[70, 22, 8])[0],
            "religion": rng.choice(["none", "christian", "muslim", "prefer_not_to_say", "other"]),
            "practitioner": practitioners[i % len(practitioners)],
            "team": team,
            "risk": {"rosh": rosh, "flags": flags},
        }
        if order_type in ("hdc", "licence", "parole_licence", "post_sentence_supervision"):
            person["nomis"] = f"A{rng.randint(1000, 9999)}{rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')}"
        if mappa:
            person["risk"]["mappa_category"] = rng.choice([1, 2])
            person["risk"]["mappa_level"] = rng.choice([1, 2])
        order, devices = _order(rng, n, order_type, start, home, today)
        person["orders"] = [order]
        person["devices"] = devices
        out.append(person)
    return {"format": FORMAT, "generated": _utc(today, 0), "people": out}


def _order(
    rng: random.Random, n: int, order_type: str, start: date, home: tuple[float, float], today: date
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    conds: list[dict[str, Any]] = []
    kinds: set[str] = set()
    address = {"lat": home[0], "lon": home[1], "radius_m": 30, "label": f"{n} Example Road"}
    length = {
        "community_order": 365,
        "suspended_sentence_order": 540,
        "hdc": 120,
        "licence": 270,
        "parole_licence": 720,
        "post_sentence_supervision": 365,
        "bail": 56,
    }[order_type]
    end = start + timedelta(days=length)
    order: dict[str, Any] = {"id": f"O{n:04d}", "type": order_type, "start": start.isoformat(), "end": end.isoformat()}
    victim = _jitter(rng, home[0] + 0.02 * rng.choice([-1, 1]), home[1] + 0.03 * rng.choice([-1, 1]), 300)

    def add(cond: dict[str, Any]) -> None:
        cond["id"] = f"C{len(conds) + 1}"
        conds.append(cond)
        kinds.add(cond["type"])

    curfew_end = min(end, start + timedelta(days=rng.choice([90, 120, 180])))
    if order_type in ("community_order", "suspended_sentence_order"):
        weekend_only = n % 3 == 0
        windows = (
            [{"days": ["fri", "sat"], "start": "20:00", "end": "06:00"}]
            if weekend_only
            else [{"days": DAYS, "start": rng.choice(["19:00", "20:00", "21:00"]), "end": "07:00"}]
        )
        add(
            {
                "type": "curfew",
                "technology": "rf",
                "start": start.isoformat(),
                "end": curfew_end.isoformat(),
                "address": address,
                "windows": windows,
            }
        )
        if n % 4 == 1:
            add(
                {
                    "type": "alcohol",
                    "mode": "abstinence",
                    "requirement": "aamr",
                    "start": start.isoformat(),
                    "end": (start + timedelta(days=119)).isoformat(),
                }
            )
            order["audit_score"] = rng.randint(4, 12)
        if order_type == "suspended_sentence_order" or n % 4 == 3:
            add({"type": "trail", "start": start.isoformat(), "end": end.isoformat()})
            add(
                {
                    "type": "exclusion_zone",
                    "monitored": True,
                    "name": "Victim's street",
                    "victim_sensitive": True,
                    "area": _square(victim[0], victim[1], 150),
                }
            )
    elif order_type == "hdc":
        add(
            {
                "type": "curfew",
                "technology": "rf",
                "address": address,
                "release_day_start": "15:00",
                "windows": [{"days": DAYS, "start": "19:00", "end": "07:00"}],
            }
        )
    elif order_type in ("licence", "parole_licence"):
        add({"type": "trail"})
        add(
            {
                "type": "exclusion_zone",
                "monitored": True,
                "name": "Victim's home and street",
                "victim_sensitive": True,
                "area": {"lat": victim[0], "lon": victim[1], "radius_m": 400},
            }
        )
        if order_type == "licence":
            add(
                {
                    "type": "inclusion_zone",
                    "monitored": True,
                    "name": "Rutland",
                    "area": {"lat": 52.665, "lon": -0.64, "radius_m": 14000},
                    "windows": [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}],
                }
            )
            if n % 2 == 0:
                add(
                    {
                        "type": "alcohol",
                        "mode": "level",
                        "level_g_dl": 0.02,
                        "requirement": "aml",
                        "end": (start + timedelta(days=180)).isoformat(),
                    }
                )
        else:
            order["licence_kind"] = rng.choice(["life", "ipp", "extended"])
            add(
                {
                    "type": "curfew",
                    "technology": "gps",
                    "address": address,
                    "windows": [{"days": DAYS, "start": "21:00", "end": "07:00"}],
                }
            )
            add(_attendance(rng, today, "Oakham probation office", PROBATION_OFFICE, start))
            # Drawn for information but not GPS-monitored: the portal must say it raises no alerts.
            add(
                {
                    "type": "exclusion_zone",
                    "monitored": False,
                    "name": "Oakham town centre (information)",
                    "area": _square(52.6703, -0.7262, 250),
                }
            )
    elif order_type == "post_sentence_supervision":
        add({"type": "trail", "end": (start + timedelta(days=180)).isoformat()})
        add(_attendance(rng, today, "Uppingham support centre", SUPPORT_CENTRE, start))
    elif order_type == "bail":
        add(
            {
                "type": "curfew",
                "technology": "gps",
                "address": address,
                "windows": [{"days": DAYS, "start": "20:00", "end": "06:00"}],
            }
        )
        add({"type": "trail"})
        add(
            {
                "type": "exclusion_zone",
                "monitored": True,
                "name": "Witness's address",
                "area": {"lat": victim[0], "lon": victim[1], "radius_m": 250},
            }
        )
    order["conditions"] = conds
    fitted = _utc(start, 14, rng.randint(0, 59))
    devices = []
    if any(c["type"] == "curfew" and c.get("technology") == "rf" for c in conds):
        devices.append({"id": f"RF-{n:04d}", "kind": "rf", "fitted": fitted, "removed": None})
    if "trail" in kinds:
        devices.append({"id": f"GPS-{n:04d}", "kind": "gps", "fitted": fitted, "removed": None})
    if "alcohol" in kinds:
        devices.append({"id": f"ALC-{n:04d}", "kind": "alcohol", "fitted": fitted, "removed": None})
    if n % 17 == 5 and devices:
        devices[0]["fitted"] = None  # a tag never fitted: the system must make this impossible to miss
    return order, devices


def _attendance(rng: random.Random, today: date, name: str, where: tuple[float, float], start: date) -> dict[str, Any]:
    days = [d for d in (today + timedelta(days=k) for k in (-7, 0, 7, 14)) if d >= start]
    hour = rng.choice([9, 10, 14])
    return {
        "type": "attendance",
        "name": name,
        "place": {"lat": where[0], "lon": where[1], "radius_m": 60},
        "appointments": [{"start": _utc(d, hour), "end": _utc(d, hour + 1)} for d in days],
    }
