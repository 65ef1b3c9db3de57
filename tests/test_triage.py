"""Triage on its own (no database): incidents per episode, severity, one notification, outages."""

from __future__ import annotations

from openem.alerts.triage import (
    Action,
    Delivery,
    Event,
    IncidentKind,
    MemoryStore,
    Risk,
    Severity,
    Triage,
    severity,
)
from openem.engine.violations import ViolationType as T

H = 3600.0
HIGH = Risk("high", None, frozenset())
LOW = Risk("low", None, frozenset())


def ev(key, t, start, end=None, person="P1", device="RF-1", where=None, victim=False):
    return Event(key, person, t, start, end, device, victim, where)


def run(triage, *items, now=10 * H):
    out = []
    for action, e in items:
        out += triage.apply(action, e, now)
    return out


def test_a_curfew_absence_with_its_tamper_and_loss_of_signal_is_one_incident():
    store = MemoryStore({"P1": LOW})
    t = Triage(store)
    run(
        t,
        (Action.OPEN, ev("a", T.CURFEW_ABSENCE, 1 * H, 3 * H)),
        (Action.OPEN, ev("b", T.TAMPER, 1.2 * H, 1.3 * H)),
        (Action.OPEN, ev("c", T.NO_SIGNAL, 1.4 * H, 2.5 * H)),
    )
    assert len(store.incidents) == 1
    (incident,) = store.incidents.values()
    assert incident.kind == IncidentKind.BEHAVIOUR and len(incident.members) == 3
    assert incident.severity == Severity.HIGH  # the tamper


def test_a_high_risk_curfew_absence_is_notified_at_once_and_only_once():
    store = MemoryStore({"P1": HIGH})
    t = Triage(store)
    first = run(t, (Action.OPEN, ev("a", T.CURFEW_ABSENCE, 1 * H)))
    assert [o.what for o in first] == ["opened", "notify"]
    assert "6d" in first[1].reason
    # The absence goes on, then ends, and a tamper joins it: updates, never a second message.
    later = run(
        t,
        (Action.CHANGE, ev("a", T.CURFEW_ABSENCE, 1 * H, 4 * H)),
        (Action.OPEN, ev("b", T.TAMPER, 2 * H, 2.1 * H)),
    )
    assert "notify" not in [o.what for o in later] and len(store.incidents) == 1


def test_a_low_risk_curfew_absence_waits_for_the_digest():
    store = MemoryStore({"P1": LOW})
    out = run(Triage(store), (Action.OPEN, ev("a", T.CURFEW_ABSENCE, 1 * H, 1.5 * H)))
    assert [o.what for o in out] == ["opened"] and store.incidents[1].delivery == Delivery.DIGEST


def test_an_exclusion_zone_protecting_a_victim_is_critical_and_immediate():
    e = ev("z", T.EXCLUSION_ZONE_ENTRY, 1 * H, 1.1 * H, device="GPS-1", victim=True)
    assert severity(e, LOW, 2 * H) == Severity.CRITICAL
    out = run(Triage(MemoryStore({"P1": LOW})), (Action.OPEN, e))
    assert "notify" in [o.what for o in out]


def test_equipment_goes_to_the_centre_queue_with_the_action_to_take():
    store = MemoryStore({"P1": HIGH})
    out = run(Triage(store), (Action.OPEN, ev("p", T.BATTERY_DEPLETED, 1 * H)))
    incident = store.incidents[1]
    assert [o.what for o in out] == ["opened"]
    assert incident.kind == IncidentKind.EQUIPMENT and incident.delivery == Delivery.QUEUE
    assert "charge" in incident.action


def test_episodes_far_apart_are_separate_incidents():
    store = MemoryStore({"P1": LOW})
    run(
        Triage(store),
        (Action.OPEN, ev("a", T.CURFEW_ABSENCE, 1 * H, 2 * H)),
        (Action.OPEN, ev("b", T.CURFEW_ABSENCE, 26 * H, 27 * H)),
    )
    assert len(store.incidents) == 2


def test_a_retracted_violation_closes_its_incident():
    store = MemoryStore({"P1": LOW})
    t = Triage(store)
    e = ev("a", T.CURFEW_ABSENCE, 1 * H)
    run(t, (Action.OPEN, e))
    out = run(t, (Action.RETRACT, e))
    assert out[0].what == "closed" and store.incidents[1].closed == "retracted"


def test_many_devices_silent_together_in_one_town_are_one_infrastructure_incident():
    store = MemoryStore({f"P{i}": LOW for i in range(6)})
    t = Triage(store)
    oakham = (52.670, -0.730)
    items = [
        (Action.OPEN, ev(f"s{i}", T.NO_SIGNAL, 1 * H + i * 60, person=f"P{i}", device=f"RF-{i}",
                         where=(oakham[0] + i * 0.002, oakham[1])))
        for i in range(6)
    ]  # fmt: skip
    outcomes = run(t, *items)
    infra = [i for i in store.incidents.values() if i.kind == IncidentKind.INFRASTRUCTURE]
    assert len(infra) == 1 and len(infra[0].members) == 6
    # The first silences opened personal incidents; they are closed as part of the outage.
    personal = [i for i in store.incidents.values() if i.kind != IncidentKind.INFRASTRUCTURE]
    assert all(i.closed == "merged" for i in personal)
    assert sum(o.what == "notify" for o in outcomes) == 1  # one message to the centre, not six


def test_silences_far_apart_stay_personal():
    store = MemoryStore()
    t = Triage(store)
    run(
        t,
        *[
            (
                Action.OPEN,
                ev(f"s{i}", T.NO_SIGNAL, 1 * H, person=f"P{i}", device=f"RF-{i}", where=(52.6 + i * 0.1, -0.7)),
            )
            for i in range(5)
        ],
    )
    assert all(i.kind == IncidentKind.EQUIPMENT for i in store.incidents.values()) and len(store.incidents) == 5
