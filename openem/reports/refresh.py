"""`openem mi-refresh`: compute each measure for a quarter, split by region and by each breakdown, with
intervals, relative rate indices and suppression, and store the cells the Statistics pages read."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import stats
from .equality import (
    AGE_BANDS,
    NOT_RECORDED,
    NOT_RECORDED_LABEL,
    Disability,
    EthnicGroup,
    EthnicGroupHigh,
    GenderIdentity,
    Religion,
    Sex,
    SexualOrientation,
)
from .measures import MEASURES, Facts, Kind, Measure, Period, load
from .stats import ALL, Sums

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Breakdown:
    code: str
    title: str
    groups: tuple[tuple[str, str], ...]  # (value, label); empty: the groups found in the data
    reference: str = ""  # the group relative rate indices compare against

    def labels(self) -> dict[str, str]:
        return dict(self.groups)


def _enum_groups(enum: Any) -> tuple[tuple[str, str], ...]:
    return (*((m.value, m.label) for m in enum), (NOT_RECORDED, NOT_RECORDED_LABEL))


BREAKDOWNS: dict[str, Breakdown] = {b.code: b for b in [
    Breakdown("order", "Order type and technology", ()),
    Breakdown("ethnic_group_high", "Ethnic group (5 groups)", _enum_groups(EthnicGroupHigh), "white"),
    Breakdown("ethnic_group", "Ethnic group (19 groups)", _enum_groups(EthnicGroup), "white_british"),
    Breakdown("religion", "Religion or belief", _enum_groups(Religion), "christian"),
    Breakdown("disability", "Disability", _enum_groups(Disability), "not_disabled"),
    Breakdown("sex", "Sex", _enum_groups(Sex), "male"),
    Breakdown("gender_identity", "Gender identity", _enum_groups(GenderIdentity), "same"),
    Breakdown("sexual_orientation", "Sexual orientation", _enum_groups(SexualOrientation), "straight"),
    Breakdown("age", "Age on the last day of the quarter",
              (*((c, label) for _u, c, label in AGE_BANDS), (NOT_RECORDED, NOT_RECORDED_LABEL)), "30_39"),
]}  # fmt: skip


def order_group_label(value: str) -> str:
    from openem.engine.enums import OrderType

    kind, _, tech = value.partition("|")
    names = {"rf": "RF", "gps": "GPS", "alcohol": "alcohol"}
    try:
        order = OrderType(kind).label
    except ValueError:
        order = "No order"
    techs = " and ".join(names.get(t, t) for t in tech.split("+") if t)
    return f"{order}: {techs}" if techs else order


@functools.lru_cache(maxsize=4096)
def group_label(breakdown: str, value: str) -> str:
    if breakdown == "order":
        return order_group_label(value)
    return BREAKDOWNS[breakdown].labels().get(value, value)


def threshold() -> int:
    return max(1, int(settings.OPENEM_MI_SUPPRESS_BELOW))


@dataclass
class CellData:
    sums: Sums
    median: float | None = None


class People:
    """Each person's region and group in every breakdown, as arrays by position: the grids are built with
    numpy (a national quarter has hundreds of thousands of units, times ten breakdowns)."""

    def __init__(self, facts: Facts, regions: list[str]) -> None:
        from .measures import NO_REGION

        self.ids = np.array(sorted(facts.people), dtype=np.int64)
        self.regions = regions
        region_at = {r: i for i, r in enumerate(regions)}
        people = [facts.people[int(p)] for p in self.ids]
        self.region = np.array(
            [region_at.get(p["region"], region_at.get(NO_REGION, 0)) for p in people], dtype=np.int64
        )
        self.groups: dict[str, list[str]] = {}
        self.group: dict[str, np.ndarray] = {}
        for b, bd in BREAKDOWNS.items():
            if not bd.groups:
                continue
            values = [v for v, _l in bd.groups]
            at = {v: i for i, v in enumerate(values)}
            self.groups[b] = values
            self.group[b] = np.array([at.get(p.get(b, NOT_RECORDED), at[NOT_RECORDED]) for p in people], dtype=np.int64)

    def positions(self, person_ids: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ids, person_ids)


def _grids(measure: Measure, units: list[tuple[int, str, float, float]], people: People
           ) -> tuple[dict[str, dict[tuple[str, str], CellData]], dict[str, list[str]]]:  # fmt: skip
    """Each breakdown's grid: (region, group) cells with their margins (ALL), as sums over the units."""
    regions = people.regions
    nr = len(regions)
    grids: dict[str, dict[tuple[str, str], CellData]] = {}
    groups_of: dict[str, list[str]] = {}
    if units:
        pid = np.fromiter((u[0] for u in units), dtype=np.int64, count=len(units))
        y = np.fromiter((u[2] for u in units), dtype=np.float64, count=len(units))
        x = np.fromiter((u[3] for u in units), dtype=np.float64, count=len(units))
        pos = people.positions(pid)
        r = people.region[pos]
    for b in BREAKDOWNS:
        if not units:
            groups_of[b], grids[b] = people.groups.get(b, []), {}
            continue
        if b in people.groups:
            groups = people.groups[b]
            g = people.group[b][pos]
        else:
            found, g = np.unique(np.array([u[1] for u in units], dtype=object), return_inverse=True)
            groups = [str(v) for v in found]
        groups_of[b] = groups
        grid: dict[tuple[str, str], CellData] = {}
        ng = len(groups)
        cell = r * ng + g
        size = nr * ng
        planes = [np.bincount(cell, weights=w, minlength=size).reshape(nr, ng)
                  for w in (None, y, x, y * y, x * x, x * y)]  # fmt: skip
        medians = _medians(measure, cell, r, g, y, nr, ng)
        full = [np.zeros((nr + 1, ng + 1)) for _ in planes]
        for f, p in zip(full, planes, strict=True):
            f[:nr, :ng] = p
            f[:nr, ng] = p.sum(axis=1)
            f[nr, :ng] = p.sum(axis=0)
            f[nr, ng] = p.sum()
        keys_r = [*regions, ALL]
        keys_g = [*groups, ALL]
        n_plane = full[0]
        for i, j in zip(*np.nonzero(n_plane), strict=True):
            sums = Sums(int(n_plane[i, j]), *(float(f[i, j]) for f in full[1:]))
            grid[(keys_r[i], keys_g[j])] = CellData(sums, medians.get((int(i), int(j))))
        grids[b] = grid
    return grids, groups_of


def _medians(measure: Measure, cell: np.ndarray, r: np.ndarray, g: np.ndarray, y: np.ndarray, nr: int, ng: int
             ) -> dict[tuple[int, int], float]:  # fmt: skip
    """The median of y in every cell and margin (MEDIAN measures only)."""
    if measure.kind != Kind.MEDIAN:
        return {}
    out: dict[tuple[int, int], float] = {}
    for key_of, index in (
        (lambda k: (k // ng, k % ng), cell),
        (lambda k: (k, ng), r),
        (lambda k: (nr, k), g),
        (lambda k: (nr, ng), np.zeros_like(r)),
    ):
        order = np.lexsort((y, index))
        sorted_index, sorted_y = index[order], y[order]
        bounds = np.flatnonzero(np.diff(sorted_index)) + 1
        for chunk_index, chunk in zip(np.split(sorted_index, bounds), np.split(sorted_y, bounds), strict=True):
            if len(chunk):
                out[key_of(int(chunk_index[0]))] = float(np.median(chunk))
    return out


def compute_period(period: Period, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every cell of every measure for the quarter, as rows for MiCell."""
    facts = load(period, now)
    k = threshold()
    regions = sorted({p["region"] for p in facts.people.values()})
    people = People(facts, regions)
    rows: list[dict[str, Any]] = []
    prepared: dict[str, tuple[Measure, Any, Any, Any]] = {}
    for measure in MEASURES.values():
        if measure.compute is None:
            continue
        units = measure.compute(facts)
        grids, groups_of = _grids(measure, units, people)
        counts = {b: {key: c.sums.n for key, c in g.items()} for b, g in grids.items()}

        def small(key: tuple[str, str], b: str, measure: Measure = measure, grids: Any = grids) -> bool:
            cell = grids[b].get(key)
            if cell is None:
                return False
            n = cell.sums.n
            if 0 < n < k:
                return True
            return measure.kind == Kind.PROPORTION and 0 < cell.sums.sy < k

        prepared[measure.code] = (measure, grids, small, stats.protect_measure(counts, regions, groups_of, small))
    # Measures of one family share their units (the shares of decisions by outcome add up to all of them): a
    # cell hidden in one is hidden in all, or the others' numerators would give it away by subtraction.
    for family in {m.family for m, *_r in prepared.values() if m.family}:
        members = [code for code, (m, *_r) in prepared.items() if m.family == family]
        for b in BREAKDOWNS:
            union = set().union(*(prepared[code][3][b] for code in members))
            for code in members:
                prepared[code][3][b] |= union
    for measure, grids, small, hidden in prepared.values():
        margins_done: set[tuple[str, str]] = set()
        for b, bd in BREAKDOWNS.items():
            grid = grids[b]
            for (region, group), cell in list(grid.items()):
                if group == ALL:
                    if (region, group) in margins_done:
                        continue
                    margins_done.add((region, group))
                is_hidden = (region, group) in hidden[b]
                reference = None
                if bd.reference and group != ALL and measure.kind in (Kind.PROPORTION, Kind.RATIO):
                    ref_key = (region, bd.reference)
                    if ref_key in grid and ref_key not in hidden[b]:
                        reference = grid[ref_key].sums
                row = _row(period, measure, "" if group == ALL else b, group, region, cell, is_hidden, reference)
                row["small"] = is_hidden and small((region, group), b)
                if group == bd.reference and row.get("rri") is not None:
                    row["rri"], row["rri_low"], row["rri_high"] = 1.0, None, None  # the yardstick itself
                rows.append(row)
            for key in hidden[b]:  # hidden cells with nothing in them are stored too: shown as suppressed
                if key not in grid and key[1] != ALL:
                    rows.append(_row(period, measure, b, key[1], key[0], CellData(Sums()), True, None))
    return rows


def _row(period: Period, measure: Measure, breakdown: str, group: str, region: str, cell: CellData, hidden: bool,
         reference: Sums | None) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {
        "period": str(period), "measure": measure.code, "breakdown": breakdown,
        "group": "" if group == ALL else group, "region": "" if region == ALL else region,
        "version": measure.version, "suppressed": hidden,
    }  # fmt: skip
    if hidden:
        return row  # nothing of a suppressed cell is stored: no figure to leak from the table or a download
    s = cell.sums
    row.update(units=s.n, numerator=s.sy, denominator=s.sx)
    scale = measure.scale
    if measure.kind == Kind.COUNT:
        row["value"] = float(s.n)
    elif measure.kind == Kind.MEDIAN:
        row["value"] = cell.median
    elif s.sx:
        row["value"] = s.sy / s.sx * scale
        ci = stats.wilson(s.sy, s.n) if measure.kind == Kind.PROPORTION else stats.ratio_interval(s)
        if ci is not None:
            row["ci_low"], row["ci_high"] = ci[0] * scale, ci[1] * scale
        if reference is not None:
            rri = stats.relative_rate(s, reference, measure.kind == Kind.PROPORTION)
            if rri is not None:
                row["rri"], row["rri_low"], row["rri_high"] = rri
    return row


def refresh(period: Period, now: datetime | None = None) -> Any:
    """Recompute and replace the quarter's cells in one transaction: pages never see half a refresh."""
    from .models import MiCell, MiRun, RefreshStatus

    run = MiRun.objects.create(period=str(period), versions={m.code: m.version for m in MEASURES.values()})
    began = time.perf_counter()
    try:
        rows = compute_period(period, now)
        with transaction.atomic():
            MiCell.objects.filter(period=str(period)).delete()
            MiCell.objects.bulk_create([MiCell(**r) for r in rows], batch_size=2000)
    except Exception as exc:
        MiRun.objects.filter(pk=run.pk).update(
            status=RefreshStatus.FAILED, error=repr(exc)[:2000], finished_at=timezone.now(),
            seconds=time.perf_counter() - began,
        )  # fmt: skip
        raise
    MiRun.objects.filter(pk=run.pk).update(
        status=RefreshStatus.DONE, finished_at=timezone.now(), seconds=time.perf_counter() - began, cells=len(rows)
    )
    run.refresh_from_db()
    return run


def default_periods(quarters: int = 2, today: Any = None) -> list[Period]:
    """The current quarter and the one before (late records still change it)."""
    return Period.containing(today or timezone.localdate()).last(quarters)
