"""The victim liaison officer sees what protects a victim and nothing of the wearer's trail, household,
checks or addresses; what they record (the victim's places, what the victim asked for) reaches the
practitioner's assessment and the distance check (issue 17)."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from openem.assessments import services
from openem.assessments.models import Assessment, CheckKind, Occupant, ProposalType, ProposedAddress
from openem.audit.models import AuditEvent
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposal(case, personas) -> Assessment:
    a = services.start(case, ProposalType.HDC, "Assault on a former partner", personas["practitioner"])
    Assessment.objects.filter(pk=a.pk).update(victim_to_protect=True, sentence_days=365)
    a.refresh_from_db()
    address = ProposedAddress.objects.create(assessment=a, label="14 Mill Lane", lat=52.6702, lon=-0.7321)
    Occupant.objects.create(address=address, name="Jo Smith", relationship="Mother", age=58)
    services.ask(address, CheckKind.DOMESTIC_ABUSE, "Leicestershire Police MASH", date(2026, 11, 30),
                 personas["practitioner"])  # fmt: skip
    return a


def test_the_officer_sees_what_protects_the_victim_and_nothing_of_the_wearer(proposal, personas) -> None:
    vera = client_for(personas["vlo"])
    listing = vera.get(reverse("assessments:victims")).content.decode()
    assert "Sam Example" in listing and "Release on home detention curfew" in listing and "None recorded" in listing
    page = vera.get(reverse("assessments:victim", args=[proposal.pk])).content.decode()
    # The zone on his order that protects the victim's street, and how far the proposed address is from it.
    assert "Victim&#x27;s street" in page and "order O0001, C2" in page
    assert "Proposed address 1</strong> (not assessed)" in page
    # Only roughly: exact distances from places the officer records could locate the address.
    assert "500 m to 1 km from exclusion zone Victim&#x27;s street on order O0001, under the 1,000 m warning" in page
    assert "579 m" not in page
    # Nothing of the wearer: not the address, the household, the checks, nor any way to the trail.
    for private in ("14 Mill Lane", "Jo Smith", "MASH", "/trail", "52.6702"):
        assert private not in page, private
    looked = AuditEvent.objects.filter(actor=personas["vlo"], summary=f"victim liaison: assessment {proposal.pk}")
    assert looked.exists()


def test_what_the_officer_records_reaches_the_practitioner(proposal, personas) -> None:
    vera = client_for(personas["vlo"])
    url = reverse("assessments:victim", args=[proposal.pk])
    r = vera.post(url, {"action": "victim_place", "victim_place-kind": "home",
                        "victim_place-description": "The victim's home (Ms A)", "victim_place-lat": "52.6685",
                        "victim_place-lon": "-0.7300"})  # fmt: skip
    assert r.status_code == 302
    vera.post(url, {"action": "views", "views-views": "Ms A asks for an exclusion zone around her street and work."})
    page = vera.get(url).content.decode()
    assert "under 500 m from The victim&#x27;s home (Ms A), under the 1,000 m warning" in page and "237 m" not in page
    alex = client_for(personas["practitioner"]).get(reverse("assessments:detail", args=[proposal.pk])).content.decode()
    assert "Ms A asks for an exclusion zone around her street and work." in alex
    assert "237 m from The victim&#x27;s home (Ms A): under the 1,000 m warning" in alex  # as typed, to the metre
    # And the eligibility rules now see a victim's location: the curfew address is flagged as too close.
    assert "the curfew address is 237 m from the victim&#x27;s address or exclusion zone" in alex


def test_a_place_outside_great_britain_is_refused_with_the_reason(proposal, personas) -> None:
    vera = client_for(personas["vlo"])
    r = vera.post(reverse("assessments:victim", args=[proposal.pk]), {
        "action": "victim_place", "victim_place-kind": "home", "victim_place-description": "Home",
        "victim_place-lat": "40.0", "victim_place-lon": "-0.73",
    })  # fmt: skip
    assert r.status_code == 400 and "Enter a latitude in Great Britain (49.8 to 61.0)" in r.content.decode()
    assert not proposal.person.victim_places.exists()


def test_a_proposal_with_no_victim_is_not_the_officers(case, personas) -> None:
    a = services.start(case, ProposalType.COMMUNITY_ORDER, "Theft from a shop", personas["practitioner"])
    vera = client_for(personas["vlo"])
    assert "Sam Example" not in vera.get(reverse("assessments:victims")).content.decode()
    assert vera.get(reverse("assessments:victim", args=[a.pk])).status_code == 404


def test_the_officer_starts_on_the_victims_page(personas) -> None:
    assert client_for(personas["vlo"]).get("/").url == reverse("assessments:victims")
    assert client_for(personas["practitioner"]).get("/").url == reverse("portal:cases")
