"""The guide's case made visible: a curfew on an order at an address that was never assessed, or that was
found unsuitable (a curfew imposed at a partner's address when only the mother's had been proposed, with no
checks at either). Shown wherever an order's findings are: the order page, the person page and the count on
My cases. Only for people with an assessment on record: orders made before OpenEM held assessments have
nothing to compare with."""

from __future__ import annotations

from typing import Any

from openem.cases.rules import Finding, Severity
from openem.engine.geometry import distance_m

from .models import Suitability

SAME_ADDRESS_M = 50.0  # a curfew circle and a proposed address this close are the same home


def curfew_address_findings(order: Any) -> list[Finding]:
    """A warning for each live curfew whose address matches no assessed address, or matches one found not
    suitable. Uses the person's prefetched assessments when the caller has them (the case list)."""
    addresses = [a for assessment in order.person.assessments.all() for a in assessment.addresses.all()]
    if not any(a.lat is not None and a.lon is not None for a in addresses):
        return []  # no assessed address with a location: nothing to compare the curfew's with
    out = []
    for cond in order.conditions.all():
        if cond.type != "curfew" or cond.removed_in_version is not None:
            continue
        home = cond.spec.get("address") or {}
        if "lat" not in home or "lon" not in home:
            continue
        near = [
            a for a in addresses
            if a.lat is not None and a.lon is not None
            and distance_m(home["lat"], home["lon"], a.lat, a.lon) <= max(SAME_ADDRESS_M, home.get("radius_m", 0))
        ]  # fmt: skip
        where = f"{order.ref}.conditions.{cond.ref}.address"
        if not near:
            assessed = ", ".join(sorted({a.label for a in addresses}))
            out.append(Finding(where, f"the curfew {cond.ref} is at an address that was not assessed before the "
                               f"order (assessed: {assessed}): ask for the domestic-abuse and safeguarding checks for "
                               "it and assess it", Severity.WARNING))  # fmt: skip
        elif all(a.suitability == Suitability.NOT_SUITABLE.value for a in near):
            reason = near[0].not_suitable_reason or "no reason recorded"
            out.append(Finding(where, f"the curfew {cond.ref} is at {near[0].label}, which was found not suitable "
                               f"({reason})", Severity.WARNING))  # fmt: skip
    return out
