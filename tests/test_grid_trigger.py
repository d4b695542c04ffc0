"""The daemon's evaluation trigger: every fire time on the grid, even after an off-grid run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slo_exporter.daemon import _GridTrigger

START = datetime(2026, 11, 30, 12, 0, 5, tzinfo=UTC)  # the grid: :05, :20, :35, :50


def _trigger() -> _GridTrigger:
    return _GridTrigger(seconds=15, start_date=START, timezone=UTC)


def test_after_an_off_grid_first_run_the_next_fire_is_the_next_grid_instant() -> None:
    """First run at 12:00:11.3 (start-up), next at 12:00:20, not 12:00:26.3."""
    first = START + timedelta(seconds=6.3)
    assert _trigger().get_next_fire_time(first, first) == START + timedelta(seconds=15)


def test_a_run_on_the_grid_is_followed_by_the_next_instant_never_itself() -> None:
    """A run exactly at 12:00:20 with the clock still at 12:00:20 fires next at 12:00:35."""
    at = START + timedelta(seconds=15)
    assert _trigger().get_next_fire_time(at, at) == START + timedelta(seconds=30)


def test_a_late_run_skips_to_the_grid_instant_after_now() -> None:
    """A run of 12:00:20 that ends at 12:00:41 (late) fires next at 12:00:50."""
    at = START + timedelta(seconds=15)
    now = START + timedelta(seconds=36)
    assert _trigger().get_next_fire_time(at, now) == START + timedelta(seconds=45)


def test_every_fire_time_of_a_long_run_is_on_the_grid() -> None:
    """100 successive fire times from an off-grid start are whole intervals from the grid."""
    trigger = _trigger()
    t = START + timedelta(seconds=3.7)
    for _ in range(100):
        nxt = trigger.get_next_fire_time(t, t)
        assert nxt is not None
        assert nxt > t
        assert (nxt - START).total_seconds() % 15 == 0
        t = nxt
