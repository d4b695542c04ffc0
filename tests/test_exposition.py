"""The /metrics rendering of snapshots follows the metric contract in PRODUCT.md."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slo_exporter.exposition import SelfMetrics, SnapshotCollector
from slo_exporter.snapshot import SLOStatus, Snapshot
from tests.support.helpers import ratio_slo, status

DAY = 86400.0


def _registry(snap: Snapshot) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    SelfMetrics(reg)
    return reg


def test_window_values_are_exported_with_contract_labels() -> None:
    """SLI, burn rate and events carry service, slo and a Prometheus-style window label."""
    slo = ratio_slo(owner="payments", tier="critical")
    snap = Snapshot(slos=(status(slo, {3600.0: (990.0, 1000.0), 30 * DAY: (99_950.0, 100_000.0)}),),
                    complete=True)
    reg = _registry(snap)
    key = {"service": "checkout", "slo": "availability"}
    assert reg.get_sample_value("slo_sli_ratio", {**key, "window": "1h"}) == pytest.approx(0.99)
    assert reg.get_sample_value("slo_burn_rate", {**key, "window": "1h"}) == pytest.approx(10.0)
    assert reg.get_sample_value("slo_events", {**key, "window": "30d", "result": "bad"}) == 50.0
    assert reg.get_sample_value("slo_events", {**key, "window": "30d", "result": "good"}) == 99_950
    assert reg.get_sample_value("slo_error_budget_remaining_ratio", key) == pytest.approx(0.5)
    assert reg.get_sample_value("slo_objective_ratio", key) == 0.999
    assert reg.get_sample_value("slo_period_seconds", key) == 30 * DAY
    assert reg.get_sample_value("slo_sli_up", key) == 1.0
    assert reg.get_sample_value(
        "slo_info", {**key, "owner": "payments", "tier": "critical", "sli_kind": "ratio",
                     "commitment": "slo"}) == 1.0
    assert reg.get_sample_value("slo_burn_rate_alert", {**key, "severity": "page"}) == 0.0


def test_no_events_means_no_ratio_sample_but_zero_events() -> None:
    """A window without events has no SLI or burn-rate sample (never NaN) and 0 events."""
    slo = ratio_slo()
    reg = _registry(Snapshot(slos=(status(slo, {3600.0: (0.0, 0.0)}),), complete=True))
    key = {"service": "checkout", "slo": "availability", "window": "1h"}
    assert reg.get_sample_value("slo_sli_ratio", key) is None
    assert reg.get_sample_value("slo_burn_rate", key) is None
    assert reg.get_sample_value("slo_events", {**key, "result": "bad"}) == 0.0
    assert b"NaN" not in generate_latest(reg)


def test_down_source_exports_up_zero() -> None:
    """An SLO whose source failed exports slo_sli_up 0 and keeps its stored windows."""
    slo = ratio_slo()
    reg = _registry(Snapshot(slos=(status(slo, {3600.0: (5.0, 10.0)}, up=False),), complete=True))
    assert reg.get_sample_value("slo_sli_up", {"service": "checkout", "slo": "availability"}) == 0
    assert reg.get_sample_value(
        "slo_sli_ratio", {"service": "checkout", "slo": "availability", "window": "1h"}) == 0.5


def test_unevaluated_slo_exports_only_static_series() -> None:
    """Before the first evaluation an SLO has objective, info and up=0 but no window values."""
    reg = _registry(Snapshot(slos=(SLOStatus(slo=ratio_slo()),)))
    key = {"service": "checkout", "slo": "availability"}
    assert reg.get_sample_value("slo_sli_up", key) == 0.0
    assert reg.get_sample_value("slo_last_evaluation_timestamp_seconds", key) is None


def test_firing_page_condition_is_exported() -> None:
    """A firing page condition renders as slo_burn_rate_alert{severity="page"} 1."""
    reg = _registry(Snapshot(slos=(status(ratio_slo(), {3600.0: (1, 2)}, page=True),)))
    key = {"service": "checkout", "slo": "availability"}
    assert reg.get_sample_value("slo_burn_rate_alert", {**key, "severity": "page"}) == 1.0


def test_self_metrics_are_present() -> None:
    """Build info, evaluation duration and query errors by reason are exported."""
    reg = _registry(Snapshot())
    assert reg.get_sample_value("slo_exporter_build_info", None) is None  # labels required
    text = generate_latest(reg).decode()
    assert "slo_exporter_build_info{" in text
    assert 'slo_exporter_query_errors_total{reason="timeout"} 0.0' in text
    assert "slo_exporter_evaluation_duration_seconds_bucket" in text


def test_promtool_check_metrics_passes() -> None:
    """`promtool check metrics` finds no problem in a full exposition."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus; `make test` installs it)"
    slo = ratio_slo(owner="payments")
    reg = _registry(Snapshot(slos=(status(slo, {3600.0: (9, 10), 30 * DAY: (90, 100)}),),
                             complete=True))
    out = subprocess.run([promtool, "check", "metrics"], input=generate_latest(reg),
                         capture_output=True, check=False, timeout=30)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    assert out.stdout.decode().strip() == "", out.stdout.decode()
