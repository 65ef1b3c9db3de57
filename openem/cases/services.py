"""Creating and varying orders: validate with the rules, write the order, keep a version, audit it.

The import command and the portal's forms both come through here, so both give the same messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from openem.audit.models import AuditAction, AuditEvent
from openem.engine.casefile import OrderSpec

from .models import Condition, Order, OrderVersion, Person, local_today
from .rules import Finding, check_order, errors

if TYPE_CHECKING:
    from openem.accounts.models import User


class OrderRejected(Exception):
    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        super().__init__("; ".join(str(f) for f in findings))


def describe_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    """Plain-language list of what changed between two order snapshots (case-file form)."""
    if before is None:
        return [f"Order made with {len(after['conditions'])} condition(s)"]
    out: list[str] = []
    for key in (
        "type",
        "start",
        "end",
        "licence_kind",
        "convicted_before_pcsc_act",
        "audit_score",
        "alcohol_treatment_requirement",
    ):
        if before.get(key) != after.get(key):
            out.append(f"{key.replace('_', ' ').capitalize()}: {before.get(key, '-')} -> {after.get(key, '-')}")
    old = {c["id"]: c for c in before["conditions"]}
    new = {c["id"]: c for c in after["conditions"]}
    for cid, cond in new.items():
        if cid not in old:
            out.append(f"Added {cond['type'].replace('_', ' ')} {cid}")
        elif old[cid] != cond:
            fields = sorted(k for k in set(old[cid]) | set(cond) if old[cid].get(k) != cond.get(k))
            what = "; ".join(
                f"{k.replace('_', ' ')} {_shown(k, old[cid].get(k))} -> {_shown(k, cond.get(k))}" for k in fields
            )
            out.append(f"Changed {cond['type'].replace('_', ' ')} {cid}: {what}")
    for cid, cond in old.items():
        if cid not in new:
            out.append(f"Removed {cond['type'].replace('_', ' ')} {cid}")
    return out or ["No change to the terms"]


def _shown(key: str, value: Any) -> str:
    """A condition's field as the history shows it: the old and the new value, readable and short."""
    from openem.engine.schedule import Window

    if value is None or value == "" or value == []:
        return "(none)"
    if key == "windows":
        return ", ".join(Window.from_json(w).describe() for w in value)
    if key in ("address", "place") and isinstance(value, dict):
        label = f"{value['label']} " if value.get("label") else ""
        return f"{label}({value.get('lat')}, {value.get('lon')}, {value.get('radius_m')} m)"
    if key == "area" and isinstance(value, dict):
        if "radius_m" in value:
            return f"circle of {value['radius_m']} m at ({value.get('lat')}, {value.get('lon')})"
        ring = (value.get("coordinates") or [[]])[0]
        return f"{value.get('type', 'shape')} of {max(len(ring) - 1, 0)} points"
    if key == "appointments" and isinstance(value, list):
        return f"{len(value)} appointment{'s' if len(value) != 1 else ''}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


@transaction.atomic
def save_order(
    person: Person, spec: OrderSpec, user: User | None, reason: str, order: Order | None = None, path: str = "order"
) -> tuple[Order, list[Finding]]:
    """Create (order=None) or vary an order. Raises OrderRejected with every error; returns the
    order and the warnings a practitioner should read."""
    if order is not None:
        # A condition added by a variation with no start date starts today, not at the order's start:
        # otherwise it would apply, and be evaluated, back to a time when it did not exist.
        existing = set(order.live_conditions().values_list("ref", flat=True))
        for cspec in spec.conditions:
            if cspec.id not in existing and cspec.start is None:
                cspec.start = max(local_today(), spec.start)
    findings = check_order(spec, path)
    if errors(findings):
        raise OrderRejected(errors(findings))
    before = None
    if order is None:
        order = Order(person=person, version=1)
    else:
        before = order.to_spec().to_json()
        order.version += 1
    order.ref = spec.id
    order.type = spec.type.value
    order.start = spec.start
    order.end = spec.end
    order.licence_kind = spec.licence_kind.value if spec.licence_kind else ""
    order.convicted_before_pcsc_act = spec.convicted_before_pcsc_act
    order.audit_score = spec.audit_score
    order.alcohol_treatment_requirement = spec.alcohol_treatment_requirement
    order.save()
    live = {c.ref: c for c in order.live_conditions()}
    for position, cspec in enumerate(spec.conditions):
        cond = live.pop(cspec.id, None)
        if cond is not None and cond.spec == cspec.to_json() and cond.position == position:
            continue
        if cond is not None:
            # A changed condition is a new row; the old one stays for the record.
            cond.removed_in_version = order.version
            cond.save(update_fields=["removed_in_version"])
        new = Condition(order=order, position=position, added_in_version=order.version)
        new.apply_spec(cspec)
        new.save()
    for cond in live.values():
        cond.removed_in_version = order.version
        cond.save(update_fields=["removed_in_version"])
    after = spec.to_json()
    changes = describe_changes(before, after)
    OrderVersion.objects.create(
        order=order, number=order.version, changed_by=user, reason=reason, changes=changes, snapshot=after
    )
    AuditEvent.record(
        user,
        AuditAction.CREATE if before is None else AuditAction.CHANGE,
        person=person,
        obj=order,
        summary="; ".join(changes),
        reason=reason,
    )
    return order, [f for f in findings if f not in errors(findings)]
