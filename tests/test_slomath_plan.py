"""``slomath.evaluate_plan``: the same numbers as the plain functions, by a plan worked out once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter import slomath
from slo_exporter.model import ALERT_WINDOWS
from slo_exporter.slomath import Counts

HOUR = 3600.0
PERIOD = 30 * 24 * HOUR
WINDOWS = (300.0, HOUR, 24 * HOUR, PERIOD)

numbers = st.one_of(st.floats(min_value=-10.0, max_value=1e6),
                    st.sampled_from([0.0, float("nan"), float("inf")]))
counts_strategy = st.builds(Counts, numbers, numbers)


@settings(max_examples=200, deadline=None)
@given(
    objective=st.floats(min_value=0.5, max_value=0.9999),
    per_window=st.lists(counts_strategy, min_size=8, max_size=8),
    at=st.floats(min_value=0.0, max_value=1e9),
    held=st.booleans(),
)
def test_a_plan_gives_exactly_what_the_plain_functions_give(
    objective: float, per_window: list[Counts], at: float, held: bool
) -> None:
    """Window values, budget and alert states by a plan equal, field by field and bit
    for bit, ``window_values``, ``budget_remaining`` and ``alert_states`` of the same
    counts, whether or not a previous evaluation held the conditions."""
    p = slomath.plan(objective, PERIOD, WINDOWS, ALERT_WINDOWS)
    counts = dict(zip(p.required, per_window, strict=False))
    previous = slomath.alert_states(objective, PERIOD, counts, ALERT_WINDOWS, at=at - 60.0)
    prior = previous if held else ()
    values, budget, alerts = slomath.evaluate_plan(p, counts, at=at, previous=prior)
    plain = tuple(slomath.window_values(w, counts[w], objective) for w in WINDOWS)
    assert values == plain
    assert repr(values) == repr(plain)  # -0.0 and NaN too, which == cannot tell
    assert budget == slomath.budget_remaining(counts[PERIOD], objective)
    assert alerts == slomath.alert_states(objective, PERIOD, counts, ALERT_WINDOWS,
                                          at=at, previous=prior)


def test_a_plan_rejects_an_objective_outside_zero_to_one() -> None:
    """An objective of 1 has no budget: the plan refuses it as ``evaluate`` does."""
    import pytest

    with pytest.raises(ValueError, match="objective"):
        slomath.plan(1.0, PERIOD, WINDOWS)
