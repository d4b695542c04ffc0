"""Fixtures for integration tests: real Prometheus and slo-exporter processes.

Owns: the session's synthetic history (generated once into a temp dir,
backfilled once with promtool, copied into every Prometheus data dir),
factories that start Prometheus servers and daemons and always stop them,
and turning harness errors into test failures.

Must not: skip when a binary is missing (the tests fail with a message
saying what to install), or keep anything outside pytest's temp dirs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerting_chain import WebhookReceiver
from tests.support.harness import (
    HISTORY_DAYS,
    HISTORY_LAG_SECONDS,
    CounterTarget,
    ExporterFactory,
    ExporterProcess,
    HarnessError,
    PrometheusFactory,
    PrometheusServer,
    require_binary,
)
from tests.support.synth import JobHistory, generate_job, write_openmetrics


@pytest.fixture(scope="session")
def prometheus_binaries() -> tuple[str, str]:
    """Paths of prometheus and promtool; the test fails (never skips) without them."""
    try:
        return require_binary("prometheus"), require_binary("promtool")
    except HarnessError as exc:
        problem = str(exc)
    pytest.fail(problem, pytrace=False)  # outside `except`: no chained traceback


@pytest.fixture(scope="session")
def history() -> JobHistory:
    """32 days of job="api" request counters, sampled every 30 s, ending just before now."""
    return generate_job("api", end=time.time() - HISTORY_LAG_SECONDS, days=HISTORY_DAYS, step=30)


@pytest.fixture(scope="session")
def history_blocks(
    history: JobHistory,
    prometheus_binaries: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """TSDB blocks of the history, made once per session with promtool."""
    base = tmp_path_factory.mktemp("history")
    openmetrics = base / "history.om"
    write_openmetrics(openmetrics, [history])
    builder = PrometheusServer(base / "builder")
    try:
        builder.backfill(openmetrics)
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    return builder.data_dir


@pytest.fixture
def make_prometheus(
    history_blocks: Path, tmp_path: Path
) -> Iterator[PrometheusFactory]:
    """Start a Prometheus holding the session history; all are stopped at teardown."""
    started: list[PrometheusServer] = []

    def make(
        name: str = "prometheus",
        *,
        scrape_configs: Sequence[Mapping[str, Any]] = (),
        query_log: bool = False,
    ) -> PrometheusServer:
        server = PrometheusServer(
            tmp_path / name, scrape_configs=scrape_configs, query_log=query_log
        )
        shutil.copytree(history_blocks, server.data_dir)
        started.append(server)
        try:
            server.start()
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)
        return server

    yield make
    for server in started:
        try:
            server.stop()
        except HarnessError as exc:
            print(f"prometheus teardown: {exc}")


@pytest.fixture
def make_exporter(tmp_path: Path) -> Iterator[ExporterFactory]:
    """Create (not start) slo-exporter daemons; all are stopped at teardown."""
    created: list[ExporterProcess] = []

    def make(
        config: Mapping[str, Any], name: str = "exporter", **kwargs: Any
    ) -> ExporterProcess:
        exporter = ExporterProcess(tmp_path / name, config, **kwargs)
        created.append(exporter)
        return exporter

    yield make
    for exporter in created:
        try:
            exporter.terminate()
        except HarnessError as exc:
            print(f"slo-exporter teardown: {exc}")


@pytest.fixture
def live_counters(history: JobHistory) -> Iterator[CounterTarget]:
    """A scrape target continuing the history's counters in real time."""
    with CounterTarget({history.job: (history.last_good, history.last_bad)}) as target:
        yield target


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A local webhook receiver recording every Alertmanager notification."""
    receiver = WebhookReceiver()
    receiver.start()
    yield receiver
    receiver.stop()
