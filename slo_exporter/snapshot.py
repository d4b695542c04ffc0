"""Immutable results of one evaluation, read by /metrics, /api/v1/slos and /.

The evaluator builds a new ``Snapshot`` and swaps it in with one reference
assignment; readers never lock and never wait on a data source.
"""

from __future__ import annotations

from dataclasses import dataclass

from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO, AlertWindow


@dataclass(frozen=True)
class WindowValues:
    window: float  # seconds
    good: float
    total: float
    sli: float | None  # None when total == 0: no data is not zero errors
    burn_rate: float | None

    @property
    def bad(self) -> float:
        return max(self.total - self.good, 0.0)


@dataclass(frozen=True)
class AlertState:
    """One alert condition of an SLO at one evaluation.

    A single-window condition has ``short_window == long_window`` (its one
    window read twice). ``since``: when the condition began to hold (None
    when it does not hold); ``firing`` once it has held ``hold`` seconds.
    """

    severity: str  # "page" | "ticket"
    long_window: float
    short_window: float
    factor: float
    long_burn_rate: float | None
    short_burn_rate: float | None
    firing: bool
    hold: float = 0.0
    since: float | None = None
    #: the condition's definition (name, labels and annotations derive from it)
    window: AlertWindow | None = None


@dataclass(frozen=True)
class BudgetHistory:
    """Remaining error budget at past instants, computed once per status.

    ``past`` holds points on a grid of ``step`` seconds ending at
    ``grid_end`` and starting after ``first`` (the oldest stored bucket);
    all three are kept so a later status can reuse the past points while
    the grid has not moved. ``latest`` is the point at the instant the
    status describes, never later.
    """

    past: tuple[tuple[float, float], ...] = ()
    latest: tuple[float, float] | None = None
    grid_end: float | None = None
    first: float | None = None
    step: float | None = None

    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        """``(unix seconds, remaining)`` pairs, oldest first."""
        return self.past if self.latest is None else (*self.past, self.latest)


@dataclass(frozen=True)
class SLOStatus:
    slo: SLO
    windows: tuple[WindowValues, ...] = ()
    budget_remaining: float | None = None
    alerts: tuple[AlertState, ...] = ()
    up: bool = False  # the data source answered at the last evaluation
    evaluated_at: float | None = None  # the instant the values describe
    error: str | None = None  # last error, for humans
    budget_history: BudgetHistory = BudgetHistory()
    #: the current period to date (calendar or rolling), with coverage,
    #: exclusions, forecast and SLA outcome; None until computed
    period: PeriodFigures | None = None

    def window(self, seconds: float) -> WindowValues | None:
        for w in self.windows:
            if w.window == seconds:
                return w
        return None


@dataclass(frozen=True)
class Snapshot:
    slos: tuple[SLOStatus, ...] = ()
    taken_at: float = 0.0
    #: True once the first full evaluation has finished
    complete: bool = False
