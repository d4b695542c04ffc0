"""Building one configuration's engine, recorder, probes and client from collaborators."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from slo_exporter.errors import QueryError, StoreError
from slo_exporter.exposition import SelfMetrics
from slo_exporter.model import (
    SLO,
    CompositeComponent,
    CompositeSLI,
    Config,
    HTTPProbe,
    ProbeSLI,
    PrometheusConfig,
    RatioSLI,
    RollingPeriod,
    Selector,
    Service,
    SLOId,
)
from slo_exporter.probes import ProbeMetrics, ProbeResult, ProbeScheduler
from slo_exporter.probes.scheduler import OnResult
from slo_exporter.prometheus import ClientPool
from slo_exporter.recorder import ProbeRecorder
from slo_exporter.runtime import (
    Collaborators,
    Runtime,
    check_prometheus_settings,
    needs_prometheus,
)
from slo_exporter.store import EventStore, SQLiteStore
from tests.support.fake_prometheus import EmptyPrometheus

OK = ProbeResult(success=True, duration=0.01, reason="ok")


def probe_slo(name: str = "home") -> SLO:
    return SLO(service="web", name=name, objective=0.99, period=RollingPeriod(86400.0),
               sli=ProbeSLI(target=HTTPProbe(url=f"http://127.0.0.1:9/{name}"), interval=0.05,
                            timeout=0.04))


def ratio_slo(name: str = "api") -> SLO:
    return SLO(service="web", name=name, objective=0.99, period=RollingPeriod(3600.0),
               sli=RatioSLI(total=Selector("http_requests_total"),
                            bad=Selector('http_requests_total{code="500"}')))


def config(*slos: SLO, url: str = "http://127.0.0.1:9") -> Config:
    return Config(services=(Service("web", tuple(slos)),),
                  prometheus=PrometheusConfig(url=url, timeout=2.0, retries=1, query_delay=0.0))


@pytest.fixture
def prometheus() -> Iterator[EmptyPrometheus]:
    server = EmptyPrometheus()
    yield server
    server.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with SQLiteStore(tmp_path, 60.0) as s:
        yield s


class CountingClients:
    """A client factory building real client pools and remembering them."""

    def __init__(self) -> None:
        self.built: list[ClientPool] = []
        self.budgets: list[float] = []
        self.closed = 0

    def __call__(self, cfg: PrometheusConfig, stop: threading.Event, budget: float) -> ClientPool:
        owner = self

        class Tracked(ClientPool):
            def close(self) -> None:
                owner.closed += 1
                super().close()

        client = Tracked(cfg, stop=stop, max_total_time=budget)
        self.budgets.append(budget)
        self.built.append(client)
        return client


def deps(store: EventStore, **kwargs: Any) -> Collaborators:
    metrics = SelfMetrics(CollectorRegistry())
    return Collaborators(store=store, probe_metrics=ProbeMetrics(),
                         on_error=metrics.query_error, **kwargs)


def test_probe_only_config_builds_no_client(store: EventStore) -> None:
    """A configuration of probes only never builds a Prometheus client."""
    clients = CountingClients()
    rt = Runtime.build(config(probe_slo()), deps(store, client_factory=clients))

    assert clients.built == []
    assert not needs_prometheus(rt.config)
    rt.close()


def test_probes_and_their_composite_build_no_client(store: EventStore) -> None:
    """A composite of probe SLOs reads the store, not Prometheus: still no client."""
    clients = CountingClients()
    journey = SLO(service="web", name="journey", objective=0.99, period=RollingPeriod(86400.0),
                  sli=CompositeSLI(mode="all_good", components=(
                      CompositeComponent(SLOId("web", "home")),)))
    rt = Runtime.build(config(probe_slo(), journey), deps(store, client_factory=clients))

    assert clients.built == []
    assert not needs_prometheus(rt.config)
    rt.close()


def test_a_failing_build_closes_the_client(store: EventStore) -> None:
    """When the engine cannot be built (store closed), the client built for it is closed."""
    clients = CountingClients()
    store.close()
    with pytest.raises(StoreError):
        Runtime.build(config(ratio_slo()), deps(store, client_factory=clients))

    assert len(clients.built) == 1
    assert clients.closed == 1


def test_runtime_evaluates_through_the_client(
        store: EventStore, prometheus: EmptyPrometheus) -> None:
    """The built engine reads Prometheus through the factory's client; close closes it."""
    clients = CountingClients()
    rt = Runtime.build(config(ratio_slo(), url=prometheus.url),
                       deps(store, client_factory=clients))
    snapshot = rt.engine.evaluate()

    assert [s.up for s in snapshot.slos] == [True]
    assert prometheus.requests > 0
    rt.close()
    assert clients.closed == 1


def test_fresh_probes_share_engine_and_recorder(store: EventStore) -> None:
    """with_fresh_probes gives a new, startable scheduler over the same engine and recorder."""
    built: list[ProbeScheduler] = []

    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        scheduler = ProbeScheduler(slis, on_result, runner=lambda sli: OK)
        built.append(scheduler)
        return scheduler

    rt = Runtime.build(config(probe_slo()), deps(store, probe_scheduler_factory=factory))
    rt.start_probes()
    assert rt.stop_probes(1.0)
    again = rt.with_fresh_probes()
    again.start_probes()  # a second start of the first scheduler would raise
    assert again.stop_probes(1.0)

    assert len(built) == 2
    assert again.engine is rt.engine
    assert again.recorder is rt.recorder
    assert again.probes is built[1]


def test_client_sends_nothing_once_stopping(prometheus: EmptyPrometheus) -> None:
    """With the stop event set, every query fails at once without reaching Prometheus."""
    stop = threading.Event()
    client = ClientPool(PrometheusConfig(url=prometheus.url, retries=1), stop=stop)
    client.query("up", 1.0)
    sent = prometheus.requests
    stop.set()

    for call in (lambda: client.query("up", 1.0),
                 lambda: client.query_range("up", 1.0, 2.0, 1.0),
                 lambda: client.raw_samples("up", 1.0, 2.0)):
        with pytest.raises(QueryError, match="shutting down"):
            call()
    assert prometheus.requests == sent
    client.close()


def test_recorder_stores_events_and_tracks_last_seen(store: EventStore) -> None:
    """A probe result becomes one stored event and moves the SLO's last-seen time."""
    slo = probe_slo()
    assert isinstance(slo.sli, ProbeSLI)
    recorder = ProbeRecorder(store, {slo.key: slo}, ProbeMetrics(), lambda reason: None)
    recorder(slo.key, slo.sli, OK, 1000.0)
    recorder(slo.key, slo.sli, ProbeResult(success=False, duration=0.01, reason="timeout"),
             1001.0)

    counts = store.sum(slo.key, 0.0, 2000.0)
    assert (counts.good, counts.total) == (1.0, 2.0)
    assert recorder.last_seen(slo.key) == 1001.0


def test_recorder_adopts_only_newer_times_of_its_own_slos(store: EventStore) -> None:
    """Carried-over probe times replace older ones of known SLOs and ignore unknown SLOs."""
    slo = probe_slo()
    recorder = ProbeRecorder(store, {slo.key: slo}, ProbeMetrics(), lambda reason: None,
                             last_seen={slo.key: 50.0, "web/gone": 10.0})
    recorder.adopt_last_seen({slo.key: 40.0, "web/other": 99.0})
    assert recorder.last_seen_all() == {slo.key: 50.0}
    recorder.adopt_last_seen({slo.key: 60.0})
    assert recorder.last_seen(slo.key) == 60.0


def test_recorder_survives_a_store_failure(store: EventStore) -> None:
    """A store that cannot write counts a store error, logs it and shows it as the SLO's
    fault; the probe loop goes on."""
    slo = probe_slo()
    assert isinstance(slo.sli, ProbeSLI)
    errors: list[str] = []
    recorder = ProbeRecorder(store, {slo.key: slo}, ProbeMetrics(), errors.append)
    store.close()
    with capture_logs() as logs:
        recorder(slo.key, slo.sli, OK, 1000.0)

    assert errors == ["store"]
    assert logs[0]["event"] == "store_failed"
    assert (recorder.fault(slo.key) or "").startswith("store write failed")
    assert recorder.last_seen(slo.key) is None


def test_prometheus_settings_are_checked_only_when_used() -> None:
    """Settings no client accepts raise ValueError, unless no SLO reads Prometheus."""
    check_prometheus_settings(config(probe_slo(), url="ftp://nowhere"))
    with pytest.raises(ValueError, match="absolute http"):
        check_prometheus_settings(config(ratio_slo(), url="ftp://nowhere"))
