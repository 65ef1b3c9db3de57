"""Raising and resolving operational alerts (``Fault``), from any process. Raising never raises: a
worker that failed for one device must go on with the others even if it cannot record why."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from openem.telemetry.redact import redact_keys

from .models import Component, Fault, FaultKind

log = logging.getLogger(__name__)


def raise_fault(
    kind: FaultKind,
    key: str,
    summary: str,
    *,
    component: Component,
    detail: str = "",
    device: str = "",
    person: Any = None,
    rule: str = "",
    exc: BaseException | None = None,
) -> Fault | None:
    """Open a fault, or count one more on the open fault with this key. Returns it, or None if it could
    not be recorded (logged instead). The first time, the monitoring centre's operators are told."""
    if exc is not None and not detail:
        detail = "".join(traceback.format_exception(exc))
    detail = redact_keys(detail)[:20_000]
    key = f"{kind.value}:{key}"[:200]
    now = timezone.now()
    try:
        with transaction.atomic():
            updated = (
                Fault.objects.open()
                .filter(key=key)
                .update(last_seen=now, count=F("count") + 1, detail=detail, summary=summary[:300])
            )
            if updated:
                return Fault.objects.open().filter(key=key).first()
            with transaction.atomic():
                fault = Fault.objects.create(
                    key=key, kind=kind.value, component=component.value, summary=summary[:300], detail=detail,
                    device=device[:40], person=person, rule=rule[:80], first_seen=now, last_seen=now,
                )  # fmt: skip
            _tell_operators(fault)
            return fault
    except IntegrityError:  # another process opened it at the same moment: count on theirs
        Fault.objects.open().filter(key=key).update(last_seen=now, count=F("count") + 1)
        return Fault.objects.open().filter(key=key).first()
    except Exception:
        log.exception("could not record the fault %s: %s", key, summary)
        return None


def resolve_fault(kind: FaultKind, key: str) -> int:
    """Close the open fault with this key (the failure no longer happens). Returns how many closed."""
    try:
        return Fault.objects.open().filter(key=f"{kind.value}:{key}"[:200]).update(resolved_at=timezone.now())
    except Exception:
        log.exception("could not resolve the fault %s:%s", kind.value, key)
        return 0


def resolve_others(kind: FaultKind, component: Component, keep: set[str], prefix: str = "") -> int:
    """Close open faults of ``kind`` whose keys (without the kind) start with ``prefix`` and are not in
    ``keep``: what failed before and did not fail this time is fixed."""
    wanted = {f"{kind.value}:{k}" for k in keep}
    qs = Fault.objects.open().filter(
        kind=kind.value, component=component.value, key__startswith=f"{kind.value}:{prefix}"
    )
    gone = [pk for pk, key in qs.values_list("pk", "key") if key not in wanted]
    return Fault.objects.filter(pk__in=gone).update(resolved_at=timezone.now()) if gone else 0


def _tell_operators(fault: Fault) -> None:
    """Queue a message to every operator (the alerts worker sends it), as for an equipment incident."""
    from openem.accounts.models import Role, User
    from openem.alerts.models import NotificationKind
    from openem.alerts.worker import queue

    operators = list(User.objects.filter(role=Role.OPERATOR, is_active=True))
    if not operators:
        return
    body = (
        f"{fault.summary}\n\nWhat: {fault.kind_enum.label}\n"
        f"Since: {timezone.localtime(fault.first_seen):%a %d %b %H:%M}\n"
        "Monitoring of the people concerned is at risk until this is fixed: see the monitoring centre page."
    )
    queue(
        None, operators, NotificationKind.IMMEDIATE, f"OpenEM operational alert: {fault.summary}", body, timezone.now()
    )
