"""Shared pieces of the engine tests: a config with one Prometheus and one probe SLO,
Prometheus stand-ins for SLIs read as raw samples (fixed series, scripted, late
landing), and the helpers that build their samples."""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.model import SLO, Alerting, Config
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.snapshot import SLOStatus, Snapshot
from slo_exporter.store import EventStore

NOW = 1_800_000_000.0


def ratio_config(bad: str, total: str, *, objective: str = "99", window: str = "1d",
                 interval: str = "10s") -> str:
    """A config whose one SLO, api/availability, is the ratio of the selectors ``bad`` and
    ``total``; its Prometheus is an unused local port (the tests pass a source)."""
    return f"""
prometheus: {{url: "http://127.0.0.1:1", timeout: 1s, retries: 1}}
evaluation_interval: {interval}
services:
  - name: api
    slos:
      - name: availability
        objective: {objective}
        window: {window}
        sli:
          ratio:
            bad: {bad}
            total: {total}
"""


#: api/availability (a ratio read from Prometheus) and web/probe (an HTTP probe)
CONFIG = ratio_config('http_requests_total{code=~"5.."}', "http_requests_total") + """\
  - name: web
    slos:
      - name: probe
        objective: 90
        window: 1d
        sli:
          probe:
            http: {url: "http://127.0.0.1:1/"}
            interval: 10s
            timeout: 1s
"""

PROBE = "web/probe"


def probe_alerting(alerting: Alerting) -> Config:
    """CONFIG with web/probe given ``alerting`` (the probe stands for any SLI: the
    alerting is what is under test)."""
    config = parse_config(CONFIG, "t.yaml")

    def change(slo: SLO) -> SLO:
        return dataclasses.replace(slo, alerting=alerting) if slo.key == PROBE else slo

    services = tuple(dataclasses.replace(svc, slos=tuple(change(s) for s in svc.slos))
                     for svc in config.services)
    return dataclasses.replace(config, services=services)


def exported(snapshot: Snapshot) -> CollectorRegistry:
    """A fresh registry exporting ``snapshot``."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot))
    return registry


def half_failing_probe(store: EventStore, config: Config
                       ) -> tuple[SLOStatus, SLOStatus, Snapshot]:
    """web/probe fails every other result, one every 30 s from NOW - 30 min (66 results);
    an engine on ``config`` evaluates at NOW and at NOW + 180 s. Returns the probe's
    status at each evaluation and the last snapshot."""
    for i in range(66):
        store.record(PROBE, NOW - 1800 + 30 * i, good=i % 2 == 0)
    now = [NOW]
    engine = Engine(config, store, ScriptedSource(), clock=lambda: now[0],
                    probe_last_seen=lambda key: now[0])
    try:
        first = next(s for s in engine.evaluate().slos if s.slo.key == PROBE)
        now[0] = NOW + 180
        last = engine.evaluate()
    finally:
        engine.close()
    return first, next(s for s in last.slos if s.slo.key == PROBE), last


def within(series: Sequence[Series], start: float, end: float) -> list[Series]:
    """The samples of each series in ``(start, end]``, as a range read answers them;
    a series with none there is left out."""
    out = []
    for s in series:
        seen = tuple((t, v) for t, v in s.samples if start < t <= end)
        if seen:
            out.append(Series(s.labels, seen))
    return out


class RawSamplesOnly:
    """Base of the stand-ins for SLIs read as raw samples: an instant or a range
    query fails the test with ``reason``."""

    reason = "ratio SLIs over selectors read raw samples only"

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        raise AssertionError(self.reason)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise AssertionError(self.reason)


class SeriesSource(RawSamplesOnly):
    """Fixed series per selector, answered within ``(start, end]``; ``reads`` counts
    the reads per selector, and a selector with no entry fails the test."""

    def __init__(self, series: Mapping[str, Sequence[Series]]) -> None:
        self.reads: Counter[str] = Counter()
        self.series: dict[str, list[Series]] = {sel: list(v) for sel, v in series.items()}

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.reads[selector] += 1
        return within(self.series[selector], start, end)


class ScriptedSource(RawSamplesOnly):
    """A Prometheus source answering every range read with no series.

    ``on_read`` runs on each read (to fail, stop or interleave work), and
    ``reads`` keeps ``(selector, start, end, thread name)`` of each and
    ``threads`` the thread objects that read (kept alive, so each is distinct).
    """

    def __init__(self, on_read: Callable[[str, float, float], None] | None = None) -> None:
        self.on_read = on_read
        self.reads: list[tuple[str, float, float, str]] = []
        self.threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        with self._lock:
            self.reads.append((selector, start, end, threading.current_thread().name))
            self.threads.add(threading.current_thread())
        if self.on_read is not None:
            self.on_read(selector, start, end)
        return []


@dataclass(frozen=True)
class Landing:
    """One raw sample and the instant it becomes visible in Prometheus."""

    ts: float
    value: float
    landed: float


class LandingSource(RawSamplesOnly):
    """A Prometheus stand-in whose samples become visible when they land.

    ``feeds`` maps a selector to its series (labels -> samples with landing
    instants); ``now`` is the stand-in's clock, which tests move. A range
    read answers the samples in ``(start, end]`` that have landed by
    ``now``, in timestamp order, as Prometheus does; ``reads`` keeps each
    read's ``(selector, start, end)``.
    """

    def __init__(self, feeds: Mapping[str, Mapping[str, Sequence[Landing]]],
                 now: float, on_read: Callable[[str, float, float], None] | None = None
                 ) -> None:
        self.feeds = {sel: {k: list(v) for k, v in series.items()}
                      for sel, series in feeds.items()}
        self.now = now
        self.on_read = on_read
        self.reads: list[tuple[str, float, float]] = []

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.reads.append((selector, start, end))
        if self.on_read is not None:
            self.on_read(selector, start, end)
        out = []
        for name, samples in self.feeds.get(selector, {}).items():
            seen = tuple((s.ts, s.value) for s in sorted(samples, key=lambda s: s.ts)
                         if start < s.ts <= end and s.landed <= self.now)
            if seen:
                out.append(Series({"instance": name}, seen))
        return out


def counter_feed(start: float, end: float, every: float, lag: float,
                 step: Callable[[float], float]) -> list[Landing]:
    """A counter scraped every ``every`` s over ``[start, end]``, each sample landing
    ``lag`` s after its timestamp; ``step(ts)`` is the increase up to ``ts``."""
    out: list[Landing] = []
    value = 0.0
    ts = start
    while ts <= end:
        if out:
            value += step(ts)
        out.append(Landing(ts, value, ts + lag))
        ts += every
    return out


def exact_buckets(samples: Sequence[Landing], resolution: float) -> dict[float, float]:
    """The exact increase per bucket: each increase in the bucket of its later sample."""
    out: dict[float, float] = {}
    ordered = sorted(samples, key=lambda s: s.ts)
    for prev, cur in itertools.pairwise(ordered):
        bucket = math.floor(cur.ts / resolution) * resolution
        out[bucket] = out.get(bucket, 0.0) + cur.value - prev.value
    return out
