"""Domain vocabularies shared by the engine, the case file and the Django models.

Plain ``StrEnum``s so that the engine needs no Django; models build their choices from them.
"""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A StrEnum whose members carry a human label (the value with a readable spelling)."""

    @property
    def label(self) -> str:
        return LABELS.get(self.value, self.value.replace("_", " ").capitalize())

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]


class OrderType(LabelledEnum):
    COMMUNITY_ORDER = "community_order"
    SUSPENDED_SENTENCE_ORDER = "suspended_sentence_order"
    HDC = "hdc"
    LICENCE = "licence"
    PAROLE_LICENCE = "parole_licence"
    POST_SENTENCE_SUPERVISION = "post_sentence_supervision"
    BAIL = "bail"

    @property
    def is_court_order(self) -> bool:
        return self in (OrderType.COMMUNITY_ORDER, OrderType.SUSPENDED_SENTENCE_ORDER)

    @property
    def is_licence(self) -> bool:
        return self in (
            OrderType.HDC,
            OrderType.LICENCE,
            OrderType.PAROLE_LICENCE,
            OrderType.POST_SENTENCE_SUPERVISION,
        )


class LicenceKind(LabelledEnum):
    STANDARD = "standard"
    LIFE = "life"
    IPP = "ipp"
    EXTENDED = "extended"


class ConditionType(LabelledEnum):
    CURFEW = "curfew"
    EXCLUSION_ZONE = "exclusion_zone"
    INCLUSION_ZONE = "inclusion_zone"
    ATTENDANCE = "attendance"
    TRAIL = "trail"
    ALCOHOL = "alcohol"

    @property
    def is_zone(self) -> bool:
        return self in (ConditionType.EXCLUSION_ZONE, ConditionType.INCLUSION_ZONE)


class Technology(LabelledEnum):
    RF = "rf"
    GPS = "gps"
    BEACON = "beacon"


class AlcoholMode(LabelledEnum):
    ABSTINENCE = "abstinence"
    LEVEL = "level"


class AlcoholRequirement(LabelledEnum):
    AAMR = "aamr"
    AML = "aml"


class DeviceKind(LabelledEnum):
    RF = "rf"
    GPS = "gps"
    ALCOHOL = "alcohol"
    NON_FITTED = "non_fitted"


class Rosh(LabelledEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very_high"


class RiskFlag(LabelledEnum):
    DOMESTIC_ABUSE = "domestic_abuse"
    CHILD_PROTECTION = "child_protection"
    STALKING = "stalking"
    SEXUAL_OFFENDING = "sexual_offending"
    VIOLENCE = "violence"
    WEAPONS = "weapons"
    GANG_AFFILIATION = "gang_affiliation"
    SELF_HARM = "self_harm"


class Day(LabelledEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """0 for Monday to 6 for Sunday, as date.weekday()."""
        return list(Day).index(self)


LABELS = {
    "community_order": "Community order",
    "suspended_sentence_order": "Suspended sentence order",
    "hdc": "Home detention curfew",
    "licence": "Licence",
    "parole_licence": "Parole licence",
    "post_sentence_supervision": "Post-sentence supervision",
    "bail": "Bail",
    "ipp": "IPP",
    "curfew": "Curfew",
    "exclusion_zone": "Exclusion zone",
    "inclusion_zone": "Inclusion zone",
    "attendance": "Attendance",
    "trail": "Location monitoring (trail)",
    "alcohol": "Alcohol monitoring",
    "rf": "Radio frequency",
    "gps": "GPS",
    "beacon": "Beacon",
    "aamr": "Alcohol abstinence and monitoring requirement (AAMR)",
    "aml": "Alcohol monitoring on licence (AML)",
    "non_fitted": "Non-fitted device",
    "very_high": "Very high",
    "domestic_abuse": "Domestic-abuse perpetrator",
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
