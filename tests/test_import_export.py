"""`openem import-cases` and `openem export-cases`: all or nothing, versions on re-import."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from openem.cases.models import Condition, Order, OrderVersion, Person
from openem.devices.models import Device, Fitting

from .conftest import example


def write(tmp_path, data, name="cases.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.django_db
def test_import_then_export_gives_the_same_file(tmp_path):
    out = StringIO()
    call_command("import_cases", write(tmp_path, example()), stdout=out)
    assert "Imported 1 people (1 new), 1 orders made, 0 varied, 2 device fittings." in out.getvalue()
    person = Person.objects.get(ref="P0001")
    assert person.rosh == "high" and person.flags == ["domestic_abuse"] and person.mappa == "Category 2, level 1"
    assert Order.objects.get().conditions.count() == 6
    assert Fitting.objects.filter(person=person, removed_at__isnull=True).count() == 2
    exported = StringIO()
    call_command("export_cases", stdout=exported)
    assert json.loads(exported.getvalue()) == json.loads(json.dumps(example()))


@pytest.mark.django_db
def test_a_bad_file_is_rejected_whole_with_every_error(tmp_path):
    data = example()
    data["people"].append(json.loads(json.dumps(data["people"][0])))
    data["people"][1]["id"] = "P0002"
    data["people"][1]["devices"] = []
    data["people"][1]["orders"][0]["conditions"][0]["windows"][0]["end"] = "25:00"
    data["people"][1]["orders"][0]["conditions"][5]["end"] = "2027-03-31"
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("import_cases", write(tmp_path, data), stderr=err)
    assert exc.value.returncode == 2
    assert 'people[1].orders[0].conditions[0].windows[0].end: "25:00" is not a time' in err.getvalue()
    assert Person.objects.count() == 0, "the valid first person must not be imported from a rejected file"
    # Once the structure is right, the statutory rules are checked, still before anything is written.
    data["people"][1]["orders"][0]["conditions"][0]["windows"][0]["end"] = "07:00"
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_cases", write(tmp_path, data), stderr=err)
    assert (
        "people[1].orders[0].conditions[5].end: the AAMR lasts 151 days; it can last at most 120 days" in err.getvalue()
    )
    assert Person.objects.count() == 0


@pytest.mark.django_db
def test_reimport_with_a_change_is_a_new_version_with_what_changed(tmp_path):
    call_command("import_cases", write(tmp_path, example()), stdout=StringIO())
    data = example()
    data["people"][0]["orders"][0]["conditions"][0]["windows"][0]["start"] = "20:00"
    call_command("import_cases", write(tmp_path, data), "--reason", "Variation granted 20 Nov", stdout=StringIO())
    order = Order.objects.get()
    assert order.version == 2
    latest = OrderVersion.objects.get(order=order, number=2)
    assert latest.reason == "Variation granted 20 Nov"
    assert latest.changes == [
        "Changed curfew C1: windows Mon, Tue, Wed, Thu, Fri, Sat, Sun 19:00 to 07:00 (next day) -> "
        "Mon, Tue, Wed, Thu, Fri, Sat, Sun 20:00 to 07:00 (next day)"
    ]
    # The old curfew is kept for the record, no longer live.
    assert Condition.objects.filter(order=order, ref="C1").count() == 2
    assert order.to_spec().conditions[0].windows[0].start == "20:00"
    # Importing the same file again changes nothing.
    call_command("import_cases", write(tmp_path, data), stdout=StringIO())
    assert Order.objects.get().version == 2


@pytest.mark.django_db
def test_warnings_are_printed_and_the_file_loads(tmp_path):
    data = example()
    data["people"][0]["orders"][0]["conditions"][1]["monitored"] = False
    out = StringIO()
    call_command("import_cases", write(tmp_path, data), stdout=out)
    assert (
        'warning: people[0].orders[0].conditions[1].monitored: "Victim\'s street" is drawn but not '
        "GPS-monitored, so this zone will not raise alerts" in out.getvalue()
    )
    assert Person.objects.count() == 1


@pytest.mark.django_db
def test_unknown_practitioner_and_device_clash_are_errors(tmp_path, personas):
    call_command("import_cases", write(tmp_path, example()), stdout=StringIO())
    data = example()
    data["people"][0]["id"] = "P0009"
    data["people"][0]["practitioner"] = "nobody"
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_cases", write(tmp_path, data), stderr=err)
    assert 'people[0].practitioner: there is no user "nobody"' in err.getvalue()
    assert 'people[0].devices[0]: device "RF-0001" is fitted to Sam Example (P0001)' in err.getvalue()
    assert Device.objects.count() == 2


def test_the_console_script_runs_commands_with_dashes(tmp_path):
    env_db = tmp_path / "cli.sqlite3"
    # A clean environment is production: it needs a secret key of its own (openem.safety).
    env = {"OPENEM_SQLITE_PATH": str(env_db), "PATH": "/usr/bin:/bin", "OPENEM_SECRET_KEY": "cli-test-" + "k" * 50}
    run = [sys.executable, "-m", "openem.cli"]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True)
    bad = example()
    bad["people"][0]["orders"][0]["conditions"][0]["windows"][0]["end"] = "25:00"
    proc = subprocess.run([*run, "import-cases", write(tmp_path, bad)], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'people[0].orders[0].conditions[0].windows[0].end: "25:00" is not a time' in proc.stderr
    proc = subprocess.run([*run, "import-cases", write(tmp_path, example())], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([*run, "export-cases"], env=env, capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["people"][0]["name"] == "Sam Example"
