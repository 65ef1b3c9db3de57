"""'Make the order from this assessment': the requirements recommended become the new order's proposed
conditions, which then go through the usual validation (``cases.services.save_order``). What cannot be
filled from the assessment (an attendance requirement's appointments, a curfew without its address's
location) is listed with what to add, never guessed."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from openem.engine.casefile import ConditionSpec
from openem.engine.enums import ConditionType, DeviceKind, OrderType, Technology
from openem.engine.geometry import Circle
from openem.engine.schedule import Window

from .eligibility import BY_KEY, Candidate
from .models import Assessment, VictimPlace, VictimPlaceKind

CURFEW_ADDRESS_RADIUS_M = 30.0  # the property's boundary, as a practitioner would draw it; varied on the order


@dataclass(frozen=True)
class Proposed:
    label: str  # the requirement in words
    specs: tuple[ConditionSpec, ...]  # what will be added ("C1"... numbered when the order is made)
    missing: str = ""  # why it cannot be filled in: add it on the order once made

    @property
    def ready(self) -> bool:
        return bool(self.specs) and not self.missing


def proposed_conditions(assessment: Assessment) -> list[Proposed]:
    out = []
    for key in assessment.chosen():
        cand = BY_KEY.get(key)
        if cand is not None:
            out.append(_from(assessment, cand))
    return out


def _from(assessment: Assessment, cand: Candidate) -> Proposed:
    label = cand.title
    if cand.requirement == ConditionType.CURFEW:
        home = assessment.suitable_address()
        windows = tuple(Window.from_json(w) for w in assessment.proposed_curfew_windows)
        if home is None or home.lat is None or home.lon is None:
            return Proposed(label, (), "no suitable address with its location: add the curfew on the order")
        if not windows:
            return Proposed(label, (), "no curfew hours were proposed: add the curfew on the order")
        tech = Technology.GPS if cand.device == DeviceKind.GPS else Technology.RF
        circle = Circle(home.lat, home.lon, CURFEW_ADDRESS_RADIUS_M, home.label)
        return Proposed(f"{label} at {home.label}", (ConditionSpec("", cand.requirement, technology=tech,
                                                                   address=circle, windows=windows),))  # fmt: skip
    if cand.requirement == ConditionType.EXCLUSION_ZONE:
        places = list(VictimPlace.objects.filter(person=assessment.person))
        if not places:
            return Proposed(label, (), "no victim's home or place is recorded: draw the zone on the order")
        specs = []
        for p in places:
            radius = float(p.radius_m) or settings.OPENEM_VICTIM_ZONE_M
            if p.kind == VictimPlaceKind.HOME.value:
                radius = max(radius, settings.OPENEM_VICTIM_ZONE_M)
            # Monitored explicitly (an unmonitored zone raises nothing) and hidden from the person's own map.
            specs.append(ConditionSpec("", cand.requirement, name=p.description, monitored=True, victim_sensitive=True,
                                       area={"lat": p.lat, "lon": p.lon, "radius_m": radius}))  # fmt: skip
        return Proposed(f"{label}: {len(specs)} zone{'s' if len(specs) != 1 else ''} around the victim", tuple(specs))
    if cand.requirement == ConditionType.TRAIL:
        return Proposed(label, (ConditionSpec("", ConditionType.TRAIL),))
    if cand.requirement == ConditionType.ALCOHOL:
        legal_form = cand.alcohol_requirement(OrderType(assessment.proposal))
        spec = ConditionSpec("", ConditionType.ALCOHOL, mode=cand.alcohol_mode, requirement=legal_form)
        return Proposed(label, (spec,))
    return Proposed(label, (), "its place and appointments are not in the assessment: add it on the order")
