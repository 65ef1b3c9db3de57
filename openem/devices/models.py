"""Device stock, and the fitting and removal of devices to people on probation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from openem.engine.enums import DeviceKind, LabelledEnum


class DeviceStatus(LabelledEnum):
    IN_STOCK = "in_stock"
    FITTED = "fitted"
    FAULTY = "faulty"
    RETIRED = "retired"


class Device(models.Model):
    ref = models.CharField("serial number", max_length=40, unique=True)
    kind = models.CharField(max_length=16, choices=DeviceKind.choices())
    gateway = models.ForeignKey(
        "telemetry.Gateway",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="devices",
        help_text="the gateway that may send this device's readings (a gateway may send no other device's)",
    )
    faulty = models.BooleanField(default=False)
    retired = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ref"]

    def __str__(self) -> str:
        return f"{self.ref} ({self.kind_enum.label})"

    @property
    def kind_enum(self) -> DeviceKind:
        return DeviceKind(self.kind)

    def fitting_at(self, when: datetime | None = None) -> Fitting | None:
        return self.fittings.in_force(when or timezone.now()).first()

    @property
    def key(self) -> DeviceKey | None:
        """The key the device proves itself with now (at most one is active), or None."""
        return self.keys.filter(revoked_at__isnull=True).first()

    @property
    def status(self) -> DeviceStatus:
        if self.retired:
            return DeviceStatus.RETIRED
        if self.fitting_at() is not None:
            return DeviceStatus.FITTED
        if self.faulty:
            return DeviceStatus.FAULTY
        return DeviceStatus.IN_STOCK


class FittingQuerySet(models.QuerySet["Fitting"]):
    def in_force(self, when: Any) -> FittingQuerySet:
        """Fittings in force at ``when``: a time, or an expression such as ``OuterRef("received")``."""
        return self.filter(fitted_at__lte=when).filter(Q(removed_at__isnull=True) | Q(removed_at__gt=when))


class Fitting(models.Model):
    """A device worn by (or installed for) one person from ``fitted_at`` until ``removed_at``."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="fittings")
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="fittings")
    fitted_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    fitted_by = models.CharField(max_length=150, blank=True)
    removal_reason = models.CharField(max_length=200, blank=True)

    objects = FittingQuerySet.as_manager()

    class Meta:
        ordering = ["-fitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=Q(removed_at__isnull=True), name="one_open_fitting_per_device"
            ),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | Q(removed_at__gte=models.F("fitted_at")),
                name="removed_after_fitted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device.ref} on {self.person.ref} from {self.fitted_at:%Y-%m-%d %H:%M}"

    @property
    def is_current(self) -> bool:
        now = timezone.now()
        return self.fitted_at <= now and (self.removed_at is None or self.removed_at > now)


class DeviceKey(models.Model):
    """A device's own secret, for senders that talk to OpenEM directly (Traccar Client and other OsmAnd
    apps, MQTT). Shown once when issued; only its SHA-256 digest is kept. The secret is 192 random bits,
    not a password, so a fast digest is as safe as a slow one and lets the receiver check thousands a
    second. Issuing a new key revokes the old one."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="keys")
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=8, help_text="the key's first characters, to tell keys apart")
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.CharField(max_length=150)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=Q(revoked_at__isnull=True), name="one_active_key_per_device"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device.ref} key {self.hint}..."

    @property
    def active(self) -> bool:
        return self.revoked_at is None
