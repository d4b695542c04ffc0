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

from slo_exporter.demo import MAX_NOTIFICATION_BYTES, DemoTarget, make_server, serve


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


@pytest.fixture
def demo_url() -> Iterator[str]:
    """A demo target serving on a free 127.0.0.1 port."""
    httpd = make_server("127.0.0.1:0", DemoTarget(0.0))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


NOTIFICATION = {
    "status": "firing",
    "receiver": "pager",
    "alerts": [{"status": "firing", "labels": {
        "alertname": "SLOBurnRatePage", "service": "demo", "slo": "availability"}}],
}


def test_alert_notification_is_logged_and_not_counted(demo_url: str) -> None:
    """An Alertmanager webhook POST is logged per receiver and is not a demo request."""
    with capture_logs() as logs:
        resp = requests.post(f"{demo_url}/-/alerts/pager", json=NOTIFICATION, timeout=5)
    assert resp.status_code == 200, resp.text
    assert logs == [{"event": "alert_notification", "receiver": "pager", "status": "firing",
                     "alerts": ["SLOBurnRatePage demo/availability"], "log_level": "info"}]
    metrics = requests.get(f"{demo_url}/metrics", timeout=5).text
    assert 'demo_requests_total{code="200"} 0.0' in metrics


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"status": "firing", "alerts": [1]}'])
def test_malformed_notification_is_a_400(demo_url: str, body: bytes) -> None:
    """A body that is not an Alertmanager notification gets 400, and the demo keeps serving."""
    resp = requests.post(f"{demo_url}/-/alerts/pager", data=body, timeout=5)
    assert resp.status_code == 400
    assert requests.get(f"{demo_url}/", timeout=5).status_code == 200


@pytest.mark.parametrize("length", ["-5", "abc", "²", str(MAX_NOTIFICATION_BYTES + 1)])
def test_bad_or_huge_content_length_is_refused_without_reading(
        demo_url: str, length: str) -> None:
    """A negative, non-numeric or oversized Content-Length is refused at once, body unread."""
    port = int(demo_url.rsplit(":", 1)[1])
    with closing(socket.create_connection(("127.0.0.1", port), timeout=5)) as conn:
        conn.sendall(f"POST /-/alerts/pager HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode())
        answer = conn.recv(200).decode(errors="replace")
    assert answer.split(" ", 2)[1] in {"400", "413"}, answer
