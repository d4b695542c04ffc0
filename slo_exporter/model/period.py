"""The SLO period: the span a budget is counted over.

Owns what a period is and where it lies at a given instant: the rolling
window here, and calendar periods (week, month, quarter in a time zone) in
``calendar``, with the same ``label``, ``longest`` and ``bounds``, so the
engine asks a period for its bounds instead of doing arithmetic on a bare
number of seconds.

Must not read a clock: every method takes the instant it is asked about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from slo_exporter.durations import format_duration
from slo_exporter.model.calendar import CalendarPeriod


@dataclass(frozen=True)
class RollingPeriod:
    """The last ``seconds`` before an instant, in whole store buckets."""

    seconds: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds > 0.0):
            raise ValueError(f"a rolling period must be a positive duration, got {self.seconds!r}")

    @property
    def label(self) -> str:
        """The ``window`` label value of the period, e.g. ``30d``."""
        return format_duration(self.seconds)

    @property
    def longest(self) -> float:
        """The longest the period can be, which is how far back data is kept."""
        return self.seconds

    def length(self, at: float) -> float:
        """How long the period is at ``at``: always ``seconds`` for a rolling one."""
        return self.seconds

    def bounds(self, at: float, resolution: float) -> tuple[float, float]:
        """``[start, end)`` of the period evaluated at ``at``, in whole buckets.

        The bucket holding ``at`` is included with the events seen so far, so
        ``end`` is the end of that bucket.
        """
        end = math.floor(at / resolution) * resolution + resolution
        return end - self.seconds, end


#: The kind of period an SLO has: rolling, or calendar (``calendar.CalendarPeriod``).
Period = RollingPeriod | CalendarPeriod
