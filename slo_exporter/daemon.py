"""Process lifecycle: start, signals, the scheduler, reloads and a bounded stop.

Owns the parts that live as long as the process (the web server, the
self-metrics, the store handed in, the scheduler) and which ``Runtime``
(engine, probes, client of one configuration) is current.

APScheduler runs the evaluation job with ``coalesce=True`` and
``max_instances=1``: a cycle that overruns is never run twice at once, and
missed runs collapse into one. ``misfire_grace_time`` is one evaluation
interval: a run more than one interval late is skipped, since the next one
covers the same span anyway (each cycle reads everything since the cursor).
Cycles fire on the epoch grid (``grid.first_fire``: multiples of the
interval, plus ``query_delay``), not at multiples of the interval since the
process started: one cycle right at start, then every grid instant, so two
replicas started at different times evaluate the same instants.
A second job (``refresh_probes``) recomputes probe SLOs from the store every
second, a third (``catch_up``) is the fast path of Prometheus SLOs every
``FAST_PATH_EVERY`` seconds (``Engine.catch_up``); it never runs while a reload
builds and evaluates the next runtime, whose engine reads the same store.

With a shared store (``--storage.url``) a replica may start as a standby:
its engine follows what the writer stores and it probes nothing. Each
evaluation it tries to take the writer role (``_standby_step``); once it
has it, it builds a writing runtime like a reload does (definitions, a
first cycle reading every SLO from its stored cursor, probes) and swaps it
in, so it takes over within one evaluation interval plus that cycle. A
writer that finds, after a lost connection, that another replica took the
role (``role_lost``) stops with exit code 1, to be started again as a
standby. After each cycle the writer publishes each SLO's source state in
the store (``_publish_sources``), which standbys export as their
``slo_sli_up`` and other shards' composites read.

SIGHUP reloads the configuration file (``Daemon.reload``). SIGTERM and
SIGINT stop the daemon (``Daemon.request_stop``), and stopping always wins:
the stop event tells every cycle to give up, nothing waits for a cycle
longer than ``Timings.cycle_grace``, the store is closed under its own lock
(a transaction in flight commits or rolls back first), and a watchdog ends
the process after ``Timings.force_after`` seconds whatever still runs.

Must not: build engines, clients or probe schedulers itself (``runtime.py``
does, from the collaborators given here) or parse configuration.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, NoReturn

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics

from slo_exporter import api, catalog, grid, statuspage
from slo_exporter.config import ConfigWarning, load_config
from slo_exporter.errors import ConfigError
from slo_exporter.exposition import SelfMetrics, SnapshotCollector
from slo_exporter.model import Config
from slo_exporter.notify import Notifier, NotifierSettings
from slo_exporter.probes import ProbeMetrics, ProbeScheduler
from slo_exporter.redact import remember_config, scrub
from slo_exporter.runtime import (
    ClientFactory,
    Collaborators,
    ProbeSchedulerFactory,
    Runtime,
    check_prometheus_settings,
    default_client,
)
from slo_exporter.snapshot import Snapshot
from slo_exporter.store import EventStore, SharedStore
from slo_exporter.web import (
    Encoded,
    Query,
    WebServer,
    html_page,
    html_query_page,
    json_page,
    json_query_page,
)

log = structlog.get_logger("slo_exporter.daemon")

#: how often ``wait`` acts on signals noted by the handler
SIGNAL_POLL = 0.1
#: seconds between refreshes of probe SLOs (store reads only, about 30 us each)
PROBE_REFRESH = 1.0
#: seconds between fast-path polls of Prometheus SLOs (each SLO asks only when
#: a series is due a new sample)
FAST_PATH_EVERY = 1.0
#: the cyclic garbage collector's youngest-generation threshold (CPython's is
#: 700): a cycle of thousands of SLOs makes millions of short-lived objects,
#: and each young collection also walks what is still alive
GC_YOUNG_THRESHOLD = 10_000


#: C heaps (glibc malloc arenas) the process may use. glibc's default is 8 per core, and
#: each thread that allocates while another holds an arena gets one of its own that keeps
#: its high-water mark; the cycle's worker pool and the web server's threads allocate
#: under the GIL, one at a time, so two are enough. Measured with the real daemon at
#: 1,000 SLOs (bench/scale.py): steady resident memory 110 -> 98 MiB.
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (glibc malloc.h)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Limit glibc's malloc arenas to ``arenas``; True when the C library took it.

    Left alone when ``MALLOC_ARENA_MAX`` is set (glibc then reads it itself) or the C
    library has no ``mallopt`` (not glibc). Called before the daemon starts threads,
    as arenas already made stay.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, arenas))


def settle_heap() -> None:
    """Collect what start-up or a reload left behind, then freeze the survivors.

    The configuration, the runtime and the store's memory live as long as the
    process (or until the next reload); frozen, the collector's full passes
    skip them, which a full pass over 10,000 SLOs' objects otherwise costs
    about 0.4 s of a cycle or a scrape. Unfreezing first lets a reload's old
    runtime be collected: frozen reference cycles are never freed.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def load_logging_warnings(path: str) -> Config:
    """Load a configuration for a reload; its warnings are logged, never fatal."""
    warnings: list[ConfigWarning] = []
    config = load_config(path, warnings)
    log_config_warnings(warnings)
    return config


def log_config_warnings(warnings: Sequence[ConfigWarning]) -> None:
    """Log each warning of a loaded configuration as ``config_warning``."""
    for warning in warnings:
        log.warning("config_warning", file=warning.file, line=warning.line,
                    path=warning.path, reason=warning.reason)


@dataclass(frozen=True)
class Options:
    listen_address: str
    storage_path: str
    config_file: str = ""  # re-read on SIGHUP
    web_config_file: str = ""  # TLS and basic auth; re-read when it or a file it names changes
    #: direct notification of Alertmanager (``--alertmanager.url``); None: off
    alertmanager: NotifierSettings | None = None


@dataclass(frozen=True)
class Timings:
    """Bounds of a stop, in seconds; Kubernetes sends SIGKILL 30 s after SIGTERM."""

    #: how long probes in flight may finish when probing stops or moves over
    probe_stop: float = 2.0
    #: how long a stop waits for a running evaluation cycle before leaving it behind
    cycle_grace: float = 4.0
    #: after this long the watchdog ends the process, logging ``shutdown_forced``
    force_after: float = 9.0
    #: how long a stop waits for the Alertmanager senders (a post in flight ends within 0.2 s)
    notifier_stop: float = 1.0


class ListenError(Exception):
    """The web server could not listen on the configured address."""


class ReloadRefused(Exception):
    """The new configuration is valid but cannot be applied without a restart."""


class _Stopping(Exception):
    """A stop was requested while a reload was under way."""


class Daemon:
    """Owns every long-lived part; ``run()`` blocks until SIGTERM/SIGINT.

    SIGHUP re-reads the configuration file. A file with problems, or any
    failure while building or starting the new configuration, is refused
    (logged with every problem, ``slo_exporter_config_last_reload_successful``
    0) and the running configuration stays, with its probes. A good one is
    built and evaluated once while the old one keeps serving and probing;
    then probing moves over and the new one is swapped in. The store, web
    server and scheduler keep running; stored events of unchanged SLOs are
    kept.

    Tests construct it with their own collaborators and drive ``start``,
    ``reload``, ``request_stop`` and ``shutdown`` without signals.
    """

    def __init__(
        self,
        config: Config,
        options: Options,
        store: EventStore,
        *,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        logger: Any = None,
        client_factory: ClientFactory = default_client,
        probe_scheduler_factory: ProbeSchedulerFactory = ProbeScheduler,
        load: Callable[[str], Config] = load_logging_warnings,
        timings: Timings = Timings(),
        hard_exit: Callable[[int], NoReturn] = os._exit,
    ) -> None:
        limit_malloc_arenas()  # before any thread of the daemon's allocates
        self.listen_address = options.listen_address
        self.config_file = options.config_file
        self.store = store
        self.timings = timings
        self._load = load
        self._hard_exit = hard_exit
        if registry is None:
            # _created samples double the series count of every counter and no
            # dashboard or rule here reads them.
            disable_created_metrics()  # type: ignore[no-untyped-call]
            registry = CollectorRegistry()
        self.registry = registry
        self.self_metrics = SelfMetrics(self.registry)
        self.probe_metrics = ProbeMetrics()
        self.registry.register(self.probe_metrics)
        self._stop = threading.Event()
        self._signals: deque[int] = deque()  # noted by the handler, acted on by wait()
        self._finished = threading.Event()  # the orderly part of a stop is done
        self._stop_lock = threading.Lock()
        self._cycle_lock = threading.Lock()  # a cycle and a reload's build never overlap
        self._fast_lock = threading.Lock()  # nor the fast path and a reload's build
        self._reload_lock = threading.Lock()
        self._swap_lock = threading.Lock()  # a swap of runtimes and a stop never overlap
        self._notify_lock = threading.Lock()  # snapshots reach the notifier in order
        self._started = False
        self._heap_settled = False
        self._shut_down = False
        #: a standby of a shared store: serves what another replica writes
        self.standby = store.readonly and isinstance(store, SharedStore)
        self._writer = Gauge(
            "slo_exporter_store_writer", "1 while this replica writes the event store, "
            "0 while it is a standby of a shared store", registry=self.registry)
        self._writer.set(0 if self.standby else 1)
        self.exit_code = 0  # what ``wait`` returns after an orderly stop
        self.deps = Collaborators(
            store=store,
            probe_metrics=self.probe_metrics,
            on_error=self.self_metrics.query_error,
            stop=self._stop,
            clock=clock,
            logger=logger,
            client_factory=client_factory,
            probe_scheduler_factory=probe_scheduler_factory,
        )
        remember_config(config)  # its secrets are masked in every log line and page
        check_prometheus_settings(config)  # bad settings fail here, at start-up
        self.rt = Runtime.build(config, self.deps)
        snapshot_metrics = SnapshotCollector(lambda: self.rt.engine.snapshot)
        self.registry.register(snapshot_metrics)
        try:
            self.web = WebServer(
                options.listen_address, self.registry, lambda: self.rt.engine.snapshot,
                pages={
                    "/": html_query_page(self._status_page),
                    "/catalog": html_page(self._catalog),
                    "/api/v1/slos": json_query_page(self._api),
                    "/api/v1/services": json_page(self._services),
                },
                web_config_file=options.web_config_file, snapshot_metrics=snapshot_metrics,
            )
        except (OSError, ValueError) as exc:
            self.rt.close()
            raise ListenError(str(exc)) from exc
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.notifier = (
            None if options.alertmanager is None
            else Notifier(options.alertmanager, count=self.self_metrics.notification,
                          clock=clock))

    @property
    def config(self) -> Config:
        return self.rt.config

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # ------------------------------------------------------------ pages

    def _status_page(self, query: Query) -> str:
        rt = self.rt
        return statuspage.render_status_page(
            rt.engine.snapshot, grafana_url=rt.config.grafana_url, sort=query.get("sort", ""),
            services=rt.config.services, query=query)

    def _catalog(self) -> str:
        rt = self.rt
        return catalog.render_catalog(
            rt.config.services, rt.engine.snapshot, grafana_url=rt.config.grafana_url)

    def _api(self, query: Query) -> Encoded:
        return Encoded(api.encode_slos(self.rt.engine.snapshot, query))

    def _services(self) -> Any:
        rt = self.rt
        return api.render_services(rt.config.services, rt.engine.snapshot)

    # ------------------------------------------------------------ jobs

    def evaluate(self) -> bool:
        """Run one cycle of the current runtime; False when skipped.

        A cycle is skipped while a reload builds the next runtime (it runs
        its own first cycle, and two engines must not read the same source
        into the same store at once) and once a stop was requested.
        """
        if self._stop.is_set():
            return False
        if self.standby and self._standby_step():
            return True
        if isinstance(self.store, SharedStore) and self.store.role_lost:
            # Another replica writes now. Exiting non-zero makes the supervisor
            # start this one again, as a standby with a clean state.
            log.error("writer_role_lost", reason="another replica took the writer role "
                      "while this one was disconnected from the database")
            self.exit_code = 1
            self._writer.set(0)
            self.request_stop("writer role lost")
            return False
        if not self._cycle_lock.acquire(blocking=False):
            return False
        try:
            started = time.monotonic()
            snapshot = self.rt.engine.evaluate()
            elapsed = time.monotonic() - started
        finally:
            self._cycle_lock.release()
        if not self._heap_settled:  # after the first cycle: what lives on is built
            settle_heap()
            self._heap_settled = True
        self._publish_sources(snapshot)
        self.self_metrics.evaluation_duration.observe(elapsed)
        self.self_metrics.evaluations.inc()
        down = [s.slo.key for s in snapshot.slos if not s.up]
        if not down:
            self.self_metrics.last_success.set(time.time())
        log.info("evaluation_done", seconds=round(elapsed, 3), slos=len(snapshot.slos),
                 down=len(down))
        self._notify()
        return True

    def _standby_step(self) -> bool:
        """Try to take the writer role; True when this replica took over (its first
        writing cycle ran). Otherwise the store moves on to what the writer committed since."""
        store = self.store
        assert isinstance(store, SharedStore)
        # One takeover, though the scheduled and a direct evaluation may both get here.
        with self._reload_lock:
            if self._stop.is_set() or not self.standby:
                return False
            if not store.try_promote():
                store.refresh()
                return False
            log.info("writer_role_taken")
            self.standby = False  # from here the new runtime probes
            try:
                self._apply(self.rt.config, self.rt)
            except Exception as exc:  # the role stays; the next evaluation tries again
                self.standby = True
                log.error("takeover_failed", error=scrub(f"{type(exc).__name__}: {exc}"))
                return False
        self._writer.set(1)
        log.info("takeover_done", slos=len(self.rt.config.slos))
        self._publish_sources(self.rt.engine.snapshot)
        return True

    def _publish_sources(self, snapshot: Snapshot) -> None:
        """The writer of a shared store tells standbys whether each SLO's source answered
        (a grouped SLO's: every group's read), so theirs export the same ``slo_sli_up``,
        and which instant it evaluated (other shards' composites describe no later one).
        A failure is logged; standbys then show the last state published."""
        if self.standby or not isinstance(self.store, SharedStore):
            return
        states: dict[str, tuple[bool, str | None]] = {}
        instant = 0.0  # the cycle's grid instant: the newest a Prometheus SLO describes
        for status in snapshot.slos:
            if not status.slo.composite and status.evaluated_at is not None:
                key = status.slo.id.definition.key
                if states.get(key, (True, None))[0]:
                    states[key] = (status.up, status.error)
                if status.slo.remeasurable:
                    instant = max(instant, status.evaluated_at)
        try:
            self.store.publish_sources(states, instant or snapshot.taken_at)
        except Exception as exc:  # a StoreError, or the role lost: the next cycle says so
            log.warning("source_publish_failed", error=scrub(str(exc)))

    def refresh_probes(self) -> None:
        self.rt.engine.refresh_probes()
        self._notify()

    def _notify(self) -> None:
        """Hand the current snapshot to direct notification; it only enqueues."""
        if self.notifier is None or self._stop.is_set():
            return
        # Read and handed over under one lock: a cycle and a probe refresh
        # finishing together must not hand over an older snapshot last.
        with self._notify_lock:
            self.notifier.observe(self.rt.engine.snapshot)

    def catch_up(self) -> None:
        """The fast path of the current runtime; skipped while a reload builds the next."""
        if self._stop.is_set() or not self._fast_lock.acquire(blocking=False):
            return
        try:
            self.rt.engine.catch_up()
        finally:
            self._fast_lock.release()

    # ------------------------------------------------------------ reload

    def reload(self) -> bool:
        """Re-read the configuration file and apply it; False if refused or it failed."""
        with self._reload_lock:
            if self._stop.is_set():
                return False
            try:
                config = self._load(self.config_file)
                remember_config(config)
                if config.storage.resolution != self.rt.config.storage.resolution:
                    raise ReloadRefused("storage.resolution can only change with a restart")
                check_prometheus_settings(config)
            except ConfigError as exc:
                return self._reload_failed([str(p) for p in exc.problems])
            except Exception as exc:  # ReloadRefused, bad client settings, anything else
                return self._reload_failed([str(exc)])
            old = self.rt
            try:
                self._apply(config, old)
            except Exception as exc:  # any failure leaves the old config running
                if isinstance(exc, _Stopping) or self._stop.is_set():
                    # The stop closed what the new configuration was using;
                    # that says nothing about the file.
                    log.info("config_reload_abandoned", file=self.config_file,
                             reason="shutdown requested")
                    return False
                log.debug("config_reload_traceback", traceback=scrub(traceback.format_exc()))
                return self._reload_failed([f"{type(exc).__name__}: {exc}"])
            self.self_metrics.reload_success.set(1)
            self.self_metrics.reload_timestamp.set(time.time())
            log.info("config_reloaded", file=self.config_file, services=len(config.services),
                     slos=len(config.slos))
            return True

    def _apply(self, config: Config, old: Runtime) -> None:
        """Build and evaluate ``config`` while ``old`` serves, then swap; raise on failure."""
        self._acquire_cycle()
        self._fast_lock.acquire()  # a running fast poll ends within its query budget
        try:
            try:
                new = Runtime.build(config, self.deps, last_seen=old.recorder.last_seen_all())
            except BaseException:
                self._reclaim(old)
                raise
            try:
                # The first cycle (maybe a long backfill of new SLOs) runs
                # before the swap, so scrapes never see a snapshot without
                # values; old probes keep probing meanwhile.
                new.engine.evaluate()
                regrid = _grid_of(config) != _grid_of(old.config)
                if regrid:
                    self._reschedule(config)
                try:
                    self._move_probes(old, new)
                except BaseException:
                    if regrid:
                        self._reschedule(old.config)
                    raise
            except BaseException:
                new.close()
                self._reclaim(old)
                raise
        finally:
            self._fast_lock.release()
            self._cycle_lock.release()
        old.close()
        settle_heap()  # the old runtime goes, the new one is kept frozen

    def _reclaim(self, old: Runtime) -> None:
        """After a failed reload, the old configuration's definitions hold in the store again."""
        if self._stop.is_set():
            return  # the store may be closed; the next start checks definitions anyway
        try:
            old.reclaim_store()
        except Exception:
            log.exception("store_reclaim_failed")

    def _acquire_cycle(self) -> None:
        """Wait for a running cycle of the old runtime to end, unless a stop comes first."""
        while not self._cycle_lock.acquire(timeout=0.1):
            if self._stop.is_set():
                raise _Stopping
        if self._stop.is_set():
            self._cycle_lock.release()
            raise _Stopping

    def _reschedule(self, config: Config) -> None:
        if self.scheduler.get_job("evaluate") is not None:
            self.scheduler.reschedule_job("evaluate", trigger=self._grid_trigger(config))

    def _grid_trigger(self, config: Config) -> IntervalTrigger:
        """Fire times on the epoch grid of ``config``'s interval, shifted by its query_delay."""
        interval = config.evaluation_interval
        first = grid.first_fire(self.deps.clock(), interval, config.prometheus.query_delay)
        return _GridTrigger(seconds=interval, start_date=datetime.fromtimestamp(first, UTC),
                            timezone=UTC)

    def _move_probes(self, old: Runtime, new: Runtime) -> None:
        """Hand probing from ``old`` to ``new`` and make ``new`` current.

        The old scheduler stops (its probes in flight finish and are
        recorded) before the new one starts, so a target is never probed by
        both and no result is dropped. If the new scheduler cannot start,
        the old configuration gets a fresh scheduler of its own back.
        """
        with self._swap_lock:
            if self._stop.is_set():
                raise _Stopping
            if not old.stop_probes(self.timings.probe_stop):
                log.warning("probes_still_running", seconds=self.timings.probe_stop)
            new.recorder.adopt_last_seen(old.recorder.last_seen_all())
            try:
                if not self.standby:  # a standby reloading keeps probing nothing
                    new.start_probes()
            except BaseException:
                new.stop_probes(0)
                self._restart_probes(old)
                raise
            new.engine.refresh_probes()  # probe times moved on during the first cycle
            self.rt = new

    def _restart_probes(self, old: Runtime) -> None:
        restarted = old.with_fresh_probes()
        try:
            restarted.start_probes()
        except Exception:
            log.exception("probe_restart_failed")
            return
        self.rt = restarted

    def _reload_failed(self, problems: list[str]) -> bool:
        self.self_metrics.reload_success.set(0)
        log.error("config_reload_failed", file=self.config_file,
                  problems=[scrub(p) for p in problems])
        return False

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Serve HTTP, start the probes and schedule the evaluation jobs."""
        interval = self.config.evaluation_interval
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        self.web.start()
        log.info("listening", address=self.listen_address, port=self.web.port)
        if self.notifier is not None:
            self.notifier.start()
        if not self.standby:  # a standby's probes start when it takes over
            with self._swap_lock:
                self.rt.start_probes()
        # At once (describing the last grid instant), then at every grid
        # instant: the grid trigger finds its next fire time from the grid, not
        # from this first run's time.
        self.scheduler.add_job(
            self.evaluate, self._grid_trigger(self.config), id="evaluate",
            coalesce=True, max_instances=1, misfire_grace_time=max(1, int(interval)),
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(
            self.refresh_probes, "interval", seconds=PROBE_REFRESH,
            id="refresh_probes", coalesce=True, max_instances=1, misfire_grace_time=1,
        )
        self.scheduler.add_job(
            self.catch_up, "interval", seconds=FAST_PATH_EVERY,
            id="catch_up", coalesce=True, max_instances=1, misfire_grace_time=1,
        )
        self.scheduler.start()
        self._started = True

    def run(self, *, keep_handlers: bool = False) -> int:
        """Start, then block until a stop is requested (SIGTERM/SIGINT); returns the exit code.

        ``keep_handlers``: see ``wait``.
        """
        self.start()
        return self.wait(keep_handlers=keep_handlers)

    def wait(self, *, keep_handlers: bool = False) -> int:
        """Block until a stop is requested, then shut down; returns the exit code.

        Signals are handled only when called on the main thread (Python
        delivers them there). With ``keep_handlers`` (the process is about to
        exit) the signals stay ignored after the stop, so one landing between
        ``stopped`` and the exit is not given its default action (SIGHUP would
        end the process with a failure code). Ignored, not handled: Python
        resets its own handlers to the defaults while the interpreter exits.
        """
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            previous = {
                sig: signal.signal(sig, self._on_signal)
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
            }
        try:
            while not self._stop.wait(SIGNAL_POLL):
                self._handle_signals()
        finally:
            # Our handler stays while stopping: a second SIGTERM or Ctrl-C is
            # noted and ignored (the watchdog bounds the stop), never a default
            # action that kills the process halfway or raises KeyboardInterrupt.
            try:
                clean = self.shutdown()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, signal.SIG_IGN if keep_handlers else handler)
        if not clean:
            # A cycle stuck in a query or a probe stuck in a system call runs
            # on a worker thread the interpreter would wait for at exit.
            # Everything of value is closed already.
            log.warning("shutdown_forced", reason="work still running after a bounded stop")
            _flush()
            self._hard_exit(self.exit_code)
        return self.exit_code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs on the main thread between any two bytecodes, possibly while
        # that thread holds a lock the work of a stop needs (the stop lock,
        # a logging handler's). So it only notes the signal; ``wait`` acts on
        # it within SIGNAL_POLL. A burst of signals then cannot deadlock.
        self._signals.append(signum)

    def _handle_signals(self) -> None:
        while self._signals:
            signum = self._signals.popleft()
            if self._stop.is_set():
                continue  # already stopping: neither a reload nor a second stop
            if signum == signal.SIGHUP:
                self.request_reload()
            else:
                self.request_stop(signal.Signals(signum).name)

    def request_reload(self) -> threading.Thread:
        """Reload on a thread of its own (a signal handler must not block)."""
        log.info("reload_requested", signal="SIGHUP")
        thread = threading.Thread(target=self.reload, name="reload", daemon=True)
        thread.start()
        return thread

    def request_stop(self, reason: str = "requested") -> None:
        """Ask ``run`` to stop; from here the process ends within ``Timings.force_after``."""
        with self._stop_lock:
            if self._stop.is_set():
                return
            log.info("shutdown_requested", signal=reason)
            self._stop.set()
        threading.Thread(target=self._watchdog, name="shutdown-watchdog", daemon=True).start()

    def _watchdog(self) -> None:
        if self._finished.wait(self.timings.force_after):
            return
        log.error("shutdown_forced", reason="shutdown did not finish in time",
                  seconds=self.timings.force_after)
        _flush()
        self._hard_exit(1)

    def shutdown(self) -> bool:
        """Stop everything, bounded in time; False when a cycle or a probe was left running.

        Idempotent. The store closes under its own lock, so a transaction in
        flight is committed or rolled back, never cut in half.
        """
        self.request_stop()
        with self._swap_lock:  # a reload swapping now either finished or will see the stop
            if self._shut_down:
                return True
            self._shut_down = True
        if self._started:
            self.scheduler.shutdown(wait=False)
        if self.notifier is not None and not self.notifier.stop(self.timings.notifier_stop):
            log.warning("notifier_still_running", seconds=self.timings.notifier_stop)
        probes_done = self.rt.stop_probes(self.timings.probe_stop)
        if not probes_done:
            log.warning("probes_still_running", seconds=self.timings.probe_stop)
        cycle_done = self._cycle_lock.acquire(timeout=self.timings.cycle_grace)
        if not cycle_done:
            log.warning("evaluation_abandoned", seconds=self.timings.cycle_grace)
        # a fast poll sees the stop between SLOs and in its query
        fast_done = self._fast_lock.acquire(timeout=self.timings.cycle_grace)
        if not self._started:
            # WebServer.stop ends a serving loop; give the bound socket one
            # so that it closes the same way.
            self.web.start()
        self.web.stop()
        try:
            self.store.close()
        except Exception:
            log.exception("store_close_failed")
        if fast_done:
            self._fast_lock.release()
        if cycle_done:
            self.rt.close()
            self._cycle_lock.release()
        log.info("stopped")
        self._finished.set()
        return cycle_done and probes_done


def _grid_of(config: Config) -> tuple[float, float]:
    """What places ``config``'s cycles on the grid: the interval and the query delay."""
    return config.evaluation_interval, config.prometheus.query_delay


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream
            stream.flush()


class _GridTrigger(IntervalTrigger):  # type: ignore[misc]  # APScheduler 3 is untyped
    """An interval trigger whose every fire time is on its grid (``start_date`` plus
    whole intervals), even after a run off the grid such as the first one.

    A one-off first job beside the interval job would do the same, but
    APScheduler removes a one-off job after running it, and a shutdown
    clearing the job store at that moment killed the scheduler thread
    with ``JobLookupError``.
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime | None:
        if previous_fire_time is not None:  # strictly later, so a run never repeats
            now = max(now, previous_fire_time + timedelta(microseconds=1))
        return super().get_next_fire_time(None, now)  # type: ignore[no-any-return]
