"""The crime pages' forms: a batch upload, an ad-hoc search, a review, a report to verify."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils import timezone

from openem.inputs import written
from openem.ukforms import UKDateTimeField

from . import forces
from .models import LawfulBasis

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_SEARCH_RADIUS_M = 1000.0


MAX_PURPOSE = 1000
MIN_PURPOSE = 5  # visible characters: "x" or "." says nothing about why


def purpose_problem(text: str) -> str | None:
    """What is wrong with a stated purpose (portal and API alike), or None."""
    if not written(text):
        return "Say what this is for, in words"
    if len(text.strip()) > MAX_PURPOSE:
        return f"The purpose is {len(text.strip())} characters: say it in at most {MAX_PURPOSE}"
    if sum(1 for ch in text if unicodedata.category(ch)[0] not in "ZC") < MIN_PURPOSE:
        return "Say what this is for, for example the operation or investigation"
    return None


class LawfulBasisMixin(forms.Form):
    lawful_basis = forms.ChoiceField(
        label="Lawful basis",
        choices=LawfulBasis.choices(),
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the lawful basis for asking"},
    )
    purpose = forms.CharField(
        label="Purpose",
        max_length=MAX_PURPOSE,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What this is for, for example the operation or investigation. Recorded with every view.",
        error_messages={"required": "Say what this is for"},
    )

    def clean_purpose(self) -> str:
        text = str(self.cleaned_data.get("purpose", ""))
        problem = purpose_problem(text)
        if problem:
            raise forms.ValidationError(problem)
        return text.strip()


class UploadForm(LawfulBasisMixin):
    file = forms.FileField(
        label="Crime batch (CSV)",
        help_text="One force and one batch per file, in the format police send today (see the guidance).",
        error_messages={"required": "Choose the CSV file to upload"},
    )

    field_order = ["file", "lawful_basis", "purpose"]

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > MAX_FILE_BYTES:
            raise forms.ValidationError(f"The file is {f.size // 1024} KB: send at most {MAX_FILE_BYTES // 1024} KB")
        return f


class SearchForm(LawfulBasisMixin):
    place = forms.CharField(label="Place", max_length=200, required=False, help_text="A name for your records")
    lat = forms.FloatField(label="Latitude", help_text="WGS84, for example 52.6705")
    lon = forms.FloatField(label="Longitude", help_text="WGS84, for example -0.7276")
    radius_m = forms.FloatField(
        label="Distance (metres)",
        min_value=10,
        max_value=MAX_SEARCH_RADIUS_M,
        initial=100,
        help_text=f"Who came within this distance; at most {MAX_SEARCH_RADIUS_M:.0f} m",
    )
    start = UKDateTimeField(label="From")
    end = UKDateTimeField(label="To")

    field_order = ["place", "lat", "lon", "radius_m", "start", "end", "lawful_basis", "purpose"]

    def __init__(self, *args: Any, force: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.force = force
        hours = self.max_hours = settings.OPENEM_CRIME_SEARCH_MAX_HOURS
        self.fields["end"].help_text = f"At most {hours} hours after the start; UK time, for example 27/3/2026 14:30"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        hours = settings.OPENEM_CRIME_SEARCH_MAX_HOURS
        if start and start > timezone.now() + timedelta(minutes=5):
            self.add_error("start", "The start is in the future: there is no trail yet to search")
        elif start and start < timezone.now() - timedelta(days=settings.OPENEM_CRIME_MAX_AGE_DAYS):
            self.add_error(
                "start", f"The start is more than {settings.OPENEM_CRIME_MAX_AGE_DAYS} days ago: search a recent period"
            )
        if start and end:
            if end <= start:
                self.add_error("end", "The end must be after the start")
            elif end - start > timedelta(hours=hours):
                self.add_error(
                    "end",
                    f"Search at most {hours} hours at a time: this period is "
                    f"{(end - start) / timedelta(hours=1):.1f} hours",
                )
        lat, lon = data.get("lat"), data.get("lon")
        if lat is not None and lon is not None and not forces.covers(self.force, lat, lon):
            self.add_error(
                "lat",
                f"This place is outside {self.force}'s area ({forces.described(self.force)}): "
                "search only your own force's area",
            )
        return data


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        label="Your decision",
        widget=forms.RadioSelect,
        choices=[
            ("qualify", "Qualify: the trail shows the person near the crime"),
            ("reject", "Reject: not a real match"),
        ],
        error_messages={"required": "Choose qualify or reject"},
    )
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you saw on the trail, for the record (and for the witness statement when qualified)",
        error_messages={"required": "Give the reason for your decision"},
    )

    def clean_reason(self) -> str:
        text = self.cleaned_data.get("reason", "")
        if not written(text):
            raise forms.ValidationError("Give the reason for your decision, in words")
        return str(text).strip()


class VerifyForm(forms.Form):
    file = forms.FileField(label="Proximity report (PDF)", error_messages={"required": "Choose the PDF to check"})

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > 50 * 1024 * 1024:
            raise forms.ValidationError(f"The file is {f.size // (1024 * 1024)} MB: a proximity report is far smaller")
        return f
