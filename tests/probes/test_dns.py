"""DNS probe against a tiny local DNS server (UDP and TCP) built on dnspython."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from slo_exporter import model
from slo_exporter.probes import ProbeResult, run_probe
from slo_exporter.probes.result import Clock
from tests.support.probe_servers import DNSServer


def probe_dns(target: model.DNSProbe, timeout: float, **clocks: Clock) -> ProbeResult:
    """One probe of ``target`` through the result envelope, as the scheduler runs it."""
    return run_probe(model.ProbeSLI(target, timeout=timeout), **clocks)


TIMEOUT = 1.0
SLACK = 0.5


@pytest.fixture(scope="module")
def server() -> Iterator[DNSServer]:
    records = {
        ("www.example.test", "A"): ["192.0.2.10", "192.0.2.11"],
        ("example.test", "MX"): ["10 mail.example.test."],
    }
    with DNSServer(
        records,
        nxdomain=frozenset({"missing.example.test"}),
        servfail=frozenset({"broken.example.test"}),
        silent=frozenset({"blackhole.example.test"}),
    ) as srv:
        yield srv


def probe(server: DNSServer, name: str, **opts: object) -> tuple[str, float]:
    target = model.DNSProbe(query_name=name, server=server.address, **opts)  # type: ignore[arg-type]
    start = time.monotonic()
    result = probe_dns(target, TIMEOUT)
    assert result.success == (result.reason == "ok")
    return result.reason, time.monotonic() - start


def test_a_record_resolves(server: DNSServer) -> None:
    """A name with A records succeeds."""
    assert probe(server, "www.example.test")[0] == "ok"


def test_expect_regexps_match_answer_records(server: DNSServer) -> None:
    """Each expect regexp must match some answer record in text form."""
    assert probe(server, "www.example.test", expect=("IN A 192\\.0\\.2\\.11$",))[0] == "ok"
    assert probe(server, "www.example.test", expect=("192\\.0\\.2\\.99",))[0] == "dns_no_match"
    assert probe(server, "example.test", query_type="MX", expect=("MX 10 mail",))[0] == "ok"


def test_nxdomain_fails_within_timeout(server: DNSServer) -> None:
    """A name that does not resolve fails with dns_nxdomain, quickly."""
    reason, took = probe(server, "missing.example.test")
    assert reason == "dns_nxdomain"
    assert took < TIMEOUT + SLACK


def test_nxdomain_can_be_a_valid_rcode(server: DNSServer) -> None:
    """valid_rcodes can declare NXDOMAIN the expected answer."""
    assert probe(server, "missing.example.test", valid_rcodes=("NXDOMAIN",))[0] == "ok"


def test_servfail_is_dns_rcode(server: DNSServer) -> None:
    """Any other rcode outside valid_rcodes fails with dns_rcode."""
    assert probe(server, "broken.example.test")[0] == "dns_rcode"


def test_silent_server_times_out(server: DNSServer) -> None:
    """A server that never answers fails with timeout, within the timeout."""
    reason, took = probe(server, "blackhole.example.test")
    assert reason == "timeout"
    assert TIMEOUT - 0.05 <= took < TIMEOUT + SLACK


def test_tcp_transport(server: DNSServer) -> None:
    """transport tcp queries over TCP and gets the same answers."""
    assert probe(server, "www.example.test", transport="tcp", expect=("192.0.2.10",))[0] == "ok"
    assert probe(server, "missing.example.test", transport="tcp")[0] == "dns_nxdomain"


def test_unknown_query_type_is_config_error(server: DNSServer) -> None:
    """A query type dnspython does not know fails with config_error."""
    assert probe(server, "www.example.test", query_type="NOPE")[0] == "config_error"
