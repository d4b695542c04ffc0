"""200 SLOs over 2 metrics against a real Prometheus: two queries per steady cycle, exact.

One hour and a half of ``http_requests_total{job="shop",route,code}`` and
``rpc_requests_total{job="rpc",method,code}`` (100 routes and 100 methods,
one sample every 15 s, seeded random traffic with error bursts and a
counter reset) are turned into TSDB blocks with ``promtool`` and served by
a real ``prometheus`` with its query log on. One SLO per route and per
method (200 definitions): after their backfills (each reads alone), a
steady cycle asks Prometheus once per metric (counted by the exporter's
source and by Prometheus' own query log), and every SLO's 1h window holds
exactly the events generated for its series.

The same Prometheus also serves one series per label value of the local
matching table (``tests/test_matchers.py``), and every row is checked
against what Prometheus itself selects.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from slo_exporter import matchers, model
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.ingest import BACKFILL_BATCH
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.store import SQLiteStore
from tests.support.harness import PrometheusServer, backfilled_prometheus
from tests.support.sources import CountingSource
from tests.support.synth import ending_two_days_ago
from tests.test_matchers import TABLE

pytestmark = pytest.mark.integration

STEP = 15
MINUTES = 90
RES = 60.0
KEYS = 100
METRICS = {"http_requests_total": ("shop", "route"), "rpc_requests_total": ("rpc", "method")}


@dataclass
class History:
    """The generated counters and the (ts, metric, key, good, total) events of each sample."""

    start: float
    end: float = 0.0
    lines: list[str] = field(default_factory=list)
    events: dict[tuple[str, str], list[tuple[float, int, int]]] = field(default_factory=dict)

    def expected(self, metric: str, key: str, lo: float, hi: float) -> tuple[float, float]:
        """(good, total) of the samples whose bucket starts in ``[lo, hi)``."""
        good = total = 0
        for ts, g, t in self.events[(metric, key)]:
            if lo <= math.floor(ts / RES) * RES < hi:
                good, total = good + g, total + t
        return float(good), float(total)


def _key(metric: str, n: int) -> str:
    return f"/r{n:03d}" if metric == "http_requests_total" else f"m{n:03d}"


def generate(start: float) -> History:
    """Per key and sample: 1-9 good requests, errors 0-1 with bursts; one key's good
    counter restarts from 0 half-way (its increase there is the new value)."""
    rng = random.Random(20261130)
    hist = History(start=start)
    families: dict[str, list[str]] = {m: [] for m in METRICS}
    for metric, (job, label) in METRICS.items():
        for n in range(KEYS):
            key = _key(metric, n)
            ok = err = 0
            events = hist.events.setdefault((metric, key), [])
            for i in range(MINUTES * 60 // STEP + 1):
                ts = start + i * STEP
                if i > 0:
                    d_ok, d_err = rng.randint(1, 9), (rng.randint(3, 9) if (i + n) % 97 < 2
                                                      else rng.randint(0, 1))
                    if n == 7 and i == 180:  # a restart: the counter starts again from 0
                        ok = 0
                    ok, err = ok + d_ok, err + d_err
                    events.append((ts, d_ok, d_ok + d_err))
                for code, value in (("200", ok), ("500", err)):
                    families[metric].append(
                        f'{metric}{{job="{job}",{label}="{key}",code="{code}"}} {value} {ts}')
            hist.end = ts
    lines: list[str] = []
    for metric, body in families.items():
        lines += [f"# HELP {metric.removesuffix('_total')} Requests.",
                  f"# TYPE {metric.removesuffix('_total')} counter", *body]
    lines += ["# HELP m Matching table.", "# TYPE m gauge"]
    for labels in _table_series():
        text = ",".join(f'{k}="{_om_escape(v)}"' for k, v in sorted(labels.items()))
        lines.append(f"m{{{text}}} 1 {hist.end}" if text else f"m 1 {hist.end}")
    hist.lines = [*lines, "# EOF"]
    return hist


def _table_series() -> list[dict[str, str]]:
    """One label set per distinct row of the matching table."""
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for _, labels, _ in TABLE:
        seen.setdefault(tuple(sorted(labels.items())), labels)
    return list(seen.values())


def _om_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@pytest.fixture(scope="module")
def history() -> History:
    """Ninety minutes ending two days ago, aligned to whole hours."""
    return generate(ending_two_days_ago(MINUTES * 60, time.time()))


@pytest.fixture(scope="module")
def server(history: History, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[PrometheusServer]:
    """A real Prometheus holding the history, with its query log on."""
    workdir = tmp_path_factory.mktemp("shared-prometheus")
    with backfilled_prometheus(workdir, history.lines, query_log=True) as prometheus:
        yield prometheus


def _config(url: str) -> model.Config:
    slos = []
    for metric, (job, label) in METRICS.items():
        for n in range(KEYS):
            key = _key(metric, n)
            sel = f'{metric}{{job="{job}",{label}="{key}"'
            slos.append(
                f"      - name: {metric[:4]}-{n:03d}\n        objective: 99\n"
                f"        window: 1h\n        sli:\n          ratio:\n"
                f"            bad: '{sel},code=\"500\"}}'\n            total: '{sel}}}'\n")
    return parse_config(
        f'prometheus: {{url: "{url}", timeout: 30s}}\nevaluation_interval: 30s\n'
        "services:\n  - name: shop\n    slos:\n" + "".join(slos), "shared.yaml")


def _logged_queries(path: Path | None, since: int) -> int:
    """Queries of the two metrics in Prometheus' query log after its first ``since`` lines."""
    assert path is not None
    lines = path.read_text().splitlines()[since:]
    return sum(1 for line in lines
               if any(m in json.loads(line)["params"]["query"] for m in METRICS))


def test_200_slos_over_2_metrics_ask_twice_per_steady_cycle_and_stay_exact(
        server: PrometheusServer, history: History, tmp_path: Path) -> None:
    """A steady cycle of 200 SLOs over 2 metrics makes 2 queries (the goal: at most 4),
    and each SLO's 1h window equals its generated events.

    Expected values are the generated increments of the SLO's route or method
    whose bucket lies in the 1h window ending at the bucket after the cycle
    (the restart of /r007's counter counts the new value, as ``increase`` would).
    """
    at = history.end + 90.0
    clock = [at]
    client = PrometheusClient(model.PrometheusConfig(url=server.url, timeout=30.0))
    source = CountingSource(client)
    with SQLiteStore(tmp_path, RES) as store:
        engine = Engine(_config(server.url), store, source, clock=lambda: clock[0],
                        max_workers=2)
        try:
            engine.evaluate()  # the backfills: read together, 10 SLOs of one metric a read
            # 100 SLOs per metric in batches of BACKFILL_BATCH (10): 2 x 10 reads
            assert BACKFILL_BATCH == 10
            assert sum(source.reads.values()) == 20
            source.reads.clear()
            assert server.query_log_path is not None
            logged = len(server.query_log_path.read_text().splitlines())
            clock[0] = at + 30.0
            cpu = time.process_time()
            engine.evaluate()
            cpu = time.process_time() - cpu
        finally:
            engine.close()
            client.close()
    assert sum(source.reads.values()) == 2
    assert _logged_queries(server.query_log_path, logged) == 2
    print(f"steady cycle of 200 SLOs: {sum(source.reads.values())} queries, "
          f"{cpu:.2f} s CPU")  # the figure the README quotes

    snap = engine.snapshot
    end = math.floor(clock[0] / RES) * RES + RES
    assert len(snap.slos) == 200
    for status in snap.slos:
        metric = "http_requests_total" if status.slo.name.startswith("http") else \
            "rpc_requests_total"
        key = _key(metric, int(status.slo.name.rsplit("-", 1)[1]))
        hour = status.window(3600.0)
        assert hour is not None
        assert status.up
        assert (hour.good, hour.total) == history.expected(metric, key, end - 3600, end)


def test_local_matching_agrees_with_prometheus_on_the_table(
        server: PrometheusServer, history: History) -> None:
    """Every row of the matching table selects, in the real Prometheus, exactly the
    series the local matcher selects."""
    disagree = []
    for selector, labels, selected in TABLE:
        found = server.query(selector, history.end)
        returned = [{k: v for k, v in r["metric"].items() if k != "__name__"}
                    for r in found["result"]]
        local = matchers.parse(selector).matches({"__name__": "m", **labels})
        if (labels in returned) != local or local != selected:
            disagree.append((selector, labels, labels in returned, local))
    assert disagree == []
