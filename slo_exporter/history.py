"""The remaining-error-budget history of one SLO, computed once per status.

Owns the layout of the history curve: up to ``POINTS`` instants spread over
the stored history (at most one period, so a young store still draws a
curve), each with the budget remaining over the period that ends there; for
a calendar SLO, instants in the current period, each with the budget of the
period to that instant. The
engine computes it when it builds an ``SLOStatus``, so the history travels on
the snapshot and a page view reads nothing from the store.

The past points sit on a grid of whole steps (the stored span divided into
``POINTS - 1``), which moves only when a new step has passed: about every
15 hours for a 30-day SLO. Until then every status (a full cycle, a probe
refresh every second) reuses them from the previous status instead of
summing the store again; when it moves, the points the caller vouches for
(``carry``: their buckets take no more events) stay where they are on the
grid, and only the new step's points are summed.

Must not write to the store, read a clock (the instant comes in) or be called
from a request handler.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Protocol

from slo_exporter import slomath
from slo_exporter.frozen import slotted
from slo_exporter.model import SLO, CalendarPeriod
from slo_exporter.slomath import Counts
from slo_exporter.snapshot import BudgetHistory, Points

#: points on the status page sparkline and in ``error_budget_history``
POINTS = 48

#: the budget remaining as of a past instant
BudgetAt = Callable[[float], float | None]


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
    budget_at: BudgetAt | None = None,
    carry: float = -math.inf,
) -> BudgetHistory:
    """The history of ``slo`` as seen at instant ``at``, whose budget is ``remaining``.

    The newest point is ``(at, remaining)``: never later than the instant the
    values describe. The past points sit on multiples of a step (the stored
    span divided into ``points - 1``, in whole buckets) and end at least
    ``settle`` seconds (how late events may still land) before ``at``, so
    every bucket they sum is closed and complete. ``previous`` (the SLO's last
    history) lends its past points while that grid has not moved.

    A calendar SLO's history covers its current period only, as its budget
    does: the step divides the whole period (so the grid stays put while the
    period runs and the curve grows from its start), and no point lies at or
    before the period's start, so the curve starts afresh at each boundary.

    ``budget_at(t)`` is the budget remaining at a past instant ``t`` on the
    grid; by default the plain budget of the period ending there, which the
    engine replaces with its own (maintenance left out).

    ``carry``: the caller's promise that no bucket before it gets events any
    more since ``previous`` was worked out; past points of ``previous`` at or
    before it stand when the grid moves by whole steps (the same step and
    first bucket), so a move computes the new points only.
    """
    first = store.first_bucket(slo.key)
    if first is None:
        return BudgetHistory()
    res = store.resolution
    if isinstance(slo.period, CalendarPeriod):
        # `first` doubles as the period marker: a new period moves it, so
        # points of the previous period are never reused.
        first = max(first, slo.period.current(at)[0])
        span = slo.period.length(at)
    else:
        span = min(slo.period.longest, at - first)
    step = max(res, (span // max(points - 1, 1)) // res * res)
    newest = math.floor((at - settle) / step) * step
    if (previous is not None and previous.grid_end == newest and previous.first == first
            and previous.step == step):
        past = previous.past
    else:
        known = ({t: r for t, r in previous.past if t <= carry}
                 if previous is not None and previous.first == first
                 and previous.step == step else {})
        past = _past_points(budget_at or _plain_budget(store, slo, at), newest=newest,
                            step=step, first=first, count=points - 1, known=known)
    latest = (at, remaining) if remaining is not None and at > first else None
    if isinstance(past, Points):  # packed already (most statuses: the previous points)
        return _packed(past, latest, newest, first, step)
    return BudgetHistory(past=past, latest=latest, grid_end=newest, first=first, step=step)


#: a history whose past points are packed already: ``BudgetHistory.__post_init__``
#: would keep them as they are (``frozen.slotted``)
_packed = slotted(BudgetHistory, skip_post_init=True)


def _plain_budget(store: StoreSums, slo: SLO, at: float) -> BudgetAt:
    """The budget of the period ending at ``t``: rolling, or the calendar period to date."""
    period = slo.period
    if isinstance(period, CalendarPeriod):
        start = period.current(at)[0]
        bucket_start = math.floor(start / store.resolution) * store.resolution
        length = period.length(at)
        return lambda t: slomath.projected_budget_remaining(
            store.sum(slo.key, bucket_start, t), slo.objective, t - start, length)
    seconds = period.seconds
    return lambda t: slomath.budget_remaining(
        store.sum(slo.key, t - seconds, t), slo.objective)


def _past_points(
    budget_at: BudgetAt, *, newest: float, step: float, first: float, count: int,
    known: Mapping[float, float],
) -> tuple[tuple[float, float], ...]:
    """Up to ``count`` points at ``newest - i * step``, each after ``first``; those
    ``known`` are taken as they are."""
    out: list[tuple[float, float]] = []
    for i in range(count - 1, -1, -1):
        t = newest - i * step
        if t <= first:
            continue
        remaining = known.get(t)
        if remaining is None:
            remaining = budget_at(t)
        if remaining is not None:
            out.append((t, remaining))
    return tuple(out)
