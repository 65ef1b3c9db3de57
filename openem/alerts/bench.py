"""`openem bench alerts`: simulated caseloads replayed as the live system sees them, through triage.

The telemetry file is in arrival order; a reading arrives when the simulated clock (the newest time
seen so far) reaches it. Every ``step_s`` of that clock the engine evaluates what has arrived with the
deadline at that moment, as the worker does, so violations open, change and are retracted (late
uploads, network outages) just as they would live. The amendments feed triage; digests go out each
morning. The baseline is one alert, and one message to the practitioner, per violation opened.

Scored against the simulator's truth: a practitioner notification is genuine when the incident it is
about holds a behaviour violation that really happened; a genuine incident is missed when no
notification (at once or in a digest) ever covered it.
"""

from __future__ import annotations

import json
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from openem.engine import casefile
from openem.engine.engine import Engine
from openem.engine.model import compile_cases
from openem.engine.replay import read_telemetry
from openem.engine.scoring import TOLERANCE_S
from openem.engine.telemetry import select_frame
from openem.engine.violations import BEHAVIOUR_TYPES, Category, ViolationType
from openem.engine.violations import Violation as EngineViolation

from .triage import Action, Delivery, Event, Incident, IncidentKind, MemoryStore, Risk, Triage, violation_key

LONDON = ZoneInfo("Europe/London")
DIGEST_HOUR = 8
BEHAVIOUR = {t.value for t in BEHAVIOUR_TYPES}


def _ts(text: str | None, default: float) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else default


@dataclass
class Told:
    """One item a practitioner was told about: the incident as it stood then."""

    person: str
    spans: list[tuple[str, float, float]]  # (type, start, end) of its behaviour violations
    how: Delivery


@dataclass
class Tally:
    alerts: int = 0
    messages: int = 0
    told: list[Told] = field(default_factory=list)


class ArrivalClock:
    """For each device, when each of its readings arrived (by measurement time)."""

    def __init__(self, telemetry: Path) -> None:
        newest = -np.inf
        seen: dict[str, dict[float, float]] = defaultdict(dict)
        for r in read_telemetry(telemetry):
            newest = max(newest, r.t)
            per = seen[r.device]
            per[r.t] = max(per.get(r.t, -np.inf), newest)
        self.first = min(min(v) for v in seen.values())
        self.last = float(newest)
        self._t: dict[str, np.ndarray] = {}
        self._a: dict[str, np.ndarray] = {}
        for device, per in seen.items():
            ts = np.array(sorted(per))
            self._t[device] = ts
            self._a[device] = np.array([per[t] for t in ts])

    def arrived_by(self, device: str, at: float) -> Any:
        ts, arr = self._t[device], self._a[device]

        def keep(t: np.ndarray) -> np.ndarray:
            if not len(t):
                return np.zeros(0, dtype=bool)
            i = np.clip(np.searchsorted(ts, t), 0, len(ts) - 1)
            return arr[i] <= at

        return keep


def _where(frames: dict[str, Any], homes: dict[str, tuple[float, float]], v: EngineViolation) -> tuple[float, float]:
    f = frames.get(str(v.evidence.get("device", "")))
    if f is not None and len(f.fix_t):
        i = int(np.searchsorted(f.fix_t, v.start)) - 1
        if i >= 0:
            return float(f.lat[i]), float(f.lon[i])
    return homes.get(v.person, (0.0, 0.0))


def run(out: Path, step_s: float = 1800.0) -> dict[str, Any]:
    cases = casefile.load(out / "cases.json")
    model = compile_cases(cases)
    risks, practitioner, homes, victim_zones = {}, {}, {}, set()
    for p in cases.people:
        risks[p.id] = Risk(p.rosh.value if p.rosh else "", p.mappa_level, frozenset(f.value for f in p.flags))
        practitioner[p.id] = p.practitioner or "unassigned"
        for o in p.orders:
            for c in o.conditions:
                if c.victim_sensitive:
                    victim_zones.add((p.id, c.id))
                if c.address and p.id not in homes:
                    homes[p.id] = (c.address.lat, c.address.lon)
    clock = ArrivalClock(out / "telemetry.jsonl")
    full = Engine(model)
    full.add(read_telemetry(out / "telemetry.jsonl"))
    frames = full.frames()

    store = MemoryStore(risks)
    triage = Triage(store)
    ours, base = Tally(), Tally()
    current: dict[str, EngineViolation] = {}
    digested: set[int] = set()

    def event(v: EngineViolation) -> Event:
        where = _where(frames, homes, v) if v.type == ViolationType.NO_SIGNAL else None
        return Event(violation_key(v), v.person, v.type, v.start, v.end, str(v.evidence.get("device", "")),
                     (v.person, v.condition) in victim_zones, where)  # fmt: skip

    def told(incident: Incident, how: Delivery) -> Told:
        spans = [(m.type.value, m.start, m.end_or(now)) for m in incident.members.values() if m.type in BEHAVIOUR_TYPES]
        return Told(incident.person or "", spans, how)

    def digest(now: float) -> None:
        by_practitioner: dict[str, list[Incident]] = defaultdict(list)
        for inc in store.incidents.values():
            if (
                inc.kind == IncidentKind.BEHAVIOUR and inc.is_open and not inc.notified
                and inc.delivery == Delivery.DIGEST and inc.id not in digested
            ):  # fmt: skip
                by_practitioner[practitioner.get(inc.person or "", "")].append(inc)
        for items in by_practitioner.values():
            ours.messages += 1
            for inc in items:
                assert inc.id is not None
                digested.add(inc.id)
                ours.told.append(told(inc, Delivery.DIGEST))

    now = clock.first
    next_digest = _next_digest(now)
    end = clock.last + 3 * 3600  # past the deadlines of devices that went quiet at the end
    while now < end:
        now = min(now + step_s, end)
        engine = Engine(model)
        for device, f in frames.items():
            engine.add_frame(select_frame(f, clock.arrived_by(device, now)))
        fresh = {violation_key(v): v for v in engine.evaluate(data_end=min(now, clock.last)).violations}
        amendments = [(Action.OPEN, v) for k, v in fresh.items() if k not in current]
        amendments += [(Action.CHANGE, v) for k, v in fresh.items() if k in current and current[k].end != v.end]
        amendments += [(Action.RETRACT, v) for k, v in current.items() if k not in fresh]
        current = fresh
        for action, v in amendments:
            if action == Action.OPEN:
                base.alerts += 1
                base.messages += 1
                spans = [(v.type.value, v.start, v.end or now)] if v.category == Category.BEHAVIOUR else []
                base.told.append(Told(v.person, spans, Delivery.IMMEDIATE))
            for outcome in triage.apply(action, event(v), now):
                if outcome.what == "opened":
                    ours.alerts += 1
                elif outcome.what == "notify":
                    ours.messages += 1
                    if outcome.incident.kind == IncidentKind.BEHAVIOUR:
                        ours.told.append(told(outcome.incident, Delivery.IMMEDIATE))
        if now >= next_digest:
            digest(now)
            next_digest = _next_digest(now)
    digest(now)

    truth = [json.loads(x) for x in (out / "truth.jsonl").read_text().splitlines()]
    genuine = [
        v for v in truth
        if v.get("type") in BEHAVIOUR and v.get("evidence", {}).get("observable") is not False
    ]  # fmt: skip
    device_days = sum(len(p.devices) for p in cases.people) * max(1, round((clock.last - clock.first) / 86400))
    return {
        "device_days": device_days,
        "genuine_incidents": len(_episodes(genuine)),
        "ours": _score(ours, genuine, device_days),
        "baseline": _score(base, genuine, device_days),
    }


def _next_digest(now: float) -> float:
    local = datetime.fromtimestamp(now, LONDON)
    at = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=1)
    return at.timestamp()


def _episodes(truth: list[dict[str, Any]], gap_s: float = 1800.0) -> list[tuple[str, float, float]]:
    """Truth behaviour violations of one person close together in time: one episode each."""
    by_person: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for v in truth:
        by_person[v["person"]].append((_ts(v["start"], 0), _ts(v["end"], float("inf"))))
    out = []
    for person, spans in by_person.items():
        spans.sort()
        s0, e0 = spans[0]
        for s, e in spans[1:]:
            if s <= e0 + gap_s:
                e0 = max(e0, e)
            else:
                out.append((person, s0, e0))
                s0, e0 = s, e
        out.append((person, s0, e0))
    return out


def _matches(t: Told, truth_by_person: dict[str, list[tuple[str, float, float]]]) -> bool:
    return any(
        vt == tt and s - TOLERANCE_S <= te and e + TOLERANCE_S >= ts
        for vt, s, e in t.spans
        for tt, ts, te in truth_by_person.get(t.person, ())
    )


def _score(tally: Tally, genuine: list[dict[str, Any]], device_days: int) -> dict[str, Any]:
    truth_by_person: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    for v in genuine:
        truth_by_person[v["person"]].append((v["type"], _ts(v["start"], 0), _ts(v["end"], float("inf"))))
    good = sum(1 for t in tally.told if _matches(t, truth_by_person))
    missed = []
    for person, s, e in _episodes(genuine):
        covered = any(
            t.person == person and any(ts - TOLERANCE_S <= e and te + TOLERANCE_S >= s for _, ts, te in t.spans)
            for t in tally.told
        )
        if not covered:
            missed.append({"person": person, "start": s, "end": e if e != float("inf") else None})
    per = 1000 / max(device_days, 1)
    return {
        "alerts_per_1000_device_days": round(tally.alerts * per, 1),
        "notifications_per_1000_device_days": round(tally.messages * per, 1),
        "practitioner_items": len(tally.told),
        "genuine_share_of_practitioner_notifications": round(good / len(tally.told), 4) if tally.told else 1.0,
        "missed_genuine_incidents": len(missed),
        "missed_examples": missed[:5],
    }


def bench_alerts(quick: bool) -> dict[str, Any]:
    from openem.simulate.profiles import SimConfig
    from openem.simulate.runner import simulate

    people, days = (60, 3) if quick else (200, 7)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        simulate(SimConfig(people=people, days=days, seed=5, start="2026-11-09"), out)
        result = run(out)
    return {"benchmark": "alerts", "people": people, "days": days, **result}


def show(r: dict[str, Any]) -> str:
    fields = [
        ("alerts_per_1000_device_days", ""),
        ("notifications_per_1000_device_days", ""),
        ("genuine_share_of_practitioner_notifications", "(bar 0.95)"),
        ("missed_genuine_incidents", "(bar 0)"),
        ("practitioner_items", ""),
    ]
    lines = [
        f"Alerts: {r['people']} people x {r['days']} days = {r['device_days']:,} device-days, "
        f"{r['genuine_incidents']} genuine incidents in the truth",
        f"{'':<46}{'OpenEM':>12}{'baseline':>12}",
    ]
    for name, bar in fields:
        lines.append(f"{name:<46}{r['ours'][name]:>12}{r['baseline'][name]:>12}  {bar}")
    lines.append("baseline: one alert and one message to the practitioner per violation opened")
    return "\n".join(lines)
