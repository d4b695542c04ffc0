"""Specification of timeslice budgeting: slice verdicts from buckets, measured and maintenance."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_exporter import timeslices
from slo_exporter.model import EmptySlices
from slo_exporter.timeslices import SliceCounts, SliceState

T0 = 28_333_333 * 60.0  # on the minute grid
MIN = 60.0
ALWAYS = [(T0 - 10 * MIN, T0 + 1000 * MIN)]


def minute_slices(
    buckets: Sequence[tuple[float, float, float]],
    minutes: int,
    *,
    measured: list[tuple[float, float]] | None = None,
    excluded: list[tuple[float, float]] | None = None,
    target: Decimal | float = 0.95,
) -> list[SliceState]:
    return timeslices.slice_states(
        buckets,
        start=T0,
        end=T0 + minutes * MIN,
        resolution=MIN,
        slice_seconds=MIN,
        target=target,
        measured=ALWAYS if measured is None else measured,
        excluded=excluded or [],
    )


def at(minute: float) -> float:
    return T0 + minute * MIN


def test_ten_minutes_worked_by_hand() -> None:
    """Ten one-minute slices, target 95 %: 5 good, 2 bad, 1 empty, 1 excluded, 1 unmeasured.

    m0 100/100 good; m1 95/100 exactly at target, good; m2 94/100 bad; m3 no events, empty;
    m4 19/20 = 95 % good; m5 100/100 but only 29 s measured, unmeasured; m6 0/50 but one
    second of maintenance, excluded; m7 0/10 with exactly 30 s measured, bad; m8, m9 good.
    achieved = 5 / (5 + 2) = 0.714285...
    """
    buckets = [
        (at(0), 100, 100),
        (at(1), 95, 100),
        (at(2), 94, 100),
        (at(4), 19, 20),
        (at(5), 100, 100),
        (at(6), 0, 50),
        (at(7), 0, 10),
        (at(8), 1, 1),
        (at(9), 60, 60),
    ]
    measured = [
        (at(0), at(1)),  # overlaps the next run: counted once
        (at(0), at(5)),
        (at(5) + 31, at(7)),
        (at(7) + 30, at(10)),
    ]
    excluded = [(at(6) + 59, at(7))]
    states = minute_slices(buckets, 10, measured=measured, excluded=excluded)
    assert states == [
        SliceState.GOOD,
        SliceState.GOOD,
        SliceState.BAD,
        SliceState.EMPTY,
        SliceState.GOOD,
        SliceState.UNMEASURED,
        SliceState.EXCLUDED,
        SliceState.BAD,
        SliceState.GOOD,
        SliceState.GOOD,
    ]
    counts = timeslices.tally(states)
    assert counts == SliceCounts(good=5, bad=2, empty=1, excluded=1, unmeasured=1)
    assert timeslices.achieved(counts) == pytest.approx(5 / 7)


def test_a_slice_sums_its_buckets_worked_by_hand() -> None:
    """Five-minute slices at 95 %: 400/425 = 94.1 % is bad, 400/421 = 95.01 % is good.

    Slice 0: four minutes of 100/100 and one of 0/25. Slice 1: four of 100/100 and one of 0/21.
    """
    full = [(at(m), 100.0, 100.0) for m in (0, 1, 2, 3, 5, 6, 7, 8)]
    buckets = sorted([*full, (at(4), 0.0, 25.0), (at(9), 0.0, 21.0)])
    counts = timeslices.classify(
        buckets,
        start=T0,
        end=at(10),
        resolution=MIN,
        slice_seconds=5 * MIN,
        target=Decimal("0.95"),
        measured=ALWAYS,
    )
    assert counts == SliceCounts(good=1, bad=1)


def test_any_second_of_maintenance_excludes_the_slice_but_touching_does_not() -> None:
    """A window [m1, m2) excludes only m1; a window ending at m1's start leaves m1 alone."""
    buckets = [(at(m), 0.0, 10.0) for m in range(3)]
    assert minute_slices(buckets, 3, excluded=[(at(1), at(2))]) == [
        SliceState.BAD,
        SliceState.EXCLUDED,
        SliceState.BAD,
    ]
    assert minute_slices(buckets, 3, excluded=[(at(0) + 59.5, at(1))]) == [
        SliceState.EXCLUDED,
        SliceState.BAD,
        SliceState.BAD,
    ]


def test_maintenance_wins_over_missing_measurement() -> None:
    """An unmeasured slice inside maintenance is excluded: excluded time leaves coverage alone."""
    assert minute_slices([], 1, measured=[], excluded=[(at(0), at(1))]) == [SliceState.EXCLUDED]


def test_unmeasured_time_is_never_good() -> None:
    """With nothing measured every slice is unmeasured, even under empty_slices: good."""
    counts = timeslices.classify(
        [(at(0), 10.0, 10.0)],
        start=T0,
        end=at(3),
        resolution=MIN,
        slice_seconds=MIN,
        target=0.9,
        measured=[],
        empty="good",
    )
    assert counts == SliceCounts(unmeasured=3)
    assert timeslices.achieved(counts) is None


@pytest.mark.parametrize(
    ("empty", "expected"),
    [
        ("skip", SliceCounts(good=1, empty=2)),
        ("good", SliceCounts(good=3)),
        ("bad", SliceCounts(good=1, bad=2)),
    ],
)
def test_empty_slices_policy(empty: EmptySlices, expected: SliceCounts) -> None:
    """A slice with no events is neither (skip, the default), good or bad as configured."""
    counts = timeslices.classify(
        [(at(1), 5.0, 5.0), (at(2), 0.0, 0.0)],
        start=T0,
        end=at(3),
        resolution=MIN,
        slice_seconds=MIN,
        target=0.9,
        measured=ALWAYS,
        empty=empty,
    )
    assert counts == expected


def test_only_whole_slices_within_the_span_are_judged() -> None:
    """The slice in progress at `end` and buckets outside [start, end) are left out."""
    buckets = [(at(-1), 0.0, 9.0), (at(0), 9.0, 9.0), (at(1), 9.0, 9.0), (at(2), 0.0, 9.0)]
    states = timeslices.slice_states(
        buckets,
        start=T0,
        end=at(2) + 59,
        resolution=MIN,
        slice_seconds=MIN,
        target=1,
        measured=ALWAYS,
    )
    assert states == [SliceState.GOOD, SliceState.GOOD]


@pytest.mark.parametrize(
    ("good", "total", "target", "state"),
    [
        (95, 100, 0.95, SliceState.GOOD),
        (95, 100, Decimal("0.95"), SliceState.GOOD),
        (9.5, 10, 0.95, SliceState.GOOD),  # fractional counts from extrapolated increases
        (999, 1000, 0.999, SliceState.GOOD),
        (998, 1000, 0.999, SliceState.BAD),
        (57, 100, 0.57, SliceState.GOOD),
        (569_999_999, 1_000_000_000, 0.57, SliceState.BAD),
        (10, 10, 1, SliceState.GOOD),
        (9, 10, 1.0, SliceState.BAD),
        (11, 10, 1.0, SliceState.GOOD),  # good above total at a bucket edge
    ],
)
def test_the_target_boundary_is_exact_and_good(
    good: float, total: float, target: Decimal | float, state: SliceState
) -> None:
    """good/total exactly at the target is good; one event under is bad, at any magnitude."""
    assert minute_slices([(at(0), good, total)], 1, target=target) == [state]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"slice_seconds": 90.0}, "slice must be a positive multiple of the storage resolution"),
        ({"slice_seconds": 0.0}, "slice must be a positive multiple of the storage resolution"),
        ({"resolution": 0.0}, "storage resolution must be positive"),
        ({"target": 0.0}, "slice target must be a ratio in (0, 1]"),
        ({"target": 1.01}, "slice target must be a ratio in (0, 1]"),
        ({"target": float("nan")}, "slice target must be a ratio in (0, 1]"),
        ({"target": Decimal("NaN")}, "slice target must be a ratio in (0, 1]"),
        ({"target": "95"}, "slice target must be a ratio in (0, 1]"),
        ({"empty": "maybe"}, "empty_slices must be one of skip, good, bad"),
        ({"start": T0 + 1}, "not on the bucket grid"),
        ({"end": T0 - MIN}, "the span must have start <= end"),
    ],
)
def test_bad_arguments_are_rejected_with_the_reason(
    kwargs: dict[str, object], message: str
) -> None:
    """Each invalid argument is a ValueError naming the problem, before any slice is judged."""
    args: dict[str, object] = {
        "start": T0,
        "end": at(5),
        "resolution": MIN,
        "slice_seconds": MIN,
        "target": 0.95,
        "measured": ALWAYS,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        timeslices.classify([], **args)  # type: ignore[arg-type]


def test_achieved_is_good_over_judged_slices() -> None:
    """achieved ignores empty, excluded and unmeasured slices; none judged is None."""
    assert (
        timeslices.achieved(SliceCounts(good=3, bad=1, empty=7, excluded=2, unmeasured=9)) == 0.75
    )
    assert timeslices.achieved(SliceCounts(empty=4, excluded=1)) is None


def test_a_month_of_minutes() -> None:
    """A 31-day month of one-minute slices with one bad hour: 44,580 good, 60 bad."""
    minutes = 31 * 24 * 60
    buckets = [(at(m), 0.0 if 600 <= m < 660 else 10.0, 10.0) for m in range(minutes)]
    counts = timeslices.classify(
        buckets,
        start=T0,
        end=at(minutes),
        resolution=MIN,
        slice_seconds=MIN,
        target=0.95,
        measured=[(T0, at(minutes))],
    )
    assert counts == SliceCounts(good=44_580, bad=60)


spans = st.lists(
    st.tuples(st.integers(-30, 1300), st.integers(0, 600)).map(
        lambda p: (T0 + p[0], T0 + p[0] + p[1])
    ),
    max_size=4,
)
bucket_lists = st.lists(
    st.tuples(st.integers(-2, 22), st.integers(0, 20), st.integers(0, 20)),
    max_size=25,
    unique_by=lambda b: b[0],
).map(lambda bs: sorted((at(m), float(g), float(t)) for m, g, t in bs))


@given(
    bucket_lists,
    spans,
    spans,
    st.tuples(st.integers(1, 4), st.integers(0, 1300)),
    st.sampled_from([0.5, 0.9, 1.0]),
)
def test_every_slice_gets_one_verdict_and_the_policy_moves_only_empty_slices(
    buckets: list[tuple[float, float, float]],
    measured: list[tuple[float, float]],
    excluded: list[tuple[float, float]],
    shape: tuple[int, int],
    target: float,
) -> None:
    """Property: verdicts add up to the number of slices; skip/good/bad differ only in empties."""
    slice_minutes, length = shape
    results = {
        empty: timeslices.classify(
            buckets,
            start=T0,
            end=T0 + length,
            resolution=MIN,
            slice_seconds=slice_minutes * MIN,
            target=target,
            measured=measured,
            excluded=excluded,
            empty=empty,
        )
        for empty in ("skip", "good", "bad")
    }
    skip, good, bad = results["skip"], results["good"], results["bad"]
    assert skip.slices == length // (slice_minutes * 60)
    assert good == SliceCounts(
        good=skip.good + skip.empty,
        bad=skip.bad,
        excluded=skip.excluded,
        unmeasured=skip.unmeasured,
    )
    assert bad == SliceCounts(
        good=skip.good,
        bad=skip.bad + skip.empty,
        excluded=skip.excluded,
        unmeasured=skip.unmeasured,
    )
    if not measured:
        assert skip.good == skip.bad == skip.empty == 0
