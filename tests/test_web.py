"""The HTTP endpoints serve the current snapshot without ever blocking on a source."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from slo_exporter.exposition import SnapshotCollector
from slo_exporter.snapshot import Snapshot
from slo_exporter.web import Limits, WebServer, json_page, parse_listen_address
from tests.helpers import ratio_slo, status


class Holder:
    """A swappable snapshot reference, as the engine keeps one."""

    def __init__(self) -> None:
        self.current = Snapshot()

    def __call__(self) -> Snapshot:
        return self.current


@pytest.fixture
def served() -> Iterator[tuple[str, Holder]]:
    holder = Holder()
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(holder))
    server = WebServer("127.0.0.1:0", reg, holder,
                       pages={"/api/v1/slos": json_page(lambda: {"n": len(holder().slos)})})
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", holder
    finally:
        server.stop()


def test_ready_only_after_first_evaluation(served: tuple[str, Holder]) -> None:
    """/-/ready is 503 until a complete snapshot is swapped in, /-/healthy is always 200."""
    base, holder = served
    assert requests.get(f"{base}/-/healthy", timeout=5).status_code == 200
    assert requests.get(f"{base}/-/ready", timeout=5).status_code == 503
    holder.current = Snapshot(complete=True)
    assert requests.get(f"{base}/-/ready", timeout=5).status_code == 200


def test_metrics_reflect_the_swapped_snapshot(served: tuple[str, Holder]) -> None:
    """/metrics renders whatever snapshot is current at scrape time."""
    base, holder = served
    holder.current = Snapshot(slos=(status(ratio_slo(), {3600.0: (3.0, 4.0)}),), complete=True)
    body = requests.get(f"{base}/metrics", timeout=5).text
    assert 'slo_sli_ratio{service="checkout",slo="availability",window="1h"} 0.75' in body


def test_metrics_are_gzipped_when_asked(served: tuple[str, Holder]) -> None:
    """Scrapers that accept gzip get a compressed body."""
    base, _ = served
    resp = requests.get(f"{base}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "slo_" in resp.text or resp.text == ""


def test_extra_pages_and_404(served: tuple[str, Holder]) -> None:
    """Registered pages are served as JSON; unknown paths are 404."""
    base, _ = served
    assert requests.get(f"{base}/api/v1/slos", timeout=5).json() == {"n": 0}
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404


@pytest.mark.parametrize(("text", "expected"), [
    (":10950", ("0.0.0.0", 10950)),
    ("127.0.0.1:80", ("127.0.0.1", 80)),
    ("[::1]:9", ("::1", 9)),
])
def test_listen_address_parsing(text: str, expected: tuple[str, int]) -> None:
    """Listen addresses follow Prometheus's host:port convention."""
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["10950", "host:", "host:99999", "host:http"])
def test_bad_listen_address_is_rejected(text: str) -> None:
    """A malformed listen address fails with a message naming the expected form."""
    with pytest.raises(ValueError, match="host:port"):
        parse_listen_address(text)


# --- bounded under hostile clients ---------------------------------------------------------

FAST = Limits(request_timeout=0.5, max_connections=20, workers=2)


def _raising_page() -> tuple[str, bytes]:
    raise RuntimeError("template exploded")


@pytest.fixture
def bounded() -> Iterator[WebServer]:
    """A server with short limits, so attacks finish in well under a second."""
    holder = Holder()
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(holder))
    server = WebServer("127.0.0.1:0", reg, holder, limits=FAST,
                       pages={"/boom": _raising_page,
                              "/api/v1/slos": json_page(lambda: {"n": 0})})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _connect(server: WebServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=2)
    sock.settimeout(2)
    return sock


def _seconds_until_closed(sock: socket.socket, drip: bytes, every: float = 0.05,
                          limit: float = 3.0) -> float:
    """Send ``drip`` one byte at a time until the server closes; the seconds that took."""
    start = time.monotonic()
    sock.setblocking(False)
    i = 0
    while time.monotonic() - start < limit:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except BlockingIOError:
            pass
        except ConnectionResetError:
            return time.monotonic() - start
        try:
            sock.send(drip[i % len(drip):i % len(drip) + 1])
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
        i += 1
        time.sleep(every)
    return limit


def _server_fds(clients: int, baseline: int) -> int:
    """Descriptors this process holds beyond ``baseline`` that are not our client sockets."""
    return len(os.listdir("/proc/self/fd")) - baseline - clients


def test_slowloris_head_is_cut_off_after_the_request_timeout(bounded: WebServer) -> None:
    """A client dripping header bytes is closed when the whole-request deadline passes."""
    with _connect(bounded) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        took = _seconds_until_closed(sock, b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
    assert 0.4 <= took < 1.5


def test_slow_body_is_cut_off_after_the_request_timeout(bounded: WebServer) -> None:
    """A client dripping a declared body is closed at the same deadline."""
    with _connect(bounded) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nContent-Length: 4000\r\n\r\n")
        took = _seconds_until_closed(sock, b"x")
    assert 0.4 <= took < 1.5


def test_idle_connections_are_closed_after_the_request_timeout(bounded: WebServer) -> None:
    """A connection that never sends a byte does not stay open."""
    with _connect(bounded) as sock:
        start = time.monotonic()
        assert sock.recv(1) == b""
        assert time.monotonic() - start < 1.5


def _raw(server: WebServer, data: bytes) -> bytes:
    with _connect(server) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n", b"413"),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"411"),
    (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\n" + b"X: a\r\n" * 101 + b"\r\n", b"431"),
    (b"GARBAGE\r\n\r\n", b"400"),
    (b"GET / HTTP/2.0\r\n\r\n", b"505"),
    (b"GET / HTTP/1.1\r\n folded: header\r\n\r\n", b"400"),
    (b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"405"),
])
def test_bad_requests_get_an_error_and_a_close(
        bounded: WebServer, request_bytes: bytes, status: bytes) -> None:
    """Oversized, chunked, malformed and non-GET requests get a 4xx/5xx, then a close."""
    answer = _raw(bounded, request_bytes)
    assert answer.startswith(b"HTTP/1.1 " + status)


def test_a_small_body_on_a_get_is_read_and_ignored(bounded: WebServer) -> None:
    """A GET with a small declared body is served normally."""
    answer = _raw(bounded, b"GET /-/healthy HTTP/1.1\r\nContent-Length: 3\r\n"
                           b"Connection: close\r\n\r\nabc")
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"healthy.\n")


def test_pipelined_requests_on_one_connection_are_all_answered(bounded: WebServer) -> None:
    """Two requests sent in one packet get two answers in order."""
    answer = _raw(bounded, b"GET /-/healthy HTTP/1.1\r\n\r\n"
                           b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 ") == 2
    assert answer.index(b"200 OK") < answer.index(b"404 Not Found")


def test_head_answers_headers_only(bounded: WebServer) -> None:
    """HEAD gets the status and Content-Length of GET, without a body."""
    answer = _raw(bounded, b"HEAD /-/healthy HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Length: 25" in head
    assert body == b""


def test_a_failing_renderer_answers_500_and_logs_it(bounded: WebServer) -> None:
    """A page callback that raises gives a 500 and a render_failed event with the traceback."""
    with capture_logs() as logs:
        resp = requests.get(f"http://127.0.0.1:{bounded.port}/boom", timeout=5)
    assert resp.status_code == 500
    failed = [e for e in logs if e["event"] == "render_failed"]
    assert len(failed) == 1
    assert failed[0]["path"] == "/boom"
    assert "template exploded" in failed[0]["error"]
    assert isinstance(failed[0]["exc_info"], RuntimeError)
    assert requests.get(f"http://127.0.0.1:{bounded.port}/-/healthy", timeout=5).ok


def test_metrics_answer_while_more_idle_connections_than_the_cap_are_open(
        bounded: WebServer) -> None:
    """60 idle clients, cap 20: /metrics still answers and server fds stay under the cap."""
    baseline = len(os.listdir("/proc/self/fd"))
    threads = threading.active_count()
    idle = [_connect(bounded) for _ in range(60)]
    try:
        time.sleep(0.15)  # let the server accept them all
        assert _server_fds(len(idle), baseline) <= FAST.max_connections
        assert threading.active_count() <= threads + FAST.workers
        start = time.monotonic()
        with requests.Session() as scraper:
            resp = scraper.get(f"http://127.0.0.1:{bounded.port}/metrics", timeout=2)
        assert resp.status_code == 200
        assert time.monotonic() - start < 0.4  # not waiting for idle clients to time out
        assert bounded.connections <= FAST.max_connections
        # +1: the scraper's client socket may linger until its response is collected
        assert _server_fds(len(idle), baseline) <= FAST.max_connections + 1
    finally:
        for sock in idle:
            sock.close()


def test_the_listen_backlog_is_raised(bounded: WebServer) -> None:
    """The kernel queues up to 1024 pending connections (ss shows the backlog as Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{bounded.port}"], capture_output=True,
                         text=True, check=True, timeout=5).stdout.split()
    assert out[2] == str(Limits().backlog) == "1024"
