"""Small interval helpers shared by the rules: runs of a boolean series, clipping, merging."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [a, b) where mask is True."""
    if not len(mask):
        return []
    edges = np.flatnonzero(
        np.diff(np.concatenate(([0], mask.view(np.int8) if mask.dtype == bool else mask.astype(np.int8), [0])))
    )
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def confirmed_runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    return [(a, b) for a, b in runs(mask) if b - a >= min_len]


def hysteresis(enter: np.ndarray, leave: np.ndarray, enter_n: int, leave_n: int) -> list[tuple[int, int]]:
    """Episodes that start at the first of ``enter_n`` consecutive entering samples and end at the first of
    ``leave_n`` consecutive leaving samples; samples that are neither keep the current state.
    Returns index ranges [start, end) with end == len when still open."""
    n = len(enter)
    out: list[tuple[int, int]] = []
    if n == 0:
        return out
    enter_starts = [a for a, b in runs(enter) if b - a >= enter_n]
    leave_runs = [(a, b) for a, b in runs(leave) if b - a >= leave_n]
    li = 0
    pos = 0
    for a in enter_starts:
        if a < pos:
            continue
        while li < len(leave_runs) and leave_runs[li][0] <= a:
            li += 1
        end = leave_runs[li][0] if li < len(leave_runs) else n
        out.append((a, end))
        pos = end
    return out


def clip(intervals: list[tuple[float, float]], spans: list[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """Pieces of intervals inside spans, with the index of the span."""
    out = []
    for s, e in intervals:
        for k, (a, b) in enumerate(spans):
            lo, hi = max(s, a), min(e, b)
            if lo < hi:
                out.append((lo, hi, k))
    return out


def merge(intervals: list[tuple[float, float]], gap: float = 0.0) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
