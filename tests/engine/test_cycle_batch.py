"""A full cycle commits its steady reads in one transaction, after every read and before
any status: a failed batch marks only its SLOs down and the next cycle counts exactly;
the fast path leaves an SLO whose commit still waits."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import StoreError
from slo_exporter.ingest import Ingestor, Pending
from slo_exporter.snapshot import SLOStatus
from slo_exporter.store import Commit, SQLiteStore
from tests.engine.support import NOW, Landing, LandingSource, counter_feed, exact_buckets

RES = 60.0
KEYS = ("a/availability", "b/availability")


def _config() -> str:
    """Two ratio SLOs over their own counters (nothing shared), read sample by sample."""
    services = "".join(f"""
  - name: {name}
    slos:
      - name: availability
        objective: 99
        window: 1d
        sli:
          ratio:
            bad: errors_{name}_total
            total: requests_{name}_total
""" for name in ("a", "b"))
    return ('prometheus: {url: "http://127.0.0.1:1", timeout: 1s, retries: 1, '
            'backfill_hourly_after: 30d}\nevaluation_interval: 10s\nservices:' + services)


def _feeds() -> dict[str, dict[str, list[Landing]]]:
    """Each SLO: 10 requests per 15 s scrape from NOW - 1 h, 1 of them failing; samples
    land 1 s after their timestamp."""
    feeds: dict[str, dict[str, list[Landing]]] = {}
    for name in ("a", "b"):
        feeds[f"requests_{name}_total"] = {"i": counter_feed(NOW - 3600, NOW + 900, 15, 1.0,
                                                             lambda ts: 10)}
        feeds[f"errors_{name}_total"] = {"i": counter_feed(NOW - 3600, NOW + 900, 15, 1.0,
                                                           lambda ts: 1)}
    return feeds


def _exact(feeds: Mapping[str, Mapping[str, Sequence[Landing]]], metric: str,
           until: float) -> float:
    """Every increase of ``metric`` up to ``until`` (its first sample is the baseline)."""
    samples = [s for s in feeds[metric]["i"] if s.ts <= until]
    return sum(exact_buckets(samples, RES).values())


class FailingStore(SQLiteStore):
    """A real store whose commits fail (as on a full disk) for the keys in ``failing``."""

    failing: frozenset[str] = frozenset()

    def commit_many(self, commits: Sequence[Commit]) -> None:
        if any(c.slo_key in self.failing for c in commits):
            raise StoreError(f"event store {self.path}: database or disk is full")
        super().commit_many(commits)

    def commit(self, slo_key: str, deltas: Mapping[float, tuple[float, float]],
               **kwargs: Any) -> None:
        if slo_key in self.failing:
            raise StoreError(f"event store {self.path}: database or disk is full")
        super().commit(slo_key, deltas, **kwargs)


def _by_key(engine: Engine) -> dict[str, SLOStatus]:
    return {s.slo.key: s for s in engine.snapshot.slos}


def _begins(store: SQLiteStore) -> list[str]:
    seen: list[str] = []
    conn = store._conn  # observation only: the transactions a cycle opens
    assert conn is not None
    conn.set_trace_callback(lambda s: seen.append(s) if s.startswith("BEGIN") else None)
    return seen


def test_a_steady_cycle_opens_one_transaction_for_all_its_slos(tmp_path: Path) -> None:
    """After the first cycle (a backfill, committed chunk by chunk), each cycle of the two
    SLOs opens one transaction, and the windows hold every increase once: 240 scrapes in
    the hour before NOW, 10 requests and 1 error each, plus what landed since."""
    feeds = _feeds()
    source = LandingSource(feeds, NOW)
    store = SQLiteStore(tmp_path, RES)
    clock = [NOW]
    engine = Engine(parse_config(_config(), "t.yaml"), store, source, clock=lambda: clock[0])
    try:
        engine.evaluate()
        begins = _begins(store)
        for _ in range(3):
            clock[0] += 10.0
            source.now = clock[0]
            engine.evaluate()
        assert len(begins) == 3
        statuses = _by_key(engine)
        for name, key in zip(("a", "b"), KEYS, strict=True):
            assert statuses[key].up
            counts = store.sum(key, 0, NOW + 3600)
            assert counts.total == _exact(feeds, f"requests_{name}_total", clock[0] - 1.0)
            assert counts.total - counts.good == _exact(feeds, f"errors_{name}_total",
                                                        clock[0] - 1.0)
    finally:
        engine.close()
        store.close()


def test_a_second_of_the_fast_path_commits_its_slos_together(tmp_path: Path) -> None:
    """Both SLOs' next samples (scraped at NOW + 15, landed at NOW + 16) are read by
    the fast path at NOW + 16 and committed in one transaction; both statuses follow,
    and the windows hold each increase once."""
    feeds = _feeds()
    source = LandingSource(feeds, NOW)
    store = SQLiteStore(tmp_path, RES)
    clock = [NOW]
    engine = Engine(parse_config(_config(), "t.yaml"), store, source, clock=lambda: clock[0])
    try:
        engine.evaluate()
        begins = _begins(store)
        clock[0] = source.now = NOW + 16.0
        snapshot = engine.catch_up()
        assert len(begins) == 1
        for name, key in zip(("a", "b"), KEYS, strict=True):
            assert next(s for s in snapshot.slos if s.slo.key == key).evaluated_at == NOW + 16
            counts = store.sum(key, 0, NOW + 3600)
            assert counts.total == _exact(feeds, f"requests_{name}_total", NOW + 15.0)
    finally:
        engine.close()
        store.close()


def test_a_failed_commit_marks_its_slo_down_and_the_next_cycle_counts_it_once(
    tmp_path: Path,
) -> None:
    """b's commit fails in one cycle: b is down with the store's error, a (in the same
    batch) is up, and the cycle after reads b again from its last cursor: its window
    holds every increase exactly once, nothing lost and nothing counted twice."""
    feeds = _feeds()
    source = LandingSource(feeds, NOW)
    store = FailingStore(tmp_path, RES)
    clock = [NOW]
    engine = Engine(parse_config(_config(), "t.yaml"), store, source, clock=lambda: clock[0])
    try:
        engine.evaluate()
        clock[0] += 20.0
        source.now = clock[0]
        store.failing = frozenset({KEYS[1]})
        with structlog.testing.capture_logs() as logs:
            engine.evaluate()
        statuses = _by_key(engine)
        assert statuses[KEYS[0]].up
        assert not statuses[KEYS[1]].up
        assert "disk is full" in (statuses[KEYS[1]].error or "")
        assert [(e["event"], e["slo"]) for e in logs if e["event"] == "store_failed"] == [
            ("store_failed", "availability")]
        store.failing = frozenset()
        clock[0] += 20.0
        source.now = clock[0]
        engine.evaluate()
        assert _by_key(engine)[KEYS[1]].up
        for name, key in zip(("a", "b"), KEYS, strict=True):
            counts = store.sum(key, 0, NOW + 3600)
            assert counts.total == _exact(feeds, f"requests_{name}_total", clock[0] - 1.0)
    finally:
        engine.close()
        store.close()


def test_the_fast_path_leaves_an_slo_whose_commit_waits_in_a_batch(tmp_path: Path) -> None:
    """Between a steady read into a batch and its flush, the store holds the old cursor
    and series state: the fast path must not read (it would count those samples again).
    After the flush it reads the next sample and counts it once."""
    feeds = _feeds()
    source = LandingSource(feeds, NOW)
    store = SQLiteStore(tmp_path, RES)
    config = parse_config(_config(), "t.yaml")
    slo = next(s for s in config.slos if s.key == KEYS[0])
    ingestor = Ingestor(store, source, config.prometheus, config.slos,
                        stop=threading.Event(), log=structlog.get_logger())
    try:
        assert ingestor.read(slo, NOW)  # the backfill, committed chunk by chunk
        source.now = NOW + 20.0
        pending = Pending()
        assert ingestor.read(slo, NOW + 20.0, pending=pending)
        assert store.cursor(slo.key) == NOW  # the steady commit waits
        reads = len(source.reads)
        source.now = NOW + 35.0
        assert not ingestor.catch_up(slo, NOW + 35.0)
        assert len(source.reads) == reads
        assert ingestor.flush(pending) == {}
        assert store.cursor(slo.key) == NOW + 20.0
        assert ingestor.catch_up(slo, NOW + 35.0)
        counts = store.sum(slo.key, 0, NOW + 3600)
        assert counts.total == _exact(feeds, "requests_a_total", NOW + 34.0)
    finally:
        store.close()


def test_due_lists_what_a_look_at_every_slo_would(tmp_path: Path) -> None:
    """``due`` keeps SLOs on a heap until their instant; at every second it lists, in
    config order, exactly the SLOs a look at each one's due instant would list, while
    due instants move on (a read that found samples, a miss that backs off)."""
    config = parse_config(_config().replace("services:", "services:" + "".join(f"""
  - name: s{i}
    slos:
      - name: availability
        objective: 99
        window: 1d
        sli: {{ratio: {{bad: e{i}_total, total: r{i}_total}}}}""" for i in range(8))), "t.yaml")
    store = SQLiteStore(tmp_path, RES)
    ingestor = Ingestor(store, LandingSource({}, NOW), config.prometheus, config.slos,
                        stop=threading.Event(), log=structlog.get_logger())
    slos = config.slos
    rng = random.Random(7)
    try:
        for second in range(300):
            until = NOW + second
            for slo in rng.sample(list(slos), 3):
                if rng.random() < 0.5:
                    ingestor._set_due(slo.key, until + rng.choice([-5.0, 0.0, 1.0, 7.5, 30.0]))
                else:
                    ingestor._missed(slo.key, until)
            expected = [s for s in slos if not until < ingestor._due.get(s.key, -math.inf)]
            assert ingestor.due(slos, until) == expected
    finally:
        store.close()
