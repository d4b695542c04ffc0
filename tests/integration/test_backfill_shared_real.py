"""Backfills read together against a real Prometheus: bucket for bucket the same as alone.

Six days of one request counter for several jobs (counter resets, a job that
appears two days before the end, a job with a three-hour gap, a job with a
NaN and a negative sample, and a bad selector given as a regex) are turned
into TSDB blocks with promtool and served by a real ``prometheus``. The SLOs
are backfilled twice through the ``Ingestor`` into SQLite stores: once as the
daemon's cycle does it (``plan_backfill`` first, so SLOs over one metric read
each chunk and the hour tier with one query), once each SLO alone. Every
bucket, cursor and series state must be the same, and reading together must
ask Prometheus far fewer times.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slo_exporter import accounting
from slo_exporter.config import parse_config
from slo_exporter.ingest import Ingestor
from slo_exporter.model import Config
from slo_exporter.prometheus import PrometheusClient, QueryResult, Series
from slo_exporter.store import SQLiteStore
from tests.support.harness import PrometheusServer, backfilled_prometheus
from tests.support.synth import DAY, JobHistory, Traffic, generate_job, write_openmetrics

pytestmark = pytest.mark.integration

HOUR = 3600.0
#: the history ends on no whole hour, a day before the test runs
END = (time.time() // HOUR) * HOUR - DAY + 1234
UNTIL = math.floor((END - 2 * HOUR) / 60) * 60
JOBS = ("api", "late", "gappy", "glitch")


def _gappy(history: JobHistory) -> JobHistory:
    """``history`` without 3 h of samples 4 days before its end."""
    end = history.end_ms / 1000
    rows = [(ts, g, b) for ts, g, b in zip(history.timestamps, history.good_values,
                                            history.bad_values, strict=True)
            if not end - 4 * DAY - 3 * HOUR < ts / 1000 <= end - 4 * DAY]
    return dataclasses.replace(history, timestamps=tuple(r[0] for r in rows),
                               good_values=tuple(r[1] for r in rows),
                               bad_values=tuple(r[2] for r in rows))


def _glitch_lines() -> list[str]:
    """job="glitch" for 6 days: code="200" rises 3 a minute with one NaN and one -3
    sample 4 days before the end; code="500" rises 5 a minute and resets every 20
    minutes."""
    lines = []
    first = int(END - 6 * DAY) // 60 * 60
    nan_at, negative_at = first + 2 * 86400 + 1800, first + 2 * 86400 + 9000
    for i, ts in enumerate(range(first, int(END), 60)):
        good = "NaN" if ts == nan_at else ("-3" if ts == negative_at else str(3 * i))
        lines.append(f'http_requests_total{{job="glitch",code="200"}} {good} {ts}')
        lines.append(f'http_requests_total{{job="glitch",code="500"}} {5 * (i % 20) + 5} {ts}')
    return lines


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    base = tmp_path_factory.mktemp("shared")
    traffic = Traffic(resets_before_end=(4 * DAY + 7 * 3600 + 1234, DAY + 95))
    histories = [generate_job("api", end=END, days=6, step=60, traffic=traffic),
                 generate_job("late", end=END, days=2, step=60),
                 _gappy(generate_job("gappy", end=END, days=6, step=60, traffic=traffic))]
    openmetrics = base / "history.om"
    write_openmetrics(openmetrics, histories)
    text = openmetrics.read_text().removesuffix("# EOF\n")
    openmetrics.write_text(text + "\n".join(_glitch_lines()) + "\n# EOF\n")
    with backfilled_prometheus(base, openmetrics) as server:
        yield server


def _config(url: str) -> Config:
    slos = "\n".join(f"""      - name: {job}
        objective: 99.9
        window: 7d
        sli:
          ratio:
            bad: http_requests_total{{job="{job}",code="500"}}
            total: http_requests_total{{job="{job}"}}""" for job in JOBS)
    return parse_config(f"""
prometheus: {{url: "{url}", timeout: 30s}}
services:
  - name: svc
    slos:
{slos}
      - name: api-regex
        objective: 99.9
        window: 7d
        sli:
          ratio:
            bad: http_requests_total{{job="api",code=~"5.."}}
            total: http_requests_total{{job=~"api|late"}}
""", "t.yaml")


class _Quiet:
    def __getattr__(self, name: str) -> object:
        return lambda *args, **kwargs: None


class _Asked(accounting.SourceProxy):
    """Counts the queries sent to Prometheus."""

    def __init__(self, source: accounting.Source) -> None:
        super().__init__(source)
        self.queries = 0

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.queries += 1
        return self._source.raw_samples(selector, start, end)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        self.queries += 1
        return self._source.query_range(promql, start, end, step, stats=stats)


def _backfill(url: str, path: Path, *, together: bool) -> tuple[SQLiteStore, Config, int]:
    config = _config(url)
    store = SQLiteStore(path, config.storage.resolution)
    client = PrometheusClient(config.prometheus)
    asked = _Asked(client)
    ingestor = Ingestor(store, asked, config.prometheus, config.slos,
                        stop=threading.Event(), log=_Quiet())
    if together:
        ingestor.plan_backfill(config.slos, UNTIL)
    for slo in config.slos:
        assert ingestor.read(slo, UNTIL)
    client.close()
    return store, config, asked.queries


@pytest.fixture(scope="module")
def stores(prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[SQLiteStore, SQLiteStore, Config, int, int]]:
    """(read together, read alone, the config, queries together, queries alone)."""
    shared, config, shared_queries = _backfill(
        prometheus.url, tmp_path_factory.mktemp("t"), together=True)
    alone, _, alone_queries = _backfill(
        prometheus.url, tmp_path_factory.mktemp("a"), together=False)
    yield shared, alone, config, shared_queries, alone_queries
    shared.close()
    alone.close()


def test_every_bucket_equals_the_backfill_read_alone(
        stores: tuple[SQLiteStore, SQLiteStore, Config, int, int]) -> None:
    """Over resets, a gap, a late series, implausible samples and regex selectors, each
    SLO's buckets, cursor and series state read together equal those read alone."""
    shared, alone, config, _, _ = stores
    for slo in config.slos:
        got = shared.buckets(slo.key, 0.0, UNTIL + DAY)
        want = alone.buckets(slo.key, 0.0, UNTIL + DAY)
        assert want, f"{slo.key}: the history has events"
        assert got == want, slo.key
        assert shared.cursor(slo.key) == alone.cursor(slo.key) == UNTIL
        assert shared.series(slo.key) == alone.series(slo.key)


def test_reading_together_asks_once_per_chunk_for_all_slos(
        stores: tuple[SQLiteStore, SQLiteStore, Config, int, int]) -> None:
    """Five SLOs over one counter: read together, each chunk and the hour tier is one
    query for all of them instead of one per SLO; only the hours an SLO reads raw
    (resets, a gap, new series, implausible samples) stay its own, so together asks
    less than half as often."""
    _, _, _, together, alone = stores
    assert together * 2 < alone, (together, alone)
