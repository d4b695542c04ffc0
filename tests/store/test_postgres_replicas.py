"""Daemons sharing a PostgreSQL store, in-process: a standby follows, takes over, or steps down.

The database is real (the session's private server); probes run through the
counting runner of the daemon specifications, so no socket is probed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from slo_exporter.daemon import Daemon, Options
from slo_exporter.model import Config
from slo_exporter.snapshot import SLOStatus
from slo_exporter.store import PostgresStore
from tests.engine.test_grouping import TRAFFIC, RouteSource
from tests.engine.test_grouping import _day as day_windows
from tests.engine.test_grouping import _engine as grouping_engine
from tests.support.fake_prometheus import EMPTY_MATRIX
from tests.support.harness import LoopbackServer
from tests.support.postgres import PostgresServer
from tests.test_daemon import (
    FAST,
    ExitRecorder,
    Prober,
    make_config,
    probe_slo,
    ratio_slo,
    wait_for,
)

KEY = "web/home"


class Replicas:
    """Daemons on one store URL, each with its own prober; all shut down at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.config: Config = make_config(probe_slo("home"), interval=1.0)
        self.daemons: list[Daemon] = []

    def start(self) -> tuple[Daemon, Prober]:
        prober = Prober()
        store = PostgresStore(self.url, self.config.storage.resolution, standby=True)
        daemon = Daemon(
            self.config, Options("127.0.0.1:0", self.url), store,
            registry=CollectorRegistry(), probe_scheduler_factory=prober.factory(),
            timings=FAST, hard_exit=ExitRecorder(), load=lambda path: self.config,
        )
        self.daemons.append(daemon)
        daemon.start()
        return daemon, prober


@pytest.fixture
def replicas(postgres: PostgresServer) -> Iterator[Replicas]:
    group = Replicas(postgres.new_schema())
    yield group
    for daemon in group.daemons:
        daemon.shutdown()


def status(daemon: Daemon) -> SLOStatus:
    (found,) = [s for s in daemon.rt.engine.snapshot.slos if s.slo.key == KEY]
    return found


def test_standby_probes_nothing_serves_the_writers_events_and_takes_over(
    replicas: Replicas,
) -> None:
    """A standby starts no probes and serves the writer's stored probe events as up; once the
    writer is gone, its next evaluation takes the role and its own probes start."""
    writer, writer_probes = replicas.start()
    assert not writer.standby
    wait_for(lambda: sum(writer_probes.runs.values()) >= 5, "the writer to probe")
    standby, standby_probes = replicas.start()
    assert standby.standby
    assert writer.registry.get_sample_value("slo_exporter_store_writer") == 1.0
    assert standby.registry.get_sample_value("slo_exporter_store_writer") == 0.0
    wait_for(lambda: status(standby).evaluated_at is not None, "a standby evaluation")
    time.sleep(3 * 0.05)
    assert sum(standby_probes.runs.values()) == 0
    wait_for(lambda: status(standby).up and sum(w.total for w in status(standby).windows) > 0,
             "the standby to serve the writer's probe events as up")

    writer.shutdown()  # closes its store: the role is free at once
    with capture_logs() as logs:
        assert standby.evaluate() is True
    assert [e["event"] for e in logs if e["event"].startswith(("writer_", "takeover"))] == [
        "writer_role_taken", "takeover_done"]
    assert not standby.standby
    assert not standby.store.readonly
    assert standby.registry.get_sample_value("slo_exporter_store_writer") == 1.0
    wait_for(lambda: sum(standby_probes.runs.values()) >= 3, "the new writer's probes")


def test_two_evaluations_racing_for_the_free_role_take_over_once(replicas: Replicas) -> None:
    """The scheduled evaluation and a direct one both find the role free: one takes over,
    the other neither logs a second takeover nor builds a second writing runtime."""
    writer, _ = replicas.start()
    standby, _ = replicas.start()
    standby.scheduler.pause()
    writer.shutdown()
    barrier = threading.Barrier(2)

    def evaluate() -> None:
        barrier.wait(5)
        standby.evaluate()

    with capture_logs() as logs:
        threads = [threading.Thread(target=evaluate) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert [e["event"] for e in logs if e["event"].startswith(("writer_", "takeover"))] == [
        "writer_role_taken", "takeover_done"]
    assert not standby.standby


def test_a_standby_reloading_its_config_still_probes_nothing(replicas: Replicas) -> None:
    """SIGHUP on a standby applies the file, and the new configuration stays a follower."""
    replicas.start()
    standby, probes = replicas.start()
    assert standby.reload() is True
    time.sleep(4 * 0.05)
    assert sum(probes.runs.values()) == 0
    assert standby.standby
    assert standby.store.readonly


def test_a_writer_that_lost_its_role_stops_with_a_failure_code(
    replicas: Replicas, postgres: PostgresServer
) -> None:
    """A writer whose session ended while another replica took the role logs
    writer_role_lost and stops, exiting 1, so its supervisor restarts it as a standby."""
    writer, _ = replicas.start()
    assert isinstance(writer.store, PostgresStore)
    writer.scheduler.pause()  # this test drives the evaluations, and nothing else
    writer.rt.stop_probes(1.0)  # uses the store: it would win the role back at once
    postgres.psql(f"SELECT pg_terminate_backend({writer.store._conn.info.backend_pid})")
    with PostgresStore(replicas.url, 60.0, standby=True) as usurper:
        wait_for(lambda: not usurper.readonly or usurper.try_promote(), "the role to be free")
        with capture_logs() as logs:
            deadline = time.monotonic() + 5
            while not writer.stopping and time.monotonic() < deadline:
                writer.evaluate()
                time.sleep(0.05)
    assert writer.stopping
    assert writer.exit_code == 1
    assert writer.registry.get_sample_value("slo_exporter_store_writer") == 0.0
    assert [e for e in logs if e["event"] == "writer_role_lost"]


def test_a_following_engine_serves_the_writers_groups_and_reads_no_source(
    postgres: PostgresServer,
) -> None:
    """An engine on a standby store shows every group the writer's reads created, with the
    writer's exact windows, and never asks the source.

    Per minute over the last hour: /a 10 requests, 1 failing -> 1d window 540 good of 600;
    /b 300 of 300; /c 0 of 120 (test_grouping's traffic).
    """
    url = postgres.new_schema()
    with PostgresStore(url, 60.0) as writing, PostgresStore(url, 60.0, standby=True) as standby:
        source = RouteSource(TRAFFIC)
        following = grouping_engine(standby, source)  # built before any group was stored
        following.evaluate()
        assert following.snapshot.slos == ()
        writer = grouping_engine(writing, RouteSource(TRAFFIC))
        writer.evaluate()
        standby.refresh()
        following.evaluate()
        assert day_windows(following) == day_windows(writer) == {
            "/a": (540.0, 600.0), "/b": (300.0, 300.0), "/c": (0.0, 120.0)}
        assert source.reads == {}
        assert standby.readonly


def sli_up(daemon: Daemon, slo: str) -> float | None:
    return daemon.registry.get_sample_value("slo_sli_up", {"service": "web", "slo": slo})


class FailablePrometheus(LoopbackServer):
    """Answers every query with an empty result, or with HTTP 503 while ``failing`` is set."""

    def __init__(self) -> None:
        self.failing = threading.Event()
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                failing = owner.failing.is_set()
                body = b"unavailable" if failing else EMPTY_MATRIX
                self.send_response(503 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)


def test_a_standby_exports_the_source_state_the_writer_saw(replicas: Replicas) -> None:
    """slo_sli_up of a standby is the writer's: 1 while the writer's Prometheus answers, 0
    (with the writer's error on the status) while it fails, 1 again once it recovers; the
    standby never asks Prometheus itself."""
    with FailablePrometheus() as prometheus:
        replicas.config = make_config(ratio_slo("api"), url=prometheus.url, interval=1.0)
        writer, _ = replicas.start()
        wait_for(lambda: sli_up(writer, "api") == 1.0, "the writer's first cycle")
        standby, _ = replicas.start()
        assert standby.standby
        wait_for(lambda: sli_up(standby, "api") == 1.0, "the standby to show the source up")
        prometheus.failing.set()
        wait_for(lambda: sli_up(writer, "api") == 0.0, "the writer to see its source down")
        wait_for(lambda: sli_up(standby, "api") == 0.0, "the standby to show the writer's view")
        (down,) = [s for s in standby.rt.engine.snapshot.slos if s.slo.name == "api"]
        assert down.error is not None
        assert "503" in down.error  # the writer's own error text
        prometheus.failing.clear()
        wait_for(lambda: sli_up(standby, "api") == 1.0, "the standby to show the recovery")
        assert standby.store.readonly


def test_a_standby_shows_an_slo_down_until_the_writer_published_its_state(
    postgres: PostgresServer,
) -> None:
    """An SLO the writer never evaluated (a standby started first, or its configuration is
    newer) is down on the standby, saying why, not up by default."""
    url = postgres.new_schema()
    with PostgresStore(url, 60.0) as writing, PostgresStore(url, 60.0, standby=True) as standby:
        writing.commit("web/api", {0.0: (1.0, 1.0)})
        standby.refresh()
        assert standby.source_state("web/api") is None
        writing.publish_sources({"web/api": (False, "query failed: HTTP 503")}, 60.0)
        standby.refresh()
        assert standby.source_state("web/api") == (False, "query failed: HTTP 503")
        writing.publish_sources({"web/api": (True, None)}, 120.0)
        standby.refresh()
        assert standby.source_state("web/api") == (True, None)
        assert standby.published_at("web/api") == 120.0
    with PostgresStore(url, 60.0, readonly=True) as fresh:  # a new replica reads the table
        assert fresh.source_state("web/api") == (True, None)
