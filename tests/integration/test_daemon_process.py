"""The daemon as an operator meets it: the real command line, run as a subprocess.

Covers shutdown on SIGTERM, located config errors without tracebacks,
unusable storage and listen addresses, a Prometheus that cannot be reached,
``promtool check metrics`` on a real scrape, and the shipped default config
started exactly as ``make run`` starts it.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests
import yaml
from alerting_chain import FlakyTarget
from harness import (
    HOST,
    ExporterFactory,
    ExporterProcess,
    HarnessError,
    Scrape,
    exporter_argv,
    free_port,
    require_binary,
    running,
    wait_until,
)

from slo_exporter.store import SQLiteStore

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "example.yaml"
#: what `make run` uses (Makefile: LISTEN, DEMO_LISTEN)
MAKE_RUN_PORT = 10950
DEMO_PORT = 8080
CLI_TIMEOUT = 30.0


def run_cli(*args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``slo-exporter ARGS`` to completion; a hang fails the test."""
    try:
        return subprocess.run([*exporter_argv(), *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"slo-exporter {' '.join(args)} did not exit within {timeout:g}s",
                    pytrace=False)


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


def probe_slo(name: str, url: str) -> dict[str, Any]:
    return {
        "name": name,
        "objective": 99,
        "window": "1d",
        "sli": {"probe": {"http": {"url": url}, "interval": "1s", "timeout": "500ms"}},
    }


def ratio_slo(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "objective": 99.5,
        "window": "30d",
        "sli": {"ratio": {"bad": 'http_requests_total{code=~"5.."}',
                          "total": "http_requests_total"}},
    }


def config(services: dict[str, list[dict[str, Any]]], prometheus_url: str) -> dict[str, Any]:
    """A config document probing every second, evaluating every second."""
    return {
        "prometheus": {"url": prometheus_url, "timeout": "1s", "retries": 1},
        "evaluation_interval": "1s",
        "services": [{"name": name, "slos": slos} for name, slos in services.items()],
    }


def closed_port_url() -> str:
    """A Prometheus URL on a loopback port nothing listens on."""
    return f"http://{HOST}:{free_port()}"


def json_events(exporter: ExporterProcess) -> list[str]:
    """The ``event`` of every JSON log line the daemon wrote, in order."""
    events = []
    for line in exporter.log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            events.append(str(json.loads(line).get("event")))
    return events


def fail_on_harness_error(exc: HarnessError) -> NoReturn:
    pytest.fail(str(exc), pytrace=False)


# ------------------------------------------------------------------ shutdown


def test_sigterm_stops_cleanly_and_leaves_the_store_intact(
    make_exporter: ExporterFactory, tmp_path: Path
) -> None:
    """SIGTERM: exit 0 within 15 s, shutdown_requested then stopped logged, store reopens."""
    target = FlakyTarget()
    target.start()
    try:
        exporter = make_exporter(config({"shop": [probe_slo("homepage", f"{target.url}/")]},
                                        closed_port_url()))
        exporter.start(ready_timeout=30)
        exporter.wait_for_scrape(
            lambda s: (s.get("slo_events", service="shop", slo="homepage", window="1h",
                             result="good") or 0) >= 2,
            timeout=15, what="two probe events stored")
        started = time.monotonic()
        code = exporter.terminate(timeout=15)
        took = time.monotonic() - started
    finally:
        target.stop()

    assert code == 0, f"exit code {code} after SIGTERM\n{exporter.log_tail()}"
    events = json_events(exporter)
    assert "shutdown_requested" in events, events
    assert "stopped" in events, events
    assert events.index("shutdown_requested") < events.index("stopped"), events
    assert took < 15

    db = exporter.storage / "events.db"
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with SQLiteStore(exporter.storage, 60.0) as store:
        assert store.slo_keys() == ("shop/homepage",)
        assert store.sum("shop/homepage", 0.0, time.time() + 3600).total >= 2


# ------------------------------------------------------------ user errors


BAD_OBJECTIVE = """\
services:
  - name: shop
    slos:
      - name: homepage
        objective: 150
        window: 30d
        sli:
          probe:
            http: {url: "http://127.0.0.1:9/"}
            interval: 1s
            timeout: 500ms
"""


@pytest.mark.parametrize("command", ["run", "check"])
def test_invalid_config_exits_1_with_located_problems(command: str, tmp_path: Path) -> None:
    """An invalid config exits 1 with FILE:LINE: field.path: reason lines and no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_OBJECTIVE)
    extra = ([f"--storage.path={tmp_path / 'storage'}",
              f"--web.listen-address={HOST}:{free_port()}"] if command == "run" else [])
    done = run_cli(command, f"--config.file={path}", *extra)

    assert done.returncode == 1, done
    line = re.compile(rf"^{re.escape(str(path))}:5: services\[0\]\.slos\[0\]\.objective: .*150",
                      re.MULTILINE)
    assert line.search(done.stderr), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "storage").exists(), "run created storage for a config it rejected"


def test_check_accepts_a_valid_config(tmp_path: Path) -> None:
    """`check` on a valid config exits 0 and says OK."""
    path = tmp_path / "good.yaml"
    path.write_text(BAD_OBJECTIVE.replace("150", "99"))
    done = run_cli("check", f"--config.file={path}")

    assert done.returncode == 0, done
    assert "OK" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr


def test_storage_path_that_is_a_file_exits_1_clearly(tmp_path: Path) -> None:
    """A storage path that is a regular file: exit 1, a message naming it, no traceback."""
    cfg = tmp_path / "slo.yaml"
    cfg.write_text(BAD_OBJECTIVE.replace("150", "99"))
    storage = tmp_path / "not-a-dir"
    storage.write_text("a file, not a directory\n")
    done = run_cli("run", f"--config.file={cfg}", f"--storage.path={storage}",
                   f"--web.listen-address={HOST}:{free_port()}")

    output = done.stdout + done.stderr
    assert done.returncode == 1, done
    assert "storage_unusable" in output, output
    assert str(storage) in output, output
    assert "Traceback" not in output
    assert storage.read_text() == "a file, not a directory\n"


def test_listen_port_in_use_exits_1_clearly(tmp_path: Path) -> None:
    """A listen address already taken: exit 1, a message naming it, no traceback."""
    cfg = tmp_path / "slo.yaml"
    cfg.write_text(BAD_OBJECTIVE.replace("150", "99"))
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        address = f"{HOST}:{taken.getsockname()[1]}"
        done = run_cli("run", f"--config.file={cfg}", f"--storage.path={tmp_path / 'storage'}",
                       f"--web.listen-address={address}")

    output = done.stdout + done.stderr
    assert done.returncode == 1, done
    assert "listen_failed" in output, output
    assert address in output, output
    assert "in use" in output, output
    assert "Traceback" not in output


# ---------------------------------------------------------- source down


def test_unreachable_prometheus_keeps_the_daemon_up(make_exporter: ExporterFactory) -> None:
    """Prometheus unreachable: ready, slo_sli_up 0, connection errors counted, still alive."""
    exporter = make_exporter(config({"api": [ratio_slo("availability")]}, closed_port_url()))
    exporter.start(ready_timeout=30)

    def down(s: Scrape) -> bool:
        errors = s.get("slo_exporter_query_errors_total", reason="connection") or 0
        return s.get("slo_sli_up", service="api", slo="availability") == 0 and errors > 0

    first = exporter.wait_for_scrape(down, timeout=15, what="slo_sli_up 0 and connection errors")
    cycles = first.value("slo_exporter_evaluations_total")
    later = exporter.wait_for_scrape(
        lambda s: s.value("slo_exporter_evaluations_total") >= cycles + 3,
        timeout=15, what="three more evaluation cycles")

    assert exporter.alive
    assert later.value("slo_sli_up", service="api", slo="availability") == 0
    assert (later.value("slo_exporter_query_errors_total", reason="connection")
            > first.value("slo_exporter_query_errors_total", reason="connection"))
    assert requests.get(f"{exporter.url}/-/ready", timeout=5).status_code == 200


# -------------------------------------------------------------- promtool


def test_metrics_pass_promtool_check(make_exporter: ExporterFactory) -> None:
    """`promtool check metrics` accepts /metrics with probe metrics and a down Prometheus SLO."""
    try:
        promtool = require_binary("promtool")
    except HarnessError as exc:
        fail_on_harness_error(exc)
    target = FlakyTarget()
    target.start()
    try:
        exporter = make_exporter(config({
            "shop": [probe_slo("homepage", f"{target.url}/")],
            "api": [ratio_slo("availability")],
        }, closed_port_url()))
        exporter.start(ready_timeout=30)
        scrape = exporter.wait_for_scrape(
            lambda s: (s.get("slo_probe_success", service="shop", slo="homepage") == 1
                       and s.get("slo_sli_up", service="shop", slo="homepage") == 1
                       and s.get("slo_sli_up", service="api", slo="availability") == 0),
            timeout=15, what="probe metrics and both SLOs evaluated")
    finally:
        target.stop()

    assert scrape.find("slo_probe_latency_seconds_bucket", service="shop")
    done = subprocess.run([promtool, "check", "metrics"], input=scrape.text, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, check=False)
    assert done.returncode == 0, f"promtool check metrics:\n{done.stdout}{done.stderr}"


# --------------------------------------------------- the shipped default


class MakeRunExporter(ExporterProcess):
    """The daemon started exactly as `make run` does: shipped config, default flags."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, yaml.safe_load(EXAMPLE_CONFIG.read_text()), port=MAKE_RUN_PORT)

    def argv(self) -> list[str]:
        return [
            *exporter_argv(), "run",
            f"--config.file={EXAMPLE_CONFIG}",
            f"--storage.path={self.storage}",
            f"--web.listen-address={HOST}:{self.port}",
        ]


@contextmanager
def demo_target(log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`slo-exporter demo` on the `make run` address; stopped on the way out."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [*exporter_argv(), "demo", f"--listen-address={HOST}:{DEMO_PORT}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_shipped_config_works_on_a_fresh_machine(tmp_path: Path) -> None:
    """`make run`'s setup: ready, both probe SLOs counting, burn rate follows injected failures."""
    taken = [port for port in (DEMO_PORT, MAKE_RUN_PORT) if listening(port)]
    if taken:
        pytest.fail(f"127.0.0.1 port(s) {taken} already in use; this test runs the `make run` "
                    "setup on its fixed ports 8080 and 10950. Stop what listens there and retry.",
                    pytrace=False)
    prometheus_running = listening(9090)
    exporter = MakeRunExporter(tmp_path / "exporter")
    with demo_target(tmp_path / "demo.log") as demo:
        try:
            wait_until(lambda: True if listening(DEMO_PORT) else None, timeout=15,
                       what="the demo target on :8080", on_timeout=lambda: f"demo: {demo.poll()}")
            with running(exporter):
                exporter.start(ready_timeout=30)

                def probes_counted(s: Scrape) -> bool:
                    return all(
                        s.get("slo_sli_up", service=svc, slo=slo) == 1
                        and (s.get("slo_events", service=svc, slo=slo, window="5m",
                                   result="good") or 0) > 0
                        for svc, slo in (("demo", "availability"), ("slo-exporter", "health"))
                    )

                scrape = exporter.wait_for_scrape(
                    probes_counted, timeout=20, what="demo and self-health probe events")
                up = scrape.value("slo_sli_up", service="prometheus", slo="api-availability")
                assert up == 0 or (prometheus_running and up == 1), (
                    f"prometheus SLO slo_sli_up {up}; something on :9090: {prometheus_running}")

                resp = requests.post(f"http://{HOST}:{DEMO_PORT}/-/failure-ratio", data="1",
                                     timeout=5)
                assert resp.status_code == 200, resp.text
                exporter.wait_for_scrape(
                    lambda s: (s.get("slo_burn_rate", service="demo", window="5m") or 0) > 0,
                    timeout=10, what="demo 5m burn rate above 0 after injecting failures")
                assert demo.poll() is None, "the demo target exited"
        except HarnessError as exc:
            fail_on_harness_error(exc)
    assert exporter.returncode == 0, exporter.log_tail()
