"""Device stock, and the fitting and removal of devices to people on probation."""

from __future__ import annotations

from datetime import datetime

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
        when = when or timezone.now()
        return (
            self.fittings.filter(fitted_at__lte=when)
            .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=when))
            .first()
        )

    @property
    def status(self) -> DeviceStatus:
        if self.retired:
            return DeviceStatus.RETIRED
        if self.fitting_at() is not None:
            return DeviceStatus.FITTED
        if self.faulty:
            return DeviceStatus.FAULTY
        return DeviceStatus.IN_STOCK


class Fitting(models.Model):
    """A device worn by (or installed for) one person from ``fitted_at`` until ``removed_at``."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="fittings")
    person = models.ForeignKey("cases.Person", on_delete=models.CASCADE, related_name="fittings")
    fitted_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    fitted_by = models.CharField(max_length=150, blank=True)
    removal_reason = models.CharField(max_length=200, blank=True)

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
