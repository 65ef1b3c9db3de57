from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

import numpy as np

from ..enums import DeviceKind
from ..model import LONDON, Cond, Params, Subject, local_day_start
from ..notes import Note, NoteKind
from ..schedule import occurrences
from ..telemetry import DeviceFrame


@dataclass
class Fixes:
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    acc: np.ndarray

    @cached_property
    def steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Time and distance between consecutive fixes, shared by every zone's pass-through test."""
        return np.diff(self.t), np.hypot(np.diff(self.x), np.diff(self.y))


@dataclass
class Context:
    subject: Subject
    frame: DeviceFrame
    kind: DeviceKind
    params: Params
    t_start: float  # fitted
    t_end: float  # removed, or the end of the data
    data_end: float  # the end of all the data: what is open then stays open
    data_start: float = 0.0  # the start of the data: silence before it is not silence
    notes: list[Note] = field(default_factory=list)

    def note(self, kind: NoteKind, **data: Any) -> None:
        """Say something that is not a violation (see ``openem.engine.notes``)."""
        self.notes.append(Note(kind, self.frame.device, self.subject.id, data))

    @cached_property
    def fixes(self) -> Fixes:
        """Usable fixes in metres: accurate enough, and not a multipath spike."""
        f, p = self.frame, self.params
        # Every path (batch, OsmAnd, MQTT, replay) reaches the rules here: an accuracy not reported is
        # assumed, never taken as 0 (a fix placed exactly where it says it is).
        acc = np.where(np.isnan(f.acc), p.unreported_accuracy_m, f.acc)
        ok = acc <= p.max_accuracy_m
        t, lat, lon, acc = f.fix_t[ok], f.lat[ok], f.lon[ok], acc[ok]
        x, y = self.subject.to_metric(lat, lon)
        keep = ~spikes(x, y, acc, p.spike_jump_m)
        dropped = int((~ok).sum() + (~keep).sum())
        if dropped:
            self.notes.append(
                Note(
                    NoteKind.FIXES_FILTERED,
                    f.device,
                    data={"count": dropped, "why": "accuracy worse than max_accuracy_m, or a multipath spike"},
                )
            )
        return Fixes(t[keep], x[keep], y[keep], acc[keep])

    def spans(self, cond: Cond) -> list[tuple[float, float]]:
        """When a condition with windows applies, as occurrences within its dates and this context."""
        lo, hi = max(cond.span[0], self.t_start), min(cond.span[1], self.t_end)
        if lo >= hi:
            return []
        if not cond.spec.windows:
            return [(lo, hi)]
        # The live worker evaluates the same condition every cycle with the data's end a little later: the
        # occurrences are worked out to two days past it, kept, and cut at the end (the same result as
        # working them out to the end itself), so most cycles reuse them.
        far = min(cond.span[1], local_day_start(_local_date(hi) + timedelta(days=2)))
        key = (lo, far)
        cached = cond.spans_cache.get(key)
        if cached is None:
            if len(cond.spans_cache) > 16:
                cond.spans_cache.clear()  # bounded: old windows are not asked for again
            cached = cond.spans_cache[key] = self._spans(cond, lo, far)
        return [(a, min(b, hi)) for a, b in cached if a < hi]

    def _spans(self, cond: Cond, lo: float, hi: float) -> list[tuple[float, float]]:
        first = _local_date(lo) - timedelta(days=1)
        last = _local_date(hi)
        out = []
        for s, e, _ in occurrences(cond.spec.windows, first, last):
            a, b = max(s.timestamp(), lo), min(e.timestamp(), hi)
            if a < b:
                out.append((a, b))
        rel = cond.spec.release_day_start
        if rel is not None:
            # Release day: from the release-day start to the end of that night's curfew.
            day0 = cond.order.start
            s0 = local_day_start(day0) + rel * 60
            later = [e for s, e in out if s >= s0 - 1]
            e0 = min(later) if later else s0 + 12 * 3600
            out = [(a, b) for a, b in out if b <= s0 or a >= e0]
            if lo <= s0 < hi:
                out.append((s0, min(e0, hi)))
            out.sort()
        return out


def _local_date(t: float) -> date:
    return datetime.fromtimestamp(t, LONDON).date()


def spikes(x: np.ndarray, y: np.ndarray, acc: np.ndarray, jump_m: float) -> np.ndarray:
    """A fix far from both neighbours while the neighbours agree: a multipath jump, not a movement."""
    n = len(x)
    out = np.zeros(n, dtype=bool)
    if n < 3:
        return out
    # Squared distances from one diff of each coordinate: this runs on every fix.
    dx, dy = np.diff(x), np.diff(y)
    d_prev = dx[:-1] ** 2 + dy[:-1] ** 2
    d_next = dx[1:] ** 2 + dy[1:] ** 2
    sx, sy = dx[:-1] + dx[1:], dy[:-1] + dy[1:]
    d_skip = sx * sx + sy * sy
    tol = (jump_m + acc[1:-1]) ** 2
    out[1:-1] = (d_prev > tol) & (d_next > tol) & (d_skip < 0.25 * np.minimum(d_prev, d_next))
    return out
