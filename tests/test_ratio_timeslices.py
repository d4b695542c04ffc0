"""Ratio timeslices (OpenSLO RatioTimeslices) beside Timeslices and Occurrences: one known
hour of good and bad minutes, read through the SQLite store and the compliance functions,
gives the numbers worked out by hand; the native ``budgeting: {ratio_timeslices: ...}``
key builds it and rejects what cannot mean anything."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import structlog

from slo_exporter.compliance import period_figures
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import ConfigError
from slo_exporter.figures import PeriodFigures
from slo_exporter.model import (
    SLO,
    Budgeting,
    MaintenanceWindow,
    RatioSLI,
    RatioTimeslices,
    RollingPeriod,
    Selector,
    Timeslices,
)
from slo_exporter.report import Request, build_report, render
from slo_exporter.store import SQLiteStore
from slo_exporter.timeslices import SliceRatios, slice_ratios
from tests.engine.support import CONFIG, NOW, ScriptedSource
from tests.report import scenario

KEY = "checkout/availability"
#: Monday 2026-03-02T00:00Z
T = 1_767_225_600 + 60 * 86_400
MINUTE = 60.0


def make_slo(budgeting: Budgeting, objective: float = 0.9) -> SLO:
    return SLO(
        service="checkout",
        name="availability",
        objective=objective,
        period=RollingPeriod(3600.0),
        sli=RatioSLI(total=Selector("requests_total"), good=Selector("requests_ok_total")),
        budgeting=budgeting,
    )


@pytest.fixture
def hour(tmp_path: Path) -> Iterator[SQLiteStore]:
    """One measured hour from T, 60 one-minute buckets, in twelve 5-minute slices:

    - slice 0 (minutes 0-4): 10 of 10 good each minute
    - slice 1 (5-9): minute 5 has 0 of 10 good, the rest 10 of 10: 40 / 50
    - slice 2 (10-14): minute 10 has 5 of 10 good, the rest 10 of 10: 45 / 50
    - slice 3 (15-19): no events at all
    - slice 4 (20-24): only minute 20, with 1 of 2 good: 1 / 2
    - slices 5-11 (25-59): 10 of 10 good each minute
    """
    deltas: dict[float, tuple[float, float]] = {}
    for minute in range(60):
        if 15 <= minute < 25 and minute != 20:
            continue
        good = {5: 0.0, 10: 5.0, 20: 1.0}.get(minute, 10.0)
        deltas[T + minute * MINUTE] = (good, 2.0 if minute == 20 else 10.0)
    with SQLiteStore(tmp_path, MINUTE) as store:
        store.commit(KEY, deltas, measured=(T, T + 3600.0))
        yield store


def _figures(
    store: SQLiteStore, budgeting: Budgeting, maintenance: tuple[MaintenanceWindow, ...] = ()
) -> PeriodFigures:
    return period_figures(store, make_slo(budgeting), start=T, end=T + 3600.0, at=T + 3600.0,
                          label="hour", time_zone="UTC", maintenance=maintenance)


def test_the_known_hour_by_timeslices_ratio_timeslices_and_occurrences(
        hour: SQLiteStore) -> None:
    """Objective 0.9, 5-minute slices (12 in the hour), timeslice target 0.9:

    Timeslices: slice ratios 1, 0.8, 0.9, (empty), 0.5, 1 x 7 -> bad are 0.8
    and 0.5 (0.9 is exactly the target: good), good 1 + 1 + 7 = 9, empty 1.
    achieved = 9 / 11 = 0.818181..; spent = 2 / ((1 - 0.9) * 12) = 2 / 1.2 = 1.666..; missed.

    RatioTimeslices: the 11 slices with events: 8 x 1 + 0.8 + 0.9 + 0.5 = 10.2.
    achieved = 10.2 / 11 = 0.927272..; shortfalls 0.2 + 0.1 + 0.5 = 0.8,
    spent = 0.8 / ((1 - 0.9) * 12) = 0.8 / 1.2 = 0.666..; met.

    Occurrences: 10 slices x 50 + 2 = 502 events, bad 10 + 5 + 1 = 16:
    achieved = 486 / 502 = 0.968127..; spent = 16 / (0.1 * 502) = 0.318725...
    """
    sliced = _figures(hour, Budgeting(Timeslices(300.0, Decimal("0.9"))))
    ratio = _figures(hour, Budgeting(ratio_timeslices=RatioTimeslices(300.0)))
    events = _figures(hour, Budgeting())
    assert sliced.budgeting == "timeslices"
    assert sliced.slices is not None
    assert (sliced.slices.good, sliced.slices.bad, sliced.slices.empty) == (9, 2, 1)
    assert sliced.achieved == pytest.approx(9 / 11)
    assert sliced.budget_spent_ratio == pytest.approx(2 / 1.2)
    assert sliced.met is False

    assert ratio.budgeting == "ratio_timeslices"
    assert ratio.achieved == pytest.approx(10.2 / 11)
    assert ratio.budget_spent_ratio == pytest.approx(0.8 / 1.2)
    assert ratio.met is True
    assert ratio.evidence is None
    assert ratio.worst_day is not None
    assert ratio.worst_day.achieved == pytest.approx(10.2 / 11)
    assert (ratio.good_events, ratio.bad_events) == (486.0, 16.0)

    assert events.achieved == pytest.approx(486 / 502)
    assert events.budget_spent_ratio == pytest.approx(16 / (0.1 * 502))


def test_maintenance_and_unmeasured_slices_are_skipped_and_cut_the_budget(
        hour: SQLiteStore, tmp_path: Path) -> None:
    """Maintenance 00:05-00:06 excludes slice 1 (0.8); minutes 45-59 unmeasured drop slices 9-11.

    Judged: slices 0, 2, 4-8 = 1 + 0.9 + 0.5 + 4 x 1 = 6.4 over 7: achieved 0.914285..;
    open slices 12 - 1 = 11, shortfalls 0.1 + 0.5 = 0.6: spent = 0.6 / (0.1 * 11) = 0.5454..
    """
    with SQLiteStore(tmp_path / "partial", MINUTE) as store:
        deltas = {b: (g, t) for b, g, t in hour.buckets(KEY, T, T + 3600.0)}
        store.commit(KEY, deltas, measured=(T, T + 45 * MINUTE))
        window = MaintenanceWindow(
            name="patching", start=datetime.fromtimestamp(T + 300.0, UTC),
            end=datetime.fromtimestamp(T + 360.0, UTC))
        ratio = _figures(store, Budgeting(ratio_timeslices=RatioTimeslices(300.0)), (window,))
    assert ratio.achieved == pytest.approx(6.4 / 7)
    assert ratio.budget_spent_ratio == pytest.approx(0.6 / 1.1)


def test_slice_ratios_skip_empty_slices_and_weigh_each_slice_alike() -> None:
    """Slice [0, 120) holds 1 of 1 good, [120, 240) nothing, [240, 360) 0 of 1000:
    the mean is (1 + 0) / 2 = 0.5, whatever the event counts."""
    found = slice_ratios(
        [(0.0, 1.0, 1.0), (240.0, 0.0, 1000.0)], start=0.0, end=360.0, resolution=60.0,
        slice_seconds=120.0, measured=[(0.0, 360.0)])
    assert found == SliceRatios(ratio_sum=1.0, judged=2, empty=1)
    assert found.mean == 0.5


# ------------------------------------------------------------------ native config

_CONFIG = """\
services:
  - name: checkout
    slos:
      - name: availability
        objective: 99
        window: 1h
        sli: {{ratio: {{good: requests_ok_total, total: requests_total}}}}
        budgeting: {budgeting}
"""


def test_native_ratio_timeslices_key_builds_the_method() -> None:
    """budgeting: {ratio_timeslices: {slice: 5m}} gives RatioTimeslices(300 s)."""
    config = parse_config(_CONFIG.format(budgeting="{ratio_timeslices: {slice: 5m}}"), "t.yaml")
    assert config.slos[0].budgeting == Budgeting(ratio_timeslices=RatioTimeslices(300.0))
    assert config.slos[0].budgeting.method == "ratio_timeslices"


@pytest.mark.parametrize(("budgeting", "problem"), [
    ("{ratio_timeslices: {slice: 5m}, timeslices: {slice: 5m, target: 95}}",
     "t.yaml:8: services[0].slos[0].budgeting.timeslices: give either 'timeslices' or "
     "'ratio_timeslices'"),
    ("{ratio_timeslices: {slice: 5m}, empty_slices: good}",
     "t.yaml:8: services[0].slos[0].budgeting.empty_slices: give either"),
    ("{ratio_timeslices: {slice: 90s}}",
     "t.yaml:8: services[0].slos[0].budgeting.ratio_timeslices.slice:"),
    ("{ratio_timeslices: {slice: 2h}}",
     "t.yaml:8: services[0].slos[0].budgeting.ratio_timeslices.slice: must not be longer than "
     "the window (1h), got 2h"),
    ("{ratio_timeslices: {}}", "t.yaml:8: services[0].slos[0].budgeting.ratio_timeslices:"),
    ("{ratio_timeslices: {slice: 5m, target: 95}}",
     "t.yaml:8: services[0].slos[0].budgeting.ratio_timeslices.target:"),
])
def test_native_ratio_timeslices_mistakes_are_located(budgeting: str, problem: str) -> None:
    """Mixing methods, a slice off the bucket grid or longer than the window, a missing slice
    or a target (a ratio slice has none) are errors at the key."""
    with pytest.raises(ConfigError) as info:
        parse_config(_CONFIG.format(budgeting=budgeting), "t.yaml")
    assert str(info.value.problems[0]).startswith(problem)


def test_the_exported_budget_follows_ratio_timeslices(tmp_path: Path) -> None:
    """A probe SLO (objective 90 %, 1 day) with 10-minute ratio slices, probed each minute for
    two hours, alternately good and bad: each slice is 5 / 10 = 0.5, so the status' budget is
    the period figures' (12 slices short 0.5 each: 6 / (0.1 * 144) = 0.41666.. spent), not the
    event budget (60 bad of 120 over 1 day: 60 / (0.1 * 120) = 5 spent, -4 remaining)."""
    config = parse_config(CONFIG, "t.yaml")
    budgeting = Budgeting(ratio_timeslices=RatioTimeslices(600.0))
    services = tuple(
        dataclasses.replace(svc, slos=tuple(
            dataclasses.replace(s, budgeting=budgeting) if s.key == "web/probe" else s
            for s in svc.slos))
        for svc in config.services)
    config = dataclasses.replace(config, services=services)
    # the window ends with the bucket holding NOW, so its slices start a minute
    # past a 10-minute boundary; the two hours fill the 12 whole slices before NOW
    start = NOW + 60 - 600 - 7200
    with SQLiteStore(tmp_path, MINUTE) as store:
        for i in range(120):
            store.record("web/probe", start + 60 * i, good=i % 2 == 0, span=60.0)
        engine = Engine(config, store, ScriptedSource(),
                        clock=lambda: NOW, probe_last_seen=lambda key: NOW)
        probe = next(s for s in engine.evaluate().slos if s.slo.key == "web/probe")
    assert probe.period is not None
    assert probe.period.achieved == pytest.approx(0.5)
    assert probe.budget_remaining == pytest.approx(probe.period.budget_remaining)
    assert probe.budget_remaining == pytest.approx(1 - 6 / (0.1 * 144))


def test_the_report_names_ratio_timeslices_and_their_figures(tmp_path: Path) -> None:
    """The report's week of checkout/uptime, budgeted by 1-minute ratio timeslices:
    10,080 slices, 120 in maintenance (Thu 02:00-04:00), the rest measured with events;
    ratios 1 except Tue 10:00 (0.95) and Wed 12:00 (0.94): achieved =
    (9,958 + 0.95 + 0.94) / 9,960 = 0.99998895..; every format says how it was budgeted."""
    uptime = dataclasses.replace(
        scenario.UPTIME, budgeting=Budgeting(ratio_timeslices=RatioTimeslices(60.0)))
    writer = scenario.fill(tmp_path)
    try:
        report = build_report(scenario.config(uptime), Request.parse("2026-W10", None, None, None),
                              store=writer, prometheus=None, now=scenario.NOW,
                              log=structlog.get_logger(), days=True)
    finally:
        writer.close()
    [entry] = json.loads(render(report, "json"))["slos"]
    assert entry["budgeting"] == "ratio_timeslices"
    assert entry["achieved"] == pytest.approx((9958 + 0.95 + 0.94) / 9960)
    assert entry["evidence"] is None
    markdown = render(report, "markdown")
    assert "budgeting by ratio timeslices (the mean ratio of 1 min slices)" in markdown
    assert "- Evidence: none: a mean of slice ratios is no count of trials" in markdown
    assert "ratio timeslices (the mean ratio of 1 min slices)" in render(report, "html")
