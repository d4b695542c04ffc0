"""Exact 30-day SLIs from a real Prometheus holding 32 days of synthetic history.

The history (tests/support/synth.py) has traffic that varies 10x over the
day and a 15-minute error burst at the quiet hour every day. The daemon is
started cold and must export, for the 30d, 1d, 6h and 1h windows, exactly
the event counts the generated samples imply, and SLI/burn rate within 0.1%.
For contrast, the Sloth-style 30d SLI (the average of 5-minute error ratios)
is computed on the same data and shown to miss by more than 100%.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import pytest

from tests.support.harness import (
    API_BAD,
    API_GOOD,
    API_TOTAL,
    HISTORY_DAYS,
    ExporterFactory,
    PrometheusFactory,
    SLOSpec,
    evaluated_at,
    exporter_config,
    window_mismatches,
)
from tests.support.synth import (
    DAY,
    JobHistory,
    Sample,
    WindowSpec,
    expected_window,
    relative_miss,
    sloth_error_ratio,
)

pytestmark = pytest.mark.integration

SLOS = (
    SLOSpec("api", "availability", total=API_TOTAL, bad=API_BAD, objective=99.9, window="30d"),
    SLOSpec("api", "success", total=API_TOTAL, good=API_GOOD, objective=99.5, window="30d"),
)


def generated(history: JobHistory) -> Mapping[str, Mapping[str, Sequence[Sample]]]:
    """The generated raw samples each selector of SLOS matches."""
    return {
        API_GOOD: history.good_series(),
        API_BAD: history.bad_series(),
        API_TOTAL: history.series(),
    }


def test_prometheus_holds_the_generated_samples(
    make_prometheus: PrometheusFactory, history: JobHistory
) -> None:
    """After the promtool backfill, Prometheus returns exactly the generated raw samples."""
    prometheus = make_prometheus()
    at = history.end_ms / 1000
    stored = prometheus.raw_samples(API_TOTAL, at, HISTORY_DAYS * DAY + 60)
    assert stored.keys() == history.series().keys()
    for key, samples in history.series().items():
        assert stored[key] == samples, f"{key}: stored samples differ from the generated ones"


def test_sloth_style_average_misses_the_exact_30d_error_ratio(
    make_prometheus: PrometheusFactory,
    history: JobHistory,
    record_property: Callable[[str, object], None],
) -> None:
    """The average of 5-minute error ratios over 30d misses the exact 30d error ratio by >100%."""
    prometheus = make_prometheus()
    t = history.end_ms / 1000
    exact = expected_window(history.series(), WindowSpec(t, 30 * DAY), bad=history.bad_series())
    assert exact.error_ratio is not None
    sloth_promql = prometheus.scalar(
        f"avg_over_time((sum(rate({API_BAD}[5m])) / sum(rate({API_TOTAL}[5m])))[30d:5m])", t
    )
    sloth_direct = sloth_error_ratio(history.bad_series(), history.series(), t=t)
    miss = relative_miss(sloth_promql, exact.error_ratio)
    report = (
        f"30d error ratio: exact {exact.error_ratio:.6f} "
        f"({exact.bad:.0f} bad of {exact.total:.0f}); "
        f"Sloth-style avg of 5m ratios: {sloth_promql:.6f} via PromQL, "
        f"{sloth_direct:.6f} from the events; miss {miss:.0%}"
    )
    print(report)
    record_property("sloth_contrast", report)
    assert miss > 1.0, report
    assert relative_miss(sloth_direct, exact.error_ratio) > 1.0, report


def test_cold_start_exports_exact_windows(
    make_prometheus: PrometheusFactory,
    make_exporter: ExporterFactory,
    history: JobHistory,
    record_property: Callable[[str, object], None],
) -> None:
    """A cold-started daemon's first evaluation has exact 30d/1d/6h/1h events, SLI, burn rate."""
    prometheus = make_prometheus()
    exporter = make_exporter(exporter_config(prometheus.url, SLOS, evaluation_interval="5s",
                                                   timeout="5s"))
    began = time.monotonic()
    exporter.start(ready_timeout=120)
    record_property("cold_start_seconds", round(time.monotonic() - began, 2))
    scrape = exporter.scrape()

    selectors = generated(history)
    problems: list[str] = []
    for slo in SLOS:
        t = evaluated_at(scrape, slo)
        assert abs(time.time() - t) < 300, f"{slo.name}: t={t} is not a recent instant"
        problems += window_mismatches(scrape, slo, lambda selector, _t: selectors[selector])
        assert scrape.value("slo_sli_up", service=slo.service, slo=slo.name) == 1.0
    assert not problems, "\n".join(problems)
