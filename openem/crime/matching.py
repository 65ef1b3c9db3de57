"""Who was near a crime: docs/crime.md, "How matching works"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .records import CrimeRow, Finding, Fix, MatchParams

Trail = Sequence[Fix] | Mapping[str, Any]  # Fix objects, or columns t, lat, lon, acc (numpy arrays)


def match_crime(
    crime: CrimeRow,
    trails: Mapping[str, Trail],
    homes: Mapping[str, tuple[float, float]],
    params: MatchParams,
    *,
    monitored: Mapping[str, Sequence[tuple[float, float]]] | None = None,
) -> list[Finding]:
    """A finding for each person monitored in the crime's widened window: ``trails`` maps a person to their
    fixes in time order covering at least [start - buffer - max_gap, end + buffer + max_gap];
    ``monitored`` the periods (Unix seconds) each had a GPS device fitted (None: everyone in ``trails``,
    throughout); ``homes`` their curfew address (lat, lon), if any."""
    return match_batch([crime], trails, homes, params, monitored=monitored)


def match_batch(
    crimes: Sequence[CrimeRow],
    trails: Mapping[str, Trail],
    homes: Mapping[str, tuple[float, float]],
    params: MatchParams,
    *,
    monitored: Mapping[str, Sequence[tuple[float, float]]] | None = None,
) -> list[Finding]:
    """``match_crime`` for many crimes at once: findings by crime in the order given, then by person."""
    raise NotImplementedError
