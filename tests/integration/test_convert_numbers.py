"""A converted config evaluates to the same numbers as the dialect specs it came from.

A real Prometheus holds two days of synthetic ``http_requests_total``
history (a daily error burst and a counter reset), backfilled with
promtool. A native config includes a Sloth file (one SLI that becomes exact
selectors, one that stays a ``{{.window}}`` template), an OpenSLO file
(a calendar month over occurrences, a rolling week over timeslices) and a
Pyrra file (a week with Pyrra's own alert windows).
``slo-exporter convert`` writes it as one native file. The engine then
evaluates each config once, at the same instant, each into its own store:
every SLO's windows, budget, alert states and period figures, and the whole
``/metrics`` exposition, are identical.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slo_exporter import cli
from slo_exporter.config import load_config
from slo_exporter.engine import Engine
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.model import ALERT_WINDOWS, Config, RatioSLI, Selector, Template
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.snapshot import Snapshot
from slo_exporter.store import SQLiteStore
from tests.support.harness import backfilled_prometheus
from tests.support.synth import JobHistory, generate_job, write_openmetrics

pytestmark = pytest.mark.integration

SLOTH = """\
version: prometheus/v1
service: api
labels: {owner: web}
slos:
  - name: availability
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="api",code="500"}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="api"}[{{.window}}]))
  - name: templated
    objective: 99
    labels: {kind: template}
    sli:
      events:
        error_query: sum by (job) (increase(http_requests_total{job="api",code="500"}[{{.window}}]))
        total_query: sum by (job) (increase(http_requests_total{job="api"}[{{.window}}]))
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: success}
spec:
  ratioMetric:
    counter: true
    good:
      metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="api",code="200"}'}}
    total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="api"}'}}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: monthly}
spec:
  service: shop
  indicatorRef: success
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar: {startTime: "2026-01-01 00:00:00", timeZone: Europe/Berlin}
  budgetingMethod: Occurrences
  objectives: [{target: 0.999}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: uptime}
spec:
  service: shop
  indicatorRef: success
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Timeslices
  objectives: [{target: 0.99, timeSliceTarget: 0.95, timeSliceWindow: 5m}]
"""

PYRRA = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: api-errors, namespace: monitoring}
spec:
  target: '98.5'
  window: 1w
  indicator:
    ratio:
      errors: {metric: 'http_requests_total{job="api",code="500"}'}
      total: {metric: 'http_requests_total{job="api"}'}
"""


@pytest.fixture(scope="module")
def history() -> JobHistory:
    """Two days of samples every 30 s, ending a few minutes ago."""
    return generate_job("api", end=time.time() - 300, days=2, step=30)


@pytest.fixture(scope="module")
def prometheus(history: JobHistory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus holding the history; the test fails if the binaries are missing."""
    workdir = tmp_path_factory.mktemp("convert-prometheus")
    openmetrics = workdir / "history.om"
    write_openmetrics(openmetrics, [history])
    with backfilled_prometheus(workdir, openmetrics) as server:
        yield server.url


def evaluate(config: Config, storage: Path, at: float) -> tuple[Snapshot, str]:
    """One engine cycle at ``at`` into a fresh store: the snapshot and its /metrics text."""
    client = PrometheusClient(config.prometheus)
    store = SQLiteStore(storage, config.storage.resolution)
    engine = Engine(config, store, client, clock=lambda: at)
    try:
        snapshot = engine.evaluate()
    finally:
        engine.close()
        client.close()
        store.close()
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot))
    return snapshot, generate_latest(registry).decode()


def test_converted_config_evaluates_to_the_same_numbers(
    prometheus: str, history: JobHistory, tmp_path: Path
) -> None:
    """Sloth, OpenSLO and Pyrra specs and their native conversion give identical statuses
    and an identical /metrics exposition, with errors and traffic actually in the windows
    (Pyrra's own alert windows, scaled to its week, included)."""
    (tmp_path / "sloth.yml").write_text(SLOTH)
    (tmp_path / "openslo.yaml").write_text(OPENSLO)
    (tmp_path / "pyrra.yaml").write_text(PYRRA)
    original = tmp_path / "slo.yaml"
    original.write_text(
        f"prometheus: {{url: {prometheus!r}, timeout: 20s, retries: 1}}\n"
        "evaluation_interval: 30s\n"
        "include: [sloth.yml, openslo.yaml, pyrra.yaml]\n")
    converted = tmp_path / "native.yaml"
    assert cli.main(["convert", f"--config.file={original}", f"--output={converted}"]) == 0
    assert "include" not in converted.read_text().split("services:")[0]

    given, native = load_config(str(original)), load_config(str(converted))
    assert given.slos == native.slos
    slis = [slo.sli for slo in native.slos if slo.service == "api"]
    assert [type(s.total) for s in slis if isinstance(s, RatioSLI)] == [Selector, Template]

    at = history.end_ms / 1000 + 30
    before, before_text = evaluate(given, tmp_path / "given", at)
    after, after_text = evaluate(native, tmp_path / "native", at)

    assert [s.slo.key for s in after.slos] == [s.slo.key for s in before.slos]
    for old, new in zip(before.slos, after.slos, strict=True):
        assert old.error is None, f"{old.slo.key}: {old.error}"
        assert (new.up, new.windows, new.budget_remaining, new.alerts, new.period) == (
            old.up, old.windows, old.budget_remaining, old.alerts, old.period), old.slo.key
    assert after_text == before_text

    [status] = [s for s in before.slos if s.slo.key == "api/availability"]
    availability = status.window(86400.0)
    assert availability is not None
    assert availability.total > 1000
    assert availability.bad > 0
    assert 'slo_sli_ratio{service="shop",slo="uptime",window="7d"}' in before_text
    [pyrra] = [s for s in before.slos if s.slo.key == "api-errors/api-errors"]
    assert pyrra.slo.alerting.windows != ALERT_WINDOWS
    assert {a.long_window for a in pyrra.alerts} == {w.long for w in pyrra.slo.alerting.windows}
