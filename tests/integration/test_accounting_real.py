"""Event accounting against a real Prometheus: exact, with resets, no extrapolation.

A small history (6 h, one sample every 15 s) is generated here with known
per-sample increments and a process restart (every counter resets), turned
into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics`` and
served by a real ``prometheus``. ``fetch_events`` through the real
``PrometheusClient`` must then give exactly the generated events per
bucket, whether read at once, in chunks, or cycle by cycle. The server is
started with the shared harness' ``PrometheusServer`` and always stopped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest

from slo_exporter import errors, model
from slo_exporter.accounting import EventBatch, bucket_start, fetch_events
from slo_exporter.prometheus import PrometheusClient, QueryResult, Series
from tests.support.harness import backfilled_prometheus
from tests.support.synth import ending_two_days_ago

pytestmark = pytest.mark.integration

STEP = 15
HOURS = 6
RES = 60.0
BOUNDS = ("0.1", "0.25", "1", "+Inf")
#: one sample every STEP from the start: -3 and the first 1e308 are implausible;
#: the samples after them are baselines, so 5 + 12 + 3 + 5 events count
GLITCH = (0, 5, -3, 8, 1e308, 1e308, 12, 15, 20, 20)


@dataclass
class History:
    """Generated counters: the lines written and the events at each sample."""

    start: float
    end: float = 0.0
    lines: list[str] = field(default_factory=list)
    #: (ts, good, total) requests counted by the sample at ts
    requests: list[tuple[float, int, int]] = field(default_factory=list)
    #: (ts, fast, all) latency observations counted by the sample at ts
    latency: list[tuple[float, int, int]] = field(default_factory=list)

    def expected(self, which: str, since: float, until: float) -> dict[float, tuple[float, float]]:
        """Events of the samples in (since, until], summed per bucket."""
        per_bucket: dict[float, tuple[float, float]] = {}
        for ts, good, total in self.requests if which == "requests" else self.latency:
            if since < ts <= until:
                b = bucket_start(ts, RES)
                g, t = per_bucket.get(b, (0.0, 0.0))
                per_bucket[b] = (g + good, t + total)
        return per_bucket


def generate(start: float) -> History:
    """Counters with traffic varying 10x, error bursts, and one restart at 2 h."""
    rng = random.Random(20261122)
    hist = History(start=start)
    ok = err = 0
    buckets = dict.fromkeys(BOUNDS, 0)
    count = 0
    restart = 2 * 3600 // STEP
    req_lines: list[str] = []
    lat_lines: list[str] = []
    for i in range(HOURS * 3600 // STEP + 1):
        ts = start + i * STEP
        if i == restart:
            ok = err = 0  # the process restarted: counters start again from zero
            buckets = dict.fromkeys(BOUNDS, 0)
            count = 0
        if i > 0:
            load = 1 + 9 * (i // 240 % 2)  # hourly 10x swings
            d_ok = rng.randint(5, 20) * load
            d_err = rng.randint(20, 60) if i % 97 < 3 else rng.randint(0, 1)
            d_fast = rng.randint(0, d_ok)
            ok += d_ok
            err += d_err
            # observations: d_fast under 0.1 s, d_ok - d_fast between 0.1 and 0.25,
            # errors above 1 s
            buckets["0.1"] += d_fast
            buckets["0.25"] += d_ok
            buckets["1"] += d_ok
            buckets["+Inf"] += d_ok + d_err
            count += d_ok + d_err
            hist.requests.append((ts, d_ok, d_ok + d_err))
            hist.latency.append((ts, d_ok, d_ok + d_err))
        req_lines.append(f'requests_total{{job="api",code="200"}} {ok} {ts}')
        req_lines.append(f'requests_total{{job="api",code="500"}} {err} {ts}')
        for le in BOUNDS:
            lat_lines.append(f'rt_seconds_bucket{{job="api",le="{le}"}} {buckets[le]} {ts}')
        lat_lines.append(f'rt_seconds_count{{job="api"}} {count} {ts}')
        lat_lines.append(f'rt_seconds_sum{{job="api"}} {count * 0.2:.3f} {ts}')
        hist.end = ts
    glitch_lines = [
        f"glitch {value} {start + i * STEP}" for i, value in enumerate(GLITCH)
    ]
    hist.lines = [
        "# HELP requests Requests served.",
        "# TYPE requests counter",
        *req_lines,
        "# HELP rt_seconds Request latency.",
        "# TYPE rt_seconds histogram",
        *lat_lines,
        "# HELP glitch A counter exported with a negative and a 1e308 glitch.",
        "# TYPE glitch gauge",
        *glitch_lines,
        "# EOF",
    ]
    return hist


@pytest.fixture(scope="module")
def history() -> History:
    """Six hours ending two days ago, aligned to whole hours."""
    return generate(ending_two_days_ago(HOURS * 3600, time.time()))


@pytest.fixture(scope="module")
def prometheus(history: History, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus holding the history; the test fails if the binaries are missing."""
    workdir = tmp_path_factory.mktemp("accounting-prometheus")
    with backfilled_prometheus(workdir, history.lines) as server:
        yield server.url


@pytest.fixture
def client(prometheus: str) -> Iterator[PrometheusClient]:
    c = PrometheusClient(model.PrometheusConfig(url=prometheus, timeout=30.0))
    yield c
    c.close()


@dataclass
class Spans:
    """Passes raw reads to the client and records each span asked for."""

    client: PrometheusClient
    asked: list[tuple[float, float]] = field(default_factory=list)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.asked.append((start, end))
        return self.client.raw_samples(selector, start, end)

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        return self.client.query(promql, at, stats=stats)

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult:
        return self.client.query_range(promql, start, end, step, stats=stats)


def slo(sli: model.SLI) -> model.SLO:
    return model.SLO(
        service="api", name="s", objective=0.99, period=model.RollingPeriod(86400.0), sli=sli)


AVAILABILITY = slo(
    model.RatioSLI(
        bad=model.Selector('requests_total{job="api",code=~"5.."}'),
        total=model.Selector('requests_total{job="api"}'),
    )
)


def fetch(
    client: PrometheusClient | Spans,
    target: model.SLO,
    since: float,
    until: float,
    state: Mapping[str, tuple[float, float]] | None = None,
    *,
    chunk: float = 86400.0,
    le_cache: dict[str, str] | None = None,
) -> EventBatch:
    # The overlap reaches back to the sample at `since` itself, which is the
    # baseline every later increase is measured from.
    return fetch_events(
        client,
        target,
        since=since,
        until=until,
        series_state=state or {},
        resolution=RES,
        overlap=STEP,
        chunk=chunk,
        le_cache=le_cache,
    )


def as_floats(deltas: Mapping[float, tuple[float, float]]) -> dict[float, tuple[float, float]]:
    return {b: (float(g), float(t)) for b, (g, t) in deltas.items() if t}


def test_ratio_events_are_exact_across_a_reset(client: PrometheusClient, history: History) -> None:
    """Backfilled in 20-minute chunks, every bucket equals the generated events exactly."""
    batch = fetch(client, AVAILABILITY, history.start, history.end, chunk=1200)
    expected = history.expected("requests", history.start, history.end)
    assert as_floats(batch.deltas) == as_floats(expected)
    total = sum(t for _, t in expected.values())
    assert sum(t for _, t in batch.deltas.values()) == total > 0
    assert set(batch.series) == {
        'bad|{__name__="requests_total",code="500",job="api"}',
        'total|{__name__="requests_total",code="200",job="api"}',
        'total|{__name__="requests_total",code="500",job="api"}',
    }
    assert batch.covered_until == history.end


def test_cycles_give_the_same_buckets_as_one_read(
    client: PrometheusClient, history: History
) -> None:
    """Five-minute cycles over the restart, carrying series state, equal one read."""
    since = history.start + 3600
    until = since + 2 * 3600
    once = fetch(client, AVAILABILITY, since, until)
    summed: dict[float, tuple[float, float]] = {}
    state: Mapping[str, tuple[float, float]] = {}
    for lo in range(int(since), int(until), 300):
        batch = fetch(client, AVAILABILITY, lo, lo + 300, state)
        state = batch.series
        for b, (g, t) in batch.deltas.items():
            old = summed.get(b, (0.0, 0.0))
            summed[b] = (old[0] + g, old[1] + t)
    assert as_floats(summed) == as_floats(once.deltas)
    assert as_floats(once.deltas) == as_floats(history.expected("requests", since, until))


def test_latency_sli_finds_its_bucket_and_counts_exactly(
    client: PrometheusClient, history: History
) -> None:
    """A 250ms threshold reads le="0.25" and _count; events match the generated ones."""
    latency = slo(
        model.LatencySLI(histogram=model.Selector('rt_seconds{job="api"}'), threshold=0.25)
    )
    cache: dict[str, str] = {}
    batch = fetch(client, latency, history.start, history.end, le_cache=cache)
    assert list(cache.values()) == ['le="0.25"']
    expected = history.expected("latency", history.start, history.end)
    assert as_floats(batch.deltas) == as_floats(expected)


def test_latency_threshold_between_buckets_is_refused(
    client: PrometheusClient, history: History
) -> None:
    """A 300ms threshold is no bucket: the error lists the real boundaries."""
    latency = slo(model.LatencySLI(histogram=model.Selector("rt_seconds"), threshold=0.3))
    with pytest.raises(errors.HistogramBucketError) as info:
        fetch(client, latency, history.end - 600, history.end)
    assert str(info.value).endswith("buckets found: 0.1, 0.25, 1, +Inf")


def test_template_sli_is_evaluated_per_bucket(client: PrometheusClient, history: History) -> None:
    """A {{.window}} template gives one point per bucket, close to the exact count."""
    since = history.start + 600
    until = history.start + 3 * 3600
    templated = slo(
        model.RatioSLI(
            bad=model.Template('sum(increase(requests_total{code="500"}[{{.window}}]))'),
            total=model.Template("sum(increase(requests_total[{{.window}}]))"),
        )
    )
    batch = fetch(client, templated, since, until)
    assert sorted(batch.deltas) == [since + i * RES for i in range(int((until - since) / RES))]
    exact = sum(t for _, t in history.expected("requests", since, until).values())
    estimated = sum(t for _, t in batch.deltas.values())
    # increase() extrapolates and its windows meet at sample edges: close, not exact.
    assert abs(estimated - exact) / exact < 0.05


def test_raw_samples_drop_the_left_edge_prometheus_2_returns(
    client: PrometheusClient, history: History
) -> None:
    """Prometheus 2.x includes a sample at range start; raw_samples leaves it out."""
    start = history.start + 10 * STEP
    series = client.raw_samples('requests_total{code="200"}', start, start + 4 * STEP)
    assert [ts for ts, _ in series[0].samples] == [start + k * STEP for k in (1, 2, 3, 4)]
    result = client.query('requests_total{code="200"}[60s]', start + 4 * STEP, stats=True)
    assert len(result.series[0].samples) == 5, "the server itself returns both edges"
    assert result.stats is not None
    assert result.stats["samples"]["totalQueryableSamples"] == 5


def test_implausible_samples_are_rejected_and_the_span_still_covered(
    client: PrometheusClient, history: History
) -> None:
    """A negative and a 1e308 sample are rejected per series; the plausible rest is counted."""
    target = slo(model.RatioSLI(good=model.Selector("glitch"), total=model.Selector("glitch")))
    until = history.start + len(GLITCH) * STEP
    batch = fetch(client, target, history.start, until)
    assert batch.covered_until == until
    assert sum(t for _, t in batch.deltas.values()) == 25
    assert {(r.series, r.samples) for r in batch.rejected} == {
        ('good|{__name__="glitch"}', 2),
        ('total|{__name__="glitch"}', 2),
    }
    assert next(iter(batch.rejected)).reason == "negative counter value -3"


def test_a_backfill_too_large_for_the_size_limit_is_read_in_halves(
    prometheus: str, history: History
) -> None:
    """With a 32 KiB answer limit, six hours are read in smaller spans and stay exact."""
    small = PrometheusClient(
        model.PrometheusConfig(url=prometheus, timeout=30.0, max_response_size=32 << 10)
    )
    spans = Spans(small)
    try:
        batch = fetch(spans, AVAILABILITY, history.start, history.end)
    finally:
        small.close()
    expected = history.expected("requests", history.start, history.end)
    assert as_floats(batch.deltas) == as_floats(expected)
    whole = history.end - history.start + STEP  # the first read, overlap included
    assert spans.asked[0] == (history.start - STEP, history.end)
    assert len(spans.asked) > 2
    assert min(e - s for s, e in spans.asked) <= whole / 2
