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

from slo_exporter import __version__, sla
from slo_exporter.model import SLO, CalendarPeriod
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
        start = GaugeMetricFamily(
            "slo_period_start_timestamp_seconds",
            "Start (Unix time) of the current SLO period.", labels=KEY)
        end = GaugeMetricFamily(
            "slo_period_end_timestamp_seconds",
            "End (Unix time) of the current SLO period; now for a rolling window.", labels=KEY)
        coverage = GaugeMetricFamily(
            "slo_coverage_ratio",
            "Measured time / (elapsed - excluded time) in the current period to date.",
            labels=[*KEY, "window"])
        excluded = GaugeMetricFamily(
            "slo_excluded_seconds",
            "Maintenance time excluded from the current period to date.",
            labels=[*KEY, "window"])
        exhaustion = GaugeMetricFamily(
            "slo_error_budget_exhaustion_timestamp_seconds",
            "When the period's error budget runs out at the current burn (Unix time); "
            "absent when it will not within the period.", labels=KEY)
        met = GaugeMetricFamily(
            "slo_period_objective_met",
            "1 when the current period to date meets the objective, 0 when it misses it; "
            "absent while nothing was measured.", labels=[*KEY, "window"])
        sla_objective = GaugeMetricFamily(
            "slo_sla_objective_ratio", "The committed SLA level as a ratio, e.g. 0.999.",
            labels=KEY)
        sla_credit = GaugeMetricFamily(
            "slo_sla_credit_ratio",
            "Projected service credit for the current SLA period, 0.10 = 10 %; "
            "absent while nothing was measured.", labels=KEY)

        for status in snap.slos:
            slo = status.slo
            key = [slo.service, slo.name]
            objective.add_metric(key, slo.objective)
            at = status.evaluated_at
            # A calendar period is as long as the one running now (alert
            # rules scale their factors with it): 31 days in March.
            period.add_metric(key, slo.period.longest if at is None else slo.period.length(at))
            if slo.sla is not None:
                sla_objective.add_metric(key, float(slo.sla.objective / 100))
            info_labels = {"service": slo.service, "slo": slo.name, **dict(slo.labels)}
            info_labels["sli_kind"] = _sli_kind(slo.sli)
            info_labels["commitment"] = slo.commitment
            if slo.runbook_url:
                info_labels["runbook_url"] = slo.runbook_url
            if not slo.alerting.default:
                # the generic burn-rate rules skip it: its own rules alert for it
                info_labels["alerting"] = "custom"
            info.add_sample("slo_info", info_labels, 1.0)
            up.add_metric(key, 1.0 if status.up else 0.0)
            if status.evaluated_at is None:
                continue
            last.add_metric(key, status.evaluated_at)
            lo, hi = period_span(slo, status.evaluated_at)
            start.add_metric(key, lo)
            end.add_metric(key, hi)
            for w in status.windows:
                wkey = [*key, slo.window_label(w.window)]
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
            figures = status.period
            if figures is None:
                continue
            pkey = [*key, slo.period.label]
            if figures.coverage is not None:
                coverage.add_metric(pkey, figures.coverage)
            excluded.add_metric(pkey, figures.excluded_seconds)
            if figures.exhaustion_at is not None:
                exhaustion.add_metric(key, figures.exhaustion_at)
            if figures.met is not None:
                met.add_metric(pkey, 1.0 if figures.met else 0.0)
            if figures.sla is not None and figures.sla.credit_percent is not None:
                sla_credit.add_metric(key, sla.credit_ratio(figures.sla.credit_percent) or 0.0)

        yield from (objective, period, info, up, last, sli, events, burn, budget, alert,
                    start, end, coverage, excluded, exhaustion, met, sla_objective, sla_credit)


def period_span(slo: SLO, at: float) -> tuple[float, float]:
    """``[start, end)`` of the SLO's period as of ``at``: the calendar period
    holding ``at``, or the rolling window ending at ``at``."""
    period = slo.period
    if isinstance(period, CalendarPeriod):
        return period.current(at)
    return at - period.seconds, at


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
        self.notifications = Counter(
            "slo_exporter_notifications",
            "Alerts posted to Alertmanager directly, by Alertmanager (URL without "
            "credentials) and result: sent, failed (after retries) or dropped (queue full).",
            ["alertmanager", "result"], registry=registry,
        )
        build = Info(
            "slo_exporter_build", "Build information; always 1.", registry=registry)
        build.info({"version": __version__, "python_version": platform.python_version()})

    def notification(self, alertmanager: str, result: str, alerts: int) -> None:
        """Count ``alerts`` alerts posted to (or dropped for) one Alertmanager."""
        self.notifications.labels(alertmanager, result).inc(alerts)

    def query_error(self, reason: str) -> None:
        self.query_errors.labels(reason if reason in ERROR_REASONS else "internal").inc()
