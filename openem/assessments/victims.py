"""How far each proposed curfew address is from the places that protect a victim: their home and the other
places recorded for them (``VictimPlace``), and the exclusion zones on the person's orders. People were
curfewed to addresses near their victims (DESIGN.md section 1); every such address is flagged under
``OPENEM_VICTIM_WARNING_M``. Shared by the assessment page, the victim liaison officer's page, the report
and the eligibility facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from shapely.geometry import Point

from openem.engine.enums import ConditionType
from openem.engine.geometry import area_shape, distance_m, projection_near

from .models import ProposedAddress, VictimPlace


@dataclass(frozen=True)
class Place:
    """Something that protects a victim, as an area (a circle or a GeoJSON polygon)."""

    what: str  # for staff: the description as recorded ("The victim's home (Ms A)"), "exclusion zone C2 on order O0001"
    area: dict[str, Any]


@dataclass(frozen=True)
class Distance:
    place: Place
    metres: float  # from the address to the nearest edge of the place (0 inside it)
    near: bool  # under OPENEM_VICTIM_WARNING_M

    @property
    def text(self) -> str:
        """To the metre, for the practitioner: "579 m from exclusion zone ..." (a description as typed)."""
        inside = "inside" if self.metres == 0 else f"{self.metres:,.0f} m from"
        return f"{inside} {self.place.what}"

    @property
    def band(self) -> str:
        """Only roughly, for the victim liaison officer: "1 to 2 km from ...". Exact distances from places
        the officer records could be combined to find the proposed address, which is not theirs to know."""
        if self.metres == 0:
            return f"inside {self.place.what}"
        bands = ((500, "under 500 m"), (1000, "500 m to 1 km"), (2000, "1 to 2 km"), (5000, "2 to 5 km"),
                 (10000, "5 to 10 km"))  # fmt: skip
        rough = next((words for limit, words in bands if self.metres < limit), "more than 10 km")
        return f"{rough} from {self.place.what}"


def places(person: Any) -> list[Place]:
    out = [
        Place(p.description or p.kind_enum.label, {"lat": p.lat, "lon": p.lon, "radius_m": float(p.radius_m)})
        for p in VictimPlace.objects.filter(person=person)
    ]
    for order in person.orders.all():
        for cond in order.live_conditions():
            if cond.type == ConditionType.EXCLUSION_ZONE.value and cond.spec.get("area"):
                name = cond.spec.get("name") or cond.ref
                out.append(Place(f"exclusion zone {name} on order {order.ref}", cond.spec["area"]))
    return out


def metres_to(lat: float, lon: float, area: dict[str, Any]) -> float:
    """From a point to the nearest edge of an area, in metres; 0 inside it."""
    if "radius_m" in area:
        return max(0.0, distance_m(lat, lon, float(area["lat"]), float(area["lon"])) - float(area["radius_m"]))
    proj = projection_near(lat, lon)
    return float(proj.to_metric(area_shape(area)).distance(proj.to_metric(Point(lon, lat))))


def distances(address: ProposedAddress, found: list[Place] | None = None) -> list[Distance]:
    """Nearest first; empty when the address has no location or nothing protects a victim."""
    if address.lat is None or address.lon is None:
        return []
    limit = settings.OPENEM_VICTIM_WARNING_M
    got = [Distance(p, m, m < limit) for p in (found if found is not None else places(address.assessment.person))
           for m in [metres_to(address.lat, address.lon, p.area)]]  # fmt: skip
    return sorted(got, key=lambda d: d.metres)
