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
from slo_exporter.ingest import stored_fingerprint
from slo_exporter.model import SLO, Config, ProbeSLI, PrometheusConfig
from slo_exporter.probes import ProbeMetrics, ProbeScheduler
from slo_exporter.probes.scheduler import OnResult
from slo_exporter.prometheus import ClientPool, PrometheusClient
from slo_exporter.recorder import ProbeRecorder
from slo_exporter.store import EventStore

log = structlog.get_logger("slo_exporter.runtime")


class ClosableSource(accounting.Source, Protocol):
    """A Prometheus source the runtime can close when it is replaced."""

    def close(self) -> None: ...


#: builds the Prometheus source of one configuration: settings, the stop
#: event, and the most time one query may take with all its retries
ClientFactory = Callable[[PrometheusConfig, threading.Event, float], ClosableSource]
#: all attempts of one query fit in this share of the evaluation interval
QUERY_BUDGET_SHARE = 0.5
#: builds (does not start) the probe scheduler of one configuration
ProbeSchedulerFactory = Callable[[Sequence[tuple[str, ProbeSLI]], OnResult], ProbeScheduler]


def default_client(cfg: PrometheusConfig, stop: threading.Event,
                   max_total_time: float | None = None) -> ClientPool:
    """Pooled Prometheus clients whose queries stop when ``stop`` is set."""
    return ClientPool(cfg, stop=stop, max_total_time=max_total_time)


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
    client_factory: ClientFactory = default_client
    probe_scheduler_factory: ProbeSchedulerFactory = ProbeScheduler


def needs_prometheus(config: Config) -> bool:
    """Whether any SLO of ``config`` reads Prometheus (probes and composites do not)."""
    return any(s.remeasurable for s in config.slos)


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
        budget = QUERY_BUDGET_SHARE * config.evaluation_interval
        client = (deps.client_factory(config.prometheus, deps.stop, budget)
                  if needs_prometheus(config) else None)
        try:
            engine = Engine(
                config, deps.store, client,
                clock=deps.clock,
                on_error=deps.on_error,
                probe_last_seen=recorder.last_seen,
                probe_fault=recorder.fault,
                stop=deps.stop,
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
        # A grouped definition's groups first, as at the start (``adopt_definitions``).
        groups = [st.slo for st in self.engine.snapshot.slos if st.slo.group]
        for slo in (*groups, *self.config.slos):
            if self._deps.store.ensure_fingerprint(slo.key, stored_fingerprint(slo),
                                                   keep_events=not slo.remeasurable):
                log.info("slo_definition_restored", **slo.id.log_fields)

    def start_probes(self) -> None:
        self._deps.probe_metrics.retain(self.config.slos)
        self._deps.probe_metrics.watch(self.probes.stats)
        self.probes.start()

    def stop_probes(self, timeout: float) -> bool:
        """Stop probing; True when every running probe finished within ``timeout`` s."""
        return self.probes.stop(timeout)

    def close(self) -> None:
        """Close the engine's workers and the Prometheus client; the probes must be
        stopped (or never started)."""
        self.engine.close()
        if self._client is not None:
            self._client.close()
