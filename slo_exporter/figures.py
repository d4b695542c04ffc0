"""What one SLO achieved over one span: the figures a service-level manager reads.

Owns the shape of a period's result, shared by the engine (the current
period to date, on every status), the exported metrics, the status page,
the JSON API and ``slo-exporter report``. Computing them is
``slo_exporter.compliance``; this module only holds the frozen results, so
every reader depends on the shape and not on the computation.

Must not compute, read a clock or touch the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from slo_exporter.model import BudgetingMethod
from slo_exporter.timeslices import SliceCounts

Verdict = Literal["met", "missed", "inconclusive"]
#: where a period's events came from: the embedded store, Prometheus history
#: read for the report, or nowhere (a probe SLO the store no longer holds)
Source = Literal["store", "prometheus", "unmeasured"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """A binomial confidence interval on the achieved ratio, and what it says.

    ``verdict`` is ``met`` when the whole interval is at or above the
    objective, ``missed`` when it is wholly below, else ``inconclusive``.
    """

    confidence: float
    lower: float
    upper: float
    verdict: Verdict


@dataclass(frozen=True, slots=True)
class WorstDay:
    date: str  # ISO date, local to the period's time zone
    achieved: float


@dataclass(frozen=True, slots=True)
class SLAOutcome:
    """The SLA's verdict for the SLA period holding the figures' instant."""

    objective: Decimal  # percent, as written
    label: str  # the SLA period, e.g. 2026-03
    start: float
    end: float
    achieved_percent: Decimal | None  # cut to four places, rounding down
    met: bool | None  # None when nothing was measured
    credit_percent: Decimal | None  # projected while the SLA period runs


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One SLO over ``[start, end)``, as of ``at`` (``at <= end``; to date while it runs).

    Ratios are in [0, 1]; ``None`` where nothing was measured. Events are
    those outside excluded time; ``excluded_events`` fell inside it.
    ``slices`` is set for timeslice budgeting only.
    """

    label: str  # 2026-03, 2026-Q1, 2026-W10, or the rolling window (30d)
    start: float
    end: float
    at: float
    time_zone: str  # the calendar's zone, UTC for rolling periods
    objective: float
    budgeting: BudgetingMethod
    achieved: float | None
    met: bool | None
    good_events: float = 0.0
    bad_events: float = 0.0
    excluded_events: float = 0.0
    slices: SliceCounts | None = None
    #: measured / (elapsed - excluded) time; None before any time elapsed
    coverage: float | None = None
    measured_seconds: float = 0.0
    excluded_seconds: float = 0.0
    #: budget spent so far, 1.0 = all of it (the occurrences budget is
    #: projected to the whole period from the rate so far)
    budget_spent_ratio: float | None = None
    #: when the budget runs out at the current burn; None when not this period
    exhaustion_at: float | None = None
    worst_day: WorstDay | None = None
    evidence: Evidence | None = None
    sla: SLAOutcome | None = None
    source: Source = "store"

    @property
    def budget_remaining(self) -> float | None:
        return None if self.budget_spent_ratio is None else 1.0 - self.budget_spent_ratio
