"""Forms for signing in and for making and varying orders and their conditions.

Each condition form turns its fields into a ConditionSpec (the case-file form) so that the same
rules as the importer run on it; statutory checks are in ``openem.cases.rules``, not here.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from openem.engine.casefile import Appointment, ConditionSpec, OrderSpec, invisible_problem
from openem.engine.enums import (
    AlcoholMode,
    AlcoholRequirement,
    ConditionType,
    Day,
    LicenceKind,
    OrderType,
    Technology,
)
from openem.engine.geometry import Circle, area_problem
from openem.engine.schedule import Window, format_hhmm, parse_hhmm
from openem.ukforms import UKDateField

LONDON = ZoneInfo("Europe/London")
WINDOW_ROWS = 4


def plain_text(value: str) -> None:
    """Names and labels are read by people: the same refusal of invisible and control characters as
    the case-file import (a right-to-left override makes a zone's name read backwards)."""
    problem = invisible_problem(value)
    if problem:
        raise forms.ValidationError(f"This {problem}")


class SignInForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Enter a correct username and password. Both are case-sensitive.",
    }


class ReasonMixin(forms.Form):
    reason = forms.CharField(
        label="Reason for this change",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: the court order of 3 November, or the variation granted on 12 December. "
        "Kept with the order's history.",
    )


class OrderForm(ReasonMixin):
    ref = forms.CharField(
        label="Order reference",
        max_length=40,
        validators=[plain_text],
        help_text="The court or licence reference, or leave the suggested one.",
    )
    type = forms.ChoiceField(label="Type of order", choices=OrderType.choices())
    licence_kind = forms.ChoiceField(
        label="Kind of licence", required=False, choices=[("", "Not a licence / standard"), *LicenceKind.choices()]
    )
    start = UKDateField(label="Start date")
    end = UKDateField(label="End date")
    convicted_before_pcsc_act = forms.BooleanField(
        label="Convicted before the PCSC Act 2022 came in (court curfews at most 16 hours a day)", required=False
    )
    audit_score = forms.IntegerField(
        label="AUDIT score",
        required=False,
        min_value=0,
        max_value=40,
        help_text="Alcohol Use Disorders Identification Test, if assessed.",
    )
    alcohol_treatment_requirement = forms.BooleanField(
        label="The order has an alcohol treatment requirement", required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The end date must be on or after the start date")
        return data

    def apply_to(self, spec: OrderSpec) -> OrderSpec:
        d = self.cleaned_data
        spec.id = d["ref"]
        spec.type = OrderType(d["type"])
        spec.licence_kind = LicenceKind(d["licence_kind"]) if d["licence_kind"] else None
        spec.start, spec.end = d["start"], d["end"]
        spec.convicted_before_pcsc_act = d["convicted_before_pcsc_act"]
        spec.audit_score = d["audit_score"]
        spec.alcohol_treatment_requirement = d["alcohol_treatment_requirement"]
        return spec

    @staticmethod
    def initial_from(spec: OrderSpec) -> dict[str, Any]:
        return {
            "ref": spec.id,
            "type": spec.type.value,
            "licence_kind": spec.licence_kind or "",
            "start": spec.start,
            "end": spec.end,
            "convicted_before_pcsc_act": spec.convicted_before_pcsc_act,
            "audit_score": spec.audit_score,
            "alcohol_treatment_requirement": spec.alcohol_treatment_requirement,
        }


def _time_field(label: str, required: bool = False) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=5,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "HH:MM"}),
    )


class ConditionForm(ReasonMixin):
    ctype: ConditionType
    start = UKDateField(
        label="Start date",
        required=False,
        help_text="For example, 27/3/2026. Leave empty to run from the start of the order (or, for a condition "
        "added to an order already made, from today).",
    )
    end = UKDateField(
        label="End date",
        required=False,
        help_text="For example, 27/3/2026. Leave empty to run to the end of the order.",
    )

    def to_spec(self, ref: str) -> ConditionSpec:
        d = self.cleaned_data
        return ConditionSpec(id=ref, type=self.ctype, start=d.get("start"), end=d.get("end"))

    @classmethod
    def initial_from(cls, spec: ConditionSpec) -> dict[str, Any]:
        return {"start": spec.start, "end": spec.end}


class WindowRowsMixin(forms.Form):
    """A few rows of (days, start, end); each row can cover several days."""

    windows_required = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(WINDOW_ROWS):
            self.fields[f"w{i}_days"] = forms.MultipleChoiceField(
                label=f"Window {i + 1}: days",
                required=False,
                choices=Day.choices(),
                widget=forms.CheckboxSelectMultiple,
            )
            self.fields[f"w{i}_start"] = _time_field("From")
            self.fields[f"w{i}_end"] = _time_field("To")

    def window_rows(self) -> list[tuple[Any, Any, Any]]:
        return [(self[f"w{i}_days"], self[f"w{i}_start"], self[f"w{i}_end"]) for i in range(WINDOW_ROWS)]

    def clean_windows(self) -> tuple[Window, ...]:
        out = []
        for i in range(WINDOW_ROWS):
            days = self.cleaned_data.get(f"w{i}_days") or []
            start = (self.cleaned_data.get(f"w{i}_start") or "").strip()
            end = (self.cleaned_data.get(f"w{i}_end") or "").strip()
            if not days and not start and not end:
                continue
            ok = True
            if not days:
                self.add_error(f"w{i}_days", f"Window {i + 1}: choose the days on which it starts")
                ok = False
            for name, value in ((f"w{i}_start", start), (f"w{i}_end", end)):
                try:
                    parse_hhmm(value)
                except ValueError:
                    self.add_error(
                        name, f'Window {i + 1}: "{value}" is not a time; use 24-hour HH:MM, for example 19:00'
                    )
                    ok = False
            if ok:
                out.append(Window(tuple(Day(d) for d in days), parse_hhmm(start), parse_hhmm(end)))
        if not out and self.windows_required:
            self.add_error(None, "Give at least one curfew window")
        return tuple(out)

    @staticmethod
    def window_initial(windows: tuple[Window, ...]) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for i, w in enumerate(windows[:WINDOW_ROWS]):
            initial[f"w{i}_days"] = [d.value for d in w.days]
            initial[f"w{i}_start"] = format_hhmm(w.start_min)
            initial[f"w{i}_end"] = format_hhmm(w.end_min)
        return initial


class CircleMixin(forms.Form):
    lat = forms.FloatField(label="Latitude", min_value=-90, max_value=90)
    lon = forms.FloatField(label="Longitude", min_value=-180, max_value=180)
    radius_m = forms.FloatField(
        label="Radius in metres", min_value=1, max_value=100000, help_text="The boundary of the property or site."
    )

    def circle(self, label: str = "") -> Circle:
        d = self.cleaned_data
        return Circle(d["lat"], d["lon"], d["radius_m"], label)


class CurfewForm(CircleMixin, WindowRowsMixin, ConditionForm):
    ctype = ConditionType.CURFEW
    technology = forms.ChoiceField(
        label="Technology",
        choices=Technology.choices(),
        initial=Technology.RF,
        widget=forms.RadioSelect,
        help_text="GPS curfews need location monitoring on the same order.",
    )
    address_label = forms.CharField(label="Curfew address", max_length=200, required=False, validators=[plain_text])
    release_day_start = _time_field("Release-day curfew starts at (HDC)")
    field_order = ["technology", "address_label", "lat", "lon", "radius_m", "start", "end", "release_day_start"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._windows = self.clean_windows()
        rds = (data.get("release_day_start") or "").strip()
        if rds:
            try:
                parse_hhmm(rds)
            except ValueError:
                self.add_error("release_day_start", f'"{rds}" is not a time; use 24-hour HH:MM')
        return data

    def to_spec(self, ref: str) -> ConditionSpec:
        spec = super().to_spec(ref)
        d = self.cleaned_data
        spec.technology = Technology(d["technology"])
        spec.address = self.circle(d.get("address_label", ""))
        spec.windows = self._windows
        spec.release_day_start = parse_hhmm(d["release_day_start"]) if d.get("release_day_start") else None
        return spec

    @classmethod
    def initial_from(cls, spec: ConditionSpec) -> dict[str, Any]:
        out = super().initial_from(spec)
        out.update(cls.window_initial(spec.windows))
        out["technology"] = spec.technology.value if spec.technology else "rf"
        if spec.address:
            out.update(
                lat=spec.address.lat,
                lon=spec.address.lon,
                radius_m=spec.address.radius_m,
                address_label=spec.address.label,
            )
        if spec.release_day_start is not None:
            out["release_day_start"] = format_hhmm(spec.release_day_start)
        return out


class ZoneForm(WindowRowsMixin, ConditionForm):
    windows_required = False
    name = forms.CharField(
        label="Name of the zone",
        max_length=200,
        validators=[plain_text],
        help_text='As the order describes it, for example "Victim\'s street".',
    )
    monitored = forms.BooleanField(
        label="The order makes this zone GPS-monitored",
        required=False,
        help_text="Only zones the order explicitly makes GPS-monitored raise alerts. Others are shown on the "
        "map for information.",
    )
    victim_sensitive = forms.BooleanField(
        label="Protects a victim: hide it when showing the map to the person", required=False
    )
    shape = forms.ChoiceField(
        label="Shape",
        choices=[("circle", "A circle around a point"), ("polygon", "A polygon (GeoJSON)")],
        initial="circle",
        widget=forms.RadioSelect,
    )
    lat = forms.FloatField(label="Centre latitude", required=False, min_value=-90, max_value=90)
    lon = forms.FloatField(label="Centre longitude", required=False, min_value=-180, max_value=180)
    radius_m = forms.FloatField(label="Radius in metres", required=False, min_value=1, max_value=100000)
    geojson = forms.CharField(
        label="GeoJSON Polygon or MultiPolygon (longitude, latitude)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "class": "app-code"}),
    )
    field_order = [
        "name",
        "monitored",
        "victim_sensitive",
        "shape",
        "lat",
        "lon",
        "radius_m",
        "geojson",
        "start",
        "end",
    ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._windows = self.clean_windows()
        if data.get("shape") == "polygon":
            try:
                area = json.loads(data.get("geojson") or "")
            except json.JSONDecodeError as exc:
                self.add_error("geojson", f"This is not valid JSON (line {exc.lineno}, column {exc.colno})")
                return data
            if not isinstance(area, dict) or area.get("type") not in ("Polygon", "MultiPolygon"):
                self.add_error("geojson", "Give a GeoJSON object of type Polygon or MultiPolygon")
                return data
            problem = area_problem(area)
            if problem:
                self.add_error("geojson", f"The zone's {problem}")
                return data
            self._area: dict[str, Any] = area
        else:
            for name in ("lat", "lon", "radius_m"):
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, f"Enter the {self.fields[name].label.lower()}")  # type: ignore[union-attr]
            if not self.errors:
                self._area = {"lat": data["lat"], "lon": data["lon"], "radius_m": data["radius_m"]}
        return data

    def to_spec(self, ref: str) -> ConditionSpec:
        spec = super().to_spec(ref)
        d = self.cleaned_data
        spec.name, spec.monitored, spec.victim_sensitive = d["name"], d["monitored"], d["victim_sensitive"]
        spec.area = self._area
        spec.windows = self._windows
        return spec

    @classmethod
    def initial_from(cls, spec: ConditionSpec) -> dict[str, Any]:
        out = super().initial_from(spec)
        out.update(cls.window_initial(spec.windows))
        out.update(name=spec.name, monitored=spec.monitored, victim_sensitive=spec.victim_sensitive)
        if spec.area and "radius_m" in spec.area:
            out.update(shape="circle", lat=spec.area["lat"], lon=spec.area["lon"], radius_m=spec.area["radius_m"])
        elif spec.area:
            out.update(shape="polygon", geojson=json.dumps(spec.area))
        return out


class ExclusionZoneForm(ZoneForm):
    ctype = ConditionType.EXCLUSION_ZONE


class InclusionZoneForm(ZoneForm):
    ctype = ConditionType.INCLUSION_ZONE


class AttendanceForm(CircleMixin, ConditionForm):
    ctype = ConditionType.ATTENDANCE
    name = forms.CharField(
        label="Place", max_length=200, validators=[plain_text], help_text="For example: Oakham probation office."
    )
    appointments = forms.CharField(
        label="Appointments",
        widget=forms.Textarea(attrs={"rows": 4, "class": "app-code"}),
        required=False,
        help_text="One a line, in local time: date, start and end, for example 2026-12-03 10:00-11:00.",
    )
    field_order = ["name", "lat", "lon", "radius_m", "appointments", "start", "end"]

    def clean_appointments(self) -> tuple[Appointment, ...]:
        out = []
        text = self.cleaned_data.get("appointments") or ""
        for n, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            try:
                day_text, times = line.split()
                start_text, end_text = times.split("-")
                day = datetime.strptime(day_text, "%Y-%m-%d").date()
                start = datetime.combine(day, time.fromisoformat(start_text), LONDON)
                end = datetime.combine(day, time.fromisoformat(end_text), LONDON)
            except ValueError as exc:
                raise forms.ValidationError(
                    f'Line {n}: "{line}" is not an appointment; write it as 2026-12-03 10:00-11:00'
                ) from exc
            if end <= start:
                raise forms.ValidationError(f"Line {n}: the appointment ends before it starts")
            out.append(Appointment(start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))))
        return tuple(out)

    def to_spec(self, ref: str) -> ConditionSpec:
        spec = super().to_spec(ref)
        spec.name = self.cleaned_data["name"]
        spec.place = self.circle()
        spec.appointments = self.cleaned_data["appointments"]
        return spec

    @classmethod
    def initial_from(cls, spec: ConditionSpec) -> dict[str, Any]:
        out = super().initial_from(spec)
        out["name"] = spec.name
        if spec.place:
            out.update(lat=spec.place.lat, lon=spec.place.lon, radius_m=spec.place.radius_m)
        out["appointments"] = "\n".join(
            f"{a.start.astimezone(LONDON):%Y-%m-%d %H:%M}-{a.end.astimezone(LONDON):%H:%M}" for a in spec.appointments
        )
        return out


class TrailForm(ConditionForm):
    ctype = ConditionType.TRAIL


class AlcoholForm(ConditionForm):
    ctype = ConditionType.ALCOHOL
    requirement = forms.ChoiceField(label="Requirement", choices=AlcoholRequirement.choices(), widget=forms.RadioSelect)
    mode = forms.ChoiceField(
        label="What the person must do",
        widget=forms.RadioSelect,
        initial="abstinence",
        choices=[("abstinence", "Abstain from alcohol"), ("level", "Not exceed a stated level")],
    )
    level_g_dl = forms.FloatField(label="Level in g/dl (transdermal)", required=False, min_value=0.001, max_value=0.5)
    field_order = ["requirement", "mode", "level_g_dl", "start", "end"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == "level" and data.get("level_g_dl") is None:
            self.add_error("level_g_dl", "Enter the level the person must not exceed")
        return data

    def to_spec(self, ref: str) -> ConditionSpec:
        spec = super().to_spec(ref)
        d = self.cleaned_data
        spec.requirement = AlcoholRequirement(d["requirement"])
        spec.mode = AlcoholMode(d["mode"])
        spec.level_g_dl = d["level_g_dl"] if spec.mode == AlcoholMode.LEVEL else None
        return spec

    @classmethod
    def initial_from(cls, spec: ConditionSpec) -> dict[str, Any]:
        out = super().initial_from(spec)
        out.update(
            requirement=spec.requirement.value if spec.requirement else "",
            mode=spec.mode.value if spec.mode else "abstinence",
            level_g_dl=spec.level_g_dl,
        )
        return out


CONDITION_FORMS: dict[ConditionType, type[ConditionForm]] = {
    ConditionType.CURFEW: CurfewForm,
    ConditionType.EXCLUSION_ZONE: ExclusionZoneForm,
    ConditionType.INCLUSION_ZONE: InclusionZoneForm,
    ConditionType.ATTENDANCE: AttendanceForm,
    ConditionType.TRAIL: TrailForm,
    ConditionType.ALCOHOL: AlcoholForm,
}


class RemoveConditionForm(ReasonMixin):
    pass


def main_fields(form: forms.Form) -> list[Any]:
    """Fields other than the window rows and the reason, which the templates lay out themselves."""
    return [f for f in form.visible_fields() if not f.name.startswith("w") or "_" not in f.name if f.name != "reason"]
