"""Import and export of the case file (FORMATS.md, ``openem-cases/1``).

An import is all or nothing: every error in the file is reported with its path and nothing is
written; warnings (for example a zone that will not raise alerts) are reported and the file loads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from openem.accounts.models import Team, User
from openem.audit.models import AuditAction, AuditEvent
from openem.devices.models import Device, Fitting
from openem.engine import casefile
from openem.engine.casefile import FORMAT, CaseFile, CaseFileError, DeviceSpec, Limits, PersonSpec, fittings_overlap
from openem.engine.enums import DeviceKind, RiskFlag, Rosh

from .models import Condition, Order, Person
from .rules import Finding, Severity, check_order
from .services import save_order

if TYPE_CHECKING:
    from openem.accounts.models import User as UserT


@dataclass
class ImportResult:
    people_created: int = 0
    people_updated: int = 0
    orders_created: int = 0
    orders_varied: int = 0
    devices: int = 0
    warnings: list[Finding] = field(default_factory=list)


def limits() -> Limits:
    """The longest ids and names the database keeps, from the models themselves."""

    def longest(model: Any, name: str) -> int | None:
        return int(model._meta.get_field(name).max_length)

    return Limits(
        person_id=longest(Person, "ref"),
        person_name=longest(Person, "name"),
        order_id=longest(Order, "ref"),
        condition_id=longest(Condition, "ref"),
        device_id=longest(Device, "ref"),
        team=longest(Team, "name"),
    )


def check_casefile(cf: CaseFile, reported: Iterable[str] = ()) -> tuple[list[str], list[Finding]]:
    """Errors (as "path: message") and warnings for a parsed file, without writing anything: unknown
    practitioners, CRNs of someone else, the order rules (curfew limits and the rest) and devices that
    would be taken from someone. ``reported``: errors found already; a rule does not repeat a path that
    one of them names (an order whose dates are reversed is reported once)."""
    errors: list[str] = []
    warnings: list[Finding] = []
    taken = {e.split(": ", 1)[0] for e in reported}
    usernames = set(User.objects.values_list("username", flat=True))
    for pi, person in enumerate(cf.people):
        here = person.path or f"people[{pi}]"
        if person.practitioner and person.practitioner not in usernames:
            errors.append(f'{here}.practitioner: there is no user "{person.practitioner}"')
        if person.crn:
            other = Person.objects.filter(crn=person.crn).exclude(ref=person.id).first()
            if other:
                errors.append(f'{here}.crn: "{person.crn}" already belongs to {other.ref}')
        for oi, order in enumerate(person.orders):
            for finding in check_order(order, order.path or f"{here}.orders[{oi}]"):
                if finding.path in taken:
                    continue
                if finding.severity == Severity.ERROR:
                    errors.append(str(finding))
                else:
                    warnings.append(finding)
        for di, dev in enumerate(person.devices):
            existing = Device.objects.filter(ref=dev.id).first()
            if existing and existing.kind != dev.kind.value:
                where = dev.path or f"{here}.devices[{di}]"
                errors.append(
                    f'{where}.kind: device "{dev.id}" is a {existing.kind_enum.label} in stock, not {dev.kind.label}'
                )
    errors += _devices_taken(cf)
    return errors, warnings


def _devices_taken(cf: CaseFile) -> list[str]:
    """A fitting in the file that overlaps a stored fitting of the same device to someone else. A stored
    fitting the file restates (same person, same fitting time) counts as the file says: ending it at or
    before the new fitting hands the device on."""
    wanted: dict[str, list[tuple[PersonSpec, DeviceSpec]]] = defaultdict(list)
    for person in cf.people:
        for dev in person.devices:
            if dev.fitted is not None and person.id:
                wanted[dev.id].append((person, dev))
    stored: dict[str, list[Fitting]] = defaultdict(list)
    for f in Fitting.objects.filter(device__ref__in=list(wanted)).select_related("device", "person"):
        stored[f.device.ref].append(f)
    out = []
    for ref, entries in wanted.items():
        # What the file says about each stored fitting: same person, same fitting time.
        said = {(p.id, d.fitted): d.removed for p, d in entries}
        for person, dev in entries:
            assert dev.fitted is not None
            for f in stored[ref]:
                if f.person.ref == person.id or (f.person.ref, f.fitted_at) in said:
                    # The same person's own fittings (a re-fit closes the earlier one), or a fitting the
                    # file restates, whose clash with this one casefile.read has reported already.
                    continue
                if not fittings_overlap(f.fitted_at, f.removed_at, dev.fitted, dev.removed):
                    continue
                since = f"since {_local(f.fitted_at)}" if f.removed_at is None else (
                    f"from {_local(f.fitted_at)} to {_local(f.removed_at)}"
                )  # fmt: skip
                out.append(
                    f'{dev.path}: device "{ref}" is fitted to {f.person.name} ({f.person.ref}) {since}; this '
                    f"file fits it to {person.label} from {_local(dev.fitted)}. A device is taken from nobody by "
                    f"an import: remove it from {f.person.name} first, or give their fitting in this file a "
                    f'"removed" time at or before {_local(dev.fitted)}'
                )
    return out


def _local(t: datetime) -> str:
    return f"{timezone.localtime(t):%-d %b %Y %H:%M}"


def import_data(data: Any, user: UserT | None, reason: str = "Imported from case file") -> ImportResult:
    """Import a case file as it came (decoded JSON): every error of it in one go, structure first, then
    the rules; nothing is written unless there are none."""
    cf, errors = casefile.read(data, limits=limits())
    more, warnings = check_casefile(cf, reported=errors)
    if errors or more:
        raise CaseFileError(errors + more)
    return _write(cf, user, reason, warnings)


def import_casefile(cf: CaseFile, user: UserT | None, reason: str = "Imported from case file") -> ImportResult:
    """Import a file parsed already (``casefile.parse``); see ``import_data`` for one as it came."""
    errors, warnings = check_casefile(cf)
    if errors:
        raise CaseFileError(errors)
    return _write(cf, user, reason, warnings)


def _write(cf: CaseFile, user: UserT | None, reason: str, warnings: list[Finding]) -> ImportResult:
    result = ImportResult(warnings=warnings)
    with transaction.atomic():
        fittings: list[tuple[Person, DeviceSpec]] = []
        for pi, spec in enumerate(cf.people):
            person, created = _upsert_person(spec)
            result.people_created += created
            result.people_updated += not created
            for oi, ospec in enumerate(spec.orders):
                order = Order.objects.filter(person=person, ref=ospec.id).first()
                if order is not None and order.to_spec().to_json() == ospec.to_json():
                    continue
                save_order(person, ospec, user, reason, order=order, path=f"people[{pi}].orders[{oi}]")
                if order is None:
                    result.orders_created += 1
                else:
                    result.orders_varied += 1
            fittings += [(person, dev) for dev in spec.devices]
        # Removals first: a device handed on in this file leaves one person before it reaches the next.
        for person, dev in sorted(fittings, key=lambda pd: pd[1].removed is None):
            _upsert_fitting(person, dev)
            result.devices += 1
        AuditEvent.record(
            user,
            AuditAction.IMPORT,
            summary=f"case file: {len(cf.people)} people "
            f"({result.people_created} new), {result.orders_created} orders made, "
            f"{result.orders_varied} varied",
            reason=reason,
        )
    return result


def _upsert_person(spec: PersonSpec) -> tuple[Person, bool]:
    person = Person.objects.filter(ref=spec.id).first()
    created = person is None
    if person is None:
        person = Person(ref=spec.id)
    person.name = spec.name
    person.date_of_birth = spec.date_of_birth
    person.crn = spec.crn or None
    person.pnc, person.nomis = spec.pnc, spec.nomis
    person.sex, person.gender, person.ethnicity = spec.sex, spec.gender, spec.ethnicity
    person.disability, person.religion = spec.disability, spec.religion
    person.rosh = spec.rosh.value if spec.rosh else ""
    person.mappa_category, person.mappa_level = spec.mappa_category, spec.mappa_level
    person.flags = [f.value for f in spec.flags]
    if spec.practitioner:
        person.practitioner = User.objects.get(username=spec.practitioner)
    if spec.team:
        person.team, _ = Team.objects.get_or_create(name=spec.team)
    elif person.practitioner and person.practitioner.team_id:
        person.team_id = person.practitioner.team_id
    person.save()
    return person, created


def _upsert_fitting(person: Person, spec: DeviceSpec) -> None:
    device, _ = Device.objects.get_or_create(ref=spec.id, defaults={"kind": spec.kind.value})
    if spec.fitted is None:
        return
    fitting = Fitting.objects.filter(device=device, person=person, fitted_at=spec.fitted).first()
    if fitting is None:
        # A re-fit to the same person ends their earlier fitting of it. Nobody else's fitting is ever
        # ended here: check_casefile refuses a file that would need that.
        Fitting.objects.filter(device=device, person=person, removed_at__isnull=True, fitted_at__lt=spec.fitted).update(
            removed_at=spec.fitted
        )
        fitting = Fitting(device=device, person=person, fitted_at=spec.fitted)
    fitting.removed_at = spec.removed
    fitting.save()


def export_people(
    people: QuerySet[Person], on_error: Callable[[Person, Exception], None] | None = None
) -> dict[str, Any]:
    """The case file of these people. A handful of queries whatever their number (the engine worker
    exports the whole caseload): related rows are fetched by subquery and grouped here. ``on_error``:
    a person whose stored records cannot be exported is passed to it and left out (the engine worker
    goes on with everyone else); without it the error propagates."""
    orders: dict[int, list[Order]] = defaultdict(list)
    for o in Order.objects.filter(person__in=people.values("pk")).order_by("start", "ref"):
        orders[o.person_id].append(o)
    conditions: dict[int, list[Condition]] = defaultdict(list)
    live = Condition.objects.filter(order__person__in=people.values("pk"), removed_in_version__isnull=True)
    for c in live.order_by("position", "id"):
        conditions[c.order_id].append(c)
    fittings: dict[int, list[Fitting]] = defaultdict(list)
    for f in (
        Fitting.objects.filter(person__in=people.values("pk")).select_related("device").order_by("fitted_at", "id")
    ):
        fittings[f.person_id].append(f)
    out: list[dict[str, Any]] = []
    for person in people.select_related("practitioner", "team"):
        try:
            spec = PersonSpec(
                id=person.ref,
                name=person.name,
                date_of_birth=person.date_of_birth,
                crn=person.crn or "",
                pnc=person.pnc,
                nomis=person.nomis,
                sex=person.sex,
                gender=person.gender,
                ethnicity=person.ethnicity,
                disability=person.disability,
                religion=person.religion,
                practitioner=person.practitioner.username if person.practitioner else "",
                team=person.team.name if person.team else "",
                rosh=Rosh(person.rosh) if person.rosh else None,
                mappa_category=person.mappa_category,
                mappa_level=person.mappa_level,
                flags=tuple(RiskFlag(f) for f in person.flags),
                orders=[o.to_spec(conditions[o.pk]) for o in orders[person.pk]],
                devices=[
                    DeviceSpec(f.device.ref, DeviceKind(f.device.kind), f.fitted_at, f.removed_at)
                    for f in fittings[person.pk]
                ],
            )
            out.append(spec.to_json())
        except Exception as exc:
            if on_error is None:
                raise
            on_error(person, exc)
    return {"format": FORMAT, "people": out}
