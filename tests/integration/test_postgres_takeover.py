"""Two daemons share a PostgreSQL store: the writer is SIGKILLed, or cut off from the database,
and the standby takes over exactly.

A real PostgreSQL (tests/support/postgres.py) and a real Prometheus holding
the synthetic history while it keeps scraping a live target, so events
keep arriving while the writer is dead. The standby must take the writer
role within two evaluation intervals and then export exact windows (the
event counts Prometheus's own raw samples imply at the instant the standby
says its values describe): nothing the dead writer committed is counted
again, nothing that arrived while it was dead is lost.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.support.harness import (
    API_BAD,
    API_TOTAL,
    CounterTarget,
    ExporterFactory,
    PrometheusServer,
    Scrape,
    SLOSpec,
    evaluated_at,
    exporter_config,
    failing_on_harness_error,
    stored_samples,
    up_after,
    wait_until,
    window_mismatches,
)
from tests.support.postgres import PostgresServer, private_postgres
from tests.support.synth import DAY, JobHistory

pytestmark = pytest.mark.integration

# A one-day SLO: the cold start reads one day, and every window is checked.
SLOS = (SLOSpec("api", "availability", total=API_TOTAL, bad=API_BAD, objective=99.9, window="1d"),)
WINDOWS: Mapping[str, float] = {"5m": 300.0, "1h": 3600.0, "6h": 21600.0, "1d": DAY}
EVALUATION_INTERVAL = 2.0


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the module: each test's store is a schema of its own."""
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def prometheus(
    history: JobHistory, history_blocks: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrometheusServer]:
    """One Prometheus for the module, holding the history and scraping a live target that
    continues it. The tests only read it, and each stops its daemons before the next."""
    with CounterTarget({history.job: (history.last_good, history.last_bad)}) as target:
        server = PrometheusServer(tmp_path_factory.mktemp("takeover") / "prometheus",
                                  scrape_configs=[target.scrape_config()])
        shutil.copytree(history_blocks, server.data_dir)
        with failing_on_harness_error():
            server.start()
        yield server
        with failing_on_harness_error():
            server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """One empty schema of the private server, for the store."""
    return postgres_server.new_schema()


def mismatches(scrape: Scrape, prometheus: PrometheusServer) -> list[str]:
    return window_mismatches(scrape, SLOS[0], stored_samples(prometheus), windows=WINDOWS)


def test_standby_takes_over_a_killed_writer_and_stays_exact(
    prometheus: PrometheusServer,
    make_exporter: ExporterFactory,
    postgres_url: str,
    record_property: Callable[[str, object], None],
) -> None:
    """SIGKILL the writer: the standby writes within two evaluation intervals, from the
    stored cursors, and its windows are exact."""
    prometheus.wait_for_sample_after(API_TOTAL, time.time(), timeout=30)
    config = exporter_config(prometheus.url, SLOS, evaluation_interval="2s", query_delay="2s",
                             timeout="2s")
    args = [f"--storage.url={postgres_url}"]
    writer = make_exporter(config, name="writer", extra_args=args)
    standby = make_exporter(config, name="standby", extra_args=args)
    with failing_on_harness_error():
        writer.start(ready_timeout=60)
        scrape = writer.wait_for_scrape(up_after(SLOS, 0.0), timeout=30,
                                        what="the writer's first cycle")
        assert not mismatches(scrape, prometheus)
        standby.start(ready_timeout=30)  # ready: its first (following) evaluation is done
        # the standby serves what the writer stores, and never wrote
        assert up_after(SLOS, 0.0)(standby.scrape())
    assert [e["role"] for e in writer.logged("store_opened")] == ["writer"]
    assert [e["role"] for e in standby.logged("store_opened")] == ["standby"]
    assert not standby.logged("backfill_started")

    writer.kill()
    killed_at, killed_mono = time.time(), time.monotonic()

    def took_over() -> float | None:
        return time.monotonic() if standby.logged("takeover_done") else None

    with failing_on_harness_error():
        done = wait_until(took_over, timeout=4 * EVALUATION_INTERVAL, interval=0.05,
                          what="the standby to take over", on_timeout=standby.log_tail)
    took = done - killed_mono
    record_property("takeover_seconds", round(took, 2))
    print(f"takeover {took:.2f} s after the SIGKILL")
    assert took <= 2 * EVALUATION_INTERVAL, f"takeover took {took:.2f} s"

    with failing_on_harness_error():
        scrape = standby.wait_for_scrape(up_after(SLOS, killed_at), timeout=10,
                                         what="an evaluation after the takeover")
        # one more cycle, with events that arrived after the takeover
        scrape = standby.wait_for_scrape(up_after(SLOS, evaluated_at(scrape, SLOS[0])), timeout=10,
                                         what="a second evaluation after the takeover")
    problems = mismatches(scrape, prometheus)
    assert not problems, "\n".join(problems)
    # it continued from the stored cursor: nothing was read again from the start
    assert not standby.logged("backfill_started")


def test_a_writer_cut_off_while_a_standby_took_over_exits_1(
    prometheus: PrometheusServer,
    make_exporter: ExporterFactory,
    postgres_server: PostgresServer,
    record_property: Callable[[str, object], None],
) -> None:
    """The server ends the writer's sessions (pg_terminate_backend, as a network cut or a
    database failover does) until the standby holds the role: the old writer's next
    reconnection finds the role taken, it logs writer_role_lost and exits 1, and the new
    writer's windows are exact (nothing counted twice)."""
    postgres_url = postgres_server.new_schema()
    prometheus.wait_for_sample_after(API_TOTAL, time.time(), timeout=30)
    config = exporter_config(prometheus.url, SLOS, evaluation_interval="2s", query_delay="2s",
                             timeout="2s")
    # each daemon's sessions carry its name, so the server can end only the writer's
    writer = make_exporter(config, name="writer",
                           extra_args=[f"--storage.url={postgres_url}&application_name=slo-a"])
    standby = make_exporter(config, name="standby",
                            extra_args=[f"--storage.url={postgres_url}&application_name=slo-b"])
    with failing_on_harness_error():
        writer.start(ready_timeout=60)
        writer.wait_for_scrape(up_after(SLOS, 0.0), timeout=30, what="the writer's first cycle")
        standby.start(ready_timeout=30)
    assert [e["role"] for e in standby.logged("store_opened")] == ["standby"]

    cut_at = time.monotonic()

    def standby_writes() -> bool | None:
        # A writer reconnects at most once per connect timeout (5 s), so ending
        # its sessions as they come leaves the role free for the standby.
        postgres_server.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'slo-a'")
        return True if standby.logged("takeover_done") else None

    with failing_on_harness_error():
        wait_until(standby_writes, timeout=6 * EVALUATION_INTERVAL, interval=0.05,
                   what="the standby to take over", on_timeout=standby.log_tail)
        took = time.monotonic() - cut_at
        assert writer.proc is not None
        code = writer.proc.wait(timeout=20)
    stopped = time.monotonic() - cut_at
    record_property("takeover_seconds", round(took, 2))
    record_property("old_writer_exit_seconds", round(stopped, 2))
    print(f"takeover {took:.2f} s after the cut, old writer gone after {stopped:.2f} s")
    assert code == 1, writer.log_tail()
    assert writer.logged("writer_role_lost")
    assert [e["event"] for e in writer.logged("stopped")] == ["stopped"]

    with failing_on_harness_error():
        scrape = standby.wait_for_scrape(up_after(SLOS, 0.0), timeout=10,
                                         what="an evaluation after the takeover")
        scrape = standby.wait_for_scrape(up_after(SLOS, evaluated_at(scrape, SLOS[0])),
                                         timeout=10, what="a second evaluation by the new writer")
    problems = mismatches(scrape, prometheus)
    assert not problems, "\n".join(problems)
    assert not standby.logged("backfill_started")
