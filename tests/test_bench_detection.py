"""The detection-time bench's pure helpers: the math floor, medians, counters, Sloth-style rules."""

from __future__ import annotations

import pytest

from bench.outage_chain import (
    OutageCounters,
    floor_seconds,
    median,
    outage_floor,
    sloth_rules,
)


def test_total_outage_floor_is_the_1h_pair_at_14_4x() -> None:
    """14.4 x (1 - 0.999) x 3600 s / 1.0 = 51.84 s of failures until the 1h ratio passes."""
    assert floor_seconds(0.999, 14.4, 3600.0) == pytest.approx(51.84)


def test_slow_burn_floor_divides_by_the_failure_share() -> None:
    """6 x 0.001 x 21600 s / 0.01 = 12,960 s: at 1 % failures the 6h pair needs 3.6 h."""
    assert floor_seconds(0.999, 6.0, 21600.0, 0.01) == pytest.approx(12960.0)


def test_floor_refuses_a_share_outside_zero_to_one() -> None:
    """A failure share of 0 would never page: a clear error, not a division by zero."""
    with pytest.raises(ValueError, match="failure share"):
        floor_seconds(0.999, 14.4, 3600.0, 0.0)


def test_two_hours_of_history_let_the_6h_pair_cross_first() -> None:
    """6h window holds 7200 s + t: t / (7200 + t) > 0.006 at t = 0.006 x 7200 / 0.994 = 43.46 s,
    before the 1h pair's 51.84 s (its 30m short window passes at 0.006 x 1800 = 10.8 s)."""
    seconds, pair = outage_floor(0.999, 2 * 3600.0)
    assert seconds == pytest.approx(43.46, abs=0.01)
    assert pair == "6h/30m"


def test_three_days_of_history_page_on_the_1h_pair() -> None:
    """Full windows: 1h/5m at 14.4 x 0.001 x 3600 = 51.84 s,
    6h/30m at 6 x 0.001 x 21600 = 129.6 s."""
    seconds, pair = outage_floor(0.999, 3 * 86400.0)
    assert seconds == pytest.approx(51.84)
    assert pair == "1h/5m"


def test_median_of_runs_and_of_none() -> None:
    """Median of 77.4, 66.3, 78.2 is 77.4; no measured run gives None."""
    assert median([77.4, 66.3, 78.2]) == 77.4
    assert median([]) is None


def test_counters_continue_their_history_and_fail_from_onset() -> None:
    """10 rps since t=1000: at 1060 good = 600; outage at 1060, at 1075 good 600, bad 150."""
    clock = iter([1060.0])
    counters = OutageCounters(rps=10.0, since=1000.0, clock=lambda: next(clock))
    assert counters.values(1060.0) == (600, 0)
    assert "job=\"api\",code=\"200\"} 600 1060.000" in counters.history(end=1060.0, step=15.0)
    assert counters.outage() == 1060.0
    assert counters.values(1075.0) == (600, 150)


def test_sloth_page_alert_uses_the_5m_1h_pair_at_14_4x() -> None:
    """The page condition compares the 5m and 1h error ratios with 14.4 x the 0.001 budget."""
    rules = sloth_rules(service="api", slo="requests", objective=0.999, owner="platform")
    page = rules["groups"][1]["rules"][0]
    assert page["alert"] == "SlothHighErrorRate"
    assert page["labels"]["severity"] == "page"
    assert "slo:sli_error:ratio_rate5m" in page["expr"]
    assert "slo:sli_error:ratio_rate1h" in page["expr"]
    assert "(14.4 * 0.0010000000000000009)" in page["expr"]
