"""The OsmAnd protocol as senders really use it: Traccar Client and the other apps and trackers that speak it.

Two forms reach the same endpoint (docs/formats.md, "OsmAnd"):

- query or form parameters (Traccar Client before 9, OsmAnd, GPSLogger, home-made trackers): ``id`` or
  ``deviceid``, ``lat`` and ``lon`` or ``location=lat,lon``, ``timestamp`` (Unix seconds or milliseconds,
  ISO 8601 with or without an offset, or none at all), ``speed`` in knots, ``bearing``/``heading``,
  ``altitude``, ``accuracy`` or only ``hdop``, ``batt``, ``charge``, ``valid``...;
- a JSON body (Traccar Client 9 and later, ``Content-Type: application/json``): ``device_id`` and
  ``location`` with ``timestamp``, ``coords`` (speed in m/s), ``battery`` (level a fraction) and more.

Both become telemetry readings (shared/FORMATS.md) as Traccar's own decoder reads them
(``OsmAndProtocolDecoder``), with three differences that matter to monitoring: a request without a
usable position is kept as a reading that shows the device is reporting, never evaluated as a fix (and
the answer says why); a request without a time is kept at its time of arrival, marked as such; and what
a sender sends that no field means is kept, as sent, under ``extra``. A bad value is that reading's error,
named as the sender named it (``speed``, ``location.coords.latitude``).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from openem.engine.telemetry import ReadingError, parse_reading, show

# The device key of an OsmAnd sender: a ``key`` parameter, or the last part of the server URL's path
# (Traccar Client keeps the path and query of the URL it is given and adds its own parameters).
KEY_PARAM = "key"
# Never kept: the device key (a credential), and Traccar's push-notification token (a secret for
# Traccar's own server; OpenEM sends no pushes).
NOT_KEPT = frozenset({KEY_PARAM, "notificationToken"})
KNOT_MPS = 0.514444
# A JSON body may hold a list of locations (a client catching up after a time without network).
MAX_LOCATIONS = 1_000

# Why a request's reading is kept but not evaluated as a fix (stored in the reading as ``no_fix``).
NO_POSITION = "no position in the request (neither lat and lon nor location)"
NO_COORDS = "no position in the request (no location.coords)"
NOT_VALID = "the sender marked the position not valid (valid={})"
NULL_ISLAND = "the position 0,0 is what senders send when they have no fix"
MOCKED = "the sender marked the position as mocked (location.mock)"
ARRIVAL = "no timestamp: the time of arrival was used"


class SenderError(ReadingError):
    """A reading's error, named as the sender named the field, and the device it came from."""

    def __init__(self, field_name: str, message: str, device: str = "", raw: str = "") -> None:
        super().__init__(field_name, message)
        self.device = device
        self.raw = raw  # the location it is about, when the request held several


@dataclass
class OsmAndRequest:
    """What an OsmAnd sender sent: its query and form parameters and, from Traccar Client 9 on, a JSON
    body (the decoded object, or the error saying why it could not be decoded; None: no JSON body)."""

    params: dict[str, str]
    body: Any = None
    raw_body: bytes = b""

    @property
    def is_json(self) -> bool:
        return self.body is not None

    @property
    def device(self) -> str:
        """The device whose key the request must carry: the one its readings name ("" when none does, and
        then none of them is stored)."""
        named = (
            json_device(self.body, self.params)[0]
            if self.is_json
            else self.params.get("id") or self.params.get("deviceid")
        )
        return named if isinstance(named, str) else ""

    @property
    def cost(self) -> int:
        """Readings it asks to store, for the sender's rate: one a location."""
        location = self.body.get("location") if isinstance(self.body, dict) else None
        return max(1, len(location)) if isinstance(location, list) else 1


@dataclass
class Converted:
    """One reading made from a request, and for each of its fields the name the sender used."""

    reading: dict[str, Any]
    names: dict[str, str] = field(default_factory=dict)
    raw: str = ""  # the location it was made from, when the request held several (else the request is kept)


def osmand_key(params: dict[str, str], path: str) -> str:
    """The device key a request came with (removed from ``params``: it is never stored)."""
    key = params.pop(KEY_PARAM, "")
    if not key:
        last = path.rstrip("/").rsplit("/", 1)[-1]
        key = last if last and last != "osmand" else ""
    return key


def osmand_items(
    request: OsmAndRequest | dict[str, str], now: float | None = None
) -> list[tuple[int, bytes | str, Any]]:
    """The request's readings as ingest takes them: (line, raw, reading or the error saying why not).
    Each reading is checked here so that an error names the sender's field, not ours. ``now``: the time
    of arrival (Unix seconds)."""
    now = time.time() if now is None else now
    req = request if isinstance(request, OsmAndRequest) else OsmAndRequest(request)
    params = {k: v for k, v in req.params.items() if k not in NOT_KEPT}
    raw: bytes | str = req.raw_body if req.is_json else json.dumps(params)
    try:
        converted = from_json(req.body, params, now) if req.is_json else from_params(params, now)
    except ReadingError as exc:
        return [(1, raw, exc)]
    out: list[tuple[int, bytes | str, Any]] = []
    for line, c in enumerate(converted, start=1):
        if isinstance(c, ReadingError):
            out.append((line, getattr(c, "raw", "") or raw, c))
            continue
        try:
            parse_reading(c.reading, now=now)
        except ReadingError as exc:
            device = c.reading.get("device")
            named = c.names.get(exc.field, exc.field)
            sender = device if isinstance(device, str) else ""
            out.append((line, c.raw or raw, SenderError(named, exc.message, sender)))
            continue
        out.append((line, c.raw or raw, c.reading))
    return out


def osmand_to_readings(request: OsmAndRequest | dict[str, str], now: float | None = None) -> list[dict[str, Any]]:
    """The readings of a request that converts (for tools and tests; ingest uses ``osmand_items``)."""
    now = time.time() if now is None else now
    req = request if isinstance(request, OsmAndRequest) else OsmAndRequest(request)
    params = {k: v for k, v in req.params.items() if k not in NOT_KEPT}
    converted = from_json(req.body, params, now) if req.is_json else from_params(params, now)
    return [c.reading for c in converted if isinstance(c, Converted)]


def notes(items: list[tuple[int, bytes | str, Any]]) -> list[tuple[int, str]]:
    """What the answer says about readings that were kept other than as sent: not evaluated as a fix
    (and why), or timed at arrival."""
    out = []
    for line, _raw, obj in items:
        if not isinstance(obj, dict):
            continue
        if "no_fix" in obj:
            out.append((line, f"{obj['no_fix']}: kept, shows the device is reporting, not evaluated as a fix"))
        if obj.get("time_source") == "arrival":
            out.append((line, ARRIVAL))
    return out


# -- query and form parameters ------------------------------------------------------------------------


def from_params(params: dict[str, str], now: float) -> list[Converted | ReadingError]:
    device = params.get("id") or params.get("deviceid")
    if not device:
        raise ReadingError("id", "is missing")
    used = {"id", "deviceid", "timestamp", "valid"}
    when, arrival = sender_time(params.get("timestamp", ""), now, "timestamp")
    base: dict[str, Any] = {"device": device, "time": when}
    if arrival:
        base["time_source"] = "arrival"
    names = {"device": "id" if params.get("id") else "deviceid", "time": "timestamp"}
    fix: dict[str, Any] = {**base, "type": "fix"}

    position: tuple[Any, Any] | None = None
    if "lat" in params or "lon" in params:
        for name, other in (("lat", "lon"), ("lon", "lat")):
            if name not in params:
                raise ReadingError(name, f"is missing ({other} was sent)")
        position = (number(params["lat"]), number(params["lon"]))
        names.update(lat="lat", lon="lon")
        place = {"lat", "lon"}
    elif "location" in params:
        parts = params["location"].split(",")
        if len(parts) != 2:
            raise ReadingError("location", f"{show(params['location'])} is not lat,lon")
        position = (number(parts[0]), number(parts[1]))
        names.update(lat="location", lon="location")
        place = {"location"}
    valid = params.get("valid", "true").strip().lower()
    if valid not in ("true", "1", "false", "0"):
        raise ReadingError("valid", f"{show(params['valid'])} is not true or false")
    no_fix = None
    if position is None:
        no_fix = NO_POSITION
    elif valid in ("false", "0"):
        no_fix = NOT_VALID.format(params["valid"])
    elif position == (0.0, 0.0):
        no_fix = NULL_ISLAND
    else:
        fix["lat"], fix["lon"] = position
        used |= place
        # Senders say "not known" with 0 (accuracy, hdop) or a negative value (Android's -1): such a value is
        # kept under extra as sent, and the rules assume an accuracy (Params.unreported_accuracy_m).
        for name, to, known in (
            ("accuracy", "accuracy_m", _positive), ("hdop", "hdop", _positive), ("bearing", "heading", _not_negative),
            ("heading", "heading", _not_negative), ("altitude", "altitude_m", _any),
        ):  # fmt: skip
            if name in params:
                value = number(params[name])
                if not _finite(value) or known(value):
                    fix[to], names[to] = value, name
                    used.add(name)
        if "speed" in params:
            knots = number(params["speed"])
            if not _finite(knots) or knots >= 0:
                fix["speed_mps"] = round(knots * KNOT_MPS, 2) if isinstance(knots, float) else knots
                names["speed_mps"] = "speed"
                used.add("speed")

    power: dict[str, Any] | None = None
    if "batt" in params:
        pct = number(params["batt"])
        if not _finite(pct) or pct >= 0:  # -1: not known
            power = {**base, "type": "power", "battery_pct": pct}
            names.update(battery_pct="batt")
            used.add("batt")
            if "charge" in params:
                charge = params["charge"].strip().lower()
                # Anything but true/false/1/0 is sent on as it is, and the parser says it is not true or false.
                power["charging"] = {"true": True, "1": True, "false": False, "0": False}.get(charge, params["charge"])
                names["charging"] = "charge"
                used.add("charge")

    extra = {k: v for k, v in params.items() if k not in used}
    return _assemble(base, fix, power, no_fix, extra, names)


def _assemble(
    base: dict[str, Any],
    fix: dict[str, Any],
    power: dict[str, Any] | None,
    no_fix: str | None,
    extra: dict[str, Any],
    names: dict[str, str],
) -> list[Converted | ReadingError]:
    """What one location becomes, for both forms of the protocol: the fix; or, without a usable position,
    the power reading (else a heartbeat) saying why, so the request is kept but not evaluated as a fix.
    Unknown parameters ride on the first reading."""
    first = fix if no_fix is None else power if power is not None else {**base, "type": "heartbeat"}
    if no_fix is not None:
        first["no_fix"] = no_fix
    if extra:
        first["extra"] = extra
    out: list[Converted | ReadingError] = [Converted(first, names)]
    if power is not None and first is not power:
        out.append(Converted(power, names))
    return out


def _finite(v: Any) -> bool:
    """A number that can say "not known" (0, -1); NaN and infinity are sent on for the parser to refuse."""
    return isinstance(v, float) and math.isfinite(v)


def _positive(v: float) -> bool:
    return v > 0


def _not_negative(v: float) -> bool:
    return v >= 0


def _any(v: float) -> bool:
    return True


def number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text  # the parser names the field and says it is not a number


_DIGITS = re.compile(r"\d{1,20}(\.\d{1,9})?")
# An offset's "+" that arrived as a space: a client that put an ISO time in a query without encoding it.
_PLUS_AS_SPACE = re.compile(r"(\d{4}-\d\d-\d\dT[\d:.]+) (\d\d(:?\d\d)?)")


def sender_time(text: str, now: float, name: str) -> tuple[str, bool]:
    """A sender's time as ISO 8601 with an offset, and whether it is the time of arrival (none sent).
    Unix seconds or milliseconds (a number over 1e11 is milliseconds: 1e11 seconds is the year 5138), or
    ISO 8601 (also ``2026-11-10 12:00:00``); without an offset it is UTC, as the protocol has it."""
    text = text.strip()
    if not text:
        return utc_iso(now), True
    if _DIGITS.fullmatch(text):
        value = float(text)
        value = value / 1000 if value > 1e11 else value
        try:
            return utc_iso(value), False
        except (OverflowError, ValueError, OSError) as exc:
            raise ReadingError(name, f"{show(text)} is not a time OpenEM can hold") from exc
    if len(text) > 40:
        raise ReadingError(name, f"{show(text)} is not a time")
    text = _PLUS_AS_SPACE.sub(r"\1+\2", text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        why = "is not a time: send Unix seconds, Unix milliseconds or ISO 8601"
        raise ReadingError(name, f"{show(text)} {why}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat().replace("+00:00", "Z"), False


def utc_iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


# -- Traccar Client 9 and later: JSON -------------------------------------------------------------------


def from_json(body: Any, params: dict[str, str], now: float) -> list[Converted | ReadingError]:
    if isinstance(body, ReadingError):
        raise body
    if not isinstance(body, dict):
        raise ReadingError("(body)", "is not a JSON object")
    device, device_name = json_device(body, params)
    if device is None:
        raise ReadingError("device_id", "is missing")
    location = body.get("location")
    if location is None:
        raise ReadingError("location", "is missing")
    outside = {k: v for k, v in body.items() if k not in ("device_id", "location")}
    outside.update((k, v) for k, v in params.items() if k not in ("id", "deviceid"))
    if isinstance(location, list):
        if len(location) > MAX_LOCATIONS:
            raise ReadingError("location", f"holds {len(location):,} locations; a request can hold at most "
                                           f"{MAX_LOCATIONS:,}: send fewer at a time")  # fmt: skip
        out: list[Converted | ReadingError] = []
        for i, loc in enumerate(location):
            # Each reading keeps its own location as sent, not the whole request: a request of 1,000
            # locations is stored once over, not 1,000 times (a sender without a key could fill the disk).
            raw = json.dumps({device_name: device, "location": loc}, default=str)
            try:
                out.extend(replace(c, raw=raw) if isinstance(c, Converted) else c
                           for c in _location(loc, f"location[{i}]", device, device_name, outside, now))  # fmt: skip
            except ReadingError as exc:
                out.append(SenderError(exc.field, exc.message, device if isinstance(device, str) else "", raw))
        return out
    return list(_location(location, "location", device, device_name, outside, now))


def json_device(body: Any, params: dict[str, str]) -> tuple[Any, str]:
    """The device a JSON request's readings name, and the field it came in: ``device_id``, else ``id`` or
    ``deviceid`` in the query. One answer for the key check and the readings alike."""
    if isinstance(body, dict) and body.get("device_id") is not None:
        return body["device_id"], "device_id"
    if params.get("id"):
        return params["id"], "id"
    return params.get("deviceid") or None, "deviceid"


def _is_number(v: Any) -> bool:
    return type(v) in (int, float)


def _location(
    loc: Any, at: str, device: Any, device_name: str, outside: dict[str, Any], now: float
) -> list[Converted | ReadingError]:
    if not isinstance(loc, dict):
        raise ReadingError(at, "is not an object")
    stamp = loc.get("timestamp")
    if stamp is not None and not isinstance(stamp, str):
        raise ReadingError(f"{at}.timestamp", f"{show(stamp)} is not an ISO 8601 time")
    when, arrival = sender_time(stamp or "", now, f"{at}.timestamp")
    base: dict[str, Any] = {"device": device, "time": when}
    if arrival:
        base["time_source"] = "arrival"
    names = {"device": device_name, "time": f"{at}.timestamp"}
    extra = {**outside, **{k: v for k, v in loc.items() if k not in ("timestamp", "coords", "battery")}}

    coords = loc.get("coords")
    fix: dict[str, Any] = {**base, "type": "fix"}
    no_fix = None
    if coords is None:
        no_fix = NO_COORDS
    elif not isinstance(coords, dict):
        raise ReadingError(f"{at}.coords", "is not an object")
    elif loc.get("mock") is True:
        no_fix = MOCKED
    elif coords.get("latitude") == 0 and coords.get("longitude") == 0 and _is_number(coords.get("latitude")):
        no_fix = NULL_ISLAND
    else:
        left = dict(coords)
        fix["lat"], fix["lon"] = left.pop("latitude", None), left.pop("longitude", None)
        names.update(lat=f"{at}.coords.latitude", lon=f"{at}.coords.longitude")
        # Negative speed, heading or accuracy (and accuracy 0) is how the client says "not known": kept
        # under extra as sent. Speed is in m/s in this form (knots only in the query form).
        for name, to, known in (
            ("accuracy", "accuracy_m", lambda v: v > 0), ("speed", "speed_mps", lambda v: v >= 0),
            ("heading", "heading", lambda v: v >= 0), ("altitude", "altitude_m", lambda v: True),
        ):  # fmt: skip
            if name in left and (not _is_number(left[name]) or known(left[name])):
                fix[to], names[to] = left.pop(name), f"{at}.coords.{name}"
        if left:
            extra["coords"] = left
    if no_fix is not None and coords is not None:
        extra["coords"] = coords

    power: dict[str, Any] | None = None
    bad: SenderError | None = None  # a battery level that cannot be one: the power reading's error alone
    battery = loc.get("battery")
    if isinstance(battery, dict) and battery.get("level") is not None:
        level = battery["level"]
        if _is_number(level) and level < 0:  # -1: not known
            extra["battery"] = battery
        elif _is_number(level) and level > 1:
            bad = SenderError(f"{at}.battery.level", f"{show(level)} is out of range (0 to 1, a fraction)",
                              device if isinstance(device, str) else "")  # fmt: skip
        else:
            power = {**base, "type": "power", "battery_pct": round(level * 100, 1) if _is_number(level) else level}
            names["battery_pct"] = f"{at}.battery.level"
            if "is_charging" in battery:
                power["charging"] = battery["is_charging"]
                names["charging"] = f"{at}.battery.is_charging"
            rest = {k: v for k, v in battery.items() if k not in ("level", "is_charging")}
            if rest:
                extra["battery"] = rest
    elif battery is not None:
        extra["battery"] = battery

    out = _assemble(base, fix, power, no_fix, extra, names)
    if bad is not None:
        out.append(bad)
    return out
