"""Wiring of the long-running daemon: store, engine, probes, web server, scheduler.

APScheduler runs the evaluation job with ``coalesce=True`` and
``max_instances=1``: a cycle that overruns is never run twice at once, and
missed runs collapse into one. ``misfire_grace_time`` is one evaluation
interval: a run more than one interval late is skipped, since the next one
covers the same span anyway (each cycle reads everything since the cursor).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, disable_created_metrics

from slo_exporter import api, statuspage
from slo_exporter.engine import Engine
from slo_exporter.exposition import SelfMetrics, SnapshotCollector
from slo_exporter.model import SLO, Config, ProbeSLI, PrometheusConfig
from slo_exporter.probes import ProbeMetrics, ProbeResult, ProbeScheduler, is_good
from slo_exporter.prometheus import PrometheusClient, QueryResult, Series
from slo_exporter.store import EventStore
from slo_exporter.web import WebServer, html_page, json_page

log = structlog.get_logger("slo_exporter.daemon")

#: seconds between refreshes of probe SLOs (store reads only, about 30 us each)
PROBE_REFRESH = 1.0


@dataclass(frozen=True)
class Options:
    listen_address: str
    storage_path: str


class ThreadLocalClient:
    """One ``PrometheusClient`` (and HTTP session) per evaluation worker thread.

    ``requests.Session`` is not documented as thread-safe, and SLOs are
    evaluated on a small pool.
    """

    def __init__(self, cfg: PrometheusConfig) -> None:
        self._cfg = cfg
        self._local = threading.local()

    def _client(self) -> PrometheusClient:
        client: PrometheusClient | None = getattr(self._local, "client", None)
        if client is None:
            client = PrometheusClient(self._cfg)
            self._local.client = client
        return client

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        return self._client().query(promql, at, stats=stats)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        return self._client().query_range(promql, start, end, step, stats=stats)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        return self._client().raw_samples(selector, start, end)


class ProbeRecorder:
    """Turns probe results into stored events and probe metrics.

    The scheduler logs failures when a target's outcome changes.
    """

    def __init__(self, store: EventStore, slos: dict[str, SLO], metrics: ProbeMetrics,
                 on_error: Callable[[str], None]) -> None:
        self._store = store
        self._on_error = on_error
        self._slos = slos
        self._metrics = metrics
        self._last_seen: dict[str, float] = {}

    def last_seen(self, key: str) -> float | None:
        return self._last_seen.get(key)

    def __call__(self, key: str, sli: ProbeSLI, result: ProbeResult, at: float) -> None:
        slo = self._slos[key]
        good = is_good(sli, result)
        try:
            self._store.record(key, at, good)
        except Exception:  # a full disk must not kill the probe loop
            self._on_error("store")
            log.exception("store_failed", service=slo.service, slo=slo.name)
        self._metrics.observe(slo, result)
        self._last_seen[key] = at


class Daemon:
    """Owns every long-lived part; ``run()`` blocks until SIGTERM/SIGINT."""

    def __init__(self, config: Config, options: Options) -> None:
        self.config = config
        self.listen_address = options.listen_address
        # _created samples double the series count of every counter and no
        # dashboard or rule here reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.self_metrics = SelfMetrics(self.registry)
        self.store = EventStore(options.storage_path, config.storage.resolution)
        probe_slos = {s.key: s for s in config.slos if isinstance(s.sli, ProbeSLI)}
        self.probe_metrics = ProbeMetrics()
        self.registry.register(self.probe_metrics)
        self.recorder = ProbeRecorder(self.store, probe_slos, self.probe_metrics,
                                      self.self_metrics.query_error)
        needs_prometheus = any(not isinstance(s.sli, ProbeSLI) for s in config.slos)
        if needs_prometheus:
            PrometheusClient(config.prometheus).close()  # bad settings fail here, at start-up
        self.client = ThreadLocalClient(config.prometheus) if needs_prometheus else None
        self.engine = Engine(
            config, self.store, self.client,
            on_error=self.self_metrics.query_error,
            probe_last_seen=self.recorder.last_seen,
        )
        self.registry.register(SnapshotCollector(lambda: self.engine.snapshot))
        self.probes = ProbeScheduler(
            [(k, s.sli) for k, s in probe_slos.items() if isinstance(s.sli, ProbeSLI)],
            self.recorder,
        )
        self.probe_metrics.watch(self.probes.stats)
        self.web = WebServer(
            options.listen_address, self.registry, lambda: self.engine.snapshot,
            pages={
                "/": html_page(self._status_page),
                "/api/v1/slos": json_page(self._api),
            },
        )
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._stop = threading.Event()

    def _history(self) -> dict[str, list[tuple[float, float]]]:
        return {s.key: self.engine.budget_history(s) for s in self.config.slos}

    def _status_page(self) -> str:
        return statuspage.render_status_page(self.engine.snapshot, self._history())

    def _api(self) -> Any:
        return api.render_slos(self.engine.snapshot, self._history())

    def evaluate(self) -> None:
        started = time.monotonic()
        snapshot = self.engine.evaluate()
        elapsed = time.monotonic() - started
        self.self_metrics.evaluation_duration.observe(elapsed)
        self.self_metrics.evaluations.inc()
        down = [s.slo.key for s in snapshot.slos if not s.up]
        if not down:
            self.self_metrics.last_success.set(time.time())
        log.info("evaluation_done", seconds=round(elapsed, 3), slos=len(snapshot.slos),
                 down=len(down))

    def run(self) -> int:
        interval = self.config.evaluation_interval
        self.web.start()
        log.info("listening", address=self.listen_address, port=self.web.port)
        self.probes.start()
        self.scheduler.add_job(
            self.evaluate, "interval", seconds=interval, id="evaluate",
            coalesce=True, max_instances=1, misfire_grace_time=max(1, int(interval)),
            next_run_time=datetime.now(UTC),
        )
        if self.engine.has_probes:
            self.scheduler.add_job(
                self.engine.refresh_probes, "interval", seconds=PROBE_REFRESH,
                id="refresh_probes", coalesce=True, max_instances=1,
                misfire_grace_time=1,
            )
        self.scheduler.start()
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.shutdown()
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        self._stop.set()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.probes.stop()
        self.web.stop()
        self.store.close()
        log.info("stopped")
