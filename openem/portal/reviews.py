"""Supervision reviews: the guide's prompts at the start of monitoring, during supervision and at the
end, gone through with the person and recorded."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import PROMPTS, Order, Review, ReviewStage, local_today
from openem.ukforms import UKDateField

from .access import AuthedRequest, order_setup_required, visible_order


class ReviewForm(forms.Form):
    held_on = UKDateField(label="Date of the review")
    summary = forms.CharField(
        label="Summary", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What you agreed with the person, in a few lines.",
    )  # fmt: skip
    risk_plan_updated = forms.BooleanField(label="Risk management plan updated", required=False)
    sentence_plan_updated = forms.BooleanField(label="Sentence plan updated", required=False)

    def __init__(self, *args: Any, order: Order, stage: ReviewStage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order, self.stage = order, stage
        for key, text in PROMPTS[stage]:
            self.fields[f"note_{key}"] = forms.CharField(
                label=text, required=False, widget=forms.Textarea(attrs={"rows": 2})
            )

    def clean_held_on(self) -> Any:
        day = self.cleaned_data["held_on"]
        problem = self.order.review_date_problem(day)
        if problem:
            raise forms.ValidationError(problem)
        return day

    def prompt_fields(self) -> list[Any]:
        return [self[f"note_{key}"] for key, _ in PROMPTS[self.stage]]

    def notes(self) -> dict[str, str]:
        return {
            key: self.cleaned_data[f"note_{key}"] for key, _ in PROMPTS[self.stage] if self.cleaned_data[f"note_{key}"]
        }


@order_setup_required
def review_create(request: AuthedRequest, pk: int, stage: str) -> HttpResponse:
    order = visible_order(request, pk)
    if stage not in ReviewStage._value2member_map_:
        raise Http404("No such review stage")
    st = ReviewStage(stage)
    form = ReviewForm(
        request.POST if request.method == "POST" else None, order=order, stage=st,
        initial={"held_on": min(max(local_today(), order.start), order.end)},
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        review = Review.objects.create(
            order=order, stage=st, held_on=d["held_on"], notes=form.notes(), summary=d["summary"],
            risk_plan_updated=d["risk_plan_updated"], sentence_plan_updated=d["sentence_plan_updated"], by=request.user,
        )  # fmt: skip
        AuditEvent.record(
            request.user,
            AuditAction.CREATE,
            person=order.person,
            obj=review,
            summary=f"{st.label} review of {order.ref}",
        )
        messages.success(request, f"{st.label} review recorded.")
        return redirect("portal:person", pk=order.person.pk)
    return render(
        request, "portal/review_form.html", {"form": form, "order": order, "person": order.person, "stage": st}
    )
