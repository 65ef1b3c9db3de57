"""Telemetry readings (FORMATS.md): parsing with plain errors, and per-device columnar frames.

A reading that cannot be used is never silently dropped: the parser says what is wrong and where,
and the caller decides (``openem replay`` stops with exit code 2; ingest keeps it as rejected).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .enums import LabelledEnum


class ReadingType(LabelledEnum):
    FIX = "fix"
    RF = "rf"
    TAMPER = "tamper"
    POWER = "power"
    HEARTBEAT = "heartbeat"
    ALCOHOL = "alcohol"


TAMPER_KINDS = ("strap", "case", "body", "hmu")
EARLIEST = datetime(2000, 1, 1).timestamp()  # no device in service was made before this
# Far enough ahead for any replay, near enough that every time is a datetime any database holds.
LATEST = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
MAX_DEVICE_ID = 40  # characters: the readings table's device column
SEQ_MAX = 2**63 - 1  # a bigint column


class ReadingError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        self.message = message  # without the field's name, for a caller that names the field its own way
        super().__init__(f"{field_name}: {message}")


# What a fix's accuracy is taken to be when the device does not give ``accuracy_m`` but gives ``hdop``
# (horizontal dilution of precision, as NMEA receivers and many trackers report it). The 95% horizontal
# radius is about 2 x HDOP x the receiver's user-equivalent range error (UERE); a single-frequency civil
# receiver's UERE is about 2.5 m (1 sigma) today, so HDOP x 5 m: the usual rule of thumb, and the ratio
# the trail's GPX export uses the other way. Floored: no receiver's 95% circle is smaller than a few
# metres, whatever its geometry (HDOP below 1 is possible). Capped: an HDOP of 99.99 is how NMEA says
# "no fix"; the cap is still far beyond Params.max_accuracy_m, so such a fix is filtered, not used.
HDOP_UERE_M = 5.0
HDOP_MIN_ACCURACY_M = 5.0
HDOP_MAX_ACCURACY_M = 250.0
MAX_HDOP = 100.0


def accuracy_from_hdop(hdop: float) -> float:
    """The 95% radius in metres assumed for a fix that gives only its HDOP (see HDOP_UERE_M)."""
    return min(max(hdop * HDOP_UERE_M, HDOP_MIN_ACCURACY_M), HDOP_MAX_ACCURACY_M)


def _fix_accuracy(d: dict[str, Any], check: bool = True) -> float:
    """A fix's 95% radius: ``accuracy_m`` as sent, else from ``hdop``, else NaN (not reported: the rules
    then assume ``Params.unreported_accuracy_m``). An accuracy or HDOP of 0 is how Android and many
    trackers say "not known" (no fix is perfectly precise), so it counts as not reported."""
    acc = _num(d, "accuracy_m", 0, 100_000, required=False) if check else _stored_float(d.get("accuracy_m"))
    if acc > 0:
        return acc
    hdop = _num(d, "hdop", 0, MAX_HDOP, required=False) if check else _stored_float(d.get("hdop"))
    return accuracy_from_hdop(hdop) if hdop > 0 else math.nan


def _stored_float(v: Any) -> float:
    return math.nan if v is None else float(v)


# Not frozen: a frozen dataclass sets each of its 14 fields through object.__setattr__, which made
# building a Reading most of the cost of validating one. Hashable still (frames drop exact repeats).
@dataclass(slots=True, unsafe_hash=True)
class Reading:
    device: str
    t: float  # measurement time, Unix seconds
    type: ReadingType
    seq: int = -1
    lat: float = math.nan
    lon: float = math.nan
    accuracy_m: float = math.nan
    flag: int = -1  # rf.in_range, power.charging / mains, tamper open (1) / closed (0)
    value: float = math.nan  # battery_pct, tac_g_dl
    ir_v: float = math.nan
    temp_c: float = math.nan
    kind: str = ""  # tamper kind; "mains" or "battery" for power readings
    raw: str = ""


def show(v: Any, most: int = 60) -> str:
    """A value as JSON for an error message, cut short: a reason must not carry a 4 KB value back."""
    try:
        text = json.dumps(v)
    except (TypeError, ValueError, RecursionError):
        text = repr(type(v))
    return text if len(text) <= most else text[: most - 3] + "..."


def _num(d: dict[str, Any], key: str, lo: float, hi: float, required: bool = True) -> float:
    v = d.get(key)
    if v is None:
        if required:
            raise ReadingError(key, "is missing")
        return math.nan
    tv = type(v)
    if tv is float and lo <= v <= hi:
        return v  # the common case, checked first
    # An int is compared as it is: math.isfinite of a 400-digit int would raise OverflowError.
    if tv is int:
        if lo <= v <= hi:
            return float(v)
    elif tv is not float or not math.isfinite(v):
        raise ReadingError(key, f"{show(v)} is not a number")
    raise ReadingError(key, f"{show(v)} is out of range ({lo} to {hi})")


def _bool(d: dict[str, Any], key: str) -> int:
    if key not in d:
        raise ReadingError(key, "is missing")
    if not isinstance(d[key], bool):
        raise ReadingError(key, f"{show(d[key])} is not true or false")
    return int(d[key])


def parse_time(text: Any) -> float:
    if not isinstance(text, str):
        raise ReadingError("time", "is missing" if text is None else f"{show(text)} is not a time")
    if len(text) > 40:  # the longest ISO 8601 time with microseconds and an offset is 32
        raise ReadingError("time", f"{show(text)} is not an ISO 8601 time")
    return _parse_time_text(text)


@functools.lru_cache(maxsize=1 << 16)
def _parse_time_text(text: str) -> float:
    # Cached: the tags of a caseload report in the same seconds, so a batch repeats its times many
    # times over (errors are raised afresh each time: lru_cache keeps only results).
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReadingError("time", f"{show(text)} is not an ISO 8601 time") from exc
    if dt.tzinfo is None:
        raise ReadingError("time", f"{show(text)} has no offset (use Z for UTC)")
    try:
        t = dt.timestamp()
    except (OverflowError, ValueError, OSError):  # year 1 with a positive offset is before year 1 in UTC
        t = -math.inf
    if t < EARLIEST:
        raise ReadingError("time", f"{show(text)} is before any device in service was made")
    if t >= LATEST:
        raise ReadingError("time", f"{show(text)} is after 2099")
    return t


_TYPES = {r.value: r for r in ReadingType}


def _not_a_device(device: Any) -> str:
    if type(device) is not str or not device:
        return f"{show(device)} is not a device id"
    if len(device) > MAX_DEVICE_ID:
        return f"is {len(device)} characters long; a device id has at most {MAX_DEVICE_ID}"
    return f"{show(device)} contains an invisible or control character"


def parse_reading(d: Any, raw: str = "", now: float | None = None) -> Reading:
    """One telemetry object as a Reading; raises ReadingError naming the field."""
    if not isinstance(d, dict):
        raise ReadingError("(line)", "is not a JSON object")
    device = d.get("device")
    if type(device) is not str or not device or len(device) > MAX_DEVICE_ID or not device.isprintable():
        raise ReadingError("device", "is missing" if device is None else _not_a_device(device))
    t = parse_time(d.get("time"))
    if now is not None and t > now + 300:
        raise ReadingError("time", f"{show(d['time'])} is in the future")
    rtype = _TYPES.get(d.get("type")) if type(d.get("type")) is str else None  # type: ignore[arg-type]
    if rtype is None:
        allowed = ", ".join(_TYPES)
        given = d.get("type")
        raise ReadingError("type", "is missing" if given is None else f"{show(given)} is not one of {allowed}")
    seq = d.get("seq", -1)
    if "seq" in d and (type(seq) is not int or not 0 <= seq <= SEQ_MAX):
        # A JSON integer too large for 64 bits arrives as a float (orjson): say it is out of range.
        huge = type(seq) is float and math.isfinite(seq) and seq.is_integer()
        why = "is not a whole number" if type(seq) is not int and not huge else f"is out of range (0 to {SEQ_MAX})"
        raise ReadingError("seq", f"{show(seq)} {why}")
    if rtype is ReadingType.FIX:
        if "speed_mps" in d:
            _num(d, "speed_mps", 0, 1_000, required=False)
        if "heading" in d:
            _num(d, "heading", 0, 360, required=False)
        if "altitude_m" in d:  # kept for the trail, not used by the rules
            _num(d, "altitude_m", -1_000, 100_000, required=False)
        return Reading(
            device,
            t,
            rtype,
            seq,
            _num(d, "lat", -90, 90),
            _num(d, "lon", -180, 180),
            _fix_accuracy(d),
            raw=raw,
        )
    if rtype is ReadingType.RF:
        return Reading(device, t, rtype, seq, flag=_bool(d, "in_range"), raw=raw)
    if rtype is ReadingType.TAMPER:
        kind = d.get("kind")
        if type(kind) is not str or kind not in TAMPER_KINDS:
            raise ReadingError("kind", f"{show(kind)} is not one of {', '.join(TAMPER_KINDS)}")
        state = d.get("state")
        if type(state) is not str or state not in ("open", "closed"):
            raise ReadingError("state", f'{show(state)} is not "open" or "closed"')
        return Reading(device, t, rtype, seq, kind=kind, flag=int(state == "open"), raw=raw)
    if rtype is ReadingType.POWER:
        if "mains" in d:
            return Reading(device, t, rtype, seq, kind="mains", flag=_bool(d, "mains"), raw=raw)
        pct = _num(d, "battery_pct", 0, 100)
        charging = _bool(d, "charging") if "charging" in d else -1
        return Reading(device, t, rtype, seq, kind="battery", value=pct, flag=charging, raw=raw)
    if rtype is ReadingType.ALCOHOL:
        return Reading(
            device,
            t,
            rtype,
            seq,
            value=_num(d, "tac_g_dl", 0, 1),
            ir_v=_num(d, "ir_v", 0, 10, required=False),
            temp_c=_num(d, "temp_c", -40, 60, required=False),
            raw=raw,
        )
    return Reading(device, t, rtype, seq, raw=raw)


def stored_reading(d: dict[str, Any], raw: str = "") -> Reading:
    """A reading that was validated when it was stored (by ingest), read back: fixes, most of what is
    stored, are built without checking each field again; anything else goes through parse_reading."""
    if d.get("type") == "fix":
        return Reading(
            d["device"], parse_time(d["time"]), ReadingType.FIX, d.get("seq", -1), float(d["lat"]),
            float(d["lon"]), _fix_accuracy(d, check=False), raw=raw,
        )  # fmt: skip
    return parse_reading(d, raw)


def parse_line(line: str, now: float | None = None) -> Reading:
    try:
        d = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReadingError("(line)", f"not valid JSON at column {exc.colno}: {exc.msg}") from exc
    return parse_reading(d, line, now)


@dataclass
class DeviceFrame:
    """One device's readings in measurement-time order, as numpy columns per reading type."""

    device: str
    t: np.ndarray  # every reading's time (for silence detection)
    fix_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    lat: np.ndarray = field(default_factory=lambda: np.empty(0))
    lon: np.ndarray = field(default_factory=lambda: np.empty(0))
    acc: np.ndarray = field(default_factory=lambda: np.empty(0))
    rf_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    rf_in: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    batt_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    batt_pct: np.ndarray = field(default_factory=lambda: np.empty(0))
    batt_charging: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))
    mains_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    mains_on: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    tamper: list[tuple[float, str, bool]] = field(default_factory=list)
    alc_t: np.ndarray = field(default_factory=lambda: np.empty(0))
    tac: np.ndarray = field(default_factory=lambda: np.empty(0))
    ir_v: np.ndarray = field(default_factory=lambda: np.empty(0))
    temp_c: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def build(cls, device: str, readings: list[Reading], distinct: bool = False) -> DeviceFrame:
        """``distinct``: the readings are known to hold no exact repeats (stored readings are unique), so
        there is none to drop."""
        # Measurement-time order; ties broken by seq and the raw text so any arrival order gives one result.
        rs = sorted(readings if distinct else set(readings), key=lambda r: (r.t, r.seq, r.type.value, r.raw))
        f = cls(device, np.array([r.t for r in rs], dtype=float))
        fixes = [r for r in rs if r.type == ReadingType.FIX]
        if fixes:
            f.fix_t = np.array([r.t for r in fixes])
            f.lat = np.array([r.lat for r in fixes])
            f.lon = np.array([r.lon for r in fixes])
            f.acc = np.array([r.accuracy_m for r in fixes])  # NaN: not reported (see Context.fixes)
        rf = [r for r in rs if r.type == ReadingType.RF]
        if rf:
            f.rf_t = np.array([r.t for r in rf])
            f.rf_in = np.array([r.flag == 1 for r in rf])
        batt = [r for r in rs if r.type == ReadingType.POWER and r.kind == "battery"]
        if batt:
            f.batt_t = np.array([r.t for r in batt])
            f.batt_pct = np.array([r.value for r in batt])
            f.batt_charging = np.array([r.flag for r in batt], dtype=np.int8)
        mains = [r for r in rs if r.type == ReadingType.POWER and r.kind == "mains"]
        if mains:
            f.mains_t = np.array([r.t for r in mains])
            f.mains_on = np.array([r.flag == 1 for r in mains])
        f.tamper = [(r.t, r.kind, r.flag == 1) for r in rs if r.type == ReadingType.TAMPER]
        alc = [r for r in rs if r.type == ReadingType.ALCOHOL]
        if alc:
            f.alc_t = np.array([r.t for r in alc])
            f.tac = np.array([r.value for r in alc])
            f.ir_v = np.array([r.ir_v for r in alc])
            f.temp_c = np.array([r.temp_c for r in alc])
        return f


def extend_frame(f: DeviceFrame, g: DeviceFrame) -> DeviceFrame:
    """``f`` followed by ``g``, every reading of which is later than all of ``f``'s: the same frame as
    building from both, without sorting what is already in order."""
    c = np.concatenate
    return DeviceFrame(
        f.device, c([f.t, g.t]), c([f.fix_t, g.fix_t]), c([f.lat, g.lat]), c([f.lon, g.lon]), c([f.acc, g.acc]),
        c([f.rf_t, g.rf_t]), c([f.rf_in, g.rf_in]), c([f.batt_t, g.batt_t]), c([f.batt_pct, g.batt_pct]),
        c([f.batt_charging, g.batt_charging]), c([f.mains_t, g.mains_t]), c([f.mains_on, g.mains_on]),
        f.tamper + g.tamper, c([f.alc_t, g.alc_t]), c([f.tac, g.tac]), c([f.ir_v, g.ir_v]), c([f.temp_c, g.temp_c]),
    )  # fmt: skip


def slice_frame(f: DeviceFrame, t0: float, t1: float) -> DeviceFrame:
    """The part of a frame measured in [t0, t1)."""
    if not len(f.t) or (f.t[0] >= t0 and f.t[-1] < t1):
        return f  # the usual case: the device was fitted throughout
    return select_frame(f, lambda t: (t >= t0) & (t < t1))


def select_frame(f: DeviceFrame, keep: Callable[[np.ndarray], np.ndarray]) -> DeviceFrame:
    """The readings whose measurement times ``keep`` accepts (a boolean mask per time column)."""
    fm, rm, bm, mm, am = keep(f.fix_t), keep(f.rf_t), keep(f.batt_t), keep(f.mains_t), keep(f.alc_t)
    tm = keep(np.array([x[0] for x in f.tamper], dtype=float))
    return DeviceFrame(
        f.device, f.t[keep(f.t)], f.fix_t[fm], f.lat[fm], f.lon[fm], f.acc[fm], f.rf_t[rm], f.rf_in[rm],
        f.batt_t[bm], f.batt_pct[bm], f.batt_charging[bm], f.mains_t[mm], f.mains_on[mm],
        [x for x, k in zip(f.tamper, tm, strict=True) if k], f.alc_t[am], f.tac[am], f.ir_v[am], f.temp_c[am],
    )  # fmt: skip
