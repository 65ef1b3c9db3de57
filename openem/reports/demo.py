"""Equality monitoring answers for the demo caseload: varied, some questions not recorded, some answered
"prefer not to say", and a few people with no record at all (as on a real caseload)."""

from __future__ import annotations

import random
from typing import Any

from .equality import Disability, EthnicGroup, GenderIdentity, Religion, Sex, SexualOrientation

# Rough shares, England and Wales (2021 census), for a demo that looks like a caseload.
ETHNIC = [(EthnicGroup.WHITE_BRITISH, 70), (EthnicGroup.OTHER_WHITE, 6), (EthnicGroup.WHITE_IRISH, 1),
          (EthnicGroup.GYPSY_OR_IRISH_TRAVELLER, 1), (EthnicGroup.INDIAN, 3), (EthnicGroup.PAKISTANI, 3),
          (EthnicGroup.BANGLADESHI, 1), (EthnicGroup.CARIBBEAN, 3), (EthnicGroup.AFRICAN, 3),
          (EthnicGroup.WHITE_AND_BLACK_CARIBBEAN, 3), (EthnicGroup.ARAB, 1), (EthnicGroup.ANY_OTHER, 1),
          (EthnicGroup.PREFER_NOT_TO_SAY, 4)]  # fmt: skip
RELIGION = [(Religion.NO_RELIGION, 45), (Religion.CHRISTIAN, 35), (Religion.MUSLIM, 8), (Religion.HINDU, 2),
            (Religion.SIKH, 2), (Religion.OTHER, 2), (Religion.PREFER_NOT_TO_SAY, 6)]  # fmt: skip
DISABILITY = [(Disability.NOT_DISABLED, 70), (Disability.LIMITED_A_LITTLE, 12), (Disability.LIMITED_A_LOT, 10),
              (Disability.PREFER_NOT_TO_SAY, 8)]  # fmt: skip
SEX = [(Sex.MALE, 88), (Sex.FEMALE, 11), (Sex.PREFER_NOT_TO_SAY, 1)]
GENDER = [(GenderIdentity.SAME, 93), (GenderIdentity.DIFFERENT, 1), (GenderIdentity.PREFER_NOT_TO_SAY, 6)]
ORIENTATION = [(SexualOrientation.STRAIGHT, 84), (SexualOrientation.GAY_OR_LESBIAN, 3),
               (SexualOrientation.BISEXUAL, 3), (SexualOrientation.PREFER_NOT_TO_SAY, 10)]  # fmt: skip


def _pick(rng: random.Random, options: list[tuple[Any, int]], not_recorded: float) -> str:
    if rng.random() < not_recorded:
        return ""
    values, weights = zip(*options, strict=True)
    return str(rng.choices(values, weights)[0].value)


def answers(rng: random.Random) -> dict[str, str]:
    return {
        "ethnic_group": _pick(rng, ETHNIC, 0.08),
        "religion": _pick(rng, RELIGION, 0.2),
        "disability": _pick(rng, DISABILITY, 0.15),
        "sex": _pick(rng, SEX, 0.02),
        "gender_identity": _pick(rng, GENDER, 0.25),
        "sexual_orientation": _pick(rng, ORIENTATION, 0.3),
    }


def demo_equality(seed: int = 1) -> int:
    """Equality records for the people who have none; nine in ten people have one."""
    from openem.cases.models import Person

    from .models import EqualityRecord

    rng = random.Random(seed)
    have = set(EqualityRecord.objects.values_list("person_id", flat=True))
    people = list(Person.objects.exclude(pk__in=have).order_by("pk").select_related("practitioner"))
    made = [EqualityRecord(person=p, recorded_by=p.practitioner, **answers(rng)) for p in people if rng.random() < 0.9]
    EqualityRecord.objects.bulk_create(made)
    return len(made)
