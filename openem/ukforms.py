"""Date and date-time fields as people in the UK write them, for every app's forms: 27/3/2026 and
27/3/2026 14:30, shown that way whatever the browser's language (a browser's own date picker shows
its owner's locale, which on a borrowed or American-set machine reads 03/27/2026). ISO dates are still
accepted, so links and devices that send them keep working."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import forms
from django.utils import timezone

UK_DATE_FORMATS = ["%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %m %Y", "%Y-%m-%d"]
UK_DATETIME_FORMATS = [f"{d} {t}" for d in UK_DATE_FORMATS for t in ("%H:%M", "%H.%M", "%H%M")] + [
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
]


class UKDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"inputmode": "numeric", "autocomplete": "off", **(attrs or {})}, format="%d/%m/%Y")


class UKDateTimeInput(forms.DateTimeInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"autocomplete": "off", **(attrs or {})}, format="%d/%m/%Y %H:%M")


class UKDateField(forms.DateField):
    widget = UKDateInput
    input_formats = UK_DATE_FORMATS
    default_error_messages = {"invalid": "Enter a date as day/month/year, for example 27/3/2026"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "For example, 27/3/2026")
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        """What the page shows: the UK way (templates that write ``field.value`` get this, not ISO)."""
        return value.strftime("%d/%m/%Y") if isinstance(value, date) else value


class UKDateTimeField(forms.DateTimeField):
    widget = UKDateTimeInput
    input_formats = UK_DATETIME_FORMATS
    default_error_messages = {
        "invalid": "Enter a date and time as day/month/year hours:minutes, for example 27/3/2026 14:30"
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Day/month/year and 24-hour time, UK time, for example 27/3/2026 14:30")
        super().__init__(*args, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return timezone.localtime(value).strftime("%d/%m/%Y %H:%M") if timezone.is_aware(value) else (
                value.strftime("%d/%m/%Y %H:%M")
            )  # fmt: skip
        return value
