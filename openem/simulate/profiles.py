"""Behaviour profiles and equipment fault rates: what the simulated caseload does, configurably."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from openem.engine.enums import LabelledEnum


class Behaviour(LabelledEnum):
    """What a person does on a 'bad day'. Everyone else keeps every condition."""

    COMPLIANT = "compliant"
    HOME_LATE = "home_late"  # back after the curfew starts
    OUT_ALL_NIGHT = "out_all_night"  # away for a whole curfew period
    LEAVES_EARLY = "leaves_early"  # out before the curfew ends
    ZONE_LINGER = "zone_linger"  # goes into an exclusion zone and stays
    ZONE_DRIVE_THROUGH = "zone_drive_through"  # drives through an exclusion zone without stopping
    LEAVES_INCLUSION_ZONE = "leaves_inclusion_zone"
    MISSES_APPOINTMENT = "misses_appointment"
    DRINKS = "drinks"
    TAMPERS = "tampers"  # opens the strap


class HomeUnitReporting(LabelledEnum):
    """How an RF home unit reports the tag's range."""

    STATUS = "status"  # the range state every 30 minutes, and each change as it happens
    # An event when the tag leaves range and one when it comes back (and its state when it comes back
    # from a silence); heartbeats in between show the unit is alive. Many home units in service do this.
    CHANGES_ONLY = "changes_only"


# A caseload where most nights are compliant (the inspectorate's sober-day rate is 97%).
DEFAULT_MIX: dict[Behaviour, float] = {
    Behaviour.COMPLIANT: 0.55,
    Behaviour.HOME_LATE: 0.09,
    Behaviour.OUT_ALL_NIGHT: 0.04,
    Behaviour.LEAVES_EARLY: 0.05,
    Behaviour.ZONE_LINGER: 0.05,
    Behaviour.ZONE_DRIVE_THROUGH: 0.05,
    Behaviour.LEAVES_INCLUSION_ZONE: 0.04,
    Behaviour.MISSES_APPOINTMENT: 0.04,
    Behaviour.DRINKS: 0.06,
    Behaviour.TAMPERS: 0.03,
}


@dataclass
class FaultRates:
    """Probabilities per device-day (or per person, or per fix, where the name says so)."""

    battery_not_charged: float = 0.04  # GPS tag not charged one evening: it runs flat
    rf_flapping: float = 0.10  # tag at the edge of the home unit's range: brief out-of-range blips
    home_unit_unplugged: float = 0.02
    location_failure: float = 0.01  # GPS receiver gives no fix for hours, device still reports
    device_silent: float = 0.01  # device sends nothing for hours
    network_outage_per_area_day: float = 0.05  # every device in one town uploads late
    never_fitted_per_person: float = 0.02
    environmental_alcohol: float = 0.03  # per alcohol-tag day: hand gel, solvents; a fast spike
    multipath_per_fix: float = 0.004  # a fix thrown 80-300 m while claiming to be accurate
    gap_per_hour: float = 0.05  # a few minutes with no fix

    @classmethod
    def parse(cls, text: str) -> FaultRates:
        rates = cls()
        names = {f.name for f in fields(cls)}
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, _, value = item.partition("=")
            if key not in names:
                raise ValueError(f'unknown fault "{key}"; known: {", ".join(sorted(names))}')
            setattr(rates, key, float(value))
        return rates


@dataclass
class SimConfig:
    people: int = 100
    days: int = 7
    seed: int = 1
    start: str = ""  # first local date (YYYY-MM-DD); default: a Monday a week before today
    mix: dict[Behaviour, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    bad_day_rate: float = 0.3  # chance that a non-compliant person acts on a given day
    faults: FaultRates = field(default_factory=FaultRates)
    # Share of home units that report only changes (plus heartbeats); the demo sets it (demo_config).
    change_only_home_units: float = 0.0

    @staticmethod
    def parse_mix(text: str) -> dict[Behaviour, float]:
        mix: dict[Behaviour, float] = {}
        for item in filter(None, (s.strip() for s in text.split(","))):
            key, _, value = item.partition("=")
            if key not in Behaviour._value2member_map_:
                known = ", ".join(b.value for b in Behaviour)
                raise ValueError(f'unknown behaviour "{key}"; known: {known}')
            mix[Behaviour(key)] = float(value)
        total = sum(mix.values())
        if total <= 0:
            raise ValueError("the behaviour mix must have a positive total")
        return {k: v / total for k, v in mix.items()}
