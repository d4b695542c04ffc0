"""Shared reads: SLOs over one metric ask once per cycle and count exactly as alone.

Two ingesters read the same scripted Prometheus into two stores, cycle
after cycle: one shares (``Ingestor.share`` before the reads, as the engine
does), the other reads each SLO alone as before. Their stores must hold the
same buckets, series state and cursors for every SLO, through counter
resets, a series that appears half-way, a target whose samples land late,
an SLO added while the others are steady (its backfill reads alone) and
fast-path rounds between cycles; and the sharing one asks Prometheus once
per metric per steady cycle.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import re
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from slo_exporter import errors, model
from slo_exporter.config import parse_config
from slo_exporter.config.promql import parse_selector
from slo_exporter.engine import Engine
from slo_exporter.ingest import Ingestor
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.store import EventStore, SQLiteStore

RES = 60.0
T0 = 1_800_000_000.0  # a whole hour
STEP = 15.0
ROUTES = ("r0", "r1", "r2", "r3")
#: what the avail-r<n> SLOs' shared query asks
COVER = 'http_requests_total{job="api",route=~"r0|r1|r2|r3"}'


@dataclasses.dataclass
class Feed:
    """One series: labels (``__name__`` included), samples and the lag before they land."""

    labels: dict[str, str]
    samples: list[tuple[float, float]]
    lag: float = 5.0


class MetricSource:
    """A Prometheus stand-in over ``feeds`` with its own, plain matching of selectors.

    A sample is visible once ``now`` reaches its timestamp plus its series'
    lag. ``reads`` counts the raw-sample reads per selector; ``count by (le)``
    answers the ``le`` values of the selected buckets. ``fail`` makes every
    raw read raise.
    """

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self.feeds = list(feeds)
        self.now = T0
        self.reads: Counter[str] = Counter()
        self.fail: errors.QueryError | None = None
        self.lock = threading.Lock()

    def _selected(self, selector: str) -> list[Feed]:
        name, raw = parse_selector(selector)
        out = []
        for feed in self.feeds:
            labels = feed.labels
            if name and labels["__name__"] != name:
                continue
            ok = True
            for label, op, quoted in raw:
                value, want = labels.get(label, ""), json.loads(quoted)
                hit = {"=": value == want, "!=": value != want,
                       "=~": re.fullmatch(want, value) is not None,
                       "!~": re.fullmatch(want, value) is None}[op]
                ok = ok and hit
            if ok:
                out.append(feed)
        return out

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        with self.lock:
            self.reads[selector] += 1
        if self.fail is not None:
            raise self.fail
        out = []
        for feed in self._selected(selector):
            kept = tuple((ts, v) for ts, v in feed.samples
                         if start < ts <= end and ts + feed.lag <= self.now)
            if kept:
                out.append(Series(dict(feed.labels), kept))
        return out

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        match = re.fullmatch(r"count by \(le\) \((.*)\)", promql)
        assert match is not None, promql
        les = sorted({f.labels["le"] for f in self._selected(match.group(1))})
        return QueryResult("vector", tuple(Series({"le": le}, ((at, 1.0),)) for le in les),
                           None, None, promql)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise AssertionError("no templates here")


def _counter(labels: dict[str, str], rate: int, *, start: float = T0 - 3600,
             end: float = T0 + 3600, reset: float | None = None, lag: float = 5.0) -> Feed:
    """A counter growing by ``rate`` plus a wobble each scrape, reset to 0 at ``reset``."""
    samples, value, ts, i = [], 0.0, start, 0
    while ts <= end:
        if reset is not None and ts >= reset > ts - STEP:
            value = 0.0
        samples.append((ts, value))
        value += rate + (i * 7) % 5
        ts, i = ts + STEP, i + 1
    return Feed(labels, samples, lag)


def _feeds() -> list[Feed]:
    feeds = []
    for n, route in enumerate(ROUTES):
        for code, rate in (("200", 10 * (n + 1)), ("500", n)):
            labels = {"__name__": "http_requests_total", "job": "api", "route": route,
                      "code": code}
            if (route, code) == ("r2", "500"):
                feeds.append(_counter(labels, 3, start=T0 + 300))  # appears half-way
            elif (route, code) == ("r1", "200"):
                feeds.append(_counter(labels, rate, reset=T0 + 200))
            elif route == "r3":
                feeds.append(_counter(labels, rate, lag=100.0))  # lands late
            else:
                feeds.append(_counter(labels, rate))
    # a route whose error series appears half-way and lands 60 s late, later than
    # a read reaches back for a series it has not seen: alone, it is never counted
    r4 = {"__name__": "http_requests_total", "job": "api", "route": "r4"}
    feeds.append(_counter({**r4, "code": "200"}, 5))
    feeds.append(_counter({**r4, "code": "500"}, 2, start=T0 + 300, lag=60.0))
    for route in ("r0", "r1"):
        for le, rate in (("0.1", 3), ("0.3", 6), ("1", 8), ("+Inf", 9)):
            feeds.append(_counter({"__name__": "latency_seconds_bucket", "route": route,
                                   "le": le}, rate))
        feeds.append(_counter({"__name__": "latency_seconds_count", "route": route}, 9))
    for target in ("t0", "t1"):
        feeds.append(Feed({"__name__": "probe_success", "target": target},
                          [(T0 - 3600 + i * STEP, float(i % 7 != 0)) for i in range(481)]))
    return feeds


def _slos() -> list[model.SLO]:
    def ratio(name: str, marked: str, total: str, *, good: bool = False,
              group: str = "") -> str:
        return (f"      - name: {name}\n        objective: 99\n        window: 1d\n{group}"
                f"        sli:\n          ratio:\n            {'good' if good else 'bad'}: "
                f"'{marked}'\n            total: '{total}'\n")

    body = "".join(
        ratio(f"avail-{r}", f'http_requests_total{{job="api",route="{r}",code=~"5.."}}',
              f'http_requests_total{{job="api",route="{r}"}}') for r in ROUTES)
    body += ratio("good-r0", 'http_requests_total{route="r0",code!~"5.."}',
                  'http_requests_total{route="r0"}', good=True)
    body += ratio("errors-r4", 'http_requests_total{route="r4",code="500"}',
                  'http_requests_total{route="r4"}')
    body += ratio("by-route", 'http_requests_total{code="500"}', "http_requests_total",
                  group="        group_by: [route]\n")
    for route, threshold in (("r0", "0.3"), ("r1", "1")):
        body += (f"      - name: latency-{route}\n        objective: 90\n        window: 1d\n"
                 f"        sli:\n          latency:\n            histogram: "
                 f"'latency_seconds{{route=\"{route}\"}}'\n            threshold: {threshold}\n")
    text = ('prometheus: {url: "http://127.0.0.1:1"}\nservices:\n  - name: api\n    slos:\n'
            + body)
    slos = list(parse_config(text, "shared.yaml").slos)
    base = slos[0]
    for target in ("t0", "t1"):
        slos.append(dataclasses.replace(
            base, name=f"probe-{target}",
            sli=model.BoolGaugeSLI(model.Selector(f'probe_success{{target="{target}"}}'))))
    return slos


def _ingestor(store: EventStore, source: MetricSource, slos: Sequence[model.SLO]) -> Ingestor:
    return Ingestor(store, source, model.PrometheusConfig(url="http://127.0.0.1:1"), slos,
                    stop=threading.Event(), log=structlog.get_logger("test"))


def _keys(store: EventStore) -> list[str]:
    return sorted(store.slo_keys())


def _contents(store: EventStore) -> dict[str, object]:
    return {key: (store.buckets(key, T0 - 86400, T0 + 86400), store.series(key),
                  store.cursor(key)) for key in _keys(store)}


def _after_first_cycle(ing: Ingestor, src: MetricSource, slos: Sequence[model.SLO],
                       then: float = T0 + STEP) -> None:
    """One shared cycle at T0 (the backfill), its reads forgotten, the source at ``then``."""
    src.now = T0
    _cycle(ing, slos, T0, shared=True)
    src.reads.clear()
    src.now = then


def _cycle(ing: Ingestor, slos: Sequence[model.SLO], at: float, *, shared: bool,
           fast: bool = False) -> None:
    source = ing.share(slos, at, fast=fast) if shared else None
    for slo in slos:
        if fast:
            if slo.group_by:
                ing.catch_up_groups(slo, at, source)
            else:
                ing.catch_up(slo, at, source)
        else:
            ing.read(slo, at, source)


def test_shared_reads_count_exactly_what_each_slo_counts_alone(tmp_path: Path) -> None:
    """Buckets, series state and cursors of every SLO and group are identical with and
    without sharing, over resets, a new series, late samples, an SLO added while the
    others are steady and fast-path rounds between the cycles."""
    slos = _slos()
    late = dataclasses.replace(slos[0], name="added-later")
    feeds = _feeds()
    shared_src, alone_src = MetricSource(feeds), MetricSource(feeds)
    with SQLiteStore(tmp_path / "a", RES) as a, SQLiteStore(tmp_path / "b", RES) as b:
        ing_a = _ingestor(a, shared_src, [*slos, late])
        ing_b = _ingestor(b, alone_src, [*slos, late])
        for i in range(40):  # ten minutes of 15 s cycles, a fast round in between
            now = T0 + i * STEP
            current = slos if i < 20 else [*slos, late]
            shared_src.now = alone_src.now = now
            asked = sum(shared_src.reads.values())
            _cycle(ing_a, current, now, shared=True)
            _cycle(ing_b, current, now, shared=False)
            if i not in (0, 20):  # steady: one read per metric (cycle 20 adds an SLO)
                assert sum(shared_src.reads.values()) - asked == 4, i
            shared_src.now = alone_src.now = now + 7.0
            asked = sum(shared_src.reads.values())
            _cycle(ing_a, current, now + 7.0, shared=True, fast=True)
            _cycle(ing_b, current, now + 7.0, shared=False, fast=True)
            assert sum(shared_src.reads.values()) - asked <= 4, i
        assert _contents(a) == _contents(b)
        assert sum(shared_src.reads.values()) < sum(alone_src.reads.values()) / 3
        assert any(bucket[2] > 0 for bucket in a.buckets(late.key, T0 - 86400, T0 + 600))
        group_keys = [k for k in _keys(a) if "by-route{route=" in k]
        assert len(group_keys) == len(ROUTES) + 1  # and r4


def test_a_steady_cycle_asks_once_per_metric(tmp_path: Path) -> None:
    """After the backfills, a cycle of 11 definitions over 4 metrics (http_requests_total,
    latency_seconds_bucket, latency_seconds_count, probe_success) makes 4 raw reads
    instead of 20: avail-r0..r3 4 x 2, good-r0, errors-r4 and by-route 2 each,
    latency 2 x 2, gauges 2."""
    slos = _slos()
    shared_src, alone_src = MetricSource(_feeds()), MetricSource(_feeds())
    with SQLiteStore(tmp_path / "a", RES) as a, SQLiteStore(tmp_path / "b", RES) as b:
        ing_a, ing_b = _ingestor(a, shared_src, slos), _ingestor(b, alone_src, slos)
        for src in (shared_src, alone_src):
            src.now = T0
        _cycle(ing_a, slos, T0, shared=True)
        _cycle(ing_b, slos, T0, shared=False)
        shared_src.reads.clear()
        alone_src.reads.clear()
        shared_src.now = alone_src.now = T0 + STEP
        _cycle(ing_a, slos, T0 + STEP, shared=True)
        _cycle(ing_b, slos, T0 + STEP, shared=False)
    assert sum(alone_src.reads.values()) == 20
    assert shared_src.reads == {
        'http_requests_total': 1,
        'latency_seconds_bucket{le=~"0\\\\.3|1",route=~"r0|r1"}': 1,
        'latency_seconds_count{route=~"r0|r1"}': 1,
        'probe_success{target=~"t0|t1"}': 1,
    }


def test_a_new_slo_backfills_alone_while_the_others_stay_shared(tmp_path: Path) -> None:
    """An SLO added beside steady ones reads its backfill with its own queries; the
    steady SLOs still ask once for their metric in that cycle."""
    slos = _slos()[:4]  # avail-r0..r3 over http_requests_total
    added = dataclasses.replace(slos[0], name="added")
    src = MetricSource(_feeds())
    with SQLiteStore(tmp_path, RES) as store:
        ing = _ingestor(store, src, [*slos, added])
        _after_first_cycle(ing, src, slos)
        _cycle(ing, [*slos, added], T0 + STEP, shared=True)
    own = added.sli
    assert isinstance(own, model.RatioSLI)
    assert own.bad is not None
    assert src.reads == {COVER: 1, own.bad.text: 2,
                         own.total.text: 2}  # the backfill: 1d + 10 min in 1d chunks


def test_a_failed_shared_query_fails_each_read_with_its_error(tmp_path: Path) -> None:
    """When the shared query fails, every SLO reading that metric fails with that
    error (the engine marks each down) and Prometheus is not asked again per SLO."""
    slos = _slos()[:4]
    src = MetricSource(_feeds())
    with SQLiteStore(tmp_path, RES) as store:
        ing = _ingestor(store, src, slos)
        _after_first_cycle(ing, src, slos)
        src.fail = errors.QueryHTTPError("boom", query="q", status=503)
        shared = ing.share(slos, T0 + STEP)
        for slo in slos:
            with pytest.raises(errors.QueryHTTPError, match="boom"):
                ing.read(slo, T0 + STEP, shared)
    assert sum(src.reads.values()) == 1


def test_a_too_large_shared_answer_leaves_each_selector_to_its_own_query(
        tmp_path: Path) -> None:
    """A shared answer too large even when halved is not used: each SLO asks alone
    and counts as before."""
    slos = _slos()[:4]
    src = MetricSource(_feeds())
    with SQLiteStore(tmp_path, RES) as store:
        ing = _ingestor(store, src, slos)
        _after_first_cycle(ing, src, slos)
        real = src.raw_samples

        def too_large(selector: str, start: float, end: float) -> list[Series]:
            if selector == COVER:
                src.reads[selector] += 1
                raise errors.QueryTooLarge("too large", query=selector)
            return real(selector, start, end)

        src.raw_samples = too_large  # type: ignore[method-assign]
        _cycle(ing, slos, T0 + STEP, shared=True)
        assert all(store.cursor(s.key) == T0 + STEP for s in slos)
    # (T0 - 105, T0 + 15] (r3 lands 100 s late): halved once, the halves are not above
    # a minute (MIN_SPLIT_SPAN), so the first half failing gives up
    assert src.reads[COVER] == 2
    assert sum(src.reads.values()) == 2 + 2 * len(slos)


def test_an_ambiguous_value_reads_that_selector_alone(tmp_path: Path) -> None:
    """A label value with a newline under a '.' regex is not matched locally: that
    selector asks Prometheus, which decides, and the read is logged as not shared, once."""
    feeds = [_counter({"__name__": "m", "a": "x\ny"}, 1), _counter({"__name__": "m", "a": "z"}, 2)]
    text = ('prometheus: {url: "http://127.0.0.1:1"}\nservices:\n  - name: s\n    slos:\n'
            + "".join(f"      - name: s{i}\n        objective: 99\n        window: 1d\n"
                      f"        sli:\n          ratio:\n            bad: '{bad}'\n"
                      f"            total: 'm'\n"
                      for i, bad in enumerate(('m{a=~"x.y"}', 'm{a="z"}'))))
    slos = list(parse_config(text, "a.yaml").slos)
    src = MetricSource(feeds)
    with SQLiteStore(tmp_path, RES) as store, capture_logs() as logs:
        ing = _ingestor(store, src, slos)
        _after_first_cycle(ing, src, slos)
        logs.clear()
        shared = ing.share(slos, T0 + STEP)
        assert shared is not None
        found = shared.raw_samples('m{a=~"x.y"}', T0, T0 + STEP)
        again = ing.share(slos, T0 + STEP)  # the next cycle: logged once only
        assert again is not None
        again.raw_samples('m{a=~"x.y"}', T0, T0 + STEP)
    assert src.reads == {"m": 2, 'm{a=~"x.y"}': 2}
    assert found == []  # the stand-in answers as Prometheus 2.x: '.' is no newline
    assert [e["event"] for e in logs] == ["read_not_shared"]


def test_the_engine_shares_full_cycles_and_the_fast_path(tmp_path: Path) -> None:
    """Through the engine, a steady full cycle and a fast-path round each ask once
    per metric for 4 SLOs over http_requests_total."""
    text = ('prometheus: {url: "http://127.0.0.1:1"}\nservices:\n  - name: api\n    slos:\n'
            + "".join(f"      - name: a{r}\n        objective: 99\n        window: 1h\n"
                      f"        sli:\n          ratio:\n            bad: "
                      f"'http_requests_total{{route=\"{r}\",code=\"500\"}}'\n"
                      f"            total: 'http_requests_total{{route=\"{r}\"}}'\n"
                      for r in ROUTES[:3]))
    config = parse_config(text, "e.yaml")
    src = MetricSource([f for f in _feeds() if f.labels["__name__"] == "http_requests_total"])
    clock = [T0]
    with SQLiteStore(tmp_path, RES) as store:
        engine = Engine(config, store, src, clock=lambda: clock[0], max_workers=2)
        try:
            src.now = T0
            engine.evaluate()
            src.reads.clear()
            clock[0] = src.now = T0 + 30
            engine.evaluate()
            full = dict(src.reads)
            src.reads.clear()
            clock[0] = src.now = T0 + 50
            engine.catch_up()
        finally:
            engine.close()
    assert full == {'http_requests_total{route=~"r0|r1|r2"}': 1}
    assert src.reads == {'http_requests_total{route=~"r0|r1|r2"}': 1}
    assert all(st.up for st in engine.snapshot.slos)
    # the fast round read new samples for every SLO through the shared answer
    assert [st.evaluated_at for st in engine.snapshot.slos] == [T0 + 50] * 3
    assert math.isfinite(engine.snapshot.slos[0].windows[0].sli or 0.0)


def test_a_latency_slo_whose_bucket_vanished_does_not_stop_the_others_sharing(
        tmp_path: Path) -> None:
    """After a restart, a latency SLO whose threshold is no longer a bucket is left out
    of the plan (its own read reports it); the other SLOs still share their query."""
    slos = [*_slos()[:4], next(s for s in _slos() if s.name == "latency-r0")]
    src = MetricSource(_feeds())
    with SQLiteStore(tmp_path, RES) as store:
        _cycle(_ingestor(store, src, slos), slos, T0, shared=True)
        src.feeds = [f for f in src.feeds if f.labels.get("le") != "0.3"]
        restarted = _ingestor(store, src, slos)  # the le cache starts empty
        src.reads.clear()
        src.now = T0 + STEP
        shared = restarted.share(slos, T0 + STEP)
        assert src.reads == {COVER: 1}
        with pytest.raises(errors.HistogramBucketError):
            restarted.read(slos[-1], T0 + STEP, shared)
        for slo in slos[:4]:
            restarted.read(slo, T0 + STEP, shared)
    assert src.reads == {COVER: 1}


def test_the_fast_plan_leaves_out_slos_a_full_read_holds(tmp_path: Path) -> None:
    """While full reads hold SLOs, the fast path would skip them: its shared query
    leaves them out (the one definition left still asks once for both its
    selectors), and asks nothing when every reader is held."""
    slos = _slos()[:4]
    src = MetricSource(_feeds())
    with SQLiteStore(tmp_path, RES) as store:
        ing = _ingestor(store, src, slos)
        _after_first_cycle(ing, src, slos, then=T0 + 7)
        held = [ing._lock(s) for s in slos]
        for lock in held:
            lock.acquire()
        try:
            assert ing.share(slos, T0 + 7, fast=True) is None  # no definition left
            held[3].release()
            assert ing.share(slos, T0 + 7, fast=True) is not None  # avail-r3 alone
            held[3].acquire()
        finally:
            for lock in held:
                lock.release()
        assert src.reads == {'http_requests_total{job="api",route="r3"}': 1}
        assert ing.share(slos, T0 + 7, fast=True) is not None
    assert src.reads == {'http_requests_total{job="api",route="r3"}': 1, COVER: 1}


def test_a_shared_answer_too_large_for_its_span_is_read_in_halves(tmp_path: Path) -> None:
    """A covering query refused as too large is halved like any raw read; the halves'
    series are joined, and every SLO still counts exactly what it counts alone."""
    slos = _slos()[:4]
    shared_src, alone_src = MetricSource(_feeds()), MetricSource(_feeds())
    with SQLiteStore(tmp_path / "a", RES) as a, SQLiteStore(tmp_path / "b", RES) as b:
        ing_a, ing_b = _ingestor(a, shared_src, slos), _ingestor(b, alone_src, slos)
        _cycle(ing_a, slos, T0, shared=True)
        _cycle(ing_b, slos, T0, shared=False)
        real = shared_src.raw_samples

        def limited(selector: str, start: float, end: float) -> list[Series]:
            if selector == COVER and end - start > 60:
                shared_src.reads[selector] += 1
                raise errors.QueryTooLarge("too large", query=selector)
            return real(selector, start, end)

        shared_src.raw_samples = limited  # type: ignore[method-assign]
        shared_src.reads.clear()
        shared_src.now = alone_src.now = T0 + STEP
        _cycle(ing_a, slos, T0 + STEP, shared=True)
        _cycle(ing_b, slos, T0 + STEP, shared=False)
        assert _contents(a) == _contents(b)
    # (T0 - 105, T0 + 15] (r3 lands 100 s late): refused, then its two 60 s halves
    assert shared_src.reads == {COVER: 3}


def test_a_long_evaluation_interval_still_shares(tmp_path: Path) -> None:
    """With a 30-minute interval a steady read spans more than the default 15 minutes;
    the bound follows the interval (2 x 1800 + 300 s), so the cycle still asks once."""
    slos = _slos()[:4]
    src = MetricSource(_feeds())
    with SQLiteStore(tmp_path, RES) as store:
        ing = _ingestor(store, src, slos)
        _after_first_cycle(ing, src, slos, then=T0 + 1800)
        assert ing.share(slos, T0 + 1800) is None  # the default bound: each alone
        shared = ing.share(slos, T0 + 1800, interval=1800.0)
        for slo in slos:
            ing.read(slo, T0 + 1800, shared)
    assert src.reads == {COVER: 1}


def test_grouped_bool_gauges_share_and_count_as_alone(tmp_path: Path) -> None:
    """Two bool-gauge definitions grouped by target and one per target share one query
    per cycle and store, per group, exactly what they store alone."""
    base = _slos()[0]
    gauge = model.BoolGaugeSLI(model.Selector("probe_success"))
    slos = [dataclasses.replace(base, name="probes", sli=gauge, group_by=("target",)),
            dataclasses.replace(base, name="probes-too", sli=gauge, group_by=("target",)),
            dataclasses.replace(base, name="t0", sli=model.BoolGaugeSLI(
                model.Selector('probe_success{target="t0"}')))]
    feeds = [f for f in _feeds() if f.labels["__name__"] == "probe_success"]
    shared_src, alone_src = MetricSource(feeds), MetricSource(feeds)
    with SQLiteStore(tmp_path / "a", RES) as a, SQLiteStore(tmp_path / "b", RES) as b:
        ing_a, ing_b = _ingestor(a, shared_src, slos), _ingestor(b, alone_src, slos)
        for i in range(6):
            shared_src.now = alone_src.now = T0 + i * STEP
            asked = sum(shared_src.reads.values())
            _cycle(ing_a, slos, T0 + i * STEP, shared=True)
            _cycle(ing_b, slos, T0 + i * STEP, shared=False)
            if i:
                assert sum(shared_src.reads.values()) - asked == 1
        assert _contents(a) == _contents(b)
        assert len([k for k in _keys(a) if "{target=" in k]) == 4


def _random_feeds(rng: random.Random) -> list[Feed]:
    """``_feeds``' series with random rates, resets, starts and landing lags."""
    feeds = []
    for feed in _feeds():
        if feed.labels["__name__"] == "probe_success":
            feeds.append(feed)
            continue
        reset = T0 + rng.randrange(0, 600, 5) if rng.random() < 0.3 else None
        start = T0 + rng.randrange(0, 300, 5) if rng.random() < 0.2 else T0 - 3600
        lag = rng.choice((0.0, 2.0, 5.0, 20.0, 70.0))
        feeds.append(_counter(feed.labels, rng.randrange(0, 12), start=start, reset=reset,
                              lag=lag))
    return feeds


@pytest.mark.parametrize("seed", range(4))
def test_shared_fast_reads_count_exactly_what_per_selector_fast_reads_count(
        tmp_path: Path, seed: int) -> None:
    """Randomized: fast-path rounds over random sets of definitions (often one alone,
    whose selectors of a metric then share one query) leave the same buckets, series
    state and cursors as fast reads per selector, over random rates, resets, starts and
    lags; and each shared round asks at most once per metric its reads touch."""
    rng = random.Random(seed)
    slos = _slos()
    feeds = _random_feeds(rng)
    shared_src, alone_src = MetricSource(feeds), MetricSource(feeds)
    with SQLiteStore(tmp_path / "a", RES) as a, SQLiteStore(tmp_path / "b", RES) as b:
        ing_a, ing_b = _ingestor(a, shared_src, slos), _ingestor(b, alone_src, slos)
        fast = Counter[str]()
        for i in range(12):  # three minutes of 15 s cycles, fast rounds in between
            now = T0 + i * STEP
            shared_src.now = alone_src.now = now
            _cycle(ing_a, slos, now, shared=True)
            _cycle(ing_b, slos, now, shared=False)
            for at in sorted(rng.sample(range(1, int(STEP)), 3)):
                due = [s for s in slos if rng.random() < 0.25] or [rng.choice(slos)]
                shared_src.now = alone_src.now = now + at
                before_a, before_b = Counter(shared_src.reads), Counter(alone_src.reads)
                _cycle(ing_a, due, now + at, shared=True, fast=True)
                _cycle(ing_b, due, now + at, shared=False, fast=True)
                metrics = {parse_selector(s)[0] for s in alone_src.reads - before_b}
                asked = (shared_src.reads - before_a).total()
                assert asked <= len(metrics), (i, at)
                fast.update(shared=asked, alone=(alone_src.reads - before_b).total())
        assert _contents(a) == _contents(b)
        assert 0 < fast["shared"] < fast["alone"]  # the rounds read, and read less
