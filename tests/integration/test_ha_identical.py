"""An HA pair: two daemons started at different times export identical SLO series.

Both read the same Prometheus (the session's 32 days of history) with the
same configuration and their own event stores. Cycles fire on the epoch grid
(multiples of ``evaluation_interval``, plus ``query_delay``), so once both
have evaluated the same grid instant their ``/metrics`` agree sample for
sample, except the series that describe the process rather than the SLOs:
``slo_exporter_*`` (cycle durations and counts, reload and last-success
timestamps, build info) differ by nature and are left out. Probe SLOs are
not part of this (each replica probes on its own).
"""

from __future__ import annotations

import time

import pytest

from tests.support.harness import (
    API_BAD,
    API_GOOD,
    API_TOTAL,
    ExporterFactory,
    PrometheusFactory,
    Scrape,
    SLOSpec,
    evaluation_instants,
    exporter_config,
    scrapes_at_one_instant,
)

pytestmark = pytest.mark.integration

SLOS = (
    SLOSpec("api", "availability", total=API_TOTAL, bad=API_BAD, objective=99.9, window="30d"),
    SLOSpec("api", "success", total=API_TOTAL, good=API_GOOD, objective=99.5, window="7d"),
)
INTERVAL = 4.0
DELAY = 1.0
#: series that describe the process, not the SLOs
PER_PROCESS = ("slo_exporter_",)


def _slo_series(scrape: Scrape) -> list[str]:
    """Every SLO sample as sorted text lines, per-process series left out."""
    return sorted(
        f"{s.name}{sorted(s.labels.items())} {s.value!r}" for s in scrape.samples
        if not s.name.startswith(PER_PROCESS)
    )


def test_replicas_started_apart_export_identical_slo_series(
    make_prometheus: PrometheusFactory, make_exporter: ExporterFactory
) -> None:
    """Two daemons started 2.3 s apart (4 s interval, 1 s query_delay): at a grid instant
    both have evaluated, a multiple of 4 s, every SLO sample is identical."""
    prometheus = make_prometheus()
    config = exporter_config(prometheus.url, SLOS, evaluation_interval=f"{INTERVAL:g}s",
                             query_delay=f"{DELAY:g}s", timeout="3s")
    first = make_exporter(config, name="replica-a")
    second = make_exporter(config, name="replica-b")
    first.start(ready_timeout=60)
    time.sleep(2.3)  # off the grid: the second starts at another phase of the interval
    second.start(ready_timeout=60)

    a, b = scrapes_at_one_instant([first, second], timeout=5 * INTERVAL,
                                  what="both replicas describing the same instant")
    (instant,) = evaluation_instants(a)
    assert instant % INTERVAL == 0, f"{instant} is not on the {INTERVAL:g}s grid"
    assert a.value("slo_sli_up", service="api", slo="availability") == 1.0
    assert _slo_series(a) == _slo_series(b)
    assert len(_slo_series(a)) > 40, "the comparison must cover the windows, not a handful"
