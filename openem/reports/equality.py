"""Equality monitoring vocabularies: the Office for National Statistics' 2021 census questions for England
and Wales. Each is optional: an empty value is "not recorded" (nobody asked, or nobody wrote the answer
down); PREFER_NOT_TO_SAY is an answer the person gave. The two are kept apart everywhere, the statistics
included, because a high share of either means different things (a process not followed, or trust lost).
"""

from __future__ import annotations

from datetime import date

from openem.engine.enums import LabelledEnum

NOT_RECORDED = "not_recorded"  # the group statistics show for an empty field
NOT_RECORDED_LABEL = "Not recorded"
PREFER_NOT_TO_SAY_LABEL = "Prefer not to say"


class EthnicGroupHigh(LabelledEnum):
    """The five high-level groups of the 2021 census (England and Wales)."""

    ASIAN = "asian"
    BLACK = "black"
    MIXED = "mixed"
    WHITE = "white"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"

    @property
    def label(self) -> str:
        return {
            "asian": "Asian, Asian British or Asian Welsh",
            "black": "Black, Black British, Black Welsh, Caribbean or African",
            "mixed": "Mixed or Multiple ethnic groups",
            "white": "White",
            "other": "Other ethnic group",
            "prefer_not_to_say": PREFER_NOT_TO_SAY_LABEL,
        }[self.value]


class EthnicGroup(LabelledEnum):
    """The 19 detailed categories of the 2021 census (England and Wales), each within a high-level group."""

    BANGLADESHI = "asian_bangladeshi"
    CHINESE = "asian_chinese"
    INDIAN = "asian_indian"
    PAKISTANI = "asian_pakistani"
    OTHER_ASIAN = "asian_other"
    AFRICAN = "black_african"
    CARIBBEAN = "black_caribbean"
    OTHER_BLACK = "black_other"
    WHITE_AND_ASIAN = "mixed_white_asian"
    WHITE_AND_BLACK_AFRICAN = "mixed_white_black_african"
    WHITE_AND_BLACK_CARIBBEAN = "mixed_white_black_caribbean"
    OTHER_MIXED = "mixed_other"
    WHITE_BRITISH = "white_british"
    WHITE_IRISH = "white_irish"
    GYPSY_OR_IRISH_TRAVELLER = "white_gypsy_traveller"
    ROMA = "white_roma"
    OTHER_WHITE = "white_other"
    ARAB = "other_arab"
    ANY_OTHER = "other_any"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"

    @property
    def label(self) -> str:
        return {
            "asian_bangladeshi": "Asian: Bangladeshi",
            "asian_chinese": "Asian: Chinese",
            "asian_indian": "Asian: Indian",
            "asian_pakistani": "Asian: Pakistani",
            "asian_other": "Asian: any other Asian background",
            "black_african": "Black: African",
            "black_caribbean": "Black: Caribbean",
            "black_other": "Black: any other Black, Black British or Caribbean background",
            "mixed_white_asian": "Mixed: White and Asian",
            "mixed_white_black_african": "Mixed: White and Black African",
            "mixed_white_black_caribbean": "Mixed: White and Black Caribbean",
            "mixed_other": "Mixed: any other Mixed or Multiple ethnic background",
            "white_british": "White: English, Welsh, Scottish, Northern Irish or British",
            "white_irish": "White: Irish",
            "white_gypsy_traveller": "White: Gypsy or Irish Traveller",
            "white_roma": "White: Roma",
            "white_other": "White: any other White background",
            "other_arab": "Other ethnic group: Arab",
            "other_any": "Other ethnic group: any other ethnic group",
            "prefer_not_to_say": PREFER_NOT_TO_SAY_LABEL,
        }[self.value]

    @property
    def high_level(self) -> EthnicGroupHigh:
        if self == EthnicGroup.PREFER_NOT_TO_SAY:
            return EthnicGroupHigh.PREFER_NOT_TO_SAY
        return EthnicGroupHigh(self.value.split("_", 1)[0])


class Religion(LabelledEnum):
    NO_RELIGION = "no_religion"
    CHRISTIAN = "christian"
    BUDDHIST = "buddhist"
    HINDU = "hindu"
    JEWISH = "jewish"
    MUSLIM = "muslim"
    SIKH = "sikh"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"

    @property
    def label(self) -> str:
        return {
            "no_religion": "No religion",
            "christian": "Christian (all denominations)",
            "buddhist": "Buddhist",
            "hindu": "Hindu",
            "jewish": "Jewish",
            "muslim": "Muslim",
            "sikh": "Sikh",
            "other": "Any other religion",
            "prefer_not_to_say": PREFER_NOT_TO_SAY_LABEL,
        }[self.value]


class Disability(LabelledEnum):
    """Disabled under the Equality Act 2010: the census asks whether day-to-day activities are limited."""

    LIMITED_A_LOT = "limited_a_lot"
    LIMITED_A_LITTLE = "limited_a_little"
    NOT_DISABLED = "not_disabled"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"

    @property
    def label(self) -> str:
        return {
            "limited_a_lot": "Disabled: day-to-day activities limited a lot",
            "limited_a_little": "Disabled: day-to-day activities limited a little",
            "not_disabled": "Not disabled",
            "prefer_not_to_say": PREFER_NOT_TO_SAY_LABEL,
        }[self.value]


class Sex(LabelledEnum):
    FEMALE = "female"
    MALE = "male"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"

    @property
    def label(self) -> str:
        return {"female": "Female", "male": "Male", "prefer_not_to_say": PREFER_NOT_TO_SAY_LABEL}[self.value]


class GenderIdentity(LabelledEnum):
    """The census question: is the gender you identify with the same as your sex registered at birth?"""

    SAME = "same"
    DIFFERENT = "different"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"

    @property
    def label(self) -> str:
        return {
            "same": "Same as sex registered at birth",
            "different": "Different from sex registered at birth",
            "prefer_not_to_say": PREFER_NOT_TO_SAY_LABEL,
        }[self.value]


class SexualOrientation(LabelledEnum):
    STRAIGHT = "straight"
    GAY_OR_LESBIAN = "gay_or_lesbian"
    BISEXUAL = "bisexual"
    OTHER = "other"
    PREFER_NOT_TO_SAY = "prefer_not_to_say"

    @property
    def label(self) -> str:
        return {
            "straight": "Straight or heterosexual",
            "gay_or_lesbian": "Gay or lesbian",
            "bisexual": "Bisexual",
            "other": "Any other sexual orientation",
            "prefer_not_to_say": PREFER_NOT_TO_SAY_LABEL,
        }[self.value]


# Age bands of HMPPS equality reporting; age is on the period's last day, from the date of birth.
AGE_BANDS = ((17, "under_18", "Under 18"), (24, "18_24", "18 to 24"), (29, "25_29", "25 to 29"),
             (39, "30_39", "30 to 39"), (49, "40_49", "40 to 49"), (59, "50_59", "50 to 59"),
             (200, "60_plus", "60 and over"))  # fmt: skip


def age_band(dob: date | None, on: date) -> str:
    if dob is None:
        return NOT_RECORDED
    age = on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))
    return next(code for upper, code, _label in AGE_BANDS if age <= upper)


def age_band_label(code: str) -> str:
    return next((label for _u, c, label in AGE_BANDS if c == code), NOT_RECORDED_LABEL)
