"""Dispatch a probe SLI to its module and judge the result as an SLO event.

Owns ``run_probe`` (the one entry point the scheduler calls) and ``is_good``
(the event rule: success and, if set, under ``latency_threshold``). It must
not schedule, record or export anything.
"""

from __future__ import annotations

import time

from slo_exporter import model
from slo_exporter.probes.dns import probe_dns
from slo_exporter.probes.http import probe_http
from slo_exporter.probes.result import Clock, ProbeFailed, ProbeResult, failed
from slo_exporter.probes.tcp import probe_tcp
from slo_exporter.probes.tls import probe_tls


def run_probe(
    sli: model.ProbeSLI, *, clock: Clock = time.monotonic, wall: Clock = time.time
) -> ProbeResult:
    """Probe ``sli.target`` once within ``sli.timeout``; never raises."""
    target = sli.target
    if not sli.timeout > 0:  # config validation should have caught it; never raise here
        return failed(ProbeFailed("config_error", f"timeout must be positive: {sli.timeout}"), 0.0)
    if isinstance(target, model.HTTPProbe):
        return probe_http(target, sli.timeout, clock=clock, wall=wall)
    if isinstance(target, model.TCPProbe):
        return probe_tcp(target, sli.timeout, clock=clock, wall=wall)
    if isinstance(target, model.TLSProbe):
        return probe_tls(target, sli.timeout, clock=clock, wall=wall)
    if isinstance(target, model.DNSProbe):
        return probe_dns(target, sli.timeout, clock=clock, wall=wall)
    return failed(ProbeFailed("config_error", f"unknown probe target {target!r}"), 0.0)


def is_good(sli: model.ProbeSLI, result: ProbeResult) -> bool:
    """One probe is a good event when it succeeded and was fast enough."""
    if not result.success:
        return False
    return sli.latency_threshold is None or result.duration <= sli.latency_threshold
