"""The demo target answers 200 or injected 500s and counts them."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing

import pytest
import requests
from structlog.testing import capture_logs

from slo_exporter.demo import DemoTarget, make_server, serve


def test_failure_injection_round_trip() -> None:
    """POSTing a failure ratio makes the demo answer 500s, and /metrics counts them."""
    target = DemoTarget(0.0, rng=random.Random(1))
    httpd = make_server("127.0.0.1:0", target)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        assert requests.get(base + "/", timeout=5).status_code == 200
        assert requests.post(base + "/-/failure-ratio", data="1", timeout=5).status_code == 200
        assert requests.get(base + "/", timeout=5).status_code == 500
        assert requests.post(base + "/-/failure-ratio?ratio=2", timeout=5).status_code == 400
        metrics = requests.get(base + "/metrics", timeout=5).text
        assert 'demo_requests_total{code="500"} 1.0' in metrics
        assert 'demo_requests_total{code="200"} 1.0' in metrics
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def taken_address() -> Iterator[str]:
    """A 127.0.0.1 address some other listener already holds."""
    with closing(socket.create_server(("127.0.0.1", 0))) as holder:
        yield f"127.0.0.1:{holder.getsockname()[1]}"


def test_taken_port_is_one_logged_line_and_exit_1(taken_address: str) -> None:
    """A taken listen address: serve() logs demo_listen_failed and returns 1, raising nothing."""
    with capture_logs() as logs:
        assert serve(taken_address, 0.0) == 1
    assert logs == [{"event": "demo_listen_failed", "address": taken_address,
                     "error": "Address already in use", "log_level": "error"}]


def test_bad_failure_ratio_is_refused_without_traceback() -> None:
    """A failure ratio outside [0, 1] is one logged error and exit 1, before any bind."""
    with capture_logs() as logs:
        assert serve("127.0.0.1:0", 1.5) == 1
    assert [entry["event"] for entry in logs] == ["demo_bad_failure_ratio"]


def test_cli_demo_on_a_taken_port_exits_1_with_one_line(taken_address: str) -> None:
    """`slo-exporter demo` on a taken port: exit 1, one line naming the address, no traceback."""
    done = subprocess.run(
        [sys.executable, "-m", "slo_exporter", "demo", f"--listen-address={taken_address}"],
        capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1, output
    assert len(output.splitlines()) == 1, output
    assert "demo_listen_failed" in output, output
    assert taken_address in output, output
    assert "Traceback" not in output
