"""The remaining-error-budget history of one SLO, computed once per status.

Owns the layout of the history curve: up to ``POINTS`` instants spread over
the stored history (at most one period, so a young store still draws a
curve), each with the budget remaining over the period that ends there. The
engine computes it when it builds an ``SLOStatus``, so the history travels on
the snapshot and a page view reads nothing from the store.

The past points sit on a grid that only moves when a new bucket starts, so a
status built again within the same bucket (a probe refresh every second)
reuses them from the previous status instead of summing the store again.

Must not write to the store, read a clock (the instant comes in) or be called
from a request handler.
"""

from __future__ import annotations

from typing import Protocol

from slo_exporter import slomath
from slo_exporter.model import SLO
from slo_exporter.slomath import Counts
from slo_exporter.snapshot import BudgetHistory

#: points on the status page sparkline and in ``error_budget_history``
POINTS = 48


class StoreSums(Protocol):
    """The part of the event store the history reads."""

    @property
    def resolution(self) -> float: ...

    def sum(self, slo_key: str, start: float, end: float) -> Counts: ...

    def first_bucket(self, slo_key: str) -> float | None: ...


def budget_history(
    store: StoreSums,
    slo: SLO,
    at: float,
    remaining: float | None,
    *,
    previous: BudgetHistory | None = None,
    points: int = POINTS,
) -> BudgetHistory:
    """The history of ``slo`` as seen at instant ``at``, whose budget is ``remaining``.

    The newest point is ``(at, remaining)``: never later than the instant the
    values describe. ``previous`` (the SLO's last history) lends its past
    points when its grid is the same.
    """
    first = store.first_bucket(slo.key)
    if first is None:
        return BudgetHistory()
    res = store.resolution
    end = slo.period.bounds(at, res)[1]
    if previous is not None and previous.grid_end == end and previous.first == first:
        past = previous.past
    else:
        past = _past_points(store, slo, end, first, points)
    latest = (at, remaining) if remaining is not None and at > first else None
    return BudgetHistory(past=past, latest=latest, grid_end=end, first=first)


def _past_points(
    store: StoreSums, slo: SLO, end: float, first: float, points: int
) -> tuple[tuple[float, float], ...]:
    """Points at ``end - i * step`` for i >= 1: every one at or before the current bucket's start.

    They cover whole, closed buckets only, which is what makes them reusable
    while the grid stays put.
    """
    res = store.resolution
    period = slo.period.longest
    span = min(period, end - first - res)
    step = max(res, (span // max(points - 1, 1)) // res * res)
    out: list[tuple[float, float]] = []
    for i in range(points - 1, 0, -1):
        at = end - i * step
        if at <= first:
            continue
        remaining = slomath.budget_remaining(store.sum(slo.key, at - period, at), slo.objective)
        if remaining is not None:
            out.append((at, remaining))
    return tuple(out)
