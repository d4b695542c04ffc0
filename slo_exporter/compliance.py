"""Compliance over a span: what one SLO achieved, what it spent, and what it owes under its SLA.

Owns the computation of :class:`slo_exporter.figures.PeriodFigures` from a
reader of stored events (an ``EventStore`` or a ``CompositeReader``) and
the configured maintenance windows: for the current period on every engine
cycle (:func:`current_figures`), and for any past span in a report
(:func:`period_figures`). Also the binomial :func:`evidence` on a ratio.

Rules (the user contract is PRODUCT.md, "Service-level management"):

* **Elapsed** time is ``[start, min(at, end))``; events are those of the
  buckets up to the one holding ``at`` (its events so far included).
* **Excluded** time is every maintenance span that applies to the SLO.
  A bucket that overlaps excluded time by any amount is excluded as a whole
  (as a slice is, see ``timeslices``): its events are ``excluded_events``
  and count neither as good nor as bad. ``excluded_seconds`` is the
  maintenance time itself inside the elapsed span.
* **Coverage** is measured / (elapsed - excluded) seconds, measured time
  inside maintenance not counted; None when no such time has elapsed.
  Unmeasured time is never good: it lowers coverage, not compliance.
* **Occurrences**: achieved = good / total over the non-excluded buckets.
  The budget is ``(1 - objective) * projected total``; while a fixed period
  runs, the total is projected to the whole period from the rate so far
  (``total * open period seconds / open elapsed seconds``, open = not
  excluded), which is the plain total at the period's end. A rolling window
  is always whole, so its budget is ``(1 - objective) * total``.
* **Timeslices**: achieved = good / (good + bad) slices. The budget is
  ``(1 - objective)`` of the period's slices that maintenance does not
  exclude (windows are known in advance, so future ones count too).
* **Ratio timeslices** (OpenSLO ``RatioTimeslices``): achieved is the mean
  of the ratios good/total of the slices that have events (slices excluded,
  unmeasured or empty are skipped). The budget is ``(1 - objective)`` of the
  period's open slices, as for timeslices, and a slice spends its shortfall
  ``1 - ratio`` of it (a bad timeslice spends a whole 1): spent =
  ``sum(1 - ratio) / ((1 - objective) * open slices)``, which is
  ``(1 - achieved) / (1 - objective)`` once every slice of the period had
  events. No binomial evidence: a mean of ratios is not a count of trials.
  The SLA level is the mean ratio; with ``maintenance: counted`` an
  excluded slice counts as a ratio of 0.
* **met** is achieved >= objective, compared exactly; "met to date" while
  the period runs; None when nothing was measured.
* **exhaustion_at** assumes the period's average burn so far continues:
  spending grows in proportion to open (non-excluded) time, so the budget
  runs out after ``open elapsed / spent`` open seconds from the start,
  skipping future maintenance. It is ``at`` when the budget is already
  spent, and None when it will not run out before the period ends, when
  nothing is spent, once the period is over, and for a rolling window that
  is not overspent (a constant burn holds a rolling window's spending level).
* **worst_day** is the local calendar day (in the period's zone) with the
  lowest achieved ratio, days without events or judged slices skipped; the
  earliest wins a tie.
* **SLA**: the SLA period (week, month or quarter, in the calendar's zone,
  else UTC) holding ``at`` (or holding the span's last instant, once the
  span is over) is computed with the SLO's budgeting. Its level is cut to
  four decimal places (``sla.percent_from_counts``). With ``maintenance:
  counted``, maintenance counts as downtime for the SLA only: excluded
  slices count as bad slices, and events in excluded buckets as bad events.
  The credit while the SLA period runs is the one the level to date would
  earn.

Cost: an occurrences SLO takes a handful of indexed sums (one per local
day for the worst day) and one read of its measured spans; a timeslices
SLO reads its buckets once. See the README for measured figures.

It must not write to the store, read a clock or know the config files.
"""

from __future__ import annotations

import functools
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from statistics import NormalDist
from typing import TYPE_CHECKING, Protocol

from slo_exporter import sla as sla_math
from slo_exporter.durations import format_duration
from slo_exporter.exclusions import excluded_spans, intersect
from slo_exporter.figures import (
    Evidence,
    PeriodFigures,
    SLAOutcome,
    Source,
    Verdict,
    WorstDay,
)
from slo_exporter.frozen import slotted
from slo_exporter.lru import BoundedCache
from slo_exporter.model import SLO, Budgeting, CalendarPeriod, MaintenanceWindow
from slo_exporter.model.calendar import get_zone
from slo_exporter.timeslices import SliceCounts, SliceRatios, classify, merge_spans, slice_ratios

if TYPE_CHECKING:
    from slo_exporter.store.protocol import Bucket, Span

# every status builds these (``frozen.slotted``: the class's own objects, built faster)
_period_figures = slotted(PeriodFigures)
_worst = slotted(WorstDay)
_evidence = slotted(Evidence)


class Reader(Protocol):
    """What the figures read: an ``EventStore`` or a ``CompositeReader``.

    A reader that also has ``sum(key, start, end) -> Counts`` (both have)
    is asked for sums instead of listing buckets, which is much cheaper.
    """

    @property
    def resolution(self) -> float: ...

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]: ...

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]: ...


class SettledDays:
    """The event sums of an SLO's local days that can no longer change, carried from one
    evaluation of its current figures to the next, so the worst day reads the store
    for the days still open only (a 30-day window has 31 days).

    The caller owns the promise: with each evaluation it passes ``settled``,
    an instant before which no bucket of the SLO gets events any more (the
    engine knows how late its reads reach), and it drops the object whenever
    that may not hold (a failed read, another writer). A day is kept only
    once it ends at or before ``settled``; each evaluation keeps only the
    days of its span. Memory: 32 bytes a day. Thread-safe: a new table
    replaces the old.

    It also keeps the sums of settled ranges of maintenance (``sum``): the
    excluded buckets every window, period and day leaves out, up to
    ``RANGES_KEPT`` of them, and when the SLO's budget history grid was worked
    out (``history``), so its points stand when the grid moves.
    """

    __slots__ = ("_days", "_ranges", "_run", "history")

    def __init__(self) -> None:
        #: the grid end of the SLO's budget history and the instant of the evaluation
        #: that worked its points out (kept by the engine, ``history.budget_history``'s
        #: ``carry``): points on it ending ``settled`` before then took all their events
        self.history: tuple[float | None, float] = (None, -math.inf)
        #: per kept day, in order: its start, end, good and total events
        self._days = array("d")
        #: the longest run of consecutive kept days the last evaluation read, folded:
        #: ``(first start, last end, days, what its worst day depends on, worst day)``
        self._run: _Run | None = None

        #: (start, end) -> good and total events of a settled range
        self._ranges: dict[tuple[float, float], tuple[float, float]] = {}

    def _keep(self, pieces: Iterable[Sequence[float]]) -> None:
        """Keep the days of ``pieces`` (runs of start, end, good and total of each day, in
        order), joined."""
        days = array("d")
        for piece in pieces:
            days.extend(piece)
        self._days = days

    def sum(self, reader: Reader, key: str, start: float, end: float,
            settled: float) -> tuple[float, float]:
        """Good and total events of ``[start, end)``: summed once when it ends by
        ``settled``, else every time."""
        if end > settled:
            return _sum(reader, key, start, end)
        found = self._ranges.get((start, end))
        if found is None:
            found = _sum(reader, key, start, end)
            if len(self._ranges) >= RANGES_KEPT:  # a cache: start afresh
                self._ranges = {}
            self._ranges[start, end] = found
        return found


RANGES_KEPT = 512
"""Settled range sums an SLO keeps (a 30-day window has 30 nightly maintenance spans)."""


def current_figures(
    reader: Reader, slo: SLO, at: float, maintenance: Sequence[MaintenanceWindow] = (),
    *, days: SettledDays | None = None, settled: float = -math.inf,
) -> PeriodFigures:
    """The SLO's current period to date at ``at``.

    A calendar period is the one holding ``at``, named by its label and in
    its zone; a rolling period is the window ending with the bucket that
    holds ``at``, on the bucket grid, labelled like ``30d``, in UTC.
    ``days`` lends (and keeps) the sums of the days that end by ``settled``
    for the worst day.
    """
    period = slo.period
    if isinstance(period, CalendarPeriod):
        start, end = period.current(at)
        return _figures(
            reader, slo, start=start, end=end, at=at, label=period.label_of(at),
            time_zone=period.time_zone, maintenance=maintenance, source="store", rolling=False,
            days=days, settled=settled,
        )
    start, end = period.bounds(at, reader.resolution)
    return _figures(
        reader, slo, start=start, end=end, at=at, label=_label(period.seconds), time_zone="UTC",
        maintenance=maintenance, source="store", rolling=True, days=days, settled=settled,
    )


@functools.lru_cache(maxsize=256)
def _label(seconds: float) -> str:
    """A rolling period's label (``RollingPeriod.label``), worked out once per length."""
    return format_duration(seconds)


def period_figures(
    reader: Reader,
    slo: SLO,
    *,
    start: float,
    end: float,
    at: float,
    label: str,
    time_zone: str,
    maintenance: Sequence[MaintenanceWindow] = (),
    source: Source = "store",
) -> PeriodFigures:
    """The SLO over ``[start, end)`` as of ``at``: the whole span once ``at >= end``, else to date.

    ``time_zone`` names the zone of local days (worst day) and of the SLA
    period. Raises ValueError for an empty span.
    """
    return _figures(
        reader, slo, start=start, end=end, at=at, label=label, time_zone=time_zone,
        maintenance=maintenance, source=source, rolling=False,
    )


def evidence(
    good: float, total: float, objective: float, confidence: float = 0.95
) -> Evidence | None:
    """The Wilson score interval on ``good / total`` and the verdict it gives; None without events.

    ``met`` when the lower bound is at or above the objective, ``missed``
    when the upper bound is below it, else ``inconclusive``. The Wilson
    interval stays inside [0, 1] and behaves near 0 and 1, where the
    normal approximation collapses to a point (all good is not proof).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not (math.isfinite(good) and math.isfinite(total)) or total <= 0:
        return None
    n = total
    p = min(max(good / n, 0.0), 1.0)
    z = _z(confidence)
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    lower, upper = max(centre - half, 0.0), min(centre + half, 1.0)
    verdict: Verdict
    if lower >= objective:
        verdict = "met"
    elif upper < objective:
        verdict = "missed"
    else:
        verdict = "inconclusive"
    return _evidence(confidence=confidence, lower=lower, upper=upper, verdict=verdict)


@functools.lru_cache(maxsize=64)
def _z(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence``."""
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


# --------------------------------------------------------------- internals


@dataclass(frozen=True, slots=True)
class _Tally:
    """What one span holds up to ``now``, before it is turned into figures."""

    good: float  # events outside excluded buckets
    bad: float
    excluded_events: float
    slices: SliceCounts | None
    #: timeslices only: each local day's slices (a slice belongs to the day it starts in)
    days: tuple[tuple[date, SliceCounts], ...]
    grid_start: float
    #: ratio timeslices only: the period's slice ratios, and each local day's
    ratios: SliceRatios | None = None
    ratio_days: tuple[tuple[date, SliceRatios], ...] = ()


_tally_of = slotted(_Tally)  # every period figures' tally (``frozen.slotted``)


def _figures(
    reader: Reader,
    slo: SLO,
    *,
    start: float,
    end: float,
    at: float,
    label: str,
    time_zone: str,
    maintenance: Sequence[MaintenanceWindow],
    source: Source,
    rolling: bool,
    days: SettledDays | None = None,
    settled: float = -math.inf,
) -> PeriodFigures:
    if not (math.isfinite(start) and math.isfinite(end) and math.isfinite(at)) or end <= start:
        raise ValueError(f"a period must have start < end, got [{start!r}, {end!r})")
    get_zone(time_zone)
    now = min(max(at, start), end)  # the end of elapsed time
    closed = at >= end
    # without maintenance (most SLOs, every status) the exclusions are skipped: an
    # empty span list has no length, and nothing of it is measured
    excluded_all = excluded_spans(maintenance, slo.id, start, end) if maintenance else []
    excluded_now = _clip(excluded_all, start, now) if excluded_all else []
    excluded_seconds = _length(excluded_now) if excluded_now else 0.0
    open_elapsed = (now - start) - excluded_seconds
    measured = merge_spans(reader.measured_spans(slo.key, start, now))
    measured_seconds = _length(measured) - (_length(intersect(measured, excluded_now))
                                            if excluded_now else 0.0)
    coverage = measured_seconds / open_elapsed if open_elapsed > 0 else None

    counted = _tally(
        reader, slo, start=start, end=end, at=at, excluded=excluded_all, time_zone=time_zone,
        tracked=days, settled=settled,
    )
    objective = slo.objective
    timeslices = slo.budgeting.timeslices
    if counted.slices is not None and timeslices is not None:
        judged_good: float = counted.slices.good
        judged: float = counted.slices.good + counted.slices.bad
        open_slices = _slices_in(counted.grid_start, end, timeslices.slice) - _slices_hit(
            excluded_all, counted.grid_start, end, timeslices.slice
        )
        spent = (
            counted.slices.bad / ((1.0 - objective) * open_slices)
            if judged > 0 and open_slices > 0
            else None
        )
        judged_bad = float(counted.slices.bad)
    elif counted.ratios is not None and slo.budgeting.ratio_timeslices is not None:
        step = slo.budgeting.ratio_timeslices.slice
        judged_good, judged = counted.ratios.ratio_sum, float(counted.ratios.judged)
        judged_bad = max(judged - judged_good, 0.0)
        open_slices = _slices_in(counted.grid_start, end, step) - _slices_hit(
            excluded_all, counted.grid_start, end, step
        )
        spent = (
            judged_bad / ((1.0 - objective) * open_slices)
            if judged > 0 and open_slices > 0
            else None
        )
    else:
        judged_good, judged = counted.good, counted.good + counted.bad
        judged_bad = counted.bad
        projected = judged
        if judged > 0 and not rolling and not closed:
            open_period = (end - start) - _length(excluded_all)
            projected = judged * open_period / open_elapsed if open_elapsed > 0 else judged
        spent = judged_bad / ((1.0 - objective) * projected) if judged > 0 else None
    achieved = min(max(judged_good / judged, 0.0), 1.0) if judged > 0 else None

    return _period_figures(
        label=label,
        start=start,
        end=end,
        at=at,
        time_zone=time_zone,
        objective=objective,
        budgeting=slo.budgeting.method,
        achieved=achieved,
        met=None if judged <= 0 else _at_least(judged_good, judged, objective),
        good_events=counted.good,
        bad_events=counted.bad,
        excluded_events=counted.excluded_events,
        slices=counted.slices,
        coverage=coverage,
        measured_seconds=measured_seconds,
        excluded_seconds=excluded_seconds,
        budget_spent_ratio=spent,
        exhaustion_at=_exhaustion(
            spent, start=start, end=end, at=at, open_elapsed=open_elapsed,
            excluded=excluded_all, rolling=rolling,
        ),
        worst_day=_worst_day(reader, slo, counted, start, now, at, time_zone, excluded_all,
                             days, settled),
        evidence=(
            evidence(judged_good, judged, objective)
            if judged > 0 and counted.ratios is None
            else None
        ),
        sla=_sla(reader, slo, counted, start, end, at, maintenance),
        source=source,
    )


def _tally(
    reader: Reader,
    slo: SLO,
    *,
    start: float,
    end: float,
    at: float,
    excluded: list[Span],
    time_zone: str,
    tracked: SettledDays | None = None,
    settled: float = -math.inf,
) -> _Tally:
    """Events (and slices, for timeslice budgeting) of ``[start, end)`` up to ``at``;
    with ``tracked`` (the engine's figures), the span to date is a window the reader
    keeps running (``_window``) and settled maintenance ranges are summed once."""
    res = reader.resolution
    grid_start = math.floor(start / res) * res
    now = min(max(at, start), end)
    events_end = _events_end(at, start, end, res)
    hidden = _bucket_ranges(excluded, res, grid_start, events_end) if excluded else []
    if tracked is not None:
        good, total = _window(reader, slo.key, grid_start, events_end)
    else:
        good, total = _sum(reader, slo.key, grid_start, events_end)
    x_good = x_total = 0.0
    for a, b in hidden:
        g, t = (_sum(reader, slo.key, a, b) if tracked is None
                else tracked.sum(reader, slo.key, a, b, settled))
        x_good += g
        x_total += t
    good, total = good - x_good, total - x_total
    good_events = min(max(good, 0.0), total) if total > 0 else 0.0
    bad_events = max(total - good_events, 0.0)

    budgeting = slo.budgeting
    if budgeting.slice is None:
        return _tally_of(good_events, bad_events, max(x_total, 0.0), None, (), grid_start)
    days = _slice_days(
        reader, slo.key, slo.source_fingerprint, budgeting, start=grid_start, now=now,
        days=_local_days(start, now, time_zone), excluded=_clip(excluded, grid_start, now),
    )
    ratio_days = tuple((d, c) for d, c in days if isinstance(c, SliceRatios))
    if budgeting.ratio_timeslices is not None:
        return _Tally(
            good_events, bad_events, max(x_total, 0.0), None, (), grid_start,
            ratios=sum((c for _, c in ratio_days), SliceRatios()), ratio_days=ratio_days,
        )
    count_days = tuple((d, c) for d, c in days if isinstance(c, SliceCounts))
    return _Tally(
        good_events, bad_events, max(x_total, 0.0), _add(c for _, c in count_days), count_days,
        grid_start,
    )


def _slice_days(
    reader: Reader,
    key: str,
    fingerprint: str,
    budgeting: Budgeting,
    *,
    start: float,
    now: float,
    days: Sequence[tuple[date, float]],
    excluded: list[Span],
) -> tuple[tuple[date, SliceCounts | SliceRatios], ...]:
    """The slices from ``start`` (on the grid) to ``now`` tallied per local day of ``days``.

    A slice belongs to the day it starts in; slices starting before the
    first day's start (where the period's start is not on the bucket grid)
    belong to the first day.

    A day whose slices have all ended is looked up in :data:`_DAY_CACHE`
    first: its verdicts depend only on its buckets, measured and excluded
    spans and the slice rule. Its buckets are recognised by the store, the
    SLO's fingerprint and the day's sums: stored events are only ever added
    to, so a bucket that changed changes the sums.
    So a cycle judges only the day in progress (and a day whose data
    changed) instead of the whole period again.
    """
    res = reader.resolution
    step = budgeting.slice
    assert step is not None  # only timeslice methods have slices
    # Which history this is: the store (two stores may hold equal sums), the
    # SLO and what defines its events (a composite's parts and weights).
    identity = (getattr(reader, "store_id", None) or id(reader), key, fingerprint)
    measured = merge_spans(reader.measured_spans(key, start, now))
    out: list[tuple[date, SliceCounts | SliceRatios]] = []
    bounds = [
        (day, start if i == 0 else start + math.ceil((a - start) / step) * step)
        for i, (day, a) in enumerate(days)
    ]
    for i, (day, lo) in enumerate(bounds):
        hi = bounds[i + 1][1] if i + 1 < len(bounds) else now
        if hi <= lo:
            continue
        inside, hidden = tuple(_clip(measured, lo, hi)), tuple(_clip(excluded, lo, hi))
        whole = i + 1 < len(bounds)
        cache_key = (
            identity, res, budgeting, lo, hi,
            _sum(reader, key, lo, hi), inside, hidden,
        ) if whole else None
        counts = _DAY_CACHE.get(cache_key) if cache_key is not None else None
        if counts is None:
            counts = _judge(budgeting, reader.buckets(key, lo, hi), lo, hi, res, inside, hidden)
            if cache_key is not None:
                _DAY_CACHE.put(cache_key, counts)
        out.append((day, counts))
    return tuple(out)


#: Enough for a quarter of days of a few hundred timeslice SLOs (an entry is
#: a few hundred bytes).
#: Keys hold every input of the verdicts, so an entry is never stale: a
#: changed bucket changes the day's sums, a reload that adds maintenance
#: changes its excluded spans.
_DAY_CACHE: BoundedCache[SliceCounts | SliceRatios] = BoundedCache(50_000)


def _judge(  # noqa: PLR0917 - private, called once with every argument in order
    budgeting: Budgeting,
    buckets: list[Bucket],
    start: float,
    end: float,
    res: float,
    measured: Sequence[Span],
    excluded: Sequence[Span],
) -> SliceCounts | SliceRatios:
    """The slices of ``[start, end)`` by the SLO's timeslice method."""
    timeslices = budgeting.timeslices
    if timeslices is not None:
        return classify(
            buckets, start=start, end=end, resolution=res, slice_seconds=timeslices.slice,
            target=timeslices.target, measured=measured, excluded=excluded,
            empty=timeslices.empty,
        )
    assert budgeting.ratio_timeslices is not None
    return slice_ratios(
        buckets, start=start, end=end, resolution=res,
        slice_seconds=budgeting.ratio_timeslices.slice, measured=measured, excluded=excluded,
    )


def _add(counts: Iterable[SliceCounts]) -> SliceCounts:
    good = bad = empty = excluded = unmeasured = 0
    for c in counts:
        good += c.good
        bad += c.bad
        empty += c.empty
        excluded += c.excluded
        unmeasured += c.unmeasured
    return SliceCounts(good, bad, empty, excluded, unmeasured)


def _events_end(at: float, start: float, end: float, res: float) -> float:
    """End of the counted buckets: through the one holding ``at`` (none before start), <= end."""
    grid_start = math.floor(start / res) * res
    if at < start:
        return grid_start
    return max(min(math.floor(at / res) * res + res, end), grid_start)


def _sum(reader: Reader, key: str, start: float, end: float) -> tuple[float, float]:
    if end <= start:
        return 0.0, 0.0
    summed = getattr(reader, "sum", None)
    if summed is not None:
        counts = summed(key, start, end)
        return float(counts.good), float(counts.total)
    good = total = 0.0
    for _, g, t in reader.buckets(key, start, end):
        good += g
        total += t
    return good, total


def _window(reader: Reader, key: str, start: float, end: float) -> tuple[float, float]:
    """``_sum`` of a range the current figures ask for again at every status (the
    period to date, the first and the open local days): through the reader's
    running window sums where it keeps them, so moving the range by a bucket
    reads that bucket instead of the whole range. A report's spans are not kept."""
    sums = getattr(reader, "sums", None)
    if sums is None or end <= start:
        return _sum(reader, key, start, end)
    counts = sums(key, end, (end - start,))[end - start]
    return float(counts.good), float(counts.total)


def _at_least(good: float, total: float, objective: float) -> bool:
    """good / total >= objective, exactly (the objective as the decimal it prints as).

    Decided in floats when ``good - total * objective`` is far from zero (its
    rounding error, and the float objective's distance from its decimal, are
    below 1e-15 of ``|good| + total``); in exact fractions otherwise.
    """
    if not (math.isfinite(good) and math.isfinite(total)) or total <= 0:
        return False
    margin = good - total * objective
    if abs(margin) > _SURE * (abs(good) + total):
        return margin > 0
    return Fraction(good) >= Fraction(total) * _decimal(objective)


#: a float decision of ``_at_least`` margin this large relative to its terms is exact
_SURE = 1e-12


@functools.lru_cache(maxsize=1024)
def _decimal(objective: float) -> Fraction:
    """The objective as the decimal it prints as."""
    return Fraction(repr(objective))


def _exhaustion(
    spent: float | None,
    *,
    start: float,
    end: float,
    at: float,
    open_elapsed: float,
    excluded: list[Span],
    rolling: bool,
) -> float | None:
    if spent is None or at >= end or spent <= 0:
        return None
    if spent >= 1.0:
        return at
    if rolling or open_elapsed <= 0:
        return None
    instant = _after_open_seconds(start, open_elapsed / spent, excluded)
    return instant if instant < end else None


def _after_open_seconds(start: float, seconds: float, excluded: list[Span]) -> float:
    """The instant ``seconds`` of non-excluded time after ``start``."""
    t, remaining = start, seconds
    for s, e in excluded:
        if e <= t:
            continue
        if s > t:
            if s - t >= remaining:
                return t + remaining
            remaining -= s - t
        t = max(t, e)
    return t + remaining


def _worst_day(  # noqa: PLR0917 - private, called once with every argument in order
    reader: Reader,
    slo: SLO,
    counted: _Tally,
    start: float,
    now: float,
    at: float,
    time_zone: str,
    excluded: list[Span],
    memo: SettledDays | None = None,
    settled: float = -math.inf,
) -> WorstDay | None:
    if now <= start:
        return None
    worst: WorstDay | None = None
    if counted.ratios is not None:
        for day, r in counted.ratio_days:
            if r.mean is not None:
                worst = _worse(worst, day, r.mean)
        return worst
    if counted.slices is not None:
        for day, c in counted.days:
            if c.good + c.bad > 0:
                worst = _worse(worst, day, c.good / (c.good + c.bad))
        return worst
    res = reader.resolution
    key = slo.key
    events_end = _events_end(at, start, now, res)
    # A sum per local day of every status: the loop is kept lean (a 30-day
    # window has 31 days), with the reader's sum looked up once. With the
    # settled days carried, the days still open are kept running (``_window``),
    # and the run of kept days the last evaluation read is taken whole.
    summed = getattr(reader, "sum", None)
    # The settled days kept, in order, are walked beside the days (both ascend).
    kept = memo._days if memo is not None else array("d")
    size = len(kept)
    # what to keep, in pieces (a kept run is an array slice, not a list of its floats)
    keep: list[Sequence[float]] = []
    whole: _Run | None = None  # the last run, when taken whole (its exclusions checked)
    j, hits, added = 0, 0, False
    spans = _day_buckets(start, now, time_zone, res, counted.grid_start, events_end)
    last_run = memo._run if memo is not None else None
    depends = (time_zone, res)
    # the run of consecutive kept days being read (never the first day: its
    # start moves), folded as it goes, and the longest one read
    run_lo = run_hi = 0.0
    run_days, run_worst = 0, None
    longest: _Run | None = None
    i = 0
    while i < len(spans):
        day, lo, hi = spans[i]
        while j < size and kept[j] < lo:
            j += 4
        taken = _take_run(last_run, spans, i, kept, j, excluded, depends) if i else 0
        if taken:  # the kept days of the last evaluation's longest run, whole
            assert last_run is not None
            worst = _fold(worst, last_run.worst)
            run_worst = _fold(run_worst, last_run.worst)
            run_lo, run_hi = (run_lo if run_days else lo), last_run.end
            run_days += taken
            keep.append(kept[j:j + 4 * taken])
            whole = last_run
            hits += taken
            j += 4 * taken
            i += taken
            continue
        hit = j < size and kept[j] == lo and kept[j + 1] == hi
        if hit:
            good, total = kept[j + 2], kept[j + 3]
            hits += 1
            keep.append((lo, hi, good, total))
        else:
            if memo is not None and (hi > settled or lo == counted.grid_start):
                # asked again at the next status: the first day (its start
                # moves with the period's) and the days still open
                good, total = _window(reader, key, lo, hi)
            elif summed is not None and hi > lo:
                counts = summed(key, lo, hi)
                good, total = float(counts.good), float(counts.total)
            else:
                good, total = _sum(reader, key, lo, hi)
            if hi <= settled:
                added = True
                keep.append((lo, hi, good, total))
        if excluded:
            for x, y in _bucket_ranges(excluded, res, lo, hi):
                xg, xt = (_sum(reader, key, x, y) if memo is None
                          else memo.sum(reader, key, x, y, settled))
                good, total = good - xg, total - xt
        in_run = hit and i > 0
        if total > 0 and math.isfinite(total) and math.isfinite(good):
            achieved = min(max(good / total, 0.0), 1.0)
            worst = _worse(worst, day, achieved)
            if in_run:
                run_worst = _worse(run_worst, day, achieved)
        if in_run:
            run_lo, run_hi = (run_lo if run_days else lo), hi
            run_days += 1
        elif run_days:
            longest = _longer(longest, run_lo, run_hi, run_days, run_worst, excluded, depends,
                              whole)
            run_days, run_worst = 0, None
        i += 1
    if memo is not None:
        memo._run = _longer(longest, run_lo, run_hi, run_days, run_worst, excluded, depends,
                            whole)
        if added or 4 * hits != len(kept):
            memo._keep(keep)
    return worst


@dataclass(frozen=True)
class _Run:
    """Consecutive kept days ``[start, end)`` and their worst day (``SettledDays._run``).

    Kept days never change (the caller's promise), so the worst of the run
    stands as long as the same days are read again with the same exclusions.
    """

    start: float
    end: float
    days: int
    depends: tuple[object, ...]  # the zone, the resolution, the exclusions inside
    worst: WorstDay | None


def _depends(excluded: Sequence[Span], start: float, end: float,
             depends: tuple[object, ...]) -> tuple[object, ...]:
    return (*depends, tuple(_clip(excluded, start, end)))


def _longer(  # noqa: PLR0917 - private, called twice with every argument in order
    longest: _Run | None,
    start: float,
    end: float,
    days: int,
    worst: WorstDay | None,
    excluded: Sequence[Span],
    depends: tuple[object, ...],
    whole: _Run | None = None,
) -> _Run | None:
    """The longer of ``longest`` and the run just read (two days at least); ``whole``,
    the last evaluation's run taken whole (its exclusions checked), stands for the run
    just read when that is the same days with the same worst (an equal ``_Run``)."""
    if days < 2 or (longest is not None and longest.days >= days):
        return longest
    if (whole is not None and whole.start == start and whole.end == end
            and whole.days == days and whole.worst == worst):
        return whole
    return _Run(start, end, days, _depends(excluded, start, end, depends), worst)


def _take_run(  # noqa: PLR0917 - private, called once with every argument in order
    run: _Run | None,
    spans: Sequence[tuple[date, float, float]],
    i: int,
    kept: array[float],
    j: int,
    excluded: Sequence[Span],
    depends: tuple[object, ...],
) -> int:
    """How many days from ``spans[i]`` are the run of kept days ``run``, whole; 0 when
    they are not (other days, not all kept, other exclusions)."""
    if run is None or spans[i][1] != run.start:
        return 0
    last = i + run.days - 1
    if last >= len(spans) or spans[last][2] != run.end:
        return 0
    # the kept days from j: the run's first day starts there and its last ends where the run does
    end = j + 4 * (run.days - 1)
    if end + 1 >= len(kept) or kept[j] != run.start or kept[end + 1] != run.end:
        return 0
    if run.depends != _depends(excluded, run.start, run.end, depends):
        return 0
    return run.days


def _fold(worst: WorstDay | None, later: WorstDay | None) -> WorstDay | None:
    """``_worse`` over days whose own worst is ``later``, after the days of ``worst``:
    the earlier wins a tie."""
    if later is None:
        return worst
    if worst is None or later.achieved < worst.achieved:
        return later
    return worst


@functools.lru_cache(maxsize=256)
def _day_buckets(  # noqa: PLR0917 - private, its arguments are its cache key
    start: float, now: float, time_zone: str, res: float, grid_start: float, events_end: float
) -> tuple[tuple[date, float, float], ...]:
    """Each local day of ``[start, now)`` (``_local_days``) and its buckets ``[lo, hi)``:
    from ``grid_start`` for the first, to ``events_end`` for the last. Cached by plain
    numbers (a key of the days themselves would hash a month of dates per call): every
    SLO of a cycle asks alike."""
    days = _local_days(start, now, time_zone)
    last = len(days) - 1
    return tuple(
        (day, grid_start if i == 0 else math.floor(days[i][1] / res) * res,
         math.floor(days[i + 1][1] / res) * res if i < last else events_end)
        for i, (day, _) in enumerate(days))


def _worse(worst: WorstDay | None, day: date, achieved: float) -> WorstDay:
    if worst is None or achieved < worst.achieved:
        return _worst(date=day.isoformat(), achieved=achieved)
    return worst


@functools.lru_cache(maxsize=256)
def _local_days(start: float, end: float, time_zone: str) -> tuple[tuple[date, float], ...]:
    """Each local day touching ``[start, end)`` and where it starts in it (the first at start).

    Cached: every SLO of a cycle with the same period and zone asks for the same days.
    """
    zone = get_zone(time_zone)
    day = datetime.fromtimestamp(start, zone).date()
    out = [(day, start)]
    for _ in range(400):  # bounded: a quarter has at most 92 days
        day += timedelta(days=1)
        boundary = datetime.combine(day, time(), zone).timestamp()
        if boundary >= end:
            break
        if boundary > out[-1][1]:
            out.append((day, boundary))
    return tuple(out)


def _sla(  # noqa: PLR0917 - private, called once with every argument in order
    reader: Reader,
    slo: SLO,
    counted: _Tally,
    start: float,
    end: float,
    at: float,
    maintenance: Sequence[MaintenanceWindow],
) -> SLAOutcome | None:
    sla = slo.sla
    if sla is None:
        return None
    zone = slo.period.time_zone if isinstance(slo.period, CalendarPeriod) else "UTC"
    sla_period = CalendarPeriod(sla.period, zone)
    # Once the span is over, the SLA period is the one holding its last instant.
    holding = at if at < end else max(start, end - 1.0)
    sla_start, sla_end = sla_period.current(holding)
    if (sla_start, sla_end) != (start, end):
        excluded = excluded_spans(maintenance, slo.id, sla_start, sla_end)
        counted = _tally(
            reader, slo, start=sla_start, end=sla_end, at=at, excluded=excluded, time_zone=zone
        )
    if counted.ratios is not None:
        good: float = counted.ratios.ratio_sum
        total: float = counted.ratios.judged
        if sla.maintenance == "counted":
            total += counted.ratios.excluded
    elif counted.slices is not None:
        good = counted.slices.good
        total = counted.slices.good + counted.slices.bad
        if sla.maintenance == "counted":
            total += counted.slices.excluded
    else:
        good, total = counted.good, counted.good + counted.bad
        if sla.maintenance == "counted":
            total += counted.excluded_events
    level = sla_math.percent_from_counts(good, total)
    return SLAOutcome(
        objective=sla.objective,
        label=sla_period.label_of(holding),
        start=sla_start,
        end=sla_end,
        achieved_percent=level,
        met=sla_math.met(sla, level),
        credit_percent=sla_math.credit_percent(sla, level),
    )


def _bucket_ranges(
    spans: Sequence[Span], res: float, start: float, end: float
) -> list[Span]:
    """The bucket-aligned ranges of ``[start, end)`` whose buckets overlap ``spans``."""
    out = [
        (max(math.floor(s / res) * res, start), min(math.ceil(e / res) * res, end))
        for s, e in spans
    ]
    return merge_spans(out)


def _clip(spans: Sequence[Span], start: float, end: float) -> list[Span]:
    return [(max(s, start), min(e, end)) for s, e in spans if s < end and e > start]


def _length(spans: Sequence[Span]) -> float:
    return float(sum(e - s for s, e in spans))


def _slices_in(start: float, end: float, slice_seconds: float) -> int:
    return int((end - start) // slice_seconds)


def _slices_hit(spans: Sequence[Span], start: float, end: float, slice_seconds: float) -> int:
    """How many whole slices of ``[start, end)`` the (sorted, merged) spans overlap."""
    count = _slices_in(start, end, slice_seconds)
    hit = 0
    last = -1
    for s, e in spans:
        first = max(int((s - start) // slice_seconds), last + 1, 0)
        stop = min(math.ceil((e - start) / slice_seconds), count)
        if stop > first:
            hit += stop - first
            last = stop - 1
    return hit
