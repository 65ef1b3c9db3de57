"""Equality monitoring of people on probation; the aggregate tables management information is read
from; research projects and the extracts made for them.

Equality monitoring lives here rather than on ``cases.Person``: it is special category data (UK GDPR
article 9) with its own, narrower access (the case's practitioner and manager; statistics only in
aggregate), and keeping it in its own table, one row per person, means no list, export or API of people
can carry it by accident."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from openem.engine.enums import LabelledEnum

from .equality import Disability, EthnicGroup, GenderIdentity, Religion, Sex, SexualOrientation

if TYPE_CHECKING:
    from openem.accounts.models import User
    from openem.cases.models import Person

EQUALITY_FIELDS: dict[str, type[LabelledEnum]] = {
    "ethnic_group": EthnicGroup,
    "religion": Religion,
    "disability": Disability,
    "sex": Sex,
    "gender_identity": GenderIdentity,
    "sexual_orientation": SexualOrientation,
}


class EqualityRecord(models.Model):
    """The person's answers to the equality monitoring questions. An empty field is "not recorded";
    "prefer not to say" is an answer. ``version`` guards against two people saving at once."""

    person = models.OneToOneField("cases.Person", on_delete=models.CASCADE, related_name="equality")
    ethnic_group = models.CharField(max_length=32, choices=EthnicGroup.choices(), blank=True)
    religion = models.CharField("religion or belief", max_length=32, choices=Religion.choices(), blank=True)
    disability = models.CharField(max_length=32, choices=Disability.choices(), blank=True)
    sex = models.CharField(max_length=32, choices=Sex.choices(), blank=True)
    gender_identity = models.CharField(
        "gender identity", max_length=32, choices=GenderIdentity.choices(), blank=True,
        help_text="whether the gender the person identifies with is the same as their sex registered at birth",
    )  # fmt: skip
    sexual_orientation = models.CharField(max_length=32, choices=SexualOrientation.choices(), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"Equality monitoring of person {self.person_id}"

    @staticmethod
    def may_see(user: User, person: Person) -> bool:
        """The case's practitioner and a manager of its team: they ask the questions and need the answers
        (reasonable adjustments); nobody else sees a person's answers, only statistics in aggregate."""
        return person.is_responsible(user)

    def answers(self) -> list[tuple[str, str]]:
        """(question, answer) in words, "Not recorded" for an empty field."""
        out = []
        for name, enum in EQUALITY_FIELDS.items():
            value = getattr(self, name)
            field: Any = self._meta.get_field(name)
            out.append((str(field.verbose_name).capitalize(),
                        enum(value).label if value else "Not recorded"))  # fmt: skip
        return out


# ------------------------------------------------------------------ aggregate tables


class RefreshStatus(LabelledEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class MiRun(models.Model):
    """One refresh of one quarter's figures: when, how long, with which version of the measures."""

    period = models.CharField(max_length=6)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=RefreshStatus.choices(), default=RefreshStatus.RUNNING)
    seconds = models.FloatField(null=True, blank=True)
    cells = models.PositiveIntegerField(default=0)
    versions = models.JSONField(default=dict, help_text="each measure's version used")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.period} refreshed {self.started_at:%Y-%m-%d %H:%M}"


class MiCell(models.Model):
    """One published figure: a measure, for a quarter, in one region (blank: England and Wales), for one
    group of one breakdown (blank breakdown: everyone). Sums, not just the figure, are kept so that the
    interval and the relative rate index are computed once, here, by the refresh."""

    period = models.CharField(max_length=6)
    measure = models.CharField(max_length=40)
    breakdown = models.CharField(max_length=24, blank=True)
    group = models.CharField(max_length=64, blank=True)
    region = models.CharField(max_length=120, blank=True)
    units = models.PositiveIntegerField(default=0, help_text="people, orders or events counted")
    numerator = models.FloatField(default=0)
    denominator = models.FloatField(default=0)
    value = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    rri = models.FloatField(null=True, blank=True, help_text="relative rate index against the reference group")
    rri_low = models.FloatField(null=True, blank=True)
    rri_high = models.FloatField(null=True, blank=True)
    suppressed = models.BooleanField(default=False)
    small = models.BooleanField(default=False, help_text="suppressed for its own small count (not secondarily)")
    version = models.PositiveSmallIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["period", "measure", "breakdown", "region"])]

    def __str__(self) -> str:
        return f"{self.period} {self.measure} {self.breakdown}={self.group} {self.region or 'all'}"


# ------------------------------------------------------------------ research


class ProjectStatus(LabelledEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    CLOSED = "closed"


class ResearchProject(models.Model):
    """A research project that may receive pseudonymised extracts: who asked, why, who approved it and
    until when. Approval is an administrator's (in the admin)."""

    title = models.CharField(max_length=200)
    purpose = models.TextField(help_text="what the research is for and why it needs these data")
    organisation = models.CharField(max_length=200)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=ProjectStatus.choices(), default=ProjectStatus.REQUESTED)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_reference = models.CharField(max_length=120, blank=True, help_text="e.g. the HMPPS NRC reference")
    ends_on = models.DateField(null=True, blank=True, help_text="no extract after this date")

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return self.title

    @property
    def status_enum(self) -> ProjectStatus:
        return ProjectStatus(self.status)

    def extract_refusal(self, user: User, today: Any = None) -> str:
        """Why ``user`` may not make an extract for this project now, or ""."""
        if not user.analyses_nationally:
            return "Only a national analyst makes research extracts."
        if self.status != ProjectStatus.APPROVED or not self.approved_by_id:
            return "This project has not been approved: an administrator approves research projects."
        today = today or timezone.localdate()
        if self.ends_on and today > self.ends_on:
            return f"This project's approval ended on {self.ends_on:%d %B %Y}."
        return ""


class ResearchExtract(models.Model):
    """Every extract made: for which project, by whom, when, covering what."""

    project = models.ForeignKey(ResearchProject, on_delete=models.PROTECT, related_name="extracts")
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    made_at = models.DateTimeField(default=timezone.now)
    start = models.DateField()
    end = models.DateField()
    order_rows = models.PositiveIntegerField(default=0)
    incident_rows = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, help_text="of the file given out")

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"Extract for {self.project} {self.made_at:%Y-%m-%d}"
