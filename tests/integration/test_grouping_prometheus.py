"""Grouped SLOs against a real Prometheus: one SLO per route, exact, one query per selector.

Two hours of ``http_requests_total{job="shop",route,code}`` for four routes
(one sample every 15 s, seeded random traffic and error bursts) are turned
into TSDB blocks with ``promtool`` and served by a real ``prometheus`` with
its query log on. Two definitions read the same selectors grouped by
``route``: ``availability`` keeps every route, ``capped`` at most two. The
engine must give each route the exact events generated for it, ask
Prometheus once per selector and read chunk whatever the number of routes
(counted both by the exporter's source and by Prometheus' own query log),
and hold the cap: two groups, two dropped, reported as a metric and a log
event.
"""

from __future__ import annotations

import json
import math
import random
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from slo_exporter import model
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.store import SQLiteStore
from tests.support.harness import PrometheusServer, backfilled_prometheus
from tests.support.sources import CountingSource
from tests.support.synth import ending_two_days_ago

pytestmark = pytest.mark.integration

STEP = 15
HOURS = 2
RES = 60.0
ROUTES = ("/a", "/b", "/c", "/d")
BAD = 'http_requests_total{job="shop",code="500"}'
TOTAL = 'http_requests_total{job="shop"}'


@dataclass
class History:
    """The generated counters and the (ts, route, good, total) events of each sample."""

    start: float
    end: float = 0.0
    lines: list[str] = field(default_factory=list)
    events: list[tuple[float, str, int, int]] = field(default_factory=list)

    def expected(self, route: str, lo: float, hi: float) -> tuple[float, float]:
        """(good, total) of the samples of ``route`` whose bucket starts in ``[lo, hi)``."""
        good = total = 0
        for ts, r, g, t in self.events:
            if r == route and lo <= math.floor(ts / RES) * RES < hi:
                good, total = good + g, total + t
        return float(good), float(total)


def generate(start: float) -> History:
    """Per route and sample: 1-20 x route weight good requests, errors mostly 0-1 with bursts."""
    rng = random.Random(20261130)
    hist = History(start=start)
    ok = dict.fromkeys(ROUTES, 0)
    err = dict.fromkeys(ROUTES, 0)
    for i in range(HOURS * 3600 // STEP + 1):
        ts = start + i * STEP
        for n, route in enumerate(ROUTES):
            if i > 0:
                d_ok = rng.randint(1, 20) * (n + 1)
                d_err = rng.randint(5, 30) if (i + 40 * n) % 113 < 3 else rng.randint(0, 1)
                ok[route] += d_ok
                err[route] += d_err
                hist.events.append((ts, route, d_ok, d_ok + d_err))
            for code, value in (("200", ok[route]), ("500", err[route])):
                hist.lines.append(
                    f'http_requests_total{{job="shop",route="{route}",code="{code}"}} '
                    f"{value} {ts}")
        hist.end = ts
    hist.lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter",
                  *hist.lines, "# EOF"]
    return hist


@pytest.fixture(scope="module")
def history() -> History:
    """Two hours ending two days ago, aligned to whole hours."""
    return generate(ending_two_days_ago(HOURS * 3600, time.time()))


@pytest.fixture(scope="module")
def server(history: History, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[PrometheusServer]:
    """A real Prometheus holding the history, with its query log on."""
    workdir = tmp_path_factory.mktemp("grouping-prometheus")
    with backfilled_prometheus(workdir, history.lines, query_log=True) as prometheus:
        yield prometheus


def _config(url: str) -> model.Config:
    slo = textwrap.dedent(f"""\
        objective: 99
        window: 1d
        group_by: [route]
        sli:
          ratio:
            bad: '{BAD}'
            total: '{TOTAL}'
        """)
    body = textwrap.indent(slo, " " * 8)
    return parse_config(
        f'prometheus: {{url: "{url}", timeout: 30s}}\n'
        "evaluation_interval: 30s\n"
        "services:\n"
        "  - name: shop\n"
        "    slos:\n"
        f"      - name: availability\n{body}"
        f"      - name: capped\n        max_groups: 2\n{body}",
        "grouping.yaml")


def _logged_queries(path: Path | None) -> int:
    """Queries of http_requests_total in Prometheus' query log."""
    assert path is not None
    count = 0
    for line in path.read_text().splitlines():
        if "http_requests_total" in json.loads(line)["params"]["query"]:
            count += 1
    return count


def test_grouped_slos_are_exact_per_route_with_one_query_per_selector(
        server: PrometheusServer, history: History, tmp_path: Path) -> None:
    """Each route's SLO holds exactly its generated events; queries do not grow with routes.

    Expected values are the generated increments summed per route over the
    1d window (all of the history) and over the 1h window's buckets. Each
    definition reads its two selectors once per chunk: the backfill spans
    1d + 10 min in 1d chunks (2 chunks), so 2 definitions x 2 selectors x 2
    = 8 queries for the first cycle, and one for the next (the two
    definitions share their steady reads), with four routes.
    """
    at = history.end + 90.0
    clock = [at]
    client = PrometheusClient(model.PrometheusConfig(url=server.url, timeout=30.0))
    source = CountingSource(client)
    config = _config(server.url)
    with SQLiteStore(tmp_path, RES) as store:
        engine = Engine(config, store, source, clock=lambda: clock[0], max_workers=1)
        try:
            with capture_logs() as logs:
                engine.evaluate()
                assert sum(source.reads.values()) == 8
                assert _logged_queries(server.query_log_path) == 8
                clock[0] = at + 30.0
                engine.evaluate()
        finally:
            engine.close()
            client.close()
    # the second cycle is steady: both definitions share one query of the metric
    # (the selector covering BAD and TOTAL is TOTAL itself)
    assert source.reads == {BAD: 4, TOTAL: 5}
    assert _logged_queries(server.query_log_path) == 9

    snap = engine.snapshot
    end = math.floor(clock[0] / RES) * RES + RES
    full = {st.slo.group["route"]: st for st in snap.slos if st.slo.name == "availability"}
    assert set(full) == set(ROUTES)
    for route, status in full.items():
        day, hour = status.window(86400.0), status.window(3600.0)
        assert day is not None
        assert hour is not None
        assert (day.good, day.total) == history.expected(route, end - 86400, end)
        assert (hour.good, hour.total) == history.expected(route, end - 3600, end)
        assert status.up

    # The cap: two groups kept (the first two the read saw), two dropped,
    # nothing stored for them; the metric and one log event say so, and the
    # second cycle, which found no sample (the history ended), left that state.
    capped = {st.slo.group["route"]: st for st in snap.slos if st.slo.name == "capped"}
    assert len(capped) == 2
    for route, status in capped.items():
        day = status.window(86400.0)
        assert day is not None
        assert (day.good, day.total) == history.expected(route, end - 86400, end)
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snap))
    labels = {"service": "shop", "slo": "capped"}
    assert registry.get_sample_value("slo_groups", labels) == 2.0
    assert registry.get_sample_value("slo_groups_dropped", labels) == 2.0
    assert registry.get_sample_value(
        "slo_groups", {"service": "shop", "slo": "availability"}) == 4.0
    assert registry.get_sample_value(
        "slo_sli_ratio", {"service": "shop", "slo": "availability", "route": "/c",
                          "window": "1h"}) == pytest.approx(
        history.expected("/c", end - 3600, end)[0] / history.expected("/c", end - 3600, end)[1])
    reached = [e for e in logs if e["event"] == "group_limit_reached"]
    assert len(reached) == 1
    assert (reached[0]["slo"], reached[0]["groups"], reached[0]["dropped"]) == ("capped", 2, 2)
