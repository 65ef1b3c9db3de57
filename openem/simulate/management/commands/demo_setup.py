from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from openem.accounts.personas import DEMO_PASSWORD, PERSONAS, TEAM, create_personas
from openem.cases.casefile_io import import_casefile
from openem.cases.models import Person
from openem.devices.models import Device
from openem.engine import casefile
from openem.simulate.population import case_file
from openem.simulate.profiles import SimConfig
from openem.simulate.runner import plan
from openem.telemetry.models import Gateway, token_digest

DEMO_CHANGE_ONLY = 0.3  # share of the demo's home units that report only changes
DEMO_GATEWAY_TOKEN = os.environ.get("OPENEM_DEMO_GATEWAY_TOKEN", "openem-demo-gateway-token")


def demo_config(people: int = 36, seed: int = 1, today: date | None = None) -> SimConfig:
    """A week up to and including today: the live simulator feeds the same people and devices. A share of
    the home units report only changes of range, with heartbeats between, as many units in service do."""
    start = (today or date.today()) - timedelta(days=7)
    return SimConfig(people=people, days=8, seed=seed, start=start.isoformat(), change_only_home_units=DEMO_CHANGE_ONLY)


def demo_case_file(people: int = 36, seed: int = 1, today: date | None = None) -> dict[str, Any]:
    """The demo caseload: the simulator's people in Rutland, split between the two demo practitioners."""
    config = demo_config(people, seed, today)
    sim_people = plan(config, date.fromisoformat(config.start))
    return case_file(sim_people, ("alex.practitioner", "bea.practitioner"), TEAM)


def history_marker() -> Path:
    return Path(settings.DATA_DIR) / "demo-history-until"


def device_keys_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-device-keys.json"


def demo_device_keys(share: int = 3) -> dict[str, str]:
    """Every ``share``-th GPS tag of the demo sends its fixes itself, with its own key, as a phone running
    Traccar Client would. The keys are kept in the demo's data directory (readable by its owner only) for
    the live simulator; they are reused while they are valid."""
    from openem.devices.credentials import KeyChecker, issue_key

    path = device_keys_file()
    held: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    checker = KeyChecker()
    keys = {}
    for i, device in enumerate(Device.objects.filter(kind="gps").order_by("ref")):
        if i % share:
            continue
        key = held.get(device.ref)
        if key is None or checker.problem(device.ref, key):
            key = issue_key(device, None, why="demo: the live simulator sends this tag's fixes as Traccar Client")
        keys[device.ref] = key
    path.touch(mode=0o600)
    path.write_text(json.dumps(keys, indent=1))
    return keys


class Command(BaseCommand):
    help = "Create the demo logins and a simulated caseload in Rutland (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--people", type=int, default=36)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-history", action="store_true", help="do not load the week of readings so far")

    def handle(self, *args: Any, **options: Any) -> None:
        create_personas()
        gateway, _ = Gateway.objects.update_or_create(
            name="Demo simulator", defaults={"token_hash": token_digest(DEMO_GATEWAY_TOKEN), "active": True}
        )
        created = not Person.objects.exists()
        if created:
            data = demo_case_file(options["people"], options["seed"])
            result = import_casefile(casefile.parse(data), None, "Demo caseload")
            self.stdout.write(f"Demo caseload: {result.people_created} people, {result.orders_created} orders.")
        # The simulator is the gateway of the demo's devices: it may send their readings and no others.
        Device.objects.filter(gateway__isnull=True).update(gateway=gateway)
        keys = demo_device_keys()
        self.stdout.write(
            f"{len(keys)} GPS tags send their fixes with their own keys (OsmAnd), the rest via the gateway."
        )
        if created and not options["no_history"]:
            self._history(options["people"], options["seed"])
        if created:
            self.stdout.write(f"{demo_assessments()} assessments before the order, at every stage.")
            self._statistics()
        self.stdout.write("")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for p in PERSONAS:
            self.stdout.write(f"  {p.username:<20} {p.role.label}")
        self.stdout.write("")

    def _statistics(self) -> None:
        """Equality monitoring for most of the caseload, and the Statistics pages' figures for the last eight
        quarters (`openem run` refreshes the latest two on a schedule from then on)."""
        from openem.reports.demo import demo_equality
        from openem.reports.refresh import default_periods, refresh

        self.stdout.write(f"{demo_equality()} people with equality monitoring recorded.")
        cells = sum(refresh(p).cells for p in default_periods(8))
        self.stdout.write(f"Statistics refreshed for the last eight quarters ({cells:,} figures).")

    def _history(self, people: int, seed: int) -> None:
        """The week so far, loaded straight into storage and evaluated, so the portal opens on a caseload
        with a history; `openem run --demo-live` then feeds the rest live from where this stopped."""
        from openem.simulate.live import run_live
        from openem.telemetry.ingest import ingest_jsonl
        from openem.telemetry.models import Source
        from openem.telemetry.worker import EngineWorker

        until = time.time() - 3600
        self.stdout.write("Loading the demo caseload's week of device readings (a minute or two)...")
        sent = run_live(
            demo_config(people, seed),
            "",
            "",
            live_from_h=0,
            send=lambda _u, _t, body: ingest_jsonl(body, Source.FILE).to_json(),
            sleep=lambda _s: None,
            log=lambda _m: None,
            stop_at=until,
        )
        worker = EngineWorker("demo-setup")
        # Evaluated as of the end of the history: the live feed continues from there.
        as_of = datetime.fromtimestamp(until, UTC)
        while worker.cycle(now=as_of).readings:
            pass
        worker.release()
        history_marker().write_text(f"{until}\n")
        self.stdout.write(f"Loaded {sent} readings and evaluated them.")
        worked = self._alerts(until)
        self.stdout.write(f"Triaged them into incidents; {worked} older incidents already dealt with.")
        self.stdout.write(f"{self._reviews()} supervision reviews on record.")
        from openem.crime.demo import demo_crime_batch

        self.stdout.write(demo_crime_batch(until))

    def _reviews(self) -> int:
        """Start-of-monitoring (and four-weekly) reviews most practitioners have held; a few are overdue.
        Each says what the record says: no start-of-monitoring review before a tag was fitted, and a review
        after breaches talks about them instead of finding "no concerns"."""
        from openem.alerts.models import Violation
        from openem.cases.models import Order, Review, ReviewStage, local_today

        today, made = local_today(), 0
        for i, order in enumerate(Order.objects.select_related("person__practitioner").order_by("id")):
            who = order.person.practitioner
            if who is None or i % 5 == 4 or order.reviews.exists():
                continue
            first_fitted = order.person.fittings.order_by("fitted_at").values_list("fitted_at", flat=True).first()
            for stage, offset in ((ReviewStage.START, 3), (ReviewStage.DURING, 31)):
                held = order.start + timedelta(days=offset)
                if held >= today or first_fitted is None or timezone.localtime(first_fitted).date() > held:
                    continue  # nothing to review before the tag was on
                since = held - timedelta(days=28 if stage == ReviewStage.DURING else offset)
                breaches = list(
                    Violation.objects.filter(
                        person=order.person, category="behaviour", retracted=False,
                        start__date__gt=since, start__date__lte=held,
                    ).values_list("type", flat=True)
                )  # fmt: skip
                Review.objects.create(
                    order=order, stage=stage, held_on=held, by=who, risk_plan_updated=True,
                    summary=_review_summary(breaches),
                )  # fmt: skip
                made += 1
        return made

    def _alerts(self, until: float) -> int:
        """Triage the week, then deal with what is older than a day as the team would have done, so the
        queue shows last night's incidents waiting (and a couple of decisions overdue), not a week of them."""
        from datetime import timedelta

        from openem.accounts.models import Role, User
        from openem.alerts.models import ClearReason, ContactMethod, ContactOutcome, DecisionKind, Incident
        from openem.alerts.worker import AlertsWorker

        alerts = AlertsWorker("demo-setup")
        while alerts.cycle(now=datetime.fromtimestamp(until, UTC)).triaged:
            pass
        cutoff = datetime.fromtimestamp(until, UTC) - timedelta(hours=30)
        operator = User.objects.filter(role=Role.OPERATOR).first()
        worked = 0
        old = Incident.objects.active().filter(end__lt=cutoff).select_related("person__practitioner").order_by("id")
        for i, incident in enumerate(old):
            if incident.for_practitioner and incident.person and incident.person.practitioner:
                if i % 6 == 5:
                    continue  # left for the practitioner: its decision is overdue
                who = incident.person.practitioner
                incident.record_contact(who, ContactMethod.PHONE, ContactOutcome.SPOKE_TO_WEARER,
                                        "Discussed the incident and the conditions of the order.")  # fmt: skip
                decision = DecisionKind.WARNING if incident.severity in ("high", "critical") else DecisionKind.NO_ACTION
                incident.decide(who, decision, "First incident of this kind; explanation noted.",
                                incident.end.date(), incident.end.date())  # type: ignore[union-attr]  # fmt: skip
                incident.clear_by(who, ClearReason.DEALT_WITH)
            elif operator is not None and not incident.for_practitioner:
                incident.record_contact(operator, ContactMethod.PHONE, ContactOutcome.SPOKE_TO_WEARER,
                                        "Wearer charged the tag / reconnected the home unit.")  # fmt: skip
                incident.clear_by(operator, ClearReason.EQUIPMENT_FIXED)
            else:
                continue
            worked += 1
        return worked


def _review_summary(breaches: list[str]) -> str:
    if not breaches:
        return "Went through the conditions and the data with them; no concerns raised."
    from collections import Counter

    from openem.engine.violations import ViolationType
    from openem.uktime import plural

    counted = ", ".join(plural(n, ViolationType(t).label.lower()) for t, n in Counter(breaches).most_common())
    if len(breaches) == 1:
        what = counted.split(" ", 1)[1]
        return f"Went through the {what} with them and the reasons they gave; reminded them of the conditions."
    return (
        f"Discussed {counted} since the last review: a pattern, not a one-off. Warned that further breaches "
        "will be taken back to court; risk management plan updated."
    )


def demo_assessments() -> int:
    """Assessments at every stage for Alex's caseload: one waiting on an overdue police check, one address
    refused because of children in a household where the police raised concerns, one decided (the order
    imposed). Made through the same services the pages use."""
    from openem.accounts.models import User
    from openem.assessments import services
    from openem.assessments.facts import recommendation
    from openem.assessments.models import Assessment, CheckAnswer, CheckKind, Decision, Occupant, ProposalType
    from openem.cases.models import local_today

    alex = User.objects.filter(username="alex.practitioner").first()
    people = list(Person.objects.filter(practitioner=alex).order_by("ref")[:3]) if alex else []
    if len(people) < 3 or alex is None:
        return 0
    today = local_today()
    made = 0
    # 1. Waiting: the police check asked three weeks ago and not answered (overdue).
    waiting = services.start(people[0], ProposalType.HDC, "Burglary of a dwelling", alex)
    home = services.add_address(waiting, alex, label="7 Church Street, Oakham", lat=52.6697, lon=-0.7262,
                                occupier_consents=True, electricity=True)  # fmt: skip
    services.ask(home, CheckKind.DOMESTIC_ABUSE, "Leicestershire Police MASH", today - timedelta(days=21), alex)
    children = services.ask(
        home, CheckKind.SAFEGUARDING, "Rutland children's services", today - timedelta(days=21), alex
    )
    services.answer(children, CheckAnswer.NO_CONCERNS, today - timedelta(days=12), "No open cases", alex)
    made += 1
    # 2. Refused: the partner's address, concerns from the police and two children living there.
    refused = services.start(people[1], ProposalType.COMMUNITY_ORDER, "Assault occasioning actual bodily harm", alex)
    partner = services.add_address(refused, alex, label="22 Brooke Road, Oakham (partner's)", lat=52.6655,
                                   lon=-0.7338, occupier_consents=True, electricity=True)  # fmt: skip
    for name, age in (("Child A", 6), ("Child B", 9)):
        Occupant.objects.create(address=partner, name=name, relationship="partner's child", age=age)
    police = services.ask(
        partner, CheckKind.DOMESTIC_ABUSE, "Leicestershire Police MASH", today - timedelta(days=9), alex
    )
    services.answer(police, CheckAnswer.CONCERNS, today - timedelta(days=5),
                    "Two call-outs to this address in the last year for domestic incidents", alex)  # fmt: skip
    why = "Domestic-abuse concerns at the address and two children in the household"
    services.conclude(partner, alex, "not_suitable", not_suitable_reason=why)
    # The victim liaison officer records the victim's home and what she asked for: the distance from the
    # partner's address is flagged on the assessment.
    Assessment.objects.filter(pk=refused.pk).update(victim_to_protect=True)
    vera = User.objects.filter(username="vera.liaison").first()
    if vera is not None:
        services.add_victim_place(people[1], vera, kind="home", description="The victim's home (Ms B)", lat=52.6622,
                                  lon=-0.7290, radius_m=0)  # fmt: skip
        services.record_victim_views(refused, vera, "Ms B asks that he is kept away from her street and her "
                                     "daughter's school, and to be told before any release or move.")  # fmt: skip
    made += 1
    # 3. Decided: checks answered, recommendation submitted, the court imposed the order.
    decided = services.start(people[2], ProposalType.COMMUNITY_ORDER, "Theft from a shop, repeated", alex)
    mother = services.add_address(decided, alex, label="3 Mill Lane, Oakham (mother's)", lat=52.6731, lon=-0.7301,
                                  occupier_consents=True, electricity=True)  # fmt: skip
    for kind, whom in ((CheckKind.DOMESTIC_ABUSE, "Leicestershire Police MASH"),
                       (CheckKind.SAFEGUARDING, "Rutland children's services")):  # fmt: skip
        check = services.ask(mother, kind, whom, today - timedelta(days=30), alex)
        services.answer(check, CheckAnswer.NO_CONCERNS, today - timedelta(days=25), "Nothing held", alex)
    services.conclude(mother, alex, "suitable")
    decided.acquisitive = True
    decided.offending_times = [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "17:00",
                                "end": "21:00"}]  # fmt: skip
    decided.save()
    # Every suggestion accepted, as a practitioner would on the page.
    rec = recommendation(decided)
    accepted = [{"candidate": p.candidate.key, "response": "accepted", "to": "", "why": ""}
                for p in (rec.proposed if rec else ())]  # fmt: skip
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    services.recommend(
        decided, alex, accepted, [{"days": every_day, "start": "19:00", "end": "07:00"}],
        "Evenings at his mother's address cover most of the times of his offending; the trail lets police check him "
        "against shop thefts and supports his supervision.",
    )  # fmt: skip
    services.submit(decided, alex)
    services.decide(decided, Decision.IMPOSED, today - timedelta(days=20), alex)
    order = people[2].orders.order_by("start").first()
    if order is not None:
        services.order_made(decided, order, alex)  # the caseload's order stands for the one made from it
    made += 1
    return made
