"""The engine worker's cursor and its lease: how far through the stored readings a worker has got, held by
one worker at a time.

A worker claims the cursor with a conditional UPDATE (free, expired, or already its own), renews the lease
while a long cycle runs (catching up after an outage can take longer than the lease), and moves the cursor
on only while it still holds it: a worker that lost its lease (paused, partitioned from the database) stores
nothing further and advances nothing, and the one that took over starts where the cursor says.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Min, Q
from django.utils import timezone

from .models import EngineCursor

LEASE = timedelta(seconds=60)


class LeaseLost(RuntimeError):
    """Another worker holds the cursor now: this cycle's work stops here (what it stored is idempotent)."""


class CursorLease:
    def __init__(self, name: str, holder: str, lease: timedelta = LEASE) -> None:
        self.name, self.holder, self.lease = name, holder, lease

    def claim(self) -> EngineCursor | None:
        """The cursor, if this worker holds it now (taking it if it is free or its lease ran out)."""
        if not EngineCursor.objects.filter(name=self.name).exists():
            # A new way of sharding starts where the furthest-behind cursor is: re-evaluating is safe
            # (idempotent) but needless.
            start = EngineCursor.objects.aggregate(m=Min("last_reading_id"))["m"] or 0
            EngineCursor.objects.get_or_create(name=self.name, defaults={"last_reading_id": start})
        now = timezone.now()
        free = Q(locked_until__isnull=True) | Q(locked_until__lt=now) | Q(locked_by=self.holder)
        if (
            EngineCursor.objects.filter(free, name=self.name).update(
                locked_by=self.holder, locked_until=now + self.lease
            )
            != 1
        ):
            return None
        return EngineCursor.objects.get(name=self.name)

    def renew(self) -> None:
        """Extend the lease during a long cycle; raises LeaseLost if another worker has taken it."""
        held = EngineCursor.objects.filter(name=self.name, locked_by=self.holder)
        if held.update(locked_until=timezone.now() + self.lease) != 1:
            raise LeaseLost(f"the cursor {self.name} is no longer held by {self.holder}")

    def advance(self, last_reading_id: int) -> bool:
        """Move the cursor on to ``last_reading_id``, only while this worker holds it."""
        held = EngineCursor.objects.filter(name=self.name, locked_by=self.holder)
        return held.update(last_reading_id=last_reading_id, locked_until=timezone.now() + self.lease) == 1

    def release(self) -> None:
        EngineCursor.objects.filter(name=self.name, locked_by=self.holder).update(locked_by="", locked_until=None)

    def position(self) -> int | None:
        return EngineCursor.objects.filter(name=self.name).values_list("last_reading_id", flat=True).first()
