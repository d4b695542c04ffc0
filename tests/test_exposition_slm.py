"""The service-level management metrics on /metrics: period bounds, coverage, excluded
time, budget exhaustion, the period verdict and the SLA, each present or absent by rule."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slo_exporter.exposition import SnapshotCollector
from slo_exporter.figures import PeriodFigures, SLAOutcome
from slo_exporter.model import CalendarPeriod, CompositeComponent, CompositeSLI, SLOId
from slo_exporter.sla import SLA, CreditTier
from slo_exporter.snapshot import SLOStatus, Snapshot
from tests.support.helpers import ratio_slo, status

DAY = 86400.0
AT = 1_700_000_000.0  # 2023-11-14T22:13:20Z
KEY = {"service": "checkout", "slo": "availability"}
#: November 2023 in UTC
NOV = (1_698_796_800.0, 1_701_388_800.0)
MONTHLY = SLA(objective=Decimal("99.9"),
              tiers=(CreditTier(Decimal("99.9"), Decimal("10")),
                     CreditTier(Decimal("99.0"), Decimal("25"))))


def figures(**changes: object) -> PeriodFigures:
    base = PeriodFigures(
        label="2023-11", start=NOV[0], end=NOV[1], at=AT, time_zone="UTC", objective=0.999,
        budgeting="occurrences", achieved=0.9995, met=True, coverage=0.75,
        excluded_seconds=7200.0, exhaustion_at=AT + 3 * DAY)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def registry(*statuses: SLOStatus) -> CollectorRegistry:
    snap = Snapshot(slos=statuses, complete=True)
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    return reg


def calendar_status(period: PeriodFigures | None = None, *, sla: SLA | None = None) -> SLOStatus:
    slo = dataclasses.replace(ratio_slo(), period=CalendarPeriod("month", "UTC"), sla=sla)
    base = status(slo, {3600.0: (99.0, 100.0), slo.period.longest: (9990.0, 10000.0)}, at=AT)
    return dataclasses.replace(base, period=period)


def test_period_bounds_of_a_calendar_slo_are_the_current_month() -> None:
    """Start and end are November 2023's in UTC; slo_period_seconds is its 30 days."""
    reg = registry(calendar_status(figures()))
    assert reg.get_sample_value("slo_period_start_timestamp_seconds", KEY) == NOV[0]
    assert reg.get_sample_value("slo_period_end_timestamp_seconds", KEY) == NOV[1]
    assert reg.get_sample_value("slo_period_seconds", KEY) == 30 * DAY


def test_period_bounds_of_a_rolling_slo_end_now() -> None:
    """A 30d rolling SLO's period is the 30 days up to the instant its values describe."""
    reg = registry(status(ratio_slo(), {3600.0: (1.0, 1.0)}, at=AT))
    assert reg.get_sample_value("slo_period_start_timestamp_seconds", KEY) == AT - 30 * DAY
    assert reg.get_sample_value("slo_period_end_timestamp_seconds", KEY) == AT


def test_calendar_period_values_carry_the_period_label() -> None:
    """The to-date values are labelled window="month", the rolling ones by their duration."""
    reg = registry(calendar_status(figures()))
    assert reg.get_sample_value("slo_sli_ratio", {**KEY, "window": "month"}) == pytest.approx(0.999)
    assert reg.get_sample_value("slo_events", {**KEY, "window": "month", "result": "bad"}) == 10
    assert reg.get_sample_value("slo_sli_ratio", {**KEY, "window": "1h"}) == pytest.approx(0.99)


def test_window_label_names_the_period_window_by_the_period() -> None:
    """The period's window is `month` for a calendar SLO and `30d` for a rolling one."""
    calendar = dataclasses.replace(ratio_slo(), period=CalendarPeriod("quarter", "UTC"))
    assert calendar.window_label(calendar.period.longest) == "quarter"
    assert calendar.window_label(3600.0) == "1h"
    assert ratio_slo().window_label(30 * DAY) == "30d"


def test_period_figures_are_exported_with_the_period_label() -> None:
    """Coverage, excluded seconds, the verdict and the exhaustion instant come from the figures."""
    reg = registry(calendar_status(figures()))
    month = {**KEY, "window": "month"}
    assert reg.get_sample_value("slo_coverage_ratio", month) == 0.75
    assert reg.get_sample_value("slo_excluded_seconds", month) == 7200.0
    assert reg.get_sample_value("slo_period_objective_met", month) == 1.0
    assert reg.get_sample_value(
        "slo_error_budget_exhaustion_timestamp_seconds", KEY) == AT + 3 * DAY


def test_rolling_figures_use_the_window_label() -> None:
    """A rolling SLO's figures carry its window, e.g. window="30d"."""
    base = status(ratio_slo(), {3600.0: (1.0, 1.0)}, at=AT)
    reg = registry(dataclasses.replace(base, period=figures(label="30d", met=False)))
    assert reg.get_sample_value("slo_coverage_ratio", {**KEY, "window": "30d"}) == 0.75
    assert reg.get_sample_value("slo_period_objective_met", {**KEY, "window": "30d"}) == 0.0


def test_unknowns_are_absent_never_nan() -> None:
    """No coverage, no verdict and no exhaustion mean no sample, not NaN."""
    reg = registry(calendar_status(figures(coverage=None, met=None, exhaustion_at=None,
                                           achieved=None)))
    month = {**KEY, "window": "month"}
    assert reg.get_sample_value("slo_coverage_ratio", month) is None
    assert reg.get_sample_value("slo_period_objective_met", month) is None
    assert reg.get_sample_value("slo_error_budget_exhaustion_timestamp_seconds", KEY) is None
    assert reg.get_sample_value("slo_excluded_seconds", month) == 7200.0
    assert b"NaN" not in generate_latest(reg)


def test_without_figures_only_the_window_values_are_exported() -> None:
    """A status whose period figures failed keeps its window values and nothing more."""
    reg = registry(calendar_status(None))
    assert reg.get_sample_value("slo_sli_ratio", {**KEY, "window": "month"}) is not None
    assert reg.get_sample_value("slo_excluded_seconds", {**KEY, "window": "month"}) is None
    assert reg.get_sample_value("slo_coverage_ratio", {**KEY, "window": "month"}) is None


def test_sla_objective_and_projected_credit() -> None:
    """99.9 % commits 0.999; a projected 10 % credit exports 0.1; slo_info says sla."""
    outcome = SLAOutcome(objective=Decimal("99.9"), label="2023-11", start=NOV[0], end=NOV[1],
                         achieved_percent=Decimal("99.5"), met=False,
                         credit_percent=Decimal("10"))
    reg = registry(calendar_status(figures(sla=outcome), sla=MONTHLY))
    assert reg.get_sample_value("slo_sla_objective_ratio", KEY) == pytest.approx(0.999)
    assert reg.get_sample_value("slo_sla_credit_ratio", KEY) == pytest.approx(0.1)
    assert reg.get_sample_value(
        "slo_info", {**KEY, "sli_kind": "ratio", "commitment": "sla"}) == 1.0


def test_sla_credit_is_absent_while_nothing_was_measured() -> None:
    """An SLA whose period has no measurement yet has an objective but no credit sample."""
    outcome = SLAOutcome(objective=Decimal("99.9"), label="2023-11", start=NOV[0], end=NOV[1],
                         achieved_percent=None, met=None, credit_percent=None)
    reg = registry(calendar_status(figures(sla=outcome), sla=MONTHLY))
    assert reg.get_sample_value("slo_sla_objective_ratio", KEY) == pytest.approx(0.999)
    assert reg.get_sample_value("slo_sla_credit_ratio", KEY) is None


def test_no_sla_means_no_sla_series_and_commitment_slo() -> None:
    """An SLO without an SLA exports neither SLA gauge and says commitment="slo"."""
    reg = registry(calendar_status(figures()))
    assert reg.get_sample_value("slo_sla_objective_ratio", KEY) is None
    assert reg.get_sample_value("slo_sla_credit_ratio", KEY) is None
    assert reg.get_sample_value(
        "slo_info", {**KEY, "sli_kind": "ratio", "commitment": "slo"}) == 1.0


def test_promtool_check_metrics_passes_with_every_new_series() -> None:
    """`promtool check metrics` accepts an exposition holding every new metric."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    outcome = SLAOutcome(objective=Decimal("99.9"), label="2023-11", start=NOV[0], end=NOV[1],
                         achieved_percent=Decimal("99.5"), met=False,
                         credit_percent=Decimal("10"))
    reg = registry(calendar_status(figures(sla=outcome), sla=MONTHLY))
    text = generate_latest(reg)
    for name in (b"slo_period_start_timestamp_seconds", b"slo_coverage_ratio",
                 b"slo_sla_credit_ratio", b"slo_error_budget_exhaustion_timestamp_seconds"):
        assert name in text
    out = subprocess.run([promtool, "check", "metrics"], input=text,
                         capture_output=True, check=False, timeout=30)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
    assert out.stdout.decode().strip() == "", out.stdout.decode()


def test_a_composite_says_so_on_slo_info() -> None:
    """A composite SLO is exported like any other, with sli_kind="composite"."""
    slo = dataclasses.replace(ratio_slo(), sli=CompositeSLI(
        mode="weighted", components=(CompositeComponent(SLOId("pay", "api"), 2.0),)))
    reg = registry(status(slo, {3600.0: (9.0, 10.0)}, at=AT))
    assert reg.get_sample_value(
        "slo_info", {**KEY, "sli_kind": "composite", "commitment": "slo"}) == 1.0
    assert reg.get_sample_value("slo_sli_ratio", {**KEY, "window": "1h"}) == pytest.approx(0.9)
