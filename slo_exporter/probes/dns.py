"""The dns probe: one query to one server, checked by rcode and answer regexps.

Owns one probe of a ``model.DNSProbe`` with dnspython: the query goes to
``server`` (``host[:port]``) or to the first name server of the system
configuration (read once per ``ProbeEnv``), over UDP or TCP, bounded by the
overall deadline. The probe succeeds when the rcode is in ``valid_rcodes``
and every ``expect`` regexp matches at least one answer record in its text
form (``name. 300 IN A 192.0.2.1``). It must not follow CNAMEs or retry.
"""

from __future__ import annotations

import re

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from slo_exporter import model
from slo_exporter.probes import net
from slo_exporter.probes.env import ProbeEnv
from slo_exporter.probes.result import Deadline, ProbeFailed, Progress, classify_os_error


def probe_dns(
    target: model.DNSProbe, deadline: Deadline, progress: Progress, env: ProbeEnv
) -> None:
    """Query once; returns if the answer is as expected, raises ``ProbeFailed`` if not."""
    del progress  # nothing to report beyond the verdict
    if target.server:
        host, port = net.split_host_port(target.server, 53)
        ip = net.resolve(host, port, deadline)[0][1][0]
    else:
        ip, port = env.system_nameserver(), 53
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
