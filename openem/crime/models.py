"""Crime batches from police forces, the crimes in them (versioned by reference), each matching run with
its parameters and code version, what it found per crime and person, and the hub's review of each match
before police may see it. Status logic lives here; the matching itself is the pure-Python core
(``openem.crime.matching``), run by the crime worker, never in a request."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from openem.engine.enums import LabelledEnum
from openem.uktime import stamp

from .records import CrimeType

if TYPE_CHECKING:
    from .evidence import StoredFixes


class LawfulBasis(LabelledEnum):
    """Why police may process this location data (Data Protection Act 2018, Part 3: law enforcement)."""

    DETECTION = "detection"
    INVESTIGATION = "investigation"
    PROSECUTION = "prosecution"
    ELIMINATION = "elimination"

    @property
    def label(self) -> str:
        return {
            "detection": "Prevention or detection of crime (DPA 2018 s.31)",
            "investigation": "Investigation of a specific offence (DPA 2018 s.31)",
            "prosecution": "Apprehension or prosecution of offenders (DPA 2018 s.31)",
            "elimination": "Eliminating a monitored person from an investigation (DPA 2018 s.31)",
        }[self.value]


class BatchSource(LabelledEnum):
    PORTAL = "portal"
    API = "api"
    SEARCH = "search"  # an ad-hoc search: one place and period, matched like a batch of one

    @property
    def label(self) -> str:
        return {"portal": "Uploaded in the portal", "api": "Sent through the API", "search": "Ad-hoc search"}[
            self.value
        ]

    @property
    def phrase(self) -> str:
        """The label inside a sentence: "(sent through the API)", not "(sent through the api)"."""
        return {"portal": "uploaded in the portal", "api": "sent through the API", "search": "ad-hoc search"}[
            self.value
        ]


class BatchStatus(LabelledEnum):
    RECEIVED = "received"  # every row accepted; waiting for the crime worker
    PARTIAL = "partial"  # some rows refused (see the problems); the rest wait for the crime worker
    REJECTED = "rejected"  # nothing in the file could be used
    MATCHING = "matching"  # a crime worker has started: crimes_done of its crimes are matched so far
    MATCHED = "matched"  # the crime worker has been through every accepted crime (crimes_failed of them failed)

    @property
    def label(self) -> str:
        return {
            "received": "Received, matching",
            "partial": "Partly accepted, matching",
            "rejected": "Rejected",
            "matching": "Matching",
            "matched": "Matched",
        }[self.value]

    @property
    def tag(self) -> str:
        return {"received": "blue", "partial": "yellow", "rejected": "red", "matching": "blue", "matched": "green"}[
            self.value
        ]


# Batches the crime worker has still to finish: not started, or started by a worker that stopped.
WAITING = (BatchStatus.RECEIVED, BatchStatus.PARTIAL, BatchStatus.MATCHING)


class ClaimLost(RuntimeError):
    """Another crime worker holds the batch now (this one's claim lapsed): this one stores nothing more."""


class CrimeBatch(models.Model):
    force = models.CharField(max_length=120, db_index=True)
    batch_ref = models.CharField("batch id", max_length=80, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="crime_batches"
    )
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)
    lawful_basis = models.CharField(max_length=16, choices=LawfulBasis.choices())
    purpose = models.TextField()
    source = models.CharField(max_length=8, choices=BatchSource.choices(), default=BatchSource.PORTAL)
    filename = models.CharField(max_length=200, blank=True)
    sha256 = models.CharField("SHA-256 of the file", max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices(), default=BatchStatus.RECEIVED)
    rows_read = models.PositiveIntegerField(default=0)
    rows_accepted = models.PositiveIntegerField(default=0)
    rejected_because = models.TextField(blank=True, help_text="why the whole file could not be used")
    # The crime worker's claim (a conditional UPDATE): another worker leaves a claimed batch alone until
    # the claim lapses (a worker that died mid-batch), and a worker stores a crime's findings only while
    # the claim is still its own (``claimed_by``), renewing it as it goes.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=160, blank=True)
    matched_at = models.DateTimeField(null=True, blank=True)
    # Progress, committed crime by crime: what the pages and the API say while a batch is matched.
    crimes_done = models.PositiveIntegerField(default=0, help_text="crimes matched so far")
    crimes_failed = models.PositiveIntegerField(default=0, help_text="crimes that could not be matched")

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        verbose_name = "crime batch"
        verbose_name_plural = "crime batches"

    def __str__(self) -> str:
        return f"{self.force} batch {self.batch_ref or self.pk}"

    @property
    def status_enum(self) -> BatchStatus:
        return BatchStatus(self.status)

    @property
    def source_enum(self) -> BatchSource:
        return BatchSource(self.source)

    @property
    def lawful_basis_enum(self) -> LawfulBasis:
        return LawfulBasis(self.lawful_basis)

    @property
    def waiting(self) -> bool:
        return self.status_enum in WAITING

    @property
    def rows_refused(self) -> int:
        return self.rows_read - self.rows_accepted

    @property
    def status_text(self) -> str:
        """The status as the pages show it, with the progress: "Matching: 120 of 1,000 crimes"."""
        failed = f"; {self.crimes_failed:,} could not be matched" if self.crimes_failed else ""
        if self.status == BatchStatus.MATCHING:
            return f"Matching: {self.crimes_done:,} of {self.rows_accepted:,} crimes{failed}"
        if self.status == BatchStatus.MATCHED and self.crimes_failed:
            return f"Matched{failed}"
        return self.status_enum.label

    @property
    def status_tag(self) -> str:
        return "yellow" if self.status == BatchStatus.MATCHED and self.crimes_failed else self.status_enum.tag

    @property
    def progress_text(self) -> str:
        """How far the crime worker has got, for a batch not yet matched."""
        if self.status != BatchStatus.MATCHING:
            return "Waiting for the crime worker"
        return f"{self.crimes_done + self.crimes_failed:,} of {self.rows_accepted:,} crimes done so far"

    def claim(self, worker: str, until: datetime, now: datetime) -> bool:
        """Take this batch for matching, as ``worker`` (a name for this claim only); False when another worker
        holds it or it is matched. A batch whose worker stopped part way is taken again once its claim lapses."""
        free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        return (
            CrimeBatch.objects.filter(free, pk=self.pk, status__in=[s.value for s in WAITING]).update(
                claimed_until=until, claimed_by=worker, status=BatchStatus.MATCHING
            )
            == 1
        )

    def held_by(self, worker: str) -> models.QuerySet[CrimeBatch]:
        return CrimeBatch.objects.filter(pk=self.pk, claimed_by=worker, status=BatchStatus.MATCHING)

    def renew(self, worker: str, until: datetime, **counts: Any) -> None:
        """Extend the claim (with any progress counted: ``crimes_done=F(...) + 1``); raises ClaimLost when
        another worker holds the batch now. In a transaction with a crime's findings, this UPDATE is what
        makes them the claim holder's only: a worker whose claim lapsed stores nothing."""
        if self.held_by(worker).update(claimed_until=until, **counts) != 1:
            raise ClaimLost(f"crime batch {self.pk} is no longer held by {worker}")

    def release(self, worker: str) -> None:
        """Let another worker take the batch at once (this one stops part way, on SIGTERM or an outage)."""
        self.held_by(worker).update(claimed_until=None, claimed_by="")

    def mark_matched(self, worker: str, now: datetime) -> bool:
        done = self.held_by(worker).update(
            status=BatchStatus.MATCHED, matched_at=now, claimed_until=None, claimed_by=""
        )
        if done:
            self.status, self.matched_at, self.claimed_until = BatchStatus.MATCHED.value, now, None
        return done == 1


class RowProblem(models.Model):
    """One thing wrong with one row of a batch (or with the file: row 0), and what to do about it."""

    batch = models.ForeignKey(CrimeBatch, on_delete=models.CASCADE, related_name="problems")
    row = models.PositiveIntegerField(help_text="the file's line number; 0: the file as a whole")
    column = models.CharField(max_length=40, blank=True)
    message = models.TextField()

    class Meta:
        ordering = ["row", "id"]

    def __str__(self) -> str:
        return f"row {self.row} {self.column}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column or None, "message": self.message}


class CrimeState(LabelledEnum):
    WAITING = "waiting"  # not matched yet
    MATCHED = "matched"  # its findings are stored
    FAILED = "failed"  # the crime worker could not match it (``failure`` says why); the rest of its batch went on

    @property
    def label(self) -> str:
        return {"waiting": "Waiting to be matched", "matched": "Matched", "failed": "Could not be matched"}[self.value]


class Crime(models.Model):
    """One version of one crime: sending a reference again makes a new version, saying what changed."""

    batch = models.ForeignKey(CrimeBatch, on_delete=models.CASCADE, related_name="crimes")
    force = models.CharField(max_length=120)
    reference = models.CharField(max_length=80)
    version = models.PositiveIntegerField(default=1)
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changes = models.JSONField(default=list, blank=True, help_text="what changed from the previous version")
    row = models.PositiveIntegerField(default=0, help_text="its line in the batch's file")
    crime_type = models.CharField(max_length=8, choices=CrimeType.choices(), blank=True)  # blank: a search
    crime_type_description = models.CharField(max_length=200, blank=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()
    easting = models.FloatField(null=True, blank=True)
    northing = models.FloatField(null=True, blank=True)
    datum = models.CharField(max_length=20, blank=True)
    crime_text = models.TextField(blank=True)
    radius_m = models.FloatField(null=True, blank=True, help_text="an ad-hoc search's distance (else the setting)")
    # Matched crime by crime: the state moves from waiting once, in the transaction that stores its findings.
    state = models.CharField(max_length=8, choices=CrimeState.choices(), default=CrimeState.WAITING)
    failure = models.TextField(blank=True, help_text="why the crime worker could not match it")

    class Meta:
        ordering = ["window_start", "reference"]
        constraints = [
            models.UniqueConstraint(fields=["force", "reference", "version"], name="one_version_number_per_crime")
        ]
        indexes = [models.Index(fields=["force", "reference", "-version"])]

    def __str__(self) -> str:
        return f"{self.reference} v{self.version}"

    @property
    def state_enum(self) -> CrimeState:
        return CrimeState(self.state)

    @property
    def failed(self) -> bool:
        return self.state == CrimeState.FAILED

    @property
    def type_label(self) -> str:
        from .adapter import crime_type_label

        return crime_type_label(self.crime_type, self.crime_type_description)

    @property
    def generic_label(self) -> str:
        """The type's standard name only, for people outside the hub and police: never text police or an
        analyst typed (a search's place may name a witness's home)."""
        from .adapter import crime_type_label

        return crime_type_label(self.crime_type) if self.crime_type else "Ad-hoc search"

    # The fields whose change a new version records.
    COMPARED = ("crime_type", "window_start", "window_end", "lat", "lon", "crime_text")

    def differences(self, other: Crime) -> list[str]:
        """What changed from ``other`` (an earlier version), as sentences for the record."""
        out = []
        for name in self.COMPARED:
            before, after = getattr(other, name), getattr(self, name)
            if before != after:
                label = getattr(self._meta.get_field(name), "verbose_name", name)
                if isinstance(after, datetime):
                    before, after = stamp(before, seconds=False), stamp(after, seconds=False)
                out.append(f"{label}: {before} → {after}")
        return out

    @classmethod
    def add_version(cls, **fields: Any) -> Crime:
        """Store a crime; if its force already sent this reference, as the next version with its changes.
        Two batches with the same reference at once cannot both be the same version: the unique constraint
        refuses the second, which waits for the first to commit (PostgreSQL; SQLite takes one writer at a
        time) and is then stored as the version after it. A row lock alone cannot do it: the first time a
        reference is sent there is no row to lock, and a waiter re-reads the version it locked, not the new one."""
        for attempt in range(5):
            try:
                with transaction.atomic():  # a savepoint: a refused insert leaves the batch's transaction usable
                    latest = (
                        cls.objects.select_for_update()
                        .filter(force=fields["force"], reference=fields["reference"])
                        .order_by("-version")
                        .first()
                    )
                    crime = cls(**fields)
                    if latest is not None:
                        crime.version = latest.version + 1
                        crime.previous = latest
                        crime.changes = crime.differences(latest) or ["sent again, unchanged"]
                    crime.save()
                    return crime
            except IntegrityError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")


class MatchRun(models.Model):
    """One matching of one batch: exactly what was done, so a court can be told."""

    batch = models.ForeignKey(CrimeBatch, on_delete=models.CASCADE, related_name="runs")
    params = models.JSONField(default=dict)
    params_version = models.CharField(max_length=40)
    code_version = models.CharField(max_length=120)
    worker = models.CharField(max_length=120, blank=True)
    started = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    people_considered = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started"]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.batch}"


class Verdict(LabelledEnum):
    """As the core matcher says (``openem.crime.records.Verdict``): stored by value."""

    MATCH = "match"
    NOT_THERE = "not_there"
    NOT_COVERED = "not_covered"

    @property
    def label(self) -> str:
        return {
            "match": "Near the crime",
            "not_there": "Monitored and not there",
            "not_covered": "Monitored with gaps",
        }[self.value]


class ReviewState(LabelledEnum):
    PENDING = "pending"  # waiting for a hub caseworker
    QUALIFIED = "qualified"  # a caseworker found it a real match; waiting for a hub manager
    REJECTED = "rejected"  # a caseworker found it not a real match (reason given): never released
    RELEASED = "released"  # a hub manager authorised release to the force

    @property
    def label(self) -> str:
        return {
            "pending": "Waiting for review",
            "qualified": "Qualified, waiting for release",
            "rejected": "Rejected by the hub",
            "released": "Released to police",
        }[self.value]

    @property
    def tag(self) -> str:
        return {"pending": "blue", "qualified": "yellow", "rejected": "grey", "released": "green"}[self.value]


class FindingQuerySet(models.QuerySet["Finding"]):
    def matches(self) -> FindingQuerySet:
        return self.filter(verdict=Verdict.MATCH)

    def released_to(self, user: Any) -> FindingQuerySet:
        """What a police analyst may see: released matches of their own force's batches."""
        if not getattr(user, "police_force", ""):
            return self.none()
        return self.filter(verdict=Verdict.MATCH, review=ReviewState.RELEASED, crime__force=user.police_force)


class Finding(models.Model):
    """What one run found for one crime and one person monitored in its window."""

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="findings")
    crime = models.ForeignKey(Crime, on_delete=models.CASCADE, related_name="findings")
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="crime_findings")
    verdict = models.CharField(max_length=12, choices=Verdict.choices())
    closest_m = models.FloatField(null=True, blank=True)
    minutes_near = models.FloatField(default=0)
    at_home = models.BooleanField(default=False, help_text="near the person's own curfew address")
    gaps = models.JSONField(default=list, blank=True, help_text="[[from, to], ...] Unix seconds without fixes")
    # The hub's review (matches only; "" for the rest).
    review = models.CharField(max_length=10, choices=ReviewState.choices(), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.TextField(blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ["crime__window_start", "closest_m", "id"]
        indexes = [models.Index(fields=["review", "verdict"])]

    def __str__(self) -> str:
        return f"{self.crime} / {self.person_id}: {self.verdict}"

    @property
    def verdict_enum(self) -> Verdict:
        return Verdict(self.verdict)

    @property
    def review_enum(self) -> ReviewState | None:
        return ReviewState(self.review) if self.review else None

    @property
    def is_match(self) -> bool:
        return self.verdict == Verdict.MATCH

    def _move(self, frm: ReviewState, to: ReviewState, **fields: Any) -> bool:
        """One conditional UPDATE: of two people acting at once, one moves it and the other is told."""
        done = Finding.objects.filter(pk=self.pk, verdict=Verdict.MATCH, review=frm).update(review=to, **fields) == 1
        if done:
            self.review = to.value
            for k, v in fields.items():
                setattr(self, k, v)
        return done

    def qualify(self, user: Any, reason: str, now: datetime | None = None) -> bool:
        return self._move(
            ReviewState.PENDING,
            ReviewState.QUALIFIED,
            reviewed_by=user,
            reviewed_at=now or timezone.now(),
            review_reason=reason,
        )

    def reject(self, user: Any, reason: str, now: datetime | None = None) -> bool:
        return self._move(
            ReviewState.PENDING,
            ReviewState.REJECTED,
            reviewed_by=user,
            reviewed_at=now or timezone.now(),
            review_reason=reason,
        )

    def release(self, user: Any, now: datetime | None = None) -> bool:
        return self._move(
            ReviewState.QUALIFIED, ReviewState.RELEASED, released_by=user, released_at=now or timezone.now()
        )

    def window(self) -> tuple[datetime, datetime]:
        """The crime's window widened by the run's time buffer: the period the matcher looked at."""
        buffer = timedelta(minutes=float(self.run.params.get("buffer_min", 0) or 0))
        return self.crime.window_start - buffer, self.crime.window_end + buffer


class EvidenceSource(LabelledEnum):
    MATCHING = "matching"  # copied by the crime worker from the trail it matched on
    NEAR_ONLY = "near_only"  # matched before the whole window was kept: the near positions then copied, only

    @property
    def label(self) -> str:
        return {
            "matching": "Copied from the trail when the match was made",
            "near_only": "The positions near the crime only, as copied when the match was made (matched before "
            "OpenEM kept every position in the window)",
        }[self.value]


def evidence_seal(finding: int, crime: int, person: int, sha256: str, secret: str | bytes | None = None) -> str:
    """The HMAC that ties kept positions (by their digest) to one match of one crime and person: whoever can
    write to the database but does not hold the secret key cannot move positions between matches or make an
    altered copy's digest good again."""
    value = f"{finding}:{crime}:{person}:{sha256}"
    return salted_hmac("openem.crime.evidence", value, secret=secret, algorithm="sha256").hexdigest()


class FindingEvidence(models.Model):
    """The positions a match was made on, copied from the trail when it was made (``openem.crime.evidence``):
    what the review map, the positions CSV and the proximity report show, whatever later happens to the
    trail. Its own table so that the lists of findings never load it; deleted with its finding."""

    finding = models.OneToOneField(Finding, on_delete=models.CASCADE, primary_key=True, related_name="stored")
    format = models.CharField(max_length=24)
    source = models.CharField(max_length=10, choices=EvidenceSource.choices(), default=EvidenceSource.MATCHING)
    captured_at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField(help_text="how many positions")
    near = models.PositiveIntegerField(help_text="how many of them show the match")
    devices = models.JSONField(default=list)
    fixes = models.BinaryField(help_text="the positions: zlib-compressed records (openem.crime.evidence.RECORD)")
    sha256 = models.CharField("SHA-256 of the positions", max_length=64)
    seal = models.CharField(
        max_length=64,
        default="",
        editable=False,
        help_text="a keyed digest (HMAC with the server's secret key) of the positions' digest and whose match "
        "they are: positions moved to another match, or altered with their digest made again, are refused",
    )

    class Meta:
        verbose_name_plural = "finding evidence"

    def __str__(self) -> str:
        return f"evidence of {self.finding_id}: {self.count} positions"

    @property
    def source_enum(self) -> EvidenceSource:
        return EvidenceSource(self.source)

    @classmethod
    def of(
        cls, finding: Finding, kept: StoredFixes, source: EvidenceSource = EvidenceSource.MATCHING
    ) -> FindingEvidence:
        from .evidence import FORMAT, NEAR

        digest = kept.sha256()
        return cls(
            finding=finding,
            format=FORMAT,
            source=source,
            count=len(kept),
            near=int(kept.flagged(NEAR).sum()),
            devices=kept.devices,
            fixes=kept.pack(),
            sha256=digest,
            seal=evidence_seal(finding.pk, finding.crime_id, finding.person_id, digest),
        )

    def positions(self) -> StoredFixes:
        """The positions as stored; EvidenceRefused (a ValueError) if they are not what was stored (their digest
        differs) or cannot be read."""
        from .evidence import FORMAT, EvidenceRefused, StoredFixes

        if self.format != FORMAT:
            raise EvidenceRefused(f"evidence stored as {self.format!r}: this version of OpenEM reads {FORMAT!r}")
        f = self.finding
        if not any(
            constant_time_compare(self.seal, evidence_seal(f.pk, f.crime_id, f.person_id, self.sha256, secret))
            for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
        ):
            raise EvidenceRefused("the stored positions are not those kept with this match (their seal differs)")
        return StoredFixes.unpack(self.fixes, self.devices, self.sha256)


class ProximityReport(models.Model):
    """A proximity report PDF as made and handed out: its digest, so a copy can be verified later."""

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="reports")
    sha256 = models.CharField(max_length=64, db_index=True)
    pages = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"report {self.sha256[:12]} ({self.pages} pages)"


class IssuedReport(models.Model):
    """That OpenEM made a proximity report with this digest, kept past crime retention so a copy produced
    in court years later is still recognised: the digest, when, and the force's references only (no
    personal data). ``data_deleted_at``: when retention deleted the case data behind it."""

    sha256 = models.CharField(max_length=64, db_index=True)
    made_at = models.DateTimeField(default=timezone.now)
    pages = models.PositiveIntegerField()
    force = models.CharField(max_length=120)
    batch_ref = models.CharField(max_length=100, blank=True)
    crime_reference = models.CharField(max_length=100)
    data_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"issued report {self.sha256[:12]}"


class SearchStatus(LabelledEnum):
    WAITING = "waiting"
    DONE = "done"


class AdHocSearch(models.Model):
    """'Who was near this place between these times': at most a day, inside the analyst's force area,
    on a stated lawful basis. Matched by the crime worker as a batch of one, reviewed like any match."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    force = models.CharField(max_length=120)
    at = models.DateTimeField(default=timezone.now)
    place = models.CharField(max_length=200, blank=True, help_text="as the analyst described it")
    lat = models.FloatField()
    lon = models.FloatField()
    radius_m = models.FloatField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    lawful_basis = models.CharField(max_length=16, choices=LawfulBasis.choices())
    purpose = models.TextField()
    batch = models.OneToOneField(CrimeBatch, null=True, on_delete=models.CASCADE, related_name="search")
    # Counts only: who was near is seen once the hub has released it, like any match.
    results = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name_plural = "ad-hoc searches"

    def __str__(self) -> str:
        return f"search {self.pk} by {self.user_id}"

    @property
    def lawful_basis_enum(self) -> LawfulBasis:
        return LawfulBasis(self.lawful_basis)
