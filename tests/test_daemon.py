"""The daemon's lifecycle driven in-process: start, reload, stop, without signals or a process.

Prometheus is a small HTTP server on 127.0.0.1 whose answers can be held
back; probes run through a counting runner function handed to real
``ProbeScheduler`` instances.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
import requests
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from slo_exporter.config import load_config
from slo_exporter.daemon import (
    GC_YOUNG_THRESHOLD,
    Daemon,
    ListenError,
    Options,
    Timings,
    load_logging_warnings,
    settle_heap,
)
from slo_exporter.errors import ConfigError, ConfigProblem, StoreError
from slo_exporter.model import (
    SLO,
    Config,
    HTTPProbe,
    ProbeSLI,
    PrometheusConfig,
    RatioSLI,
    RollingPeriod,
    Selector,
    Service,
    StorageConfig,
)
from slo_exporter.probes import ProbeResult, ProbeScheduler
from slo_exporter.probes.scheduler import OnResult
from slo_exporter.prometheus import ClientPool
from slo_exporter.runtime import ClientFactory, default_client
from slo_exporter.store import EventStore, SQLiteStore
from tests.engine.support import LandingSource, counter_feed
from tests.support.fake_prometheus import EmptyPrometheus

#: bounds of a stop in these tests; a wait for a condition never exceeds WAIT
FAST = Timings(probe_stop=1.0, cycle_grace=0.3, force_after=5.0)
WAIT = 5.0
PROBE_INTERVAL = 0.05


# ------------------------------------------------------------ collaborators


@dataclass
class Prober:
    """Runs probes without sockets; counts runs per target and overlapping runs."""

    runs: Counter[str] = field(default_factory=Counter)
    running: Counter[str] = field(default_factory=Counter)
    overlaps: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, sli: ProbeSLI) -> ProbeResult:
        key = sli.instance
        with self.lock:
            self.running[key] += 1
            if self.running[key] > 1:
                self.overlaps += 1
        time.sleep(0.005)
        with self.lock:
            self.running[key] -= 1
            self.runs[key] += 1
        return ProbeResult(success=True, duration=0.005, reason="ok")

    def factory(self) -> Callable[[Sequence[tuple[str, ProbeSLI]], OnResult], ProbeScheduler]:
        def make(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
            return ProbeScheduler(slis, on_result, runner=self)
        return make


class FlakyStore(SQLiteStore):
    """A real store that fails ``ensure_fingerprint`` while ``fail`` is set."""

    fail = False

    def ensure_fingerprint(self, slo_key: str, fingerprint: str, *, keep_events: bool) -> bool:
        if self.fail:
            raise StoreError(f"event store {self.path}: database or disk is full")
        return super().ensure_fingerprint(slo_key, fingerprint, keep_events=keep_events)


class Exited(Exception):
    """Raised by the test's stand-in for ``os._exit``."""


@dataclass
class ExitRecorder:
    codes: list[int] = field(default_factory=list)
    called: threading.Event = field(default_factory=threading.Event)

    def __call__(self, code: int) -> NoReturn:
        self.codes.append(code)
        self.called.set()
        if threading.current_thread() is threading.main_thread():
            raise Exited(code)
        while True:  # like os._exit, never return to the watchdog (a daemon thread)
            threading.Event().wait(3600)


# ------------------------------------------------------------ configs


def probe_slo(name: str, url: str = "http://127.0.0.1:9/") -> SLO:
    return SLO(service="web", name=name, objective=0.99, period=RollingPeriod(86400.0),
               sli=ProbeSLI(target=HTTPProbe(url=f"{url}{name}"), interval=PROBE_INTERVAL,
                            timeout=0.04))


def ratio_slo(name: str) -> SLO:
    return SLO(service="web", name=name, objective=0.99, period=RollingPeriod(3600.0),
               sli=RatioSLI(total=Selector("http_requests_total"),
                            bad=Selector('http_requests_total{code="500"}')))


def make_config(*slos: SLO, url: str = "http://127.0.0.1:9", interval: float = 1.0,
                resolution: float = 60.0) -> Config:
    return Config(services=(Service("web", tuple(slos)),),
                  prometheus=PrometheusConfig(url=url, timeout=WAIT, retries=1, query_delay=0.0),
                  evaluation_interval=interval, storage=StorageConfig(resolution=resolution))


class Harness:
    """Builds daemons on a temp store and always shuts them down."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.prober = Prober()
        self.exits = ExitRecorder()
        self.configs: list[Config | Exception] = []
        self.daemons: list[Daemon] = []

    def load(self, path: str) -> Config:
        """Hands out the next configuration the test queued, as the config file would."""
        item = self.configs.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def daemon(self, config: Config, *, store: EventStore | None = None,
               timings: Timings = FAST,
               probe_factory: Callable[..., ProbeScheduler] | None = None,
               client_factory: ClientFactory = default_client) -> Daemon:
        store = store or SQLiteStore(self.tmp_path / "data", config.storage.resolution)
        daemon = Daemon(
            config, Options("127.0.0.1:0", str(self.tmp_path / "data"), "slo.yaml"), store,
            registry=CollectorRegistry(), client_factory=client_factory,
            probe_scheduler_factory=probe_factory or self.prober.factory(),
            load=self.load, timings=timings, hard_exit=self.exits,
        )
        self.daemons.append(daemon)
        return daemon

    def close(self) -> None:
        for daemon in self.daemons:
            daemon.shutdown()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


@pytest.fixture
def prometheus() -> Iterator[EmptyPrometheus]:
    server = EmptyPrometheus(hold=WAIT)
    yield server
    server.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def events(store: EventStore, key: str) -> float:
    return store.sum(key, 0.0, time.time() + 3600).total


def metric(daemon: Daemon, name: str, **labels: str) -> float | None:
    return daemon.registry.get_sample_value(name, labels)


def started(daemon: Daemon) -> None:
    """Start and wait for the first cycle, so the snapshot is complete."""
    daemon.start()
    wait_for(lambda: daemon.rt.engine.snapshot.complete, "the first cycle")


def slo_up(daemon: Daemon, name: str) -> bool:
    return any(s.up for s in daemon.rt.engine.snapshot.slos if s.slo.name == name)


# ------------------------------------------------------------ start and stop


def test_start_serves_probes_and_shutdown_closes_everything(harness: Harness) -> None:
    """A started daemon is ready and stores probe events; shutdown closes web and store."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    daemon.start()
    wait_for(lambda: events(daemon.store, "web/home") >= 3, "three probe events")
    url = f"http://127.0.0.1:{daemon.web.port}"
    wait_for(lambda: requests.get(f"{url}/-/ready", timeout=2).status_code == 200, "ready")

    with capture_logs() as logs:
        assert daemon.shutdown() is True

    assert [e["event"] for e in logs] == ["shutdown_requested", "stopped"]
    with pytest.raises(StoreError, match="closed"):
        daemon.store.cursor("web/home")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/-/healthy", timeout=2)
    assert daemon.shutdown() is True  # idempotent
    assert harness.exits.codes == []


def test_shutdown_before_start_releases_port_and_store(harness: Harness, tmp_path: Path) -> None:
    """A daemon built but never started shuts down cleanly and frees its store lock."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    assert daemon.shutdown() is True
    with SQLiteStore(tmp_path / "data", 60.0) as again:
        assert again.slo_keys() == ("web/home",)


def test_wait_returns_0_after_request_stop(harness: Harness) -> None:
    """wait() blocks until request_stop, restores the signal handlers and returns 0."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    before = signal.getsignal(signal.SIGTERM)
    daemon.start()
    threading.Timer(0.1, daemon.request_stop, args=("test",)).start()

    assert daemon.wait() == 0
    assert signal.getsignal(signal.SIGTERM) is before
    assert harness.exits.codes == []


def _send_when_handled(daemon: Daemon, *signals: signal.Signals) -> None:
    """Send each signal to this process once the daemon handles it."""
    def send() -> None:
        deadline = time.monotonic() + WAIT
        while signal.getsignal(signal.SIGTERM) != daemon._on_signal:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        for sig in signals:
            os.kill(os.getpid(), sig)
            time.sleep(0.2)
    threading.Thread(target=send, daemon=True).start()


def test_sigterm_stops_and_sighup_reloads(harness: Harness) -> None:
    """Under wait(), SIGHUP reloads the configuration and SIGTERM stops with exit code 0."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    harness.configs.append(make_config(probe_slo("home"), probe_slo("extra")))
    daemon.start()
    _send_when_handled(daemon, signal.SIGHUP, signal.SIGTERM)

    with capture_logs() as logs:
        assert daemon.wait() == 0

    names = [e["event"] for e in logs]
    assert "reload_requested" in names
    assert "config_reloaded" in names
    assert {"event": "shutdown_requested", "signal": "SIGTERM", "log_level": "info"} in logs
    assert [s.name for s in daemon.config.slos] == ["home", "extra"]


def deaf_client(cfg: PrometheusConfig, stop: threading.Event, budget: float) -> ClientPool:
    """A source that does not hear the stop event, like a call that cannot be interrupted."""
    return ClientPool(cfg)


def test_stop_cancels_a_query_in_flight(harness: Harness, prometheus: EmptyPrometheus) -> None:
    """A cycle waiting on a slow query ends at the stop: a clean exit, nothing forced."""
    prometheus.open.clear()
    daemon = harness.daemon(make_config(ratio_slo("api"), url=prometheus.url))
    daemon.start()
    assert prometheus.arrived.wait(WAIT), "the first cycle never queried"
    threading.Timer(0.05, daemon.request_stop, args=("test",)).start()

    started = time.monotonic()
    with capture_logs() as logs:
        assert daemon.wait() == 0
    took = time.monotonic() - started

    assert harness.exits.codes == []
    assert took < FAST.cycle_grace + 1.0
    names = [e["event"] for e in logs]
    assert "shutdown_forced" not in names
    assert names[-1] == "stopped"


def test_stop_leaves_a_stuck_cycle_behind(harness: Harness, prometheus: EmptyPrometheus) -> None:
    """A cycle stuck in a query delays a stop by at most cycle_grace; the exit is still 0."""
    prometheus.open.clear()
    daemon = harness.daemon(make_config(ratio_slo("api"), url=prometheus.url),
                            client_factory=deaf_client)
    daemon.start()
    assert prometheus.arrived.wait(WAIT), "the first cycle never queried"
    threading.Timer(0.05, daemon.request_stop, args=("test",)).start()

    started = time.monotonic()
    with capture_logs() as logs, pytest.raises(Exited):
        daemon.wait()
    took = time.monotonic() - started

    assert harness.exits.codes == [0]
    assert took < FAST.cycle_grace + 1.0
    names = [e["event"] for e in logs]
    assert names.index("evaluation_abandoned") < names.index("stopped")
    assert names[-1] == "shutdown_forced"
    with pytest.raises(StoreError, match="closed"):
        daemon.store.cursor("web/api")


def test_stop_leaves_a_stuck_probe_behind(harness: Harness) -> None:
    """A probe stuck past probe_stop does not hold the exit either: exit 0, shutdown_forced."""
    stuck = threading.Event()
    release = threading.Event()

    def runner(sli: ProbeSLI) -> ProbeResult:
        stuck.set()
        release.wait(WAIT)
        return ProbeResult(success=True, duration=0.0, reason="ok")

    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        return ProbeScheduler(slis, on_result, runner=runner)

    daemon = harness.daemon(make_config(probe_slo("home")), probe_factory=factory,
                            timings=Timings(probe_stop=0.05, cycle_grace=0.3, force_after=5.0))
    daemon.start()
    try:
        assert stuck.wait(WAIT)
        threading.Timer(0.05, daemon.request_stop, args=("test",)).start()
        with capture_logs() as logs, pytest.raises(Exited):
            daemon.wait()
    finally:
        release.set()

    assert harness.exits.codes == [0]
    names = [e["event"] for e in logs]
    assert names.index("probes_still_running") < names.index("stopped")
    assert names[-1] == "shutdown_forced"


def test_queries_stop_once_a_stop_is_requested(
        harness: Harness, prometheus: EmptyPrometheus) -> None:
    """After a stop, the stuck cycle's next queries are not sent to Prometheus at all."""
    prometheus.open.clear()
    daemon = harness.daemon(make_config(ratio_slo("a"), ratio_slo("b"), url=prometheus.url))
    daemon.start()
    # the two SLOs' backfills are read together: their one shared query is held now,
    # and each SLO would read on alone once it fails
    wait_for(lambda: prometheus.requests >= 1, "the cycle's first query")
    daemon.request_stop("test")
    sent = prometheus.requests
    prometheus.open.set()
    wait_for(lambda: not daemon._cycle_lock.locked(), "the cycle to end")

    assert prometheus.requests == sent


def test_watchdog_ends_a_stop_that_hangs(harness: Harness) -> None:
    """A stop not finished within force_after ends the process: exit 1, shutdown_forced."""
    daemon = harness.daemon(make_config(probe_slo("home")),
                            timings=Timings(probe_stop=0.1, cycle_grace=0.1, force_after=0.2))
    with capture_logs() as logs:
        daemon.request_stop("test")  # and nothing runs shutdown()
        assert harness.exits.called.wait(WAIT)

    assert harness.exits.codes == [1]
    assert logs[-1]["event"] == "shutdown_forced"


def test_evaluate_is_skipped_once_stopping(harness: Harness) -> None:
    """No new cycle starts after a stop was requested."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    assert daemon.evaluate() is True
    daemon.request_stop("test")
    assert daemon.evaluate() is False


def test_listen_error_closes_the_runtime(harness: Harness, tmp_path: Path) -> None:
    """An unusable listen address raises ListenError."""
    store = SQLiteStore(tmp_path / "data", 60.0)
    with pytest.raises(ListenError, match="host:port"):
        Daemon(make_config(probe_slo("home")), Options("nowhere", str(tmp_path)), store,
               registry=CollectorRegistry())
    store.close()


# ------------------------------------------------------------ reload


def test_reload_applies_a_good_config(harness: Harness) -> None:
    """A good file adds an SLO, keeps kept SLOs' events, reschedules the cycle and says so."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    started(daemon)
    wait_for(lambda: events(daemon.store, "web/home") >= 3, "probe events")
    kept = events(daemon.store, "web/home")
    harness.configs.append(make_config(probe_slo("home"), probe_slo("new"), interval=7.0))

    with capture_logs() as logs:
        assert daemon.reload() is True

    assert [s.name for s in daemon.config.slos] == ["home", "new"]
    assert events(daemon.store, "web/home") >= kept
    wait_for(lambda: events(daemon.store, "web/new") >= 2, "events of the added SLO")
    assert daemon.scheduler.get_job("evaluate").trigger.interval.total_seconds() == 7.0
    assert metric(daemon, "slo_exporter_config_last_reload_successful") == 1.0
    assert any(e["event"] == "config_reloaded" and e["slos"] == 2 for e in logs)


def _next_cycle(daemon: Daemon) -> float:
    return float(daemon.scheduler.get_job("evaluate").next_run_time.timestamp())


def test_cycles_fire_on_the_epoch_grid_plus_the_query_delay(harness: Harness) -> None:
    """With a 7 s interval and a 2 s query_delay the next cycle fires at a multiple of 7 s
    since the epoch plus 2 s, within 7 s; a reload to 11 s and 3 s moves it to that grid."""
    config = make_config(probe_slo("home"), interval=7.0)
    config = dataclasses.replace(
        config, prometheus=dataclasses.replace(config.prometheus, query_delay=2.0))
    daemon = harness.daemon(config)
    started(daemon)
    fire = _next_cycle(daemon)
    assert (fire - 2.0) % 7.0 == 0.0
    assert time.time() - 0.5 <= fire <= time.time() + 7.0
    regrid = make_config(probe_slo("home"), interval=11.0)
    harness.configs.append(dataclasses.replace(
        regrid, prometheus=dataclasses.replace(regrid.prometheus, query_delay=3.0)))
    assert daemon.reload() is True
    fire = _next_cycle(daemon)
    assert (fire - 3.0) % 11.0 == 0.0
    assert time.time() - 0.5 <= fire <= time.time() + 11.0


def test_probing_moves_over_without_losing_or_doubling_events(harness: Harness) -> None:
    """Across reloads each probe run is stored exactly once; no target is probed twice at once."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    started(daemon)
    for _ in range(3):
        wait_for(lambda: harness.prober.runs["http://127.0.0.1:9/home"] >= 2, "probe runs")
        harness.configs.append(make_config(probe_slo("home")))
        assert daemon.reload() is True
    time.sleep(0.1)
    daemon.shutdown()

    runs = harness.prober.runs["http://127.0.0.1:9/home"]
    with SQLiteStore(harness.tmp_path / "data", 60.0) as store:
        assert events(store, "web/home") == runs
    assert harness.prober.overlaps == 0


def test_probe_slos_stay_up_during_a_reload_backfill(
        harness: Harness, prometheus: EmptyPrometheus) -> None:
    """While the new config's first cycle waits on Prometheus, old probes run and stay up."""
    daemon = harness.daemon(make_config(probe_slo("home"), url=prometheus.url))
    started(daemon)
    wait_for(lambda: slo_up(daemon, "home"), "the probe SLO up")
    prometheus.open.clear()
    harness.configs.append(make_config(probe_slo("home"), ratio_slo("api"), url=prometheus.url))
    reload = threading.Thread(target=daemon.reload)
    reload.start()
    try:
        assert prometheus.arrived.wait(WAIT), "the new config never queried"
        during = events(daemon.store, "web/home")
        time.sleep(4 * PROBE_INTERVAL + 0.2)
        assert events(daemon.store, "web/home") > during, "probing stopped during the reload"
        daemon.refresh_probes()
        assert slo_up(daemon, "home")
        assert [s.name for s in daemon.config.slos] == ["home"]
    finally:
        prometheus.open.set()
        reload.join(WAIT)
    assert [s.name for s in daemon.config.slos] == ["home", "api"]
    assert slo_up(daemon, "home")
    assert harness.prober.overlaps == 0


class _ClosingSource(LandingSource):
    """A landing stand-in the runtime can close, as it closes its client pool."""

    def close(self) -> None:
        pass


def test_the_fast_path_waits_while_a_reload_reads_the_same_store(harness: Harness) -> None:
    """While the next config's first cycle reads Prometheus, the running config's fast
    path reads nothing (two engines never count the same samples); after the swap the
    new config's fast path reads."""
    now = time.time()
    feeds = {name: {"a": counter_feed(now - 60, now + 60, 0.2, 0.0, lambda ts: 1)}
             for name in ("http_requests_total", 'http_requests_total{code="500"}')}
    inside, release = threading.Event(), threading.Event()
    sources: list[_ClosingSource] = []

    def hold_first_read(selector: str, start: float, end: float) -> None:
        if not inside.is_set():
            inside.set()
            release.wait(WAIT)

    def factory(cfg: PrometheusConfig, stop: threading.Event, budget: float) -> _ClosingSource:
        source = _ClosingSource(feeds, now=math.inf,
                                on_read=hold_first_read if sources else None)
        sources.append(source)
        return source

    daemon = harness.daemon(make_config(ratio_slo("api")), client_factory=factory)
    assert daemon.evaluate()
    # The next config's first cycle reads only once the next 1 s grid instant is due;
    # at the instant the running config has read, there is nothing new to read.
    time.sleep(math.ceil(time.time()) - time.time() + 0.01)
    harness.configs.append(make_config(ratio_slo("api")))
    reload = threading.Thread(target=daemon.reload)
    reload.start()
    try:
        assert inside.wait(WAIT), "the new config never queried"
        reads = len(sources[0].reads)
        time.sleep(0.3)  # new samples are due every 0.2 s
        daemon.catch_up()
        assert len(sources[0].reads) == reads
    finally:
        release.set()
        reload.join(WAIT)
    assert [s.name for s in daemon.config.slos] == ["api"]
    assert len(sources) == 2
    reads = len(sources[1].reads)
    time.sleep(0.3)
    daemon.catch_up()
    assert len(sources[1].reads) > reads


def test_stop_during_a_reload_abandons_the_new_config(
        harness: Harness, prometheus: EmptyPrometheus) -> None:
    """A stop during the new config's first cycle is not delayed by it; nothing is swapped."""
    daemon = harness.daemon(make_config(probe_slo("home"), url=prometheus.url),
                            client_factory=deaf_client)
    started(daemon)
    prometheus.open.clear()
    harness.configs.append(make_config(probe_slo("home"), ratio_slo("api"), url=prometheus.url))
    result: list[bool] = []
    reload = threading.Thread(target=lambda: result.append(daemon.reload()))
    reload.start()
    assert prometheus.arrived.wait(WAIT)

    begun = time.monotonic()
    assert daemon.shutdown() is False
    assert time.monotonic() - begun < FAST.cycle_grace + FAST.probe_stop
    prometheus.open.set()
    reload.join(WAIT)

    assert result == [False]
    assert [s.name for s in daemon.config.slos] == ["home"]
    assert daemon.reload() is False  # no reload after a stop
    assert metric(daemon, "slo_exporter_config_last_reload_successful") == 1.0


def test_stop_while_a_reload_waits_for_the_running_cycle(
        harness: Harness, prometheus: EmptyPrometheus) -> None:
    """A reload waiting for a stuck cycle of the old config gives up when a stop comes."""
    prometheus.open.clear()
    daemon = harness.daemon(make_config(ratio_slo("api"), url=prometheus.url))
    daemon.start()
    assert prometheus.arrived.wait(WAIT)
    harness.configs.append(make_config(ratio_slo("api"), probe_slo("home"), url=prometheus.url))
    result: list[bool] = []
    reload = threading.Thread(target=lambda: result.append(daemon.reload()))

    with capture_logs() as logs:
        reload.start()
        time.sleep(0.2)
        daemon.request_stop("test")
        reload.join(WAIT)

    assert result == [False]
    assert any(e["event"] == "config_reload_abandoned" for e in logs)
    assert [s.name for s in daemon.config.slos] == ["api"]
    assert harness.prober.runs["http://127.0.0.1:9/home"] == 0


def test_invalid_file_is_refused_and_old_probes_keep_running(
        harness: Harness, tmp_path: Path) -> None:
    """A file with problems: config_reload_failed with them, metric 0, old SLOs still probed."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    bad = tmp_path / "bad.yaml"
    bad.write_text("services:\n  - name: web\n    slos:\n      - name: x\n        objective: 150\n")
    daemon.config_file = str(bad)
    daemon._load = load_config
    started(daemon)

    with capture_logs() as logs:
        assert daemon.reload() is False

    failed = [e for e in logs if e["event"] == "config_reload_failed"]
    assert failed
    assert any("objective" in p for p in failed[0]["problems"])
    assert metric(daemon, "slo_exporter_config_last_reload_successful") == 0.0
    before = events(daemon.store, "web/home")
    wait_for(lambda: events(daemon.store, "web/home") > before, "probing after the refusal")


def test_reload_failure_log_hides_url_passwords(harness: Harness) -> None:
    """Problems naming a URL with a password are logged with the password masked."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    harness.configs.append(ConfigError([ConfigProblem(
        "slo.yaml", "prometheus.url", "cannot reach http://admin:hunter2@prom.internal:9090")]))

    with capture_logs() as logs:
        assert daemon.reload() is False

    text = json.dumps(logs)
    assert "hunter2" not in text
    assert "admin:<secret>@prom.internal" in text


def test_store_error_during_build_keeps_the_old_config_probing(
        harness: Harness, tmp_path: Path) -> None:
    """A store failure while the new config is built: refused, the old config still probes."""
    store = FlakyStore(tmp_path / "data", 60.0)
    daemon = harness.daemon(make_config(probe_slo("home")), store=store)
    started(daemon)
    harness.configs.append(make_config(probe_slo("home"), probe_slo("new")))
    store.fail = True

    with capture_logs() as logs:
        assert daemon.reload() is False
    store.fail = False

    failed = [e for e in logs if e["event"] == "config_reload_failed"]
    assert failed
    assert "disk is full" in failed[0]["problems"][0]
    assert metric(daemon, "slo_exporter_config_last_reload_successful") == 0.0
    assert [s.name for s in daemon.config.slos] == ["home"]
    before = events(store, "web/home")
    wait_for(lambda: events(store, "web/home") > before, "old probes still running")


def test_probe_scheduler_that_cannot_be_built_keeps_the_old_config(harness: Harness) -> None:
    """A probe scheduler failing to build: refused, the old probes never stopped."""
    built: list[int] = []

    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        built.append(len(slis))
        if len(built) == 2:
            raise RuntimeError("can't start new thread")
        return ProbeScheduler(slis, on_result, runner=harness.prober)

    daemon = harness.daemon(make_config(probe_slo("home")), probe_factory=factory)
    started(daemon)
    harness.configs.append(make_config(probe_slo("home"), probe_slo("new")))

    assert daemon.reload() is False
    assert metric(daemon, "slo_exporter_config_last_reload_successful") == 0.0
    before = harness.prober.runs["http://127.0.0.1:9/home"]
    wait_for(lambda: harness.prober.runs["http://127.0.0.1:9/home"] > before, "old probes")


class _NoStart(ProbeScheduler):
    def start(self) -> None:
        raise RuntimeError("can't start new thread")


def test_probe_scheduler_that_cannot_start_gives_the_old_config_its_probes_back(
        harness: Harness) -> None:
    """New probes failing to start after the old stopped: the old config probes again."""
    built: list[int] = []

    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        built.append(len(slis))
        kind = _NoStart if len(built) == 2 else ProbeScheduler
        return kind(slis, on_result, runner=harness.prober)

    daemon = harness.daemon(make_config(probe_slo("home")), probe_factory=factory)
    started(daemon)
    harness.configs.append(make_config(probe_slo("home"), probe_slo("new"), interval=9.0))

    with capture_logs() as logs:
        assert daemon.reload() is False

    assert any(e["event"] == "config_reload_failed" for e in logs)
    assert [s.name for s in daemon.config.slos] == ["home"]
    assert daemon.scheduler.get_job("evaluate").trigger.interval.total_seconds() == 1.0
    before = harness.prober.runs["http://127.0.0.1:9/home"]
    wait_for(lambda: harness.prober.runs["http://127.0.0.1:9/home"] > before, "probes back")
    assert harness.prober.runs["http://127.0.0.1:9/new"] == 0

    def up_again() -> bool:
        # probes every 50 ms: on a loaded machine one refresh may still see them late
        daemon.refresh_probes()
        return slo_up(daemon, "home")
    wait_for(up_again, "the old config's probe SLO up again")


def test_old_probes_that_cannot_restart_are_logged(harness: Harness) -> None:
    """If neither the new probes nor the old ones can start again, that is logged loudly."""
    built: list[int] = []

    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        built.append(len(slis))
        kind = ProbeScheduler if len(built) == 1 else _NoStart
        return kind(slis, on_result, runner=harness.prober)

    daemon = harness.daemon(make_config(probe_slo("home")), probe_factory=factory)
    started(daemon)
    harness.configs.append(make_config(probe_slo("home"), probe_slo("new")))

    with capture_logs() as logs:
        assert daemon.reload() is False

    names = [e["event"] for e in logs]
    assert names.index("probe_restart_failed") < names.index("config_reload_failed")
    assert [s.name for s in daemon.config.slos] == ["home"]


def test_probes_outliving_the_handover_are_logged_and_recorded(harness: Harness) -> None:
    """An old probe still running after probe_stop is logged; its result is still stored."""
    slow = Prober()
    held = threading.Event()
    release = threading.Event()

    def runner(sli: ProbeSLI) -> ProbeResult:
        if not held.is_set():
            held.set()
            release.wait(WAIT)
        return slow(sli)

    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        return ProbeScheduler(slis, on_result, runner=runner)

    daemon = harness.daemon(make_config(probe_slo("home")), probe_factory=factory,
                            timings=Timings(probe_stop=0.05, cycle_grace=0.3, force_after=5.0))
    started(daemon)
    assert held.wait(WAIT)
    harness.configs.append(make_config(probe_slo("home")))

    with capture_logs() as logs:
        assert daemon.reload() is True
    release.set()
    wait_for(lambda: slow.runs["http://127.0.0.1:9/home"] >= 3, "probes after the handover")
    assert daemon.shutdown() is True

    assert [e["event"] for e in logs].count("probes_still_running") == 1
    with SQLiteStore(harness.tmp_path / "data", 60.0) as store:
        assert events(store, "web/home") == slow.runs["http://127.0.0.1:9/home"]


def test_wait_off_the_main_thread_needs_no_signals(harness: Harness) -> None:
    """wait() on another thread leaves signal handling alone and still stops on request."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    before = signal.getsignal(signal.SIGTERM)
    daemon.start()
    codes: list[int] = []
    waiter = threading.Thread(target=lambda: codes.append(daemon.wait()))
    waiter.start()
    time.sleep(0.1)
    assert signal.getsignal(signal.SIGTERM) is before
    daemon.request_stop("test")
    waiter.join(WAIT)

    assert codes == [0]


def test_failed_reload_gives_changed_slos_back_to_the_old_definition(
        harness: Harness, prometheus: EmptyPrometheus) -> None:
    """A reload changing an SLI that then fails leaves the store counting the old definition."""
    built: list[int] = []

    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        built.append(len(slis))
        kind = _NoStart if len(built) == 2 else ProbeScheduler
        return kind(slis, on_result, runner=harness.prober)

    old_slo = ratio_slo("api")
    daemon = harness.daemon(make_config(old_slo, probe_slo("home"), url=prometheus.url),
                            probe_factory=factory)
    started(daemon)
    changed = SLO(service="web", name="api", objective=0.99, period=RollingPeriod(3600.0),
                  sli=RatioSLI(total=Selector("grpc_requests_total"),
                               bad=Selector('grpc_requests_total{code="Internal"}')))
    harness.configs.append(make_config(changed, probe_slo("home"), url=prometheus.url))

    with capture_logs() as logs:
        assert daemon.reload() is False

    assert daemon.store.fingerprint("web/api") == old_slo.source_fingerprint
    assert any(e["event"] == "slo_definition_restored" for e in logs)


def test_every_reload_builds_a_new_probe_scheduler(harness: Harness) -> None:
    """Even an unchanged config gets a new scheduler: probe TLS contexts and resolvers are new."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    started(daemon)
    first = daemon.rt.probes
    harness.configs.append(make_config(probe_slo("home")))

    assert daemon.reload() is True
    assert daemon.rt.probes is not first


def test_failed_build_traceback_is_scrubbed_at_debug(harness: Harness) -> None:
    """The debug traceback of a failed reload masks URL passwords like the error line does."""
    def factory(slis: Sequence[tuple[str, ProbeSLI]], on_result: OnResult) -> ProbeScheduler:
        if daemon_ready.is_set():
            raise RuntimeError("cannot reach http://admin:hunter2@proxy.internal:3128")
        return ProbeScheduler(slis, on_result, runner=harness.prober)

    daemon_ready = threading.Event()
    daemon = harness.daemon(make_config(probe_slo("home")), probe_factory=factory)
    daemon_ready.set()
    harness.configs.append(make_config(probe_slo("home")))

    with capture_logs() as logs:
        assert daemon.reload() is False

    assert "config_reload_traceback" in [e["event"] for e in logs]
    assert "hunter2" not in json.dumps(logs)


def test_changing_the_resolution_is_refused(harness: Harness) -> None:
    """storage.resolution changes only with a restart; a reload asking for it is refused."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    harness.configs.append(make_config(probe_slo("home"), resolution=30.0))

    with capture_logs() as logs:
        assert daemon.reload() is False

    assert "restart" in logs[-1]["problems"][0]


def test_bad_prometheus_settings_are_refused(harness: Harness) -> None:
    """Prometheus settings no client accepts are refused before anything is built."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    harness.configs.append(make_config(probe_slo("home"), ratio_slo("api"), url="ftp://x"))

    with capture_logs() as logs:
        assert daemon.reload() is False

    assert "must be absolute http(s)" in logs[-1]["problems"][0]
    assert [s.name for s in daemon.config.slos] == ["home"]


def test_unreadable_file_is_refused(harness: Harness) -> None:
    """Any exception from reading the file refuses the reload instead of killing the thread."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    harness.configs.append(PermissionError("slo.yaml: permission denied"))

    assert daemon.reload() is False
    assert metric(daemon, "slo_exporter_config_last_reload_successful") == 0.0


def test_pages_render_from_the_current_runtime(harness: Harness) -> None:
    """The status page and the API answer from the current snapshot after a cycle."""
    daemon = harness.daemon(make_config(probe_slo("home")))
    started(daemon)
    url = f"http://127.0.0.1:{daemon.web.port}"
    wait_for(lambda: requests.get(f"{url}/-/ready", timeout=2).status_code == 200, "ready")

    assert "home" in requests.get(f"{url}/", timeout=2).text
    slos = requests.get(f"{url}/api/v1/slos", timeout=2).json()
    assert "home" in json.dumps(slos)


def test_a_reload_logs_the_new_files_warnings(tmp_path: Path) -> None:
    """The default loader of a reload logs each warning (an objective of 0.99) as config_warning."""
    path = tmp_path / "slo.yaml"
    path.write_text(
        "services:\n"
        "  - name: web\n"
        "    slos:\n"
        "      - name: home\n"
        "        objective: 0.99\n"
        "        window: 1d\n"
        "        sli: {probe: {http: {url: 'http://127.0.0.1:9/'}}}\n")
    with capture_logs() as logs:
        config = load_logging_warnings(str(path))

    assert config.slos[0].objective == 0.0099
    warnings = [e for e in logs if e["event"] == "config_warning"]
    assert len(warnings) == 1
    assert warnings[0]["path"] == "services[0].slos[0].objective"


def test_the_heap_is_frozen_after_the_first_cycle_and_after_a_reload(harness: Harness) -> None:
    """After the first cycle the collector's young threshold is raised and the surviving
    objects are frozen (full collections skip them); a reload freezes again."""
    import gc

    daemon = harness.daemon(make_config(probe_slo("home")))
    try:
        gc.unfreeze()
        started(daemon)
        wait_for(lambda: daemon._heap_settled, "the first cycle")
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        harness.configs.append(make_config(probe_slo("home"), probe_slo("new")))
        assert daemon.reload() is True
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_settling_the_heap_again_frees_frozen_reference_cycles() -> None:
    """What a reload drops is freed though it was frozen and holds a reference cycle: each
    settling unfreezes and collects before it freezes."""
    import gc
    import weakref

    class Runtime:
        pass

    try:
        runtime = Runtime()
        alive = weakref.ref(runtime)
        cycle: dict[str, object] = {"runtime": runtime}
        cycle["self"] = cycle
        settle_heap()  # frozen while in use
        del runtime, cycle  # then dropped, as a reload drops the old runtime
        gc.collect()
        assert alive() is not None  # frozen: a plain collection leaves it
        settle_heap()
        assert alive() is None
    finally:
        gc.unfreeze()
