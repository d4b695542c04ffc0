"""Service-level management in the engine: composites evaluated after their components
in the same cycle, maintenance time left out of the windows (no page through a covered
outage), and the current period's figures on every status, their failure isolated."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.model import (
    SLO,
    Budgeting,
    CalendarPeriod,
    CompositeComponent,
    CompositeSLI,
    Config,
    MaintenanceWindow,
    RollingPeriod,
    Service,
    SLOId,
    Timeslices,
)
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.snapshot import SLOStatus, Snapshot
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW, ScriptedSource

PROBE = "web/probe"
API = "api/availability"
JOURNEY = "shop/journey"


def with_slos(config: Config, *extra: Service, maintenance: tuple[MaintenanceWindow, ...] = (),
              **probe_changes: object) -> Config:
    """The shared config plus ``extra`` services, its probe SLO changed by ``probe_changes``."""
    def change(slo: SLO) -> SLO:
        return dataclasses.replace(slo, **probe_changes) if slo.key == PROBE else slo  # type: ignore[arg-type]

    services = tuple(dataclasses.replace(svc, slos=tuple(change(s) for s in svc.slos))
                     for svc in config.services)
    return dataclasses.replace(config, services=(*services, *extra), maintenance=maintenance)


def second_probe(config: Config) -> Service:
    """Another probe SLO like web/probe, as service `vendor`."""
    probe = next(s for s in config.slos if s.key == PROBE)
    return Service(name="vendor", slos=(dataclasses.replace(probe, service="vendor"),))


def journey(*components: str, mode: str = "all_good") -> Service:
    """A composite shop/journey over ``components`` with objective 90 % over 1 day."""
    parts = tuple(CompositeComponent(SLOId.parse(c)) for c in components)
    slo = SLO(service="shop", name="journey", objective=0.9, period=RollingPeriod(86400.0),
              sli=CompositeSLI(mode=mode, components=parts))  # type: ignore[arg-type]
    return Service(name="shop", slos=(slo,))


def by_key(snap: Snapshot) -> dict[str, SLOStatus]:
    return {s.slo.key: s for s in snap.slos}


def engine(store: EventStore, config: Config, clock: list[float],
           source: object | None = None, errors: list[str] | None = None) -> Engine:
    return Engine(config, store, source or ScriptedSource(),  # type: ignore[arg-type]
                  clock=lambda: clock[0], probe_last_seen=lambda key: clock[0],
                  on_error=(errors if errors is not None else []).append)


def probes(store: EventStore, key: str, start: float, results: str) -> None:
    """One probe a minute from ``start``, each measuring its minute: 'g' good, 'b' bad."""
    for i, r in enumerate(results):
        store.record(key, start + 60 * i, good=r == "g", span=60.0)


# ------------------------------------------------------------------ composites


def test_a_composite_is_evaluated_in_the_same_cycle_as_its_components(
    store: EventStore,
) -> None:
    """One cycle gives the composite its values from the components' data of that cycle.

    all_good over ten minutes: web/probe all good, vendor/probe bad in minute 5,
    so the composite has 9 good buckets of 10: SLI 0.9 over 1h.
    """
    base = parse_config(CONFIG, "t.yaml")
    config = with_slos(base, second_probe(base), journey(PROBE, "vendor/probe"))
    probes(store, PROBE, NOW - 600, "gggggggggg")
    probes(store, "vendor/probe", NOW - 600, "ggggbggggg")
    snap = engine(store, config, [NOW]).evaluate()
    statuses = by_key(snap)
    composite = statuses[JOURNEY]
    assert composite.up
    assert composite.evaluated_at == statuses[PROBE].evaluated_at == NOW
    hour = composite.window(3600.0)
    assert hour is not None
    assert (hour.good, hour.total) == (9.0, 10.0)
    assert composite.period is not None
    assert composite.period.achieved == pytest.approx(0.9)


def test_a_probe_refresh_refreshes_composites_built_on_probes(store: EventStore) -> None:
    """A bad probe after the cycle shows in the composite at the next probe refresh."""
    base = parse_config(CONFIG, "t.yaml")
    config = with_slos(base, second_probe(base), journey(PROBE, "vendor/probe"))
    probes(store, PROBE, NOW - 600, "gggggggggg")
    probes(store, "vendor/probe", NOW - 600, "gggggggggg")
    clock = [NOW]
    eng = engine(store, config, clock)
    eng.evaluate()
    probes(store, PROBE, NOW + 60, "b")
    probes(store, "vendor/probe", NOW + 60, "g")  # measured by both: the composite judges it
    clock[0] = NOW + 90
    composite = by_key(eng.refresh_probes())[JOURNEY]
    assert composite.evaluated_at == NOW + 90
    hour = composite.window(3600.0)
    assert hour is not None
    assert (hour.good, hour.total) == (10.0, 11.0)


def test_a_composite_is_never_read_from_prometheus(store: EventStore) -> None:
    """Only the Prometheus component's queries are read; the composite is up with it."""
    base = parse_config(CONFIG, "t.yaml")
    config = with_slos(base, journey(API, PROBE))
    source = ScriptedSource()
    snap = engine(store, config, [NOW], source).evaluate()
    assert {r[0] for r in source.reads} <= {'http_requests_total{code=~"5.."}',
                                            "http_requests_total"}
    composite = by_key(snap)[JOURNEY]
    assert composite.up
    assert composite.error is None


def test_a_composite_is_down_while_a_component_is(store: EventStore) -> None:
    """A component whose source failed makes the composite down, naming the component."""
    base = parse_config(CONFIG, "t.yaml")
    config = with_slos(base, journey(API, PROBE))
    client = PrometheusClient(config.prometheus, sleep=lambda s: None)
    composite = by_key(engine(store, config, [NOW], client).evaluate())[JOURNEY]
    assert not composite.up
    assert composite.error == "component api/availability is down"


# ----------------------------------------------------------------- maintenance


def outage_window(start: float, end: float) -> MaintenanceWindow:
    return MaintenanceWindow(
        name="patching", start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(end, UTC), services=("web",), reason="OS patching")


@pytest.mark.parametrize("covered", [False, True], ids=["no window: pages", "window: quiet"])
def test_maintenance_over_an_outage_keeps_the_slo_met_and_the_page_quiet(
    store: EventStore, covered: bool
) -> None:
    """An hour of failed probes pages a 90 % SLO unless a maintenance window covers it.

    Without the window the last hour is 60 bad of 60: burn 1 / 0.1 = 10 over 1h
    and 5m, above the 1d SLO's factor 0.02 * 24 = 0.48. With it those buckets
    drop out: the hour has no events (no burn rate), the day holds only the
    good hour before, budget 1, and the period excludes 3600 s.
    """
    maintenance = (outage_window(NOW - 3600, NOW + 3600),) if covered else ()
    config = with_slos(parse_config(CONFIG, "t.yaml"), maintenance=maintenance)
    probes(store, PROBE, NOW - 7200, "g" * 60 + "b" * 60)
    probe = by_key(engine(store, config, [NOW]).evaluate())[PROBE]
    page = probe.alerts[0]
    assert page.firing is not covered
    assert probe.period is not None
    if covered:
        assert page.long_burn_rate is None
        assert probe.budget_remaining == pytest.approx(1.0)
        assert probe.period.met is True
        assert probe.period.excluded_seconds == pytest.approx(3600.0)
    else:
        assert page.long_burn_rate == pytest.approx(10.0)
        assert probe.period.met is False


def test_maintenance_for_another_service_changes_nothing(store: EventStore) -> None:
    """A window scoped to service api leaves web/probe's windows and alerts as they are."""
    window = dataclasses.replace(outage_window(NOW - 3600, NOW + 3600), services=("api",))
    config = with_slos(parse_config(CONFIG, "t.yaml"), maintenance=(window,))
    probes(store, PROBE, NOW - 7200, "g" * 60 + "b" * 60)
    probe = by_key(engine(store, config, [NOW]).evaluate())[PROBE]
    assert probe.alerts[0].firing
    assert probe.period is not None
    assert probe.period.excluded_seconds == 0.0


def test_a_partly_covered_bucket_is_excluded_whole(store: EventStore) -> None:
    """A window from 30 s into a minute excludes that whole minute's events, as slices do."""
    config = with_slos(parse_config(CONFIG, "t.yaml"),
                       maintenance=(outage_window(NOW - 570, NOW - 500),))
    probes(store, PROBE, NOW - 600, "gbbgg")  # minutes -600..-360; -600 to -480 bad
    probe = by_key(engine(store, config, [NOW]).evaluate())[PROBE]
    hour = probe.window(3600.0)
    assert hour is not None
    # the window [-570, -500) touches the buckets at -600 and -540: both left out
    assert (hour.good, hour.total) == (2.0, 3.0)


# --------------------------------------------------------------- period figures


def test_every_status_carries_its_current_period(store: EventStore) -> None:
    """Prometheus, probe and composite statuses all have period figures for the 1d window."""
    base = parse_config(CONFIG, "t.yaml")
    config = with_slos(base, journey(PROBE))
    probes(store, PROBE, NOW - 600, "gggggggggb")
    snap = engine(store, config, [NOW]).evaluate()
    for status in snap.slos:
        assert status.period is not None, status.slo.key
        assert status.period.label == "1d"
        assert status.period.at == status.evaluated_at
    assert by_key(snap)[PROBE].period.achieved == pytest.approx(0.9)  # type: ignore[union-attr]


def test_a_failure_of_the_period_figures_is_isolated(store: EventStore) -> None:
    """Figures that cannot be computed leave the window values, log period_failed once and count.

    A 90 s slice on 60 s buckets cannot be cut (the config rejects it; the engine
    must survive it anyway).
    """
    bad = Budgeting(Timeslices(slice=90.0, target=Decimal("0.95")))
    config = with_slos(parse_config(CONFIG, "t.yaml"), budgeting=bad)
    probes(store, PROBE, NOW - 600, "gggggggggb")
    errors: list[str] = []
    clock = [NOW]
    eng = engine(store, config, clock, errors=errors)
    with capture_logs() as logs:
        probe = by_key(eng.evaluate())[PROBE]
        clock[0] = NOW + 1
        eng.evaluate()
    assert probe.up
    assert probe.period is None
    hour = probe.window(3600.0)
    assert hour is not None
    assert hour.total == 10.0
    failed = [e for e in logs if e["event"] == "period_failed"]
    assert len(failed) == 1
    assert failed[0]["slo"] == "probe"
    assert "internal" in errors


def test_probe_refreshes_reuse_young_period_figures(store: EventStore) -> None:
    """Within one evaluation interval a probe refresh keeps the figures; after it, new ones."""
    config = parse_config(CONFIG, "t.yaml")  # evaluation_interval 10s
    probes(store, PROBE, NOW - 600, "gggggggggg")
    clock = [NOW]
    eng = engine(store, config, clock)
    first = by_key(eng.evaluate())[PROBE].period
    clock[0] = NOW + 5
    assert by_key(eng.refresh_probes())[PROBE].period is first
    clock[0] = NOW + 11
    later = by_key(eng.refresh_probes())[PROBE].period
    assert later is not None
    assert later.at == NOW + 11


def test_calendar_budget_matches_the_period_figures(store: EventStore) -> None:
    """The exported budget of a calendar SLO is the figures' projected budget, maintenance
    included, so /metrics and the report agree."""
    config = with_slos(parse_config(CONFIG, "t.yaml"),
                       maintenance=(outage_window(NOW - 3000, NOW - 2400),),
                       period=CalendarPeriod("month", "Europe/Berlin"))
    probes(store, PROBE, NOW - 7200, "gb" * 60)
    probe = by_key(engine(store, config, [NOW]).evaluate())[PROBE]
    assert probe.period is not None
    assert probe.budget_remaining == pytest.approx(probe.period.budget_remaining)


def test_hours_a_recovered_component_fills_in_show_in_the_composite(store: EventStore) -> None:
    """Once a component was down, the composite derives its closed hours again.

    The hour before NOW is closed (and kept) from NOW+120 on. vendor/probe is
    late at NOW+150; events then land in that closed hour (as a backfill would);
    at NOW+160, vendor up again, the composite counts them: 10 + 1 buckets.
    """
    base = parse_config(CONFIG, "t.yaml")
    config = with_slos(base, second_probe(base), journey(PROBE, "vendor/probe"))
    probes(store, PROBE, NOW - 600, "g" * 10)
    probes(store, "vendor/probe", NOW - 600, "g" * 10)
    clock = [NOW + 120]
    seen = {PROBE: NOW + 120, "vendor/probe": NOW + 120}
    eng = Engine(config, store, ScriptedSource(), clock=lambda: clock[0],
                 probe_last_seen=seen.get)
    day = by_key(eng.evaluate())[JOURNEY].window(86400.0)
    assert day is not None
    assert day.total == 10.0
    clock[0] = seen[PROBE] = NOW + 150  # vendor last seen 30 s ago: late (over 2 * 10 s + 1 s)
    assert not by_key(eng.evaluate())[JOURNEY].up
    probes(store, PROBE, NOW - 1200, "b")
    probes(store, "vendor/probe", NOW - 1200, "g")
    clock[0] = seen[PROBE] = seen["vendor/probe"] = NOW + 160
    composite = by_key(eng.evaluate())[JOURNEY]
    assert composite.up
    day = composite.window(86400.0)
    assert day is not None
    assert (day.good, day.total) == (10.0, 11.0)


def test_a_composite_leaves_nothing_in_the_store(store: EventStore) -> None:
    """Starting an engine with a composite records no fingerprint or events under its key."""
    base = parse_config(CONFIG, "t.yaml")
    eng = engine(store, with_slos(base, journey(PROBE)), [NOW])
    eng.evaluate()
    assert JOURNEY not in store.slo_keys()
    assert PROBE in store.slo_keys()
