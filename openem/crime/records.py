"""Crime matching's records: a crime from a police batch, what was wrong with a row, the parameters of a
run, a position, and what the matcher found for one crime and one person.

Plain dataclasses with no Django, so the command line (``openem crime-match``), the bench and the portal
share them. docs/crime.md describes the format and the algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from openem.engine.enums import LABELS, LabelledEnum


class CrimeType(LabelledEnum):
    """The acquisitive crime types police send (the Acquisitive Crime Project's codes)."""

    RB = "RB"
    BIAD = "BIAD"
    AB = "AB"
    BOTD = "BOTD"
    TOMV = "TOMV"
    TFP = "TFP"
    TFMV = "TFMV"


LABELS.update(
    {
        "RB": "Robbery",
        "BIAD": "Burglary in a dwelling",
        "AB": "Attempted burglary",
        "BOTD": "Burglary other than a dwelling",
        "TOMV": "Theft of a motor vehicle",
        "TFP": "Theft from the person",
        "TFMV": "Theft from a motor vehicle",
    }
)


class Verdict(LabelledEnum):
    MATCH = "match"  # the trail came within the distance during the window
    NOT_THERE = "not_there"  # the trail is complete across the window and never came within it
    NOT_COVERED = "not_covered"  # never within it where the trail shows, but the trail has gaps


LABELS.update({"match": "Match", "not_there": "Not there", "not_covered": "Not covered (gaps in the trail)"})


@dataclass(frozen=True)
class CrimeRow:
    """One valid row of a batch. ``start``/``end`` are aware UTC datetimes; ``lat``/``lon`` WGS84 (converted
    from the grid reference when the row gave easting/northing, which are then kept as sent)."""

    row: int  # as a spreadsheet counts: the header is row 1
    force: str
    batch_id: str
    reference: str
    crime_type: CrimeType
    description: str
    start: datetime
    end: datetime
    lat: float
    lon: float
    easting: float | None
    northing: float | None
    datum: str
    text: str


@dataclass(frozen=True)
class RowProblem:
    row: int  # as a spreadsheet counts: the header is row 1
    column: str
    message: str  # what is wrong and what to do

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}"


@dataclass
class ParsedBatch:
    force: str
    batch_id: str
    crimes: list[CrimeRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    fatal: str | None = None  # the file cannot be used at all (not CSV, wrong header, several batches, empty)

    @property
    def partial(self) -> bool:
        """Some rows were kept and some refused."""
        return self.fatal is None and bool(self.problems) and bool(self.crimes)


@dataclass(frozen=True)
class MatchParams:
    """What a run used: a court must be told exactly what was done (docs/crime.md, "Parameters").
    Changing a default changes ``version``."""

    distance_m: float = 100.0  # near: the confidence circle reaches within this of the crime's location
    buffer_min: float = 30.0  # the crime's window is widened by this before and after
    max_speed_kmh: float = 160.0  # fixes implying a faster straight line are not interpolated (a gap)
    max_gap_min: float = 5.0  # fixes further apart than this are not interpolated (a gap)
    version: str = "crime-match/1"
    max_accuracy_m: float = 100.0  # a fix less certain than this is not used (as the engine's rules)
    unreported_accuracy_m: float = 50.0  # a fix without accuracy is taken to be this uncertain (engine Params)

    @classmethod
    def default(cls) -> MatchParams:
        return cls()

    def to_json(self) -> dict[str, float | str]:
        return {
            "distance_m": self.distance_m,
            "buffer_min": self.buffer_min,
            "max_speed_kmh": self.max_speed_kmh,
            "max_gap_min": self.max_gap_min,
            "max_accuracy_m": self.max_accuracy_m,
            "unreported_accuracy_m": self.unreported_accuracy_m,
            "version": self.version,
        }


@dataclass(frozen=True)
class Fix:
    t: float  # Unix seconds
    lat: float
    lon: float
    accuracy_m: float | None = None  # 95% radius; None: not reported (MatchParams.unreported_accuracy_m)
    speed_mps: float | None = None
    heading: float | None = None


@dataclass
class Finding:
    """One crime and one person monitored in its window."""

    crime_ref: str
    person: str
    verdict: Verdict
    closest_m: float | None  # nearest the track's positions came to the location (None: no usable fix)
    minutes_near: float  # time the interpolated track's confidence circle was within the distance
    near_fixes: list[int]  # indices into the person's fixes as passed, in time order
    first_near: datetime | None
    last_near: datetime | None
    gaps: list[tuple[datetime, datetime]]  # parts of the widened window the trail does not cover
    at_home: bool  # every near position is within the distance of the person's curfew address
    params_version: str
    closest_edge_m: float | None = None  # nearest the confidence circle's edge came (0: it covered the place)

    def to_json(self) -> dict[str, object]:
        def iso(d: datetime | None) -> str | None:
            return None if d is None else d.isoformat().replace("+00:00", "Z")

        return {
            "crime": self.crime_ref,
            "person": self.person,
            "verdict": self.verdict.value,
            "closest_m": None if self.closest_m is None else round(self.closest_m, 1),
            "minutes_near": round(self.minutes_near, 2),
            "params_version": self.params_version,
            "closest_edge_m": None if self.closest_edge_m is None else round(self.closest_edge_m, 1),
            "first_near": iso(self.first_near),
            "last_near": iso(self.last_near),
            "near_fixes": self.near_fixes,
            "gaps": [[iso(a), iso(b)] for a, b in self.gaps],
            "at_home": self.at_home,
        }
