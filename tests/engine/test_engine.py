"""The evaluation cycle: failure isolation, probe freshness, snapshot ordering, the worker
pool, stopping, and failure logs that change only with the state."""

from __future__ import annotations

import threading

from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.engine import REMIND_EVERY, Engine, short_error
from slo_exporter.errors import SourceError
from slo_exporter.model import PrometheusConfig
from slo_exporter.prometheus import PrometheusClient, QueryResult, Series
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW, ScriptedSource
from tests.support.fake_prometheus import EmptyPrometheus

_HEAD, _REST = CONFIG.split("services:\n")
_API, _WEB = _REST.split("  - name: web\n")
PROBE_FIRST = _HEAD + "services:\n  - name: web\n" + _WEB + _API

TWO_SOURCES = CONFIG.replace(
    "  - name: web\n",
    """  - name: shop
    slos:
      - name: availability
        objective: 99
        window: 1d
        sli:
          ratio:
            bad: shop_requests_total{code=~"5.."}
            total: shop_requests_total
  - name: web
""",
)


def _engine(store: EventStore, seen: dict[str, float], errors: list[str],
            text: str = CONFIG) -> Engine:
    config = parse_config(text, "t.yaml")
    return Engine(config, store, PrometheusClient(config.prometheus, sleep=lambda s: None),
                  clock=lambda: NOW, on_error=errors.append, probe_last_seen=seen.get)


def test_unreachable_source_marks_only_its_slo_down(store: EventStore) -> None:
    """A refused connection is counted and makes that SLO down; the probe SLO stays up."""
    errors: list[str] = []
    store.record("web/probe", NOW - 30, good=True)
    store.record("web/probe", NOW - 20, good=False)
    snap = _engine(store, {"web/probe": NOW - 5}, errors).evaluate()
    by_key = {s.slo.key: s for s in snap.slos}
    assert snap.complete
    assert errors == ["connection"]
    assert not by_key["api/availability"].up
    assert "127.0.0.1:1" in (by_key["api/availability"].error or "")
    probe = by_key["web/probe"]
    assert probe.up
    w5m = probe.window(300.0)
    assert w5m is not None
    assert (w5m.good, w5m.total, w5m.sli) == (1.0, 2.0, 0.5)


def test_late_probes_mark_the_probe_slo_down(store: EventStore) -> None:
    """Without a probe result in two intervals plus the timeout, a probe SLO is down."""
    snap = _engine(store, {"web/probe": NOW - 25}, []).evaluate()
    probe = next(s for s in snap.slos if s.slo.key == "web/probe")
    assert not probe.up
    assert probe.error == "probes are late"


def test_probe_write_fault_marks_the_probe_slo_down_with_the_reason(store: EventStore) -> None:
    """A failed probe event write makes the probe SLO down with the recorder's reason."""
    config = parse_config(CONFIG, "t.yaml")
    faults = {"web/probe": "store write failed: database or disk is full"}
    engine = Engine(config, store, ScriptedSource(), clock=lambda: NOW,
                    probe_last_seen=lambda key: NOW, probe_fault=faults.get)
    probe = next(s for s in engine.evaluate().slos if s.slo.key == "web/probe")
    assert not probe.up
    assert probe.error == "store write failed: database or disk is full"
    del faults["web/probe"]
    probe = next(s for s in engine.refresh_probes().slos if s.slo.key == "web/probe")
    assert probe.up
    assert probe.error is None


def test_probe_refresh_updates_only_probe_slos(store: EventStore) -> None:
    """A probe refresh swaps in new probe values and keeps the last full-cycle statuses."""
    clock = [NOW]
    config = parse_config(CONFIG, "t.yaml")
    errors: list[str] = []
    engine = Engine(config, store, PrometheusClient(config.prometheus, sleep=lambda s: None),
                    clock=lambda: clock[0], on_error=errors.append,
                    probe_last_seen=lambda key: clock[0])
    assert not engine.refresh_probes().complete  # nothing to merge into before the first cycle
    first = engine.evaluate()
    store.record("web/probe", NOW + 1, good=False)
    clock[0] = NOW + 2
    refreshed = engine.refresh_probes()
    by_key = {s.slo.key: s for s in refreshed.slos}
    assert by_key["web/probe"].evaluated_at == NOW + 2
    w5m = by_key["web/probe"].window(300.0)
    assert w5m is not None
    assert w5m.total == 1.0
    kept = next(s for s in first.slos if s.slo.key == "api/availability")
    assert by_key["api/availability"] is kept
    assert errors == ["connection"]  # the refresh did not query Prometheus


def test_full_cycle_never_puts_back_an_older_probe_status(store: EventStore) -> None:
    """A probe refresh that lands during a full cycle wins over the cycle's older probe status."""
    clock = [NOW]
    config = parse_config(PROBE_FIRST, "t.yaml")
    assert config.slos[0].key == "web/probe"  # evaluated before the slow Prometheus SLO
    engine: Engine

    def slow_prometheus(selector: str, start: float, end: float) -> None:
        if clock[0] == NOW + 11:  # the cycle's probe status (at NOW + 11) is already computed
            clock[0] = NOW + 15
            store.record("web/probe", NOW + 14, good=False)
            engine.refresh_probes()

    engine = Engine(config, store, ScriptedSource(slow_prometheus), clock=lambda: clock[0],
                    probe_last_seen=lambda key: clock[0], max_workers=1)
    engine.evaluate()  # the first cycle makes the snapshot complete
    clock[0] = NOW + 11  # past the next grid instant (NOW + 10), so Prometheus is read
    snap = engine.evaluate()
    probe = next(s for s in snap.slos if s.slo.key == "web/probe")
    assert probe.evaluated_at == NOW + 15
    w5m = probe.window(300.0)
    assert w5m is not None
    assert w5m.total == 1.0


def test_evaluation_time_never_steps_back(store: EventStore) -> None:
    """After the wall clock steps back, snapshot and SLO timestamps hold instead of falling."""
    clock = [NOW + 100]
    config = parse_config(CONFIG, "t.yaml")
    engine = Engine(config, store, ScriptedSource(), clock=lambda: clock[0],
                    probe_last_seen=lambda key: clock[0])
    first = engine.evaluate()
    before = {s.slo.key: s.evaluated_at for s in first.slos}
    clock[0] = NOW  # NTP stepped the clock back
    second = engine.evaluate()
    third = engine.refresh_probes()
    for snap in (second, third):
        assert snap.taken_at >= first.taken_at
        for status in snap.slos:
            assert status.evaluated_at is not None
            assert status.evaluated_at >= (before[status.slo.key] or 0.0)


def test_worker_threads_live_across_cycles(store: EventStore) -> None:
    """Cycles run on one bounded pool of threads, so per-thread sessions are built once."""
    source = ScriptedSource()
    config = parse_config(TWO_SOURCES, "t.yaml")
    clock = [NOW]
    engine = Engine(config, store, source, clock=lambda: clock[0],
                    probe_last_seen=lambda k: clock[0])
    try:
        engine.evaluate()
        for i in range(1, 20):
            clock[0] = NOW + 10 * i
            engine.evaluate()
    finally:
        engine.close()
    # three SLOs: at most three workers for the engine's whole life
    assert 1 <= len(source.threads) <= 3


class _PerThreadClient:
    """One PrometheusClient per worker thread, as the daemon wires it."""

    def __init__(self, cfg: PrometheusConfig) -> None:
        self._cfg = cfg
        self._local = threading.local()
        self.clients: list[PrometheusClient] = []

    def _client(self) -> PrometheusClient:
        client: PrometheusClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = PrometheusClient(self._cfg)
            self.clients.append(client)
        return client

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        return self._client().query(promql, at, stats=stats)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        return self._client().query_range(promql, start, end, step, stats=stats)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        return self._client().raw_samples(selector, start, end)


def test_prometheus_connections_are_reused_across_cycles(store: EventStore) -> None:
    """Five cycles open at most one connection per pool thread, not new ones every cycle."""
    server = EmptyPrometheus()
    text = TWO_SOURCES.replace("http://127.0.0.1:1\"", f'http://127.0.0.1:{server.port}"')
    config = parse_config(text, "t.yaml")
    client = _PerThreadClient(config.prometheus)
    clock = [NOW]
    engine = Engine(config, store, client, clock=lambda: clock[0],
                    probe_last_seen=lambda k: clock[0])
    try:
        for i in range(5):
            clock[0] = NOW + 10 * i
            snap = engine.evaluate()
        assert all(s.up for s in snap.slos)
    finally:
        engine.close()
        for c in client.clients:
            c.close()
        server.close()
    assert 1 <= len(server.connections) <= len(client.clients) <= 3


def test_close_ends_the_pool_and_later_cycles_still_run(store: EventStore) -> None:
    """After close() a cycle runs on the caller's thread instead of failing."""
    source = ScriptedSource()
    config = parse_config(TWO_SOURCES, "t.yaml")
    engine = Engine(config, store, source, clock=lambda: NOW, probe_last_seen=lambda k: NOW)
    engine.close()
    engine.close()  # idempotent
    snap = engine.evaluate()
    assert snap.complete
    assert {name for *_, name in source.reads} == {threading.current_thread().name}


def test_stop_ends_a_cycle_between_slos_and_keeps_old_statuses(store: EventStore) -> None:
    """With stop set, a cycle reads no further SLO and leaves their statuses as they were."""
    stop = threading.Event()
    source = ScriptedSource(lambda *_: stop.set())
    config = parse_config(TWO_SOURCES, "t.yaml")
    engine = Engine(config, store, source, clock=lambda: NOW, probe_last_seen=lambda k: NOW,
                    stop=stop, max_workers=1)
    snap = engine.evaluate()
    # the first chunk of the first SLO (its two selectors), then nothing
    assert {selector for selector, *_ in source.reads} == {
        'http_requests_total{code=~"5.."}', "http_requests_total"}
    assert not snap.complete
    assert all(s.evaluated_at is None for s in snap.slos)


def _failing_engine(store: EventStore, fail: list[bool], clock: list[float],
                    text: str = CONFIG) -> Engine:
    message = "cannot reach http://127.0.0.1:1/api/v1/query: " + "details " * 60

    def read(selector: str, start: float, end: float) -> None:
        if fail[0]:
            raise SourceError(message)

    config = parse_config(text, "t.yaml")
    return Engine(config, store, ScriptedSource(read), clock=lambda: clock[0],
                  probe_last_seen=lambda k: clock[0], max_workers=1)


def test_a_down_source_is_logged_once_then_reminded_then_recovered(store: EventStore) -> None:
    """query_failed once, query_still_failing every ten minutes, query_recovered at the end."""
    fail, clock = [True], [NOW]
    engine = _failing_engine(store, fail, clock)
    with capture_logs() as logs:
        for i in range(5):  # five minutes of cycles every 30 s
            clock[0] = NOW + 30 * i
            engine.evaluate()
        clock[0] = NOW + REMIND_EVERY
        engine.evaluate()
        clock[0] = NOW + REMIND_EVERY + 30
        engine.evaluate()
        fail[0] = False
        clock[0] = NOW + REMIND_EVERY + 60
        engine.evaluate()
        engine.evaluate()
    events = [e["event"] for e in logs if e["event"].startswith("query_")]
    assert events == ["query_failed", "query_still_failing", "query_recovered"]
    still = next(e for e in logs if e["event"] == "query_still_failing")
    assert still["failing_for"] == REMIND_EVERY
    recovered = next(e for e in logs if e["event"] == "query_recovered")
    assert recovered["failed_for"] == REMIND_EVERY + 60


def test_a_changed_reason_is_logged_again(store: EventStore) -> None:
    """A failure whose reason changes (connection, then timeout) is a new state and logged."""
    clock = [NOW]
    reasons = iter(["connection", "connection", "timeout"])

    def read(selector: str, start: float, end: float) -> None:
        exc = SourceError("down")
        exc.reason = next(reasons)
        raise exc

    config = parse_config(CONFIG, "t.yaml")
    engine = Engine(config, store, ScriptedSource(read), clock=lambda: clock[0],
                    probe_last_seen=lambda k: clock[0])
    with capture_logs() as logs:
        for i in range(3):
            clock[0] = NOW + 30 * i
            engine.evaluate()
    failed = [e["reason"] for e in logs if e["event"] == "query_failed"]
    assert failed == ["connection", "timeout"]


def test_backfill_start_is_logged_once_while_the_source_is_down(store: EventStore) -> None:
    """A backfill that keeps failing announces itself once, not every cycle."""
    fail, clock = [True], [NOW]
    engine = _failing_engine(store, fail, clock)
    with capture_logs() as logs:
        for i in range(5):
            clock[0] = NOW + 30 * i
            engine.evaluate()
        fail[0] = False
        engine.evaluate()
    events = [e["event"] for e in logs if e["event"].startswith("backfill_")]
    assert events == ["backfill_started", "backfill_done", "backfill_finished"]


def test_failure_logs_are_short_and_name_service_and_slo(store: EventStore) -> None:
    """Every log event about one SLO carries service and slo; error text stays short."""
    fail, clock = [True], [NOW]
    engine = _failing_engine(store, fail, clock)
    with capture_logs() as logs:
        engine.evaluate()
        clock[0] = NOW + REMIND_EVERY
        engine.evaluate()
        fail[0] = False
        engine.evaluate()
    # store_pruned and backfill_finished are about the whole store and every backfill
    about_slo = [e for e in logs if e["event"] not in ("store_pruned", "backfill_finished")]
    assert {e["event"] for e in about_slo} >= {
        "backfill_started", "query_failed", "query_still_failing", "query_recovered",
        "backfill_done"}
    for event in about_slo:
        assert (event["service"], event["slo"]) == ("api", "availability"), event
        assert len(event.get("error", "")) <= 160


def test_short_error_keeps_one_line() -> None:
    """short_error folds whitespace and cuts long text with an ellipsis."""
    assert short_error("a\n  b\tc") == "a b c"
    cut = short_error("x" * 500, limit=20)
    assert len(cut) == 20
    assert cut.endswith("…")
