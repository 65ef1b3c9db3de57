"""Weekly timetables: windows of local wall-clock time that may run past midnight.

A window starts on each of its ``days`` at ``start`` and runs to ``end``; an end at or before the
start means the next day, and 24:00 is the end of the day (FORMATS.md). Week-minutes count from
Monday 00:00, so a week is 10,080 minutes and Sunday-night windows wrap round to Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from .enums import Day

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


def parse_hhmm(text: str) -> int:
    """Minutes after midnight for "HH:MM" (00:00 to 24:00). Raises ValueError with a plain message."""
    parts = text.split(":") if isinstance(text, str) else []
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f'"{text}" is not a time')
    hours, minutes = int(parts[0]), int(parts[1])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValueError(f'"{text}" is not a time')
    return hours * 60 + minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Window:
    days: tuple[Day, ...]
    start_min: int
    end_min: int

    @classmethod
    def from_json(cls, data: dict) -> Window:
        return cls(tuple(Day(d) for d in data["days"]), parse_hhmm(data["start"]), parse_hhmm(data["end"]))

    def to_json(self) -> dict:
        return {"days": [d.value for d in self.days], "start": self.start, "end": self.end}

    @property
    def start(self) -> str:
        return format_hhmm(self.start_min)

    @property
    def end(self) -> str:
        return format_hhmm(self.end_min)

    @property
    def duration_min(self) -> int:
        """Length of one occurrence; an end at or before the start is on the next day."""
        if self.end_min > self.start_min:
            return self.end_min - self.start_min
        return self.end_min + MINUTES_PER_DAY - self.start_min

    @property
    def overnight(self) -> bool:
        return self.end_min <= self.start_min

    def intervals(self) -> list[tuple[int, int]]:
        """Occurrences as [start, end) week-minutes; end may pass the end of the week (wraps)."""
        return [
            (
                d.number * MINUTES_PER_DAY + self.start_min,
                d.number * MINUTES_PER_DAY + self.start_min + self.duration_min,
            )
            for d in self.days
        ]

    def describe(self) -> str:
        days = ", ".join(d.label[:3] for d in sorted(self.days, key=lambda d: d.number))
        suffix = " (next day)" if self.overnight else ""
        return f"{days} {self.start} to {self.end}{suffix}"


def week_intervals(windows: list[Window] | tuple[Window, ...]) -> list[tuple[int, int, int]]:
    """All occurrences as (start, end, window index), split at the end of the week, sorted."""
    out: list[tuple[int, int, int]] = []
    for i, w in enumerate(windows):
        for start, end in w.intervals():
            if end <= MINUTES_PER_WEEK:
                out.append((start, end, i))
            else:
                out.append((start, MINUTES_PER_WEEK, i))
                out.append((0, end - MINUTES_PER_WEEK, i))
    out.sort()
    return out


def overlaps(windows: list[Window] | tuple[Window, ...]) -> list[tuple[int, int, Day]]:
    """Pairs of windows (by index) that overlap, with the day on which the later one starts."""
    found: list[tuple[int, int, Day]] = []
    seen: set[tuple[int, int]] = set()
    iv = week_intervals(windows)
    for a in range(len(iv)):
        for b in range(a + 1, len(iv)):
            sa, ea, ia = iv[a]
            sb, eb, ib = iv[b]
            if sb >= ea:
                break
            if sb < ea and sa < eb:
                key = (min(ia, ib), max(ia, ib))
                if key not in seen:
                    seen.add(key)
                    found.append((key[0], key[1], list(Day)[sb // MINUTES_PER_DAY]))
    return found


def minutes_by_start_day(windows: list[Window] | tuple[Window, ...]) -> dict[Day, int]:
    """Curfew minutes attributed to the day on which each occurrence starts."""
    totals = {d: 0 for d in Day}
    for w in windows:
        for d in w.days:
            totals[d] += w.duration_min
    return totals


def merged_runs(windows: list[Window] | tuple[Window, ...]) -> list[tuple[int, int]]:
    """The week's curfew time as continuous runs (start week-minute, length in minutes), overlapping and
    touching windows merged, a run across the end of the week joined to its continuation on Monday. Several
    curfew conditions of one order apply together: their limits hold for this union."""
    covered = bytearray(MINUTES_PER_WEEK)
    for start, end, _ in week_intervals(windows):
        covered[start:end] = b"\x01" * (end - start)
    if all(covered):
        return [(0, MINUTES_PER_WEEK)]
    # Start the scan just after a free minute, so no run is split by the scan's own start.
    first_free = covered.index(0)
    runs: list[tuple[int, int]] = []
    run_start = None
    for k in range(first_free, first_free + MINUTES_PER_WEEK + 1):
        on = covered[k % MINUTES_PER_WEEK] if k < first_free + MINUTES_PER_WEEK else 0
        if on and run_start is None:
            run_start = k
        elif not on and run_start is not None:
            runs.append((run_start % MINUTES_PER_WEEK, k - run_start))
            run_start = None
    return sorted(runs)


def weekly_minutes(windows: list[Window] | tuple[Window, ...]) -> int:
    return sum(minutes_by_start_day(windows).values())


def grid(windows: list[Window] | tuple[Window, ...], slot_min: int = 30) -> dict[Day, list[bool]]:
    """For each day, which slots of ``slot_min`` minutes are inside a window (for the week grid)."""
    slots = MINUTES_PER_DAY // slot_min
    cells = {d: [False] * slots for d in Day}
    days = list(Day)
    for start, end, _ in week_intervals(windows):
        for slot_start in range(start - start % slot_min, end, slot_min):
            if slot_start + slot_min > start and slot_start < end:
                day = days[(slot_start // MINUTES_PER_DAY) % 7]
                cells[day][(slot_start % MINUTES_PER_DAY) // slot_min] = True
    return cells


def occurrences(
    windows: list[Window] | tuple[Window, ...], first: date, last: date, tz: str = "Europe/London"
) -> list[tuple[datetime, datetime, Window]]:
    """Each window's occurrences that start on local dates first..last, as aware UTC datetimes.

    Wall-clock times are placed in ``tz`` with zoneinfo, so a 19:00-07:00 curfew lasts 11 hours on the
    night the clocks go forward and 13 on the night they go back; a time that does not exist (01:30 on
    the spring change) is read with the offset before the change, as zoneinfo does.
    """
    zone = ZoneInfo(tz)
    out = []
    day = first
    while day <= last:
        weekday = list(Day)[day.weekday()]
        for w in windows:
            if weekday not in w.days:
                continue
            start = datetime.combine(day, dtime(w.start_min // 60, w.start_min % 60), zone)
            end_day = day + timedelta(days=1) if w.overnight or w.end_min == MINUTES_PER_DAY else day
            end_min = 0 if w.end_min == MINUTES_PER_DAY else w.end_min
            end = datetime.combine(end_day, dtime(end_min // 60, end_min % 60), zone)
            out.append((start.astimezone(UTC), end.astimezone(UTC), w))
        day += timedelta(days=1)
    out.sort(key=lambda o: o[0])
    return out
