"""Specification of the SLO math for calendar periods: factors scaled to the period's
length and the budget of a period to date projected from the rate so far."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_exporter import slomath
from slo_exporter.model import ALERT_WINDOWS
from slo_exporter.slomath import Counts

DAY = 86400.0
HOUR = 3600.0


def _all_windows(good: float, total: float) -> dict[float, Counts]:
    return {w: Counts(good, total) for a in ALERT_WINDOWS for w in a.windows}


def test_factors_of_a_31_day_month() -> None:
    """31 days: 0.02*31d/1h = 14.88, 0.05*31d/6h = 6.2, 0.1*31d/1d = 3.1, 0.1*31d/3d = 1.0333."""
    alerts = slomath.alert_states(0.999, 31 * DAY, _all_windows(1000, 1000))
    assert [a.factor for a in alerts] == pytest.approx([14.88, 6.2, 3.1, 3.1 / 3])


def test_factors_of_a_28_day_month() -> None:
    """28 days: 0.02*28d/1h = 13.44, 0.05*28d/6h = 5.6, 0.1*28d/1d = 2.8, 0.1*28d/3d = 0.9333."""
    alerts = slomath.alert_states(0.999, 28 * DAY, _all_windows(1000, 1000))
    assert [a.factor for a in alerts] == pytest.approx([13.44, 5.6, 2.8, 2.8 / 3])


def test_a_burn_of_14_pages_in_february_but_not_in_march() -> None:
    """Error ratio 0.014 on 99.9 % burns 14: above 13.44 (28 d), below 14.88 (31 d)."""
    counts = _all_windows(986, 1000)
    february = slomath.alert_states(0.999, 28 * DAY, counts)
    march = slomath.alert_states(0.999, 31 * DAY, counts)
    assert february[0].firing
    assert february[0].long_burn_rate == pytest.approx(14.0)
    assert not march[0].firing


def test_pairs_whose_long_window_does_not_fit_are_left_out() -> None:
    """A 2-day period keeps the 1h, 6h and 1d pairs; the 3d pair does not fit."""
    alerts = slomath.alert_states(0.99, 2 * DAY, _all_windows(10, 10))
    assert [a.long_window for a in alerts] == [HOUR, 6 * HOUR, DAY]


def test_projected_budget_spends_in_proportion_to_the_elapsed_part() -> None:
    """10 of 30 days gone, 2 bad of 1000 on 99.9 %: burn 2, spent 2*10/30, left 1/3."""
    left = slomath.projected_budget_remaining(Counts(998, 1000), 0.999, 10 * DAY, 30 * DAY)
    assert left == pytest.approx(1 / 3)


def test_projected_budget_at_the_end_is_the_plain_budget() -> None:
    """At the period's end the projection equals the plain budget: 1 - burn rate."""
    c = Counts(990, 1000)
    assert slomath.projected_budget_remaining(c, 0.999, 30 * DAY, 30 * DAY) == pytest.approx(
        slomath.budget_remaining(c, 0.999))


@pytest.mark.parametrize(("counts", "elapsed"), [(Counts(0, 0), DAY), (Counts(5, 10), 0.0)])
def test_projected_budget_is_unknown_without_events_or_time(counts: Counts, elapsed: float) -> None:
    """No events, or no time elapsed yet, gives no budget rather than a guess."""
    assert slomath.projected_budget_remaining(counts, 0.99, elapsed, 30 * DAY) is None


def test_window_values_match_evaluate() -> None:
    """window_values gives what evaluate exports for the same counts."""
    values, _, _ = slomath.evaluate(0.99, DAY, (HOUR, DAY), _all_windows(9, 10) | {
        DAY: Counts(9, 10), 300.0: Counts(9, 10), 1800.0: Counts(9, 10), 7200.0: Counts(9, 10)})
    assert slomath.window_values(HOUR, Counts(9, 10), 0.99) == values[0]


@given(good=st.integers(0, 10_000), extra=st.integers(0, 10_000),
       objective=st.floats(0.5, 0.9999), part=st.floats(0.001, 1.0))
def test_a_projection_never_spends_more_than_the_plain_budget(
    good: int, extra: int, objective: float, part: float
) -> None:
    """Part-way through, the projected budget left is at least the plain one (spent
    scales by elapsed / length <= 1), and both are finite."""
    c = Counts(good, good + extra)
    projected = slomath.projected_budget_remaining(c, objective, part * 30 * DAY, 30 * DAY)
    plain = slomath.budget_remaining(c, objective)
    if plain is None:
        assert projected is None
        return
    assert projected is not None
    assert math.isfinite(projected)
    assert projected >= plain - 1e-9
