"""The reconciler: what the engine found for some devices, made what is stored for them.

The engine is a function of the stored readings, so the stored violations of the devices evaluated are made
equal to what it says now: new ones added, changed ones updated (their end, their evidence), ones later
readings disproved marked retracted (kept, never deleted: someone may have seen them). A violation's identity
is the engine's (``Violation.key``), so the same violation found again, in any arrival order or batching, is
the same row. One transaction: a reconcile that fails leaves what was stored as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from openem.alerts.models import Violation
from openem.alerts.triage import violation_key
from openem.cases.models import Person
from openem.engine.violations import Violation as EngineViolation


@dataclass
class Reconciled:
    opened: int = 0
    changed: int = 0
    retracted: int = 0


def reconcile(found: list[EngineViolation], existing: Iterable[Violation]) -> Reconciled:
    """Make ``existing`` (the stored violations that could have changed: those of the devices evaluated, over
    the window evaluated) equal to ``found``."""
    out = Reconciled()
    people = {p.ref: p for p in Person.objects.filter(ref__in={v.person for v in found})}
    stored = {v.key: v for v in existing}
    seen = set()
    with transaction.atomic():
        for v in found:
            key = violation_key(v)
            seen.add(key)
            fields = {
                "person": people[v.person], "order_ref": v.order, "condition_ref": v.condition or "",
                "device": str(v.evidence.get("device", "")), "type": v.type.value, "category": v.category.value,
                "start": datetime.fromtimestamp(v.start, UTC),
                "end": datetime.fromtimestamp(v.end, UTC) if v.end is not None else None,
                "evidence": v.evidence, "retracted": False, "triage_pending": True,
            }  # fmt: skip
            old = stored.get(key)
            if old is None:
                # Stored already but outside what was read as existing (another worker, an earlier window):
                # update_or_create keeps one row per key whoever stored it first.
                _, created = Violation.objects.update_or_create(key=key, defaults=fields)
                out.opened += created
                out.changed += not created
            elif old.end != fields["end"] or old.evidence != fields["evidence"] or old.retracted:
                Violation.objects.filter(pk=old.pk).update(**fields)
                out.changed += 1
        gone = [v.pk for key, v in stored.items() if key not in seen and not v.retracted]
        if gone:
            out.retracted += Violation.objects.filter(pk__in=gone).update(retracted=True, triage_pending=True)
    return out
