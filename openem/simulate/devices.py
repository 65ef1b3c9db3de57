"""Device models: what a GPS tag, an RF tag with its home unit, and an alcohol tag report.

Each turns a person's true timeline into readings with the defects of real kit: GPS error that grows
indoors and among buildings, multipath jumps that claim to be accurate, no fix indoors, gaps,
batteries that drain and are not always charged, RF range flapping at the edge of the home, home
units unplugged, devices gone silent. Equipment faults that are violations go into the truth.
"""

from __future__ import annotations

import itertools
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from . import fastjson
from .population import TOWNS, iso
from .profiles import FaultRates, HomeUnitReporting
from .timeline import Stay, Timeline, environmental_curve, tac_curve
from .truth import EQUIPMENT, violation
from .world import World

MIN = 60.0
HOUR = 3600.0
RF_RANGE_M = 35.0
UPLOAD_S = {"gps": 900.0, "rf": 900.0, "alcohol": 1800.0}
HEARTBEAT_S = 1800.0  # a change-only home unit's heartbeat


@dataclass
class DeviceState:
    """What a device carries from one day to the next."""

    seq: int = 0
    battery_pct: float = 100.0
    drain_pct_h: float = 3.0
    depleted_since: float | None = None
    charge_until: float = 0.0  # an evening's charge can run past midnight
    # A change-only home unit: the range it last reported, and whether it was silent at the end of the day.
    rf_reported: bool | None = None
    rf_silent_at_end: bool = False


@dataclass
class DayOutput:
    batches: list[tuple[float, str, bytes]] = field(default_factory=list)  # (arrival, device, lines)
    truth: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    readings: int = 0
    # When each device could not have shown behaviour: (device, start, end).
    blind: list[tuple[str, float, float]] = field(default_factory=list)


def _iso_many(t: np.ndarray) -> list[str]:
    return [b.decode() for b in fastjson.iso_utc_strings(np.round(t).astype(np.int64))]


def _intervals(mask: np.ndarray, t: np.ndarray, step: float) -> list[tuple[float, float]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(float(t[a]), float(t[b - 1] + step)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


class DeviceSimulator:
    def __init__(self, world: World, faults: FaultRates, seed: int, device_width: int) -> None:
        self.world = world
        self.faults = faults
        self.seed = seed
        self.state: dict[str, DeviceState] = {}
        self.device_width = device_width
        self.town_xy = np.array(list(TOWNS.values()))
        self.bad_today = False
        self._zone_cache: dict[int, tuple[Any, Any]] = {}

    def _rng(self, *key: int | str) -> np.random.Generator:
        # One stream per (device, day): the output does not depend on the order of the work.
        # zlib.crc32, not hash(): Python salts string hashes per process, which would make runs differ.
        return np.random.default_rng([self.seed, *[zlib.crc32(k.encode()) if isinstance(k, str) else k for k in key]])

    def day(
        self,
        tl: Timeline,
        day_index: int,
        d0: float,
        d1: float,
        outage: tuple[float, float] | None,
        out: DayOutput,
        bad_today: bool = False,
    ) -> None:
        """One day of every device of one person. Faults are not injected on the person's bad days, so
        that what they did stays observable and is measured as such."""
        p = tl.person
        self.bad_today = bad_today
        for kind, device in sorted(p.devices.items()):
            st = self.state.setdefault(device, DeviceState(drain_pct_h=100 / self._rng(device).uniform(24, 40)))
            rng = self._rng(device, day_index)
            start = max(d0, p.fitted_at)
            if kind in p.never_fitted or start >= d1:
                continue
            lines: list[tuple[float, str]] = []  # the occasional reading, one at a time
            # Regular readings: (times, lines matrix, whether an upload may send them newest first).
            blocks: list[tuple[np.ndarray, np.ndarray, bool]] = []
            silent = None
            if rng.random() < self.faults.device_silent and not bad_today:
                s = d0 + rng.uniform(8, 18) * HOUR
                silent = (s, s + rng.uniform(3, 6) * HOUR)
                out.truth.append(violation(p, "no_signal", EQUIPMENT, silent[0], silent[1], None, device=device))
                out.blind.append((device, silent[0], silent[1]))
            if kind == "gps":
                self._gps(tl, device, st, rng, start, d1, silent, lines, blocks, out)
            elif kind == "rf":
                self._rf(tl, device, st, rng, start, d1, silent, lines, blocks, out)
            else:
                self._alcohol(tl, device, rng, start, d1, silent, lines, out)
            for k, s, e in tl.tampers:
                if k == kind and start <= s < d1:
                    lines.append(
                        (
                            s,
                            json.dumps(
                                {"device": device, "time": iso(s), "type": "tamper", "kind": "strap", "state": "open"}
                            ),
                        )
                    )
                    lines.append(
                        (
                            e,
                            json.dumps(
                                {"device": device, "time": iso(e), "type": "tamper", "kind": "strap", "state": "closed"}
                            ),
                        )
                    )
            self._batches(device, kind, rng, lines, blocks, outage, out)

    # ---------------------------------------------------------------- GPS tag

    def _battery(
        self, tl: Timeline, st: DeviceState, rng: np.random.Generator, t: np.ndarray, charge: bool
    ) -> np.ndarray:
        """Battery percentage each minute: drains all day, charges in the evening at home if remembered."""
        pct = np.empty(len(t))
        charging = t < st.charge_until
        if charge:
            home = tl.stays_at(tl.person.home)
            evening = t[0] + rng.uniform(18, 21) * HOUR
            for s, e in home:
                cs = max(s, evening)
                if cs < e and cs < t[-1]:
                    st.charge_until = min(e, cs + 2.5 * HOUR)
                    charging = charging | ((t >= cs) & (t < st.charge_until))
                    break
        level = st.battery_pct
        step_h = (t[1] - t[0]) / HOUR if len(t) > 1 else 1 / 60
        rate = np.where(charging, 45.0, -st.drain_pct_h) * step_h
        # Within a run of charging (or not) the level moves one way, so clipping the running sum is exact.
        edges = np.flatnonzero(np.diff(charging.astype(np.int8))) + 1
        for block in np.split(np.arange(len(t)), edges):
            if not len(block):
                continue
            seg = np.clip(level + np.cumsum(rate[block]), 0.0, 100.0)
            pct[block] = seg
            level = float(seg[-1])
        st.battery_pct = level
        return pct

    def _gps(
        self,
        tl: Timeline,
        device: str,
        st: DeviceState,
        rng: np.random.Generator,
        d0: float,
        d1: float,
        silent: tuple[float, float] | None,
        lines: list[tuple[float, str]],
        blocks: list[tuple[np.ndarray, np.ndarray, bool]],
        out: DayOutput,
    ) -> None:
        p, f = tl.person, self.faults
        t = np.arange(d0 + rng.uniform(0, 59), d1, MIN)
        not_charged = rng.random() < f.battery_not_charged and not self.bad_today
        pct = self._battery(tl, st, rng, t, charge=not not_charged)
        if silent and np.interp(silent[0], t, pct) < 20 and out.truth and out.truth[-1]["type"] == "no_signal":
            # A tag about to go flat going silent would be a flat battery, not a fault: no such fault.
            out.truth.pop()
            out.blind.pop()
            silent = None
        powered = pct > 0
        # Battery episodes: low warning, then flat until the next charge.
        flat = _intervals(~powered, t, MIN)
        out.blind.extend((device, s, e) for s, e in flat)
        for s, e in flat:
            if st.depleted_since is None:
                st.depleted_since = s
            if e < t[-1] + MIN - 1:
                out.truth.append(violation(p, "battery_depleted", EQUIPMENT, st.depleted_since, e, None, device=device))
                st.depleted_since = None
        if powered[-1] and st.depleted_since is not None:
            st.depleted_since = None
        alive = powered.copy()
        if silent:
            alive &= ~((t >= silent[0]) & (t < silent[1]))
        # Power readings every 30 minutes and heartbeats every 15, while the tag is alive.
        w = self.device_width
        power = np.arange(0, len(t), 30)
        power = power[alive[power]]
        charging = pct[np.minimum(power + 1, len(pct) - 1)] > pct[power]
        stamps = np.round(t[power]).astype(np.int64)
        blocks.append((t[power], fastjson.power_lines(device, stamps, pct[power].astype(np.int64), charging, w), False))
        beats = np.arange(7, len(t), 15)
        beats = beats[alive[beats]]
        blocks.append((t[beats], fastjson.heartbeat_lines(device, np.round(t[beats]).astype(np.int64), w), False))
        zones = [z.shape for z in p.zones if z.kind == "exclusion_zone" and z.monitored]
        if zones:
            # Tags hold their zones and fix every 15 s while inside one (as Attenti and SCRAM do).
            fine = np.arange(t[0], d1, 15.0)
            fx, fy, _ = tl.positions(fine)
            inside = np.zeros(len(fine), dtype=bool)
            for z in zones:
                inside |= shapely.contains_xy(self._near_zone(z), fx, fy)
            if inside.any():
                extra = fine[inside]
                k = np.clip(np.searchsorted(t, extra, side="right") - 1, 0, len(t) - 1)
                extra, extra_alive = extra[alive[k]], alive[k][alive[k]]
                order = np.argsort(np.concatenate([t, extra]), kind="stable")
                t = np.concatenate([t, extra])[order]
                alive = np.concatenate([alive, extra_alive])[order]
        x, y, indoors = tl.positions(t)
        has_fix = alive.copy()
        if rng.random() < f.location_failure and not self.bad_today:
            s = d0 + rng.uniform(7, 16) * HOUR
            lf = (s, s + rng.uniform(2.5, 5) * HOUR)
            has_fix &= ~((t >= lf[0]) & (t < lf[1]))
            out.truth.append(
                violation(p, "location_failure", EQUIPMENT, lf[0], lf[1], p.trail_id or None, device=device)
            )
        # Indoors: a fix now and then, and poor; short visits to big buildings get none.
        stay_len = self._stay_lengths(tl, t)
        indoor_p = np.where(stay_len > 45 * MIN, 0.45, 0.3)
        has_fix &= np.where(indoors, rng.random(len(t)) < indoor_p, rng.random(len(t)) < 0.98)
        for _ in range(rng.poisson(f.gap_per_hour * 24)):
            g0 = rng.uniform(d0, d1)
            g1 = g0 + rng.uniform(2, 10) * MIN
            has_fix &= ~((t >= g0) & (t < g1))
            out.blind.append((device, g0, g1))  # what happened wholly inside a gap, no fix could show
        near_town = np.zeros(len(t), dtype=bool)
        for tx, ty in self.town_xy.tolist():
            near_town |= (x - tx) ** 2 + (y - ty) ** 2 < 1500.0**2
        acc = np.clip(rng.lognormal(np.log(7.0), 0.4, len(t)) * np.where(near_town, 1.4, 1.0), 3, 50)
        acc = np.where(indoors, rng.uniform(20, 60, len(t)), acc)
        sigma = acc / 2.45
        ex, ey = rng.normal(0, 1, len(t)) * sigma, rng.normal(0, 1, len(t)) * sigma
        jump = rng.random(len(t)) < f.multipath_per_fix
        if jump.any():
            ang = rng.uniform(0, 2 * np.pi, jump.sum())
            dist = rng.uniform(80, 300, jump.sum())
            ex[jump] += dist * np.cos(ang)
            ey[jump] += dist * np.sin(ang)
            out.faults.append(
                {"fault": "multipath", "person": p.id, "device": device, "count": int(jump[has_fix].sum())}
            )
        keep = has_fix
        lon, lat = self.world.to_lonlat(x[keep] + ex[keep], y[keep] + ey[keep])
        seq = st.seq + np.arange(int(keep.sum()))
        st.seq += int(keep.sum())
        stamps = np.round(t[keep]).astype(np.int64)
        fix_lines = fastjson.fix_lines(device, stamps, lat, lon, np.round(acc[keep], 1), seq, self.device_width)
        blocks.insert(0, (t[keep], fix_lines, True))  # an upload's fixes come first

    def _near_zone(self, zone: Any) -> Any:
        """The zone and 30 m around it, where a tag fixes every 15 s (prepared once per zone)."""
        key = id(zone)
        held = self._zone_cache.get(key)
        if held is None or held[0] is not zone:
            near = zone.buffer(30)
            shapely.prepare(near)
            held = self._zone_cache[key] = (zone, near)
        return held[1]

    @staticmethod
    def _stay_lengths(tl: Timeline, t: np.ndarray) -> np.ndarray:
        starts = np.array([s.start for s in tl.segments])
        idx = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(tl.segments) - 1)
        lengths = np.array([s.end - s.start if isinstance(s, Stay) else 0.0 for s in tl.segments])
        return lengths[idx]

    # ---------------------------------------------------------------- RF tag and home unit

    def _rf(
        self,
        tl: Timeline,
        device: str,
        st: DeviceState,
        rng: np.random.Generator,
        d0: float,
        d1: float,
        silent: tuple[float, float] | None,
        lines: list[tuple[float, str]],
        blocks: list[tuple[np.ndarray, np.ndarray, bool]],
        out: DayOutput,
    ) -> None:
        p, f = tl.person, self.faults
        t = np.arange(d0, d1, 30.0)
        x, y, _ = tl.positions(t)
        in_range = np.hypot(x - p.home.x, y - p.home.y) <= RF_RANGE_M
        if rng.random() < f.rf_flapping and not self.bad_today:
            home_idx = np.flatnonzero(in_range)
            used: list[int] = []
            for _ in range(rng.integers(1, 5)):
                if len(home_idx):
                    i = int(rng.choice(home_idx))
                    if any(abs(i - j) < 40 for j in used):
                        continue  # blips are minutes apart, each a few seconds to two minutes
                    used.append(i)
                    n = int(rng.integers(1, 5))  # 30 s to 2 min out of range while at home
                    in_range[i : i + n] = False
                    out.faults.append(
                        {
                            "fault": "rf_flapping",
                            "person": p.id,
                            "device": device,
                            "start": iso(t[i]),
                            "end": iso(t[min(i + n, len(t) - 1)]),
                        }
                    )
        alive = np.ones(len(t), dtype=bool)
        if silent:
            alive &= ~((t >= silent[0]) & (t < silent[1]))
        changes = np.flatnonzero(np.diff(in_range.astype(np.int8))) + 1
        if p.home_unit == HomeUnitReporting.CHANGES_ONLY:
            # Each change, and the state again when the unit comes back from a silence (a change may
            # have happened meanwhile) or first hears the tag after fitting; heartbeats in between.
            back = np.flatnonzero(np.diff(alive.astype(np.int8)) == 1) + 1
            picks = np.union1d(changes, back)
            if st.rf_reported is None or st.rf_silent_at_end or st.rf_reported != bool(in_range[0]):
                picks = np.union1d([0], picks)  # the change since yesterday's last sample, too
            picks = picks[alive[picks]]
            beats = np.arange(0, len(t), round(HEARTBEAT_S / 30.0))
            beats = beats[alive[beats]]
            stamps = np.round(t[beats]).astype(np.int64)
            blocks.append((t[beats], fastjson.heartbeat_lines(device, stamps, self.device_width), False))
            if alive[-1]:
                st.rf_reported = bool(in_range[-1])
            st.rf_silent_at_end = not alive[-1]
        else:
            status = np.arange(0, len(t), 60)  # every 30 minutes
            picks = np.union1d(changes, status)
            picks = picks[alive[picks]]
        stamps = np.round(t[picks]).astype(np.int64)
        blocks.append((t[picks], fastjson.rf_lines(device, stamps, in_range[picks], self.device_width), False))
        unplug = None
        if rng.random() < f.home_unit_unplugged and not self.bad_today:
            s = d0 + rng.uniform(8, 20) * HOUR
            unplug = (s, min(d1 - MIN, s + rng.uniform(1, 5) * HOUR))
            out.truth.append(violation(p, "home_unit_power", EQUIPMENT, unplug[0], unplug[1], None, device=device))
        for i in range(0, len(t), 720):  # mains status every 6 hours
            if alive[i]:
                on = not (unplug and unplug[0] <= t[i] < unplug[1])
                lines.append((t[i], json.dumps({"device": device, "time": iso(t[i]), "type": "power", "mains": on})))
        if unplug:
            lines.append(
                (unplug[0], json.dumps({"device": device, "time": iso(unplug[0]), "type": "power", "mains": False}))
            )
            lines.append(
                (unplug[1], json.dumps({"device": device, "time": iso(unplug[1]), "type": "power", "mains": True}))
            )

    # ---------------------------------------------------------------- alcohol tag

    def _alcohol(
        self,
        tl: Timeline,
        device: str,
        rng: np.random.Generator,
        d0: float,
        d1: float,
        silent: tuple[float, float] | None,
        lines: list[tuple[float, str]],
        out: DayOutput,
    ) -> None:
        p = tl.person
        t = np.arange(d0 + rng.uniform(0, 1799), d1, 1800.0)
        spikes: list[tuple[float, float]] = []
        if rng.random() < self.faults.environmental_alcohol and not self.bad_today:
            s = d0 + rng.uniform(8, 20) * HOUR
            spikes.append((s, float(rng.uniform(0.025, 0.045))))
            out.faults.append({"fault": "environmental_alcohol", "person": p.id, "device": device, "start": iso(s)})
        tac = tac_curve(tl.drinking, t) + environmental_curve(spikes, t) + rng.normal(0, 0.0012, len(t))
        tac = np.clip(tac, 0, None)
        hour = ((t - d0) / HOUR) % 24
        ir = 1.15 + rng.normal(0, 0.04, len(t))
        temp = np.where((hour < 7) | (hour > 22), 34.3, 33.4) + rng.normal(0, 0.4, len(t))
        for k, s, e in tl.tampers:
            if k == "alcohol":
                obstructed = (t >= s) & (t < e + HOUR)
                ir[obstructed] = 2.3 + rng.normal(0, 0.05, obstructed.sum())
                temp[obstructed] = 24.5 + rng.normal(0, 0.8, obstructed.sum())
        for i, stamp in enumerate(_iso_many(t)):
            if silent and silent[0] <= t[i] < silent[1]:
                continue
            lines.append(
                (
                    t[i],
                    f'{{"device": "{device}", "time": "{stamp}", "type": "alcohol", '
                    f'"tac_g_dl": {tac[i]:.3f}, "ir_v": {ir[i]:.2f}, "temp_c": {temp[i]:.1f}}}',
                )
            )

    # ---------------------------------------------------------------- upload batches

    def _batches(
        self,
        device: str,
        kind: str,
        rng: np.random.Generator,
        lines: list[tuple[float, str]],
        blocks: list[tuple[np.ndarray, np.ndarray, bool]],
        outage: tuple[float, float] | None,
        out: DayOutput,
    ) -> None:
        every = UPLOAD_S[kind]

        def arrival(t: np.ndarray) -> np.ndarray:
            a = (np.floor(t / every) + 1) * every + 2.0
            if outage:
                held = (t >= outage[0]) & (t < outage[1])
                a = np.where(held, outage[1] + 30.0, a)
            return a

        groups: dict[float, list[bytes]] = {}
        for times, matrix, reversible in blocks:
            if not len(times):
                continue
            width, data = matrix.shape[1], matrix.tobytes()
            arr = arrival(times)
            bounds = np.concatenate([[0], np.flatnonzero(np.diff(arr)) + 1, [len(times)]]).tolist()
            # Now and then a device sends its buffer of fixes newest first.
            reverse = (rng.random(len(bounds) - 1) < 0.03).tolist() if reversible else [False] * (len(bounds) - 1)
            for (a0, a1), backwards in zip(itertools.pairwise(bounds), reverse, strict=True):
                chunk = matrix[a0:a1][::-1].tobytes() if backwards else data[a0 * width : a1 * width]
                groups.setdefault(float(arr[a0]), []).append(chunk)
            out.readings += len(times)
        if lines:
            times = np.array([x[0] for x in lines])
            for a, (_, text) in zip(arrival(times).tolist(), lines, strict=True):
                groups.setdefault(a, []).append(text.encode() + b"\n")
            out.readings += len(lines)
        for a, parts in groups.items():
            out.batches.append((a, device, b"".join(parts)))
