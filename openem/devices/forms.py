"""Forms for the device stock (adding a device, issuing or revoking its key, its gateway) and for the
visits that fit, remove and swap devices."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.utils import timezone

from openem.engine.enums import DeviceKind
from openem.engine.schedule import parse_hhmm
from openem.portal.forms import LONDON
from openem.telemetry.models import Gateway
from openem.ukforms import UKDateField

from .models import Device

SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


class GatewayChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)


def gateway_field() -> GatewayChoice:
    return GatewayChoice(
        queryset=Gateway.objects.filter(active=True).order_by("name"),
        required=False,
        empty_label="None: the device sends with its own key",
        label="Gateway",
        help_text="A vendor's platform that sends this device's readings with its own token. "
        "A gateway may send only the readings of devices assigned to it.",
    )


class DeviceForm(forms.Form):
    ref = forms.CharField(
        label="Serial number",
        max_length=40,
        help_text="As printed on the device and sent in its readings: letters, digits, dots, dashes.",
    )
    kind = forms.ChoiceField(label="Kind", choices=DeviceKind.choices(), widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["gateway"] = gateway_field()

    def clean_ref(self) -> str:
        ref = str(self.cleaned_data["ref"]).strip()
        if not SERIAL.match(ref):
            raise forms.ValidationError("Enter the serial number using letters, digits, dots and dashes only")
        if Device.objects.filter(ref=ref).exists():
            raise forms.ValidationError(f"A device with serial number {ref} is already in stock")
        return ref


class KeyForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="For example: device reissued after refurbishment, or key shown to the wrong person. Audited.",
    )


class GatewayForm(forms.Form):
    """Which gateway may write this device's readings: a change of who is trusted, so it needs a reason."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["gateway"] = gateway_field()
        self.fields["gateway_reason"] = forms.CharField(
            label="Reason",
            max_length=500,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text="For example: the tag moved to Vendor B's platform on 1 December. Audited.",
        )


class VisitForm(forms.Form):
    """The date and time of a field officer's visit, in UK local time."""

    date = UKDateField(label="Date of the visit")
    time = forms.CharField(
        label="Time of the visit",
        max_length=5,
        help_text="24-hour clock, UK time, for example 14:30",
        widget=forms.TextInput(attrs={"placeholder": "HH:MM"}),
    )

    @staticmethod
    def initial_now(**more: Any) -> dict[str, Any]:
        now = timezone.localtime()
        return {"date": now.date(), "time": f"{now:%H:%M}", **more}

    def clean_time(self) -> dt.time:
        text = str(self.cleaned_data["time"]).strip()
        try:
            minutes = parse_hhmm(text)
        except ValueError:
            minutes = 24 * 60
        if minutes >= 24 * 60:
            raise forms.ValidationError("Enter the time as hours and minutes, for example 14:30")
        return dt.time(minutes // 60, minutes % 60)

    @property
    def at(self) -> dt.datetime:
        d = self.cleaned_data
        return dt.datetime.combine(d["date"], d["time"], tzinfo=LONDON)


def serial_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, max_length=40, help_text="As printed on the device's label.")


def fitted_by_field() -> forms.CharField:
    return forms.CharField(
        label="Fitted by", max_length=150, help_text="The name of the officer who fitted the device at the visit."
    )


def removal_reason_field(max_length: int) -> forms.CharField:
    return forms.CharField(
        label="Why it was removed",
        max_length=max_length,
        help_text="For example: the order ended, the strap was damaged, the battery no longer holds a charge.",
    )


def faulty_field() -> forms.BooleanField:
    return forms.BooleanField(
        label="The device removed is faulty: take it out of use until it is checked", required=False
    )


class FitForm(VisitForm):
    device = serial_field("Serial number of the device")
    fitted_by = fitted_by_field()
    field_order = ["device", "date", "time", "fitted_by"]


class RemoveForm(VisitForm):
    reason = removal_reason_field(200)
    faulty = faulty_field()
    field_order = ["date", "time", "reason", "faulty"]


class SwapForm(VisitForm):
    device = serial_field("Serial number of the new device")
    reason = removal_reason_field(150)  # kept as "Swapped for GPS-0002: <reason>" in 200 characters
    faulty = faulty_field()
    fitted_by = fitted_by_field()
    field_order = ["device", "date", "time", "reason", "faulty", "fitted_by"]
