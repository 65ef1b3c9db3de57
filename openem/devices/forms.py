"""Forms for the device stock: adding a device, issuing or revoking its key, its gateway."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from openem.engine.enums import DeviceKind
from openem.telemetry.models import Gateway

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
