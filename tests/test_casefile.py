"""The case file format: parsing, round trip, and errors with their paths."""

from __future__ import annotations

from typing import Any

import pytest

from openem.engine import casefile
from openem.engine.casefile import CaseFileError
from openem.engine.enums import ConditionType, OrderType


def errors_of(data: Any) -> list[str]:
    with pytest.raises(CaseFileError) as exc:
        casefile.parse(data)
    return exc.value.errors


def test_the_example_in_formats_parses(example_file):
    cf = casefile.parse(example_file)
    person = cf.people[0]
    assert person.name == "Sam Example"
    order = person.orders[0]
    assert order.type == OrderType.COMMUNITY_ORDER
    assert [c.type for c in order.conditions] == [
        ConditionType.CURFEW,
        ConditionType.EXCLUSION_ZONE,
        ConditionType.INCLUSION_ZONE,
        ConditionType.ATTENDANCE,
        ConditionType.TRAIL,
        ConditionType.ALCOHOL,
    ]
    curfew = order.conditions[0]
    assert curfew.windows[0].overnight and curfew.windows[0].duration_min == 12 * 60


def test_round_trip_keeps_every_field(example_file):
    cf = casefile.parse(example_file)
    again = casefile.parse(cf.to_json())
    assert again.to_json() == cf.to_json()
    c1 = cf.to_json()["people"][0]["orders"][0]["conditions"][0]
    assert c1["windows"][0] == {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "19:00",
        "end": "07:00",
    }


def test_a_bad_time_is_reported_with_its_full_path(example_file):
    example_file["people"][0]["orders"][0]["conditions"][0]["windows"][0]["end"] = "25:00"
    assert errors_of(example_file) == ['people[0].orders[0].conditions[0].windows[0].end: "25:00" is not a time']


def test_every_error_is_reported_at_once(example_file):
    order = example_file["people"][0]["orders"][0]
    order["type"] = "custody"
    order["conditions"][0]["windows"][0]["start"] = "7pm"
    del order["conditions"][1]["area"]
    order["conditions"][3]["place"]["lat"] = 123
    example_file["people"][0]["devices"][0]["kind"] = "ankle"
    errs = errors_of(example_file)
    assert (
        'people[0].orders[0].type: "custody" is not one of "community_order", "suspended_sentence_order", '
        '"hdc", "licence", "parole_licence", "post_sentence_supervision", "bail"' in errs
    )
    assert 'people[0].orders[0].conditions[0].windows[0].start: "7pm" is not a time' in errs
    assert 'people[0].orders[0].conditions[1]: "area" is missing' in errs
    assert "people[0].orders[0].conditions[3].place.lat: 123 is above the maximum 90" in errs
    assert any(e.startswith('people[0].devices[0].kind: "ankle" is not one of') for e in errs)
    assert len(errs) == 5


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["people"][0].pop("name"), 'people[0]: "name" is missing'),
        (lambda d: d.update(format="openem-cases/2"), 'format: must be "openem-cases/1", not "openem-cases/2"'),
        (
            lambda d: d["people"][0]["orders"][0].update(start="2026-13-01"),
            'people[0].orders[0].start: "2026-13-01" is not a date (YYYY-MM-DD)',
        ),
        (
            lambda d: d["people"][0]["orders"][0]["conditions"][3]["appointments"][0].update(start="2026-11-05 10:00"),
            'people[0].orders[0].conditions[3].appointments[0].start: "2026-11-05 10:00" '
            "is not a date-time with an offset",
        ),
        (
            lambda d: d["people"][0]["orders"][0]["conditions"][0].update(colour="red"),
            'people[0].orders[0].conditions[0]: unknown field "colour"',
        ),
        (
            lambda d: d["people"][0]["orders"][0]["conditions"][5].update(mode="level"),
            'people[0].orders[0].conditions[5]: "level_g_dl" is missing',
        ),
        (
            lambda d: d["people"][0]["orders"][0]["conditions"][2]["area"].update(radius_m=-5),
            "people[0].orders[0].conditions[2].area.radius_m: -5 is not above 0",
        ),
    ],
)
def test_structural_errors_say_what_and_where(example_file, mutate, expected):
    mutate(example_file)
    assert expected in errors_of(example_file)


def test_a_polygon_ring_must_be_closed(example_file):
    ring = example_file["people"][0]["orders"][0]["conditions"][1]["area"]["coordinates"][0]
    ring[-1] = [-0.7405, 52.66]
    assert errors_of(example_file) == [
        "people[0].orders[0].conditions[1].area: polygon ring is not closed (the last point must repeat the first)"
    ]


def test_a_self_intersecting_polygon_is_rejected(example_file):
    area = example_file["people"][0]["orders"][0]["conditions"][1]["area"]
    area["coordinates"] = [[[-0.74, 52.66], [-0.73, 52.665], [-0.73, 52.66], [-0.74, 52.665], [-0.74, 52.66]]]
    (err,) = errors_of(example_file)
    assert err.startswith("people[0].orders[0].conditions[1].area: polygon is not valid: self-intersection")


def test_duplicate_ids_and_reversed_dates(example_file):
    person = example_file["people"][0]
    person["orders"][0]["conditions"][1]["id"] = "C1"
    person["orders"][0]["end"] = "2026-10-01"
    person["devices"][1]["id"] = "RF-0001"
    errs = errors_of(example_file)
    assert 'people[0].orders[0].conditions[1].id: "C1" is used by another condition of this order' in errs
    assert "people[0].orders[0].end: the order ends (2026-10-01) before it starts (2026-11-01)" in errs
    assert any(
        e.startswith('people[0].devices[1]: device "RF-0001" would be fitted to Sam Example (P0001) twice')
        for e in errs
    )


def test_mappa_category_and_level_go_together(example_file):
    del example_file["people"][0]["risk"]["mappa_level"]
    assert errors_of(example_file) == ["people[0].risk: MAPPA category and level go together; give both or neither"]


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "cases.json"
    path.write_text('{"format": "openem-cases/1",\n "people": [,]}')
    with pytest.raises(CaseFileError) as exc:
        casefile.load(path)
    assert exc.value.errors[0].startswith("(file): not valid JSON at line 2 column")


def test_the_published_schema_is_the_one_used():
    schema = casefile.schema()
    assert schema["title"].startswith("OpenEM case file")
    assert "person" in schema["$defs"]
