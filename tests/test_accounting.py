"""Specification of event accounting: exact per-bucket deltas from counters.

``counter_increases`` and the bucket helpers are pure and tested directly.
``fetch_events`` is driven by ``Synthetic``, an in-memory stand-in for the
client's three query methods that serves samples from generated series;
the same code runs against a real Prometheus in
tests/integration/test_accounting_real.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter import accounting, errors, model
from slo_exporter.accounting import EventBatch, counter_increases, fetch_events
from slo_exporter.prometheus import QueryResult, Series

RES = 60.0


@dataclass
class Synthetic:
    """Serves raw samples, range-query points and ``le`` labels from memory.

    A sample is visible only once ``now >= ts + lag``, which models scrape
    and ingestion delay.
    """

    series: dict[str, list[Series]] = field(default_factory=dict)
    templates: dict[str, Callable[[float], list[float]]] = field(default_factory=dict)
    les: list[str] = field(default_factory=list)
    now: float = math.inf
    lag: float = 0.0
    calls: list[tuple[str, str, float, float]] = field(default_factory=list)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.calls.append(("raw", selector, start, end))
        out = []
        for s in self.series.get(selector, []):
            kept = tuple(
                (t, v) for t, v in s.samples if start < t <= end and t + self.lag <= self.now
            )
            if kept:
                out.append(Series(s.labels, kept))
        return out

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        self.calls.append(("query", promql, at, at))
        series = tuple(Series({"le": le}, ((at, 1.0),)) for le in self.les)
        return QueryResult("vector", series, None, None, promql)

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult:
        self.calls.append(("range", promql, start, end))
        points = round((end - start) / step) + 1
        assert points <= 11_000, "Prometheus would refuse this query"
        per_series: list[list[tuple[float, float]]] = []
        for i in range(points):
            t = start + i * step
            for j, value in enumerate(self.templates[promql](t)):
                if len(per_series) <= j:
                    per_series.append([])
                per_series[j].append((t, value))
        series = tuple(Series({"s": str(j)}, tuple(p)) for j, p in enumerate(per_series))
        return QueryResult("matrix", series, None, None, promql)


def counter(labels: Mapping[str, str], samples: list[tuple[float, float]]) -> Series:
    return Series(model.frozen_map(labels), tuple(samples))


def ratio_slo(
    *,
    good: model.Query | None = None,
    bad: model.Query | None = None,
    total: model.Query | None = None,
) -> model.SLO:
    sli = model.RatioSLI(total=total or model.Selector("total"), good=good, bad=bad)
    return model.SLO(
        service="shop", name="avail", objective=0.99, period=model.RollingPeriod(86400.0), sli=sli)


def fetch(
    source: Synthetic,
    slo: model.SLO,
    since: float,
    until: float,
    state: Mapping[str, tuple[float, float]] | None = None,
    *,
    overlap: float = 0.0,
    chunk: float = 86400.0,
    le_cache: dict[str, str] | None = None,
) -> EventBatch:
    return fetch_events(
        source,
        slo,
        since=since,
        until=until,
        series_state=state or {},
        resolution=RES,
        overlap=overlap,
        chunk=chunk,
        le_cache=le_cache,
    )


# --------------------------------------------------------- counter_increases


def test_first_sample_of_a_new_series_is_only_a_baseline() -> None:
    """Without a previous sample the first value counts nothing."""
    assert counter_increases([(10, 5), (20, 7), (30, 7)], None) == [(20, 2), (30, 0)]


def test_previous_sample_continues_the_series() -> None:
    """With prev given, the first sample's increase is counted from prev."""
    assert counter_increases([(20, 7)], (10, 5)) == [(20, 2)]


def test_a_drop_is_a_reset_counting_the_new_value() -> None:
    """v < previous v means the counter restarted from 0: the increase is v."""
    assert counter_increases([(20, 100), (30, 3), (40, 5)], (10, 90)) == [
        (20, 10),
        (30, 3),
        (40, 2),
    ]


def test_samples_not_after_the_last_timestamp_are_ignored() -> None:
    """Duplicates from an overlapping read and out-of-order samples count nothing."""
    samples = [(10, 5), (20, 7), (20, 9), (15, 1), (30, 8)]
    assert counter_increases(samples, (10, 5)) == [(20, 2), (30, 1)]


def test_non_finite_values_are_rejected_and_the_series_starts_again() -> None:
    """NaN and Inf samples count nothing; the next plausible sample is a new baseline."""
    samples = [(20, math.nan), (30, math.inf), (40, 8), (50, 9)]
    step = accounting.advance(samples, (10, 5), 1e12)
    assert step.increases == [(50, 1)]
    assert [ts for ts, _ in step.rejected] == [20, 30]
    assert "non-finite counter value nan" in step.rejected[0][1]
    assert step.last == (50, 9)


def test_a_negative_counter_value_is_rejected_never_counted() -> None:
    """A negative value is no counter: it is rejected, not stored as negative events."""
    step = accounting.advance([(20, -5), (30, 3), (40, 8)], (10, 5), 1e12)
    assert step.increases == [(40, 5)]
    assert step.rejected == [(20, "negative counter value -5")]


def test_an_increase_above_the_bound_is_rejected() -> None:
    """An increase above max_increase (a 1e308 glitch) is rejected; counting resumes after it."""
    samples = [(20, 1e308), (30, 1e308), (40, 1e308 + 1e292), (50, 7), (60, 9)]
    step = accounting.advance(samples, (10, 5), 1e12)
    assert [ts for ts, _ in step.rejected] == [20, 40]
    assert "above max_counter_increase 1e+12" in step.rejected[0][1]
    assert step.increases == [(60, 2)]  # 30 and 50 are baselines after the rejections
    assert all(inc <= 1e12 for _, inc in step.increases)


def test_a_reset_to_an_implausible_value_is_rejected() -> None:
    """After a reset the new value is the increase, so it obeys the bound too."""
    step = accounting.advance([(20, 5e12)], (10, 6e12), 1e12)
    assert step.increases == []
    assert len(step.rejected) == 1


def test_a_rejected_sample_is_not_rejected_again_when_read_twice() -> None:
    """The state after a rejection skips the bad sample when an overlapping read returns it."""
    first = accounting.advance([(20, -1.0)], (10, 5), 1e12)
    assert first.last == (20, accounting.REBASELINE)
    again = accounting.advance([(20, -1.0), (30, 4), (40, 6)], first.last, 1e12)
    assert again.rejected == []
    assert again.increases == [(40, 2)]


def test_no_samples_no_increases() -> None:
    """An empty read gives no increases."""
    assert counter_increases([], (10, 5)) == []


def test_bucket_start_floors_to_the_resolution() -> None:
    """A timestamp belongs to the bucket floor(ts/res)*res."""
    assert accounting.bucket_start(119.999, 60) == 60
    assert accounting.bucket_start(120.0, 60) == 120
    assert accounting.bucket_start(0.0, 60) == 0


def test_window_text_is_the_bucket_width_less_a_millisecond() -> None:
    """A bucket's {{.window}} is res - 1 ms: 60 s -> 59999ms, 1 s -> 999ms, so at bucket
    end t even Prometheus 2's closed range [t - 59.999 s, t] leaves out t - 60 s."""
    assert accounting.window_text(60.0) == "59999ms"
    assert accounting.window_text(300.0) == "299999ms"
    assert accounting.window_text(1.0) == "999ms"


def test_chunk_bounds_cover_the_span_without_gaps() -> None:
    """(start, end] is cut into consecutive pieces of at most chunk seconds."""
    assert accounting.chunk_bounds(0, 250, 100) == [(0, 100), (100, 200), (200, 250)]
    assert accounting.chunk_bounds(0, 100, 100) == [(0, 100)]
    assert accounting.chunk_bounds(5, 5, 100) == []


# --------------------------------------------------------------- selectors


def test_increases_land_in_the_bucket_of_the_later_sample() -> None:
    """Each increase is added to the bucket of its sample; per-series keys are kept."""
    source = Synthetic(
        series={
            "good": [counter({"code": "200"}, [(30, 10), (45, 12), (75, 15), (130, 20)])],
            "total": [
                counter({"code": "200"}, [(30, 10), (45, 12), (75, 15), (130, 20)]),
                counter({"code": "500"}, [(30, 0), (45, 1), (75, 1), (130, 4)]),
            ],
        }
    )
    batch = fetch(source, ratio_slo(good=model.Selector("good")), 0, 130)
    assert batch.deltas == {0.0: (2, 3), 60.0: (3, 3), 120.0: (5, 8)}
    assert batch.series == {
        'good|{code="200"}': (130, 20),
        'total|{code="200"}': (130, 20),
        'total|{code="500"}': (130, 4),
    }
    assert batch.covered_until == 130


def test_bad_events_become_good_as_total_minus_bad() -> None:
    """With bad given, good = total - bad in every bucket."""
    source = Synthetic(
        series={
            "bad": [counter({}, [(0, 0), (30, 1), (90, 4)])],
            "total": [counter({}, [(0, 0), (30, 10), (90, 30)])],
        }
    )
    batch = fetch(source, ratio_slo(bad=model.Selector("bad")), -1, 90)
    assert batch.deltas == {0.0: (9, 10), 60.0: (17, 20)}
    assert set(batch.series) == {"bad|{}", "total|{}"}


def test_state_from_the_last_cycle_continues_each_series() -> None:
    """A second cycle counts from the stored last sample, across a reset."""
    source = Synthetic(series={"total": [counter({}, [(30, 10), (90, 25), (150, 5)])]})
    slo = ratio_slo(good=model.Selector("total"))
    first = fetch(source, slo, 0, 60)
    assert first.deltas == {}
    assert first.series == {"good|{}": (30, 10), "total|{}": (30, 10)}
    second = fetch(source, slo, 60, 160, first.series)
    assert second.deltas == {60.0: (15, 15), 120.0: (5, 5)}
    assert second.series == {"good|{}": (150, 5), "total|{}": (150, 5)}


def test_state_of_series_not_seen_this_cycle_is_kept() -> None:
    """Series state returned is the old state merged with this cycle's."""
    old = {'total|{gone="1"}': (10.0, 3.0)}
    source = Synthetic(series={"total": [counter({}, [(70, 1)])]})
    batch = fetch(source, ratio_slo(good=model.Selector("g")), 60, 120, old)
    assert batch.series == {**old, "total|{}": (70, 1)}


def test_backfill_reads_the_span_in_bounded_chunks() -> None:
    """(since - overlap, until] is read in pieces of at most chunk seconds per selector."""
    source = Synthetic()
    fetch(source, ratio_slo(good=model.Selector("g")), 1000, 4000, overlap=100, chunk=1000)
    spans = [(sel, lo, hi) for _kind, sel, lo, hi in source.calls]
    assert spans == [
        ("g", 900, 1900),
        ("g", 1900, 2900),
        ("g", 2900, 3900),
        ("g", 3900, 4000),
        ("total", 900, 1900),
        ("total", 1900, 2900),
        ("total", 2900, 3900),
        ("total", 3900, 4000),
    ]


def test_increases_are_continuous_across_chunk_edges() -> None:
    """A series split over two chunks is counted as if read at once."""
    samples = [(float(t), float(t // 15)) for t in range(15, 300, 15)]
    source = Synthetic(series={"total": [counter({}, samples)]})
    slo = ratio_slo(good=model.Selector("total"))
    whole = fetch(source, slo, 0, 300)
    pieces = fetch(source, slo, 0, 300, chunk=37)
    assert pieces.deltas == whole.deltas
    assert sum(t for _, t in whole.deltas.values()) == 18


def test_late_sample_within_the_overlap_lands_in_its_own_bucket() -> None:
    """A sample that arrived after its cycle's read is counted next cycle, in its bucket."""
    samples = [(50.0, 10.0), (100.0, 15.0), (130.0, 3.0)]  # reset between 100 and 130
    slo = ratio_slo(good=model.Selector("total"))
    source = Synthetic(series={"total": [counter({}, samples)]}, lag=30.0)

    source.now = 110.0  # the sample at 100 has not landed yet
    first = fetch(source, slo, 0, 110, overlap=60)
    source.now = 200.0
    second = fetch(source, slo, 110, 200, first.series, overlap=60)
    assert first.deltas == {}
    assert second.deltas == {60.0: (5, 5), 120.0: (3, 3)}

    source.now = 110.0
    no_overlap = fetch(source, slo, 0, 110)
    source.now = 200.0
    late = fetch(source, slo, 110, 200, no_overlap.series)
    assert late.deltas == {120.0: (3, 3)}, "without overlap the increase before the reset is lost"


# ---------------------------------------------------------------- templates


def test_template_is_evaluated_once_per_bucket_end() -> None:
    """{{.window}} becomes 59999ms; the point at t, of (t - res, t], is the bucket [t - res, t)."""
    promql = "sum(increase(x[59999ms]))"
    source = Synthetic(templates={promql: lambda t: [t / 60, 1.0]})
    slo = ratio_slo(
        good=model.Template("sum(increase(x[{{.window}}]))"), total=model.Template(promql)
    )
    batch = fetch(source, slo, 30, 200)
    assert [c for c in source.calls if c[0] == "range"] == [
        ("range", promql, 60, 180),
        ("range", promql, 60, 180),
    ]
    assert batch.deltas == {0.0: (2, 2), 60.0: (3, 3), 120.0: (4, 4)}
    assert batch.series == {}


def test_template_buckets_are_counted_once_across_cycles() -> None:
    """Consecutive cycles evaluate each bucket end exactly once, the unfinished one later."""
    source = Synthetic(templates={"q": lambda t: [1.0]})
    slo = ratio_slo(good=model.Template("q"), total=model.Template("q"))
    ends: list[float] = []
    for since, until in [(0, 90), (90, 150), (150, 150), (150, 181)]:
        before = len(source.calls)
        fetch(source, slo, since, until)
        for _kind, _q, start, end in source.calls[before::2]:
            ends.extend(float(t) for t in range(int(start), int(end) + 1, 60))
    assert ends == [60, 120, 180]


def test_template_lag_evaluates_bucket_ends_that_far_behind_the_read() -> None:
    """With a 30 s lag, a read of (30, 200] evaluates the bucket ends in (0, 170]:
    60 and 120; the end at 180 waits for the next read, whose span starts at 170."""
    source = Synthetic(templates={"q": lambda t: [1.0]})
    slo = ratio_slo(good=model.Template("q"), total=model.Template("q"))
    first = fetch_events(source, slo, since=30, until=200, series_state={}, resolution=RES,
                         overlap=0.0, chunk=86400.0, template_lag=30.0)
    second = fetch_events(source, slo, since=200, until=260, series_state={}, resolution=RES,
                          overlap=0.0, chunk=86400.0, template_lag=30.0)
    assert first.deltas == {0.0: (1, 1), 60.0: (1, 1)}
    assert second.deltas == {120.0: (1, 1)}


def test_read_start_reaches_back_to_the_oldest_live_series() -> None:
    """Previous read ended at 1000: live series last seen at 990 and 940 hold the start
    at 940.001, just after b's known sample (below 1000 - 30); one last seen at 600
    (over 300 s before) holds nothing."""
    state = {"a": (990.0, 5.0), "b": (940.0, 1.0), "gone": (600.0, 9.0)}
    assert accounting.read_start(state, 1000.0, overlap=30.0, late_limit=300.0) == 940.001


def test_read_start_is_at_least_the_overlap_before_the_previous_end() -> None:
    """With every live series newer than 1000 - 30, and with no series, the start is 970."""
    assert accounting.read_start({"a": (995.0, 1.0)}, 1000.0, overlap=30.0,
                                 late_limit=300.0) == 970.0
    assert accounting.read_start({}, 1000.0, overlap=30.0, late_limit=300.0) == 970.0


def test_long_template_spans_are_split_below_the_point_limit() -> None:
    """A backfill over more than 10,000 buckets uses several range queries."""
    source = Synthetic(templates={"q": lambda t: [1.0]})
    slo = ratio_slo(good=model.Template("q"), total=model.Selector("t"))
    batch = fetch(source, slo, 0, 25_000 * RES)
    ranges = [(s, e) for kind, _q, s, e in source.calls if kind == "range"]
    assert ranges == [
        (60, 10_000 * 60),
        (10_001 * 60, 20_000 * 60),
        (20_001 * 60, 25_000 * 60),
    ]
    assert sum(g for g, _ in batch.deltas.values()) == 25_000


def test_template_nan_points_count_nothing() -> None:
    """A NaN point (e.g. 0/0) adds no events."""
    source = Synthetic(templates={"q": lambda t: [math.nan, 2.0]})
    slo = ratio_slo(good=model.Template("q"), total=model.Template("q"))
    assert fetch(source, slo, 0, 60).deltas == {0.0: (2, 2)}


def test_template_bad_is_subtracted_from_template_total() -> None:
    """bad templates turn into good = total - bad per bucket."""
    source = Synthetic(templates={"b": lambda t: [1.0], "t": lambda t: [10.0]})
    slo = ratio_slo(bad=model.Template("b"), total=model.Template("t"))
    assert fetch(source, slo, 0, 120).deltas == {0.0: (9, 10), 60.0: (9, 10)}


# ------------------------------------------------------------------ latency


def latency_slo(histogram: str = 'rt_seconds{job="api"}', threshold: float = 0.25) -> model.SLO:
    sli = model.LatencySLI(histogram=model.Selector(histogram), threshold=threshold)
    return model.SLO(service="shop", name="fast", objective=0.99,
                     period=model.RollingPeriod(86400.0), sli=sli)


def test_latency_reads_the_threshold_bucket_and_count() -> None:
    """good = the le bucket equal to the threshold, total = _count, both exact."""
    good_sel = 'rt_seconds_bucket{job="api", le="0.25"}'
    total_sel = 'rt_seconds_count{job="api"}'
    source = Synthetic(
        les=["0.1", "+Inf", "0.25", "1.0"],
        series={
            good_sel: [counter({"le": "0.25"}, [(10, 5), (70, 8)])],
            total_sel: [counter({}, [(10, 6), (70, 10)])],
        },
    )
    batch = fetch(source, latency_slo(), 0, 70)
    assert source.calls[0] == ("query", 'count by (le) (rt_seconds_bucket{job="api"})', 70, 70)
    assert batch.deltas == {60.0: (3, 4)}
    assert set(batch.series) == {'good|{le="0.25"}', "total|{}"}


def test_latency_bucket_is_discovered_once_with_a_cache() -> None:
    """With le_cache the discovery query runs once for many cycles."""
    source = Synthetic(les=["0.25"])
    cache: dict[str, str] = {}
    for until in (60, 120, 180):
        fetch(source, latency_slo(), until - 60, until, le_cache=cache)
    assert [c[0] for c in source.calls].count("query") == 1
    assert list(cache.values()) == ['le="0.25"']


def test_latency_matches_any_spelling_of_the_boundary() -> None:
    """'0.25' and '2.5e-01' are the same boundary: both are matched."""
    source = Synthetic(les=["2.5e-01", "0.25", "0.5"])
    fetch(source, latency_slo(histogram="rt_seconds", threshold=0.25), 0, 60)
    selectors = {c[1] for c in source.calls if c[0] == "raw"}
    assert selectors == {'rt_seconds_bucket{le=~"0\\\\.25|2\\\\.5e\\\\-01"}', "rt_seconds_count"}


def test_latency_threshold_that_is_no_bucket_lists_the_buckets() -> None:
    """A threshold matching no le raises HistogramBucketError naming the buckets in order."""
    source = Synthetic(les=["1", "+Inf", "0.1", "0.5"])
    with pytest.raises(errors.HistogramBucketError) as info:
        fetch(source, latency_slo(threshold=0.3), 0, 60)
    assert str(info.value) == (
        'latency threshold 0.3s is not a bucket boundary of rt_seconds_bucket{job="api"}; '
        "buckets found: 0.1, 0.5, 1, +Inf"
    )


def test_latency_without_any_bucket_series_says_none_found() -> None:
    """A histogram with no series at all raises HistogramBucketError with 'none'."""
    with pytest.raises(errors.HistogramBucketError, match="buckets found: none"):
        fetch(Synthetic(), latency_slo(), 0, 60)


# ------------------------------------------------------------ implausible data


def test_an_implausible_series_is_rejected_while_the_others_are_kept() -> None:
    """A bad series is listed in rejected; the other series' events and the full span remain."""
    source = Synthetic(
        series={
            "total": [
                counter({"code": "200"}, [(30, 10), (90, 15), (150, 20)]),
                counter({"code": "500"}, [(30, 1), (90, -4), (150, 2), (170, 3)]),
            ],
            "good": [counter({"code": "200"}, [(30, 10), (90, 15), (150, 20)])],
        }
    )
    batch = fetch(source, ratio_slo(good=model.Selector("good")), 0, 180)
    assert batch.covered_until == 180
    assert batch.deltas == {60.0: (5, 5), 120.0: (5, 6)}
    (rejection,) = batch.rejected
    assert rejection.series == 'total|{code="500"}'
    assert rejection.at == 90
    assert rejection.reason == "negative counter value -4"
    assert all(t >= 0 for _, t in batch.deltas.values())
    assert batch.series['total|{code="500"}'] == (170, 3)


def test_huge_values_never_stick_the_cursor() -> None:
    """1e308 samples are rejected once; the next cycle moves on with finite state."""
    series = counter({}, [(30, 1), (60, 1e308), (90, 1e308), (120, 2), (150, 4)])
    source = Synthetic(series={"total": [series], "good": [series]})
    slo = ratio_slo(good=model.Selector("good"))
    first = fetch(source, slo, 0, 60, overlap=30)
    assert {r.series for r in first.rejected} == {"good|{}", "total|{}"}
    assert first.covered_until == 60
    assert all(math.isfinite(v) for _, v in first.series.values())
    second = fetch(source, slo, 60, 150, first.series, overlap=30)
    assert second.rejected == ()
    assert second.covered_until == 150
    assert second.deltas == {120.0: (4, 4)}  # 90 was the new baseline: +1 at 120 is a reset to 2


def test_the_bound_is_configurable() -> None:
    """max_increase is the sanity bound passed in (prometheus.max_counter_increase)."""
    source = Synthetic(series={"total": [counter({}, [(30, 0), (60, 50), (90, 70)])]})
    slo = ratio_slo(good=model.Selector("total"))
    batch = fetch_events(
        source, slo, since=0, until=90, series_state={}, resolution=RES, overlap=0,
        chunk=86400, max_increase=30,
    )
    assert {r.reason for r in batch.rejected} == {"increase 50 above max_counter_increase 30"}
    assert batch.deltas == {}


def test_implausible_template_points_are_rejected() -> None:
    """Negative, infinite or oversized template points are rejected; NaN counts nothing."""
    source = Synthetic(templates={"q": lambda t: [-1.0, math.inf, 1e13, math.nan, 2.0]})
    slo = ratio_slo(good=model.Template("q"), total=model.Template("q"))
    batch = fetch(source, slo, 0, 60)
    assert batch.deltas == {0.0: (2, 2)}
    assert sorted(r.series for r in batch.rejected) == [
        'good|{s="0"}', 'good|{s="1"}', 'good|{s="2"}',
        'total|{s="0"}', 'total|{s="1"}', 'total|{s="2"}',
    ]


# ------------------------------------------------------ answers too large


@dataclass
class Bounded(Synthetic):
    """Refuses raw reads wider than ``widest`` seconds and ranges of more than ``points``."""

    widest: float = math.inf
    points: int = 11_000

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        if end - start > self.widest:
            self.calls.append(("too_large", selector, start, end))
            raise errors.QueryTooLarge("too large", query=selector, limit=1)
        return super().raw_samples(selector, start, end)

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult:
        if round((end - start) / step) + 1 > self.points:
            self.calls.append(("too_large", promql, start, end))
            raise errors.QueryAPIError(
                "query processing would load too many samples into memory", query=promql
            )
        return super().query_range(promql, start, end, step, stats=stats)


def test_a_too_large_backfill_read_is_split_in_halves() -> None:
    """A read refused as too large is retried as two halves, recursively, with the same events."""
    samples = [(float(t), float(t // 15)) for t in range(15, 3601, 15)]
    reference = Synthetic(series={"total": [counter({}, samples)]})
    bounded = Bounded(series={"total": [counter({}, samples)]}, widest=1000)
    slo = ratio_slo(good=model.Selector("total"))
    assert fetch(bounded, slo, 0, 3600).deltas == fetch(reference, slo, 0, 3600).deltas
    reads = [(s, e) for kind, _q, s, e in bounded.calls if kind == "raw"]
    assert reads[0] == (0, 900)
    assert all(e - s <= 1000 for s, e in reads)


def test_splitting_gives_up_below_the_minimum_span() -> None:
    """When even a minimum span is too large, the error is raised."""
    bounded = Bounded(series={"total": []}, widest=10)
    with pytest.raises(errors.QueryTooLarge):
        fetch(bounded, ratio_slo(good=model.Selector("total")), 0, 3600)
    widths = [e - s for kind, _q, s, e in bounded.calls if kind == "too_large"]
    assert min(widths) >= accounting.MIN_SPLIT_SPAN / 2


def test_a_template_range_with_too_many_samples_is_split() -> None:
    """Prometheus' too-many-samples error splits a template range query into halves."""
    bounded = Bounded(templates={"q": lambda t: [1.0]}, points=3000)
    slo = ratio_slo(good=model.Template("q"), total=model.Template("q"))
    batch = fetch(bounded, slo, 0, 10_000 * RES)
    assert sum(t for _, t in batch.deltas.values()) == 10_000
    assert any(kind == "too_large" for kind, *_ in bounded.calls)


# ----------------------------------------------------------------- arguments


def test_probe_slis_are_not_fetched() -> None:
    """Probe SLIs record their own events: fetch_events refuses them."""
    sli = model.ProbeSLI(target=model.TCPProbe(address="127.0.0.1:1"))
    slo = model.SLO(service="s", name="p", objective=0.9,
                    period=model.RollingPeriod(3600.0), sli=sli)
    with pytest.raises(ValueError, match="probe SLI"):
        fetch(Synthetic(), slo, 0, 60)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resolution": 0.0}, "resolution must be > 0"),
        ({"chunk": 0.0}, "chunk must be > 0"),
        ({"overlap": -1.0}, "overlap must be >= 0"),
        ({"since": 100.0, "until": 50.0}, "before since"),
        ({"max_increase": 0.0}, "max_increase must be > 0"),
        ({"template_lag": -1.0}, "template_lag must be >= 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], message: str) -> None:
    """Spans and sizes that cannot work raise ValueError before any query."""
    source = Synthetic()
    args = {
        "since": 0.0, "until": 60.0, "resolution": 60.0, "overlap": 0.0, "chunk": 60.0,
        "max_increase": 1e12, "template_lag": 0.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fetch_events(
            source,
            ratio_slo(good=model.Selector("g")),
            series_state={},
            since=args["since"],
            until=args["until"],
            resolution=args["resolution"],
            overlap=args["overlap"],
            chunk=args["chunk"],
            max_increase=args["max_increase"],
            template_lag=args["template_lag"],
        )
    assert source.calls == []


# ------------------------------------------------------------------ properties


@st.composite
def histories(draw: st.DrawFn) -> list[Series]:
    """A few counter series with irregular scrapes, gaps and resets."""
    out = []
    for n in range(draw(st.integers(1, 3))):
        t = float(draw(st.integers(0, 60)))
        value = float(draw(st.integers(0, 5)))
        samples = [(t, value)]
        for _ in range(draw(st.integers(0, 40))):
            t += draw(st.sampled_from([1.0, 15.0, 15.0, 15.0, 30.5, 60.0, 400.0]))
            if draw(st.integers(0, 9)) == 0:
                value = float(draw(st.integers(0, 3)))  # reset
            else:
                value += float(draw(st.integers(0, 20)))
            samples.append((t, value))
        out.append(counter({"n": str(n)}, samples))
    return out


def true_increase(series: list[Series], start: float, end: float) -> float:
    """Reference: exact increase of samples in (start, end] after each series' first one."""
    total = 0.0
    for s in series:
        kept = [(t, v) for t, v in s.samples if start < t <= end]
        for (_, a), (_, b) in itertools.pairwise(kept):
            total += b if b < a else b - a
    return total


@settings(max_examples=200, deadline=None)
@given(
    total=histories(),
    bad=histories(),
    cuts=st.lists(st.integers(1, 5000), max_size=6),
    overlap=st.sampled_from([0.0, 30.0, 120.0]),
    chunk=st.sampled_from([7.0, 60.0, 1000.0, 86400.0]),
)
def test_cycles_add_up_to_one_fetch(
    total: list[Series], bad: list[Series], cuts: list[int], overlap: float, chunk: float
) -> None:
    """Splitting (since, until] into any cycles gives the same deltas per bucket as one fetch."""
    source = Synthetic(series={"total": total, "bad": bad})
    slo = ratio_slo(bad=model.Selector("bad"))
    since, until = 0.0, 5000.0
    once = fetch(source, slo, since, until, overlap=overlap, chunk=chunk)

    summed: dict[float, tuple[float, float]] = {}
    state: Mapping[str, tuple[float, float]] = {}
    edges = [since, *sorted(float(c) for c in cuts), until]
    for lo, hi in itertools.pairwise(edges):
        batch = fetch(source, slo, lo, hi, state, overlap=overlap, chunk=chunk)
        state = batch.series
        for bucket, (g, t) in batch.deltas.items():
            old = summed.get(bucket, (0.0, 0.0))
            summed[bucket] = (old[0] + g, old[1] + t)

    def nonzero(d: Mapping[float, tuple[float, float]]) -> dict[float, tuple[float, float]]:
        return {k: v for k, v in d.items() if v != (0.0, 0.0)}

    assert nonzero(summed) == nonzero(once.deltas)
    assert state == once.series
    expected_total = true_increase(total, since - overlap, until)
    expected_bad = true_increase(bad, since - overlap, until)
    assert sum(t for _, t in once.deltas.values()) == expected_total
    assert sum(g for g, _ in once.deltas.values()) == expected_total - expected_bad


@st.composite
def glitchy(draw: st.DrawFn) -> list[Series]:
    """Counter series where some samples are negative, non-finite or absurdly large."""
    out = []
    for series in draw(histories()):
        samples = [
            (t, draw(st.sampled_from([-3.0, math.nan, math.inf, 1e308])))
            if draw(st.integers(0, 7)) == 0 else (t, v)
            for t, v in series.samples
        ]
        out.append(Series(series.labels, tuple(samples)))
    return out


@settings(max_examples=60, deadline=None)
@given(
    total=glitchy(),
    cuts=st.lists(st.integers(1, 5000), max_size=4),
    overlap=st.sampled_from([0.0, 120.0]),
)
def test_implausible_samples_never_reach_the_deltas_or_stick_a_cycle(
    total: list[Series], cuts: list[int], overlap: float
) -> None:
    """With glitches, cycles add up to one fetch, each covers its span, no delta is bad."""
    source = Synthetic(series={"total": total})
    slo = ratio_slo(good=model.Selector("total"))
    once = fetch(source, slo, 0.0, 5000.0, overlap=overlap)
    summed: dict[float, float] = {}
    state: Mapping[str, tuple[float, float]] = {}
    edges = [0.0, *sorted(float(c) for c in cuts), 5000.0]
    for lo, hi in itertools.pairwise(edges):
        batch = fetch(source, slo, lo, hi, state, overlap=overlap)
        assert batch.covered_until == hi
        assert all(math.isfinite(t) and math.isfinite(v) for t, v in batch.series.values())
        state = batch.series
        for bucket, (_, t) in batch.deltas.items():
            summed[bucket] = summed.get(bucket, 0.0) + t
    assert {k: v for k, v in summed.items() if v} == {
        k: t for k, (_, t) in once.deltas.items() if t
    }
    assert all(0 <= t <= 20 * 1e12 and g == t for g, t in once.deltas.values())
