"""The forms of an assessment's page: one per step, each posted with its ``action``."""

from __future__ import annotations

from typing import Any

from django import forms

from openem.engine.schedule import parse_hhmm
from openem.inputs import written
from openem.ukforms import UKDateField

from . import eligibility
from .models import CheckAnswer, CheckKind, Decision, ProposalType, Response, Suitability, VictimPlaceKind

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
        if data.get("suitability") == Suitability.NOT_SUITABLE.value and not written(data.get("not_suitable_reason")):
            self.add_error("not_suitable_reason", "Say why the address is not suitable")
        return data


RESPONSE_CHOICES = [(r.value, r.label) for r in (Response.ACCEPTED, Response.CHANGED, Response.REJECTED)]


class RecommendForm(forms.Form):
    """The practitioner's recommendation: each requirement OpenEM suggests accepted, changed (to another
    requirement or technology, with the reason) or rejected (with the reason); any other eligible one added;
    the curfew hours; and how monitoring supports risk management and desistance (recommendation 13)."""

    curfew_times = forms.CharField(
        label="Curfew hours proposed", required=False, max_length=200,
        help_text="For example 19:00-07:00: shown against the times of the offending.",
    )  # fmt: skip
    rationale = forms.CharField(
        label="How monitoring will support risk management and desistance", required=False,
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Inspectorate recommendation 13: it goes on the report.",
    )  # fmt: skip

    def __init__(self, *args: Any, rec: eligibility.Recommendation | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suggested = list(rec.proposed) if rec else []
        self.addable = list(rec.available) if rec else []
        # Only what the rules allow on the facts recorded: a refused requirement is not offered at all.
        eligible = [p.candidate for p in self.suggested] + self.addable
        for p in self.suggested:
            name = slug(p.candidate.key)
            self.fields[f"resp_{name}"] = forms.ChoiceField(
                label=p.candidate.title, choices=RESPONSE_CHOICES,
                widget=forms.RadioSelect, error_messages={"required": "Accept, change or reject this suggestion"},
            )  # fmt: skip
            self.fields[f"to_{name}"] = forms.ChoiceField(
                label="Change to", required=False,
                choices=[("", "Choose")] + [(c.key, c.title) for c in eligible
                                            if c != p.candidate],
            )  # fmt: skip
            self.fields[f"why_{name}"] = forms.CharField(label="Why", required=False, max_length=500)
        self.fields["add"] = forms.MultipleChoiceField(
            label="Add a requirement OpenEM did not suggest", required=False,
            choices=[(c.key, c.title) for c in self.addable],
        )  # fmt: skip

    def rows(self) -> list[dict[str, Any]]:
        """Each suggestion with its fields and the rules behind it, for the template."""
        return [
            {"proposal": p, "resp": self[f"resp_{slug(p.candidate.key)}"], "to": self[f"to_{slug(p.candidate.key)}"],
             "why": self[f"why_{slug(p.candidate.key)}"]}
            for p in self.suggested
        ]  # fmt: skip

    def clean_curfew_times(self) -> list[dict[str, Any]]:
        return parse_times(self.cleaned_data["curfew_times"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        responses: list[dict[str, str]] = []
        for p in self.suggested:
            name = slug(p.candidate.key)
            resp, to, why = data.get(f"resp_{name}"), data.get(f"to_{name}", ""), data.get(f"why_{name}", "").strip()
            if resp == Response.CHANGED.value and not to:
                self.add_error(f"to_{name}", "Choose what to recommend instead")
            if resp in (Response.CHANGED.value, Response.REJECTED.value) and not written(why):
                self.add_error(f"why_{name}", f"Say why it is {Response(resp).label.lower()}")
            if resp:
                responses.append({"candidate": p.candidate.key, "response": resp,
                                  "to": to if resp == Response.CHANGED.value else "", "why": why})  # fmt: skip
        for key in data.get("add") or []:
            responses.append({"candidate": key, "response": Response.ADDED.value, "to": "", "why": ""})
        data["responses"] = responses
        chosen = [r["to"] or r["candidate"] for r in responses if r["response"] != Response.REJECTED.value]
        if chosen and not written(data.get("rationale")):
            self.add_error("rationale", "Write how monitoring will support risk management and desistance")
        return data

    @classmethod
    def initial_from(cls, assessment: Any) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "curfew_times": ", ".join(f"{w['start']}-{w['end']}" for w in assessment.proposed_curfew_windows),
            "rationale": assessment.rationale,
            "add": [r["candidate"] for r in assessment.responses if r["response"] == Response.ADDED.value],
        }
        for r in assessment.responses:
            name = slug(r["candidate"])
            initial.update({f"resp_{name}": r["response"], f"to_{name}": r.get("to", "")})
            initial[f"why_{name}"] = r.get("why", "")
        return initial


def slug(key: str) -> str:
    return key.replace(":", "_")


class VictimPlaceForm(forms.Form):
    kind = forms.ChoiceField(label="What it is", choices=VictimPlaceKind.choices(), widget=forms.RadioSelect)
    description = forms.CharField(
        label="Description, for staff", max_length=200, help_text="For example: the victim's home (Ms A). Never "
        "shown to the person.",
    )  # fmt: skip
    # Great Britain's bounding box: a place far outside it is a typing mistake (a finer check of the coast
    # would share the one crime matching needs).
    lat = forms.FloatField(label="Latitude", min_value=49.8, max_value=61.0, error_messages={
        "min_value": "Enter a latitude in Great Britain (49.8 to 61.0)",
        "max_value": "Enter a latitude in Great Britain (49.8 to 61.0)"})  # fmt: skip
    lon = forms.FloatField(label="Longitude", min_value=-8.7, max_value=2.0, error_messages={
        "min_value": "Enter a longitude in Great Britain (-8.7 to 2.0)",
        "max_value": "Enter a longitude in Great Britain (-8.7 to 2.0)"})  # fmt: skip
    radius_m = forms.IntegerField(
        label="Area around it, in metres", min_value=0, max_value=10_000, required=False,
        help_text="0 or empty for an address",
    )  # fmt: skip


class VictimViewsForm(forms.Form):
    views = forms.CharField(
        label="What the victim has asked for", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Conditions the victim asked for (an exclusion zone, no contact) and any concerns: shown to the "
        "practitioner on the assessment (never on the report, which the person may see).",
    )  # fmt: skip


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Why the court or release must go ahead without both checks", widget=forms.Textarea(attrs={"rows": 2})
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(label="Decision", choices=Decision.choices(), widget=forms.RadioSelect)
    decided_on = UKDateField(label="Date of the decision")
