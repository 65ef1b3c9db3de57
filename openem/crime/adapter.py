"""Between the stored crimes and the pure-Python core (records, matching): a crime as the core's
``CrimeRow``, the trails of everyone with a GPS device fitted in a period as the core takes them, each
person's curfew address, and the code version a run records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np

from openem.telemetry import trail as trail_store

from . import matching
from .records import CrimeRow, CrimeType, MatchParams


def crime_type_label(code: str, description: str = "") -> str:
    """The type's name from its code (an ad-hoc search has none)."""
    if not code:
        return description or "Ad-hoc search"
    try:
        return CrimeType(code).label
    except ValueError:
        return description or code


def as_row(crime: Any) -> CrimeRow:
    """A stored ``Crime`` as the core matches it; its reference is the crime's id, unique across versions."""
    return CrimeRow(
        row=crime.row,
        force=crime.force,
        batch_id=crime.batch.batch_ref,
        reference=str(crime.pk),
        crime_type=CrimeType(crime.crime_type) if crime.crime_type else CrimeType.BOTD,
        description=crime.crime_type_description,
        start=crime.window_start.astimezone(UTC),
        end=crime.window_end.astimezone(UTC),
        lat=crime.lat,
        lon=crime.lon,
        easting=crime.easting,
        northing=crime.northing,
        datum=crime.datum,
        text=crime.crime_text,
    )


@dataclass
class Trails:
    """What the matcher reads for a period: each person's fixes (columns, in time order, with the device
    of each fix), the periods their GPS devices were fitted, and their curfew address."""

    columns: dict[str, dict[str, np.ndarray]]
    devices: dict[str, list[str]]  # person key -> the device of each fix
    monitored: dict[str, list[tuple[float, float]]]
    homes: dict[str, tuple[float, float]]


def trails_for(
    lo: datetime,
    hi: datetime,
    near: Sequence[CrimeRow] | None = None,
    params: MatchParams | None = None,
    reach_m: float = 0.0,
) -> Trails:
    """Everyone with a GPS device fitted at some time in [lo, hi): their fixes from each device only while
    it was fitted to them (the telemetry trail store), keyed by the person's id as text.

    With the crimes ``near`` and their ``params``: the fixes only of those who may be named for one of
    them, read whole (a finding's gaps and closest approach need the whole window): whose trail comes
    within ``reach_m`` (at least the matching distance and largest confidence radius) of it in its window,
    or whose curfew address does. Everyone else fitted is listed, monitored, without fixes: none of their
    findings would be a match or be kept."""
    from django.db.models import Q

    from openem.devices.models import Fitting

    fittings = (
        Fitting.objects.select_related("device", "person")
        .filter(device__kind="gps", fitted_at__lt=hi)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=lo))
    )
    periods = []
    people: dict[str, Any] = {}
    for f in fittings:
        a = max(lo, f.fitted_at).timestamp()
        b = min(hi, f.removed_at).timestamp() if f.removed_at else hi.timestamp()
        if a < b:
            periods.append((f, a, b))
            people[str(f.person_id)] = f.person
    homes = homes_of(people)
    devices = {f.device.ref for f, _, _ in periods}
    if near is not None and params is not None:
        devices &= _may_be_named(periods, homes, near, params, reach_m, lo.timestamp(), hi.timestamp())
    # One read of those devices' window (the trail service's many-device read), cut to each fitting.
    read = trail_store.window(devices, lo.timestamp(), hi.timestamp())
    none = trail_store.Fixes.of(np.empty(0, dtype=trail_store.FIX))
    parts: dict[str, list[tuple[str, np.ndarray]]] = {}
    monitored: dict[str, list[tuple[float, float]]] = {}
    for f, a, b in periods:
        key = str(f.person_id)
        monitored.setdefault(key, []).append((a, b))
        got = read.get(f.device.ref, none)
        inside = (got.t >= a) & (got.t < b)
        packed = np.empty(int(inside.sum()), dtype=[("t", "f8"), ("lat", "f8"), ("lon", "f8"), ("acc", "f8")])
        packed["t"], packed["lat"], packed["lon"] = got.t[inside], got.lat[inside], got.lon[inside]
        packed["acc"] = got.acc[inside]
        parts.setdefault(key, []).append((f.device.ref, packed))
    columns: dict[str, dict[str, np.ndarray]] = {}
    devices_of: dict[str, list[str]] = {}
    for key, pieces in parts.items():
        joined = np.concatenate([p for _, p in pieces])
        names = np.concatenate([np.full(len(p), d, dtype=object) for d, p in pieces])
        order = np.argsort(joined["t"], kind="stable")  # devices swapped: their fixes may interleave
        joined, names = joined[order], names[order]
        columns[key] = {"t": joined["t"], "lat": joined["lat"], "lon": joined["lon"], "acc": joined["acc"]}
        devices_of[key] = names.tolist()
    return Trails(columns, devices_of, monitored, homes)


def _may_be_named(
    periods: list[tuple[Any, float, float]],
    homes: dict[str, tuple[float, float]],
    crimes: Sequence[CrimeRow],
    params: MatchParams,
    reach_m: float,
    lo: float,
    hi: float,
) -> set[str]:
    """The devices of people who may be named for one of ``crimes``: those whose trail may come within
    reach of one (a slot meeting its box, ``matching.read_boxes``, through the trail store's slot index),
    and those whose curfew address is in one. Every device, when the longest line is longer than the
    slots allow for."""
    everyone = {f.device.ref for f, _, _ in periods}
    if params.max_gap_min * 60.0 > trail_store.LINK_S or not crimes:
        return everyone if crimes else set()
    near = params.distance_m + max(params.max_accuracy_m, params.unreported_accuracy_m)
    boxes = matching.read_boxes(crimes, params, reach_m=max(reach_m, near))
    found = trail_store.devices_meeting(boxes, lo, hi)
    for f, _, _ in periods:
        home = homes.get(str(f.person_id))
        if home is None:
            continue
        lat_in = (boxes[:, 2] <= home[0]) & (home[0] <= boxes[:, 3])
        if bool((lat_in & (boxes[:, 4] <= home[1]) & (home[1] <= boxes[:, 5])).any()):
            found.add(f.device.ref)
    return found & everyone


def homes_of(people: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Each person's curfew address (their first curfew condition with one), in one query for them all."""
    from openem.cases.models import Condition

    homes: dict[str, tuple[float, float]] = {}
    rows = Condition.objects.filter(order__person_id__in=[p.pk for p in people.values()], type="curfew")
    for person_id, spec in rows.order_by("id").values_list("order__person_id", "spec"):
        address = (spec or {}).get("address")
        if address and "lat" in address:
            homes.setdefault(str(person_id), (float(address["lat"]), float(address["lon"])))
    return homes


@lru_cache(maxsize=1)
def code_version() -> str:
    """What a run records it was made with: the matcher's own version (OpenEM's and the digest of the
    matcher's source), the same as ``openem crime-match`` records, so a portal run and a command-line run
    of the same code say so."""
    return matching.code_version()
