"""Render the current snapshot and the exporter's own health as Prometheus metrics.

``SnapshotCollector.collect()`` only reads the snapshot reference the engine
swaps in, so a scrape never waits on Prometheus or a probe. Self-metrics are
ordinary prometheus-client metrics registered on the registry passed in;
nothing here touches the global registry.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from slo_exporter import __version__
from slo_exporter.durations import format_duration
from slo_exporter.snapshot import Snapshot

#: query error reasons are a closed set (errors.py ``reason`` values), so the
#: counter's cardinality is bounded
ERROR_REASONS = ("timeout", "connection", "http", "api", "decode", "bucket", "source",
                 "query", "store", "internal")

KEY = ["service", "slo"]


class SnapshotCollector(Collector):
    """Yields fresh metric families from the latest snapshot on every scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def describe(self) -> Iterator[Metric]:
        # Describing would force a snapshot read at registration; returning
        # nothing makes the registry call collect() lazily instead.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        objective = GaugeMetricFamily(
            "slo_objective_ratio", "The SLO target as a ratio, e.g. 0.999.", labels=KEY)
        period = GaugeMetricFamily(
            "slo_period_seconds", "Length of the SLO period in seconds.", labels=KEY)
        info = Metric("slo_info", "Descriptive labels of an SLO; always 1.", "gauge")
        up = GaugeMetricFamily(
            "slo_sli_up", "1 when the SLO's data source answered at the last evaluation.",
            labels=KEY)
        last = GaugeMetricFamily(
            "slo_last_evaluation_timestamp_seconds",
            "The instant (Unix time) the SLO values describe.", labels=KEY)
        sli = GaugeMetricFamily(
            "slo_sli_ratio", "Good events / total events in the window; absent without events.",
            labels=[*KEY, "window"])
        events = GaugeMetricFamily(
            "slo_events", "Events in the window by result.", labels=[*KEY, "window", "result"])
        burn = GaugeMetricFamily(
            "slo_burn_rate", "Error ratio in the window / (1 - objective); absent without events.",
            labels=[*KEY, "window"])
        budget = GaugeMetricFamily(
            "slo_error_budget_remaining_ratio",
            "1 - error budget spent over the SLO period; negative when overspent.", labels=KEY)
        alert = GaugeMetricFamily(
            "slo_burn_rate_alert",
            "1 while a multiwindow multi-burn-rate condition of this severity holds.",
            labels=[*KEY, "severity"])

        for status in snap.slos:
            slo = status.slo
            key = [slo.service, slo.name]
            objective.add_metric(key, slo.objective)
            period.add_metric(key, slo.period.longest)
            info_labels = {"service": slo.service, "slo": slo.name, **dict(slo.labels)}
            info_labels["sli_kind"] = _sli_kind(slo.sli)
            if slo.runbook_url:
                info_labels["runbook_url"] = slo.runbook_url
            info.add_sample("slo_info", info_labels, 1.0)
            up.add_metric(key, 1.0 if status.up else 0.0)
            if status.evaluated_at is None:
                continue
            last.add_metric(key, status.evaluated_at)
            for w in status.windows:
                wkey = [*key, format_duration(w.window)]
                events.add_metric([*wkey, "good"], min(w.good, w.total) if w.total > 0 else 0.0)
                events.add_metric([*wkey, "bad"], w.bad)
                if w.sli is not None:
                    sli.add_metric(wkey, w.sli)
                if w.burn_rate is not None:
                    burn.add_metric(wkey, w.burn_rate)
            if status.budget_remaining is not None:
                budget.add_metric(key, status.budget_remaining)
            fired: dict[str, bool] = {}
            for a in status.alerts:
                fired[a.severity] = fired.get(a.severity, False) or a.firing
            for severity in ("page", "ticket"):
                alert.add_metric([*key, severity], 1.0 if fired.get(severity) else 0.0)

        yield from (objective, period, info, up, last, sli, events, burn, budget, alert)


def _sli_kind(sli: object) -> str:
    return type(sli).__name__.removesuffix("SLI").lower()


class SelfMetrics:
    """The exporter's own health: evaluation time, query errors, last success."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluation_duration = Histogram(
            "slo_exporter_evaluation_duration_seconds",
            "Wall time of one evaluation cycle over all SLOs.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.query_errors = Counter(
            "slo_exporter_query_errors",
            "Failed data-source reads by reason (one SLO in one cycle each).",
            ["reason"], registry=registry,
        )
        for reason in ERROR_REASONS:
            self.query_errors.labels(reason)
        self.last_success = Gauge(
            "slo_exporter_last_successful_evaluation_timestamp_seconds",
            "When the last evaluation cycle with every SLO up finished (Unix time).",
            registry=registry,
        )
        self.reload_success = Gauge(
            "slo_exporter_config_last_reload_successful",
            "1 if the last configuration reload (SIGHUP) succeeded or none was asked, else 0.",
            registry=registry,
        )
        self.reload_success.set(1)
        self.reload_timestamp = Gauge(
            "slo_exporter_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully (Unix time).",
            registry=registry,
        )
        self.reload_timestamp.set_to_current_time()
        self.evaluations = Counter(
            "slo_exporter_evaluations", "Evaluation cycles run.", registry=registry)
        build = Info(
            "slo_exporter_build", "Build information; always 1.", registry=registry)
        build.info({"version": __version__, "python_version": platform.python_version()})

    def query_error(self, reason: str) -> None:
        self.query_errors.labels(reason if reason in ERROR_REASONS else "internal").inc()
