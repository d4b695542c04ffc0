"""Calendar SLOs in the engine: the period to date resets at the boundary in the
calendar's zone, alert factors follow the month's length, and the exported period
window is named by the period."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.history import budget_history
from slo_exporter.model import SLO, CalendarPeriod, Config
from slo_exporter.snapshot import SLOStatus, Snapshot
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, ScriptedSource

PROBE = "web/probe"
BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
#: 2026-04-01 00:00 in Berlin (CEST, UTC+2) is 2026-03-31 22:00 UTC
APRIL_BERLIN = datetime(2026, 4, 1, tzinfo=BERLIN).timestamp()


def calendar_config(period: CalendarPeriod, objective: float = 0.9) -> Config:
    """The shared config with its probe SLO turned into a calendar SLO."""
    config = parse_config(CONFIG, "t.yaml")

    def change(slo: SLO) -> SLO:
        if slo.key != PROBE:
            return slo
        return dataclasses.replace(slo, period=period, objective=objective)

    services = tuple(dataclasses.replace(svc, slos=tuple(change(s) for s in svc.slos))
                     for svc in config.services)
    return dataclasses.replace(config, services=services)


def probe_status(store: EventStore, config: Config, at: float) -> SLOStatus:
    engine = Engine(config, store, ScriptedSource(), clock=lambda: at,
                    probe_last_seen=lambda key: at)
    snap = engine.evaluate()
    engine.close()
    return next(s for s in snap.slos if s.slo.key == PROBE)


def test_budget_resets_at_a_berlin_month_boundary(store: EventStore) -> None:
    """March's bad minutes count until Berlin midnight and not after it.

    March 2026 in Berlin runs 2026-02-28T23:00Z to 2026-03-31T22:00Z: 31 days less
    the hour DST takes, 2,674,800 s. 100 probes in its last 100 minutes, 50 bad:
    burn rate 0.5 / 0.1 = 5. At 23:59:30 local, 2,674,770 s have elapsed, so
    budget = 1 - 5 * 2674770 / 2674800. In April, 30 good probes: budget 1.
    """
    config = calendar_config(CalendarPeriod("month", "Europe/Berlin"))
    for i in range(100):
        store.record(PROBE, APRIL_BERLIN - 6000 + 60 * i, good=i % 2 == 0)
    for i in range(30):
        store.record(PROBE, APRIL_BERLIN + 60 * i, good=True)

    march = probe_status(store, config, APRIL_BERLIN - 30)
    period = march.window(config.slos[1].period.longest)
    assert period is not None
    assert (period.good, period.total) == (50.0, 100.0)
    assert march.budget_remaining == pytest.approx(1 - 5 * 2674770 / 2674800)

    april = probe_status(store, config, APRIL_BERLIN + 1800 + 30)
    period = april.window(config.slos[1].period.longest)
    assert period is not None
    assert (period.good, period.total) == (30.0, 30.0)
    assert april.budget_remaining == pytest.approx(1.0)
    # Rolling windows still reach back into March: the 1h window ending with
    # the bucket at 00:30:30 starts at 23:31, holding March's last 29 probes.
    hour = april.window(3600.0)
    assert hour is not None
    assert hour.total == 29.0 + 30.0


@pytest.mark.parametrize(
    ("month", "factor"),
    [((2026, 1), 0.02 * 31 * 86400 / 3600), ((2026, 2), 0.02 * 28 * 86400 / 3600)],
    ids=["31-day January: 14.88", "28-day February: 13.44"],
)
def test_page_factor_follows_the_months_length(
    store: EventStore, month: tuple[int, int], factor: float
) -> None:
    """The 1h/5m factor is 0.02 * month / 1h: 14.88 in January, 13.44 in February (UTC)."""
    config = calendar_config(CalendarPeriod("month", "UTC"), objective=0.99)
    at = datetime(*month, 15, tzinfo=UTC).timestamp()
    status = probe_status(store, config, at)
    page = status.alerts[0]
    assert (page.long_window, page.short_window) == (3600.0, 300.0)
    assert page.factor == pytest.approx(factor)


@pytest.mark.parametrize(("month", "fires"), [((2026, 1), False), ((2026, 2), True)])
def test_a_burn_of_14_pages_in_february_only(
    store: EventStore, month: tuple[int, int], fires: bool
) -> None:
    """14 bad of every 100 events on 99 % burns 14: over 13.44 (February), under 14.88."""
    config = calendar_config(CalendarPeriod("month", "UTC"), objective=0.99)
    at = datetime(*month, 15, tzinfo=UTC).timestamp()
    store.commit(PROBE, {at - 7200 + 60 * i: (86.0, 100.0) for i in range(121)})
    status = probe_status(store, config, at)
    page = status.alerts[0]
    assert page.long_burn_rate == pytest.approx(14.0)
    assert page.firing is fires


def test_period_window_is_exported_as_month_with_the_months_length(store: EventStore) -> None:
    """slo_sli_ratio{window="month"} is to date; slo_period_seconds is March's 2,674,800 s."""
    config = calendar_config(CalendarPeriod("month", "Europe/Berlin"))
    for i in range(10):
        store.record(PROBE, APRIL_BERLIN - 6000 + 60 * i, good=i < 9)
    status = probe_status(store, config, APRIL_BERLIN - 30)
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: Snapshot(slos=(status,), complete=True)))
    key = {"service": "web", "slo": "probe"}
    assert reg.get_sample_value("slo_sli_ratio", {**key, "window": "month"}) == pytest.approx(0.9)
    assert reg.get_sample_value("slo_sli_ratio", {**key, "window": "32d"}) is None
    assert reg.get_sample_value("slo_period_seconds", key) == 2674800.0
    assert reg.get_sample_value("slo_period_start_timestamp_seconds", key) == (
        datetime(2026, 3, 1, tzinfo=BERLIN).timestamp())
    assert reg.get_sample_value("slo_period_end_timestamp_seconds", key) == APRIL_BERLIN


def test_history_covers_the_current_period_only(store: EventStore) -> None:
    """After the boundary, no budget-history point lies in the previous month."""
    config = calendar_config(CalendarPeriod("month", "Europe/Berlin"))
    for i in range(200):
        store.record(PROBE, APRIL_BERLIN - 6000 + 60 * i, good=i < 100)
    march = probe_status(store, config, APRIL_BERLIN - 30)
    assert march.budget_history.points
    april = probe_status(store, config, APRIL_BERLIN + 6000)
    assert april.budget_history.points
    assert all(t > APRIL_BERLIN for t, _ in april.budget_history.points)


def test_plain_history_of_a_calendar_slo_projects_each_point(store: EventStore) -> None:
    """Without the engine's budget, a calendar history point at t is the projected budget
    of the period to t: one bad probe of two in the first minute of May (UTC), 90 %:
    burn 5, so at t the spent part is 5 * (t - May 1) / 31 d. The grid step divides the
    whole month (2,678,400 s / 47, in whole minutes: 56,940 s)."""
    may = datetime(2026, 5, 1, tzinfo=UTC).timestamp()
    slo = calendar_config(CalendarPeriod("month", "UTC")).slos[1]
    store.record(PROBE, may, good=True)
    store.record(PROBE, may + 1, good=False)
    history = budget_history(store, slo, may + 2 * 86400, None)
    assert history.step == 56940.0
    assert len(history.past) == 3  # grid points in May's first two days
    for t, remaining in history.past:
        assert t > may
        assert remaining == pytest.approx(1 - 5 * (t - may) / (31 * 86400))
