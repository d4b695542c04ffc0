"""The fast path's query budget: its queries grow with the metrics, not with the SLOs or
their scrape offsets (``ingest.FastBudget``, ``Ingestor.paced``), it places its reads
between full cycles, and it changes only when samples are counted, never what."""

from __future__ import annotations

import math
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml

from bench.cycle_cpu import START, Lag, SyntheticPrometheus, prefill, run_cycles
from bench.scale import Layout, native_config
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.ingest import FAST_POLL, FastBudget, Ingestor
from slo_exporter.model import SLO
from slo_exporter.store import SQLiteStore

RES = 60.0
STEP = 60.0
INTERVAL = 30.0
METRICS = 20


# ------------------------------------------------------------ the bucket


def test_the_budget_fills_at_one_query_per_metric_and_interval() -> None:
    """20 metrics at a 30 s interval: 20 / 30 tokens a second, one interval's worth and
    one more held, a read placed at most every 30 / 2 s."""
    budget = FastBudget(20, 30.0)
    assert budget.rate == pytest.approx(20 / 30)
    assert budget.capacity == pytest.approx(21.0)
    assert budget.spacing == pytest.approx(15.0)


def test_a_few_metrics_keep_the_floor() -> None:
    """One metric at a 15 s interval fills at the floor, 0.5 a second, not 1 / 15: a read
    per scrape and a retry stay possible, and its share of 7.5 reads an interval spaces
    them by 15 / 8.5 s only."""
    budget = FastBudget(1, 15.0)
    assert budget.rate == pytest.approx(0.5)
    assert budget.capacity == pytest.approx(8.5)
    assert budget.spacing == pytest.approx(15.0 / 8.5)


def test_take_refills_with_time_and_takes_nothing_when_short() -> None:
    """Empty after its capacity, the bucket refuses until time refills it, and a refused
    take leaves the tokens where they were."""
    budget = FastBudget(10, 10.0)  # 1 token a second, 11 held
    assert budget.take(11, 100.0)
    assert not budget.take(1, 100.0)
    assert not budget.take(2, 101.5)  # 1.5 tokens: too few for 2, none taken
    assert budget.take(1, 101.5)
    assert not budget.take(1, 101.5)  # 0.5 left
    assert budget.take(1, 102.0)


def test_over_a_long_run_the_queries_keep_to_the_rate() -> None:
    """Taking whenever it may, every second for an hour, asks at most the rate times the
    span plus one bucket, and never more than a bucket in one second."""
    budget = FastBudget(20, 15.0)
    taken = 0
    for k in range(3600):
        for _ in range(30):  # 30 metrics due every second: more than the budget
            if budget.take(1, START + k):
                taken += 1
    assert taken <= budget.rate * 3600 + budget.capacity
    assert taken >= budget.rate * 3600  # nothing is lost to rounding either


def test_a_budget_without_interval_or_floor_is_refused() -> None:
    """A zero interval or floor would never refill: the constructor says so."""
    with pytest.raises(ValueError, match="positive interval"):
        FastBudget(3, 0.0)
    with pytest.raises(ValueError, match="positive interval"):
        FastBudget(3, 15.0, floor=0.0)


# ------------------------------------------------------------ the engine


def _engine(tmp: Path, slos: int, *, spread: bool, interval: float = INTERVAL
            ) -> tuple[Engine, SyntheticPrometheus, SQLiteStore, list[float]]:
    layout = Layout(slos=slos, metrics=METRICS)
    config = parse_config(yaml.safe_dump(native_config(
        layout, "http://127.0.0.1:1", evaluation_interval=interval)), "t.yaml")
    clock = [START]
    source = SyntheticPrometheus(layout, STEP, spread=spread)
    store = SQLiteStore(tmp / "events.db", RES)
    engine = Engine(config, store, source, clock=lambda: clock[0])
    prefill(store, layout, 1.0, START - 120.0)
    engine.evaluate()
    return engine, source, store, clock


@pytest.fixture
def tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as found:
        yield Path(found)


def _measured(tmp: Path, slos: int, *, spread: bool) -> tuple[int, list[float]]:
    """After two warm-up intervals, the queries of four more and how long after its
    timestamp each new sample reached its status."""
    engine, source, store, clock = _engine(tmp, slos, spread=spread)
    try:
        run_cycles(engine, clock, 2, INTERVAL)
        before = source.reads
        lag = Lag(source, clock[0])
        run_cycles(engine, clock, 4, INTERVAL, lag)
        return source.reads - before, lag.lags
    finally:
        engine.close()
        store.close()


def test_spread_scrapes_cost_at_most_two_queries_per_metric_and_interval(tmp: Path) -> None:
    """400 SLOs over 20 metrics, 40 scrape targets at 40 offsets of the 60 s step (some
    SLO of most metrics due every second): the full cycle and the fast path together ask
    at most 2 x 20 queries per 30 s interval, and every sample still reaches its status
    within half an interval of its timestamp."""
    reads, lags = _measured(tmp, 400, spread=True)
    assert reads / 4 <= 2 * METRICS
    assert lags
    assert max(lags) <= INTERVAL / 2
    assert sum(lags) / len(lags) > 1.0  # the budget is what placed them


def test_scrapes_landing_together_are_read_when_they_land(tmp: Path) -> None:
    """Every target scraped at the same offset: the fast path reads all 20 metrics the
    second the samples land, as before the budget, and asks no more than a query per
    metric and step on top of the full cycles."""
    reads, lags = _measured(tmp, 200, spread=False)
    assert reads == 4 * METRICS + 2 * METRICS
    assert lags
    assert max(lags) == 0.0


def test_the_budget_changes_when_samples_count_not_what_counts(tmp: Path) -> None:
    """After each full cycle, every window of every SLO equals that of an engine that
    never runs the fast path: deferred fast reads count the same samples later."""
    paced, _, store, clock = _engine(tmp, 200, spread=True)
    (tmp / "full").mkdir()
    full, _, full_store, full_clock = _engine(tmp / "full", 200, spread=True)
    try:
        for _ in range(5):
            run_cycles(paced, clock, 1, INTERVAL)
            run_cycles(full, full_clock, 1, INTERVAL, fast=False)
            assert clock == full_clock
            theirs = {s.slo.key: s for s in full.snapshot.slos}
            assert len(theirs) == 200
            for mine in paced.snapshot.slos:
                assert mine.up
                other = theirs[mine.slo.key]
                assert mine.evaluated_at == other.evaluated_at
                assert [w.window for w in mine.windows] == [w.window for w in other.windows]
                for a, b in zip(mine.windows, other.windows, strict=True):
                    # the same increments, summed in other pieces
                    assert a.good == pytest.approx(b.good, rel=1e-12)
                    assert a.total == pytest.approx(b.total, rel=1e-12)
    finally:
        paced.close()
        full.close()
        store.close()
        full_store.close()


# ------------------------------------------------------------ Ingestor.paced


def _ingestor(tmp: Path, slos: int, interval: float = INTERVAL
              ) -> tuple[Ingestor, tuple[SLO, ...], SQLiteStore]:
    layout = Layout(slos=slos, metrics=METRICS)
    config = parse_config(yaml.safe_dump(native_config(
        layout, "http://127.0.0.1:1", evaluation_interval=interval)), "t.yaml")
    store = SQLiteStore(tmp / "events.db", RES)
    source = SyntheticPrometheus(layout, STEP)
    ingestor = Ingestor(store, source, config.prometheus, config.slos,
                        stop=threading.Event(), log=structlog.get_logger())
    return ingestor, config.slos, store


def test_slos_of_one_metric_cost_one_query_together(tmp: Path) -> None:
    """Due together, the SLOs over one metric cost the budget one query: with one token
    left, all of one metric are read and none of the others."""
    ingestor, slos, store = _ingestor(tmp, 60)  # three SLOs per metric
    try:
        assert ingestor.due(slos, START) == list(slos)
        # a full bucket (21 tokens) reads all 20 metrics and keeps one token
        assert ingestor.paced(slos, START + 10, INTERVAL) == list(slos)
        kept = ingestor.paced(slos, START + 10, INTERVAL)  # the same second again
        assert len(kept) == 3
        assert len({ingestor._queries(slo, START) for slo in kept}) == 1
        assert ingestor.paced(slos, START + 10, INTERVAL) == []
    finally:
        store.close()


def test_a_metric_found_recently_waits_the_spacing(tmp: Path) -> None:
    """A read that found new samples of a metric holds its SLOs back for the spacing
    (15 s at 20 metrics and 30 s); the other metrics are read meanwhile."""
    ingestor, slos, store = _ingestor(tmp, 40)
    try:
        ingestor.due(slos, START)
        ingestor._found(slos[0], START + 2)
        kept = ingestor.paced(slos, START + 10, INTERVAL)
        held = ingestor._queries(slos[0], START)
        assert slos[0] not in kept
        assert all(set(ingestor._queries(s, START)) != set(held) for s in kept)
        assert len(kept) == len(slos) - 2  # two SLOs per metric
        assert slos[0] in ingestor.paced(slos, START + 17, INTERVAL)
    finally:
        store.close()


def test_nothing_is_read_in_the_second_before_a_full_cycle(tmp: Path) -> None:
    """0.5 s before a multiple of the interval the full cycle is about to read the same:
    the fast path reads nothing; 1.5 s before, it reads."""
    ingestor, slos, store = _ingestor(tmp, 40)
    try:
        ingestor.due(slos, START)
        instant = math.ceil(START / INTERVAL) * INTERVAL + INTERVAL
        assert ingestor.paced(slos, instant - 0.5, INTERVAL) == []
        assert ingestor.paced(slos, instant - 1.5, INTERVAL) == list(slos)
    finally:
        store.close()


def test_a_short_interval_places_nothing(tmp: Path) -> None:
    """At a 1 s interval the spacing (0.5 s) is under a poll: a metric found a moment
    ago and an instant just before a full cycle do not hold the fast path back."""
    ingestor, slos, store = _ingestor(tmp, 40, interval=1.0)
    try:
        ingestor.due(slos, START)
        ingestor._found(slos[0], START + 0.9)
        assert ingestor.paced(slos, START + 0.95, 1.0) == list(slos)
        assert FastBudget(METRICS, 1.0).spacing < FAST_POLL
    finally:
        store.close()
