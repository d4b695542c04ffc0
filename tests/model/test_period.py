"""The rolling period: the last N seconds before an instant, in whole store buckets."""

from __future__ import annotations

import pytest

from slo_exporter.model import CalendarPeriod, Period, RollingPeriod


def test_rolling_label_is_its_duration() -> None:
    """A rolling period is labelled with its duration, e.g. 30d."""
    assert RollingPeriod(30 * 86400.0).label == "30d"


def test_rolling_longest_is_its_length() -> None:
    """A rolling period keeps exactly its own length of history."""
    assert RollingPeriod(7 * 86400.0).longest == 7 * 86400.0


def test_rolling_bounds_end_with_the_bucket_holding_the_instant() -> None:
    """bounds() ends at the end of the bucket holding the instant and spans the period."""
    assert RollingPeriod(3600.0).bounds(10_030.0, 60.0) == (10_080.0 - 3600.0, 10_080.0)


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("inf"), float("nan")])
def test_rolling_rejects_a_non_positive_or_infinite_length(seconds: float) -> None:
    """A rolling period of zero, negative, infinite or NaN length is refused."""
    with pytest.raises(ValueError, match="positive duration"):
        RollingPeriod(seconds)


def test_period_is_rolling_or_calendar() -> None:
    """An SLO's period is either kind; both answer bounds, length and longest."""
    assert Period == RollingPeriod | CalendarPeriod
