"""SIGTERM always wins: the real daemon exits 0 within 10 s whatever its queries are doing.

Prometheus here is a tiny HTTP server on 127.0.0.1 that accepts every query
and then answers one byte per second, like a Prometheus (or a proxy in
front of it) that is stuck. Kubernetes sends SIGKILL 30 s after SIGTERM.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.alerting_chain import FlakyTarget
from tests.support.harness import HOST, ExporterFactory, ExporterProcess, HarnessError, wait_until

pytestmark = pytest.mark.integration

#: SIGTERM to exit, at most
EXIT_WITHIN = 10.0


class TricklingPrometheus:
    """Answers every API call with 200 and then one byte of body per second."""

    def __init__(self) -> None:
        self.queried = threading.Event()
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.queried.set()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                while not owner._stop.wait(1.0):
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{HOST}:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> TricklingPrometheus:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def trickling() -> Iterator[TricklingPrometheus]:
    with TricklingPrometheus() as server:
        yield server


def _config(prometheus_url: str, probe_url: str) -> dict[str, Any]:
    return {
        "prometheus": {"url": prometheus_url, "timeout": "30s", "retries": 1},
        "evaluation_interval": "30s",  # a query may take as long as the interval
        "services": [{"name": "api", "slos": [
            {"name": "availability", "objective": 99.5, "window": "30d",
             "sli": {"ratio": {"bad": 'http_requests_total{code=~"5.."}',
                               "total": "http_requests_total"}}},
            {"name": "home", "objective": 99, "window": "1d",
             "sli": {"probe": {"http": {"url": probe_url}, "interval": "1s",
                               "timeout": "500ms"}}},
        ]}],
    }


def _events(exporter: ExporterProcess) -> list[str]:
    lines = exporter.log_path.read_text(errors="replace").splitlines()
    return [str(json.loads(line).get("event")) for line in lines if line.startswith("{")]


def _listening(port: int) -> bool:
    with closing(socket.socket()) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


def test_sigterm_during_a_stuck_cold_backfill_exits_0_within_10s(
        make_exporter: ExporterFactory, trickling: TricklingPrometheus) -> None:
    """SIGTERM while the cold backfill waits on a 1 byte/s answer: exit 0 in under 10 s."""
    with FlakyTarget() as target:
        exporter = make_exporter(_config(trickling.url, f"{target.url}/"))
        try:
            exporter.launch()
            assert trickling.queried.wait(30), "the daemon never queried:\n" + exporter.log_tail()
            wait_until(lambda: True if "backfill_started" in _events(exporter) else None,
                       timeout=10, what="backfill_started", on_timeout=exporter.log_tail)
            time.sleep(1.5)  # let probe events land and the query be well under way
            assert exporter.proc is not None
            started = time.monotonic()
            exporter.proc.send_signal(signal.SIGTERM)
            code = exporter.proc.wait(timeout=EXIT_WITHIN + 5)
            took = time.monotonic() - started
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)

    events = _events(exporter)
    assert took < EXIT_WITHIN, f"exit took {took:.1f}s\n{exporter.log_tail()}"
    assert code == 0, exporter.log_tail()
    assert events.index("shutdown_requested") < events.index("stopped"), events
    assert not _listening(exporter.port)
    with closing(sqlite3.connect(exporter.storage / "events.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        probes = conn.execute(
            "SELECT SUM(total) FROM bucket "  # fresh probe events are hot rows
            "WHERE slo_id = (SELECT id FROM slo WHERE slo_key = 'api/home')").fetchone()[0]
    assert probes is not None, "no probe event was stored before the stop"
    assert probes >= 1


def test_a_burst_of_signals_still_exits_0_within_10s(
        make_exporter: ExporterFactory, trickling: TricklingPrometheus) -> None:
    """SIGTERM, SIGINT and SIGHUP in a burst (a supervisor and its child both forwarding,
    Ctrl-C pressed twice) never deadlock the stop: exit 0 in under 10 s."""
    with FlakyTarget() as target:
        exporter = make_exporter(_config(trickling.url, f"{target.url}/"))
        try:
            exporter.launch()
            assert trickling.queried.wait(30), "the daemon never queried:\n" + exporter.log_tail()
            wait_until(lambda: True if "backfill_started" in _events(exporter) else None,
                       timeout=10, what="backfill_started", on_timeout=exporter.log_tail)
            assert exporter.proc is not None
            started = time.monotonic()
            # Over half a second: signals land before, during and after the stop begins.
            for i in range(60):
                exporter.proc.send_signal((signal.SIGTERM, signal.SIGINT, signal.SIGHUP)[i % 3])
                time.sleep(0.01)
            try:
                code = exporter.proc.wait(timeout=EXIT_WITHIN + 5)
            except subprocess.TimeoutExpired:
                exporter.proc.kill()
                pytest.fail("the daemon hung after a burst of signals\n" + exporter.log_tail(),
                            pytrace=False)
            took = time.monotonic() - started
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)

    assert took < EXIT_WITHIN, f"exit took {took:.1f}s\n{exporter.log_tail()}"
    assert code == 0, exporter.log_tail()
    assert _events(exporter).count("shutdown_requested") == 1
    assert "Traceback" not in exporter.log_path.read_text(errors="replace")
