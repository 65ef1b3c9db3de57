"""The rules as a declared pipeline: an ordered list of small rule classes, each with a code, the device
kinds it applies to and one ``evaluate`` that returns violations and typed notes (in the spirit of Traccar's
handler chain, one job per class). A rule sees the violations of the rules before it (the alcohol rule reads
the tag's confirmed tampers). Adding a rule is adding a class here and putting it in ``PIPELINE``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import ClassVar

from ..enums import DeviceKind
from ..notes import Note
from ..violations import Violation, ViolationType
from . import alcohol, attendance, curfew, equipment, zones
from .context import Context

EVERY_KIND = frozenset(DeviceKind)


@dataclass
class Outcome:
    violations: list[Violation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


class Rule:
    code: ClassVar[str]  # short, stable: names the rule in operational alerts and logs
    title: ClassVar[str]  # how a person reads it ("failed in the home unit power rule")
    kinds: ClassVar[frozenset[DeviceKind]]

    def applies_to(self, kind: DeviceKind) -> bool:
        return kind in self.kinds

    def evaluate(self, ctx: Context, earlier: list[Violation]) -> Outcome:
        before = len(ctx.notes)
        found = self.check(ctx, earlier)
        return Outcome(found, ctx.notes[before:])

    def check(self, ctx: Context, earlier: list[Violation]) -> list[Violation]:
        raise NotImplementedError


def _rule(code: str, title: str, kinds: frozenset[DeviceKind], module: ModuleType, name: str) -> type[Rule]:
    """A rule whose work is one function of the context (looked up when called, so a module's function
    replaced at run time, as a test does to make a rule fail, is the one run)."""

    def check(self: Rule, ctx: Context, earlier: list[Violation]) -> list[Violation]:
        fn: Callable[[Context], list[Violation] | None] = getattr(module, name)
        return fn(ctx) or []

    return type(code.title().replace("_", ""), (Rule,), {"code": code, "title": title, "kinds": kinds, "check": check})


Curfew = _rule("curfew", "curfew", frozenset({DeviceKind.GPS, DeviceKind.RF}), curfew, "evaluate")
Zones = _rule("zones", "zones", frozenset({DeviceKind.GPS}), zones, "evaluate")
Attendance = _rule("attendance", "attendance", frozenset({DeviceKind.GPS}), attendance, "evaluate")
LocationFailure = _rule(
    "location_failure", "location failure", frozenset({DeviceKind.GPS}), equipment, "location_failure"
)
HomeUnitPower = _rule("home_unit_power", "home unit power", frozenset({DeviceKind.RF}), equipment, "home_unit_power")
Tamper = _rule("tamper", "tamper", EVERY_KIND, equipment, "tamper")


class Alcohol(Rule):
    """Drinking, from the tag's readings; a reading while the tag was tampered with is not sobriety."""

    code, title, kinds = "alcohol", "alcohol", frozenset({DeviceKind.ALCOHOL})

    def check(self, ctx: Context, earlier: list[Violation]) -> list[Violation]:
        return alcohol.evaluate(ctx, [v for v in earlier if v.type == ViolationType.TAMPER])


Silence = _rule("silence", "silence", EVERY_KIND, equipment, "silence")
Battery = _rule("battery", "battery", EVERY_KIND, equipment, "battery_low")

# The order matters only where a rule reads an earlier one's violations (alcohol after tamper).
PIPELINE: tuple[Rule, ...] = (
    Curfew(), Zones(), Attendance(), LocationFailure(), HomeUnitPower(), Tamper(), Alcohol(), Silence(), Battery(),
)  # fmt: skip
