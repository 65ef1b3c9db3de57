"""Eligibility and a recommended technology, with the rule behind each, for an assessment before an order.

Pure Python (no Django), beside ``cases/rules.py``: the assessment pages, the report PDF and "make the order
from this assessment" all read the same answer. Every rule has a stable code in ``RULES`` (as
money-to-prisoners-api names its rules), a plain statement of what it says and its source, and a test in
``tests/test_eligibility.py``. Three kinds:

- a *suggestion* proposes a requirement and its technology from the facts (acquisitive offending: trail);
- a *refusal* makes a requirement ineligible, saying what is wrong and what would make it eligible;
- a *note* is a warning for the practitioner that refuses nothing (a curfew that misses the offending times).

Sources: DESIGN.md section 4 (the inspectorate's table, the AAMR and HDC rows), issue 17, the Sentencing Act
2020 Sch 9 and the Criminal Justice Act 2003 s.246. Where those are silent the rule says "chosen here".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from openem.cases.rules import AUDIT_DEPENDENT
from openem.engine.enums import (
    AlcoholMode,
    AlcoholRequirement,
    ConditionType,
    Day,
    DeviceKind,
    LabelledEnum,
    OrderType,
    RiskFlag,
    Rosh,
)
from openem.engine.schedule import MINUTES_PER_DAY, MINUTES_PER_WEEK, Window, format_hhmm, week_intervals

# The proposals an assessment is made for (issue 17): a court report, or a release from custody.
PROPOSAL_TYPES = (
    OrderType.COMMUNITY_ORDER,
    OrderType.SUSPENDED_SENTENCE_ORDER,
    OrderType.HDC,
    OrderType.LICENCE,
    OrderType.PAROLE_LICENCE,
)
ADULT_AGE = 18
AUDIT_MAX = 40  # the AUDIT questionnaire scores 0 to 40
AUDIT_LOWER_RISK_BELOW = 8  # WHO AUDIT manual (Babor et al. 2001): 0-7 is zone I, lower-risk drinking
HDC_MIN_SENTENCE_DAYS = 12 * 7  # CJA 2003 s.246 and the HDC policy framework: 12 weeks to under 4 years
HDC_MAX_SENTENCE_DAYS = 4 * 365  # a term of 4 years or more is excluded (4 years is 1,460 days or more)
VICTIM_WARNING_M = 1000  # chosen here; the portal passes its own setting
HIGH_ROSH = (Rosh.HIGH, Rosh.VERY_HIGH)


class Suitability(LabelledEnum):
    """The address conclusion; the same values as ``assessments.models.Suitability``."""

    NOT_ASSESSED = "not_assessed"
    SUITABLE = "suitable"
    NOT_SUITABLE = "not_suitable"


@dataclass(frozen=True)
class AddressFacts:
    """What the address assessment found about the proposed curfew address. ``None`` means not recorded."""

    conclusion: Suitability = Suitability.NOT_ASSESSED
    unsuitable_reason: str = ""
    no_measures_can_make_suitable: bool = False  # HDC: probation's statement when the address is unsuitable
    electricity_supply: bool | None = None
    occupier_consent: bool | None = None
    person_at_risk: bool = False  # the person may be a victim, not only a perpetrator, at this address
    distance_to_victim_m: float | None = None


@dataclass(frozen=True)
class AssessmentFacts:
    """The facts an assessment records that eligibility depends on."""

    proposal: OrderType
    age_years: int | None = None
    offences: tuple[str, ...] = ()
    acquisitive: bool = False  # burglary, theft, robbery and the like
    alcohol_link: bool = False  # alcohol an element of, or a factor in, the offending
    audit_score: int | None = None
    alcohol_dependent: bool = False  # assessed as dependent, whatever the AUDIT score
    alcohol_treatment_requirement: bool = False  # also proposed on the court order
    rosh: Rosh | None = None
    mappa_category: int | None = None
    mappa_level: int | None = None
    flags: frozenset[RiskFlag] = frozenset()
    victim_to_protect: bool = False
    victim_location_recorded: bool = False  # the victim's address or an exclusion area is recorded
    stable_address: bool = False
    address: AddressFacts | None = None  # the proposed curfew address, once it has been looked at
    offending_times: tuple[Window, ...] = ()
    proposed_curfew_windows: tuple[Window, ...] = ()
    sentence_days: int | None = None  # the custodial term, for HDC
    sex_offender_notification: bool = False  # subject to the Sexual Offences Act 2003 Part 2 notification

    def __post_init__(self) -> None:
        if self.proposal not in PROPOSAL_TYPES:
            allowed = ", ".join(t.label.lower() for t in PROPOSAL_TYPES)
            raise ValueError(f"proposal: an assessment is for a {allowed}, not a {self.proposal.label.lower()}")
        if self.audit_score is not None and not 0 <= self.audit_score <= AUDIT_MAX:
            raise ValueError(f"audit_score: {self.audit_score} is not an AUDIT score (0 to {AUDIT_MAX})")
        for name in ("mappa_category", "mappa_level"):
            value = getattr(self, name)
            if value is not None and value not in (1, 2, 3):
                raise ValueError(f"{name}: {value} is not a MAPPA {name.split('_')[1]} (1, 2 or 3)")

    @property
    def on_licence(self) -> bool:
        return self.proposal.is_licence


@dataclass(frozen=True)
class Candidate:
    """A requirement and the technology that would monitor it."""

    requirement: ConditionType
    device: DeviceKind
    alcohol_mode: AlcoholMode | None = None

    @property
    def key(self) -> str:
        """A stable name for forms and stored choices: "curfew:rf", "alcohol:alcohol:abstinence"."""
        parts = [self.requirement.value, self.device.value] + ([self.alcohol_mode.value] if self.alcohol_mode else [])
        return ":".join(parts)

    @property
    def label(self) -> str:
        if self.requirement == ConditionType.ALCOHOL:
            return f"Alcohol {'level' if self.alcohol_mode == AlcoholMode.LEVEL else 'abstinence'} monitoring"
        what = {
            ConditionType.TRAIL: "location monitoring (trail)",
            ConditionType.ATTENDANCE: "attendance monitoring",
        }.get(self.requirement, self.requirement.label.lower())
        return f"{'RF' if self.device == DeviceKind.RF else self.device.label} {what}"

    @property
    def title(self) -> str:
        """The label as the start of a sentence or a heading."""
        return self.label[0].upper() + self.label[1:]

    def alcohol_requirement(self, proposal: OrderType) -> AlcoholRequirement | None:
        """The legal form of alcohol monitoring: an AAMR on a court order, AML on a licence."""
        if self.requirement != ConditionType.ALCOHOL:
            return None
        return AlcoholRequirement.AAMR if proposal.is_court_order else AlcoholRequirement.AML


RF_CURFEW = Candidate(ConditionType.CURFEW, DeviceKind.RF)
GPS_CURFEW = Candidate(ConditionType.CURFEW, DeviceKind.GPS)
GPS_EXCLUSION_ZONE = Candidate(ConditionType.EXCLUSION_ZONE, DeviceKind.GPS)
GPS_TRAIL = Candidate(ConditionType.TRAIL, DeviceKind.GPS)
GPS_ATTENDANCE = Candidate(ConditionType.ATTENDANCE, DeviceKind.GPS)
ALCOHOL_ABSTINENCE = Candidate(ConditionType.ALCOHOL, DeviceKind.ALCOHOL, AlcoholMode.ABSTINENCE)
ALCOHOL_LEVEL = Candidate(ConditionType.ALCOHOL, DeviceKind.ALCOHOL, AlcoholMode.LEVEL)
CANDIDATES = (RF_CURFEW, GPS_CURFEW, GPS_EXCLUSION_ZONE, GPS_TRAIL, GPS_ATTENDANCE, ALCOHOL_ABSTINENCE, ALCOHOL_LEVEL)
BY_KEY = {c.key: c for c in CANDIDATES}


class Serves(LabelledEnum):
    YES = "yes"
    WITH_TRAIL = "with_trail"  # only combined with location monitoring
    AS_MONITORED_ZONE = "as_monitored_zone"  # only as an explicit GPS-monitored exclusion zone requirement


# The inspectorate's table (DESIGN.md section 4): which technology serves which requirement. A pair that
# is missing is a "no". The same on every proposal type, except that alcohol monitoring takes the legal
# form of the order (Candidate.alcohol_requirement).
TECHNOLOGY_TABLE: dict[ConditionType, dict[DeviceKind, Serves]] = {
    ConditionType.CURFEW: {DeviceKind.RF: Serves.YES, DeviceKind.GPS: Serves.WITH_TRAIL},
    ConditionType.EXCLUSION_ZONE: {DeviceKind.GPS: Serves.AS_MONITORED_ZONE},
    # Not in the inspectorate's table; monitored like an exclusion zone (chosen here).
    ConditionType.INCLUSION_ZONE: {DeviceKind.GPS: Serves.AS_MONITORED_ZONE},
    ConditionType.ATTENDANCE: {DeviceKind.GPS: Serves.WITH_TRAIL},
    ConditionType.TRAIL: {DeviceKind.GPS: Serves.YES},
    ConditionType.ALCOHOL: {DeviceKind.ALCOHOL: Serves.YES},
}


class RuleKind(LabelledEnum):
    SUGGESTION = "suggestion"
    REFUSAL = "refusal"
    NOTE = "note"


@dataclass(frozen=True)
class Rule:
    code: str
    kind: RuleKind
    says: str  # the rule in plain words, for docs and the "why" on screen
    source: str


@dataclass(frozen=True)
class Reason:
    rule: str
    message: str


@dataclass(frozen=True)
class Proposal:
    candidate: Candidate
    reasons: tuple[Reason, ...]  # every rule that suggested it
    alcohol_requirement: AlcoholRequirement | None = None


@dataclass(frozen=True)
class Refusal:
    candidate: Candidate
    rule: str
    path: str  # the fact that makes it ineligible, so a form can point at it
    message: str  # what is wrong and what would make it eligible
    suggested: bool = False  # a suggestion rule would have proposed it

    def __str__(self) -> str:
        return f"{self.candidate.label}: {self.message}"


@dataclass(frozen=True)
class Note:
    rule: str
    path: str
    message: str


@dataclass(frozen=True)
class Recommendation:
    proposed: tuple[Proposal, ...]
    refused: tuple[Refusal, ...]
    available: tuple[Candidate, ...]  # eligible, but nothing in the facts suggests it
    notes: tuple[Note, ...]

    def proposal(self, candidate: Candidate) -> Proposal | None:
        return next((p for p in self.proposed if p.candidate == candidate), None)

    def refusals(self, candidate: Candidate) -> list[Refusal]:
        return [r for r in self.refused if r.candidate == candidate]


Suggest = Callable[[AssessmentFacts], Iterable[tuple[Candidate, str]]]
Others = frozenset[Candidate]  # what else is proposed
Found = tuple[str, str] | None  # (path, message) when not eligible
Refuse = Callable[[AssessmentFacts, Candidate, Others], Found]
NoteCheck = Callable[[AssessmentFacts, float], Iterable[tuple[str, str]]]
T = TypeVar("T")

RULES: dict[str, Rule] = {}
SUGGESTIONS: dict[str, Suggest] = {}
REFUSALS: dict[str, Refuse] = {}
NOTES: dict[str, NoteCheck] = {}


def _rule(kind: RuleKind, registry: dict[str, Any], code: str, says: str, source: str) -> Callable[[T], T]:
    def register(fn: T) -> T:
        if code in RULES:
            raise ValueError(f"rule {code} is registered twice")
        RULES[code] = Rule(code, kind, says, source)
        registry[code] = fn
        return fn

    return register


def suggestion(code: str, says: str, source: str) -> Callable[[Suggest], Suggest]:
    return _rule(RuleKind.SUGGESTION, SUGGESTIONS, code, says, source)


def refusal(code: str, says: str, source: str) -> Callable[[Refuse], Refuse]:
    return _rule(RuleKind.REFUSAL, REFUSALS, code, says, source)


def note(code: str, says: str, source: str) -> Callable[[NoteCheck], NoteCheck]:
    return _rule(RuleKind.NOTE, NOTES, code, says, source)


# --- Suggestions -------------------------------------------------------------------------------------------


@suggestion(
    "HDC_CURFEW",
    "Release on home detention curfew is release on an electronically monitored curfew: an RF curfew is "
    "always proposed.",
    "CJA 2003 s.246 and s.253",
)
def _hdc_curfew(facts: AssessmentFacts) -> Iterable[tuple[Candidate, str]]:
    if facts.proposal == OrderType.HDC:
        yield RF_CURFEW, "home detention curfew is release on a monitored curfew at an approved address"


@suggestion(
    "STABLE_ADDRESS_CURFEW",
    "A stable address suggests an RF curfew: a home unit checks presence at the address during curfew hours.",
    "Issue 17",
)
def _stable_address_curfew(facts: AssessmentFacts) -> Iterable[tuple[Candidate, str]]:
    if facts.stable_address and facts.proposal != OrderType.HDC:
        yield RF_CURFEW, "there is a stable address, so a curfew there can be monitored by a home unit"


@suggestion(
    "VICTIM_EXCLUSION_ZONE",
    "A victim to protect suggests a GPS-monitored exclusion zone around them, with the location monitoring it needs.",
    "Issue 17; DESIGN.md section 4 (an exclusion zone is monitored only as an explicit GPS-monitored zone)",
)
def _victim_exclusion_zone(facts: AssessmentFacts) -> Iterable[tuple[Candidate, str]]:
    if facts.victim_to_protect:
        yield (
            GPS_EXCLUSION_ZONE,
            "there is a victim to protect: a GPS-monitored exclusion zone alerts if the person enters it",
        )
        yield GPS_TRAIL, "the exclusion zone protecting the victim is monitored through GPS location monitoring"


@suggestion(
    "ACQUISITIVE_TRAIL",
    "Acquisitive offending (burglary, theft, robbery) suggests GPS location monitoring, which police crime "
    "matching can check against reported crimes.",
    "Issue 17; the Ministry of Justice acquisitive crime project (2022)",
)
def _acquisitive_trail(facts: AssessmentFacts) -> Iterable[tuple[Candidate, str]]:
    if facts.acquisitive:
        yield (
            GPS_TRAIL,
            "the offending is acquisitive: location monitoring can place the person at, or away from, crimes",
        )


@suggestion(
    "HIGH_RISK_TRAIL",
    "A high or very high Risk of Serious Harm, or MAPPA level 2 or 3, suggests GPS location monitoring to "
    "support the risk management plan.",
    "Chosen here, after the inspectorate's recommendation 13 (record how monitoring supports risk management)",
)
def _high_risk_trail(facts: AssessmentFacts) -> Iterable[tuple[Candidate, str]]:
    if facts.rosh is not None and facts.rosh in HIGH_ROSH:
        yield GPS_TRAIL, f"Risk of Serious Harm is {facts.rosh.label.lower()}: location monitoring supports managing it"
    elif facts.mappa_level in (2, 3):
        yield GPS_TRAIL, f"MAPPA level {facts.mappa_level}: location monitoring supports the multi-agency plan"


@suggestion(
    "ALCOHOL_LINK_MONITORING",
    "Offending linked to alcohol suggests alcohol abstinence monitoring with a transdermal tag: an AAMR on a "
    "court order, alcohol monitoring on licence (AML) on release.",
    "Sentencing Act 2020 Sch 9 (alcohol abstinence and monitoring requirement); AML licence condition",
)
def _alcohol_link_monitoring(facts: AssessmentFacts) -> Iterable[tuple[Candidate, str]]:
    if facts.alcohol_link:
        yield ALCOHOL_ABSTINENCE, "alcohol is linked to the offending: a transdermal tag can check abstinence"


# --- Refusals ----------------------------------------------------------------------------------------------
# Each returns (path, message) when the candidate is not eligible; ``alongside`` is what else is proposed.


@refusal(
    "ADULT_COURT_ORDER",
    "Community orders and suspended sentence orders are for people aged 18 or over.",
    "Sentencing Act 2020 (a person under 18 gets a youth rehabilitation order, outside OpenEM)",
)
def _adult_court_order(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if facts.proposal.is_court_order and facts.age_years is not None and facts.age_years < ADULT_AGE:
        return "age_years", (
            f"the person is {facts.age_years}; a {facts.proposal.label.lower()} is for people aged {ADULT_AGE} or "
            "over. Monitoring for a child is a requirement of a youth rehabilitation order"
        )
    return None


@refusal(
    "HDC_SENTENCE_LENGTH",
    "Home detention curfew is for a custodial term of at least 12 weeks and under 4 years.",
    "CJA 2003 s.246; HDC policy framework",
)
def _hdc_sentence_length(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if facts.proposal != OrderType.HDC:
        return None
    days = facts.sentence_days
    if days is None:
        return (
            "sentence_days",
            "record the length of the custodial sentence: HDC is for terms of 12 weeks to under 4 years",
        )
    if days < HDC_MIN_SENTENCE_DAYS:
        return "sentence_days", f"a sentence of {days} days is under 12 weeks, too short for home detention curfew"
    if days >= HDC_MAX_SENTENCE_DAYS:
        return "sentence_days", (
            f"a sentence of {days} days is 4 years or more, which the law excludes from home detention curfew; "
            "monitoring can be proposed as a licence condition at the release date instead"
        )
    return None


@refusal(
    "HDC_SEX_OFFENDER",
    "A person subject to sex offender notification requirements cannot be released on home detention curfew.",
    "CJA 2003 s.246(4)",
)
def _hdc_sex_offender(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if facts.proposal == OrderType.HDC and facts.sex_offender_notification:
        return "sex_offender_notification", (
            "the person is subject to sex offender notification requirements, which the law excludes from home "
            "detention curfew; monitoring can be proposed as a licence condition at the release date instead"
        )
    return None


@refusal(
    "TECHNOLOGY_TABLE",
    "Each requirement can be monitored only by the technology the inspectorate's table gives it: a curfew by RF "
    "(or GPS with location monitoring), an exclusion zone, attendance and whereabouts by GPS, alcohol by an "
    "alcohol tag.",
    "DESIGN.md section 4, the inspectorate's table",
)
def _technology_table(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    served = TECHNOLOGY_TABLE.get(cand.requirement, {})
    if cand.device in served:
        return None
    by = " or ".join(_device_name(d) for d in served) or "no technology"
    return "technology", (
        f"{_device_name(cand.device)} cannot monitor {_requirement_name(cand.requirement)}; it is monitored by {by}"
    )


@refusal(
    "GPS_NEEDS_TRAIL",
    "A GPS curfew, a GPS exclusion zone and attendance at appointments are monitored through GPS location "
    "monitoring, so they need a trail requirement as well.",
    "DESIGN.md section 4, the inspectorate's table",
)
def _gps_needs_trail(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    served = TECHNOLOGY_TABLE.get(cand.requirement, {}).get(cand.device)
    if served in (Serves.WITH_TRAIL, Serves.AS_MONITORED_ZONE) and GPS_TRAIL not in alongside:
        return "technology", (
            f"{_requirement_name(cand.requirement)} can be monitored by GPS only together with location monitoring: "
            "add GPS location monitoring (trail)"
            + (", or use an RF curfew" if cand.requirement == ConditionType.CURFEW else "")
        )
    return None


@refusal(
    "CURFEW_NEEDS_ADDRESS",
    "A curfew needs an address to be curfewed to.",
    "Sentencing Act 2020 Sch 9 para 9 (a curfew requirement specifies the place); CJA 2003 s.253",
)
def _curfew_needs_address(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if cand.requirement == ConditionType.CURFEW and facts.address is None and not facts.stable_address:
        return "address", (
            "there is no stable address to curfew the person to: propose an address (for example approved "
            "premises or Community Accommodation Service accommodation) and assess it"
        )
    return None


@refusal(
    "CURFEW_ADDRESS_ASSESSED",
    "A curfew can be recommended only at an address that has been assessed, with a conclusion recorded.",
    "Sentencing Act 2020 Sch 9 para 10 (the court must have information about each place); DESIGN.md section 4 "
    "(HDC address); issue 17",
)
def _curfew_address_assessed(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if cand.requirement != ConditionType.CURFEW or (facts.address is None and not facts.stable_address):
        return None
    if facts.address is None or facts.address.conclusion == Suitability.NOT_ASSESSED:
        return "address.conclusion", (
            "the curfew address has not been assessed: record the occupants, the occupier's consent, the "
            "electricity supply and a home visit, and conclude whether it is suitable"
        )
    return None


@refusal(
    "CURFEW_ADDRESS_UNSUITABLE",
    "No curfew at an address found unsuitable; for HDC, probation must also state that no measures can make it "
    "suitable.",
    "DESIGN.md section 4 (HDC address); inspectorate recommendation 11",
)
def _curfew_address_unsuitable(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    addr = facts.address
    if cand.requirement != ConditionType.CURFEW or addr is None or addr.conclusion != Suitability.NOT_SUITABLE:
        return None
    why = f" ({addr.unsuitable_reason})" if addr.unsuitable_reason else ""
    message = f"the curfew address was found unsuitable{why}: propose and assess another address"
    if facts.proposal == OrderType.HDC and not addr.no_measures_can_make_suitable:
        message += "; for HDC, also record whether any measures could make this address suitable"
    return "address.conclusion", message


@refusal(
    "CURFEW_PERSON_AT_RISK",
    "No curfew at an address where the person may themselves be a victim; record the alternative accommodation.",
    "Issue 17 (the inspectorate's cases)",
)
def _curfew_person_at_risk(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if cand.requirement == ConditionType.CURFEW and facts.address is not None and facts.address.person_at_risk:
        return "address.person_at_risk", (
            "the checks say the person may be at risk at the curfew address: it is unsuitable. Record the "
            "alternative accommodation and assess that address"
        )
    return None


@refusal(
    "CURFEW_OCCUPIER_CONSENT",
    "A curfew at someone's home needs the main occupier's consent.",
    "Sentencing Act 2020 Sch 9 para 10(2) and para 33 (consent of a person whose co-operation is required); "
    "HDC policy framework",
)
def _curfew_occupier_consent(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    addr = facts.address
    if cand.requirement != ConditionType.CURFEW or addr is None or addr.occupier_consent:
        return None
    if addr.occupier_consent is None:
        return (
            "address.occupier_consent",
            "the main occupier's consent to the curfew is not recorded: ask them and record the answer",
        )
    return "address.occupier_consent", (
        "the main occupier does not consent to the curfew at their home: propose an address whose occupier consents"
    )


@refusal(
    "RF_NEEDS_ELECTRICITY",
    "An RF curfew needs an electricity supply at the address for the home unit.",
    "Issue 17 (address suitability)",
)
def _rf_needs_electricity(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    addr = facts.address
    if cand != RF_CURFEW or addr is None or addr.electricity_supply:
        return None
    if addr.electricity_supply is None:
        return "address.electricity_supply", (
            "the electricity supply at the curfew address is not recorded: the RF home unit needs one"
        )
    return "address.electricity_supply", (
        "there is no electricity supply at the curfew address, and the RF home unit needs one: the RF curfew becomes "
        "eligible once a supply is connected, or at another address that has one"
    )


@refusal(
    "ALCOHOL_NEEDS_LINK",
    "Alcohol monitoring needs alcohol to be an element of the offence or a factor in it.",
    "Sentencing Act 2020 Sch 9 (alcohol abstinence and monitoring requirement); AML licence condition",
)
def _alcohol_needs_link(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if cand.requirement == ConditionType.ALCOHOL and not facts.alcohol_link:
        return "alcohol_link", (
            "no link between alcohol and the offending is recorded: alcohol monitoring is only for offending "
            "where alcohol was an element or a contributing factor"
        )
    return None


@refusal(
    "ALCOHOL_NOT_DEPENDENT",
    "Alcohol monitoring is not for a person assessed as dependent on alcohol.",
    "Sentencing Act 2020 Sch 9 (the court must be satisfied the person is not dependent); applied to AML too, "
    "chosen here, because stopping suddenly is dangerous for a dependent drinker",
)
def _alcohol_not_dependent(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    if cand.requirement == ConditionType.ALCOHOL and facts.alcohol_dependent:
        return "alcohol_dependent", (
            "the person is assessed as dependent on alcohol, and alcohol monitoring is not for dependent drinkers: "
            "consider an alcohol treatment requirement or referral to treatment instead"
        )
    return None


@refusal(
    "AUDIT_RECORDED",
    "Alcohol monitoring for offending linked to alcohol needs an AUDIT score, the evidence that the person is not "
    "dependent.",
    "Chosen here: the court must be satisfied the person is not dependent (Sentencing Act 2020 Sch 9) and "
    "DESIGN.md measures dependency by the AUDIT score",
)
def _audit_recorded(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    # Without an alcohol link ALCOHOL_NEEDS_LINK already refuses; asking for a score as well would be noise.
    if cand.requirement == ConditionType.ALCOHOL and facts.alcohol_link and facts.audit_score is None:
        return (
            "audit_score",
            "no AUDIT score is recorded: complete the AUDIT screening to show the person is not dependent",
        )
    return None


@refusal(
    "AUDIT_DEPENDENT",
    f"An AUDIT score of {AUDIT_DEPENDENT} or more suggests dependency: no alcohol monitoring.",
    "DESIGN.md section 4 (AAMR row); the same on licence, chosen here",
)
def _audit_dependent(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    score = facts.audit_score
    if cand.requirement == ConditionType.ALCOHOL and score is not None and score >= AUDIT_DEPENDENT:
        return "audit_score", (
            f"an AUDIT score of {score} suggests alcohol dependency, and alcohol monitoring is only for scores under "
            f"{AUDIT_DEPENDENT}: consider an alcohol treatment requirement or referral to treatment instead"
        )
    return None


@refusal(
    "AAMR_NOT_WITH_TREATMENT",
    "An AAMR cannot be made together with an alcohol treatment requirement.",
    "Sentencing Act 2020 Sch 9 (AAMR); DESIGN.md section 4",
)
def _aamr_not_with_treatment(facts: AssessmentFacts, cand: Candidate, alongside: Others) -> Found:
    aamr = cand.alcohol_requirement(facts.proposal) == AlcoholRequirement.AAMR
    if aamr and facts.alcohol_treatment_requirement:
        return "alcohol_treatment_requirement", (
            "an alcohol treatment requirement is also proposed, and an AAMR cannot be made with one: propose one "
            "or the other"
        )
    return None


# --- Notes -------------------------------------------------------------------------------------------------


@note(
    "ABUSE_FLAG_NO_VICTIM",
    "A domestic-abuse or stalking flag with no victim to protect recorded is worth a second look.",
    "Chosen here, after the inspectorate's finding that checks were skipped",
)
def _abuse_flag_no_victim(facts: AssessmentFacts, victim_warning_m: float) -> Iterable[tuple[str, str]]:
    flagged = sorted(f.label.lower() for f in facts.flags & {RiskFlag.DOMESTIC_ABUSE, RiskFlag.STALKING})
    if flagged and not facts.victim_to_protect:
        yield (
            "victim_to_protect",
            (
                f"the risk flags include {' and '.join(flagged)} but no victim to protect is recorded: check whether "
                "there is one, and whether an exclusion zone should protect them"
            ),
        )


@note(
    "VICTIM_LOCATION_MISSING",
    "An exclusion zone for a victim needs the victim's address or the area to exclude.",
    "Issue 17",
)
def _victim_location_missing(facts: AssessmentFacts, victim_warning_m: float) -> Iterable[tuple[str, str]]:
    if facts.victim_to_protect and not facts.victim_location_recorded:
        yield (
            "victim_location_recorded",
            (
                "there is a victim to protect but neither their address nor an exclusion area is recorded: record one, "
                "so the zone can be drawn and its distance from the curfew address checked"
            ),
        )


@note(
    "VICTIM_NEAR_ADDRESS",
    "A curfew address close to the victim's address or exclusion zone is flagged (the distance is a setting).",
    "Issue 17; DESIGN.md section 1 (people were curfewed to addresses near their victims)",
)
def _victim_near_address(facts: AssessmentFacts, victim_warning_m: float) -> Iterable[tuple[str, str]]:
    distance = facts.address.distance_to_victim_m if facts.address else None
    if distance is not None and distance < victim_warning_m:
        yield (
            "address.distance_to_victim_m",
            (
                f"the curfew address is {distance:,.0f} m from the victim's address or exclusion zone, under "
                f"{victim_warning_m:,.0f} m: say in the assessment why it is still suitable, or propose another address"
            ),
        )


@note(
    "CURFEW_MISSES_OFFENDING",
    "The proposed curfew windows are compared with the times of day of the offending: can the curfew disrupt "
    "the pattern?",
    "Issue 17",
)
def _curfew_misses_offending(facts: AssessmentFacts, victim_warning_m: float) -> Iterable[tuple[str, str]]:
    if not facts.offending_times or not facts.proposed_curfew_windows:
        return
    cover = curfew_coverage(facts.offending_times, facts.proposed_curfew_windows)
    if not cover.full:
        missed = "; ".join(describe_run(start, end) for start, end in cover.uncovered)
        yield (
            "proposed_curfew_windows",
            (
                f"the proposed curfew covers {cover.percent}% of the times the offending happened; not covered: "
                f"{missed}. Move or extend the windows if the curfew is to disrupt the pattern"
            ),
        )


@note(
    "AUDIT_LOWER_RISK",
    f"An AUDIT score under {AUDIT_LOWER_RISK_BELOW} is lower-risk drinking: check the alcohol link before "
    "proposing alcohol monitoring.",
    "WHO AUDIT manual (2001), zone I; chosen here as a note, not a refusal, since the law asks for a link to "
    "the offence, not a minimum score",
)
def _audit_lower_risk(facts: AssessmentFacts, victim_warning_m: float) -> Iterable[tuple[str, str]]:
    score = facts.audit_score
    if facts.alcohol_link and score is not None and score < AUDIT_LOWER_RISK_BELOW:
        yield (
            "audit_score",
            (
                f"an AUDIT score of {score} is lower-risk drinking: say in the assessment how alcohol is linked to the "
                "offending, or whether alcohol monitoring is needed"
            ),
        )


# --- Evaluation --------------------------------------------------------------------------------------------


def check(
    facts: AssessmentFacts, candidate: Candidate, alongside: Iterable[Candidate] = (), suggested: bool = False
) -> list[Refusal]:
    """Every reason ``candidate`` is not eligible (none: it is), for a practitioner's own choice as much as ours."""
    others = frozenset(alongside)
    out = []
    for code, fn in REFUSALS.items():
        found = fn(facts, candidate, others)
        if found:
            out.append(Refusal(candidate, code, found[0], found[1], suggested))
    return out


def assess(facts: AssessmentFacts, victim_warning_m: float = VICTIM_WARNING_M) -> Recommendation:
    """What OpenEM proposes, refuses and leaves available for these facts, each with the rule behind it."""
    reasons: dict[Candidate, list[Reason]] = {}
    for code, suggest in SUGGESTIONS.items():
        for cand, message in suggest(facts):
            reasons.setdefault(cand, []).append(Reason(code, message))
    # GPS requirements are judged on the assumption that location monitoring comes with them, when it can;
    # the trail is then proposed alongside (VICTIM_EXCLUSION_ZONE) or left for the practitioner to add.
    alongside = frozenset() if check(facts, GPS_TRAIL) else frozenset({GPS_TRAIL})
    proposed, refused, available = [], [], []
    for cand in (*CANDIDATES, *(c for c in reasons if c not in CANDIDATES)):
        why = reasons.get(cand)
        refusals = check(facts, cand, alongside, suggested=bool(why))
        if refusals:
            refused.extend(refusals)
        elif why:
            proposed.append(Proposal(cand, tuple(why), cand.alcohol_requirement(facts.proposal)))
        else:
            available.append(cand)
    notes = [Note(code, path, message) for code, fn in NOTES.items() for path, message in fn(facts, victim_warning_m)]
    return Recommendation(tuple(proposed), tuple(refused), tuple(available), tuple(notes))


# --- Curfew windows against the times of the offending -----------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    offending_min: int  # minutes of the week in which offending happened
    covered_min: int  # of those, minutes inside a curfew window
    uncovered: tuple[tuple[int, int], ...]  # [start, end) week-minutes of offending time outside the curfew

    @property
    def full(self) -> bool:
        return self.covered_min == self.offending_min

    @property
    def percent(self) -> int:
        return 100 if not self.offending_min else self.covered_min * 100 // self.offending_min


def _week_mask(windows: Iterable[Window]) -> bytearray:
    mask = bytearray(MINUTES_PER_WEEK)
    for start, end, _ in week_intervals(tuple(windows)):
        mask[start:end] = b"\x01" * (end - start)
    return mask


def curfew_coverage(offending: Iterable[Window], curfew: Iterable[Window]) -> Coverage:
    """How much of the offending times the curfew windows cover; overnight windows wrap as the schedule does."""
    offend, home = _week_mask(offending), _week_mask(curfew)
    runs: list[tuple[int, int]] = []
    covered = total = 0
    start = None
    for minute in range(MINUTES_PER_WEEK + 1):
        missed = minute < MINUTES_PER_WEEK and offend[minute] and not home[minute]
        if minute < MINUTES_PER_WEEK and offend[minute]:
            total += 1
            covered += bool(home[minute])
        if missed and start is None:
            start = minute
        elif not missed and start is not None:
            runs.append((start, minute))
            start = None
    # A run to the end of Sunday that carries on from Monday 00:00 is one stretch of time.
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == MINUTES_PER_WEEK:
        runs = [(runs[-1][0], runs[0][1] + MINUTES_PER_WEEK), *runs[1:-1]]
    return Coverage(total, covered, tuple(runs))


def describe_run(start: int, end: int) -> str:
    """A stretch of the week in words: "Friday 21:00 to 23:00", or "Friday 23:00 to Saturday 01:00"."""
    days = list(Day)
    first = days[(start // MINUTES_PER_DAY) % 7]
    last = days[((end - 1) // MINUTES_PER_DAY) % 7]
    until = format_hhmm(end % MINUTES_PER_DAY) if end % MINUTES_PER_DAY else "24:00"
    if first == last:
        return f"{first.label} {format_hhmm(start % MINUTES_PER_DAY)} to {until}"
    return f"{first.label} {format_hhmm(start % MINUTES_PER_DAY)} to {last.label} {until}"


def _device_name(device: DeviceKind) -> str:
    return {
        DeviceKind.RF: "a radio-frequency tag",
        DeviceKind.GPS: "a GPS tag",
        DeviceKind.ALCOHOL: "an alcohol tag",
    }.get(device, device.label.lower())


def _requirement_name(requirement: ConditionType) -> str:
    return {
        ConditionType.CURFEW: "a curfew",
        ConditionType.EXCLUSION_ZONE: "an exclusion zone",
        ConditionType.INCLUSION_ZONE: "an inclusion zone",
        ConditionType.ATTENDANCE: "attendance at appointments",
        ConditionType.TRAIL: "whereabouts (trail)",
        ConditionType.ALCOHOL: "alcohol",
    }[requirement]
