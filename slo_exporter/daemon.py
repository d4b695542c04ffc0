"""Wiring of the long-running daemon: store, engine, probes, web server, scheduler.

APScheduler runs the evaluation job with ``coalesce=True`` and
``max_instances=1``: a cycle that overruns is never run twice at once, and
missed runs collapse into one. ``misfire_grace_time`` is one evaluation
interval: a run more than one interval late is skipped, since the next one
covers the same span anyway (each cycle reads everything since the cursor).
A second job recomputes probe SLOs from the store every second.

SIGTERM/SIGINT stop the daemon; SIGHUP reloads the configuration file
(``Daemon.reload``).
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
from slo_exporter.config import load_config
from slo_exporter.engine import Engine
from slo_exporter.errors import ConfigError
from slo_exporter.exposition import SelfMetrics, SnapshotCollector
from slo_exporter.model import SLO, Config, ProbeSLI, PrometheusConfig
from slo_exporter.probes import ProbeMetrics, ProbeResult, ProbeScheduler, is_good
from slo_exporter.prometheus import PrometheusClient, QueryResult, Series
from slo_exporter.store import EventStore, SQLiteStore
from slo_exporter.web import WebServer, html_page, json_page

log = structlog.get_logger("slo_exporter.daemon")

#: seconds between refreshes of probe SLOs (store reads only, about 30 us each)
PROBE_REFRESH = 1.0


@dataclass(frozen=True)
class Options:
    listen_address: str
    storage_path: str
    config_file: str = ""  # re-read on SIGHUP


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
                 on_error: Callable[[str], None],
                 last_seen: dict[str, float] | None = None) -> None:
        self._store = store
        self._on_error = on_error
        self._slos = slos
        self._metrics = metrics
        # carried over a reload, so kept probes do not look late meanwhile
        self._last_seen = {k: v for k, v in (last_seen or {}).items() if k in slos}

    def last_seen(self, key: str) -> float | None:
        return self._last_seen.get(key)

    def last_seen_all(self) -> dict[str, float]:
        return dict(self._last_seen)

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


@dataclass(frozen=True)
class Runtime:
    """Everything built from one configuration; a reload builds a new one."""

    config: Config
    engine: Engine
    recorder: ProbeRecorder
    probes: ProbeScheduler


class ReloadRefused(Exception):
    """The new configuration is valid but cannot be applied without a restart."""


class Daemon:
    """Owns every long-lived part; ``run()`` blocks until SIGTERM/SIGINT.

    SIGHUP re-reads the configuration file. A file with problems is refused
    (logged with every problem, ``slo_exporter_config_last_reload_successful``
    0) and the running configuration stays. A good one replaces the engine
    and probes while the store, web server and scheduler keep running; stored
    events of unchanged SLOs are kept.
    """

    def __init__(self, config: Config, options: Options) -> None:
        self.listen_address = options.listen_address
        self.config_file = options.config_file
        # _created samples double the series count of every counter and no
        # dashboard or rule here reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.self_metrics = SelfMetrics(self.registry)
        self.store: EventStore = SQLiteStore(options.storage_path, config.storage.resolution)
        self.probe_metrics = ProbeMetrics()
        self.registry.register(self.probe_metrics)
        self._cycle_lock = threading.Lock()  # a cycle and a reload never overlap
        self._reload_lock = threading.Lock()
        if _needs_prometheus(config):
            PrometheusClient(config.prometheus).close()  # bad settings fail here, at start-up
        self.rt = self._build(config, last_seen={})
        self.registry.register(SnapshotCollector(lambda: self.rt.engine.snapshot))
        self.web = WebServer(
            options.listen_address, self.registry, lambda: self.rt.engine.snapshot,
            pages={
                "/": html_page(self._status_page),
                "/api/v1/slos": json_page(self._api),
            },
        )
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._stop = threading.Event()

    @property
    def config(self) -> Config:
        return self.rt.config

    def _build(self, config: Config, last_seen: dict[str, float]) -> Runtime:
        probe_slos = {s.key: s for s in config.slos if isinstance(s.sli, ProbeSLI)}
        recorder = ProbeRecorder(self.store, probe_slos, self.probe_metrics,
                                 self.self_metrics.query_error, last_seen)
        client = ThreadLocalClient(config.prometheus) if _needs_prometheus(config) else None
        engine = Engine(
            config, self.store, client,
            on_error=self.self_metrics.query_error,
            probe_last_seen=recorder.last_seen,
        )
        probes = ProbeScheduler(
            [(k, s.sli) for k, s in probe_slos.items() if isinstance(s.sli, ProbeSLI)],
            recorder,
        )
        return Runtime(config, engine, recorder, probes)

    def _history(self) -> dict[str, list[tuple[float, float]]]:
        engine = self.rt.engine
        return {s.key: engine.budget_history(s) for s in self.rt.config.slos}

    def _status_page(self) -> str:
        return statuspage.render_status_page(self.rt.engine.snapshot, self._history())

    def _api(self) -> Any:
        return api.render_slos(self.rt.engine.snapshot, self._history())

    def evaluate(self) -> None:
        with self._cycle_lock:
            started = time.monotonic()
            snapshot = self.rt.engine.evaluate()
            elapsed = time.monotonic() - started
        self.self_metrics.evaluation_duration.observe(elapsed)
        self.self_metrics.evaluations.inc()
        down = [s.slo.key for s in snapshot.slos if not s.up]
        if not down:
            self.self_metrics.last_success.set(time.time())
        log.info("evaluation_done", seconds=round(elapsed, 3), slos=len(snapshot.slos),
                 down=len(down))

    def refresh_probes(self) -> None:
        self.rt.engine.refresh_probes()

    def reload(self) -> bool:
        """Re-read the configuration file and apply it; False if refused."""
        with self._reload_lock:
            try:
                config = load_config(self.config_file)
                if config.storage.resolution != self.rt.config.storage.resolution:
                    raise ReloadRefused("storage.resolution can only change with a restart")
            except ConfigError as exc:
                return self._reload_failed([str(p) for p in exc.problems])
            except ReloadRefused as exc:
                return self._reload_failed([str(exc)])
            if _needs_prometheus(config):
                try:  # the one part of building that can fail: check it first
                    PrometheusClient(config.prometheus).close()
                except ValueError as exc:
                    return self._reload_failed([str(exc)])
            old = self.rt
            # Old probes stop before the new engine resets the events of
            # changed SLOs, so no old-definition event lands after the reset.
            old.probes.stop()
            with self._cycle_lock:
                new = self._build(config, last_seen=old.recorder.last_seen_all())
                self.probe_metrics.retain(config.slos)
                self.probe_metrics.watch(new.probes.stats)
                new.probes.start()  # before a possibly long backfill of new SLOs
                # The first cycle runs before the swap, so scrapes never see a
                # snapshot without values.
                new.engine.evaluate()
                self.rt = new
            if config.evaluation_interval != old.config.evaluation_interval:
                self.scheduler.reschedule_job(
                    "evaluate", trigger="interval", seconds=config.evaluation_interval)
            self.self_metrics.reload_success.set(1)
            self.self_metrics.reload_timestamp.set(time.time())
            log.info("config_reloaded", file=self.config_file, services=len(config.services),
                     slos=len(config.slos))
            return True

    def _reload_failed(self, problems: list[str]) -> bool:
        self.self_metrics.reload_success.set(0)
        log.error("config_reload_failed", file=self.config_file, problems=problems)
        return False

    def run(self) -> int:
        interval = self.config.evaluation_interval
        self.web.start()
        log.info("listening", address=self.listen_address, port=self.web.port)
        self.probe_metrics.watch(self.rt.probes.stats)
        self.rt.probes.start()
        self.scheduler.add_job(
            self.evaluate, "interval", seconds=interval, id="evaluate",
            coalesce=True, max_instances=1, misfire_grace_time=max(1, int(interval)),
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(
            self.refresh_probes, "interval", seconds=PROBE_REFRESH,
            id="refresh_probes", coalesce=True, max_instances=1, misfire_grace_time=1,
        )
        self.scheduler.start()
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
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
        if signum == signal.SIGHUP:
            log.info("reload_requested", signal="SIGHUP")
            threading.Thread(target=self.reload, name="reload", daemon=True).start()
            return
        log.info("shutdown_requested", signal=signal.Signals(signum).name)
        self._stop.set()

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=True)
        self.rt.probes.stop()
        self.web.stop()
        self.store.close()
        log.info("stopped")


def _needs_prometheus(config: Config) -> bool:
    return any(not isinstance(s.sli, ProbeSLI) for s in config.slos)
