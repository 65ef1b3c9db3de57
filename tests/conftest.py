from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from openem.engine import casefile

from .helpers import PERSONA_LOGINS

SHARED = Path(os.environ.get("OPENEM_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
EXAMPLE_CASE_FILE = {
    "format": "openem-cases/1",
    "people": [
        {
            "id": "P0001",
            "name": "Sam Example",
            "date_of_birth": "1991-04-01",
            "risk": {"rosh": "high", "mappa_category": 2, "mappa_level": 1, "flags": ["domestic_abuse"]},
            "orders": [
                {
                    "id": "O0001",
                    "type": "community_order",
                    "start": "2026-11-01",
                    "end": "2027-04-30",
                    "conditions": [
                        {
                            "id": "C1",
                            "type": "curfew",
                            "technology": "rf",
                            "start": "2026-11-01",
                            "end": "2027-01-31",
                            "address": {"lat": 52.6702, "lon": -0.7321, "radius_m": 30},
                            "windows": [
                                {
                                    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                                    "start": "19:00",
                                    "end": "07:00",
                                }
                            ],
                        },
                        {
                            "id": "C2",
                            "type": "exclusion_zone",
                            "monitored": True,
                            "name": "Victim's street",
                            "start": "2026-11-01",
                            "end": "2027-04-30",
                            "area": {
                                "type": "Polygon",
                                "coordinates": [
                                    [[-0.74, 52.66], [-0.73, 52.66], [-0.73, 52.665], [-0.74, 52.665], [-0.74, 52.66]]
                                ],
                            },
                        },
                        {
                            "id": "C3",
                            "type": "inclusion_zone",
                            "monitored": True,
                            "name": "Oakham",
                            "area": {"lat": 52.67, "lon": -0.73, "radius_m": 3000},
                            "windows": [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}],
                        },
                        {
                            "id": "C4",
                            "type": "attendance",
                            "place": {"lat": 52.671, "lon": -0.728, "radius_m": 50},
                            "appointments": [{"start": "2026-11-05T10:00:00Z", "end": "2026-11-05T11:00:00Z"}],
                        },
                        {"id": "C5", "type": "trail", "start": "2026-11-01", "end": "2027-01-31"},
                        {
                            "id": "C6",
                            "type": "alcohol",
                            "mode": "abstinence",
                            "start": "2026-11-01",
                            "end": "2027-02-28",
                        },
                    ],
                }
            ],
            "devices": [
                {"id": "RF-0001", "kind": "rf", "fitted": "2026-11-01T15:00:00Z", "removed": None},
                {"id": "GPS-0001", "kind": "gps", "fitted": "2026-11-01T15:00:00Z", "removed": None},
            ],
        }
    ],
}


def example() -> dict[str, Any]:
    """The case file of FORMATS.md, fresh for each use (tests mutate it)."""
    return json.loads(json.dumps(EXAMPLE_CASE_FILE))


@pytest.fixture
def example_file() -> dict[str, Any]:
    return example()


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def _audit_triggers_let_the_test_flush_through() -> Any:
    """Transactional tests (live_server, transactional_db) end with Django's flush, a TRUNCATE or DELETE
    of every table, which the audit table's triggers refuse, as they must in production. The test
    database keeps the real triggers (so every test runs against them); only the flush drops them,
    empties the tables and puts them back, in one transaction. Production has no such switch: this
    patch exists only in the test process."""
    from django.db import transaction
    from django.db.backends.base.operations import BaseDatabaseOperations

    from openem.audit import triggers

    original = BaseDatabaseOperations.execute_sql_flush

    def flush(self: Any, sql_list: list[str]) -> None:
        with transaction.atomic(using=self.connection.alias):
            triggers.remove(self.connection)
            original(self, sql_list)
            triggers.install(self.connection)

    BaseDatabaseOperations.execute_sql_flush = flush  # type: ignore[method-assign]
    yield
    BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]


@pytest.fixture
def personas(db: Any) -> dict[str, Any]:
    """Every persona of ``PERSONAS``, by short name."""
    from openem.accounts.personas import create_personas

    users = create_personas("pw")
    return {short: users[login] for short, login in PERSONA_LOGINS.items()}


@pytest.fixture
def case(personas: dict[str, Any]) -> Any:
    """Sam Example (FORMATS.md) on the practitioner's caseload; the other practitioner has none of it."""
    from openem.cases.casefile_io import import_casefile
    from openem.cases.models import Person

    data = example()
    data["people"][0]["practitioner"] = "alex.practitioner"
    data["people"][0]["crn"] = "X123456"
    import_casefile(casefile.parse(data), None, "test")
    return Person.objects.get(ref="P0001")


@pytest.fixture(autouse=True)
def _crime_dates_stay_valid(settings: Any) -> None:
    """The suite's crimes are dated November 2026, fixed: the age limit on crimes is set wide so they stay
    matchable whenever the suite runs (the test of the limit sets it itself)."""
    settings.OPENEM_CRIME_MAX_AGE_DAYS = 100 * 365


@pytest.fixture(autouse=True)
def _no_required_two_factor(settings: Any) -> None:
    """The suite runs as production (outside the demo), where administrators and operators must give a
    one-time code; ordinary tests sign in with force_login instead. tests/security/test_signin.py turns the
    requirement back on."""
    settings.OPENEM_OTP_REQUIRED_ROLES = ()


def shared_data(*parts: str) -> Path:
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path}; run from a checkout with ../shared beside it")
    return path


TODAY = date(2026, 11, 23)


NIGHT = datetime(2026, 11, 10, 22, 35, tzinfo=UTC)


def rf(h: int, m: int, in_range: bool, device: str = "RF-0001") -> str:
    return json.dumps({"device": device, "time": f"2026-11-10T{h:02d}:{m:02d}:00Z", "type": "rf", "in_range": in_range})


@pytest.fixture
def night(personas: dict[str, Any], case: Any) -> Any:
    """Sam Example (RoSH high, domestic abuse) out from 20:00 on 10 November; the violation is stored. His
    alcohol tag is fitted too, so that the absence is the only thing to tell anyone about (a tag not
    fitted for nine days would reach his practitioner as well: tests/test_monitoring_gaps.py)."""
    from openem.devices.models import Device, Fitting
    from openem.telemetry.ingest import ingest_jsonl
    from openem.telemetry.worker import EngineWorker

    tag = Device.objects.create(ref="ALC-0001", kind="alcohol")
    Fitting.objects.create(device=tag, person=case, fitted_at=datetime(2026, 11, 1, 15, tzinfo=UTC))
    ingest_jsonl("\n".join(rf(h, m, h < 20) for h in range(18, 23) for m in (0, 30)))
    EngineWorker("t").cycle(now=NIGHT)
    return case


@pytest.fixture
def equipment(night: Any) -> Any:
    """Sam's alcohol tag sent nothing for two hours the night before: an equipment incident in the centre's
    queue (a gap in alcohol monitoring, which protects no victim: not the practitioner's to hear about at
    once)."""
    from openem.alerts.models import Incident, Violation
    from openem.alerts.worker import AlertsWorker

    Violation.objects.create(
        key="alc-silent", person=night, order_ref="O0001", device="ALC-0001", type="no_signal",
        category="equipment", start=datetime(2026, 11, 9, 2, tzinfo=UTC), end=datetime(2026, 11, 9, 4, tzinfo=UTC),
    )  # fmt: skip
    AlertsWorker("t").cycle(now=NIGHT)
    return Incident.objects.get(person=night, kind="equipment")


@pytest.fixture
def incident(night: Any) -> Any:
    """The alerts worker has made Sam's curfew absence an incident and told the practitioner."""
    from openem.alerts.models import Incident
    from openem.alerts.worker import AlertsWorker

    AlertsWorker("t").cycle(now=NIGHT)
    return Incident.objects.get(person=night, kind="behaviour")
