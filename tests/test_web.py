"""HTTP endpoints: the current snapshot, bounded under hostile clients, TLS and basic auth."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from slo_exporter.exposition import SnapshotCollector
from slo_exporter.snapshot import Snapshot
from slo_exporter.web import (
    BasicAuth,
    Limits,
    Page,
    WebServer,
    connection_cap,
    json_page,
    parse_listen_address,
)
from tests.support.helpers import ratio_slo, status
from tests.support.probe_servers import PKI, make_pki


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


# --- TLS and basic auth from the web config file --------------------------------------------

PASSWORD = "correct horse battery staple"
#: cost 10, as htpasswd -B makes by default: slow enough to show the cache at work
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
#: the servers under test use a cheap cost so the many 401 cases stay fast
SERVER_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """A second, unrelated CA with its own certificates."""
    return make_pki(tmp_path_factory.mktemp("other-pki"))


def _serve(web_config: Path, pages: dict[str, Page] | None = None,
           timeout: float = 2.0) -> WebServer:
    holder = Holder()
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(holder))
    server = WebServer("127.0.0.1:0", reg, holder, pages=pages, web_config_file=str(web_config),
                       limits=Limits(request_timeout=timeout, workers=4))
    server.start()
    return server


@pytest.fixture
def tls_auth(tmp_path: Path, pki: PKI) -> Iterator[tuple[str, PKI, Path]]:
    """An HTTPS server with one basic-auth user and a security header."""
    web = tmp_path / "web.yml"
    web.write_text(f"""
tls_server_config:
  cert_file: {pki.valid_cert}
  key_file: {pki.key}
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
basic_auth_users:
  prometheus: {SERVER_HASH}
""")
    server = _serve(web, pages={"/boom": _raising_page})
    try:
        yield f"https://127.0.0.1:{server.port}", pki, web
    finally:
        server.stop()


def test_tls_with_right_password_answers(tls_auth: tuple[str, PKI, Path]) -> None:
    """A client trusting the CA, with the right password, gets /metrics over TLS."""
    base, pki, _ = tls_auth
    resp = requests.get(f"{base}/metrics", auth=("prometheus", PASSWORD), verify=str(pki.ca),
                        timeout=5)
    assert resp.status_code == 200
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("auth", [
    None, ("prometheus", "wrong"), ("nobody", PASSWORD), ("prometheus", ""),
    ("prometheus", PASSWORD + "x"), ("Prometheus", PASSWORD),
])
@pytest.mark.parametrize("path", ["/metrics", "/-/healthy", "/", "/nope"])
def test_missing_or_wrong_credentials_get_401(
        tls_auth: tuple[str, PKI, Path], auth: tuple[str, str] | None, path: str) -> None:
    """Every path, /-/healthy included (as in exporter-toolkit), needs the right credentials."""
    base, pki, _ = tls_auth
    resp = requests.get(f"{base}{path}", auth=auth, verify=str(pki.ca), timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Basic"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("header", [
    "Bearer abc", "Basic", "Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode(),
])
def test_malformed_authorization_headers_get_401(
        tls_auth: tuple[str, PKI, Path], header: str) -> None:
    """Other schemes and undecodable Basic tokens are refused, not crashed on."""
    base, pki, _ = tls_auth
    resp = requests.get(f"{base}/metrics", headers={"Authorization": header}, verify=str(pki.ca),
                        timeout=5)
    assert resp.status_code == 401


def test_plain_http_against_the_tls_port_gets_400(tls_auth: tuple[str, PKI, Path]) -> None:
    """An http:// client is told it spoke HTTP to an HTTPS server."""
    base, _, _ = tls_auth
    resp = requests.get(base.replace("https://", "http://") + "/metrics", timeout=5)
    assert resp.status_code == 400
    assert "HTTPS" in resp.text


def test_a_client_trusting_another_ca_refuses_the_server(
        tls_auth: tuple[str, PKI, Path], other_pki: PKI) -> None:
    """The server's certificate does not verify against an unrelated CA."""
    base, _, _ = tls_auth
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{base}/metrics", auth=("prometheus", PASSWORD), verify=str(other_pki.ca),
                     timeout=5)


def test_an_expired_server_certificate_is_refused_by_clients(tmp_path: Path, pki: PKI) -> None:
    """Serving an expired certificate fails verification on the client, not silently."""
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {pki.expired_cert}\n  key_file: {pki.key}\n")
    server = _serve(web)
    try:
        with pytest.raises(requests.exceptions.SSLError, match="expired"):
            requests.get(f"https://127.0.0.1:{server.port}/-/healthy",
                         verify=str(pki.ca), timeout=5)
    finally:
        server.stop()


def test_successful_checks_are_cached_and_failures_never_let_a_guess_through() -> None:
    """A known-good password skips bcrypt next time; a wrong one is refused before and after."""
    auth = BasicAuth()
    users = (("prometheus", HASH.encode()),)

    def header(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert auth.check(users, header("prometheus", "guess")) is False
    start = time.monotonic()
    assert auth.check(users, header("prometheus", PASSWORD)) is True
    first = time.monotonic() - start
    start = time.monotonic()
    for _ in range(10):
        assert auth.check(users, header("prometheus", PASSWORD)) is True
    cached = (time.monotonic() - start) / 10
    assert cached < first / 10
    assert auth.check(users, header("prometheus", "guess")) is False
    assert auth.check(users, header("prometheus", PASSWORD[:-1])) is False
    assert auth.check(users, header("other", PASSWORD)) is False
    # a changed hash for the same password is a new key: no stale verdict is reused
    assert auth.check((("prometheus", bcrypt.hashpw(b"new", bcrypt.gensalt(4))),),
                      header("prometheus", PASSWORD)) is False


def test_credential_checks_beyond_the_waiting_slots_get_503_not_a_stuck_worker() -> None:
    """While bcrypt is busy and every waiting slot is taken, a new uncached guess is shed."""
    auth = BasicAuth(waiters=1)
    users = (("prometheus", HASH.encode()),)
    guess = "Basic " + base64.b64encode(b"prometheus:guess-1").decode()
    busy = threading.Thread(target=auth.check, args=(users, guess))
    busy.start()
    time.sleep(0.02)
    try:
        other = "Basic " + base64.b64encode(b"prometheus:guess-2").decode()
        assert auth.check(users, other) is None
    finally:
        busy.join()


def test_client_certificates_are_required_and_verified(
        tmp_path: Path, pki: PKI, other_pki: PKI) -> None:
    """RequireAndVerifyClientCert: no certificate or one from another CA fails the handshake."""
    web = tmp_path / "web.yml"
    web.write_text(f"""
tls_server_config:
  cert_file: {pki.valid_cert}
  key_file: {pki.key}
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: {pki.ca}
""")
    server = _serve(web)
    url = f"https://127.0.0.1:{server.port}/-/healthy"
    try:
        good = requests.get(url, verify=str(pki.ca), cert=(str(pki.valid_cert), str(pki.key)),
                            timeout=5)
        assert good.status_code == 200
        for cert in (None, (str(other_pki.valid_cert), str(other_pki.key))):
            with pytest.raises(requests.exceptions.ConnectionError):
                requests.get(url, verify=str(pki.ca), cert=cert, timeout=5)
    finally:
        server.stop()


def test_tls_versions_below_the_minimum_are_refused(tmp_path: Path, pki: PKI) -> None:
    """min_version: TLS13 refuses a TLS 1.2 client."""
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {pki.valid_cert}\n"
                   f"  key_file: {pki.key}\n  min_version: TLS13\n")
    server = _serve(web)
    try:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
                pytest.raises(ssl.SSLError):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"
    finally:
        server.stop()


def test_a_slow_tls_handshake_is_cut_off(tmp_path: Path, pki: PKI) -> None:
    """A client that starts a TLS record and stalls is closed at the request deadline."""
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {pki.valid_cert}\n  key_file: {pki.key}\n")
    server = _serve(web, timeout=0.5)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01")
            start = time.monotonic()
            assert sock.recv(1) == b""
            assert 0.3 < time.monotonic() - start < 1.5
    finally:
        server.stop()


def test_passwords_hashes_and_authorization_headers_never_reach_the_logs(
        tls_auth: tuple[str, PKI, Path]) -> None:
    """Right and wrong logins, a failing page and a bad reload log no credential at debug level."""
    base, pki, web = tls_auth
    secrets = [PASSWORD, SERVER_HASH, base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode(),
               "wrong-guess-7", base64.b64encode(b"prometheus:wrong-guess-7").decode()]
    with capture_logs() as logs:
        requests.get(f"{base}/metrics", auth=("prometheus", PASSWORD),
                     verify=str(pki.ca), timeout=5)
        requests.get(f"{base}/metrics", auth=("prometheus", "wrong-guess-7"), verify=str(pki.ca),
                     timeout=5)
        requests.get(f"{base}/boom", auth=("prometheus", PASSWORD), verify=str(pki.ca), timeout=5)
        web.write_text(web.read_text().replace(SERVER_HASH, SERVER_HASH[:-5] + "!!!!!"))
        requests.get(f"{base}/metrics", auth=("prometheus", PASSWORD),
                     verify=str(pki.ca), timeout=5)
    events = {e["event"] for e in logs}
    assert {"render_failed", "web_config_reload_failed"} <= events
    text = repr(logs)
    for secret in (*secrets, SERVER_HASH[:-5]):
        assert secret not in text


def test_a_changed_web_config_applies_to_new_connections(tls_auth: tuple[str, PKI, Path]) -> None:
    """A new password hash in the file is used without a restart (no SIGHUP needed)."""
    base, pki, web = tls_auth
    new_hash = bcrypt.hashpw(b"rotated", bcrypt.gensalt(4)).decode()
    assert requests.get(f"{base}/-/healthy", auth=("prometheus", PASSWORD), verify=str(pki.ca),
                        timeout=5).status_code == 200
    web.write_text(web.read_text().replace(SERVER_HASH, new_hash))
    with capture_logs() as logs:
        old = requests.get(f"{base}/-/healthy", auth=("prometheus", PASSWORD), verify=str(pki.ca),
                           timeout=5)
    assert old.status_code == 401
    assert any(e["event"] == "web_config_reloaded" for e in logs)
    assert requests.get(f"{base}/-/healthy", auth=("prometheus", "rotated"), verify=str(pki.ca),
                        timeout=5).status_code == 200


PROBE_ONLY = """\
services:
  - name: shop
    slos:
      - name: homepage
        objective: 99
        window: 1d
        sli:
          probe:
            tcp: {address: "127.0.0.1:9"}
            interval: 1s
            timeout: 500ms
"""


def test_run_serves_https_with_basic_auth_from_web_config_file(tmp_path: Path, pki: PKI) -> None:
    """slo-exporter run --web.config.file=...: HTTPS, 401 without the password, 200 with it."""
    config = tmp_path / "config.yaml"
    config.write_text(PROBE_ONLY)
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {pki.valid_cert}\n  key_file: {pki.key}\n"
                   f"basic_auth_users:\n  prometheus: {SERVER_HASH}\n")
    with socket.socket() as probe_port:
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "slo_exporter", "run", f"--config.file={config}",
         f"--web.config.file={web}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.path={tmp_path / 'data'}", "--log.level=debug"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    url = f"https://127.0.0.1:{port}/-/healthy"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                resp = requests.get(url, verify=str(pki.ca), timeout=2)
                break
            except requests.exceptions.ConnectionError:
                assert proc.poll() is None, "the daemon exited"
                assert time.monotonic() < deadline, "the daemon did not listen within 20 s"
                time.sleep(0.1)
        assert resp.status_code == 401
        resp = requests.get(url, verify=str(pki.ca), auth=("prometheus", PASSWORD), timeout=2)
        assert resp.status_code == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert PASSWORD not in err
    assert SERVER_HASH not in err


@pytest.mark.parametrize(("configured", "fd_limit", "cap"), [
    (128, 1024, 128), (128, 256, 64), (500, 64, 16), (128, None, 128), (128, 2, 1),
])
def test_the_connection_cap_leaves_three_quarters_of_the_fds(
        configured: int, fd_limit: int | None, cap: int) -> None:
    """Clients may hold at most a quarter of the process's descriptors."""
    assert connection_cap(configured, fd_limit) == cap


SERVER_AT_LOW_FD_LIMIT = """\
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from prometheus_client import CollectorRegistry
from slo_exporter.snapshot import Snapshot
from slo_exporter.web import Limits, WebServer
server = WebServer("127.0.0.1:0", CollectorRegistry(), Snapshot,
                   limits=Limits(request_timeout=5.0, max_connections=1000))
server.start()
print(server.port, server.max_connections, flush=True)
sys.stdin.read()
server.stop()
"""


def test_hundreds_of_slow_clients_at_a_64_fd_limit_do_not_take_metrics_down() -> None:
    """300 slow clients against a server process limited to 64 fds: /metrics answers at once."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_AT_LOW_FD_LIMIT], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert proc.stdout is not None
    port, cap = map(int, proc.stdout.readline().split())
    assert cap == 16
    slow: list[socket.socket] = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
            slow.append(sock)
        time.sleep(0.2)
        assert len(os.listdir(f"/proc/{proc.pid}/fd")) < 64
        start = time.monotonic()
        with requests.Session() as scraper:
            resp = scraper.get(f"http://127.0.0.1:{port}/metrics", timeout=3)
        assert resp.status_code == 200
        assert time.monotonic() - start < 1.0
        assert proc.poll() is None
    finally:
        for sock in slow:
            sock.close()
        _, err = proc.communicate("", timeout=10)
    assert "EMFILE" not in err
    assert "Too many open files" not in err


def test_a_client_that_never_reads_its_answer_is_dropped_at_the_deadline() -> None:
    """Slow read: an unread 4 MB answer holds its connection only until the deadline."""
    holder = Holder()
    big = b"x" * 4_000_000
    server = WebServer("127.0.0.1:0", CollectorRegistry(), holder, limits=FAST,
                       pages={"/big": lambda: ("text/plain", big)})
    server.start()
    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(b"GET /big HTTP/1.1\r\n\r\n")
            time.sleep(0.2)
            assert server.connections == 1
            deadline = time.monotonic() + 2
            while server.connections and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.connections == 0
    finally:
        server.stop()


class _BuggyOnce(WebServer):
    """Raises an unexpected error while reading the first connection, as a bug would."""

    tripped = False

    def _read(self, conn: Any) -> None:
        if not self.tripped:
            self.tripped = True
            raise KeyError("bug")
        super()._read(conn)


def test_an_unexpected_error_on_one_connection_does_not_stop_the_server() -> None:
    """A bug met while handling one connection closes it, logs connection_failed, serves on."""
    server = _BuggyOnce("127.0.0.1:0", CollectorRegistry(), Holder(), limits=FAST)
    server.start()
    try:
        with capture_logs() as logs, pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{server.port}/-/healthy", timeout=2)
        assert [e["event"] for e in logs] == ["connection_failed"]
        assert requests.get(f"http://127.0.0.1:{server.port}/-/healthy", timeout=2).ok
    finally:
        server.stop()


SERVER_OUT_OF_FDS = """\
import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from prometheus_client import CollectorRegistry
from slo_exporter import logs
from slo_exporter.snapshot import Snapshot
from slo_exporter.web import Limits, WebServer
logs.configure("info", "logfmt")
server = WebServer("127.0.0.1:0", CollectorRegistry(), Snapshot,
                   limits=Limits(request_timeout=5.0))
server.start()
hog = []
while len(os.listdir("/proc/self/fd")) < 60:  # something else in the process took the fds
    hog.append(open(os.devnull))
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""


def test_running_out_of_fds_neither_spins_nor_stops_the_server() -> None:
    """EMFILE on accept: one accept_failed line, no busy loop, and /metrics is answered again."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_OUT_OF_FDS], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds() -> float:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    idle: list[socket.socket] = []
    try:
        before = cpu_seconds()
        for _ in range(12):
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.sendall(b"GET /metrics HTTP/1.1\r\n")
            idle.append(sock)
        with requests.Session() as scraper:
            resp = scraper.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert resp.status_code == 200
        assert cpu_seconds() - before < 1.0
        assert proc.poll() is None
    finally:
        for sock in idle:
            sock.close()
        _, err = proc.communicate("", timeout=10)
    assert err.count("event=accept_failed") == 1
    assert "Too many open files" in err
