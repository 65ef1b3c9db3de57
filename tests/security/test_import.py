"""Case-file import, tried as someone with a crafted file would: it cannot take a device from
someone, cannot end anyone's monitoring as a side effect, reports every error of a file in one run,
and refuses ids too long to keep and names with control characters. All or nothing."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from openem.cases.casefile_io import import_data
from openem.cases.models import Person
from openem.devices.models import Fitting
from openem.engine.casefile import CaseFileError
from tests.conftest import example


def newcomer(**devices) -> dict:
    """Bob, on the same practitioner's caseload, with an order of his own and the given fittings."""
    bob = example()["people"][0]
    bob.update(id="P0002", name="Bob Other", practitioner="alex.practitioner")
    bob["orders"][0]["id"] = "O0002"
    bob["devices"] = [{"id": ref, "kind": ref.split("-")[0].lower(), **when} for ref, when in devices.items()]
    return bob


def casefile(*people) -> dict:
    return {"format": "openem-cases/1", "people": list(people)}


def errors_of(data) -> list[str]:
    with pytest.raises(CaseFileError) as caught:
        import_data(data, None, "test")
    return caught.value.errors


def sams_gps():
    return Fitting.objects.get(device__ref="GPS-0001", person__ref="P0001")


@pytest.mark.django_db
def test_a_file_cannot_fit_sams_tag_to_someone_else(case, tmp_path):
    data = casefile(newcomer(**{"GPS-0001": {"fitted": "2026-11-20T10:00:00Z", "removed": None}}))
    (error,) = errors_of(data)
    assert error.startswith('people[0].devices[0]: device "GPS-0001" is fitted to Sam Example (P0001) since')
    assert "this file fits it to Bob Other (P0002) from 20 Nov 2026 10:00" in error
    # The command says the same, and nothing was written: Sam is still monitored, Bob does not exist.
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(data))
    err = io.StringIO()
    with pytest.raises(CommandError, match="rejected, 1 error"):
        call_command("import_cases", str(path), stderr=err)
    assert "Sam Example (P0001)" in err.getvalue() and "Bob Other (P0002)" in err.getvalue()
    assert sams_gps().removed_at is None and not Person.objects.filter(ref="P0002").exists()


@pytest.mark.django_db
def test_a_fitting_that_ends_after_sams_began_is_refused_too(case):
    # A closed fitting in the past that overlaps Sam's would rewrite whose readings those were.
    bob = newcomer(**{"GPS-0001": {"fitted": "2026-10-20T10:00:00Z", "removed": "2026-11-05T10:00:00Z"}})
    (error,) = errors_of(casefile(bob))
    assert "Sam Example (P0001)" in error and "Bob Other (P0002)" in error
    assert sams_gps().removed_at is None


@pytest.mark.django_db
def test_the_same_file_may_hand_the_tag_on(case):
    sam = example()["people"][0]
    sam.update(practitioner="alex.practitioner", crn="X123456")
    handed_on = "2026-11-20T10:00:00Z"
    # Removed after the new fitting: still two people at once.
    sam["devices"][1]["removed"] = "2026-11-20T10:01:00Z"
    bob = newcomer(**{"GPS-0001": {"fitted": handed_on, "removed": None}})
    (error,) = errors_of(casefile(bob, sam))
    assert error.startswith(
        'people[1].devices[1]: device "GPS-0001" would be fitted to Bob Other (P0002) (people[0].devices[0]) and '
        "Sam Example (P0001) at once"
    )
    assert (
        'fitting to Sam Example (P0001) from 2026-11-01T15:00:00Z a "removed" time at or before 2026-11-20T10' in error
    )
    # Removed at the moment of the new fitting: the device moves, in either order of the people.
    sam["devices"][1]["removed"] = handed_on
    import_data(casefile(bob, sam), None, "test")
    assert sams_gps().removed_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert Fitting.objects.get(device__ref="GPS-0001", removed_at__isnull=True).person.ref == "P0002"
    assert Fitting.objects.get(device__ref="RF-0001").removed_at is None  # Sam's curfew tag stays on


@pytest.mark.django_db
def test_importing_other_people_ends_nobodys_monitoring(case):
    import_data(casefile(newcomer(**{"RF-0009": {"fitted": "2026-11-20T10:00:00Z"}})), None, "test")
    assert Fitting.objects.filter(person=case, removed_at__isnull=True).count() == 2
    # A re-import of Sam as exported keeps both tags on him.
    sam = example()["people"][0]
    sam.update(practitioner="alex.practitioner", crn="X123456")
    import_data(casefile(sam), None, "test")
    assert Fitting.objects.filter(person=case, removed_at__isnull=True).count() == 2


@pytest.mark.django_db
def test_every_error_of_a_file_in_one_run_structure_first(case, tmp_path):
    sam = example()["people"][0]
    sam.update(practitioner="alex.practitioner", crn="not a CRN")  # structure
    sam["orders"][0]["conditions"][0]["windows"][0].update(start="17:00", end="14:00")  # 21 hours: a rule
    bob = newcomer(**{"RF-0001": {"fitted": "2026-11-20T10:00:00Z"}})  # Sam's curfew tag
    bob["practitioner"] = "nobody.here"
    bob["orders"][0].update(start="2027-05-01", end="2027-04-01")
    errors = errors_of(casefile(sam, bob))
    expected = [
        'people[0].crn: "not a CRN" is not in the expected form',
        "people[1].orders[0].end: the order ends (2027-04-01) before it starts (2027-05-01)",
        "people[0].orders[0].conditions[0].windows: Monday: 21 hours of curfew; a court curfew can be at most 20 hours",
        'people[1].practitioner: there is no user "nobody.here"',
        'people[1].devices[0]: device "RF-0001" would be fitted to Sam Example (P0001)',
    ]
    for text in expected:
        assert any(e.startswith(text) for e in errors), text
    assert errors[0] == expected[0]  # the structure comes first
    # The command prints them all at once and writes nothing.
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(casefile(sam, bob)))
    err = io.StringIO()
    with pytest.raises(CommandError, match=f"rejected, {len(errors)} error"):
        call_command("import_cases", str(path), stderr=err)
    assert all(text in err.getvalue() for text in expected)
    assert not Person.objects.filter(ref="P0002").exists() and Person.objects.get(ref="P0001").crn == "X123456"


@pytest.mark.django_db
def test_ids_too_long_to_keep_and_control_characters_are_errors_with_their_paths(personas):
    long = "X" * 100
    person = example()["people"][0]
    person.update(id=long, name="Sam\x07 Example", team="Rutland\x85")
    order = person["orders"][0]
    order["id"] = long
    order["conditions"][0]["id"] = long
    order["conditions"][1]["name"] = "Victim's street\x1b[31m"
    person["devices"][0]["id"] = long
    errors = errors_of(casefile(person))
    for path in ("people[0].id", "people[0].orders[0].id", "people[0].orders[0].conditions[0].id",
                 "people[0].devices[0].id"):  # fmt: skip
        assert f"{path}: 100 characters long; at most 40 can be kept" in errors
    assert "people[0].name: contains an invisible or control character (U+0007); remove it" in errors
    assert "people[0].team: contains an invisible or control character (U+0085); remove it" in errors
    assert "people[0].orders[0].conditions[1].name: contains an invisible or control character (U+001B); remove it" in (
        errors
    )
    assert not Person.objects.exists()


# Each hides or reverses text a person reads: a name that reads "Sam Example" on one screen and not another,
# or that matches nobody in a search.
INVISIBLE = {
    "\u202e": "U+202E",  # right-to-left override: the rest of the name reads backwards
    "\u200b": "U+200B",  # zero-width space
    "\u2028": "U+2028",  # line separator
    "\u2029": "U+2029",  # paragraph separator
    "\ufeff": "U+FEFF",  # byte-order mark (zero-width no-break space)
    "\u00ad": "U+00AD",  # soft hyphen
    "\u2066": "U+2066",  # left-to-right isolate
    "\x7f": "U+007F",  # DEL
    "\x9b": "U+009B",  # C1: control sequence introducer
}


@pytest.mark.django_db
@pytest.mark.parametrize("char", list(INVISIBLE))
def test_invisible_and_direction_changing_characters_are_refused_by_the_command(char, personas, tmp_path):
    code = INVISIBLE[char]
    person = example()["people"][0]
    person.update(id=f"P{char}0001", name=f"Sam{char} Example", team=f"Rutland{char}")
    order = person["orders"][0]
    order["id"] = f"O{char}1"
    order["conditions"][0]["id"] = f"C{char}1"
    order["conditions"][0]["address"]["label"] = f"12 Station{char} Road"
    order["conditions"][1]["name"] = f"Victim's{char} street"
    order["conditions"][3]["appointments"][0]["label"] = f"Probation{char} office"
    person["devices"][0]["id"] = f"RF{char}-0001"
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(casefile(person)), encoding="utf-8")
    err = io.StringIO()
    with pytest.raises(CommandError, match="rejected"):
        call_command("import_cases", str(path), stderr=err)
    said = err.getvalue()
    for where in ("people[0].id", "people[0].name", "people[0].team", "people[0].orders[0].id",
                  "people[0].orders[0].conditions[0].id", "people[0].orders[0].conditions[0].address.label",
                  "people[0].orders[0].conditions[1].name", "people[0].orders[0].conditions[3].appointments[0].label",
                  "people[0].devices[0].id"):  # fmt: skip
        assert f"{where}: contains an invisible or control character ({code}); remove it" in said, where
    assert not Person.objects.exists()


def test_every_such_character_is_named_once_and_ordinary_names_pass():
    from openem.engine.casefile import invisible_problem

    assert invisible_problem("\u202eelpmaxE maS\u202e\u200b") == (
        "contains invisible or control characters (U+202E, U+200B); remove them"
    )
    for fine in ("Zoë Ní Bhriain", "Łukasz Żółw", "محمد", "李小龙", "O'Neil-Smith", "Flat 2\u00a0Station Road"):
        assert invisible_problem(fine) == "", fine


@pytest.mark.django_db
def test_a_zone_named_with_a_right_to_left_override_is_refused_in_the_portal(personas, case):
    from django.urls import reverse

    from tests.helpers import client_for

    order = case.orders.get()
    c = client_for(personas["practitioner"])
    zone = {"shape": "circle", "lat": "52.69", "lon": "-0.70", "radius_m": "200", "reason": "Added by the court"}
    forms = {
        "exclusion_zone": ("name", {**zone, "name": "Park\u202ekraP"}),
        "attendance": ("name", {**zone, "name": "Oakham\u200b office"}),
        "curfew": ("address_label", {"technology": "rf", "address_label": "12 Station\u2028Road", "lat": "52.67",
                                     "lon": "-0.73", "radius_m": "30", "w0_days": ["mon"], "w0_start": "19:00",
                                     "w0_end": "07:00", "reason": "Court order"}),
    }  # fmt: skip
    codes = {"exclusion_zone": "U+202E", "attendance": "U+200B", "curfew": "U+2028"}
    before = order.live_conditions().count()
    for ctype, (_field, data) in forms.items():
        r = c.post(reverse("portal:condition-add", args=[order.pk, ctype]), data)
        page = r.content.decode()
        assert r.status_code == 200, ctype
        assert f"This contains an invisible or control character ({codes[ctype]}); remove it" in page, ctype
    r = c.post(
        reverse("portal:order-create", args=[case.pk]),
        {"ref": "O\u202e2", "type": "hdc", "start": "2026-12-01", "end": "2027-03-31", "reason": "Released on HDC"},
    )
    assert r.status_code == 200 and "(U+202E); remove it" in r.content.decode()
    order.refresh_from_db()
    assert order.live_conditions().count() == before and case.orders.count() == 1
