"""The daemon as an operator meets it: the real command line, run as a subprocess.

Covers shutdown on SIGTERM, located config errors without tracebacks,
unusable storage and listen addresses, a Prometheus that cannot be reached,
``promtool check metrics`` on a real scrape, and ``make run`` itself on free
ports: the shipped default config probing the demo it started, and clear stops
when either port is taken.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests

from slo_exporter.store import SQLiteStore
from tests.support.alerting_chain import FlakyTarget
from tests.support.harness import (
    HOST,
    ExporterFactory,
    ExporterProcess,
    HarnessError,
    Scrape,
    exporter_argv,
    free_port,
    require_binary,
    wait_until,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
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


@dataclass
class MakeRun:
    """``make run`` on two free ports, with a stand-in venv that runs this checkout."""

    listen: str
    demo_listen: str
    proc: subprocess.Popen[str]
    log_path: Path

    @property
    def demo_url(self) -> str:
        return f"http://{self.demo_listen}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def scrape(self) -> Scrape | None:
        try:
            resp = requests.get(f"http://{self.listen}/metrics", timeout=2)
        except requests.RequestException:
            return None
        return Scrape(resp.text) if resp.status_code == 200 else None

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make run still running after {timeout:g}s\n{self.output()}",
                        pytrace=False)

    def stop(self) -> None:
        """Ctrl-C to the whole group, as a terminal sends it; SIGKILL if it lingers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def stand_in_venv(path: Path) -> Path:
    """A venv directory whose python and slo-exporter run this checkout, marked as installed."""
    bin_dir = path / "bin"
    bin_dir.mkdir(parents=True)
    for name, argv in (("python", [sys.executable]), ("slo-exporter", exporter_argv())):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nexec {shlex.join(argv)} "$@"\n')
        script.chmod(0o755)
    (path / ".runtime").touch()  # newer than pyproject.toml: make installs nothing
    return path


@contextmanager
def make_run(tmp_path: Path, listen: str, demo_listen: str) -> Iterator[MakeRun]:
    """Start ``make run LISTEN=... DEMO_LISTEN=...`` in its own process group; always stop it."""
    require_binary("make")
    log_path = tmp_path / "make-run.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            ["make", "-s", "-C", str(ROOT), "run", f"VENV={stand_in_venv(tmp_path / 'venv')}",
             f"STORAGE={tmp_path / 'data'}", f"LISTEN={listen}", f"DEMO_LISTEN={demo_listen}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env,
            start_new_session=True)
    run = MakeRun(listen, demo_listen, proc, log_path)
    try:
        yield run
    finally:
        run.stop()


def test_make_run_probes_the_demo_it_started_on_the_given_ports(tmp_path: Path) -> None:
    """`make run LISTEN=… DEMO_LISTEN=…`: the shipped config's probes follow both addresses."""
    listen, demo_listen = f"{HOST}:{free_port()}", f"{HOST}:{free_port()}"
    prometheus_running = listening(9090)
    with make_run(tmp_path, listen, demo_listen) as run:
        try:
            def probes_counted() -> Scrape | None:
                assert run.proc.poll() is None, run.output()
                scrape = run.scrape()
                if scrape is None or not all(
                    scrape.get("slo_sli_up", service=svc, slo=slo) == 1
                    and (scrape.get("slo_events", service=svc, slo=slo, window="5m",
                                    result="good") or 0) > 0
                    for svc, slo in (("demo", "availability"), ("slo-exporter", "health"))
                ):
                    return None
                return scrape

            scrape = wait_until(probes_counted, timeout=40, what="demo and self-health events",
                                on_timeout=run.output)
            up = scrape.value("slo_sli_up", service="prometheus", slo="api-availability")
            assert up == 0 or (prometheus_running and up == 1), (
                f"prometheus SLO slo_sli_up {up}; something on :9090: {prometheus_running}")
            demo_metrics = requests.get(f"{run.demo_url}/metrics", timeout=5).text
            served = Scrape(demo_metrics).value("demo_requests_total", code="200")
            assert served > 0, "the demo on DEMO_LISTEN was never probed"

            resp = requests.post(f"{run.demo_url}/-/failure-ratio", data="1", timeout=5)
            assert resp.status_code == 200, resp.text
            wait_until(
                lambda: True if ((s := run.scrape()) is not None
                                 and (s.get("slo_burn_rate", service="demo", window="5m") or 0)
                                 > 0) else None,
                timeout=15, what="demo 5m burn rate above 0 after injecting failures",
                on_timeout=run.output)
        except HarnessError as exc:
            fail_on_harness_error(exc)
    assert "Traceback" not in run.output()
    assert not listening(int(listen.rsplit(":", 1)[1])), "the daemon outlived make run"
    assert not listening(int(demo_listen.rsplit(":", 1)[1])), "the demo outlived make run"


def test_make_run_stops_when_the_demo_port_is_taken(tmp_path: Path) -> None:
    """DEMO_LISTEN taken: make run exits non-zero with one clear line; the daemon never starts."""
    listen = f"{HOST}:{free_port()}"
    with closing(socket.create_server((HOST, 0))) as taken:
        demo_listen = f"{HOST}:{taken.getsockname()[1]}"
        with make_run(tmp_path, listen, demo_listen) as run:
            code = run.wait_exit(timeout=30)
    output = run.output()
    assert code != 0, output
    assert f"{demo_listen} is already in use" in output, output
    assert "Traceback" not in output
    assert "event=listening" not in output, "the daemon started and probed a foreign server"


def test_make_run_stops_the_demo_when_the_daemon_cannot_listen(tmp_path: Path) -> None:
    """LISTEN taken: the daemon's listen_failed ends make run, and the demo it started goes too."""
    demo_port = free_port()
    with closing(socket.create_server((HOST, 0))) as taken:
        listen = f"{HOST}:{taken.getsockname()[1]}"
        with make_run(tmp_path, listen, f"{HOST}:{demo_port}") as run:
            code = run.wait_exit(timeout=30)
    output = run.output()
    assert code != 0, output
    assert "listen_failed" in output, output
    assert "Traceback" not in output
    wait_until(lambda: True if not listening(demo_port) else None, timeout=10,
               what="the demo to stop with make run")
