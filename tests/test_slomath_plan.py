"""``slomath.evaluate_plan``: the same numbers as the plain functions, by a plan worked out once."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from slo_exporter import slomath
from slo_exporter.model import ALERT_WINDOWS, AlertWindow
from slo_exporter.slomath import Counts
from slo_exporter.snapshot import AlertState

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


# a status's counts: often those of the status before (nothing committed since), maybe
# with a zero's sign turned; zeros of either sign, NaN, and ratios that hold conditions
step_pairs = st.lists(st.sampled_from([(1.0, 5.0), (1.0, 5.0), (5.0, 5.0), (0.0, 0.0),
                                        (-0.0, 1e6), (float("nan"), 5.0), (1e6, 1e6)]),
                      min_size=12, max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    objective=st.sampled_from([0.5, 0.9, 0.999]),
    hold=st.sampled_from([0.0, 120.0, 600.0]),
    steps=st.lists(st.tuples(st.sampled_from(["fresh", "same", "turned"]), step_pairs,
                             st.sampled_from([0.0, 30.0, 60.0, 400.0])),
                   min_size=1, max_size=10),
)
@example(objective=0.9, hold=120.0,  # held at the first, due to fire at the second
         steps=[("fresh", [(1.0, 5.0)] * 12, 0.0), ("same", [(1.0, 5.0)] * 12, 400.0)])
def test_a_kept_evaluation_gives_exactly_what_evaluate_plan_gives(
    objective: float, hold: float, steps: list[tuple[str, list[tuple[float, float]], float]]
) -> None:
    """Status after status, ``evaluate_kept`` (reusing the last result when the counts did
    not move) equals ``evaluate_plan`` of the same counts, instant and previous alert
    states bit for bit: windows, budget, and each condition's since and firing (a
    condition held for ``hold`` fires while the counts stay put)."""
    held = AlertWindow(severity="page", long=HOUR, short=300.0, factor=1.0, hold=hold)
    p = slomath.plan(objective, PERIOD, WINDOWS, (held, *ALERT_WINDOWS[1:]))
    assert len(p.required) <= 12
    kept: slomath.Evaluation | None = None
    previous: tuple[AlertState, ...] = ()
    values: list[tuple[float, float]] = []
    at = 1e9
    for how, fresh, later in steps:
        if how == "turned":  # the same but each zero's sign turned: equal floats
            values = [(-g if g == 0.0 else g, -t if t == 0.0 else t)
                      for g, t in values] or fresh
        elif how == "fresh" or not values:
            values = fresh
        at += later
        counts = {w: Counts(*values[i]) for i, w in enumerate(p.required)}
        kept = slomath.evaluate_kept(p, counts, at=at, previous=previous, kept=kept)
        plain = slomath.evaluate_plan(p, counts, at=at, previous=previous)
        assert repr(kept.result) == repr(plain)  # -0.0 and NaN too, which == cannot tell
        previous = kept.result[2]
