"""A steady read that a shared answer shows has nothing new since the SLO's series state
commits without counting (``Ingestor._unchanged``): it must leave exactly what the full
count leaves, the same buckets, cursor, series state, measured spans and fast-path plans."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import structlog

from slo_exporter import matchers
from slo_exporter.config import parse_config
from slo_exporter.ingest import Ingestor, Pending, _Reading
from slo_exporter.model import SLO
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.store import SQLiteStore
from tests.engine.support import NOW, RawSamplesOnly

RES = 60.0
SERVICES = ("a", "b", "c")


def _config() -> str:
    """Per job, a ratio SLO and a latency SLO over counters the jobs share (so their
    reads are shared)."""
    services = "".join(f"""
  - name: {name}
    slos:
      - name: availability
        objective: 99
        window: 1d
        sli:
          ratio:
            bad: 'requests_total{{job="{name}",code="500"}}'
            total: 'requests_total{{job="{name}"}}'
      - name: latency
        objective: 90
        window: 1d
        sli:
          latency:
            histogram: 'latency_seconds{{job="{name}"}}'
            threshold: 0.3
""" for name in SERVICES)
    return ('prometheus: {url: "http://127.0.0.1:1", timeout: 1s, retries: 1}\n'
            'evaluation_interval: 10s\nservices:' + services)


#: every series: requests by job and code, a latency histogram's buckets and count by job
SERIES = tuple(
    [{"__name__": "requests_total", "job": job, "code": code}
     for job in SERVICES for code in ("200", "500")]
    + [{"__name__": "latency_seconds_bucket", "job": job, "le": le}
       for job in SERVICES for le in ("0.1", "0.3", "+Inf")]
    + [{"__name__": "latency_seconds_count", "job": job} for job in SERVICES])


class RandomCounters(RawSamplesOnly):
    """The counters of ``SERIES``, sampled as the test adds samples; a read gets each
    series' samples in ``(start, end]``, matched with the selector's own matchers, and
    ``count by (le)`` the ``le`` values of the buckets selected."""

    def __init__(self) -> None:
        self.samples: dict[int, list[tuple[float, float]]] = {}

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        parsed = matchers.parse(selector)
        out = []
        for i, samples in sorted(self.samples.items()):
            seen = tuple(s for s in samples if start < s[0] <= end)
            if seen and parsed.matches(SERIES[i]):
                out.append(Series(dict(SERIES[i]), seen))
        return out

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        match = re.fullmatch(r"count by \(le\) \((.*)\)", promql)
        assert match is not None, promql
        parsed = matchers.parse(match.group(1))
        les = sorted({s["le"] for s in SERIES if "le" in s and parsed.matches(s)})
        return QueryResult("vector", tuple(Series({"le": le}, ((at, 1.0),)) for le in les),
                           None, None, promql)


class Observed(Ingestor):
    """An ingester that notes what its shortcut decided (observation only)."""

    taken: list[tuple[str, bool]]
    #: the shortcut's answers, the fast path's included
    answers: list[bool]

    def _unchanged(self, reading: _Reading, *args: object, **kwargs: object) -> bool:
        found = super()._unchanged(reading, *args, **kwargs)  # type: ignore[arg-type]
        self.taken.append((reading.slo.name, found))
        return found

    def _nothing_new(self, *args: object, **kwargs: object) -> int | None:
        found = super()._nothing_new(*args, **kwargs)  # type: ignore[arg-type]
        self.answers.append(found is not None)
        return found


def _grow(rng: random.Random, source: RandomCounters, now: float) -> None:
    """Some series get a sample at ``now`` or a little before (late), some several, some
    reset, a new series now and then; most get nothing."""
    for i in range(len(SERIES)):
        roll = rng.random()
        if roll < 0.55:
            continue
        samples = source.samples.setdefault(i, [])
        last_ts, last_value = samples[-1] if samples else (now - 300.0, 0.0)
        for _ in range(1 if roll < 0.9 else 3):
            ts = max(last_ts + 1.0, now - rng.choice([0.0, 0.0, 5.0, 20.0]))
            value = 0.0 if rng.random() < 0.05 else last_value + rng.randint(0, 9)
            samples.append((ts, value))
            last_ts, last_value = ts, value


def _state(store: SQLiteStore, ingestor: Ingestor, slos: Sequence[SLO]) -> list[object]:
    keys = [s.key for s in slos]
    return [(store.buckets(k, 0, 2 * NOW), store.cursor(k), store.series(k),
             store.measured_spans(k, 0, 2 * NOW), ingestor._next.get(k),
             ingestor._due.get(k), ingestor._misses.get(k), ingestor._step.get(k))
            for k in keys]


def test_the_shortcut_leaves_what_the_full_count_leaves(tmp_path: Path) -> None:
    """200 random steps of samples landing (late ones, several at once, resets, new
    series, series going stale), fast reads and steady reads: one store read through
    shared answers (the shortcut allowed) and one read alone (always counted) hold the
    same buckets, cursors, series state and measured spans, and plan the same next
    reads; the shortcut was taken and declined many times, for ratio and latency SLIs, in
    steady reads and in fast reads (which then back off as after a count of nothing)."""
    config = parse_config(_config(), "t.yaml")
    slos = config.slos
    rng = random.Random(11)
    source = RandomCounters()
    stores = [SQLiteStore(tmp_path / "shared", RES), SQLiteStore(tmp_path / "alone", RES)]
    log = structlog.get_logger()
    shared = Observed(stores[0], source, config.prometheus, slos, stop=threading.Event(),
                      log=log)
    shared.taken, shared.answers = [], []
    alone = Ingestor(stores[1], source, config.prometheus, slos, stop=threading.Event(),
                     log=log)
    try:
        now = NOW
        for ingestor in (shared, alone):  # the first read: a backfill of nothing
            for slo in slos:
                assert ingestor.read(slo, now)
        for _ in range(200):
            now += rng.choice([1.0, 3.0, 10.0, 15.0, 15.0, 120.0, 400.0])
            if rng.random() < 0.8:  # else every series idles (stale after LATE_LIMIT)
                _grow(rng, source, now)
            if rng.random() < 0.4:  # the fast path, shared by the one and alone by the other
                answer = shared.share(slos, now, fast=True)
                for ingestor, through in ((shared, answer), (alone, None)):
                    pending = Pending()
                    for slo in slos:
                        ingestor.catch_up(slo, now, through, pending)
                    assert ingestor.flush(pending) == {}
            if rng.random() < 0.6:  # a steady cycle
                answer = shared.share(slos, now)  # None after a long gap: each alone
                for ingestor, through in ((shared, answer), (alone, None)):
                    pending = Pending()
                    for slo in slos:
                        assert ingestor.read(slo, now, through, pending)
                    assert ingestor.flush(pending) == {}
            assert _state(stores[0], shared, slos) == _state(stores[1], alone, slos)
        for name in ("availability", "latency"):
            assert shared.taken.count((name, True)) > 30
            assert shared.taken.count((name, False)) > 30
        steady = sum(found for _, found in shared.taken)
        assert shared.answers.count(True) > steady + 30  # fast reads that found nothing
    finally:
        for store in stores:
            store.close()
