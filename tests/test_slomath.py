"""Specification of the pure SLO math: ratios, burn rates, budget, alert conditions, buckets."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_exporter import slomath
from slo_exporter.model import ALERT_WINDOWS, STANDARD_WINDOWS
from slo_exporter.slomath import Counts

DAY = 86400.0
HOUR = 3600.0

counts_st = st.builds(
    Counts,
    good=st.floats(min_value=-1e9, max_value=1e12, allow_nan=False),
    total=st.floats(min_value=0.0, max_value=1e12, allow_nan=False),
)
objective_st = st.floats(min_value=0.5, max_value=0.99999)


def windows_for(period: float) -> tuple[float, ...]:
    return (*(w for w in STANDARD_WINDOWS if w < period), period)


def uniform(good: float, total: float, period: float) -> dict[float, Counts]:
    """The same counts in every window an SLO of ``period`` needs."""
    return {w: Counts(good, total) for w in slomath.required_windows(period, windows_for(period))}


# ------------------------------------------------------------------ ratios


def test_sli_is_good_over_total() -> None:
    """The SLI is good events divided by total events."""
    assert slomath.sli_ratio(Counts(999, 1000)) == pytest.approx(0.999)


def test_no_events_means_no_ratio() -> None:
    """No events gives no SLI, error ratio, burn rate or budget (not zero errors)."""
    empty = Counts(0, 0)
    assert slomath.sli_ratio(empty) is None
    assert slomath.error_ratio(empty) is None
    assert slomath.burn_rate(empty, 0.999) is None
    assert slomath.budget_remaining(empty, 0.999) is None


def test_non_finite_counts_give_no_ratio() -> None:
    """NaN or Inf counts never turn into NaN or Inf ratios."""
    for c in (Counts(math.nan, 10), Counts(1, math.inf), Counts(1, math.nan)):
        assert slomath.sli_ratio(c) is None
        assert slomath.burn_rate(c, 0.99) is None


def test_all_good_is_exactly_zero_errors() -> None:
    """When every event is good the error ratio and burn rate are exactly 0."""
    assert slomath.error_ratio(Counts(0.1 + 0.2, 0.30000000000000004)) == 0.0
    assert slomath.burn_rate(Counts(7, 7), 0.999) == 0.0


def test_ratios_are_clamped_when_good_exceeds_total() -> None:
    """Good counted beyond total (a window edge between series) clamps the SLI at 1."""
    assert slomath.sli_ratio(Counts(11, 10)) == 1.0
    assert slomath.sli_ratio(Counts(-1, 10)) == 0.0
    assert slomath.error_ratio(Counts(11, 10)) == 0.0


@given(counts_st)
def test_ratios_stay_within_unit_interval(c: Counts) -> None:
    """SLI and error ratio are always within [0, 1] and sum to 1."""
    sli, err = slomath.sli_ratio(c), slomath.error_ratio(c)
    if c.total <= 0:
        assert sli is None
        assert err is None
    else:
        assert sli is not None
        assert err is not None
        assert 0.0 <= sli <= 1.0
        assert 0.0 <= err <= 1.0
        assert sli + err == pytest.approx(1.0)


# --------------------------------------------------------------- burn rate


def test_burn_rate_is_error_ratio_over_budget() -> None:
    """Burn rate = error ratio / (1 - objective): 1% errors on 99.9% burns 10x."""
    assert slomath.burn_rate(Counts(990, 1000), 0.999) == pytest.approx(10.0)


def test_total_outage_burns_at_inverse_budget() -> None:
    """All events bad burns at 1 / (1 - objective)."""
    assert slomath.burn_rate(Counts(0, 5), 0.999) == pytest.approx(1000.0)


@given(
    good=st.integers(min_value=0, max_value=10**9),
    bad=st.integers(min_value=0, max_value=10**9),
    more_bad=st.integers(min_value=1, max_value=10**9),
    objective=objective_st,
)
def test_burn_rate_is_monotonic_in_bad_events(
    good: int, bad: int, more_bad: int, objective: float
) -> None:
    """Adding bad events (same good count) never lowers the burn rate."""
    before = slomath.burn_rate(Counts(good, good + bad), objective)
    after = slomath.burn_rate(Counts(good, good + bad + more_bad), objective)
    assert after is not None
    assert before is None or after >= before


@given(c=counts_st, objective=objective_st)
def test_burn_rate_is_finite_and_non_negative(c: Counts, objective: float) -> None:
    """A burn rate, when there is one, is a finite number >= 0."""
    rate = slomath.burn_rate(c, objective)
    assert rate is None or (math.isfinite(rate) and rate >= 0.0)


@pytest.mark.parametrize("objective", [0.0, 1.0, 1.5, -0.1, 99.9])
def test_objective_outside_unit_interval_is_rejected(objective: float) -> None:
    """An objective that is not a ratio in (0, 1) is a ValueError, not a division by zero."""
    with pytest.raises(ValueError, match="objective must be a ratio"):
        slomath.burn_rate(Counts(1, 2), objective)


# ------------------------------------------------------------------ budget


def test_budget_remaining_on_target() -> None:
    """Spending exactly the budget leaves 0; spending half leaves half."""
    assert slomath.budget_remaining(Counts(999, 1000), 0.999) == pytest.approx(0.0)
    assert slomath.budget_remaining(Counts(9995, 10000), 0.999) == pytest.approx(0.5)


def test_budget_is_negative_when_overspent() -> None:
    """Twice the allowed errors leaves -1 (100% overspent)."""
    assert slomath.budget_remaining(Counts(998, 1000), 0.999) == pytest.approx(-1.0)


@given(c=counts_st, objective=objective_st)
def test_budget_is_at_most_one(c: Counts, objective: float) -> None:
    """The remaining budget never exceeds 1 (the whole budget)."""
    budget = slomath.budget_remaining(c, objective)
    assert budget is None or budget <= 1.0


# ------------------------------------------------------------------ counts


@given(st.lists(counts_st, min_size=1, max_size=20), st.integers(min_value=0, max_value=20))
def test_sums_over_split_intervals_equal_sum_over_whole(parts: list[Counts], cut: int) -> None:
    """Adding the counts of two adjacent spans gives the counts of the whole span."""
    cut = min(cut, len(parts))
    whole = sum(parts, Counts())
    left = sum(parts[:cut], Counts())
    right = sum(parts[cut:], Counts())
    joined = left + right
    assert joined.good == pytest.approx(whole.good, rel=1e-9, abs=1e-3)
    assert joined.total == pytest.approx(whole.total, rel=1e-9, abs=1e-3)


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), max_size=30))
def test_integer_counts_add_exactly(parts: list[tuple[int, int]]) -> None:
    """Integer event counts add without rounding, in any grouping."""
    counts = [Counts(g, g + b) for g, b in parts]
    whole = sum(counts, Counts())
    assert whole.good == sum(g for g, _ in parts)
    assert whole.total == sum(g + b for g, b in parts)
    assert sum(reversed(counts), Counts()) == whole


def test_bad_is_total_minus_good_never_negative() -> None:
    """bad = total - good, floored at 0."""
    assert Counts(7, 10).bad == 3
    assert Counts(12, 10).bad == 0


# ------------------------------------------------------------ alert factor


def test_factors_for_a_30_day_period_are_the_workbook_values() -> None:
    """For 30 days the four default pairs give factors 14.4, 6, 3 and 1."""
    factors = [a.threshold(30 * DAY) for a in ALERT_WINDOWS]
    assert factors == pytest.approx([14.4, 6.0, 3.0, 1.0])


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (28 * DAY, [13.44, 5.6, 2.8, 2.8 / 3]),
        (7 * DAY, [3.36, 1.4, 0.7, 0.7 / 3]),
    ],
)
def test_factors_scale_with_the_period(period: float, expected: list[float]) -> None:
    """Factors scale linearly with the period: budget_fraction * period / long window."""
    factors = [a.threshold(period) for a in ALERT_WINDOWS]
    assert factors == pytest.approx(expected)


def test_alert_pairs_skip_long_windows_beyond_the_period() -> None:
    """A 1-day SLO keeps the pairs whose long window is at most 1 day."""
    pairs = slomath.alert_pairs(DAY)
    assert [p.long for p in pairs] == [HOUR, 6 * HOUR, DAY]


def test_required_windows_cover_windows_period_and_alert_windows() -> None:
    """The windows to sum are the SLO's windows, its period and every alert window used."""
    needed = slomath.required_windows(12 * HOUR, (300.0, 12 * HOUR))
    assert needed == (300.0, 1800.0, HOUR, 6 * HOUR, 12 * HOUR)


# ---------------------------------------------------------------- evaluate


def test_evaluate_reports_each_window_in_order() -> None:
    """Each window gets its events, SLI and burn rate, in the order given."""
    period = 30 * DAY
    windows = windows_for(period)
    counts = uniform(999, 1000, period)
    counts[300.0] = Counts(0, 0)
    values, budget, _ = slomath.evaluate(0.999, period, windows, counts)
    assert [v.window for v in values] == list(windows)
    five_min = values[0]
    assert (five_min.sli, five_min.burn_rate, five_min.total) == (None, None, 0.0)
    assert values[-1].sli == pytest.approx(0.999)
    assert values[-1].burn_rate == pytest.approx(1.0)
    assert budget == pytest.approx(0.0)


def test_evaluate_budget_uses_the_period_counts() -> None:
    """Budget remaining comes from the period window, not from shorter ones."""
    period = 7 * DAY
    counts = uniform(0, 10, period)  # short windows: total outage
    counts[period] = Counts(9995, 10000)
    _, budget, _ = slomath.evaluate(0.999, period, windows_for(period), counts)
    assert budget == pytest.approx(0.5)


def test_exported_events_are_consistent_with_the_clamped_ratio() -> None:
    """Window good events are clamped into [0, total], so good + bad == total."""
    values, _, _ = slomath.evaluate(
        0.99, DAY, (DAY,), {w: Counts(12, 10) for w in slomath.required_windows(DAY, (DAY,))}
    )
    assert (values[0].good, values[0].bad, values[0].total) == (10.0, 0.0, 10.0)


def test_total_outage_fires_every_alert() -> None:
    """With every event bad in every window, every condition fires."""
    period = 30 * DAY
    _, budget, alerts = slomath.evaluate(
        0.999, period, windows_for(period), uniform(0, 100, period)
    )
    assert [a.firing for a in alerts] == [True, True, True, True]
    assert [a.severity for a in alerts] == ["page", "page", "ticket", "ticket"]
    assert budget == pytest.approx(-999.0)


def test_condition_needs_both_windows_above_the_factor() -> None:
    """A fast burn only in the short window (recovered long window) does not fire."""
    period = 30 * DAY
    counts = uniform(1000, 1000, period)
    counts[300.0] = Counts(0, 100)  # burn rate 1000 over the last 5 minutes
    _, _, alerts = slomath.evaluate(0.999, period, windows_for(period), counts)
    page = alerts[0]
    assert page.short_burn_rate == pytest.approx(1000.0)
    assert page.long_burn_rate == 0.0
    assert not page.firing


def test_burn_rate_equal_to_factor_does_not_fire() -> None:
    """The condition is strict: a burn rate exactly at the factor does not fire."""
    # objective 0.5: error ratio 0.5 burns at exactly 1.0, the 3d/6h factor for 30 days.
    period = 30 * DAY
    _, _, alerts = slomath.evaluate(0.5, period, windows_for(period), uniform(50, 100, period))
    slow_ticket = alerts[3]
    assert slow_ticket.factor == 1.0
    assert slow_ticket.long_burn_rate == 1.0
    assert not slow_ticket.firing


def test_no_data_never_fires() -> None:
    """With no events in either window, alerts do not fire and carry no burn rates."""
    period = 30 * DAY
    _, budget, alerts = slomath.evaluate(0.999, period, windows_for(period), uniform(0, 0, period))
    assert budget is None
    for alert in alerts:
        assert not alert.firing
        assert alert.long_burn_rate is None
        assert alert.short_burn_rate is None


def test_no_data_in_one_window_does_not_fire() -> None:
    """Events in the long window but none in the short one do not fire."""
    period = 30 * DAY
    counts = uniform(0, 100, period)
    counts[300.0] = Counts(0, 0)
    _, _, alerts = slomath.evaluate(0.999, period, windows_for(period), counts)
    assert not alerts[0].firing
    assert alerts[1].firing


def test_short_period_drops_alert_pairs_that_do_not_fit() -> None:
    """A 1-day SLO evaluates the three pairs that fit, with factors scaled to 1 day."""
    _, _, alerts = slomath.evaluate(0.99, DAY, windows_for(DAY), uniform(0, 10, DAY))
    assert [(a.long_window, a.short_window) for a in alerts] == [
        (HOUR, 300.0),
        (6 * HOUR, 1800.0),
        (DAY, 2 * HOUR),
    ]
    assert [a.factor for a in alerts] == pytest.approx([0.48, 0.2, 0.1])


def test_missing_counts_are_reported() -> None:
    """Counts missing for a needed window is a ValueError naming the window."""
    with pytest.raises(ValueError, match=r"no counts for windows \[300.0\]"):
        slomath.evaluate(
            0.99, DAY, (DAY,), {w: Counts() for w in (HOUR, 1800, 2 * HOUR, 6 * HOUR, DAY)}
        )


@given(
    good=st.integers(min_value=0, max_value=10**6),
    bad=st.integers(min_value=0, max_value=10**6),
    objective=objective_st,
)
def test_evaluate_never_exports_nan_or_inf(good: int, bad: int, objective: float) -> None:
    """Every number evaluate returns is finite or None."""
    period = 28 * DAY
    values, budget, alerts = slomath.evaluate(
        objective, period, windows_for(period), uniform(good, good + bad, period)
    )
    numbers = [budget]
    numbers += [x for v in values for x in (v.good, v.total, v.sli, v.burn_rate)]
    numbers += [x for a in alerts for x in (a.factor, a.long_burn_rate, a.short_burn_rate)]
    assert all(x is None or math.isfinite(x) for x in numbers)


# ----------------------------------------------------------------- buckets


def test_bucket_start_is_the_multiple_of_resolution_at_or_before() -> None:
    """An instant belongs to the bucket starting at the last multiple of the resolution."""
    assert slomath.bucket_start(1_700_000_059.9, 60) == 1_700_000_040.0
    assert slomath.bucket_start(1_700_000_040.0, 60) == 1_700_000_040.0
    assert slomath.bucket_start(-1.0, 60) == -60.0


def test_window_includes_the_current_bucket() -> None:
    """A window ends at the end of the bucket holding t and spans whole buckets back."""
    assert slomath.window_bounds(1_000_030.0, 300.0, 60.0) == (999_780.0, 1_000_080.0)


@given(
    t=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    buckets=st.integers(min_value=1, max_value=50_000),
    resolution=st.sampled_from([1.0, 10.0, 15.0, 60.0, 300.0]),
)
def test_window_bounds_are_whole_buckets_around_t(
    t: float, buckets: int, resolution: float
) -> None:
    """The window holds t, ends within one bucket after it, and is aligned to buckets."""
    start, end = slomath.window_bounds(t, buckets * resolution, resolution)
    assert start <= t < end <= t + resolution
    assert end - start == buckets * resolution
    assert start % resolution == 0.0


def test_non_positive_resolution_is_rejected() -> None:
    """A zero resolution is a ValueError, not a division by zero."""
    with pytest.raises(ValueError, match="resolution must be positive"):
        slomath.bucket_start(10.0, 0.0)


@given(
    good=st.floats(allow_nan=True, allow_infinity=True),
    total=st.floats(allow_nan=True, allow_infinity=True),
    objective=st.floats(0.5, 0.99999),
)
def test_window_values_are_the_plain_sli_and_burn_rate(
    good: float, total: float, objective: float
) -> None:
    """A window's exported values equal sli_ratio and burn_rate of its counts, for any
    counts (negative, non-finite, empty included)."""
    c = Counts(good, total)
    values = slomath.window_values(3600.0, c, objective)
    assert values.sli == slomath.sli_ratio(c)
    assert values.burn_rate == slomath.burn_rate(c, objective)
