"""Stored device readings: every accepted reading once, every rejected one with its reason."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.db.models import Count, Max, Min, Sum

from openem.engine.enums import LabelledEnum
from openem.engine.telemetry import ReadingType

if TYPE_CHECKING:
    from openem.accounts.models import User


class Source(LabelledEnum):
    HTTP = "http"
    OSMAND = "osmand"
    MQTT = "mqtt"
    FILE = "file"


class Rejection(LabelledEnum):
    """Why a reading was not accepted, broadly (the reason says exactly)."""

    INVALID = "invalid"  # not a reading: a field missing, out of range, not JSON...
    UNKNOWN_DEVICE = "unknown_device"
    UNAUTHENTICATED = "unauthenticated"  # no valid device key or gateway token for this device

    @property
    def label(self) -> str:
        return {"invalid": "Not valid", "unknown_device": "Unknown device", "unauthenticated": "Not authenticated"}[
            self.value
        ]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Gateway(models.Model):
    """A device gateway (a vendor's platform, a monitoring centre's collector) with its own token."""

    name = models.CharField(max_length=120, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def create_with_token(cls, name: str) -> tuple[Gateway, str]:
        """The token is shown once; only its digest is kept."""
        token = secrets.token_urlsafe(32)
        return cls.objects.create(name=name, token_hash=token_digest(token)), token

    @classmethod
    def for_token(cls, token: str) -> Gateway | None:
        return cls.objects.filter(token_hash=token_digest(token), active=True).first()

    def rotate_token(self) -> str:
        """A new token for this gateway; the old one stops working at once (a running receiver: within
        a minute)."""
        token = secrets.token_urlsafe(32)
        self.token_hash = token_digest(token)
        self.save(update_fields=["token_hash"])
        return token


class EvidenceError(RuntimeError):
    pass


class EvidenceQuerySet(models.QuerySet[Any]):
    """Readings and trail blocks are evidence: never changed once stored, and every delete recorded.

    ``delete()`` stays Django's fast bulk delete (no per-row signals: retention deletes millions) and
    records one audit event per call with how many, which devices and the period; inside
    ``audited_deletes(..., summarised=True)`` the caller records its own instead (retention, the admin).
    ``update()`` and ``bulk_update()`` are refused: ingest only inserts (raw SQL), and retention trims
    trail blocks through ``trail.delete``, which records nothing itself because retention does.
    """

    def update(self, **kwargs: Any) -> int:
        raise EvidenceError(
            f"{self.model._meta.verbose_name_plural} are evidence and cannot be changed "
            f"(refused: update of {', '.join(sorted(kwargs))})"
        )

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise EvidenceError(f"{self.model._meta.verbose_name_plural} are evidence and cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        from openem.audit.signals import current

        ctx = current()
        if ctx is not None and ctx.summarised:
            return super().delete()
        with transaction.atomic(using=self.db):
            what, devices, period = self._describe()
            deleted = super().delete()
            if deleted[0]:
                from openem.audit.signals import record_bulk_delete

                record_bulk_delete(what, devices, period)
        return deleted

    delete.alters_data = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]

    def _describe(self) -> tuple[str, list[str], tuple[Any, Any] | None]:
        raise NotImplementedError


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class ReadingQuerySet(EvidenceQuerySet):
    def _describe(self) -> tuple[str, list[str], tuple[Any, Any] | None]:
        plain = self.order_by()
        span = plain.aggregate(n=Count("pk"), first=Min("t"), last=Max("t"))
        devices = sorted(set(plain.values_list("device", flat=True).distinct()))
        return _count(span["n"], "reading"), devices, (span["first"], span["last"]) if span["n"] else None


class TrailBlockQuerySet(EvidenceQuerySet):
    def _describe(self) -> tuple[str, list[str], tuple[Any, Any] | None]:
        plain = self.order_by()
        span = plain.aggregate(blocks=Count("pk"), fixes=Sum("n"), first=Min("start_s"), last=Max("end_s"))
        devices = sorted(set(plain.values_list("device", flat=True).distinct()))
        period = None
        if span["blocks"]:
            period = (datetime.fromtimestamp(span["first"], UTC), datetime.fromtimestamp(span["last"], UTC))
        return f"{_count(span['blocks'], 'trail block')} ({_count(span['fixes'] or 0, 'position')})", devices, period


class Evidence(models.Model):
    """A stored reading or trail block: ``save()`` only adds, ``delete()`` is the queryset's (audited)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise EvidenceError(f"{self._meta.verbose_name} {self.pk} is evidence and cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        manager = type(self)._default_manager
        deleted = (manager.db_manager(using) if using else manager).filter(pk=self.pk).delete()
        self.pk = None
        return deleted


class Reading(Evidence):
    device = models.CharField(max_length=40)
    t = models.DateTimeField("measured")
    type = models.CharField(max_length=12, choices=ReadingType.choices())
    seq = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    digest = models.CharField(
        max_length=64,
        help_text="what makes it this reading: seq:N when the device numbers its readings, else a digest "
        "of the payload (which holds the time); one copy kept per device",
    )
    received = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=8, choices=Source.choices(), default=Source.HTTP)
    batch = models.CharField(max_length=32, blank=True, help_text="the ingest batch that stored it")

    objects = ReadingQuerySet.as_manager()

    class Meta:
        # One index decides what is a duplicate: the same seq, or without one the same time and payload
        # (see ``key``). Every index costs ingest time, and this table takes every reading.
        constraints = [models.UniqueConstraint(fields=["device", "digest"], name="reading_once_per_content")]
        indexes = [models.Index(fields=["device", "t"])]

    def __str__(self) -> str:
        return f"{self.device} {self.type} {self.t:%Y-%m-%d %H:%M:%S}"

    @staticmethod
    def key(device: str, payload: dict[str, Any]) -> str:
        from .ingest import reading_key

        return reading_key(device, payload)


class TrailBlock(Evidence):
    """A device's GPS fixes from one stored batch, packed together for trail queries (see ``trail``):
    times in Unix seconds, latitude, longitude and accuracy as little-endian columns of a record."""

    device = models.CharField(max_length=40)
    start_s = models.FloatField(help_text="the first fix, Unix seconds")
    end_s = models.FloatField(help_text="the last fix, Unix seconds (at most a day after the first)")
    n = models.PositiveIntegerField(help_text="how many fixes")
    data = models.BinaryField()
    placed = models.BooleanField(
        db_default=False,
        help_text='its fixes are in its device\'s slots (``trail``, "Slots"); a block written other than '
        "through the trail store is not, and is read wherever it is",
    )

    objects = TrailBlockQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["device", "start_s"]),
            models.Index(fields=["start_s"], condition=models.Q(placed=False), name="trailblock_not_placed"),
        ]

    def __str__(self) -> str:
        return f"{self.device}: {self.n} fixes from {self.start_s:.0f}"


class TrailSlot(models.Model):
    """Where a device's trail went in one twenty-minute slot, to find trails by place (``trail``, "Slots"):
    the box of its fixes in the slot and in the ten minutes before it, rounded outwards, and the earliest
    start of a trail block holding any of them. Kept by the trail store with the blocks; not evidence
    itself (it says where the evidence is)."""

    device = models.CharField(max_length=40)
    slot = models.BigIntegerField(help_text="the slot's start in Unix seconds, divided by its length")
    lat_min = models.FloatField()
    lat_max = models.FloatField()
    lon_min = models.FloatField()
    lon_max = models.FloatField()
    first_start = models.FloatField(help_text="the earliest start of a trail block with fixes in the slot or its link")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "slot"], name="trail_slot_once")]

    def __str__(self) -> str:
        return f"{self.device}: slot {self.slot}"


class RejectedReadingQuerySet(models.QuerySet["RejectedReading"]):
    def visible_to(self, user: User) -> RejectedReadingQuerySet:
        """The monitoring centre sees every rejected reading; anyone else only those of a device that was
        fitted, when the reading came in, to someone they may see. A reading of an unknown device, or one
        that named no device, belongs to nobody's case and is the centre's alone."""
        from openem.cases.models import Person
        from openem.devices.models import Fitting

        if not user.is_authenticated or not user.sees_case_records:
            return self.none()
        if user.sees_all_cases:
            return self.all()
        fitted = Fitting.objects.in_force(models.OuterRef("received")).filter(
            device__ref=models.OuterRef("device"), person__in=Person.objects.visible_to(user)
        )
        return self.exclude(device="").filter(models.Exists(fitted))

    def by_kind(self, since: Any) -> list[tuple[Rejection, int, int, Any]]:
        """Per kind (not valid, unknown device, not authenticated): how many in all, how many since
        ``since``, and the last one's time; kinds with none are left out."""
        rows = self.values("kind").annotate(
            n=models.Count("id"), recent=models.Count("id", filter=models.Q(received__gte=since)),
            last=models.Max("received"),
        )  # fmt: skip
        found = {r["kind"]: (r["n"], r["recent"], r["last"]) for r in rows}
        return [(k, *found[k.value]) for k in Rejection if k.value in found]


class RejectedReading(models.Model):
    """A reading that could not be accepted, kept with what was wrong, for operators to see."""

    received = models.DateTimeField(auto_now_add=True)
    device = models.CharField(
        max_length=40, blank=True, db_index=True, help_text="the device it named, if any (whose case it is)"
    )
    source = models.CharField(max_length=8, choices=Source.choices())
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.SET_NULL)
    line = models.PositiveIntegerField(null=True)
    raw = models.TextField()
    field = models.CharField(max_length=40, blank=True)
    reason = models.TextField()
    kind = models.CharField(max_length=16, choices=Rejection.choices(), default=Rejection.INVALID, db_index=True)

    objects = RejectedReadingQuerySet.as_manager()

    class Meta:
        ordering = ["-received", "-id"]

    def __str__(self) -> str:
        return f"{self.received:%Y-%m-%d %H:%M} line {self.line}: {self.field}: {self.reason}"


class EngineCursor(models.Model):
    """How far the engine worker has got; claimed with a conditional UPDATE so workers never overlap."""

    name = models.CharField(max_length=40, unique=True)
    last_reading_id = models.BigIntegerField(default=0)
    locked_by = models.CharField(max_length=80, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_reading_id}"


class BusCursor(models.Model):
    """How far the bus announcer has announced stored readings (the readings table is the outbox), and the
    ids below that it still watches: on PostgreSQL a transaction can commit a lower id after a higher one
    was read, so an id missing from what was read is checked again for a while before it is given up as
    never stored (a duplicate skipped by ON CONFLICT also uses up an id). Claimed with a conditional UPDATE
    (a lease), so one announcer at a time moves it."""

    name = models.CharField(max_length=40, unique=True)
    last_reading_id = models.BigIntegerField(default=0)
    gaps = models.JSONField(
        default=list, blank=True, help_text="ids not seen yet below the cursor: [first id, last id, since (Unix s)]"
    )
    locked_by = models.CharField(max_length=80, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    announced_at = models.DateTimeField(null=True, blank=True, help_text="when it last announced readings")

    def __str__(self) -> str:
        return f"{self.name} at {self.last_reading_id}"


class DeviceDeadline(models.Model):
    """Each device's last reading and when it counts as silent, kept by ingest once per device per commit (as
    healthchecks keeps ``alert_after``), so "which fitted devices have gone quiet" is one indexed query rather
    than a scan of every stored reading. ``reported``: the engine has looked at this silence already; the next
    reading clears it. See ``openem.telemetry.deadlines``."""

    device = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=12, blank=True, help_text="the device's kind when it last reported")
    last_reading_at = models.DateTimeField(help_text="the latest reading's measured time (never after its arrival)")
    silent_after = models.DateTimeField(help_text="the last reading plus the no-signal limit of the device's kind")
    reported = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["silent_after"], condition=models.Q(reported=False), name="deadline_unreported")
        ]

    def __str__(self) -> str:
        return f"{self.device} silent after {self.silent_after:%Y-%m-%d %H:%M}"


class CaseChange(models.Model):
    """A person whose case records changed (an order made or varied, a condition, a fitting, the person),
    written in the transaction that changes them, so the engine worker recompiles only those people
    (``openem.telemetry.changes``). Rows are few and short-lived: ``openem retention`` deletes them after
    a day, long after every running worker has applied them."""

    person_id = models.BigIntegerField()
    deleted_ref = models.CharField(max_length=40, blank=True, help_text="the person's reference, if deleted")
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"person {self.person_id} changed {self.at:%Y-%m-%d %H:%M:%S}"
