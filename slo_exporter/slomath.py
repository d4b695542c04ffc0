"""Pure SLO math: SLI, error ratio, burn rate, error budget, alert conditions.

Owns the arithmetic that turns event counts into the numbers of the metric
contract, and the bucket arithmetic that defines which events a window
covers. Everything here is a function of its arguments: counts, windows and
instants go in, numbers come out. It must not read a clock, touch the store or
do any other I/O, so every rule can be tested by passing values.

Conventions:

* No data is not zero errors: a window with no events (``total <= 0``) has no
  SLI and no burn rate (``None``), never NaN or Inf.
* Ratios are clamped to ``[0, 1]``: good and total come from different series
  whose increases can land in neighbouring buckets, so a window edge may cut
  them apart by a few events.
* A multiwindow alert condition holds when both burn rates are *strictly*
  greater than its threshold (the SRE workbook's ``>``); a single-window
  condition reads its one window. It fires once it has held its ``hold``.
"""

from __future__ import annotations

import functools
import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slo_exporter.frozen import slotted
from slo_exporter.model import ALERT_WINDOWS, AlertWindow
from slo_exporter.snapshot import AlertState, WindowValues


@dataclass(frozen=True, slots=True)
class Counts:
    """Good and total events over some span.

    ``good`` may be negative or exceed ``total`` for a span cut out of a
    longer one (see the module docstring); the ratio functions clamp.
    """

    good: float = 0.0
    total: float = 0.0

    @property
    def bad(self) -> float:
        return max(self.total - self.good, 0.0)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.good + other.good, self.total + other.total)


def _clamp01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def _has_events(c: Counts) -> bool:
    # Non-finite counts cannot come from a healthy source; treating them as
    # "no data" keeps NaN and Inf out of every exported value.
    return c.total > 0.0 and math.isfinite(c.total) and math.isfinite(c.good)


def _check_objective(objective: float) -> None:
    if not 0.0 < objective < 1.0:
        raise ValueError(f"objective must be a ratio in (0, 1), got {objective!r}")


def sli_ratio(c: Counts) -> float | None:
    """good / total in [0, 1]; None when there were no events."""
    if not _has_events(c):
        return None
    return _clamp01(c.good / c.total)


def error_ratio(c: Counts) -> float | None:
    """bad / total in [0, 1]; None when there were no events."""
    if not _has_events(c):
        return None
    # (total - good) / total rather than 1 - sli: exact zero when all are good.
    return _clamp01((c.total - c.good) / c.total)


def burn_rate(c: Counts, objective: float) -> float | None:
    """How fast the budget burns: error ratio / (1 - objective); 1 = exactly on budget."""
    _check_objective(objective)
    err = error_ratio(c)
    if err is None:
        return None
    return err / (1.0 - objective)


def budget_remaining(c: Counts, objective: float) -> float | None:
    """1 - budget spent, from the counts of the whole period; negative when overspent."""
    rate = burn_rate(c, objective)
    if rate is None:
        return None
    return 1.0 - rate


def alert_factor(budget_fraction: float, period: float, long_window: float) -> float:
    """Burn rate that spends ``budget_fraction`` of the budget in ``long_window``.

    For a 30-day period the workbook's pairs give 14.4, 6, 3 and 1.
    """
    if long_window <= 0.0:
        raise ValueError(f"long window must be positive, got {long_window!r}")
    return budget_fraction * period / long_window


def alert_pairs(
    period: float, alert_windows: Sequence[AlertWindow] = ALERT_WINDOWS
) -> tuple[AlertWindow, ...]:
    """The alert windows that apply to a period: those whose long window fits in it.

    A long window longer than the period would need data older than the SLO
    keeps, and its factor would fall below 1 (alerting on a budget that is
    not being overspent).
    """
    return tuple(a for a in alert_windows if a.long <= period)


def required_windows(
    period: float,
    windows: Sequence[float],
    alert_windows: Sequence[AlertWindow] = ALERT_WINDOWS,
) -> tuple[float, ...]:
    """Every window ``evaluate`` needs counts for, ascending and without duplicates."""
    return _required(period, tuple(windows), tuple(alert_windows))


@functools.lru_cache(maxsize=4096)
def _required(
    period: float, windows: tuple[float, ...], alert_windows: tuple[AlertWindow, ...]
) -> tuple[float, ...]:
    # cached: every status of every SLO asks, and SLOs share a handful of shapes
    needed = set(windows) | {period}
    for a in alert_pairs(period, alert_windows):
        needed.update(a.windows)
    return tuple(sorted(needed))


@dataclass(frozen=True)
class Plan:
    """What every evaluation of one SLO shape works out alike, worked out once (``plan``).

    ``required``: the windows ``evaluate`` needs counts for, ascending;
    ``others``: the required windows that are not exported (only their burn
    rates are wanted); ``conditions``: each alert condition that fits the
    period, as ``evaluate_plan`` reads it (severity, long window, the window
    standing in for its short one, threshold, hold, the condition).
    """

    objective: float
    period: float
    windows: tuple[float, ...]
    required: tuple[float, ...]
    others: tuple[float, ...]
    conditions: tuple[tuple[str, float, float, float, float, AlertWindow], ...]


def plan(
    objective: float,
    period: float,
    windows: Sequence[float],
    alert_windows: Sequence[AlertWindow] = ALERT_WINDOWS,
) -> Plan:
    """The plan of an SLO's evaluations (raises ``ValueError`` for a bad objective)."""
    _check_objective(objective)
    required = required_windows(period, windows, alert_windows)
    exported = set(windows)
    return Plan(objective, period, tuple(windows), required,
                others=tuple(w for w in required if w not in exported),
                conditions=tuple(
                    (a.severity, a.long, a.long if a.short is None else a.short,
                     a.threshold(period), a.hold, a)
                    for a in alert_pairs(period, alert_windows)))


def evaluate_plan(
    p: Plan, counts: Mapping[float, Counts], *, at: float = 0.0,
    previous: Sequence[AlertState] = (),
) -> tuple[tuple[WindowValues, ...], float | None, tuple[AlertState, ...]]:
    """``evaluate`` by a plan: the same numbers, each window's burn rate computed once.

    ``counts`` must hold every window of ``p.required`` (``KeyError`` otherwise).
    """
    allowed = 1.0 - p.objective
    isfinite = math.isfinite
    window_values = _window_values_of
    rates: dict[float, float | None] = {}
    values = []
    for w in p.windows:
        c = counts[w]
        good, total = c.good, c.total
        # _window_values and burn_rate inlined (the same arithmetic, in the same order),
        # each min and max written as the comparison it makes (max(x, 0.0) is 0.0 only
        # when x < 0.0; min(x, y) is y only when y < x): the same values, NaN alike
        kept_total = 0.0 if total < 0.0 else total
        kept_good = 0.0 if good < 0.0 else good
        kept_good = kept_total if kept_total < kept_good else kept_good
        if total > 0.0 and isfinite(total) and isfinite(good):
            err = (total - good) / total
            err = 0.0 if err < 0.0 else 1.0 if err > 1.0 else err
            sli = good / total
            sli = 0.0 if sli < 0.0 else 1.0 if sli > 1.0 else sli
            rate: float | None = err / allowed
            values.append(window_values(w, kept_good, kept_total, sli, rate))
        else:
            rate = None
            values.append(window_values(w, kept_good, kept_total, None, None))
        rates[w] = rate
    for w in p.others:
        c = counts[w]
        good, total = c.good, c.total
        if total > 0.0 and isfinite(total) and isfinite(good):
            # ``burn_rate`` inlined, its min and max as above
            err = (total - good) / total
            rates[w] = (0.0 if err < 0.0 else 1.0 if err > 1.0 else err) / allowed
        else:
            rates[w] = None
    budget_rate = rates[p.period]
    budget = None if budget_rate is None else 1.0 - budget_rate
    alerts = []
    alert_state = _alert_state_of
    for severity, long_w, short_w, factor, hold, a in p.conditions:
        long_rate = rates[long_w]
        short_rate = rates[short_w]
        since: float | None = None
        if (long_rate is not None and short_rate is not None
                and long_rate > factor and short_rate > factor):
            since = _since(severity, long_w, short_w, at, previous)
        alerts.append(alert_state(
            severity, long_w, short_w, factor, long_rate, short_rate,
            since is not None and at - since >= hold, hold, since, a))
    return tuple(values), budget, tuple(alerts)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """An ``evaluate_plan`` result kept with the counts it was worked out from
    (``evaluate_kept``); ``counts`` is None when it may not be reused."""

    plan: Plan
    #: good and total of each required window, in order, packed (16 bytes a window)
    counts: array[float] | None
    result: tuple[tuple[WindowValues, ...], float | None, tuple[AlertState, ...]]


def evaluate_kept(
    p: Plan, counts: Mapping[float, Counts], *, at: float = 0.0,
    previous: Sequence[AlertState] = (), kept: Evaluation | None = None,
) -> Evaluation:
    """``evaluate_plan``'s result, taken from ``kept`` when that was worked out by the
    same plan from equal counts, else worked out now.

    Exact: the windows and the budget are a function of the plan and the counts
    only, and so are the alert states but for ``since`` and ``firing`` of a
    condition that holds (which read ``at`` and ``previous``): those are worked
    out again. Equal counts are equal floats (a NaN is never equal), and a result
    worked out from a zero is not kept (0.0 and -0.0 are equal floats that give
    different values).
    A status whose counts did not move since the last (nothing committed, the
    same end bucket) skips the window math and its objects.
    """
    values: list[float] = []
    for w in p.required:
        c = counts[w]
        values.append(c.good)
        values.append(c.total)
    key = array("d", values)
    if kept is None or kept.plan is not p or kept.counts != key:
        return _evaluation_of(p, None if 0.0 in key else key,
                              evaluate_plan(p, counts, at=at, previous=previous))
    windows, budget, alerts = kept.result
    if all(a.since is None for a in alerts):
        return kept
    # the same conditions hold (their rates are the same): when each began is the
    # previous evaluation's, as ``evaluate_plan`` works it out
    held = []
    for a in alerts:
        if a.since is not None:
            since = _since(a.severity, a.long_window, a.short_window, at, previous)
            a = _alert_state_of(  # noqa: PLW2901 - the condition, as it holds now
                a.severity, a.long_window, a.short_window, a.factor, a.long_burn_rate,
                a.short_burn_rate, at - since >= a.hold, a.hold, since, a.window)
        held.append(a)
    return _evaluation_of(p, key, (windows, budget, tuple(held)))


def _since(severity: str, long_w: float, short_w: float, at: float,
           previous: Sequence[AlertState]) -> float:
    """When a condition that holds at ``at`` began to hold: as the same condition of the
    last evaluation says (looked up only when it holds), else ``at``."""
    for s in previous:
        if s.severity == severity and s.long_window == long_w and s.short_window == short_w:
            return at if s.since is None else min(s.since, at)
    return at


# every window and alert condition of every status builds one (``frozen.slotted``)
_window_values_of = slotted(WindowValues)
_alert_state_of = slotted(AlertState)
_evaluation_of = slotted(Evaluation)


def evaluate(
    objective: float,
    period: float,
    windows: Sequence[float],
    counts: Mapping[float, Counts],
    alert_windows: Sequence[AlertWindow] = ALERT_WINDOWS,
    *,
    at: float = 0.0,
    previous: Sequence[AlertState] = (),
) -> tuple[tuple[WindowValues, ...], float | None, tuple[AlertState, ...]]:
    """Window values (in the order of ``windows``), budget remaining and alert states.

    ``counts`` maps window seconds to the events in that window for every
    window of ``required_windows(period, windows, alert_windows)``; the
    budget uses the period's counts. Raises ``ValueError`` if one is missing.
    ``at`` and ``previous`` are as for ``alert_states``.
    """
    p = plan(objective, period, windows, alert_windows)
    missing = [w for w in p.required if w not in counts]
    if missing:
        raise ValueError(f"no counts for windows {missing} (seconds)")
    return evaluate_plan(p, counts, at=at, previous=previous)


def alert_states(
    objective: float,
    length: float,
    counts: Mapping[float, Counts],
    alert_windows: Sequence[AlertWindow] = ALERT_WINDOWS,
    *,
    at: float = 0.0,
    previous: Sequence[AlertState] = (),
) -> tuple[AlertState, ...]:
    """Every alert condition that fits a period of ``length`` seconds, with its threshold and rates.

    ``length`` is the period the budget-fraction thresholds scale to: the
    rolling window, or for a calendar period the length of the period being
    evaluated (31 days in March, so the 1h pair's factor is 14.4 * 31 / 30);
    a fixed factor stays as given. ``counts`` must hold every window of
    each condition. A condition holds when each of its burn rates is above
    the threshold; it fires once it has held ``hold`` seconds: ``since``
    (when it began to hold) is carried from the same condition in
    ``previous`` (the states of the last evaluation), else it is ``at``.
    """
    _check_objective(objective)
    before = {_state_key(p): p for p in previous}
    alerts: list[AlertState] = []
    for a in alert_pairs(length, alert_windows):
        factor = a.threshold(length)
        long_rate = burn_rate(counts[a.long], objective)
        short_w = a.long if a.short is None else a.short
        short_rate = long_rate if a.short is None else burn_rate(counts[a.short], objective)
        holds = (
            long_rate is not None
            and short_rate is not None
            and long_rate > factor
            and short_rate > factor
        )
        since: float | None = None
        if holds:
            last = before.get((a.severity, a.long, short_w))
            since = at if last is None or last.since is None else min(last.since, at)
        alerts.append(
            AlertState(
                severity=a.severity,
                long_window=a.long,
                short_window=short_w,
                factor=factor,
                long_burn_rate=long_rate,
                short_burn_rate=short_rate,
                firing=since is not None and at - since >= a.hold,
                hold=a.hold,
                since=since,
                window=a,
            )
        )
    return tuple(alerts)


def _state_key(state: AlertState) -> tuple[str, float, float]:
    return (state.severity, state.long_window, state.short_window)


def window_values(window: float, c: Counts, objective: float) -> WindowValues:
    """The exported values of one window's counts."""
    _check_objective(objective)
    return _window_values(window, c, objective)


def projected_budget_remaining(
    c: Counts, objective: float, elapsed: float, length: float
) -> float | None:
    """1 - budget spent so far in a calendar period of ``length`` seconds, ``elapsed`` of them gone.

    The budget is the objective's allowed fraction of the events projected
    for the whole period from the rate so far: ``(1 - objective) * total *
    length / elapsed``. So ``spent = burn rate * elapsed / length``: a burn
    rate of 1 all period long spends exactly the budget by its end, where
    this equals ``budget_remaining``. None without events or elapsed time.
    """
    rate = burn_rate(c, objective)
    if rate is None or not elapsed > 0.0 or not length > 0.0:
        return None
    return 1.0 - rate * min(elapsed / length, 1.0)


def _window_values(window: float, c: Counts, objective: float) -> WindowValues:
    # Exported event counts are made consistent with the clamped ratio, so
    # good + bad == total holds on /metrics.
    total = max(c.total, 0.0)
    good = min(max(c.good, 0.0), total)
    # sli_ratio and burn_rate inlined (same arithmetic): this runs for every
    # window of every status, and the objective was checked by the caller.
    if not _has_events(c):
        return WindowValues(window=window, good=good, total=total, sli=None, burn_rate=None)
    return WindowValues(
        window=window,
        good=good,
        total=total,
        sli=_clamp01(c.good / c.total),
        burn_rate=_clamp01((c.total - c.good) / c.total) / (1.0 - objective),
    )


# ------------------------------------------------------------------ buckets


def bucket_start(ts: float, resolution: float) -> float:
    """Start of the bucket holding instant ``ts``: the largest multiple of
    ``resolution`` not after it."""
    if not resolution > 0.0:
        raise ValueError(f"resolution must be positive, got {resolution!r}")
    return math.floor(ts / resolution) * resolution


def window_bounds(t_eval: float, window: float, resolution: float) -> tuple[float, float]:
    """``[start, end)`` of a window evaluated at ``t_eval``, in whole buckets.

    The bucket holding ``t_eval`` is included with the events seen so far, so
    ``end`` is the end of that bucket and ``start = end - window``.
    """
    end = bucket_start(t_eval, resolution) + resolution
    return end - window, end
