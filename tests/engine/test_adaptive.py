"""Adaptive ingestion: reads end at the instant asked, each series is read up to its
newest sample, a sample that lands late is counted once in its own bucket, and the fast
path (``Ingestor.catch_up``) never counts what a full read counts."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence

import structlog

from slo_exporter.config import parse_config
from slo_exporter.ingest import Ingestor, adopt_definitions
from slo_exporter.model import SLO
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW, Landing, LandingSource, counter_feed, exact_buckets

API = "api/availability"
BAD = 'http_requests_total{code=~"5.."}'
TOTAL = "http_requests_total"
RES = 60.0
#: an existing config that set no delay at all: reads end at the instant asked
NO_DELAY = CONFIG.replace("retries: 1}", "retries: 1, query_delay: 0s}")


def _setup(store: EventStore, source: LandingSource,
           text: str = NO_DELAY) -> tuple[Ingestor, SLO]:
    config = parse_config(text, "t.yaml")
    adopt_definitions(store, config.slos, structlog.get_logger(), at=NOW)
    ingestor = Ingestor(store, source, config.prometheus, config.slos,
                        stop=threading.Event(), log=structlog.get_logger())
    return ingestor, next(s for s in config.slos if s.key == API)


def _stored(store: EventStore) -> tuple[dict[float, float], dict[float, float]]:
    """(bad, total) per bucket as stored; bad = total - good."""
    rows = store.buckets(API, NOW - 86400, NOW + 86400)
    return ({b: t - g for b, g, t in rows if t - g}, {b: t for b, _, t in rows if t})


def _expected(feeds: Mapping[str, Sequence[Landing]]) -> dict[float, float]:
    out: dict[float, float] = {}
    for samples in feeds.values():
        for bucket, n in exact_buckets(samples, RES).items():
            out[bucket] = out.get(bucket, 0.0) + n
    return {b: n for b, n in out.items() if n}


def test_a_sample_landing_after_the_read_is_counted_once_in_its_own_bucket(
    store: EventStore,
) -> None:
    """Series b's sample at NOW-1 lands at NOW+3, after the read that ends at NOW: the
    next read reaches back to b's last sample (NOW-16) and counts its 7 events in bucket
    NOW-60, once, with no query delay configured."""
    total = {
        "a": counter_feed(NOW - 600, NOW + 120, 15, 0.5, lambda ts: 10),
        "b": counter_feed(NOW - 601, NOW + 120, 15, 4.0, lambda ts: 7),
    }
    bad = {"a": counter_feed(NOW - 600, NOW + 120, 15, 0.5, lambda ts: 1)}
    source = LandingSource({TOTAL: total, BAD: bad}, now=NOW)
    ingestor, slo = _setup(store, source)
    assert ingestor.read(slo, NOW)
    first = _stored(store)[1].get(NOW - 60, 0.0)
    for t in (NOW + 60, NOW + 120, NOW + 400):
        source.now = t
        assert ingestor.read(slo, t)
    bad_stored, total_stored = _stored(store)
    assert total_stored[NOW - 60] == first + 7
    assert total_stored == _expected(total)
    assert bad_stored == _expected(bad)
    assert store.cursor(API) == NOW + 400


def test_a_series_landing_minutes_late_is_read_back_to_its_last_sample(
    store: EventStore,
) -> None:
    """A federated series whose samples land 90 s late, read every 15 s: every increase
    lands in its own bucket (a fixed 30 s overlap would move them to later buckets)."""
    total = {
        "near": counter_feed(NOW - 900, NOW + 600, 15, 1.0, lambda ts: 3),
        "far": counter_feed(NOW - 905, NOW + 600, 15, 90.0, lambda ts: 1 + int(ts) % 7),
    }
    bad = {"near": counter_feed(NOW - 900, NOW + 600, 15, 1.0, lambda ts: int(ts) % 2)}
    source = LandingSource({TOTAL: total, BAD: bad}, now=NOW)
    ingestor, slo = _setup(store, source)
    t = NOW
    while t <= NOW + 900:
        source.now = t
        assert ingestor.read(slo, t)
        t += 15
    assert _stored(store) == (_expected(bad), _expected(total))


def test_fast_path_and_full_reads_interleaved_count_every_event_once(
    store: EventStore,
) -> None:
    """Jittered full reads every ~15 s and the fast path every 5 s, over series with
    random phases and landing lags (one 90 s late): the stored buckets are exactly the
    increases of the samples, and the fast path moved no cursor."""
    rng = random.Random(9)
    total: dict[str, list[Landing]] = {}
    bad: dict[str, list[Landing]] = {}
    for i in range(4):
        lag = 90.0 if i == 3 else rng.uniform(0.1, 12.0)
        phase = rng.uniform(0, 15)
        total[f"s{i}"] = counter_feed(NOW - 600 + phase, NOW + 1200, 15, lag,
                                      lambda ts: rng.randint(5, 50))
        bad[f"s{i}"] = counter_feed(NOW - 600 + phase, NOW + 1200, 15, lag,
                                    lambda ts: rng.randint(0, 3))
    source = LandingSource({TOTAL: total, BAD: bad}, now=NOW)
    ingestor, slo = _setup(store, source)
    assert ingestor.read(slo, NOW)
    caught = 0
    full_at = NOW
    t = NOW
    while t <= NOW + 1200:
        t += 5
        source.now = t
        cursor = store.cursor(API)
        if ingestor.catch_up(slo, t):
            caught += 1
        assert store.cursor(API) == cursor
        if t - full_at >= 15 + rng.uniform(-3, 3):
            assert ingestor.read(slo, t)
            full_at = t
    source.now = NOW + 1500
    assert ingestor.read(slo, NOW + 1500)
    assert caught > 100
    assert _stored(store) == (_expected(bad), _expected(total))


def test_the_fast_path_waits_while_a_full_read_of_the_slo_runs(store: EventStore) -> None:
    """Called while a full read is inside its query, the fast path reads nothing and
    says so; the full read's counts stand alone."""
    total = {"a": counter_feed(NOW - 300, NOW + 60, 15, 0.5, lambda ts: 10)}
    bad = {"a": counter_feed(NOW - 300, NOW + 60, 15, 0.5, lambda ts: 1)}
    seen: list[tuple[bool, int]] = []

    def during_read(selector: str, start: float, end: float) -> None:
        if not seen:
            before = len(source.reads)
            seen.append((ingestor.catch_up(slo, source.now), len(source.reads) - before))

    source = LandingSource({TOTAL: total, BAD: bad}, now=NOW)
    ingestor, slo = _setup(store, source)
    assert ingestor.read(slo, NOW)
    source.now = NOW + 60
    source.on_read = during_read
    assert ingestor.read(slo, NOW + 60)
    assert seen == [(False, 0)]
    assert _stored(store)[1] == _expected(
        {"a": [s for s in total["a"] if s.landed <= NOW + 60]})


def test_the_fast_path_waits_for_the_first_read_and_for_a_long_gap(store: EventStore) -> None:
    """Before the first full read, or with the cursor more than 10 minutes behind, the
    fast path reads nothing: a backfill is the full cycle's."""
    total = {"a": counter_feed(NOW - 300, NOW + 900, 15, 0.5, lambda ts: 10)}
    source = LandingSource({TOTAL: total, BAD: {}}, now=NOW)
    ingestor, slo = _setup(store, source)
    assert ingestor.catch_up(slo, NOW) is False
    assert ingestor.read(slo, NOW)
    source.now = NOW + 601
    reads = len(source.reads)
    assert ingestor.catch_up(slo, NOW + 601) is False
    assert len(source.reads) == reads
    source.now = NOW + 20
    assert ingestor.catch_up(slo, NOW + 20) is True


def test_a_fast_read_only_asks_for_samples_after_the_oldest_live_series(
    store: EventStore,
) -> None:
    """The fast path reads from the oldest last sample of a live series (NOW-5.5 here,
    series b), not from the cursor less an overlap; a series silent for over 5 minutes
    holds nothing back."""
    total = {
        "a": counter_feed(NOW - 300, NOW + 60, 15, 0.0, lambda ts: 10),
        "b": counter_feed(NOW - 305.5, NOW + 60, 15, 0.5, lambda ts: 10),
        "gone": counter_feed(NOW - 900, NOW - 400, 15, 0.5, lambda ts: 10),
    }
    source = LandingSource({TOTAL: total, BAD: {}}, now=NOW)
    ingestor, slo = _setup(store, source)
    assert ingestor.read(slo, NOW)
    source.now = NOW + 12
    reads = len(source.reads)
    assert ingestor.catch_up(slo, NOW + 12)
    assert {(start, end) for _, start, end in source.reads[reads:]} == {(NOW - 5.5, NOW + 12)}


def test_the_fast_path_asks_prometheus_about_once_per_scrape(store: EventStore) -> None:
    """Two series scraped every 60 s 10 s apart, polled every 5 s for 5 minutes: the fast
    path reads only once the oldest series is due (its last sample + 60 s), so at most
    twice per series phase and scrape (2 phases * 2 * 5 scrapes * 2 selectors = 40 reads,
    not 60 polls * 2 = 120), and still counts exactly."""
    total = {"a": counter_feed(NOW - 600, NOW + 300, 60, 1.0, lambda ts: 10),
             "b": counter_feed(NOW - 590, NOW + 300, 60, 1.0, lambda ts: 20)}
    bad = {"a": counter_feed(NOW - 600, NOW + 300, 60, 1.0, lambda ts: 1)}
    source = LandingSource({TOTAL: total, BAD: bad}, now=NOW)
    ingestor, slo = _setup(store, source)
    assert ingestor.read(slo, NOW)
    reads = len(source.reads)
    t = NOW
    while t < NOW + 300:
        t += 5
        source.now = t
        ingestor.catch_up(slo, t)
    assert len(source.reads) - reads <= 40
    source.now = NOW + 400
    assert ingestor.read(slo, NOW + 400)
    assert _stored(store) == (_expected(bad), _expected(total))


def test_a_stopped_target_costs_the_fast_path_a_few_reads_per_step(store: EventStore) -> None:
    """Samples every 15 s stop at NOW; polled every second until NOW + 120, the fast
    path reads when the series is due (NOW + 15), then waits 1, 2, 4, 8 s and at most a
    step: reads at +15, 16, 18, 22, 30, 45, 60, 75, 90, 105, 120 = 11 polls * 2
    selectors = 22 reads, not 120 * 2."""
    total = {"a": counter_feed(NOW - 300, NOW, 15, 0.0, lambda ts: 10)}
    bad = {"a": counter_feed(NOW - 300, NOW, 15, 0.0, lambda ts: 1)}
    source = LandingSource({TOTAL: total, BAD: bad}, now=NOW)
    ingestor, slo = _setup(store, source)
    assert ingestor.read(slo, NOW)
    reads = len(source.reads)
    polled = []
    for k in range(1, 121):
        source.now = NOW + k
        before = len(source.reads)
        assert ingestor.catch_up(slo, NOW + k) is False
        if len(source.reads) > before:
            polled.append(k)
    assert polled == [15, 16, 18, 22, 30, 45, 60, 75, 90, 105, 120]
    assert len(source.reads) - reads == 22
