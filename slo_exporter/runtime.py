"""Everything one configuration needs: engine, probe recorder, probe scheduler, Prometheus client.

Owns building these parts from collaborators passed in (store, probe
metrics, error counter, stop event, clock, logger, client and probe
scheduler factories), starting and stopping its probe scheduler, and
closing its Prometheus clients. A reload builds a second ``Runtime`` while
the first keeps serving; the daemon swaps them.

Must not: open the store, bind sockets, install signal handlers, schedule
evaluation cycles or decide when a reload happens. Those are process
lifecycle and live in ``daemon.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from slo_exporter import accounting
from slo_exporter.engine import Engine, ErrorCounter
from slo_exporter.errors import QueryError
from slo_exporter.model import SLO, Config, ProbeSLI, PrometheusConfig
from slo_exporter.probes import ProbeMetrics, ProbeResult, ProbeScheduler, is_good
from slo_exporter.probes.scheduler import OnResult
from slo_exporter.prometheus import PrometheusClient, QueryResult, Series
from slo_exporter.store import EventStore

log = structlog.get_logger("slo_exporter.runtime")


class ClosableSource(accounting.Source, Protocol):
    """A Prometheus source the runtime can close when it is replaced."""

    def close(self) -> None: ...


#: builds the Prometheus source of one configuration
ClientFactory = Callable[[PrometheusConfig, threading.Event], ClosableSource]
#: builds (does not start) the probe scheduler of one configuration
ProbeSchedulerFactory = Callable[[Sequence[tuple[str, ProbeSLI]], OnResult], ProbeScheduler]


class ThreadLocalClient:
    """One ``PrometheusClient`` (and HTTP session) per evaluation worker thread.

    ``requests.Session`` is not documented as thread-safe, and SLOs are
    evaluated on a small pool. Once ``stop`` is set, every call fails at
    once, so a backfill of many chunks ends at the next chunk when the
    daemon shuts down.
    """

    def __init__(self, cfg: PrometheusConfig, stop: threading.Event | None = None) -> None:
        self._cfg = cfg
        self._stop = stop or threading.Event()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._clients: list[PrometheusClient] = []

    def _client(self, promql: str) -> PrometheusClient:
        if self._stop.is_set():
            raise QueryError("not sent: slo-exporter is shutting down", query=promql)
        client: PrometheusClient | None = getattr(self._local, "client", None)
        if client is None:
            client = PrometheusClient(self._cfg)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        return self._client(promql).query(promql, at, stats=stats)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        return self._client(promql).query_range(promql, start, end, step, stats=stats)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        return self._client(selector).raw_samples(selector, start, end)

    def close(self) -> None:
        """Close every per-thread client; call only when no cycle uses this source."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


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
        self._lock = threading.Lock()
        # carried over a reload, so kept probes do not look late meanwhile
        self._last_seen = {k: v for k, v in (last_seen or {}).items() if k in slos}

    def last_seen(self, key: str) -> float | None:
        return self._last_seen.get(key)

    def last_seen_all(self) -> dict[str, float]:
        with self._lock:
            return dict(self._last_seen)

    def adopt_last_seen(self, seen: dict[str, float]) -> None:
        """Take newer probe times of this recorder's SLOs, from the runtime it replaces."""
        with self._lock:
            for key, at in seen.items():
                if key in self._slos and at > self._last_seen.get(key, float("-inf")):
                    self._last_seen[key] = at

    def __call__(self, key: str, sli: ProbeSLI, result: ProbeResult, at: float) -> None:
        slo = self._slos[key]
        good = is_good(sli, result)
        try:
            self._store.record(key, at, good)
        except Exception:  # a full disk must not kill the probe loop
            self._on_error("store")
            log.exception("store_failed", service=slo.service, slo=slo.name)
        self._metrics.observe(slo, result)
        with self._lock:
            self._last_seen[key] = at


@dataclass(frozen=True)
class Collaborators:
    """What every runtime shares with the daemon; tests pass their own."""

    store: EventStore
    probe_metrics: ProbeMetrics
    on_error: ErrorCounter
    #: set when the daemon stops; every long wait of a cycle checks it
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], float] = time.time
    logger: Any = None
    client_factory: ClientFactory = ThreadLocalClient
    probe_scheduler_factory: ProbeSchedulerFactory = ProbeScheduler


def needs_prometheus(config: Config) -> bool:
    """Whether any SLO of ``config`` reads Prometheus."""
    return any(not isinstance(s.sli, ProbeSLI) for s in config.slos)


def check_prometheus_settings(config: Config) -> None:
    """Raise ``ValueError`` for Prometheus settings no client can be built with."""
    if needs_prometheus(config):
        PrometheusClient(config.prometheus).close()


class Runtime:
    """The engine, probes and client of one configuration.

    Built with ``build``; the probe scheduler starts only on
    ``start_probes`` so the daemon decides when probing moves over from the
    runtime being replaced.
    """

    def __init__(self, config: Config, *, engine: Engine, recorder: ProbeRecorder,
                 probes: ProbeScheduler, client: ClosableSource | None,
                 deps: Collaborators) -> None:
        self.config = config
        self.engine = engine
        self.recorder = recorder
        self.probes = probes
        self._client = client
        self._deps = deps

    @classmethod
    def build(cls, config: Config, deps: Collaborators,
              last_seen: dict[str, float] | None = None) -> Runtime:
        """Build every part of ``config``; on any failure nothing is left open."""
        probe_slos = {s.key: s for s in config.slos if isinstance(s.sli, ProbeSLI)}
        recorder = ProbeRecorder(deps.store, probe_slos, deps.probe_metrics, deps.on_error,
                                 last_seen)
        client = (deps.client_factory(config.prometheus, deps.stop)
                  if needs_prometheus(config) else None)
        try:
            engine = Engine(
                config, deps.store, client,
                clock=deps.clock,
                on_error=deps.on_error,
                probe_last_seen=recorder.last_seen,
                logger=deps.logger,
            )
            probes = cls._scheduler(probe_slos, recorder, deps)
        except BaseException:
            if client is not None:
                client.close()
            raise
        return cls(config, engine=engine, recorder=recorder, probes=probes, client=client,
                   deps=deps)

    @staticmethod
    def _scheduler(probe_slos: dict[str, SLO], recorder: ProbeRecorder,
                   deps: Collaborators) -> ProbeScheduler:
        slis = [(k, s.sli) for k, s in probe_slos.items() if isinstance(s.sli, ProbeSLI)]
        return deps.probe_scheduler_factory(slis, recorder)

    def with_fresh_probes(self) -> Runtime:
        """The same runtime with a new, unstarted probe scheduler.

        A scheduler starts once; a runtime whose probes were stopped for a
        swap that then failed gets its probing back this way.
        """
        probe_slos = {s.key: s for s in self.config.slos if isinstance(s.sli, ProbeSLI)}
        probes = self._scheduler(probe_slos, self.recorder, self._deps)
        return Runtime(self.config, engine=self.engine, recorder=self.recorder, probes=probes,
                       client=self._client, deps=self._deps)

    def reclaim_store(self) -> None:
        """Record this configuration's SLO definitions in the store again.

        Building a runtime records its definitions (resetting SLOs whose
        definition changed) and its first cycle stores events under them. When
        a reload fails after that, the configuration that stays running
        claims its SLOs back, so events of two definitions never mix under
        one; an SLO reset this way is read again from its source.
        """
        for slo in self.config.slos:
            if self._deps.store.ensure_fingerprint(slo.key, slo.source_fingerprint):
                log.info("slo_definition_restored", service=slo.service, slo=slo.name)

    def start_probes(self) -> None:
        self._deps.probe_metrics.retain(self.config.slos)
        self._deps.probe_metrics.watch(self.probes.stats)
        self.probes.start()

    def stop_probes(self, timeout: float) -> bool:
        """Stop probing; True when every running probe finished within ``timeout`` s."""
        return self.probes.stop(timeout)

    def close(self) -> None:
        """Close the Prometheus client; the probes must be stopped (or never started)."""
        if self._client is not None:
            self._client.close()
