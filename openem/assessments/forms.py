"""The forms of an assessment's page: one per step, each posted with its ``action``."""

from __future__ import annotations

from typing import Any

from django import forms

from openem.engine.schedule import parse_hhmm
from openem.ukforms import UKDateField

from .models import CheckAnswer, CheckKind, Decision, ProposalType, Suitability

YES_NO = [("", "Not known yet"), ("yes", "Yes"), ("no", "No")]


def parse_times(text: str) -> list[dict[str, Any]]:
    """ "22:00-02:00, 13:00-15:00" as curfew-style windows on every day; each part must be a time range."""
    out = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        start, sep, end = part.partition("-")
        try:
            parse_hhmm(start.strip())
            parse_hhmm(end.strip())
        except (ValueError, IndexError):
            sep = ""
        if not sep:
            raise forms.ValidationError(f'"{part}" is not a time range: write it as 22:00-02:00')
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        out.append({"days": days, "start": start.strip(), "end": end.strip()})
    return out


def yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


class AssessmentForm(forms.Form):
    proposal = forms.ChoiceField(label="What is proposed", choices=ProposalType.choices())
    offence = forms.CharField(label="The offence", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    acquisitive = forms.BooleanField(label="Acquisitive offending (burglary, theft, robbery)", required=False)
    victim_to_protect = forms.BooleanField(label="There is an identified victim to protect", required=False)
    victim_location_recorded = forms.BooleanField(
        label="The victim's address or an area to keep out of is recorded", required=False
    )
    alcohol_link = forms.BooleanField(label="Alcohol was a factor in the offending", required=False)
    audit_score = forms.IntegerField(label="AUDIT score", required=False, min_value=0, max_value=40)
    alcohol_dependent = forms.BooleanField(label="Dependent on alcohol", required=False)
    alcohol_treatment_requirement = forms.BooleanField(
        label="An alcohol treatment requirement is also proposed", required=False
    )
    sentence_days = forms.IntegerField(
        label="Custodial term in days (HDC)", required=False, min_value=1, max_value=100_000
    )
    sex_offender_notification = forms.BooleanField(label="Subject to sex offender notification", required=False)
    offending_times = forms.CharField(
        label="When the offending happened", required=False, max_length=200,
        help_text="Times of day, for example 22:00-02:00, 13:00-15:00: the curfew proposed is shown against them.",
    )  # fmt: skip

    def clean_offending_times(self) -> list[dict[str, Any]]:
        return parse_times(self.cleaned_data["offending_times"])


class AddressForm(forms.Form):
    label = forms.CharField(label="Proposed curfew address", max_length=200)
    lat = forms.FloatField(label="Latitude", required=False, min_value=-90, max_value=90)
    lon = forms.FloatField(label="Longitude", required=False, min_value=-180, max_value=180)
    occupier_consents = forms.ChoiceField(label="The main occupier consents", choices=YES_NO, required=False)
    electricity = forms.ChoiceField(label="Mains electricity (a home unit needs it)", choices=YES_NO, required=False)
    home_visit_on = UKDateField(label="Home visit", required=False)


class OccupantForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    relationship = forms.CharField(label="Relationship to the person", max_length=100)
    age = forms.IntegerField(label="Age", required=False, min_value=0, max_value=120)


class AskForm(forms.Form):
    kind = forms.ChoiceField(label="Check", choices=CheckKind.choices())
    asked_whom = forms.CharField(label="Asked of", max_length=200, help_text="The team or person asked")
    asked_on = UKDateField(label="Asked on")


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(label="Answer", choices=CheckAnswer.choices(), widget=forms.RadioSelect)
    answered_on = UKDateField(label="Answered on")
    said = forms.CharField(label="What it said", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    person_may_be_victim = forms.BooleanField(
        label="The person may be a victim at this address as well as a perpetrator", required=False
    )


class ConcludeForm(forms.Form):
    suitability = forms.ChoiceField(
        label="Conclusion", choices=[c for c in Suitability.choices() if c[0] != "not_assessed"],
        widget=forms.RadioSelect,
    )  # fmt: skip
    not_suitable_reason = forms.CharField(
        label="Why it is not suitable", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    no_measures_can_make_suitable = forms.BooleanField(
        label="For HDC: no measures can make this address suitable", required=False
    )
    alternative_accommodation = forms.CharField(
        label="Alternative accommodation", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("suitability") == Suitability.NOT_SUITABLE.value
            and not data.get("not_suitable_reason", "").strip()
        ):
            self.add_error("not_suitable_reason", "Say why the address is not suitable")
        return data


class RecommendForm(forms.Form):
    recommends_curfew = forms.BooleanField(label="Recommend a curfew or electronic monitoring", required=False)
    curfew_times = forms.CharField(
        label="Curfew hours proposed", required=False, max_length=200,
        help_text="For example 19:00-07:00: shown against the times of the offending.",
    )  # fmt: skip

    def clean_curfew_times(self) -> list[dict[str, Any]]:
        return parse_times(self.cleaned_data["curfew_times"])

    rationale = forms.CharField(
        label="How monitoring will support risk management and desistance", required=False,
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Inspectorate recommendation 13: it goes on the report.",
    )  # fmt: skip


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Why the court or release must go ahead without both checks", widget=forms.Textarea(attrs={"rows": 2})
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(label="Decision", choices=Decision.choices(), widget=forms.RadioSelect)
    decided_on = UKDateField(label="Date of the decision")
