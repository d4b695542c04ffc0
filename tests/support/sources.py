"""Wrappers around the real Prometheus client that let a test see what the engine reads.

Owns: ``CountingSource``, the daemon's own ``PrometheusClient`` with a count of
raw-sample reads per selector. Must not: change an answer, or talk to
anything but the client it wraps (integration tests pass a client of a local
Prometheus).
"""

from __future__ import annotations

from collections import Counter

from slo_exporter.prometheus import PrometheusClient, QueryResult, Series


class CountingSource:
    """The real client, counting the raw-sample reads per selector."""

    def __init__(self, client: PrometheusClient) -> None:
        self.client = client
        self.reads: Counter[str] = Counter()

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.reads[selector] += 1
        return self.client.raw_samples(selector, start, end)

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        return self.client.query(promql, at, stats=stats)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        return self.client.query_range(promql, start, end, step, stats=stats)
