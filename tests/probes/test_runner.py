"""Probe dispatch, the good-event rule, and the small pure helpers of the probes."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from slo_exporter import model
from slo_exporter.probes import REASONS, ProbeResult, instance, is_good, run_probe
from slo_exporter.probes.net import cert_not_after, split_host_port
from slo_exporter.probes.result import Deadline, ProbeFailed
from tests.support.probe_servers import DNSServer, TCPServer, closed_port, tcp_banner


def result(success: bool, duration: float) -> ProbeResult:
    return ProbeResult(success, duration, "ok" if success else "timeout")


def test_is_good_without_threshold() -> None:
    """Without a latency threshold, good means the probe succeeded."""
    sli = model.ProbeSLI(model.TCPProbe(address="127.0.0.1:1"))
    assert is_good(sli, result(True, 4.0))
    assert not is_good(sli, result(False, 0.001))


def test_is_good_with_threshold() -> None:
    """With a threshold, a success slower than it is a bad event; equal is good."""
    sli = model.ProbeSLI(model.TCPProbe(address="127.0.0.1:1"), latency_threshold=0.5)
    assert is_good(sli, result(True, 0.5))
    assert not is_good(sli, result(True, 0.51))
    assert not is_good(sli, result(False, 0.1))


def test_run_probe_dispatches_by_target_kind() -> None:
    """run_probe picks the module from the target type and uses the SLI's timeout."""
    with TCPServer(tcp_banner(b"")) as srv:
        tcp = run_probe(model.ProbeSLI(model.TCPProbe(address=srv.address), timeout=1))
    http = run_probe(
        model.ProbeSLI(model.HTTPProbe(url=f"http://127.0.0.1:{closed_port()}/"), timeout=1)
    )
    with DNSServer({}, nxdomain=frozenset({"gone.test"})) as dns_srv:
        dns = run_probe(
            model.ProbeSLI(model.DNSProbe("gone.test", server=dns_srv.address), timeout=1)
        )
    tls = run_probe(
        model.ProbeSLI(model.TLSProbe(address=f"127.0.0.1:{closed_port()}"), timeout=1)
    )
    assert tcp.reason == "ok"
    assert http.reason == "connection_refused"
    assert dns.reason == "dns_nxdomain"
    assert tls.reason == "connection_refused"


def test_run_probe_never_raises_on_a_bad_timeout() -> None:
    """A non-positive timeout gives a config_error result instead of an exception."""
    result = run_probe(model.ProbeSLI(model.TCPProbe(address="127.0.0.1:1"), timeout=0))
    assert (result.success, result.reason) == (False, "config_error")


def test_results_use_only_documented_reasons() -> None:
    """ProbeFailed rejects a reason outside the closed set (it becomes a label)."""
    assert "ok" in REASONS
    assert len(set(REASONS)) == len(REASONS)
    with pytest.raises(AssertionError):
        ProbeFailed("made_up_reason")


def test_deadline_counts_down_on_the_injected_clock() -> None:
    """Deadline.remaining shrinks with the clock and raises timeout once spent."""
    now = [10.0]
    deadline = Deadline(2.0, lambda: now[0])
    now[0] = 11.5
    assert deadline.remaining() == pytest.approx(0.5)
    now[0] = 12.0
    with pytest.raises(ProbeFailed) as info:
        deadline.remaining()
    assert info.value.reason == "timeout"
    with pytest.raises(ValueError, match="positive"):
        Deadline(0, lambda: 0.0)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:80", ("127.0.0.1", 80)),
        ("example.com:8443", ("example.com", 8443)),
        ("[::1]:53", ("::1", 53)),
        ("::1", ("::1", 53)),
        ("ns.example.com", ("ns.example.com", 53)),
    ],
)
def test_split_host_port(address: str, expected: tuple[str, int]) -> None:
    """host:port, [v6]:port and bare hosts (with a default port) are split."""
    assert split_host_port(address, 53) == expected


@pytest.mark.parametrize("address", ["host:", "host:http", "host:70000"])
def test_split_host_port_rejects_bad_ports(address: str) -> None:
    """A missing or invalid port fails with config_error."""
    with pytest.raises(ProbeFailed) as info:
        split_host_port(address)
    assert info.value.reason == "config_error"


@pytest.mark.parametrize(
    "not_after",
    [
        dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC),  # UTCTime
        dt.datetime(2051, 1, 2, 3, 4, 5, tzinfo=dt.UTC),  # GeneralizedTime (year >= 2050)
        dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),  # UTCTime, 19xx
    ],
)
def test_cert_not_after_reads_der(not_after: dt.datetime) -> None:
    """notAfter is read from DER in both ASN.1 time encodings."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(dt.datetime(1990, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    assert cert_not_after(cert.public_bytes(serialization.Encoding.DER)) == not_after.timestamp()


def test_cert_not_after_on_garbage_is_none() -> None:
    """Bytes that are not a certificate give None rather than an exception."""
    assert cert_not_after(b"\x30\x03\x02\x01") is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://a:b@h:1/p", "http://h:1/p"),
        ("https://user@h/p?q=1", "https://h/p?q=1"),
        ("http://u:p@[::1]:8080/x?next=a@b", "http://[::1]:8080/x?next=a@b"),
        ("http://h/p?mail=a@b#c@d", "http://h/p?mail=a@b#c@d"),
        ("http://u:p:q@h", "http://h"),
    ],
)
def test_instance_drops_user_info(url: str, shown: str) -> None:
    """instance() shows an HTTP target without user[:password]@, and nothing else changes."""
    assert instance(model.ProbeSLI(model.HTTPProbe(url=url))) == shown
