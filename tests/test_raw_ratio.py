"""Raw ratio SLIs (a ratio Prometheus computes over ``{{.window}}``): read once per bucket
into one weighted unit (good = success ratio, total = 1), implausible points rejected,
and the native ``sli: {raw: ...}`` key that builds them."""

from __future__ import annotations

import math

import pytest

from slo_exporter import model
from slo_exporter.accounting import EventBatch, fetch_events
from slo_exporter.config import parse_config
from slo_exporter.errors import ConfigError
from tests.test_accounting import Synthetic

RES = 60.0
ERRORS = "sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"
RENDERED = "sum(rate(e[59999ms])) / sum(rate(t[59999ms]))"


def raw_slo(measures: str = "bad") -> model.SLO:
    return model.SLO(service="shop", name="avail", objective=0.99,
                     period=model.RollingPeriod(86400.0),
                     sli=model.RawRatioSLI(model.Template(ERRORS), measures))


def fetch(source: Synthetic, slo: model.SLO, since: float, until: float) -> EventBatch:
    return fetch_events(source, slo, since=since, until=until, series_state={},
                        resolution=RES, overlap=0.0, chunk=86400.0)


def test_an_error_ratio_becomes_one_unit_per_bucket() -> None:
    """Points 0.25 at 60, 0 at 120, 1 at 180 are buckets [0, 60), [60, 120), [120, 180)
    holding good 1 - 0.25 = 0.75, 1 and 0, each of total 1; the template is rendered
    with the bucket width and read in one range query."""
    values = {60.0: 0.25, 120.0: 0.0, 180.0: 1.0}
    source = Synthetic(templates={RENDERED: lambda t: [values[t]]})
    batch = fetch(source, raw_slo(), 30, 200)
    assert batch.deltas == {0.0: (0.75, 1.0), 60.0: (1.0, 1.0), 120.0: (0.0, 1.0)}
    assert [c for c in source.calls if c[0] == "range"] == [("range", RENDERED, 60, 180)]
    assert batch.rejected == ()


def test_a_success_ratio_is_stored_as_it_is() -> None:
    """measures good: a point 0.9 is good 0.9 of 1."""
    source = Synthetic(templates={RENDERED: lambda t: [0.9]})
    assert fetch(source, raw_slo("good"), 0, 60).deltas == {0.0: (0.9, 1.0)}


def test_consecutive_reads_store_each_bucket_once() -> None:
    """Reads (0, 130] and (130, 250] evaluate bucket ends 60, 120 and then 180, 240."""
    source = Synthetic(templates={RENDERED: lambda t: [0.5]})
    first = fetch(source, raw_slo(), 0, 130)
    second = fetch(source, raw_slo(), 130, 250)
    assert set(first.deltas) == {0.0, 60.0}
    assert set(second.deltas) == {120.0, 180.0}


@pytest.mark.parametrize(("value", "reason"), [
    (1.5, "ratio 1.5 outside [0, 1]"),
    (-0.25, "ratio -0.25 outside [0, 1]"),
    (math.inf, "ratio inf outside [0, 1]"),
])
def test_a_value_outside_zero_to_one_is_rejected_never_stored(value: float, reason: str) -> None:
    """An impossible ratio is listed as rejected and its bucket holds nothing."""
    source = Synthetic(templates={RENDERED: lambda t: [value if t == 120 else 0.5]})
    batch = fetch(source, raw_slo(), 0, 180)
    assert batch.deltas == {0.0: (0.5, 1.0), 120.0: (0.5, 1.0)}
    [rejection] = batch.rejected
    assert (rejection.at, rejection.reason, rejection.samples) == (120.0, reason, 1)


def test_no_data_stores_nothing_and_rounding_past_one_is_kept() -> None:
    """NaN (no requests, 0 / 0) stores no bucket; 1 + 1e-12 is float rounding, read as 1."""
    values = {60.0: math.nan, 120.0: 1.0 + 1e-12}
    source = Synthetic(templates={RENDERED: lambda t: [values[t]]})
    batch = fetch(source, raw_slo(), 0, 120)
    assert batch.deltas == {60.0: (0.0, 1.0)}
    assert batch.rejected == ()


def test_a_query_returning_several_series_is_rejected() -> None:
    """Two ratios do not add up to one: every point is rejected with the fix."""
    source = Synthetic(templates={RENDERED: lambda t: [0.1, 0.2]})
    batch = fetch(source, raw_slo(), 0, 120)
    assert batch.deltas == {}
    assert len(batch.rejected) == 2
    assert "aggregate it to one" in batch.rejected[0].reason


# ------------------------------------------------------------------ native config

_CONFIG = """\
prometheus: {{url: "http://127.0.0.1:1"}}
services:
  - name: shop
    slos:
      - name: avail
        objective: 99
        window: 30d
        sli: {{raw: {raw}}}
"""


@pytest.mark.parametrize(("raw", "measures"), [
    ("{error_ratio: 'sum(rate(e[{{ .window }}])) / sum(rate(t[{{.window}}]))'}", "bad"),
    ("{success_ratio: 'sum(rate(e[{{ .window }}])) / sum(rate(t[{{.window}}]))'}", "good"),
])
def test_native_raw_sli_builds_a_raw_ratio(raw: str, measures: str) -> None:
    """error_ratio measures bad, success_ratio good; the placeholder gets its one spelling."""
    config = parse_config(_CONFIG.format(raw=raw), "t.yaml")
    assert config.slos[0].sli == model.RawRatioSLI(model.Template(ERRORS), measures)


@pytest.mark.parametrize(("raw", "problem"), [
    ("{error_ratio: 'sum(rate(e[5m])) / sum(rate(t[5m]))'}",
     "t.yaml:8: services[0].slos[0].sli.raw.error_ratio: must contain {{.window}}"),
    ("{}", "t.yaml:8: services[0].slos[0].sli.raw: give exactly one of 'error_ratio' and "
     "'success_ratio'"),
    ("{error_ratio: 'a[{{.window}}]', success_ratio: 'b[{{.window}}]'}",
     "t.yaml:8: services[0].slos[0].sli.raw: give exactly one of"),
    ("{error_ratio: 'sum(rate(e[{{.window}}])'}",
     "t.yaml:8: services[0].slos[0].sli.raw.error_ratio: invalid PromQL template"),
    ("{error_ratio: 'x[{{.range}}]'}",
     "t.yaml:8: services[0].slos[0].sli.raw.error_ratio: unknown template variable"),
    ("{ratio: 'x[{{.window}}]'}", "t.yaml:8: services[0].slos[0].sli.raw.ratio: unknown key"),
])
def test_native_raw_sli_mistakes_are_located(raw: str, problem: str) -> None:
    """No {{.window}}, neither or both kinds, bad PromQL or an unknown key: a located error."""
    with pytest.raises(ConfigError) as info:
        parse_config(_CONFIG.format(raw=raw), "t.yaml")
    assert str(info.value.problems[0]).startswith(problem)
