"""The runtime caps all attempts of one Prometheus query below the evaluation interval."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from slo_exporter import errors
from slo_exporter.exposition import SelfMetrics
from slo_exporter.model import (
    SLO,
    Config,
    PrometheusConfig,
    RatioSLI,
    RollingPeriod,
    Selector,
    Service,
)
from slo_exporter.probes import ProbeMetrics
from slo_exporter.prometheus import ClientPool
from slo_exporter.runtime import Collaborators, Runtime, default_client
from slo_exporter.store import EventStore, SQLiteStore
from tests.support.fake_prometheus import EmptyPrometheus

#: seconds between cycles in these tests
INTERVAL = 2.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with SQLiteStore(tmp_path, 60.0) as s:
        yield s


@pytest.fixture
def stuck() -> Iterator[EmptyPrometheus]:
    """A Prometheus that accepts every query and answers none within the test."""
    server = EmptyPrometheus(hold=10.0)
    server.open.clear()
    yield server
    server.close()


def _config(url: str) -> Config:
    slo = SLO(service="api", name="availability", objective=0.99, period=RollingPeriod(3600.0),
              sli=RatioSLI(total=Selector("http_requests_total"),
                           bad=Selector('http_requests_total{code="500"}')))
    # timeout 1.5 s fits in the 2 s interval, but three attempts of it do not
    return Config(services=(Service("api", (slo,)),), evaluation_interval=INTERVAL,
                  prometheus=PrometheusConfig(url=url, timeout=1.5, retries=3,
                                              retry_backoff=0.1, query_delay=0.0))


def _build(store: EventStore, url: str) -> tuple[Runtime, list[tuple[ClientPool, float]]]:
    built: list[tuple[ClientPool, float]] = []

    def factory(cfg: PrometheusConfig, stop: threading.Event, budget: float) -> ClientPool:
        pool = default_client(cfg, stop, budget)
        built.append((pool, budget))
        return pool

    metrics = SelfMetrics(CollectorRegistry())
    deps = Collaborators(store=store, probe_metrics=ProbeMetrics(),
                         on_error=metrics.query_error, client_factory=factory)
    return Runtime.build(_config(url), deps), built


def test_one_query_with_all_its_retries_ends_within_half_the_interval(
        store: EventStore, stuck: EmptyPrometheus) -> None:
    """Budget 0.5 x 2 s = 1 s: a hanging Prometheus (1.5 s timeout, 3 attempts, which
    unbounded would take 3 x 1.5 + 0.1 + 0.2 = 4.8 s) ends the query after about 1 s."""
    rt, built = _build(store, stuck.url)
    try:
        [(pool, budget)] = built
        assert budget == 0.5 * INTERVAL
        started = time.monotonic()
        with pytest.raises(errors.QueryError):
            pool.query("up", time.time())
        took = time.monotonic() - started
    finally:
        rt.close()
    assert 0.8 < took < INTERVAL, f"one query took {took:.2f}s"


def test_a_cycle_against_a_hanging_prometheus_ends_within_the_interval(
        store: EventStore, stuck: EmptyPrometheus) -> None:
    """The engine's cycle over a Prometheus that never answers ends before the next is due,
    with the SLO down and the reason given."""
    rt, _ = _build(store, stuck.url)
    try:
        started = time.monotonic()
        snapshot = rt.engine.evaluate()
        took = time.monotonic() - started
    finally:
        rt.close()
    assert took < INTERVAL, f"the cycle took {took:.2f}s"
    assert [s.up for s in snapshot.slos] == [False]
