"""Specification of bool gauge accounting: every raw sample of a 0/1 gauge is one
event, good when 1; the same code runs against a real Prometheus in
tests/integration/test_bool_gauge_real.py."""

from __future__ import annotations

from slo_exporter.accounting import REBASELINE, bool_gauge_events


def test_every_sample_is_one_event_good_when_one() -> None:
    """A new series' first sample counts too (unlike a counter's baseline)."""
    read = bool_gauge_events([(15.0, 1.0), (30.0, 0.0), (45.0, 1.0)], None)
    assert read.increases == [(15.0, 1.0), (30.0, 0.0), (45.0, 1.0)]
    assert read.last == (45.0, 1.0)
    assert read.step == 15.0
    assert read.rejected == []


def test_samples_read_before_are_skipped() -> None:
    """Samples at or before the kept last sample (an overlapping read) count nothing."""
    read = bool_gauge_events([(15.0, 1.0), (30.0, 0.0), (45.0, 1.0)], (30.0, 0.0))
    assert read.increases == [(45.0, 1.0)]
    assert read.step == 15.0


def test_a_value_other_than_zero_or_one_is_rejected() -> None:
    """0.5 or NaN is neither good nor bad: rejected with a reason, never stored."""
    read = bool_gauge_events([(15.0, 0.5), (30.0, float("nan")), (45.0, 1.0)], None)
    assert read.increases == [(45.0, 1.0)]
    assert [ts for ts, _ in read.rejected] == [15.0, 30.0]
    assert "0.5 is neither 0 nor 1" in read.rejected[0][1]
    assert bool_gauge_events([(15.0, 2.0)], None).last == (15.0, REBASELINE)
