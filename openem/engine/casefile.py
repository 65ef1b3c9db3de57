"""The case file (``openem-cases/1``): parsing and structural validation, with no database.

A bad file is rejected whole, with every error and its path, e.g.
``people[3].orders[0].conditions[1].windows[0].end: "25:00" is not a time``.
Statutory and good-practice rules live in ``openem.cases.rules`` and run on the parsed objects.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from .enums import (
    AlcoholMode,
    AlcoholRequirement,
    ConditionType,
    DeviceKind,
    LicenceKind,
    OrderType,
    RiskFlag,
    Rosh,
    Technology,
)
from .geometry import Circle, area_problem
from .schedule import Window, parse_hhmm

FORMAT = "openem-cases/1"


class CaseFileError(ValueError):
    """The file is rejected; ``errors`` lists every problem as "path: message"."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass(frozen=True)
class Appointment:
    start: datetime
    end: datetime
    label: str = ""


@dataclass
class ConditionSpec:
    id: str
    type: ConditionType
    start: date | None = None
    end: date | None = None
    note: str = ""
    technology: Technology | None = None
    address: Circle | None = None
    windows: tuple[Window, ...] = ()
    release_day_start: int | None = None
    name: str = ""
    monitored: bool = False
    victim_sensitive: bool = False
    area: dict[str, Any] | None = None
    place: Circle | None = None
    appointments: tuple[Appointment, ...] = ()
    mode: AlcoholMode | None = None
    level_g_dl: float | None = None
    requirement: AlcoholRequirement | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type.value}
        if self.start:
            out["start"] = self.start.isoformat()
        if self.end:
            out["end"] = self.end.isoformat()
        if self.note:
            out["note"] = self.note
        t = self.type
        if t == ConditionType.CURFEW:
            out["technology"] = self.technology.value if self.technology else Technology.RF.value
            out["address"] = self.address.to_json() if self.address else None
            out["windows"] = [w.to_json() for w in self.windows]
            if self.release_day_start is not None:
                out["release_day_start"] = f"{self.release_day_start // 60:02d}:{self.release_day_start % 60:02d}"
        elif t.is_zone:
            out["monitored"] = self.monitored
            if self.name:
                out["name"] = self.name
            if self.victim_sensitive:
                out["victim_sensitive"] = True
            out["area"] = self.area
            if self.windows:
                out["windows"] = [w.to_json() for w in self.windows]
        elif t == ConditionType.ATTENDANCE:
            if self.name:
                out["name"] = self.name
            out["place"] = self.place.to_json() if self.place else None
            out["appointments"] = [
                {"start": _iso(a.start), "end": _iso(a.end), **({"label": a.label} if a.label else {})}
                for a in self.appointments
            ]
        elif t == ConditionType.ALCOHOL:
            out["mode"] = self.mode.value if self.mode else AlcoholMode.ABSTINENCE.value
            if self.level_g_dl is not None:
                out["level_g_dl"] = self.level_g_dl
            if self.requirement:
                out["requirement"] = self.requirement.value
        return out


@dataclass
class OrderSpec:
    id: str
    type: OrderType
    start: date
    end: date
    conditions: list[ConditionSpec] = field(default_factory=list)
    licence_kind: LicenceKind | None = None
    convicted_before_pcsc_act: bool = False
    audit_score: int | None = None
    alcohol_treatment_requirement: bool = False
    path: str = field(default="", compare=False, repr=False)  # where it is in the file it came from

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type.value,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }
        if self.licence_kind:
            out["licence_kind"] = self.licence_kind.value
        if self.convicted_before_pcsc_act:
            out["convicted_before_pcsc_act"] = True
        if self.audit_score is not None:
            out["audit_score"] = self.audit_score
        if self.alcohol_treatment_requirement:
            out["alcohol_treatment_requirement"] = True
        out["conditions"] = [c.to_json() for c in self.conditions]
        return out


@dataclass
class DeviceSpec:
    id: str
    kind: DeviceKind
    fitted: datetime | None = None
    removed: datetime | None = None
    path: str = field(default="", compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "fitted": _iso(self.fitted) if self.fitted else None,
            "removed": _iso(self.removed) if self.removed else None,
        }


@dataclass
class PersonSpec:
    id: str
    name: str
    date_of_birth: date | None = None
    crn: str = ""
    pnc: str = ""
    nomis: str = ""
    sex: str = ""
    gender: str = ""
    ethnicity: str = ""
    disability: str = ""
    religion: str = ""
    practitioner: str = ""
    team: str = ""
    rosh: Rosh | None = None
    mappa_category: int | None = None
    mappa_level: int | None = None
    flags: tuple[RiskFlag, ...] = ()
    orders: list[OrderSpec] = field(default_factory=list)
    devices: list[DeviceSpec] = field(default_factory=list)
    path: str = field(default="", compare=False, repr=False)

    @property
    def label(self) -> str:
        """How an error names the person: name and id."""
        return f"{self.name} ({self.id})" if self.name else self.id

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.date_of_birth:
            out["date_of_birth"] = self.date_of_birth.isoformat()
        for key in (
            "crn",
            "pnc",
            "nomis",
            "sex",
            "gender",
            "ethnicity",
            "disability",
            "religion",
            "practitioner",
            "team",
        ):
            if getattr(self, key):
                out[key] = getattr(self, key)
        risk: dict[str, Any] = {}
        if self.rosh:
            risk["rosh"] = self.rosh.value
        if self.mappa_category:
            risk["mappa_category"] = self.mappa_category
        if self.mappa_level:
            risk["mappa_level"] = self.mappa_level
        if self.flags:
            risk["flags"] = [f.value for f in self.flags]
        if risk:
            out["risk"] = risk
        out["orders"] = [o.to_json() for o in self.orders]
        out["devices"] = [d.to_json() for d in self.devices]
        return out


@dataclass
class CaseFile:
    people: list[PersonSpec]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "people": [p.to_json() for p in self.people]}


def _iso(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# ---------------------------------------------------------------- validation


def schema() -> dict[str, Any]:
    return _schema()


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("openem.engine").joinpath("schemas/openem-cases-1.schema.json").read_text()
    return dict(json.loads(text))


_FORMATS = FormatChecker()


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        # YYYY-MM-DD only: fromisoformat would also take the basic form 20261101.
        if len(value) != 10:
            raise ValueError("not YYYY-MM-DD")
        date.fromisoformat(value)
    return True


@_FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("no offset")
    return True


@_FORMATS.checks("hh:mm", raises=ValueError)
def _is_hhmm(value: object) -> bool:
    if isinstance(value, str):
        parse_hhmm(value)
    return True


FORMAT_NAMES = {"date": "date (YYYY-MM-DD)", "date-time": "date-time with an offset", "hh:mm": "time"}


def format_path(parts: Any) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(file)"


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, (dict, list)) else type(value).__name__


def _message(error: jsonschema.ValidationError) -> str:
    v = error.validator
    inst: Any = error.instance
    value: Any = error.validator_value
    schema_here: Any = error.schema
    if v == "format":
        return f"{_show(inst)} is not a {FORMAT_NAMES.get(str(error.validator_value), error.validator_value)}"
    if v == "enum":
        allowed = ", ".join(json.dumps(x) for x in value if x is not None)
        return f"{_show(inst)} is not one of {allowed}"
    if v == "const":
        return f"must be {json.dumps(error.validator_value)}, not {_show(inst)}"
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f'"{missing}" is missing'
    if v == "additionalProperties":
        extra = sorted(set(inst) - set(schema_here.get("properties", {})))
        return "unknown field" + ("s " if len(extra) > 1 else " ") + ", ".join(f'"{e}"' for e in extra)
    if v == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"{_show(inst)} is not a{'n' if str(expected)[0] in 'aeiou' else ''} {expected}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {
            "minimum": "below the minimum",
            "maximum": "above the maximum",
            "exclusiveMinimum": "not above",
            "exclusiveMaximum": "not below",
        }
        return f"{_show(inst)} is {words[str(v)]} {error.validator_value}"
    if v == "pattern":
        return f"{_show(inst)} is not in the expected form"
    if v == "minItems":
        return f"needs at least {error.validator_value} item{'s' if error.validator_value != 1 else ''}"
    if v == "uniqueItems":
        return "has repeated items"
    if v == "oneOf":
        return "is neither a GeoJSON Polygon or MultiPolygon nor a circle {lat, lon, radius_m}"
    return error.message


def _leaf_errors(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    # For if/then and oneOf, the useful messages are in the context of the failing branch.
    if error.validator == "oneOf" and error.context:
        area: Any = error.instance
        if isinstance(area, dict):
            branch = {"Polygon": 0, "MultiPolygon": 1}.get(str(area.get("type")), 2)
            picked = [e for e in error.context if e.relative_schema_path[0] == branch]
            return [leaf for e in picked for leaf in _leaf_errors(e)]
    return [error]


def _schema_errors(data: Any) -> list[tuple[tuple[Any, ...], str, str]]:
    """(path, validator, message) of every structural error, in the order of the file."""
    validator = Draft202012Validator(_schema(), format_checker=_FORMATS)
    out: list[tuple[tuple[Any, ...], str, str]] = []
    seen: set[str] = set()
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        for leaf in _leaf_errors(error):
            text = f"{format_path(leaf.absolute_path)}: {_message(leaf)}"
            if text not in seen:
                seen.add(text)
                out.append((tuple(leaf.absolute_path), str(leaf.validator), text))
    return out


def structural_errors(data: Any) -> list[str]:
    return [text for _path, _v, text in _schema_errors(data)]


@dataclass(frozen=True)
class Limits:
    """The longest text each id and name may be where the file is stored (the database's columns);
    None: no limit (replay keeps everything in memory)."""

    person_id: int | None = None
    person_name: int | None = None
    order_id: int | None = None
    condition_id: int | None = None
    device_id: int | None = None
    team: int | None = None


# Never part of a name, label or id a person reads: controls (Cc: C0, DEL, C1), format characters (Cf:
# zero-width spaces and joiners, the right-to-left overrides that make a name read backwards), line and
# paragraph separators (Zl, Zp), and lone surrogates (Cs), which no database can store as UTF-8.
_INVISIBLE = frozenset(("Cc", "Cf", "Zl", "Zp", "Cs"))


def invisible_characters(value: str) -> list[str]:
    """The invisible or control characters in ``value``, each once, as U+XXXX in order of appearance."""
    if value.isprintable():  # the common case, at C speed: none of those categories is printable
        return []
    found = dict.fromkeys(f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) in _INVISIBLE)
    return list(found)


def invisible_problem(value: str) -> str:
    """What is wrong with ``value`` as a name, label or id that people read, or ""."""
    found = invisible_characters(value)
    if not found:
        return ""
    if len(found) == 1:
        return f"contains an invisible or control character ({found[0]}); remove it"
    return f"contains invisible or control characters ({', '.join(found)}); remove them"


def _text_problems(value: Any, where: str, limit: int | None) -> list[str]:
    if not isinstance(value, str):
        return []
    out = []
    if limit is not None and len(value) > limit:
        out.append(f"{where}: {len(value)} characters long; at most {limit} can be kept")
    problem = invisible_problem(value)
    if problem:
        out.append(f"{where}: {problem}")
    return out


def fittings_overlap(a0: datetime, a1: datetime | None, b0: datetime, b1: datetime | None) -> bool:
    """Two fittings [fitted, removed) overlap; no removal is open-ended. Removed at or before the other's
    fitting is no overlap: the same moment hands the device on."""
    return (a1 is None or b0 < a1) and (b1 is None or a0 < b1)


def read(data: Any, trusted: bool = False, limits: Limits = Limits()) -> tuple[CaseFile, list[str]]:
    """Every error of the file in one go, structure first, and what of it could be read.

    Each part with no structural error of its own (a person's fields, an order with all its
    conditions, a device) is parsed and checked further, so that one bad field does not hide the
    reversed dates or duplicate ids elsewhere; the rules then run on what was read. ``trusted``:
    made by OpenEM from its own validated records (the engine worker's export), so the JSON Schema
    pass, the slowest part for a national caseload, is skipped, and so are the checks of text (what
    is stored was checked when it came in)."""
    found = [] if trusted else _schema_errors(data)
    errors = [text for _p, _v, text in found]
    # A missing or unknown field is the object's error; anything else makes its value unreadable.
    broken = {p for p, v, _t in found if v not in ("required", "additionalProperties")}
    anywhere = {p for p, _v, _t in found}

    def readable(*path: Any) -> bool:  # no error at the value or around it
        return not any(path[: len(b)] == b for b in broken)

    def clean(*path: Any) -> bool:  # no error at, above or anywhere under it
        return readable(*path) and not any(p[: len(path)] == path for p in anywhere)

    if not isinstance(data, dict) or not isinstance(data.get("people"), list) or not readable("people"):
        return CaseFile([]), errors
    people: list[PersonSpec] = []
    person_ids: set[str] = set()
    fittings: dict[str, list[tuple[PersonSpec, DeviceSpec]]] = {}
    for pi, p in enumerate(data["people"]):
        here = f"people[{pi}]"
        if not isinstance(p, dict) or not readable("people", pi):
            continue

        def get(key: str, default: Any = "", p: dict[str, Any] = p, pi: int = pi) -> Any:
            return p[key] if key in p and readable("people", pi, key) else default

        if not trusted:
            errors += _text_problems(p.get("id"), f"{here}.id", limits.person_id)
            errors += _text_problems(p.get("name"), f"{here}.name", limits.person_name)
            errors += _text_problems(p.get("team"), f"{here}.team", limits.team)
            errors += _text_problems(p.get("practitioner"), f"{here}.practitioner", None)
        pid = get("id")
        if pid and pid in person_ids:
            errors.append(f'{here}.id: "{pid}" is used by another person')
        person_ids.add(pid)
        risk = get("risk", {})
        good_risk = clean("people", pi, "risk")
        person = PersonSpec(
            id=pid,
            name=get("name"),
            date_of_birth=_date(get("date_of_birth", None)),
            crn=get("crn"),
            pnc=get("pnc"),
            nomis=get("nomis"),
            sex=get("sex"),
            gender=get("gender"),
            ethnicity=get("ethnicity"),
            disability=get("disability"),
            religion=get("religion"),
            practitioner=get("practitioner"),
            team=get("team"),
            rosh=Rosh(risk["rosh"]) if good_risk and risk.get("rosh") else None,
            mappa_category=risk.get("mappa_category") if good_risk else None,
            mappa_level=risk.get("mappa_level") if good_risk else None,
            flags=tuple(RiskFlag(f) for f in risk.get("flags", [])) if good_risk else (),
            path=here,
        )
        if good_risk and (person.mappa_category is None) != (person.mappa_level is None):
            errors.append(f"{here}.risk: MAPPA category and level go together; give both or neither")
        order_ids: set[str] = set()
        orders = get("orders", [])
        for oi, o in enumerate(orders):
            where = f"{here}.orders[{oi}]"
            if isinstance(o, dict) and not trusted:
                errors += _text_problems(o.get("id"), f"{where}.id", limits.order_id)
                for ci, c in enumerate(o.get("conditions", []) if isinstance(o.get("conditions"), list) else []):
                    if isinstance(c, dict):
                        errors += _condition_text_problems(c, f"{where}.conditions[{ci}]", limits)
            if not clean("people", pi, "orders", oi):
                continue
            order, order_errors = _parse_order(o, where)
            order.path = where
            if order.id in order_ids:
                errors.append(f'{where}.id: "{order.id}" is used by another order of this person')
            order_ids.add(order.id)
            errors.extend(order_errors)
            person.orders.append(order)
        for di, d in enumerate(get("devices", [])):
            where = f"{here}.devices[{di}]"
            if isinstance(d, dict) and not trusted:
                errors += _text_problems(d.get("id"), f"{where}.id", limits.device_id)
            if not clean("people", pi, "devices", di):
                continue
            dev = DeviceSpec(d["id"], DeviceKind(d["kind"]), _dt(d.get("fitted")), _dt(d.get("removed")), where)
            if dev.removed and not dev.fitted:
                errors.append(f"{where}.removed: a device cannot be removed without being fitted")
            elif dev.removed and dev.fitted and dev.removed < dev.fitted:
                errors.append(f"{where}.removed: removed before it was fitted")
            elif dev.fitted:
                errors += _fitted_twice(person, dev, fittings.setdefault(dev.id, []))
            person.devices.append(dev)
        people.append(person)
    return CaseFile(people), errors


def _fitted_twice(person: PersonSpec, dev: DeviceSpec, earlier: list[tuple[PersonSpec, DeviceSpec]]) -> list[str]:
    """A device is on one person at a time: a file may hand it on (removed from one at or before it is
    fitted to the next), never fit it to two at once."""
    out = []
    assert dev.fitted is not None
    for other, before in earlier:
        assert before.fitted is not None
        if not fittings_overlap(before.fitted, before.removed, dev.fitted, dev.removed):
            continue
        first, a, b = (other, before.fitted, dev.fitted) if before.fitted <= dev.fitted else (
            person, dev.fitted, before.fitted
        )  # fmt: skip
        both = f"{person.label} twice" if other is person else f"{other.label} ({before.path}) and {person.label}"
        out.append(
            f'{dev.path}: device "{dev.id}" would be fitted to {both} at once; a device is on one person at a '
            f'time: give the fitting to {first.label} from {_iso(a)} a "removed" time at or before {_iso(b)}'
        )
    earlier.append((person, dev))
    return out


def _condition_text_problems(c: dict[str, Any], where: str, limits: Limits) -> list[str]:
    out = _text_problems(c.get("id"), f"{where}.id", limits.condition_id)
    out += _text_problems(c.get("name"), f"{where}.name", None)
    for key in ("address", "place", "area"):
        if isinstance(c.get(key), dict):
            out += _text_problems(c[key].get("label"), f"{where}.{key}.label", None)
    for ai, a in enumerate(c.get("appointments", []) if isinstance(c.get("appointments"), list) else []):
        if isinstance(a, dict):
            out += _text_problems(a.get("label"), f"{where}.appointments[{ai}].label", None)
    return out


def load(path: str | Path) -> CaseFile:
    """Read and parse a case file; raises CaseFileError with every problem."""
    return parse(load_json(path))


def load_json(path: str | Path) -> Any:
    """The JSON of a case file, unchecked; raises CaseFileError if it is not JSON at all."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CaseFileError([f"(file): not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"]) from exc


def parse(data: Any, trusted: bool = False) -> CaseFile:
    """The file, or CaseFileError with every error it has (structure, then what the parts say)."""
    cf, errors = read(data, trusted)
    if errors:
        raise CaseFileError(errors)
    return cf


def _parse_order(o: dict[str, Any], here: str) -> tuple[OrderSpec, list[str]]:
    errors: list[str] = []
    order = OrderSpec(
        id=o["id"],
        type=OrderType(o["type"]),
        start=date.fromisoformat(o["start"]),
        end=date.fromisoformat(o["end"]),
        licence_kind=LicenceKind(o["licence_kind"]) if o.get("licence_kind") else None,
        convicted_before_pcsc_act=bool(o.get("convicted_before_pcsc_act", False)),
        audit_score=o.get("audit_score"),
        alcohol_treatment_requirement=bool(o.get("alcohol_treatment_requirement", False)),
    )
    if order.end < order.start:
        errors.append(f"{here}.end: the order ends ({order.end}) before it starts ({order.start})")
    cond_ids: set[str] = set()
    for ci, c in enumerate(o["conditions"]):
        where = f"{here}.conditions[{ci}]"
        if c["id"] in cond_ids:
            errors.append(f'{where}.id: "{c["id"]}" is used by another condition of this order')
        cond_ids.add(c["id"])
        cond = parse_condition(c)
        if cond.start and cond.end and cond.end < cond.start:
            errors.append(f"{where}.end: the condition ends ({cond.end}) before it starts ({cond.start})")
        if cond.area is not None:
            problem = area_problem(cond.area)
            if problem:
                errors.append(f"{where}.area: {problem}")
        for ai, a in enumerate(cond.appointments):
            if a.end <= a.start:
                errors.append(f"{where}.appointments[{ai}].end: the appointment ends before it starts")
        order.conditions.append(cond)
    return order, errors


def parse_condition(c: dict[str, Any]) -> ConditionSpec:
    """A structurally valid condition object as a ConditionSpec."""
    ctype = ConditionType(c["type"])
    return ConditionSpec(
        id=c["id"],
        type=ctype,
        start=_date(c.get("start")),
        end=_date(c.get("end")),
        note=c.get("note", ""),
        technology=Technology(c["technology"]) if c.get("technology") else None,
        address=_circle(c.get("address")),
        windows=tuple(Window.from_json(w) for w in c.get("windows", [])),
        release_day_start=parse_hhmm(c["release_day_start"]) if c.get("release_day_start") else None,
        name=c.get("name", ""),
        monitored=bool(c.get("monitored", False)),
        victim_sensitive=bool(c.get("victim_sensitive", False)),
        area=c.get("area"),
        place=_circle(c.get("place")),
        appointments=tuple(
            Appointment(_dt_req(a["start"]), _dt_req(a["end"]), a.get("label", "")) for a in c.get("appointments", [])
        ),
        mode=AlcoholMode(c["mode"]) if c.get("mode") else None,
        level_g_dl=c.get("level_g_dl"),
        requirement=AlcoholRequirement(c["requirement"]) if c.get("requirement") else None,
    )


def _circle(d: dict[str, Any] | None) -> Circle | None:
    if not d:
        return None
    return Circle(float(d["lat"]), float(d["lon"]), float(d["radius_m"]), d.get("label", ""))


def _date(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def _dt_req(s: str) -> datetime:
    return datetime.fromisoformat(s)
