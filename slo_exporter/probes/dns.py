"""The dns probe: one query to one server, checked by rcode and answer regexps.

Owns one probe of a ``model.DNSProbe`` with dnspython: the query goes to
``server`` (``host[:port]``) or to the first name server of the system
configuration, over UDP or TCP, bounded by the overall deadline. The probe
succeeds when the rcode is in ``valid_rcodes`` and every ``expect`` regexp
matches at least one answer record in its text form
(``name. 300 IN A 192.0.2.1``). It must not follow CNAMEs or retry.
"""

from __future__ import annotations

import functools
import re
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from slo_exporter import model
from slo_exporter.probes import net
from slo_exporter.probes.result import (
    OK,
    Clock,
    Deadline,
    ProbeFailed,
    ProbeResult,
    classify_os_error,
    failed,
)


def probe_dns(
    target: model.DNSProbe,
    timeout: float,
    *,
    clock: Clock = time.monotonic,
    wall: Clock = time.time,
) -> ProbeResult:
    """Query once; the result is ready within ``timeout`` seconds."""
    del wall
    deadline = Deadline(timeout, clock)
    try:
        _probe(target, deadline)
    except ProbeFailed as exc:
        return failed(exc, deadline.elapsed())
    except Exception as exc:  # a bug must cost one bad event, not the worker thread
        return failed(ProbeFailed("other", repr(exc)), deadline.elapsed())
    return ProbeResult(True, deadline.elapsed(), OK)


@functools.lru_cache(maxsize=1)
def _system_nameserver() -> str:
    """The first name server of resolv.conf, read once: reading it costs more than a query."""
    servers = [str(s) for s in dns.resolver.Resolver(configure=True).nameservers]
    if not servers:
        raise ProbeFailed("config_error", "the system has no DNS name server configured")
    return servers[0]


def _probe(target: model.DNSProbe, deadline: Deadline) -> None:
    if target.server:
        host, port = net.split_host_port(target.server, 53)
        ip = net.resolve(host, port, deadline)[0][1][0]
    else:
        ip, port = _system_nameserver(), 53
    try:
        query = dns.message.make_query(target.query_name, target.query_type)
    except (dns.exception.DNSException, ValueError) as exc:
        raise ProbeFailed("config_error", f"bad query: {exc}") from exc
    send = dns.query.tcp if target.transport == "tcp" else dns.query.udp
    try:
        response = send(query, ip, timeout=deadline.remaining(), port=port)
    except dns.exception.Timeout as exc:
        raise ProbeFailed("timeout", f"no answer from {ip}:{port}") from exc
    except OSError as exc:
        raise classify_os_error(exc) from exc
    except (dns.exception.DNSException, EOFError, ValueError) as exc:
        raise ProbeFailed("invalid_response", repr(exc)) from exc

    rcode = dns.rcode.to_text(response.rcode())
    if rcode not in target.valid_rcodes:
        reason = "dns_nxdomain" if rcode == "NXDOMAIN" else "dns_rcode"
        raise ProbeFailed(reason, f"{target.query_name} {target.query_type}: {rcode}")
    records = [line for rrset in response.answer for line in rrset.to_text().splitlines()]
    for pattern in target.expect:
        try:
            matched = any(re.search(pattern, record) for record in records)
        except re.error as exc:
            raise ProbeFailed("config_error", f"bad expect regexp: {exc}") from exc
        if not matched:
            raise ProbeFailed("dns_no_match", f"no answer record matches {pattern!r}")
