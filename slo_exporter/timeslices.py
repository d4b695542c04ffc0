"""Timeslice budgeting: which slices of a span were good, bad, empty, excluded or unmeasured.

Also ratio timeslices (OpenSLO ``RatioTimeslices``, :func:`slice_ratios`):
the same slices and rules 1 to 3, but a slice with events contributes its
ratio ``good / total`` instead of a verdict, and the SLI is their mean.

Owns the rules of uptime-style commitments ("99.9 % of minutes had at least
95 % good requests"): cutting a span into slices on the bucket grid, judging
each slice from its bucket counts, the measured spans and the maintenance
spans, and tallying the verdicts.

Rules, in order of precedence for one slice ``[a, a + slice)``:

1. **excluded** when any excluded (maintenance) span overlaps it by more
   than zero seconds: maintenance never counts, not even a minute of it, so
   a window from 02:00:30 excludes the 02:00 minute slice as a whole.
2. **unmeasured** when less than half of it was measured (the measured
   spans cover under ``slice / 2`` seconds). Time the daemon or the source
   was down is never good; it lowers coverage, not compliance. Exactly half
   measured counts as measured. Events in an unmeasured slice are ignored,
   whatever they say: half a slice is not enough to judge it.
3. **empty** when it holds no events (``total <= 0``): counted per the
   ``empty`` policy: ``skip`` (neither good nor bad, tallied as empty),
   ``good`` or ``bad``.
4. **good** when ``good / total >= target`` (exactly at the target is
   good), otherwise **bad**. The comparison is exact: integral counts are
   compared as integers, others as fractions, and the target is read as the
   decimal it is written as (0.95 is 19/20).

Slices start at ``start`` and follow each other every ``slice_seconds``;
only whole slices that end by ``end`` are judged (the one in progress is
not). Slices are elapsed time: on a 23-hour DST day a one-hour slice is
still 3,600 seconds.

It must not read a clock, the store or the config: buckets and spans go in
(as ``EventStore.buckets`` and ``EventStore.measured_spans`` return them),
verdicts come out.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, get_args

from slo_exporter.model.slm import EmptySlices

if TYPE_CHECKING:
    # Only the shapes; importing the store package at run time would pull
    # SQLite into pure math.
    from slo_exporter.store.protocol import Bucket, Span



class SliceState(enum.Enum):
    """The verdict on one slice."""

    GOOD = "good"
    BAD = "bad"
    EMPTY = "empty"
    EXCLUDED = "excluded"
    UNMEASURED = "unmeasured"


@dataclass(frozen=True)
class SliceCounts:
    """How many slices got each verdict; ``empty`` counts only skipped empty slices."""

    good: int = 0
    bad: int = 0
    empty: int = 0
    excluded: int = 0
    unmeasured: int = 0

    @property
    def slices(self) -> int:
        """Every slice judged, whatever its verdict."""
        return self.good + self.bad + self.empty + self.excluded + self.unmeasured


def _target_fraction(target: Decimal | float) -> Fraction:
    if isinstance(target, bool) or not isinstance(target, Decimal | float | int):
        raise ValueError(f"slice target must be a ratio in (0, 1], got {target!r}")
    if isinstance(target, Decimal):
        if not target.is_finite():
            raise ValueError(f"slice target must be a ratio in (0, 1], got {target!r}")
        value = Fraction(target)
    else:
        if not math.isfinite(target):
            raise ValueError(f"slice target must be a ratio in (0, 1], got {target!r}")
        # The decimal it is written as: 0.95 means 19/20, not the binary
        # 0.94999999999999995559..., so a slice at exactly 95 % is good for
        # the reason the contract says and not by a rounding accident.
        value = Fraction(repr(float(target)))
    if not 0 < value <= 1:
        raise ValueError(f"slice target must be a ratio in (0, 1], got {target!r}")
    return value


def _steps(length: float, resolution: float, what: str) -> int:
    steps = round(length / resolution)
    if steps < 1 or steps * resolution != length:
        raise ValueError(
            f"{what} must be a positive multiple of the storage resolution "
            f"({resolution:g}s), got {length:g}s"
        )
    return steps


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """``spans`` sorted, with overlapping or touching ones joined and empty ones dropped."""
    # The store may hand back overlapping runs (a finished run and the
    # current one); counting their overlap twice would invent coverage.
    out: list[Span] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _is_good(good: float, total: float, target: Fraction) -> bool:
    p, q = target.numerator, target.denominator
    if good.is_integer() and total.is_integer():
        return int(good) * q >= int(total) * p
    return Fraction(good) * q >= Fraction(total) * p


def _cut(
    buckets: Iterable[Bucket],
    *,
    start: float,
    end: float,
    resolution: float,
    slice_seconds: float,
    measured: Iterable[Span],
    excluded: Iterable[Span],
) -> list[tuple[SliceState | None, float, float]]:
    """Every whole slice of ``[start, end)``: excluded, unmeasured or empty
    (rules 1 to 3), else None to be judged, with its good and total events."""
    if not (math.isfinite(resolution) and resolution > 0):
        raise ValueError(f"storage resolution must be positive, got {resolution!r}")
    _steps(slice_seconds, resolution, "slice")
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        raise ValueError(f"the span must have start <= end, got [{start!r}, {end!r})")
    if start % resolution != 0:
        raise ValueError(
            f"start {start!r} is not on the bucket grid of the storage resolution ({resolution:g}s)"
        )

    count = int((end - start) // slice_seconds)
    stop = start + count * slice_seconds
    good = [0.0] * count
    total = [0.0] * count
    for b_start, b_good, b_total in buckets:
        if start <= b_start < stop:
            k = int((b_start - start) // slice_seconds)
            good[k] += b_good
            total[k] += b_total

    covered = [0.0] * count
    for span in merge_spans(measured):
        _spread(span, start, stop, slice_seconds, covered)
    maintenance = [0.0] * count
    for span in merge_spans(excluded):
        _spread(span, start, stop, slice_seconds, maintenance)

    out: list[tuple[SliceState | None, float, float]] = []
    for k in range(count):
        state: SliceState | None = None
        if maintenance[k] > 0:
            state = SliceState.EXCLUDED
        elif covered[k] * 2 < slice_seconds:
            state = SliceState.UNMEASURED
        elif not (total[k] > 0 and math.isfinite(total[k]) and math.isfinite(good[k])):
            state = SliceState.EMPTY
        out.append((state, good[k], total[k]))
    return out


def slice_states(
    buckets: Iterable[Bucket],
    *,
    start: float,
    end: float,
    resolution: float,
    slice_seconds: float,
    target: Decimal | float,
    measured: Iterable[Span],
    excluded: Iterable[Span] = (),
    empty: EmptySlices = "skip",
) -> list[SliceState]:
    """The verdict on every whole slice of ``[start, end)``, oldest first (rules in the module doc).

    ``buckets`` are ``(bucket_start, good, total)`` on the grid of
    ``resolution``; buckets outside the judged slices are ignored.
    ``target`` is a ratio in (0, 1]. ``start`` must lie on the bucket grid
    and ``slice_seconds`` be a positive multiple of ``resolution``.
    """
    goal = _target_fraction(target)
    if empty not in get_args(EmptySlices):
        raise ValueError(
            f"empty_slices must be one of {', '.join(get_args(EmptySlices))}, got {empty!r}"
        )
    states: list[SliceState] = []
    for state, good, total in _cut(
        buckets, start=start, end=end, resolution=resolution, slice_seconds=slice_seconds,
        measured=measured, excluded=excluded,
    ):
        if state is SliceState.EMPTY:
            states.append(_EMPTY_AS[empty])
        elif state is not None:
            states.append(state)
        elif _is_good(good, total, goal):
            states.append(SliceState.GOOD)
        else:
            states.append(SliceState.BAD)
    return states


@dataclass(frozen=True)
class SliceRatios:
    """Ratio timeslices: the sum of the judged slices' good/total ratios and how many
    there were, and how many slices were empty, excluded or unmeasured."""

    ratio_sum: float = 0.0
    judged: int = 0
    empty: int = 0
    excluded: int = 0
    unmeasured: int = 0

    @property
    def mean(self) -> float | None:
        """The SLI: the mean ratio of the judged slices; None when none was judged."""
        return None if self.judged == 0 else min(max(self.ratio_sum / self.judged, 0.0), 1.0)

    def __add__(self, other: SliceRatios) -> SliceRatios:
        return SliceRatios(
            self.ratio_sum + other.ratio_sum, self.judged + other.judged,
            self.empty + other.empty, self.excluded + other.excluded,
            self.unmeasured + other.unmeasured,
        )


def slice_ratios(
    buckets: Iterable[Bucket],
    *,
    start: float,
    end: float,
    resolution: float,
    slice_seconds: float,
    measured: Iterable[Span],
    excluded: Iterable[Span] = (),
) -> SliceRatios:
    """Ratio timeslices (OpenSLO ``RatioTimeslices``) of ``[start, end)``.

    Slices are cut and ruled out as for :func:`slice_states` (excluded,
    unmeasured, then empty: a slice without events has no ratio, so it is
    skipped, never good or bad); every other slice contributes its
    ``good / total``, clamped to [0, 1]. A slice with 1 event weighs as much
    as one with a million: that is the method, not an approximation of
    the event ratio.
    """
    ratio_sum = 0.0
    judged = empty = excluded_n = unmeasured = 0
    for state, good, total in _cut(
        buckets, start=start, end=end, resolution=resolution, slice_seconds=slice_seconds,
        measured=measured, excluded=excluded,
    ):
        if state is SliceState.EXCLUDED:
            excluded_n += 1
        elif state is SliceState.UNMEASURED:
            unmeasured += 1
        elif state is SliceState.EMPTY:
            empty += 1
        else:
            ratio_sum += min(max(good / total, 0.0), 1.0)
            judged += 1
    return SliceRatios(ratio_sum, judged, empty, excluded_n, unmeasured)


_EMPTY_AS = {"skip": SliceState.EMPTY, "good": SliceState.GOOD, "bad": SliceState.BAD}


def _spread(span: Span, start: float, stop: float, slice_seconds: float, into: list[float]) -> None:
    """Add the seconds of ``span`` that fall in each slice to ``into``."""
    s, e = max(span[0], start), min(span[1], stop)
    if e <= s:
        return
    first = int((s - start) // slice_seconds)
    last = min(math.ceil((e - start) / slice_seconds), len(into))
    for k in range(first, last):
        a = start + k * slice_seconds
        into[k] += min(e, a + slice_seconds) - max(s, a)


def tally(states: Iterable[SliceState]) -> SliceCounts:
    """Count the verdicts."""
    n = dict.fromkeys(SliceState, 0)
    for state in states:
        n[state] += 1
    return SliceCounts(
        good=n[SliceState.GOOD],
        bad=n[SliceState.BAD],
        empty=n[SliceState.EMPTY],
        excluded=n[SliceState.EXCLUDED],
        unmeasured=n[SliceState.UNMEASURED],
    )


def classify(
    buckets: Iterable[Bucket],
    *,
    start: float,
    end: float,
    resolution: float,
    slice_seconds: float,
    target: Decimal | float,
    measured: Iterable[Span],
    excluded: Iterable[Span] = (),
    empty: EmptySlices = "skip",
) -> SliceCounts:
    """The tally of :func:`slice_states` over ``[start, end)``."""
    return tally(
        slice_states(
            buckets,
            start=start,
            end=end,
            resolution=resolution,
            slice_seconds=slice_seconds,
            target=target,
            measured=measured,
            excluded=excluded,
            empty=empty,
        )
    )


def achieved(counts: SliceCounts) -> float | None:
    """good / (good + bad) slices; None when no slice was good or bad."""
    judged = counts.good + counts.bad
    return None if judged == 0 else counts.good / judged
