"""Specification of alert conditions: window validation, thresholds, single windows and holds."""

from __future__ import annotations

import pytest

from slo_exporter import slomath
from slo_exporter.model import ALERT_WINDOWS, AlertWindow
from slo_exporter.slomath import Counts

DAY = 86400.0
HOUR = 3600.0


def test_positional_construction_keeps_working() -> None:
    """AlertWindow("page", 3600, 300, 0.02) is the 1h/5m pair spending 2%, no hold."""
    window = AlertWindow("page", 3600.0, 300.0, 0.02)
    assert window == ALERT_WINDOWS[0]
    assert (window.factor, window.hold) == (None, 0.0)


def test_budget_fraction_threshold_scales_with_the_period() -> None:
    """2% within 1h: 0.02 * 30d / 1h = 14.4 for 30 days, 0.02 * 31d / 1h = 14.88 for 31."""
    window = ALERT_WINDOWS[0]
    assert window.threshold(30 * DAY) == pytest.approx(14.4)
    assert window.threshold(31 * DAY) == pytest.approx(14.88)


def test_fixed_factor_does_not_scale() -> None:
    """A fixed factor of 10 is 10 whatever the period's length."""
    window = AlertWindow("page", HOUR, None, factor=10.0)
    assert window.threshold(7 * DAY) == window.threshold(90 * DAY) == 10.0
    assert window.windows == (HOUR,)
    assert window.short_or_long == HOUR


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"short": HOUR}, "shorter than long"),
        ({"short": 0.0}, "shorter than long"),
        ({"budget_fraction": None}, "exactly one of budget_fraction and factor"),
        ({"factor": 3.0}, "exactly one of budget_fraction and factor"),
        ({"budget_fraction": 1.5}, "budget fraction must be in (0, 1]"),
        ({"budget_fraction": None, "factor": 0.0}, "factor must be positive"),
        ({"hold": -1.0}, "hold must be zero or positive"),
    ],
)
def test_bad_windows_are_rejected(kwargs: dict[str, float | None], message: str) -> None:
    """Each invalid combination raises with a message saying which rule it breaks."""
    args: dict[str, float | None] = {"short": 300.0, "budget_fraction": 0.02, **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("]", r"\]")):
        AlertWindow("page", HOUR, args.pop("short"), **args)  # type: ignore[arg-type]


def test_single_window_condition_reads_only_its_window() -> None:
    """Error ratio 0.02 over 1h at objective 0.99 burns 2x; fixed factor 1.5 -> fires.

    No count is needed for any other window: required_windows asks for 1h and the period.
    """
    window = AlertWindow("ticket", HOUR, None, factor=1.5)
    assert slomath.required_windows(DAY, (), (window,)) == (HOUR, DAY)
    (state,) = slomath.alert_states(0.99, DAY, {HOUR: Counts(98.0, 100.0)}, (window,))
    assert state.long_burn_rate == pytest.approx(2.0)
    assert (state.short_window, state.short_burn_rate) == (HOUR, state.long_burn_rate)
    assert (state.firing, state.factor) == (True, 1.5)
    assert state.window is window


def test_hold_delays_firing_until_the_condition_has_held_long_enough() -> None:
    """A 10m hold: holding since t=1000, not firing at 1300 (300s), firing at 1600 (600s)."""
    window = AlertWindow("page", HOUR, 300.0, 0.02, hold=600.0)
    burning = {HOUR: Counts(0.0, 10.0), 300.0: Counts(0.0, 10.0)}  # burn rate 100 > 14.4
    (first,) = slomath.alert_states(0.99, 30 * DAY, burning, (window,), at=1000.0)
    assert (first.since, first.firing) == (1000.0, False)
    (second,) = slomath.alert_states(0.99, 30 * DAY, burning, (window,), at=1300.0,
                                     previous=(first,))
    assert (second.since, second.firing) == (1000.0, False)
    (third,) = slomath.alert_states(0.99, 30 * DAY, burning, (window,), at=1600.0,
                                    previous=(second,))
    assert (third.since, third.firing, third.hold) == (1000.0, True, 600.0)


def test_hold_restarts_once_the_condition_stops_holding() -> None:
    """A quiet evaluation clears ``since``; the next burning one starts the hold afresh."""
    window = AlertWindow("page", HOUR, 300.0, 0.02, hold=600.0)
    burning = {HOUR: Counts(0.0, 10.0), 300.0: Counts(0.0, 10.0)}
    quiet = {HOUR: Counts(10.0, 10.0), 300.0: Counts(10.0, 10.0)}
    (first,) = slomath.alert_states(0.99, 30 * DAY, burning, (window,), at=0.0)
    (calm,) = slomath.alert_states(0.99, 30 * DAY, quiet, (window,), at=700.0, previous=(first,))
    assert (calm.since, calm.firing) == (None, False)
    (again,) = slomath.alert_states(0.99, 30 * DAY, burning, (window,), at=800.0,
                                    previous=(calm,))
    assert (again.since, again.firing) == (800.0, False)


def test_without_hold_a_holding_condition_fires_at_once() -> None:
    """The default catalogue has no hold: the 1h/5m page fires on its first burning evaluation."""
    counts = {w: Counts(0.0, 10.0) for a in ALERT_WINDOWS for w in a.windows}
    states = slomath.alert_states(0.999, 30 * DAY, counts, at=5.0)
    assert all(s.firing and s.since == 5.0 for s in states)
