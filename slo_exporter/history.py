"""The remaining-error-budget history of one SLO, computed once per status.

Owns the layout of the history curve: up to ``POINTS`` instants spread over
the stored history (at most one period, so a young store still draws a
curve), each with the budget remaining over the period that ends there. The
engine computes it when it builds an ``SLOStatus``, so the history travels on
the snapshot and a page view reads nothing from the store.

The past points sit on a grid of whole steps (the stored span divided into
``POINTS - 1``), which moves only when a new step has passed: about every
15 hours for a 30-day SLO. Until then every status (a full cycle, a probe
refresh every second) reuses them from the previous status instead of
summing the store again.

Must not write to the store, read a clock (the instant comes in) or be called
from a request handler.
"""

from __future__ import annotations

import math
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
    settle: float = 0.0,
    previous: BudgetHistory | None = None,
    points: int = POINTS,
) -> BudgetHistory:
    """The history of ``slo`` as seen at instant ``at``, whose budget is ``remaining``.

    The newest point is ``(at, remaining)``: never later than the instant the
    values describe. The past points sit on multiples of a step (the stored
    span divided into ``points - 1``, in whole buckets) and end at least
    ``settle`` seconds (how late events may still land) before ``at``, so
    every bucket they sum is closed and complete. ``previous`` (the SLO's last
    history) lends its past points while that grid has not moved.
    """
    first = store.first_bucket(slo.key)
    if first is None:
        return BudgetHistory()
    res = store.resolution
    span = min(slo.period.longest, at - first)
    step = max(res, (span // max(points - 1, 1)) // res * res)
    newest = math.floor((at - settle) / step) * step
    if (previous is not None and previous.grid_end == newest and previous.first == first
            and previous.step == step):
        past = previous.past
    else:
        past = _past_points(store, slo, newest=newest, step=step, first=first, count=points - 1)
    latest = (at, remaining) if remaining is not None and at > first else None
    return BudgetHistory(past=past, latest=latest, grid_end=newest, first=first, step=step)


def _past_points(
    store: StoreSums, slo: SLO, *, newest: float, step: float, first: float, count: int
) -> tuple[tuple[float, float], ...]:
    """Up to ``count`` points at ``newest - i * step``, each after the oldest stored bucket."""
    period = slo.period.longest
    out: list[tuple[float, float]] = []
    for i in range(count - 1, -1, -1):
        at = newest - i * step
        if at <= first:
            continue
        remaining = slomath.budget_remaining(store.sum(slo.key, at - period, at), slo.objective)
        if remaining is not None:
            out.append((at, remaining))
    return tuple(out)
