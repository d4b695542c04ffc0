"""TCP and TLS probes against real local servers, friendly and hostile."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.probes import Prober, ProbeResult, ProbeScheduler, run_probe
from slo_exporter.probes.result import Clock
from tests.support.probe_servers import (
    PKI,
    TCPServer,
    closed_port,
    make_pki,
    never_answer,
    tcp_banner,
)


def probe_tls(target: model.TLSProbe, timeout: float, **clocks: Clock) -> ProbeResult:
    """One probe of ``target`` through the result envelope, as the scheduler runs it."""
    return run_probe(model.ProbeSLI(target, timeout=timeout), **clocks)


def probe_tcp(target: model.TCPProbe, timeout: float, **clocks: Clock) -> ProbeResult:
    """One probe of ``target`` through the result envelope, as the scheduler runs it."""
    return run_probe(model.ProbeSLI(target, timeout=timeout), **clocks)


TIMEOUT = 1.0
SLACK = 0.5


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


# ---------------------------------------------------------------------- tcp


def test_tcp_connect_succeeds() -> None:
    """A bare TCP probe succeeds once the connection is accepted."""
    with TCPServer(tcp_banner(b"")) as srv:
        result = probe_tcp(model.TCPProbe(address=srv.address), TIMEOUT)
    assert (result.success, result.reason) == (True, "ok")


def test_tcp_connection_refused() -> None:
    """Nothing listening: connection_refused within the timeout."""
    start = time.monotonic()
    result = probe_tcp(model.TCPProbe(address=f"127.0.0.1:{closed_port()}"), TIMEOUT)
    assert result.reason == "connection_refused"
    assert time.monotonic() - start < TIMEOUT + SLACK


def test_tcp_expect_matches_banner() -> None:
    """expect is searched in the bytes received (a server-first protocol)."""
    with TCPServer(tcp_banner(b"220 mail ESMTP ready\r\n", then="hold")) as srv:
        result = probe_tcp(model.TCPProbe(address=srv.address, expect="^220 "), TIMEOUT)
    assert result.reason == "ok"


def test_tcp_send_then_expect_echo() -> None:
    """send is written and expect matches the server's answer to it."""
    with TCPServer(tcp_banner(b"", then="echo")) as srv:
        target = model.TCPProbe(address=srv.address, send="PING 42\n", expect="PING \\d+")
        result = probe_tcp(target, TIMEOUT)
    assert result.reason == "ok"


def test_tcp_expect_mismatch_when_server_closes() -> None:
    """A banner that does not match, then close: expect_mismatch, not a timeout."""
    with TCPServer(tcp_banner(b"SSH-2.0-OpenSSH\r\n")) as srv:
        result = probe_tcp(model.TCPProbe(address=srv.address, expect="^220"), TIMEOUT)
    assert result.reason == "expect_mismatch"


def test_tcp_expect_on_silent_server_times_out() -> None:
    """A server that accepts and says nothing fails with timeout within the timeout."""
    with TCPServer(never_answer) as srv:
        start = time.monotonic()
        result = probe_tcp(model.TCPProbe(address=srv.address, expect="."), TIMEOUT)
        took = time.monotonic() - start
    assert result.reason == "timeout"
    assert TIMEOUT - 0.05 <= took < TIMEOUT + SLACK


def test_tcp_over_tls_reports_expiry(pki: PKI) -> None:
    """tcp with tls: handshake against the CA, then expect inside TLS; expiry reported."""
    ctx = pki.server_context(pki.valid_cert)
    with TCPServer(tcp_banner(b"* OK IMAP ready\r\n", then="hold"), tls=ctx) as srv:
        target = model.TCPProbe(
            address=srv.address,
            expect="^\\* OK",
            tls=True,
            tls_config=model.TLSConfig(ca_file=str(pki.ca)),
        )
        result = probe_tcp(target, TIMEOUT)
    assert result.reason == "ok"
    assert result.cert_not_after == pki.valid_not_after


def test_tcp_address_without_port_is_config_error() -> None:
    """An address with no port fails with config_error instead of raising."""
    assert probe_tcp(model.TCPProbe(address="127.0.0.1"), TIMEOUT).reason == "config_error"


# ---------------------------------------------------------------------- tls


def tls_target(srv: TCPServer, pki: PKI, **tls: object) -> model.TLSProbe:
    cfg = model.TLSConfig(**{"ca_file": str(pki.ca), **tls})  # type: ignore[arg-type]
    return model.TLSProbe(address=srv.address, tls_config=cfg)


def test_tls_valid_cert_reports_expiry(pki: PKI) -> None:
    """A valid certificate succeeds and its notAfter is reported (epoch seconds)."""
    with TCPServer(never_answer, tls=pki.server_context(pki.valid_cert)) as srv:
        result = probe_tls(tls_target(srv, pki), TIMEOUT)
    assert (result.success, result.reason) == (True, "ok")
    assert result.cert_not_after == pki.valid_not_after


def test_tls_expired_cert_fails_and_reports_expiry(pki: PKI) -> None:
    """An expired certificate fails with cert_expired and still reports when it expired."""
    with TCPServer(never_answer, tls=pki.server_context(pki.expired_cert)) as srv:
        start = time.monotonic()
        result = probe_tls(tls_target(srv, pki), TIMEOUT)
        took = time.monotonic() - start
    assert (result.success, result.reason) == (False, "cert_expired")
    assert result.cert_not_after == pki.expired_not_after
    assert took < TIMEOUT + SLACK


def test_tls_expired_cert_fails_even_without_verification(pki: PKI) -> None:
    """insecure_skip_verify skips the CA check, but an expired cert still fails."""
    with TCPServer(never_answer, tls=pki.server_context(pki.expired_cert)) as srv:
        result = probe_tls(tls_target(srv, pki, ca_file=None, insecure_skip_verify=True), 1)
    assert result.reason == "cert_expired"
    assert result.cert_not_after == pki.expired_not_after


def test_tls_expiry_judged_by_injected_wall_clock(pki: PKI) -> None:
    """Expiry compares notAfter with the injected wall clock, not the real one."""
    with TCPServer(never_answer, tls=pki.server_context(pki.valid_cert)) as srv:
        target = tls_target(srv, pki, insecure_skip_verify=True)
        later = probe_tls(target, TIMEOUT, wall=lambda: pki.valid_not_after + 1)
    assert later.reason == "cert_expired"


def test_tls_unknown_ca(pki: PKI) -> None:
    """Without the test CA the handshake fails with tls_error."""
    with TCPServer(never_answer, tls=pki.server_context(pki.valid_cert)) as srv:
        result = probe_tls(tls_target(srv, pki, ca_file=None), TIMEOUT)
    assert result.reason == "tls_error"


def test_tls_hostname_mismatch(pki: PKI) -> None:
    """A certificate for other.example fails with tls_error when dialing 127.0.0.1."""
    with TCPServer(never_answer, tls=pki.server_context(pki.other_host_cert)) as srv:
        result = probe_tls(tls_target(srv, pki), TIMEOUT)
    assert result.reason == "tls_error"


def test_tls_to_plaintext_server(pki: PKI) -> None:
    """A plaintext server answering the ClientHello with text fails, within the timeout."""
    with TCPServer(tcp_banner(b"HTTP/1.1 400 Bad Request\r\n\r\n")) as srv:
        result = probe_tls(tls_target(srv, pki), TIMEOUT)
    assert result.reason in ("tls_error", "connection_closed")


def test_tls_handshake_never_answered_times_out(pki: PKI) -> None:
    """A port that never answers the ClientHello times out within the timeout."""
    with TCPServer(never_answer) as srv:
        start = time.monotonic()
        result = probe_tls(tls_target(srv, pki), TIMEOUT)
        took = time.monotonic() - start
    assert result.reason == "timeout"
    assert took < TIMEOUT + SLACK


def test_tls_missing_ca_file_is_config_error(pki: PKI) -> None:
    """A CA file that does not exist fails with config_error."""
    with TCPServer(never_answer, tls=pki.server_context(pki.valid_cert)) as srv:
        result = probe_tls(tls_target(srv, pki, ca_file="/nonexistent/ca.pem"), TIMEOUT)
    assert result.reason == "config_error"


def probe_once(scheduler_slis: list[tuple[str, model.ProbeSLI]]) -> ProbeResult:
    """The first result of a freshly built scheduler, as the daemon builds one on reload."""
    results: list[ProbeResult] = []
    done = threading.Event()

    def on_result(key: str, sli: model.ProbeSLI, result: ProbeResult, at: float) -> None:
        results.append(result)
        done.set()

    sched = ProbeScheduler(scheduler_slis, on_result)
    sched.start()
    try:
        assert done.wait(5)
    finally:
        sched.stop(2)
    return results[0]


def test_new_scheduler_reads_a_rotated_ca_file(tmp_path: Path) -> None:
    """After the CA file is rotated, a new scheduler (a reload) trusts the new CA."""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old, new = make_pki(tmp_path / "old"), make_pki(tmp_path / "new")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(old.ca.read_bytes())
    cfg = model.TLSConfig(ca_file=str(ca_file))
    prober = Prober()
    with TCPServer(never_answer, tls=old.server_context(old.valid_cert)) as srv:
        sli = model.ProbeSLI(model.TLSProbe(srv.address, cfg), interval=0.05, timeout=TIMEOUT)
        assert probe_once([("svc/cert", sli)]).reason == "ok"
        assert prober.run(sli).reason == "ok"
    ca_file.write_bytes(new.ca.read_bytes())
    with TCPServer(never_answer, tls=new.server_context(new.valid_cert)) as srv:
        sli = model.ProbeSLI(model.TLSProbe(srv.address, cfg), interval=0.05, timeout=TIMEOUT)
        assert probe_once([("svc/cert", sli)]).reason == "ok"
        # A prober keeps its contexts until it is replaced: loading a CA store
        # on every probe would cost milliseconds each.
        assert prober.run(sli).reason == "tls_error"
