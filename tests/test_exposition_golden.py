"""/metrics of a mixed fleet is byte for byte the text recorded before the fast paths.

``tests/fixtures/exposition/golden.txt`` was written by the exporter as it
rendered /metrics before the per-SLO and per-target text caches existed (every
family built from ``collect()`` and printed by ``generate_latest``). The fleet
holds every kind of series: ratio, calendar (with SLA), grouped and probe SLOs,
label values that need escaping, an SLO never evaluated, probe targets with
several outcomes, a certificate expiry, self errors and scheduler counters.
Regenerate only on a deliberate change of the metric contract:
``python -m tests.test_exposition_golden``.
"""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from slo_exporter import model
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.probes import ProbeMetrics, ProbeResult, SchedulerStats
from slo_exporter.snapshot import Snapshot
from slo_exporter.web import Request, WebServer
from tests.probes.test_metrics import probe_slo
from tests.support.helpers import status
from tests.test_exposition_cache import AT, _fleet

GOLDEN = Path(__file__).parent / "fixtures" / "exposition" / "golden.txt"


def probe_fleet() -> list[model.SLO]:
    """Three probe SLOs: HTTP, TCP and one whose labels need escaping."""
    tcp = model.SLO(service="db", name="port", objective=0.99,
                    period=model.RollingPeriod(86400.0),
                    sli=model.ProbeSLI(model.TCPProbe("127.0.0.1:5432"), interval=30.0))
    odd = dataclasses.replace(probe_slo(url='http://h/"q"?a=\\b'), service='we"ird\\',
                              name="line\nbreak")
    return [probe_slo(), tcp, odd]


def registry() -> tuple[CollectorRegistry, SnapshotCollector]:
    """The fleet's snapshot, probe metrics and two plain metrics on a fresh registry."""
    probes = probe_fleet()
    snap = _fleet()
    snap = dataclasses.replace(snap, slos=(
        *snap.slos,
        *(status(slo, {300.0: (19.0, 20.0), slo.period.longest: (5750.0, 5760.0)},
                 at=AT + 1.5) for slo in probes)))
    reg = CollectorRegistry()
    collector = SnapshotCollector(lambda: snap)
    reg.register(collector)  # first, so generate_latest's order is the server's
    # a counter would carry its creation time, different in every run
    Gauge("golden_errors", "Errors by reason.", ["reason"], registry=reg).labels("timeout").set(3)
    metrics = ProbeMetrics()
    reg.register(metrics)
    metrics.watch(lambda: SchedulerStats(10, 9, 2, 5, 0, 1))
    http, tcp, odd = probes
    for duration, result in ((0.004, ProbeResult(True, 0.004, "ok")),
                             (0.3, ProbeResult(True, 0.3, "ok", cert_not_after=1.9e9)),
                             (7.5, ProbeResult(False, 7.5, "timeout"))):
        metrics.observe(http, result)
        metrics.observe(odd, dataclasses.replace(result, duration=duration * 3))
    metrics.observe(tcp, ProbeResult(False, 0.001, "connection_refused"))
    metrics.observe(tcp, ProbeResult(False, 0.0, "probe_late", "the daemon"))
    metrics.observe(tcp, ProbeResult(True, 1e-7, "ok"))
    Gauge("golden_writer", "1 while writing.", registry=reg).set(1)
    return reg, collector


def served(reg: CollectorRegistry, collector: SnapshotCollector, *, gzipped: bool) -> bytes:
    server = WebServer("127.0.0.1:0", reg, Snapshot, snapshot_metrics=collector)
    try:
        headers = {"accept-encoding": "gzip"} if gzipped else {}
        body = server._route(Request("GET", "/metrics", headers, False, {})).body
    finally:
        server.stop()
    return gzip.decompress(body) if gzipped else body


def test_served_metrics_equal_the_recorded_text() -> None:
    """/metrics, plain and gzipped, twice each, is the recorded text."""
    reg, collector = registry()
    golden = GOLDEN.read_bytes()
    for _ in range(2):
        assert served(reg, collector, gzipped=False) == golden
        assert served(reg, collector, gzipped=True) == golden


def test_generate_latest_of_the_registry_equals_the_recorded_text() -> None:
    """The library's own rendering of collect() still gives the recorded text."""
    reg, _ = registry()
    assert generate_latest(reg) == GOLDEN.read_bytes()


if __name__ == "__main__":
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_bytes(generate_latest(registry()[0]))
