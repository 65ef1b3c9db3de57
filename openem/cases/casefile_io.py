"""Import and export of the case file (FORMATS.md, ``openem-cases/1``).

An import is all or nothing: every error in the file is reported with its path and nothing is
written; warnings (for example a zone that will not raise alerts) are reported and the file loads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet

from openem.accounts.models import Team, User
from openem.audit.models import AuditAction, AuditEvent
from openem.devices.models import Device, Fitting
from openem.engine.casefile import FORMAT, CaseFile, CaseFileError, DeviceSpec, PersonSpec
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


def check_casefile(cf: CaseFile) -> tuple[list[str], list[Finding]]:
    """Errors (as "path: message") and warnings for a parsed file, without writing anything."""
    errors: list[str] = []
    warnings: list[Finding] = []
    usernames = set(User.objects.values_list("username", flat=True))
    for pi, person in enumerate(cf.people):
        here = f"people[{pi}]"
        if person.practitioner and person.practitioner not in usernames:
            errors.append(f'{here}.practitioner: there is no user "{person.practitioner}"')
        if person.crn:
            other = Person.objects.filter(crn=person.crn).exclude(ref=person.id).first()
            if other:
                errors.append(f'{here}.crn: "{person.crn}" already belongs to {other.ref}')
        for oi, order in enumerate(person.orders):
            for finding in check_order(order, f"{here}.orders[{oi}]"):
                if finding.severity == Severity.ERROR:
                    errors.append(str(finding))
                else:
                    warnings.append(finding)
        for di, dev in enumerate(person.devices):
            existing = Device.objects.filter(ref=dev.id).first()
            if existing and existing.kind != dev.kind.value:
                errors.append(
                    f'{here}.devices[{di}].kind: device "{dev.id}" is a {existing.kind_enum.label} '
                    f"in stock, not {dev.kind.label}"
                )
            if existing and dev.fitted and not dev.removed:
                clash = existing.fittings.filter(removed_at__isnull=True).exclude(person__ref=person.id).first()
                if clash:
                    errors.append(f'{here}.devices[{di}]: device "{dev.id}" is still fitted to {clash.person.ref}')
    return errors, warnings


def import_casefile(cf: CaseFile, user: UserT | None, reason: str = "Imported from case file") -> ImportResult:
    errors, warnings = check_casefile(cf)
    if errors:
        raise CaseFileError(errors)
    result = ImportResult(warnings=warnings)
    with transaction.atomic():
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
            for dev in spec.devices:
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
        # Close any earlier open fitting of this device to this person before recording the new one.
        Fitting.objects.filter(device=device, removed_at__isnull=True).update(removed_at=spec.fitted)
        fitting = Fitting(device=device, person=person, fitted_at=spec.fitted)
    fitting.removed_at = spec.removed
    fitting.save()


def export_people(people: QuerySet[Person]) -> dict[str, Any]:
    """The case file of these people. A handful of queries whatever their number (the engine worker
    exports the whole caseload): related rows are fetched by subquery and grouped here."""
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
    return {"format": FORMAT, "people": out}
