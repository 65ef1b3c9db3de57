"""Building small, readable scenarios for the engine: a person, their conditions, and readings."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from openem.engine import casefile
from openem.engine.engine import Engine, EngineResult
from openem.engine.model import Params
from openem.engine.telemetry import Reading, parse_reading

HOME = (52.6702, -0.7321)
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def offset(lat: float, lon: float, north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    return lat + north_m / 111_250, lon + east_m / (111_320 * math.cos(math.radians(lat)))


def case(
    conditions: list[dict[str, Any]],
    devices: list[dict[str, Any]],
    order_type: str = "community_order",
    start: str = "2026-11-01",
    end: str = "2027-04-30",
) -> casefile.CaseFile:
    for i, c in enumerate(conditions):
        c.setdefault("id", f"C{i + 1}")
    return casefile.parse(
        {
            "format": "openem-cases/1",
            "people": [
                {
                    "id": "P1",
                    "name": "Sam Example",
                    "orders": [{"id": "O1", "type": order_type, "start": start, "end": end, "conditions": conditions}],
                    "devices": devices,
                }
            ],
        }
    )


def curfew(technology: str = "rf", windows: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "type": "curfew",
        "technology": technology,
        "address": {"lat": HOME[0], "lon": HOME[1], "radius_m": 30},
        "windows": windows or [{"days": DAYS, "start": "19:00", "end": "07:00"}],
        **kw,
    }


def device(kind: str, ident: str | None = None, fitted: str = "2026-11-01T12:00:00Z") -> dict[str, Any]:
    return {"id": ident or f"{kind.upper()}-1", "kind": kind, "fitted": fitted, "removed": None}


def r(**kw: Any) -> Reading:
    return parse_reading(kw, json.dumps(kw))


def rf(time: str, in_range: bool, dev: str = "RF-1") -> Reading:
    return r(device=dev, time=time, type="rf", in_range=in_range)


def fix(t: float | str, lat: float, lon: float, acc: float = 8.0, dev: str = "GPS-1") -> Reading:
    return r(device=dev, time=t if isinstance(t, str) else iso(t), type="fix", lat=lat, lon=lon, accuracy_m=acc)


def heartbeats(start: str, end: str, every_s: float, dev: str) -> list[Reading]:
    out = []
    t = ts(start)
    while t <= ts(end):
        out.append(r(device=dev, time=iso(t), type="heartbeat"))
        t += every_s
    return out


def run(
    cf: casefile.CaseFile, readings: list[Reading], params: Params | None = None, data_end: str | None = None
) -> EngineResult:
    engine = Engine(cf, params)
    engine.add(readings)
    return engine.evaluate(data_end=ts(data_end) if data_end else None)


def of_type(result: EngineResult, vtype: str) -> list[dict[str, Any]]:
    return [v.to_json() for v in result.violations if v.type.value == vtype]
