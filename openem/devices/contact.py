"""Each tag's latest battery level and last contact, for the pages that list devices.

Worked out for a whole page of devices in one query (a subquery per column, not a query per row), with
the engine's own thresholds: a level at or below ``battery_low_pct`` is low, and a fitted device silent
for longer than ``no_signal_s`` for its kind is stale (the engine raises "no signal" then too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from openem.engine.model import Params
from openem.engine.telemetry import ReadingType
from openem.telemetry.models import Reading
from openem.uktime import duration, when

from .models import Device

PARAMS = Params()
# A battery level older than this next to a recent contact is shown with its time: it may have changed.
BATTERY_OLD = timedelta(hours=1)


@dataclass(frozen=True)
class Contact:
    kind: str
    fitted: bool
    last: datetime | None
    battery_pct: float | None
    battery_at: datetime | None
    now: datetime
    mains: bool | None = None  # a home unit's power readings say whether it is on mains, not a level

    @property
    def low(self) -> bool:
        return self.battery_pct is not None and self.battery_pct <= PARAMS.battery_low_pct

    @property
    def flat(self) -> bool:
        return self.battery_pct is not None and self.battery_pct <= PARAMS.battery_flat_pct

    @property
    def off_mains(self) -> bool:
        return self.battery_pct is None and self.mains is False

    @property
    def stale(self) -> bool:
        """Silent for longer than the engine allows for this kind; only a fitted device is expected to talk."""
        if not self.fitted:
            return False
        limit = PARAMS.no_signal_s.get(self.kind, max(PARAMS.no_signal_s.values()))
        return self.last is None or (self.now - self.last).total_seconds() > limit

    @property
    def last_text(self) -> str:
        """ "12 minutes ago" within the day, else the date and time ("Tue 1 Dec 10:15")."""
        if self.last is None:
            return "Never"
        age = (self.now - self.last).total_seconds()
        if age < 60:
            return "Just now"
        return f"{duration(age)} ago" if age < 24 * 3600 else when(self.last, self.now)

    @property
    def last_when(self) -> str:
        return when(self.last, self.now) if self.last else ""

    @property
    def battery_text(self) -> str:
        if self.battery_pct is None:
            return {True: "On mains", False: "Off mains"}.get(self.mains, "No reading")  # type: ignore[arg-type]
        text = f"{self.battery_pct:.0f}%"
        if self.battery_at and self.last and self.last - self.battery_at > BATTERY_OLD:
            text += f" at {when(self.battery_at, self.now)}"
        return text


def contacts(devices: Iterable[Any], fitted: set[str] | None = None, now: datetime | None = None) -> dict[str, Contact]:
    """Contact by device ref for ``devices`` (Device objects or refs); ``fitted``: the refs fitted now
    (their silence is a warning). One query, whatever the number of devices."""
    refs = {d if isinstance(d, str) else d.ref for d in devices}
    if not refs:
        return {}
    now = now or timezone.now()
    latest = Reading.objects.filter(device=OuterRef("ref")).order_by("-t")
    power = latest.filter(type=ReadingType.POWER.value)
    rows = (
        Device.objects.filter(ref__in=refs)
        .annotate(
            last=Subquery(latest.values("t")[:1]),
            power=Subquery(power.values("payload")[:1]),
            power_at=Subquery(power.values("t")[:1]),
        )
        .values_list("ref", "kind", "last", "power", "power_at")
    )
    out = {}
    for ref, kind, last, payload, power_at in rows:
        payload = payload if isinstance(payload, dict) else {}
        pct, mains = payload.get("battery_pct"), payload.get("mains")
        out[ref] = Contact(
            kind=kind,
            fitted=fitted is not None and ref in fitted,
            last=last,
            battery_pct=float(pct) if isinstance(pct, int | float) else None,
            battery_at=power_at,
            now=now,
            mains=mains if isinstance(mains, bool) else None,
        )
    return out


def attach(fittings: list[Any], now: datetime | None = None) -> list[Any]:
    """Set ``contact`` on each fitting in force (with its device selected); others get None."""
    now = now or timezone.now()
    current = [f for f in fittings if f.fitted_at <= now and (f.removed_at is None or f.removed_at > now)]
    found = contacts([f.device.ref for f in current], fitted={f.device.ref for f in current}, now=now)
    for f in fittings:
        f.contact = found.get(f.device.ref) if f in current else None
    return fittings
