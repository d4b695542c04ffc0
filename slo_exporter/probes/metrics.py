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
from slo_exporter.probes.result import SELF_REASONS, ProbeResult
from slo_exporter.probes.runner import instance
from slo_exporter.probes.scheduler import SchedulerStats

#: Histogram upper bounds in seconds; probe timeouts rarely exceed a minute. Nine
#: bounds (12 series per probe SLO with +Inf, _sum and _count), dense around the
#: usual latency thresholds (100 ms to 1 s), since every probe SLO carries them.
BUCKETS: tuple[float, ...] = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0)


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


class ProbeMetrics(Collector):
    """Last result, outcome counters and latency histogram per probe SLO."""

    def __init__(self, scheduler_stats: Callable[[], SchedulerStats] | None = None) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
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
                    series = self._series[key] = _Series(sli.module, label)
                series.sli = sli
            series.success = 1.0 if result.success else 0.0
            series.duration = result.duration
            if result.cert_not_after is not None:
                series.cert_not_after = result.cert_not_after
            series.results[outcome] = series.results.get(outcome, 0) + 1
            series.buckets[slot] += 1
            series.total += result.duration
            series.count += 1

    def retain(self, slos: Iterable[model.SLO]) -> None:
        """Forget every SLO not in ``slos`` (after a config reload)."""
        keep = {(s.service, s.name) for s in slos}
        with self._lock:
            for key in [k for k in self._series if k not in keep]:
                del self._series[key]

    def describe(self) -> Iterator[Metric]:
        return self._families({}, None, {})

    def collect(self) -> Iterator[Metric]:
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
        success = GaugeMetricFamily(
            "slo_probe_success", "1 if the last probe succeeded, else 0", labels=target_labels
        )
        duration = GaugeMetricFamily(
            "slo_probe_duration_seconds", "Duration of the last probe", labels=target_labels
        )
        results = CounterMetricFamily(
            "slo_probe_results",
            "Probes run, by outcome and failure reason",
            labels=["service", "slo", "module", "result", "reason"],
        )
        latency = HistogramMetricFamily(
            "slo_probe_latency_seconds",
            "Probe durations",
            labels=["service", "slo", "module"],
        )
        expiry = GaugeMetricFamily(
            "slo_probe_ssl_earliest_cert_expiry_seconds",
            "Expiry of the peer's leaf certificate at the last probe that saw one, epoch seconds",
            labels=["service", "slo", "instance"],
        )
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


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
