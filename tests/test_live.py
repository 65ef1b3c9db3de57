"""The simulator's live mode feeding OpenEM: paced, never ahead of the clock, and all accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from openem.simulate.live import run_live
from openem.simulate.profiles import SimConfig


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s
        self.slept += s


@pytest.mark.django_db
def test_live_mode_sends_nothing_before_it_was_measured_and_everything_is_accepted(tmp_path):
    from openem.cases.casefile_io import import_casefile
    from openem.engine import casefile
    from openem.simulate.population import case_file
    from openem.simulate.runner import plan
    from openem.telemetry.ingest import ingest_jsonl
    from openem.telemetry.models import Reading

    config = SimConfig(people=6, days=2, seed=4, start="2026-11-16")
    people = plan(config, datetime(2026, 11, 16).date())
    import_casefile(casefile.parse(case_file(people)), None, "test")
    now = datetime(2026, 11, 17, 12, 0, tzinfo=UTC).timestamp()
    clock = FakeClock(now)
    sends: list[tuple[float, float]] = []

    def send(url: str, token: str, body: bytes) -> dict:
        latest = max(json.loads(x)["time"] for x in body.decode().splitlines())
        sends.append((clock.now, datetime.fromisoformat(latest.replace("Z", "+00:00")).timestamp()))
        return ingest_jsonl(body, now=clock.now).to_json()

    accepted = run_live(
        config,
        "http://x",
        "t",
        speed=60,
        live_from_h=2,
        send=send,
        clock=clock,
        sleep=clock.sleep,
        log=lambda _: None,
        stop_at=now + 3 * 3600,
    )
    assert accepted == Reading.objects.count() > 1000
    assert all(measured <= sent_at for sent_at, measured in sends), "never a reading from the future"
    # Two hours before now are replayed at 60x (about 2 minutes), then real time until 3 hours after now
    # (the last upload before the stop falls up to 15 minutes short of it).
    assert 2.5 * 3600 < clock.slept < 3.1 * 3600
