"""Equality monitoring on the person, the Statistics pages and their downloads, and `openem mi`."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command

from openem.audit.models import AuditEvent
from openem.reports.measures import Period
from openem.reports.models import EqualityRecord, MiCell
from openem.reports.publish import read_ods_figures
from tests.helpers import client_for

Q3 = Period.parse("2026Q3")


# ------------------------------------------------------------------ equality monitoring


@pytest.mark.django_db
def test_the_practitioner_records_equality_monitoring_and_the_audit_says_which_questions_not_the_answers(
    personas, case
):
    client = client_for(personas["practitioner"])
    page = client.get(f"/people/{case.pk}/")
    assert b"Equality monitoring" in page.content and b"Not recorded yet." in page.content
    form = client.get(f"/people/{case.pk}/equality/")
    assert form.status_code == 200 and b"Prefer not to say" in form.content
    assert b"White: Roma" in form.content and b"Gypsy or Irish Traveller" in form.content
    saved = client.post(
        f"/people/{case.pk}/equality/",
        {"version": "0", "ethnic_group": "black_caribbean", "religion": "prefer_not_to_say", "sex": "male"},
    )
    assert saved.status_code == 302
    record = EqualityRecord.objects.get(person=case)
    assert (record.ethnic_group, record.religion, record.sex, record.disability) == (
        "black_caribbean", "prefer_not_to_say", "male", "",
    )  # fmt: skip
    assert record.recorded_by == personas["practitioner"] and record.version == 1
    event = AuditEvent.objects.filter(person=case, action="change").latest("at")
    assert event.summary == "equality monitoring: ethnic_group, religion, sex"
    assert "caribbean" not in event.summary.lower()
    assert b"Recorded by Alex Okafor" in client.get(f"/people/{case.pk}/").content


@pytest.mark.django_db
def test_a_wrong_answer_is_refused_by_name_and_the_others_are_kept(personas, case):
    client = client_for(personas["manager"])
    page = client.post(f"/people/{case.pk}/equality/", {"version": "0", "ethnic_group": "martian", "sex": "female"})
    assert page.status_code == 200
    assert b"Choose one of the answers listed for ethnic group" in page.content
    assert re.search(rb'<option value="female" selected>', page.content)
    assert not EqualityRecord.objects.exists()


@pytest.mark.django_db
def test_two_people_saving_at_once_do_not_overwrite_each_other(personas, case):
    a, b = client_for(personas["practitioner"]), client_for(personas["manager"])
    assert a.post(f"/people/{case.pk}/equality/", {"version": "0", "sex": "male"}).status_code == 302
    # The manager's form was shown before the practitioner saved (version 0): refused, nothing lost.
    late = b.post(f"/people/{case.pk}/equality/", {"version": "0", "sex": "female"})
    assert late.status_code == 200 and b"Someone else saved these answers" in late.content
    assert EqualityRecord.objects.get(person=case).sex == "male"
    assert b.post(f"/people/{case.pk}/equality/", {"version": "1", "sex": "female"}).status_code == 302
    assert EqualityRecord.objects.get(person=case).sex == "female"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["operator", "admin"])
def test_the_centre_and_administrators_see_the_case_but_not_its_equality_answers(personas, case, persona):
    EqualityRecord.objects.create(person=case, ethnic_group="white_irish")
    client = client_for(personas[persona])
    page = client.get(f"/people/{case.pk}/")
    assert page.status_code == 200 and b"Equality monitoring" not in page.content
    assert client.get(f"/people/{case.pk}/equality/").status_code == 403


# ------------------------------------------------------------------ statistics


@pytest.fixture
def national(personas):
    """300 people across twelve regions with a year of records, refreshed for 2026Q3."""
    from openem.reports.bench import generate
    from openem.reports.refresh import refresh

    generate(300, Q3.last_day, seed=3)
    refresh(Q3)
    return personas


@pytest.mark.django_db
def test_the_analyst_sees_every_region_and_no_personal_record(national):
    client = client_for(national["analyst"])
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == "/statistics/"
    page = client.get("/statistics/?period=2026Q3")
    assert page.status_code == 200 and b"England and Wales" in page.content
    assert b"Statistics" in page.content and b"Research extracts" in page.content  # the nav
    detail = client.get("/statistics/measures/people_monitored/?period=2026Q3&by=ethnic_group_high")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert 'id="region-table"' in text and "London" in text and "Wales" in text
    assert "<svg" in text and "<title" in text and "<desc" in text  # the chart, with its text alternative
    assert "Person " not in text and "N00000" not in text  # no person's name or reference anywhere
    assert client.get("/people/1/").status_code == 403


@pytest.mark.django_db
def test_a_manager_sees_their_region_only(national):
    client = client_for(national["manager"])
    page = client.get("/statistics/measures/people_monitored/?period=2026Q3&by=sex").content.decode()
    assert "East Midlands" in page and 'id="region-table"' not in page
    csv = client.get("/statistics/download.csv?period=2026Q3").content.decode()
    regions = {line.split(",")[5] for line in csv.splitlines()[1:] if line.count(",") > 6 and '"' not in line}
    assert regions <= {"East Midlands"}


@pytest.mark.django_db
def test_a_quarter_written_wrongly_is_said_so_and_the_latest_is_shown(national):
    page = client_for(national["analyst"]).get("/statistics/?period=Q5-2026")
    assert page.status_code == 200 and b"is not a quarter: write it as the year and quarter" in page.content


def _page_rows(html: str) -> dict[str, tuple[str, str]]:
    """The breakdown table's rows: group -> (count, figure) as the page shows them."""
    table = html.split('id="breakdown-table"', 1)[1].split("</table>", 1)[0]
    out = {}
    for row in re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", table, re.S)[1:]:
        group = re.sub(r"<.*?>|\(reference\)", "", re.search(r"<th.*?>(.*?)</th>", row, re.S).group(1)).strip()
        cells = [re.sub(r"<.*?>", "", c).strip() for c in re.findall(r"<td.*?>(.*?)</td>", row, re.S)]
        out[group] = (cells[0], cells[1] if len(cells) > 1 else "")
    return out


@pytest.mark.django_db
def test_the_spreadsheet_opens_and_its_figures_are_the_pages(national):
    """A manager's download (their region: small enough for odfpy to read back quickly) against the
    manager's pages."""
    from html import unescape

    client = client_for(national["manager"])
    data = client.get("/statistics/download.ods?period=2026Q3")
    assert data["Content-Type"] == "application/vnd.oasis.opendocument.spreadsheet"
    rows = read_ods_figures(data.content)
    assert rows, "the Figures sheet is there and has rows"
    assert {r["Region"] for r in rows if r["Figure as published"] != "not available"} == {"East Midlands"}
    from odf.opendocument import load
    from odf.table import Table

    names = [t.getAttribute("name") for t in load(io.BytesIO(data.content)).spreadsheet.getElementsByType(Table)]
    assert names == ["Cover", "Notes", "Definitions", "Figures"]
    compared = 0
    for code in ("never_fitted", "behaviour_violations", "people_monitored"):
        html = unescape(client.get(f"/statistics/measures/{code}/?period=2026Q3&by=age").content.decode())
        shown = _page_rows(html)
        sheet = {
            r["Group"]: r
            for r in rows
            if r["Measure code"] == code and r["Breakdown"] == "Age on the last day of the quarter"
        }  # fmt: skip
        for group, (count, figure) in shown.items():
            if group == "All" or group not in sheet:
                continue
            r = sheet[group]
            if count.startswith(("fewer", "suppressed")):
                assert r["Figure as published"] == count, (code, group)
            else:
                assert r["Count (units)"] == count and r["Figure as published"] == (figure if figure else count)
            compared += 1
    assert compared >= 10


@pytest.mark.django_db
def test_downloads_never_carry_a_suppressed_figure(national):
    csv = client_for(national["analyst"]).get("/statistics/download.csv?period=2026Q3").content.decode()
    for line in csv.splitlines():
        if "fewer than" in line or ",suppressed," in line:
            fields = line.split(",")
            assert fields[-9:-2] == [""] * 7, line  # units, value, intervals, index: all empty
    for cell in MiCell.objects.filter(suppressed=True):
        assert cell.units == 0 and cell.value is None and cell.numerator == 0


@pytest.mark.django_db
def test_the_command_line_gives_the_same_figures(national, capsys):
    call_command("mi", "--period", "2026Q3", "--format", "json")
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["period"] == "2026Q3" and out["suppressed_below"] == 10
    monitored = next(f for f in out["figures"] if f["measure"] == "people_monitored" and not f["breakdown"]
                     and f["region"] == "England and Wales")  # fmt: skip
    cell = MiCell.objects.get(period="2026Q3", measure="people_monitored", breakdown="", region="")
    assert monitored["units"] == cell.units
    # How long trail look-ups took is measured now (the audited trail read times itself), never "not available".
    assert not any(f["measure"] == "trail_lookup_seconds" and f["shown"] == "not available" for f in out["figures"])
    with pytest.raises(Exception, match="is not a quarter"):
        call_command("mi", "--period", "2026-13")


def test_every_measure_is_defined_in_docs_mi_md():
    from pathlib import Path

    from openem.reports.docs import DEFINITIONS
    from openem.reports.measures import MEASURES

    text = (Path(__file__).resolve().parents[2] / "docs" / "mi.md").read_text()
    flat = " ".join(text.split())
    for code in MEASURES:
        assert f"`{code}`" in text, code
        assert " ".join(DEFINITIONS[code].split()) in flat, code


@pytest.mark.django_db
def test_shares_of_decisions_are_suppressed_together(national):
    """The four shares of decisions count the same decisions: a recall share hidden for few recalls must
    not be worked out as everything minus the other three outcomes."""
    for cell in MiCell.objects.filter(period="2026Q3", measure="decision_recall", suppressed=True):
        for other in ("decision_no_action", "decision_warning", "decision_breach"):
            twin = MiCell.objects.get(period="2026Q3", measure=other, breakdown=cell.breakdown, group=cell.group,
                                      region=cell.region)  # fmt: skip
            assert twin.suppressed, (other, cell)
    assert MiCell.objects.filter(period="2026Q3", measure="decision_recall", suppressed=True).exists()
