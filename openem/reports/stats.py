"""The arithmetic of published figures: intervals, relative rate indices, and the suppression of small
cells so that none can be read off, or worked out by subtraction from totals. Pure Python and numpy; no
Django. docs/mi.md says the same in words."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

Z95 = 1.959964
ALL = "__all__"  # the margin of a breakdown grid: every region, or every group


@dataclass
class Sums:
    """What a cell accumulates over its units (a unit contributes y to the numerator, x to the
    denominator): enough for the ratio, its linearised variance and a median's values."""

    n: int = 0
    sy: float = 0.0
    sx: float = 0.0
    syy: float = 0.0
    sxx: float = 0.0
    sxy: float = 0.0

    def add(self, y: float, x: float = 1.0) -> None:
        self.n += 1
        self.sy += y
        self.sx += x
        self.syy += y * y
        self.sxx += x * x
        self.sxy += x * y

    def merge(self, other: Sums) -> None:
        self.n += other.n
        self.sy += other.sy
        self.sx += other.sx
        self.syy += other.syy
        self.sxx += other.sxx
        self.sxy += other.sxy

    @property
    def ratio(self) -> float | None:
        return self.sy / self.sx if self.sx else None

    def ratio_variance(self) -> float | None:
        """Taylor-series (linearised) variance of the ratio sy/sx, units as clusters: valid whatever the
        spread of each unit's exposure, and for events that cluster in some people."""
        r = self.ratio
        if r is None or self.n < 2:
            return None
        resid = self.syy - 2 * r * self.sxy + r * r * self.sxx
        return max(resid, 0.0) * self.n / (self.n - 1) / (self.sx * self.sx)


def wilson(successes: float, n: int) -> tuple[float, float] | None:
    """Wilson score 95% interval for a proportion (good at small n and near 0 or 1)."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio_interval(s: Sums) -> tuple[float, float] | None:
    """95% interval for a rate or mean: on the log scale when positive (rates cannot go below 0)."""
    r, v = s.ratio, s.ratio_variance()
    if r is None or v is None:
        return None
    if r <= 0:
        return 0.0, Z95 * math.sqrt(v)
    se_log = math.sqrt(v) / r
    return r * math.exp(-Z95 * se_log), r * math.exp(Z95 * se_log)


def log_variance(s: Sums, proportion: bool) -> float | None:
    """Variance of log(ratio), for the relative rate index."""
    r = s.ratio
    if r is None or r <= 0 or s.n < 2:
        return None
    if proportion:
        return (1 - r) / (s.n * r) if r < 1 else 0.0
    v = s.ratio_variance()
    return None if v is None else v / (r * r)


def relative_rate(group: Sums, reference: Sums, proportion: bool) -> tuple[float, float, float] | None:
    """The group's rate over the reference group's, with a 95% interval on the log scale (the groups are
    independent: the variances add)."""
    rg, rr = group.ratio, reference.ratio
    vg, vr = log_variance(group, proportion), log_variance(reference, proportion)
    if rg is None or rr is None or rr <= 0 or rg <= 0 or vg is None or vr is None:
        return None
    rri = rg / rr
    se = math.sqrt(vg + vr)
    return rri, rri * math.exp(-Z95 * se), rri * math.exp(Z95 * se)


# ------------------------------------------------------------------ suppression

Key = tuple[str, str]  # (region or ALL, group or ALL)


def lines(regions: list[str], groups: list[str]) -> list[list[Key]]:
    """The additive relations of a grid with margins: each row's groups add up to the row's total, and
    each group's regions to the group's national figure (the last member of each line is its total)."""
    out = [[(r, g) for g in groups] + [(r, ALL)] for r in [*regions, ALL]]
    out += [[(r, g) for r in regions] + [(ALL, g)] for g in [*groups, ALL]]
    return out


def determined(hidden: list[Key], regions: list[str], groups: list[str]) -> set[Key]:
    """Hidden cells whose value anyone can work out from the visible ones and the totals: those that are
    zero in every solution of the homogeneous system the hidden cells must satisfy (null space)."""
    if not hidden:
        return set()
    index = {k: i for i, k in enumerate(hidden)}
    rows = []
    for line in lines(regions, groups):
        total = line[-1]
        row = np.zeros(len(hidden))
        for k in line[:-1]:
            if k in index:
                row[index[k]] += 1.0
        if total in index:
            row[index[total]] -= 1.0
        if row.any():
            rows.append(row)
    if not rows:
        return set(hidden)  # no relation involves them: nothing to find; but nothing to hide behind either
    a = np.array(rows)
    # Cell h is determined iff its unit vector lies in the row space of the relations: the diagonal of the
    # projection onto that space is 1 there (thin SVD: fast for a wide matrix).
    _u, sv, vt = np.linalg.svd(a, full_matrices=False)
    basis = vt[sv > 1e-9 * max(sv.max(), 1.0)]
    diag = (basis * basis).sum(axis=0)
    return {k for k, d in zip(hidden, diag, strict=True) if d > 1 - 1e-9}


def protect(units: dict[Key, int], regions: list[str], groups: list[str], primary: set[Key]) -> set[Key]:
    """The cells to hide: the small ones (``primary``) and enough others that none of them can be
    recovered by subtraction. Heuristic first (no line with a single hidden cell: hide the smallest
    other non-zero cell of that line), then an exact check, adding cells until nothing hidden is
    determined. Totals are hidden only where nothing else will do."""
    hidden = set(primary)

    def pick(line: list[Key]) -> Key | None:
        parts = [k for k in line[:-1] if k not in hidden]
        nonzero = [k for k in parts if units.get(k, 0) > 0]
        for choice in (nonzero, parts):
            if choice:
                return min(choice, key=lambda k: (units.get(k, 0), k))
        return line[-1] if line[-1] not in hidden else None

    all_lines = lines(regions, groups)
    for _round in range(1000):
        changed = False
        for line in all_lines:
            if sum(k in hidden for k in line) == 1:
                extra = pick(line)
                if extra is not None:
                    hidden.add(extra)
                    changed = True
        if changed:
            continue
        bad = determined(sorted(hidden), regions, groups)
        if not bad:
            return hidden
        k = min(bad)
        for line in all_lines:
            if k in line:
                extra = pick(line)
                if extra is not None:
                    hidden.add(extra)
                    changed = True
                    break
        if not changed:
            return hidden  # everything in reach is hidden
    return hidden


def protect_measure(
    grids: dict[str, dict[Key, int]],
    regions: list[str],
    groups_of: dict[str, list[str]],
    is_small: Callable[[Key, str], bool],
) -> dict[str, set[Key]]:
    """Every breakdown of one measure in one period together: the region totals and the national total
    are the same cells in each, so a total hidden in one is hidden in all, and each is protected again
    until they agree."""
    margins: set[Key] = set()
    result: dict[str, set[Key]] = {}
    for _round in range(50):
        for name, units in grids.items():
            primary = {k for k in units if is_small(k, name)} | margins
            result[name] = protect(units, regions, groups_of[name], primary)
        now = {k for hidden in result.values() for k in hidden if k[1] == ALL}
        if now <= margins:
            break
        margins |= now
    return result


def median(values: Iterable[float]) -> float | None:
    vs = sorted(values)
    if not vs:
        return None
    mid = len(vs) // 2
    return vs[mid] if len(vs) % 2 else (vs[mid - 1] + vs[mid]) / 2
