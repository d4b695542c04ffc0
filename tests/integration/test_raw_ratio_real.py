"""A raw ratio SLO (OpenSLO ``ratioMetric.raw``) against a real Prometheus.

Two hours of request counters with known per-minute error ratios (and a
ten-minute burst at ten times the traffic) are backfilled with ``promtool``
and served by a real ``prometheus``. The OpenSLO document is loaded as a
user would write it; its ``{{.window}}`` error ratio is read through the real
``PrometheusClient`` into a real SQLite store, and the figures show what the
README says: a raw ratio's window value is the time-weighted mean of the
bucket ratios, not the exact event ratio.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.accounting import fetch_events
from slo_exporter.compliance import period_figures
from slo_exporter.config import load_config
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.store import SQLiteStore
from tests.support.harness import backfilled_prometheus

pytestmark = pytest.mark.integration

STEP = 15
RES = 60.0
MINUTES = 120

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: shop
  indicator:
    metadata: {name: error-ratio}
    spec:
      ratioMetric:
        rawType: failure
        raw:
          metricSource:
            type: Prometheus
            spec:
              query: >-
                sum(increase(requests_total{code="500"}[{{.window}}]))
                / sum(increase(requests_total[{{.window}}]))
  timeWindow: [{duration: 1d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
"""


def per_sample(minute: int) -> tuple[int, int]:
    """(errors, requests) added by each of the four samples of ``minute``.

    0-29: 2 of 20 (error ratio 0.1); 30-89: 0 of 20; 90-99: 200 of 200
    (ratio 1, ten times the traffic); 100-109: none at all (0 / 0, no
    value); 110-119: 0 of 20.
    """
    if minute < 30:
        return 2, 20
    if 90 <= minute < 100:
        return 200, 200
    if 100 <= minute < 110:
        return 0, 0
    return 0, 20


@pytest.fixture(scope="module")
def history_start() -> float:
    """Two hours ending a day ago, on a whole hour."""
    return (time.time() // 3600) * 3600 - 86400 - MINUTES * 60


@pytest.fixture(scope="module")
def prometheus(history_start: float, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus holding the counters; one sample every 15 s from the start."""
    workdir = tmp_path_factory.mktemp("raw-ratio-prometheus")
    lines = ["# HELP requests Requests served.", "# TYPE requests counter"]
    ok = err = 0
    for i in range(MINUTES * 60 // STEP + 1):
        if i > 0:
            errors, requests = per_sample((i - 1) * STEP // 60)
            err += errors
            ok += requests - errors
        ts = history_start + i * STEP
        lines.append(f'requests_total{{code="200"}} {ok} {ts:.0f}')
        lines.append(f'requests_total{{code="500"}} {err} {ts:.0f}')
    with backfilled_prometheus(workdir, [*lines, "# EOF"]) as server:
        yield server.url


def test_a_raw_ratio_slo_stores_bucket_ratios_and_averages_them_over_time(
    prometheus: str, history_start: float, tmp_path: Path
) -> None:
    """110 buckets are stored, one unit each (the ten 0 / 0 minutes hold nothing):
    30 at 0.9 good, 60 + 10 at 1, 10 at 0. The window SLI is their time-weighted mean,
    (30 x 0.9 + 70) / 110 = 97 / 110 = 0.881818..; the exact event ratio of the same
    two hours is (16000 - 8240) / 16000 = 0.485 (requests 100 min x 80 + 10 min x 800,
    errors 30 min x 8 + 10 min x 800), because the burst carried half the traffic."""
    (tmp_path / "slo.yaml").write_text(OPENSLO)
    [slo] = load_config(str(tmp_path / "slo.yaml")).slos
    assert slo.sli == model.RawRatioSLI(model.Template(
        'sum(increase(requests_total{code="500"}[{{.window}}])) '
        "/ sum(increase(requests_total[{{.window}}]))"), "bad")
    end = history_start + MINUTES * 60
    client = PrometheusClient(model.PrometheusConfig(url=prometheus, timeout=30.0))
    try:
        batch = fetch_events(client, slo, since=history_start, until=end, series_state={},
                             resolution=RES, overlap=0.0, chunk=86400.0)
    finally:
        client.close()
    assert batch.rejected == ()
    deltas = {round((b - history_start) / RES): v for b, v in batch.deltas.items()}
    assert sorted(deltas) == [m for m in range(MINUTES) if not 100 <= m < 110]
    assert deltas[0] == pytest.approx((0.9, 1.0))
    assert deltas[45] == (1.0, 1.0)
    assert deltas[95] == (0.0, 1.0)

    with SQLiteStore(tmp_path / "store", RES) as store:
        store.commit(slo.key, batch.deltas, measured=(history_start, end))
        figures = period_figures(store, slo, start=history_start, end=end, at=end,
                                 label="2h", time_zone="UTC")
    assert figures.achieved is not None
    assert figures.achieved == pytest.approx(97 / 110)
    assert (figures.good_events, figures.good_events + figures.bad_events) == pytest.approx(
        (97.0, 110.0))
    exact = (16000 - 8240) / 16000
    assert exact == 0.485
    assert figures.achieved - exact == pytest.approx(0.396818, abs=1e-6)
