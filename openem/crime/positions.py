"""A match's positions as its page, its map and its positions CSV show them, each saying why it is near.

The rows are the positions kept with the match when it was made (``report.evidence_rows``): those in the
widened window, and a near one just outside it. The matcher keeps as near the fixes near on their own and
both ends of every line that came near (``docs/crime.md``, "Measures"); a line that crosses the edge of
the widened window counts for its part inside, so one of its ends may lie just outside the window. That end
is shown marked as outside the window, so that the page's count of near positions is the count its table
marks. Numbers are the proximity report's."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openem.engine.enums import LabelledEnum
from openem.uktime import stamp

from .models import Finding
from .report import FixRow, distance_m

# Distances are worked out here as the matcher works them out; a position on the boundary to the last few
# millimetres of round-off is on the matcher's side of it.
ROUND_OFF_M = 0.01


class NearBy(LabelledEnum):
    """Why a position is one of a match's near positions."""

    POSITION = "position"  # the position itself is within the distance
    CIRCLE = "confidence circle"  # the position is further, its confidence circle reaches within the distance
    LINE = "line"  # neither: the straight line to the position before or after came within the distance

    @property
    def label(self) -> str:
        return {
            "position": "position within the distance",
            "confidence circle": "confidence circle within the distance",
            "line": "end of a line that came within the distance",
        }[self.value]


@dataclass
class PositionRow:
    n: int  # as the proximity report numbers it
    t: datetime
    lat: float
    lon: float
    accuracy_m: float | None  # as the device reported it
    radius_m: float | None  # the confidence radius matched with; None: too uncertain to be used
    speed_kmh: float | None  # from the previous position shown
    direction: str
    distance_m: float  # from the crime's location
    near_by: NearBy | None  # None: not one of the near positions
    outside: bool = False  # just outside the widened window: the end of a line that came near

    @property
    def near(self) -> bool:
        return self.near_by is not None

    @property
    def uk(self) -> str:
        return stamp(self.t)

    @property
    def edge_m(self) -> float | None:
        """The distance less the confidence radius (0 when the circle covers the place)."""
        return None if self.radius_m is None else max(self.distance_m - self.radius_m, 0.0)

    @property
    def reason(self) -> str:
        if self.outside:
            return "outside window \u2013 shows the line"
        return self.near_by.label if self.near_by is not None else ""


def positions(f: Finding, rows: Sequence[FixRow]) -> list[PositionRow]:
    """Each position shown for the match (``report.evidence_rows``, in time order), with its distance from the
    crime, the confidence radius matched with, whether it is outside the widened window and why it is near."""
    start, end = f.window()
    lo, hi = start.timestamp(), end.timestamp()
    params = f.run.params
    unreported = float(params.get("unreported_accuracy_m") or 50.0)
    max_accuracy = float(params.get("max_accuracy_m") or 100.0)
    distance = distance_m(f)
    out: list[PositionRow] = []
    for r in rows:
        outside = not lo <= r.t.timestamp() <= hi
        reported = r.accuracy_m if r.accuracy_m is not None and not math.isnan(r.accuracy_m) else None
        radius = unreported if reported is None else reported if reported <= max_accuracy else None
        gap = float(r.distance_m or 0.0)
        near_by = None
        if r.near:
            if outside:
                near_by = NearBy.LINE  # counted for the part of its line inside the window, never on its own
            elif gap <= distance + ROUND_OFF_M:
                near_by = NearBy.POSITION
            elif radius is not None and gap - radius <= distance + ROUND_OFF_M:
                near_by = NearBy.CIRCLE
            else:
                near_by = NearBy.LINE
        out.append(
            PositionRow(
                n=r.n,
                t=r.t,
                lat=r.lat,
                lon=r.lon,
                accuracy_m=reported,
                radius_m=radius,
                speed_kmh=r.speed_kmh,
                direction=r.direction,
                distance_m=gap,
                near_by=near_by,
                outside=outside,
            )
        )
    return out


def near_counts(rows: Sequence[PositionRow]) -> dict[str, int]:
    """How many near positions, and why: what the page says above its table."""
    near = [r for r in rows if r.near]
    return {
        "total": len(near),
        "position": sum(r.near_by == NearBy.POSITION for r in near),
        "circle": sum(r.near_by == NearBy.CIRCLE for r in near),
        "line": sum(r.near_by == NearBy.LINE for r in near),
        "outside": sum(r.outside for r in near),
        "in_window": sum(not r.outside for r in rows),
    }


def map_data(f: Finding, rows: Sequence[PositionRow]) -> dict[str, Any]:
    """What the match page's map draws (json_script: data, never markup). Each fix: lat, lon, time, confidence
    radius as reported, its number, near, outside the window, why near."""
    start, end = f.window()
    return {
        "crime": {"lat": f.crime.lat, "lon": f.crime.lon, "radius_m": distance_m(f), "reference": f.crime.reference},
        "window": [f.crime.window_start.timestamp(), f.crime.window_end.timestamp()],
        "read": [start.timestamp(), end.timestamp()],
        "fixes": [[r.lat, r.lon, r.t.timestamp(), r.accuracy_m, r.n, r.near, r.outside, r.reason] for r in rows],
        "gaps": f.gaps,
    }
