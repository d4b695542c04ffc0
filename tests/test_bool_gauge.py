"""Specification of bool gauge accounting: every raw sample of a 0/1 gauge is one
event, good when 1; the same code runs against a real Prometheus in
tests/integration/test_bool_gauge_real.py."""

from __future__ import annotations

from slo_exporter import model
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


def test_the_stored_history_belongs_to_the_gauge_selector() -> None:
    """The source fingerprint changes with the gauge's selector and differs from a ratio's."""

    def slo(sli: model.SLI) -> model.SLO:
        return model.SLO("probes", "up", 0.99, model.RollingPeriod(86400.0), sli)

    up = slo(model.BoolGaugeSLI(model.Selector('probe_success{job="a"}')))
    assert up.source_fingerprint == slo(
        model.BoolGaugeSLI(model.Selector('probe_success{job="a"}'))
    ).source_fingerprint
    assert up.source_fingerprint != slo(
        model.BoolGaugeSLI(model.Selector('probe_success{job="b"}'))
    ).source_fingerprint
    ratio = model.RatioSLI(total=model.Selector('probe_success{job="a"}'),
                           good=model.Selector('probe_success{job="a"}'))
    assert up.source_fingerprint != slo(ratio).source_fingerprint
    assert up.remeasurable
