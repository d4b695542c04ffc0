"""Backfills planned together (``Ingestor.plan_backfill``): one query per chunk for the SLOs
over one metric, the same events as read alone, and a failed shared read that leaves each
SLO to read alone."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from slo_exporter import matchers
from slo_exporter.config import parse_config
from slo_exporter.errors import QueryHTTPError
from slo_exporter.ingest import Ingestor
from slo_exporter.model import Config
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.store import SQLiteStore
from slo_exporter.store.protocol import Commit

NOW = 1_800_000_000.0
JOBS = ("a", "b", "c")


class _Counters:
    """A stand-in Prometheus holding, per job, code="200" rising 10 a minute and
    code="500" rising 1 a minute (reset every 500 minutes); raw reads are matched with
    Prometheus' rules. ``fail`` names selectors whose reads fail."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.fail = fail
        self.asked: list[str] = []
        self._series = {
            (job, code): [(NOW - 60.0 * n, float(((2000 - n) % 500) * (10 if code == "200"
                                                                        else 1)))
                          for n in range(2000, -1, -1)]
            for job in JOBS for code in ("200", "500")}

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.asked.append(selector)
        if selector in self.fail:
            raise QueryHTTPError("HTTP 503", query=selector, endpoint="e", status=503)
        parsed = matchers.parse(selector)
        found = []
        for (job, code), samples in self._series.items():
            labels = {"__name__": "requests_total", "job": job, "code": code}
            if parsed.matches(labels):
                found.append(Series(labels, tuple((t, v) for t, v in samples
                                                  if start < t <= end)))
        return [s for s in found if s.samples]

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        raise AssertionError("no instant query expected")

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise AssertionError("no hour tier expected: the period is 1 day")


def _config() -> Config:
    slos = "\n".join(f"""      - name: {job}
        objective: 99
        window: 1d
        sli:
          ratio:
            bad: requests_total{{job="{job}",code="500"}}
            total: requests_total{{job="{job}"}}""" for job in JOBS)
    return parse_config(f"""
prometheus: {{url: "http://127.0.0.1:1", backfill_chunk: 6h}}
services:
  - name: api
    slos:
{slos}
""", "t.yaml")


class _Quiet:
    def __getattr__(self, name: str) -> object:
        return lambda *args, **kwargs: None


def _backfill(path: Path, source: _Counters, *, together: bool,
              log: object = None, store: SQLiteStore | None = None,
              ) -> dict[str, list[tuple[float, float, float]]]:
    """Every SLO of ``_config`` backfilled into ``store`` (a new one at ``path`` by
    default), closed after; each SLO's buckets."""
    config = _config()
    store = store if store is not None else SQLiteStore(path, 60.0)
    ingestor = Ingestor(store, source, config.prometheus, config.slos,
                        stop=threading.Event(), log=log or _Quiet())
    if together:
        ingestor.plan_backfill(config.slos, NOW)
    for slo in config.slos:
        assert ingestor.read(slo, NOW)
        assert store.cursor(slo.key) == NOW
    found = {slo.key: store.buckets(slo.key, 0.0, NOW + 60) for slo in config.slos}
    store.close()
    return found


def test_slos_over_one_metric_read_each_chunk_with_one_query(tmp_path: Path) -> None:
    """Three SLOs over one counter, a 1-day period in 6 h chunks: read together, each of
    the 5 reads is one query for all three, and every bucket is what each SLO read
    alone counts (one query per chunk each: its bad is picked from its total).

    The read starts at 1,799,913,060 (the period and its 10-minute lead) and is cut
    1 ms before multiples of 21,600 s: 83,330 x 21,600 = 1,799,928,000, then three
    whole chunks to 1,799,992,800, then the rest up to 1,800,000,000: 5 reads."""
    shared, alone = _Counters(), _Counters()
    got = _backfill(tmp_path / "t", shared, together=True)
    want = _backfill(tmp_path / "a", alone, together=False)
    assert got == want
    assert all(got.values())
    assert set(shared.asked) == {'requests_total{job=~"a|b|c"}'}
    assert len(shared.asked) == 5
    assert len(alone.asked) == 3 * 5


def test_a_failed_shared_read_leaves_each_slo_to_read_alone(tmp_path: Path) -> None:
    """When the query for all fails, the failure is logged once and each SLO reads its
    own backfill, with the same buckets as if never planned together."""
    failing = _Counters(fail=('requests_total{job=~"a|b|c"}',))
    with capture_logs() as logs:
        got = _backfill(tmp_path / "t", failing, together=True, log=structlog.get_logger())
    want = _backfill(tmp_path / "a", _Counters(), together=False)
    assert got == want
    assert [e["slos"] for e in logs if e["event"] == "backfill_shared_failed"] == [3]


class _Recording(SQLiteStore):
    """The SQLite store, noting each commit's ``settled`` hint by SLO."""

    hints: dict[str, list[float]]

    def commit_many(self, commits: Sequence[Commit]) -> None:
        for c in commits:
            self.hints.setdefault(c.slo_key, []).append(c.settled)
        super().commit_many(commits)


def test_every_chunk_but_the_last_tells_the_store_it_is_settled(tmp_path: Path) -> None:
    """Each of the 5 chunks of a backfill commits with ``settled`` at its own end (a chunk
    that later ones follow), so the store files it whole; the last chunk, which ends at
    the present, gives no hint. The same read together and alone."""
    edges = [1_799_928_000.0 + k * 21_600.0 - 0.001 for k in range(4)]
    for together in (True, False):
        path = tmp_path / str(together)
        store = _Recording(path, 60.0)
        store.hints = {}
        _backfill(path, _Counters(), together=together, store=store)
        assert store.hints == {slo.key: [*edges, -math.inf] for slo in _config().slos}
