"""Calendar periods: the ISO week, month, quarter or year in a time zone.

Owns where a calendar period starts and ends, by wall-clock arithmetic in
an IANA zone: ISO weeks start on Monday 00:00 local time, months on the 1st
at 00:00, quarters on January, April, July and October 1st at 00:00, years
on January 1st at 00:00. Months
have 28 to 31 days, days around a DST change 23 or 25 hours (or 23.5 and
24.5 on Lord Howe Island), so a March in Europe/Berlin lasts 44,580 minutes.

A period starts at the first instant at or after its first local midnight:
- where midnight exists once, that midnight;
- where it occurs twice (the clock goes back across it), the first one, so
  the repeated span belongs to the new period;
- where the clock skips it (DST starting at 00:00, as in America/Santiago
  or America/Havana), the instant the clock jumps, so no time is lost.
Consecutive periods therefore tile time with no gap and no overlap.

Must not read a clock: every method takes the instant it is asked about.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CalendarUnit = Literal["week", "month", "quarter", "year"]
CALENDAR_UNITS: tuple[CalendarUnit, ...] = ("week", "month", "quarter", "year")

_DAY = 86400.0
#: How much longer than its calendar days a period can be. DST adds 1 h in
#: most zones and 2 h in Antarctica/Troll, but a zone changing its standard
#: offset adds more (Antarctica/Casey, 3 h in March 2018; Alaska, a whole
#: day in 1867), so the bound is a day: keeping one more day is cheap,
#: keeping too little loses a period's start.
_LONGEST_SHIFT = _DAY
_LONGEST_DAYS = {"week": 7, "month": 31, "quarter": 92, "year": 366}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_LABELS: tuple[tuple[CalendarUnit, re.Pattern[str]], ...] = (
    ("week", re.compile(r"(\d{4})-W(\d{2})", re.ASCII)),
    ("month", re.compile(r"(\d{4})-(\d{2})", re.ASCII)),
    ("quarter", re.compile(r"(\d{4})-Q(\d)", re.ASCII)),
    ("year", re.compile(r"(\d{4})", re.ASCII)),
)


@dataclass(frozen=True)
class CalendarPeriod:
    """The calendar ``unit`` (week, month, quarter or year) in ``time_zone``."""

    unit: CalendarUnit
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.unit not in CALENDAR_UNITS:
            raise ValueError(
                f"a calendar period is one of {', '.join(CALENDAR_UNITS)}, got {self.unit!r}"
            )
        get_zone(self.time_zone)

    @property
    def label(self) -> str:
        """The ``window`` label value of the period: its unit (``month``, ``year``, ...)."""
        return self.unit

    @property
    def longest(self) -> float:
        """The longest the period can be, which is how far back data is kept.

        The longest calendar span (7, 31, 92 or 366 days) plus one day, the most
        any offset change in the tz database has added, so the bound holds
        in every zone, not only in those whose DST moves by an hour.
        """
        return _LONGEST_DAYS[self.unit] * _DAY + _LONGEST_SHIFT

    def current(self, at: float) -> tuple[float, float]:
        """``[start, end)`` in epoch seconds of the period holding instant ``at``."""
        first = self._first_day(at)
        return self._start(first), self._start(_shift(self.unit, first, 1))

    def previous(self, at: float) -> tuple[float, float]:
        """``[start, end)`` of the period before the one holding ``at``."""
        first = _shift(self.unit, self._first_day(at), -1)
        return self._start(first), self._start(_shift(self.unit, first, 1))

    def next(self, at: float) -> tuple[float, float]:
        """``[start, end)`` of the period after the one holding ``at``."""
        first = _shift(self.unit, self._first_day(at), 1)
        return self._start(first), self._start(_shift(self.unit, first, 1))

    def length(self, at: float) -> float:
        """Seconds in the whole period holding ``at`` (what alert factors scale to)."""
        start, end = self.current(at)
        return end - start

    def label_of(self, at: float) -> str:
        """The name of the period holding ``at``: ``2026-W10``, ``2026-03``, ``2026-Q1``, ``2026``.

        Weeks are named by their ISO week-year, so the week starting Monday
        2025-12-29 is ``2026-W01``.
        """
        first = self._first_day(at)
        if self.unit == "week":
            year, week, _ = first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.unit == "month":
            return f"{first.year}-{first.month:02d}"
        if self.unit == "year":
            return f"{first.year}"
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"

    def span_of(self, label: str) -> tuple[float, float]:
        """``[start, end)`` of the period named ``label``, the inverse of ``label_of``.

        Raises ValueError when the label does not name a period of this unit.
        """
        unit, first = parse_label(label)
        if unit != self.unit:
            raise ValueError(f"period {label!r} is a {unit}, not a {self.unit}")
        return self._start(first), self._start(_shift(self.unit, first, 1))

    def bounds(self, at: float, resolution: float) -> tuple[float, float]:
        """``[start, end)`` of the period to date at ``at``, in whole store buckets.

        ``end`` is the end of the bucket holding ``at`` (its events so far
        included), as for a rolling period; ``start`` is the period's start
        floored to the bucket grid, so where the zone's midnight is not on
        the grid (Asia/Kolkata with hourly buckets) the first bucket reaches
        back into the previous period.
        """
        start, _ = self.current(at)
        end = math.floor(at / resolution) * resolution + resolution
        return math.floor(start / resolution) * resolution, end

    def _first_day(self, at: float) -> date:
        """The local calendar date the period holding ``at`` starts on."""
        local = datetime.fromtimestamp(at, get_zone(self.time_zone)).date()
        first = _period_start_date(self.unit, local)
        # The local date never starts a period too late (an instant reading
        # the first day or later is at or after that day's first midnight),
        # but can start it too early: after the clock goes back across
        # midnight, the repeated late evening already belongs to the new period.
        following = _shift(self.unit, first, 1)
        if at >= self._start(following):
            return following
        # And the other way: the local time is rounded to whole microseconds,
        # so an instant a hair before a period's first midnight reads as it.
        if at < self._start(first):
            return _shift(self.unit, first, -1)
        return first

    def _start(self, day: date) -> float:
        """The first instant at or after local midnight starting ``day``."""
        return first_instant_at_or_after(datetime(day.year, day.month, day.day), self.time_zone)


def parse_label(label: str) -> tuple[CalendarUnit, date]:
    """The unit and first day of the period named ``label``: ``2026-W10``, ``2026-03``,
    ``2026-Q1``, ``2026``.

    Raises ValueError, saying which forms are accepted, for anything else,
    including a month 13, a quarter 5 or a week 53 of a year with 52 ISO weeks.
    """
    for unit, pattern in _LABELS:
        match = pattern.fullmatch(label)
        if match is None:
            continue
        if unit == "year":
            if int(match[1]) >= 1:
                return unit, date(int(match[1]), 1, 1)
            break
        year, number = int(match[1]), int(match[2])
        try:
            if unit == "week":
                return unit, date.fromisocalendar(year, number, 1)
            if unit == "month":
                return unit, date(year, number, 1)
            if 1 <= number <= 4:
                return unit, date(year, number * 3 - 2, 1)
        except ValueError:
            pass
        break
    raise ValueError(
        f"unknown period {label!r}: expected a month (2026-03), a quarter (2026-Q1), "
        "an ISO week (2026-W10) or a year (2026)"
    )


def get_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or a ValueError that says how to name one."""
    """The IANA zone ``name``, or a ValueError that says how to name one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: expected an IANA name such as UTC or Europe/Berlin"
        ) from None


def _period_start_date(unit: str, day: date) -> date:
    """The first day of the calendar ``unit`` holding ``day``."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return date(day.year, 1, 1)
    return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)


def _shift(unit: str, first: date, count: int) -> date:
    """The first day of the period ``count`` periods after the one starting on ``first``."""
    if unit == "week":
        return first + timedelta(weeks=count)
    months = first.year * 12 + first.month - 1 + count * _MONTHS[unit]
    return date(months // 12, months % 12 + 1, 1)


def first_instant_at_or_after(wall: datetime, time_zone: str) -> float:
    """Epoch seconds of the first instant whose local wall clock reads ``wall`` or later.

    ``wall`` is naive. Both readings of the wall time (``fold`` 0 and 1) are
    tried: if either is a real reading, the earliest real one wins. If
    neither is (the clock skipped ``wall``), the answer is the instant of
    the jump, found by bisection between the two readings, which bracket it.
    """
    zone = get_zone(time_zone)
    readings = [wall.replace(tzinfo=zone, fold=fold).timestamp() for fold in (0, 1)]
    real = [t for t in readings if _wall_at(t, zone) == wall]
    if real:
        return min(real)
    # In a gap, fold=1 reads the wall time with the offset after the jump,
    # which lands before it; fold=0 with the offset before, which lands after.
    before, after = int(min(readings)), int(max(readings))
    while after - before > 1:  # bounded: the gap is hours, about 15 halvings
        middle = (before + after) // 2
        if _wall_at(middle, zone) >= wall:
            after = middle
        else:
            before = middle
    return float(after)


def _wall_at(at: float, zone: ZoneInfo) -> datetime:
    """The naive local wall time at instant ``at``."""
    return datetime.fromtimestamp(at, zone).replace(tzinfo=None)
