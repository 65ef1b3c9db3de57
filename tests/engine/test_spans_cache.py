"""A curfew's occurrences are reused across the worker's cycles: whatever the data's end, the spans given are
exactly those worked out afresh for it (including the release day and across the clock changes)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from openem.engine import casefile
from openem.engine.enums import ConditionType, DeviceKind
from openem.engine.model import Params, compile_cases
from openem.engine.rules.context import Context
from openem.engine.telemetry import DeviceFrame
from tests.conftest import example

CASES = example()
CASES["people"][0]["orders"][0]["conditions"][0]["release_day_start"] = "15:00"
MODEL = compile_cases(casefile.parse(CASES))
SUBJECT = MODEL.subjects["P0001"]
(CURFEW,) = SUBJECT.of_type(ConditionType.CURFEW)
assert CURFEW.spec.release_day_start is not None  # the release day is part of what is reused
START = datetime(2026, 11, 1, 15, tzinfo=UTC).timestamp()


@settings(max_examples=60, deadline=None)
@given(hours=st.lists(st.floats(0, 24 * 120), min_size=1, max_size=6))
def test_cached_spans_equal_spans_worked_out_afresh(hours):
    frame = DeviceFrame.build("RF-0001", [])
    for h in hours:  # the same condition asked about with the data ending later and later (or earlier)
        end = START + h * 3600
        ctx = Context(SUBJECT, frame, DeviceKind.RF, Params(), START, end, end)
        lo, hi = max(CURFEW.span[0], START), min(CURFEW.span[1], end)
        fresh = ctx._spans(CURFEW, lo, hi) if lo < hi else []
        assert ctx.spans(CURFEW) == fresh
    assert len(CURFEW.spans_cache) <= 17
