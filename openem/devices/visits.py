"""Fitting, removing and swapping devices: the visits of the monitoring centre's field officers, recorded
with the time of the visit.

A device is on one person at a time, and a fitting's period may not overlap another of the same device.
Each write locks the rows it reads (``select_for_update``) and ends a fitting with a conditional update,
so two operators recording the same visit at once cannot both succeed: the second is told what the first
did. The unique constraint on open fittings is the last guard. Every write is audited. The engine worker
re-reads fittings by itself: nothing else needs telling.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from openem.audit.models import AuditAction, AuditEvent
from openem.cases.models import OrderStatus, Person, local_today
from openem.engine.enums import DeviceKind
from openem.engine.model import device_kind_needed
from openem.telemetry import changes
from openem.uktime import when

from .models import Device, Fitting

# In sentences: "a GPS tag", "Swap RF tag RF-0001".
NOUN = {
    DeviceKind.RF: "RF tag",
    DeviceKind.GPS: "GPS tag",
    DeviceKind.ALCOHOL: "alcohol tag",
    DeviceKind.NON_FITTED: "non-fitted device",
}
A_DEVICE = {k: ("an " if k in (DeviceKind.RF, DeviceKind.ALCOHOL) else "a ") + noun for k, noun in NOUN.items()}

# A visit recorded from a phone or a clock a little ahead is not "in the future"; minutes, not hours.
FUTURE_SLACK = timedelta(minutes=5)


class Refused(Exception):
    """What is wrong, for the form field it belongs to (None: the form as a whole)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _check_time(at: datetime, now: datetime) -> None:
    if at > now + FUTURE_SLACK:
        raise Refused("time", f"The visit's time ({when(at, now)}) is in the future: enter when the visit happened")


def _name_for(user: Any, person: Person) -> str:
    """The other person's name only for someone who may see their case; everyone else reads "another person"."""
    return person.name if Person.objects.visible_to(user).filter(pk=person.pk).exists() else "another person"


def _check_free(user: Any, device: Device, person: Person, start: datetime, now: datetime) -> None:
    """The device may be fitted from ``start`` on: not retired or faulty, no fitting of it overlapping."""
    if device.retired:
        raise Refused("device", f"{device.ref} is retired and cannot be fitted")
    if device.faulty:
        raise Refused("device", f"{device.ref} is marked faulty: fit another device")
    clash = (
        device.fittings.filter(Q(removed_at__isnull=True) | Q(removed_at__gt=start))
        .select_related("person")
        .order_by("fitted_at")
        .first()
    )
    if clash is None:
        return
    who = person.name if clash.person_id == person.pk else _name_for(user, clash.person)
    since = when(clash.fitted_at, now)
    if clash.removed_at is None:
        if clash.person_id == person.pk:
            raise Refused("device", f"{device.ref} is already fitted to {who}, since {since}")
        raise Refused("device", f"{device.ref} is fitted to {who} since {since}: record its removal first")
    raise Refused(
        "device",
        f"{device.ref} was fitted to {who} from {since} to {when(clash.removed_at, now)}: "
        "a fitting cannot overlap another",
    )


def _locked_device(ref: str) -> Device:
    device = Device.objects.select_for_update().filter(ref=ref).first()
    if device is None:
        raise Refused("device", f'No device has the serial number "{ref}": check the label, or add it to stock')
    return device


def _create(device: Device, person: Person, at: datetime, fitted_by: str) -> Fitting:
    try:
        with transaction.atomic():
            return Fitting.objects.create(device=device, person=person, fitted_at=at, fitted_by=fitted_by)
    except IntegrityError:
        # Another operator fitted it between our check and our write (only possible where locks are not held).
        raise Refused("device", f"{device.ref} was fitted by someone else a moment ago: reload the page") from None


def _locked_open_fitting(pk: int) -> Fitting:
    fitting = Fitting.objects.select_for_update().select_related("device", "person").get(pk=pk)
    if fitting.removed_at is not None:
        raise Refused(
            None,
            f"{fitting.device.ref} was already removed from {fitting.person.name} at {when(fitting.removed_at)}"
            + (f" ({fitting.removal_reason})" if fitting.removal_reason else ""),
        )
    return fitting


def _end(fitting: Fitting, at: datetime, reason: str) -> None:
    if at <= fitting.fitted_at:
        raise Refused("time", f"The removal must be after the fitting ({when(fitting.fitted_at)})")
    # Conditional: only a fitting still open is ended, whatever another request did since we read it.
    if not Fitting.objects.filter(pk=fitting.pk, removed_at__isnull=True).update(removed_at=at, removal_reason=reason):
        raise Refused(None, f"{fitting.device.ref} was removed by someone else a moment ago: reload the page")
    changes.note([fitting.person_id])  # an update() sends no signal: the engine is told here
    fitting.removed_at, fitting.removal_reason = at, reason


def kinds_needed(person: Person) -> set[str]:
    """The device kinds the person's conditions in force (or still to start) are monitored with."""
    today = local_today()
    needs: set[str] = set()
    for order in person.orders.all():
        if order.status_on(today) == OrderStatus.ENDED:
            continue
        for cond in order.live_conditions():
            kind = device_kind_needed(cond.to_spec())
            if kind and cond.raises_alerts and cond.effective_end >= today:
                needs.add(kind.value)
    return needs


def fitting_warnings(person: Person, device: Device, replacing: Device | None = None) -> list[str]:
    """What may be a mistake but is not refused: a kind no condition needs, a second tag of one kind."""
    out = []
    needs = kinds_needed(person)
    a_device = A_DEVICE[device.kind_enum]
    if replacing is not None and replacing.kind != device.kind:
        out.append(f"{device.ref} is {a_device}, but the device it replaces was {A_DEVICE[replacing.kind_enum]}")
    if device.kind not in needs:
        wanted = [A_DEVICE[DeviceKind(k)] for k in sorted(needs)]
        listed = " and ".join([", ".join(wanted[:-1]), wanted[-1]] if len(wanted) > 1 else wanted)
        out.append(
            f"None of {person.name}'s conditions needs {a_device}"
            + (f": they need {listed}" if wanted else ": no condition in force needs a device")
        )
    others = (
        person.fittings.filter(removed_at__isnull=True, device__kind=device.kind)
        .exclude(device=device)
        .select_related("device")
    )
    if replacing is not None:
        others = others.exclude(device=replacing)
    for other in others:
        out.append(f"{person.name} also wears {other.device.ref}, {a_device} too: to replace it, record a swap")
    return out


def fit(
    user: Any, person: Person, ref: str, at: datetime, fitted_by: str, now: datetime | None = None
) -> tuple[Fitting, list[str]]:
    now = now or timezone.now()
    _check_time(at, now)
    with transaction.atomic():
        device = _locked_device(ref)
        _check_free(user, device, person, at, now)
        fitting = _create(device, person, at, fitted_by)
        AuditEvent.record(
            user,
            AuditAction.CREATE,
            person=person,
            obj=fitting,
            summary=f"device {device.ref} fitted at {at.isoformat()} by {fitted_by}",
        )
    return fitting, fitting_warnings(person, device)


def remove(user: Any, pk: int, at: datetime, reason: str, faulty: bool, now: datetime | None = None) -> Fitting:
    now = now or timezone.now()
    _check_time(at, now)
    with transaction.atomic():
        fitting = _locked_open_fitting(pk)
        _end(fitting, at, reason)
        if faulty:
            Device.objects.filter(pk=fitting.device_id).update(faulty=True)
        AuditEvent.record(
            user,
            AuditAction.CHANGE,
            person=fitting.person,
            obj=fitting,
            summary=f"device {fitting.device.ref} removed at {at.isoformat()}" + (", marked faulty" if faulty else ""),
            reason=reason,
        )
    return fitting


def swap(
    user: Any,
    pk: int,
    ref: str,
    at: datetime,
    reason: str,
    faulty: bool,
    fitted_by: str,
    now: datetime | None = None,
) -> tuple[Fitting, Fitting, list[str]]:
    """One visit: the old device off and the new one on at the same moment, both or neither."""
    now = now or timezone.now()
    _check_time(at, now)
    with transaction.atomic():
        old = _locked_open_fitting(pk)
        device = _locked_device(ref)
        if device.pk == old.device_id:
            raise Refused("device", f"{ref} is the device being removed: enter the serial number of the new one")
        _check_free(user, device, old.person, at, now)
        _end(old, at, f"Swapped for {device.ref}: {reason}"[:200])
        if faulty:
            Device.objects.filter(pk=old.device_id).update(faulty=True)
        new = _create(device, old.person, at, fitted_by)
        summary = f"device swap at {at.isoformat()}: {old.device.ref} removed, {device.ref} fitted by {fitted_by}"
        AuditEvent.record(
            user,
            AuditAction.CHANGE,
            person=old.person,
            obj=old,
            summary=summary + (f"; {old.device.ref} marked faulty" if faulty else ""),
            reason=reason,
        )
        AuditEvent.record(user, AuditAction.CREATE, person=old.person, obj=new, summary=summary, reason=reason)
    return old, new, fitting_warnings(old.person, device, replacing=old.device)
