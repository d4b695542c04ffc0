"""Prometheus metrics about the probes themselves, next to the SLO metrics.

Owns a ``prometheus_client`` Collector fed by ``observe(slo, result)`` from
probe worker threads and read by ``collect()`` on each scrape. It must not
probe, and a scrape never waits on a probe: ``collect()`` copies counters
under a lock held only for dictionary updates.

Families (``module`` is http, tcp, tls or dns; ``instance`` is the URL,
address or query name of the target, a URL without any user info):

====================================================  =========  =========================
``slo_probe_success{service,slo,module,instance}``     gauge      1 if the last probe succeeded
``slo_probe_duration_seconds{service,slo,module,instance}``  gauge  duration of the last probe
``slo_probe_results_total{service,slo,module,result,reason}``  counter  probes by outcome
``slo_probe_latency_seconds{service,slo,module}``      histogram  probe durations
``slo_probe_ssl_earliest_cert_expiry_seconds{service,slo,instance}``  gauge  leaf cert notAfter
``slo_probe_skipped_total{reason}``                    counter    runs not made, or not
                                                                  counted as events:
                                                                  ``overlap`` (target still
                                                                  running), ``behind`` (pool
                                                                  saturated), and the self
                                                                  errors ``probe_late`` and
                                                                  ``resource_exhausted``
``slo_probe_in_flight``                                gauge      probes running or queued
====================================================  =========  =========================

``overlap``, ``behind`` and the in-flight gauge come from the scheduler given
to ``watch()``; a new scheduler (after a config reload) restarts them from
zero, which Prometheus reads as a counter reset. A self error (the daemon,
not the target, failed) is counted only in ``slo_probe_skipped_total``: it
leaves the target's gauges, counters and histogram alone.

Cardinality is bounded by the configuration: one probe SLO has exactly one
target, so the gauges have one series per probe SLO; the counter has at most
one series per probe SLO and reason in the closed ``REASONS`` set (21); the
histogram has ``len(BUCKETS) + 3`` series per probe SLO; the expiry gauge
exists only for probes that saw a certificate. Nothing derived from a
response (status code, error text) is ever a label. ``retain()`` drops the
series of SLOs removed by a config reload.

``/metrics`` takes a faster path than ``collect()`` (``exposition.rendering_text``):
each target's lines are written once per new result and kept until the next
one, and a scrape joins them; the text is byte for byte what
``generate_latest`` makes of ``collect()``.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from slo_exporter import model
from slo_exporter.exposition import (
    RenderedFamily,
    family_header,
    label_pairs,
    number_text,
    text_wanted,
)
from slo_exporter.probes.result import SELF_REASONS, ProbeResult
from slo_exporter.probes.runner import instance
from slo_exporter.probes.scheduler import SchedulerStats

#: Histogram upper bounds in seconds; probe timeouts rarely exceed a minute. Nine
#: bounds (12 series per probe SLO with +Inf, _sum and _count), dense around the
#: usual latency thresholds (100 ms to 1 s), since every probe SLO carries them.
BUCKETS: tuple[float, ...] = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)


#: the per-target families: (name, help, type); the text format adds ``_total`` to a counter
SUCCESS = ("slo_probe_success", "1 if the last probe succeeded, else 0", "gauge")
DURATION = ("slo_probe_duration_seconds", "Duration of the last probe", "gauge")
RESULTS = ("slo_probe_results", "Probes run, by outcome and failure reason", "counter")
LATENCY = ("slo_probe_latency_seconds", "Probe durations", "histogram")
EXPIRY = ("slo_probe_ssl_earliest_cert_expiry_seconds",
          "Expiry of the peer's leaf certificate at the last probe that saw one, epoch seconds",
          "gauge")
TARGET_FAMILIES = (SUCCESS, DURATION, RESULTS, LATENCY, EXPIRY)


@dataclass
class _Series:
    """Everything recorded for one probe SLO."""

    module: str
    instance: str
    sli: model.ProbeSLI | None = None  # what ``instance`` was computed from
    success: float = 0.0
    duration: float = 0.0
    cert_not_after: float | None = None
    results: dict[tuple[str, str], int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    count: int = 0
    #: this target's lines of each of TARGET_FAMILIES, None until written after a result
    text: tuple[str, ...] | None = None
    #: the escaped ``service="..",slo=".."``, ``module=".."`` and ``instance=".."``
    labels: tuple[str, str, str] = ("", "", "")


@dataclass(frozen=True)
class _Values:
    """One target's values as a scrape found them, to write its lines outside the lock."""

    key: tuple[str, str]
    labels: tuple[str, str, str]  # _Series.labels
    success: float
    duration: float
    cert_not_after: float | None
    results: tuple[tuple[tuple[str, str], int], ...]  # sorted by (result, reason)
    buckets: tuple[int, ...]
    total: float
    count: int

    @staticmethod
    def of(key: tuple[str, str], s: _Series) -> _Values:
        return _Values(key, s.labels, s.success, s.duration, s.cert_not_after,
                       tuple(sorted(s.results.items())), tuple(s.buckets), s.total, s.count)


class ProbeMetrics(Collector):
    """Last result, outcome counters and latency histogram per probe SLO."""

    def __init__(self, scheduler_stats: Callable[[], SchedulerStats] | None = None) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        self._order: list[tuple[str, str]] | None = None  # sorted keys; None after a change
        self._self_errors = dict.fromkeys(sorted(SELF_REASONS), 0)
        self._stats = scheduler_stats

    def watch(self, scheduler_stats: Callable[[], SchedulerStats] | None) -> None:
        """Export the counters of this scheduler (``ProbeScheduler.stats``) from now on."""
        self._stats = scheduler_stats

    def observe(self, slo: model.SLO, result: ProbeResult) -> None:
        """Record one probe result of ``slo`` (whose SLI must be a probe)."""
        sli = slo.sli
        if not isinstance(sli, model.ProbeSLI):
            raise TypeError(f"SLO {slo.key} is not a probe SLO")
        if result.self_error:
            with self._lock:
                self._self_errors[result.reason] += 1
            return
        key = (slo.service, slo.name)
        outcome = ("success" if result.success else "failure", result.reason)
        slot = bisect.bisect_left(BUCKETS, result.duration)
        with self._lock:
            series = self._series.get(key)
            if series is None or series.sli is not sli:
                label = instance(sli)  # once per SLI, not per probe
                if series is None or series.instance != label or series.module != sli.module:
                    if series is None:
                        self._order = None
                    series = self._series[key] = _Series(sli.module, label)
                    series.labels = (label_pairs({"service": key[0], "slo": key[1]}),
                                     label_pairs({"module": sli.module}),
                                     label_pairs({"instance": label}))
                series.sli = sli
            series.success = 1.0 if result.success else 0.0
            series.duration = result.duration
            if result.cert_not_after is not None:
                series.cert_not_after = result.cert_not_after
            series.results[outcome] = series.results.get(outcome, 0) + 1
            series.buckets[slot] += 1
            series.total += result.duration
            series.count += 1
            series.text = None

    def retain(self, slos: Iterable[model.SLO]) -> None:
        """Forget every SLO not in ``slos`` (after a config reload)."""
        keep = {(s.service, s.name) for s in slos}
        with self._lock:
            for key in [k for k in self._series if k not in keep]:
                del self._series[key]
                self._order = None

    def describe(self) -> Iterator[Metric]:
        return self._families({}, None, {})

    def collect(self) -> Iterator[Metric]:
        if text_wanted():
            return self._rendered()
        stats = self._stats() if self._stats is not None else None
        with self._lock:
            copied = {
                key: _Series(
                    s.module, s.instance, None, s.success, s.duration, s.cert_not_after,
                    dict(s.results), list(s.buckets), s.total, s.count,
                )
                for key, s in self._series.items()
            }
            self_errors = dict(self._self_errors)
        return self._families(copied, stats, self_errors)

    def _families(
        self,
        series: dict[tuple[str, str], _Series],
        stats: SchedulerStats | None,
        self_errors: dict[str, int],
    ) -> Iterator[Metric]:
        target_labels = ["service", "slo", "module", "instance"]
        success = GaugeMetricFamily(*SUCCESS[:2], labels=target_labels)
        duration = GaugeMetricFamily(*DURATION[:2], labels=target_labels)
        results = CounterMetricFamily(
            *RESULTS[:2], labels=["service", "slo", "module", "result", "reason"])
        latency = HistogramMetricFamily(*LATENCY[:2], labels=["service", "slo", "module"])
        expiry = GaugeMetricFamily(*EXPIRY[:2], labels=["service", "slo", "instance"])
        for (service, slo), s in sorted(series.items()):
            labels = [service, slo, s.module, s.instance]
            success.add_metric(labels, s.success)
            duration.add_metric(labels, s.duration)
            for (result, reason), n in sorted(s.results.items()):
                results.add_metric([service, slo, s.module, result, reason], n)
            cumulative, running = [], 0
            for bound, n in zip((*BUCKETS, float("inf")), s.buckets, strict=True):
                running += n
                cumulative.append((_le(bound), float(running)))
            latency.add_metric([service, slo, s.module], cumulative, s.total)
            if s.cert_not_after is not None:
                expiry.add_metric([service, slo, s.instance], s.cert_not_after)
        yield from (success, duration, results, latency, expiry)
        yield from self._scheduler_families(stats, self_errors)

    def _rendered(self) -> Iterator[Metric]:
        """The families as ``render_families`` takes them: each target's lines
        written once per new result (outside the lock), joined per family."""
        stats = self._stats() if self._stats is not None else None
        with self._lock:
            if self._order is None:
                self._order = sorted(self._series)
            texts: list[tuple[str, ...] | None] = []
            stale: list[tuple[int, _Series, _Values]] = []
            for key in self._order:
                series = self._series[key]
                if series.text is None:
                    stale.append((len(texts), series, _Values.of(key, series)))
                texts.append(series.text)
            self_errors = dict(self._self_errors)
        written = [(i, series, values, _target_lines(values)) for i, series, values in stale]
        with self._lock:
            for i, series, values, text in written:
                texts[i] = text
                if series.count == values.count:  # no result since: keep it for the next scrape
                    series.text = text
        done = [t for t in texts if t is not None]
        for i, (name, doc, typ) in enumerate(TARGET_FAMILIES):
            shown = name + "_total" if typ == "counter" else name
            yield RenderedFamily(name, doc, typ, family_header(shown, doc, typ)
                                 + "".join(t[i] for t in done))
        yield from self._scheduler_families(stats, self_errors)

    @staticmethod
    def _scheduler_families(
        stats: SchedulerStats | None, self_errors: dict[str, int]
    ) -> Iterator[Metric]:
        skipped = CounterMetricFamily(
            "slo_probe_skipped", "Probe runs not made", labels=["reason"]
        )
        in_flight = GaugeMetricFamily("slo_probe_in_flight", "Probes running or queued")
        if stats is not None:
            skipped.add_metric(["overlap"], stats.skipped_overlap)
            skipped.add_metric(["behind"], stats.skipped_behind)
            in_flight.add_metric([], stats.in_flight)
        for reason, n in self_errors.items():
            skipped.add_metric([reason], n)
        yield from (skipped, in_flight)


def _target_lines(v: _Values) -> tuple[str, ...]:
    """The lines of one target in each of TARGET_FAMILIES, as ``generate_latest`` writes them.

    Label names sort as instance < le < module < reason < result < service < slo;
    ``result`` and ``reason`` come from closed sets that need no escaping.
    """
    key, module, target = v.labels
    n = number_text
    success = f"{SUCCESS[0]}{{{target},{module},{key}}} {n(v.success)}\n"
    duration = f"{DURATION[0]}{{{target},{module},{key}}} {n(v.duration)}\n"
    results = "".join(
        f'{RESULTS[0]}_total{{{module},reason="{reason}",result="{result}",{key}}} {n(count)}\n'
        for (result, reason), count in v.results)
    latency: list[str] = []
    running = 0
    for le, count in zip(_LE, v.buckets, strict=True):
        running += count
        latency.append(f'{LATENCY[0]}_bucket{{le="{le}",{module},{key}}} {n(float(running))}\n')
    latency.append(f"{LATENCY[0]}_count{{{module},{key}}} {n(float(running))}\n")
    latency.append(f"{LATENCY[0]}_sum{{{module},{key}}} {n(v.total)}\n")
    expiry = ("" if v.cert_not_after is None else
              f"{EXPIRY[0]}{{{target},{key}}} {n(v.cert_not_after)}\n")
    return success, duration, results, "".join(latency), expiry


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


_LE = tuple(_le(bound) for bound in (*BUCKETS, float("inf")))
