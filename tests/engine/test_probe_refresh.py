"""The per-second probe refresh recomputes a probe SLO only when its values may have moved.

The engine's config (``CONFIG`` with a 5-minute evaluation interval, so period
figures stay young through each test) has web/probe probing every 10 s with a
1 s timeout: it is late once its last result is more than 2 * 10 + 1 = 21 s old.
``NOW`` is the start of a 1-minute bucket. The recorder is played by two dicts:
the last stored result's time and the last write fault per SLO.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from slo_exporter.engine import Engine
from slo_exporter.model import (
    SLO,
    Alerting,
    AlertSettings,
    AlertWindow,
    CompositeComponent,
    CompositeSLI,
    Config,
    RollingPeriod,
    Service,
    SLOId,
)
from slo_exporter.snapshot import SLOStatus, Snapshot
from slo_exporter.store import EventStore
from tests.engine.support import NOW, PROBE, ScriptedSource, probe_alerting

JOURNEY = "shop/journey"


class Probes:
    """The engine's clock and the recorder's view of web/probe."""

    def __init__(self) -> None:
        self.now = NOW
        self.seen: dict[str, float] = {PROBE: NOW - 1}
        self.faults: dict[str, str] = {}


def _config(alerting: Alerting | None = None) -> Config:
    """CONFIG (web/probe on ``alerting``) with shop/journey built on web/probe alone."""
    config = probe_alerting(alerting or Alerting())
    journey = SLO(service="shop", name="journey", objective=0.9, period=RollingPeriod(86400.0),
                  sli=CompositeSLI("all_good", (CompositeComponent(SLOId.parse(PROBE)),)))
    return dataclasses.replace(config, evaluation_interval=300.0,
                               services=(*config.services, Service("shop", (journey,))))


def _engine(store: EventStore, probes: Probes, config: Config) -> Engine:
    return Engine(config, store, ScriptedSource(), clock=lambda: probes.now,
                  probe_last_seen=probes.seen.get, probe_fault=probes.faults.get)


@pytest.fixture
def probes() -> Probes:
    return Probes()


@pytest.fixture
def engine(store: EventStore, probes: Probes) -> Iterator[Engine]:
    store.record(PROBE, NOW - 240, good=False)  # in the 5m window until the bucket at NOW ends
    store.record(PROBE, NOW - 1, good=True)
    eng = _engine(store, probes, _config())
    eng.evaluate()
    yield eng
    eng.close()


def _status(snap: Snapshot, key: str = PROBE) -> SLOStatus:
    return next(s for s in snap.slos if s.slo.key == key)


def test_an_idle_probe_slo_keeps_its_status(engine: Engine, probes: Probes) -> None:
    """No result, no fault, the same bucket: the status (and its composite's) is kept as is."""
    before = engine.snapshot
    probes.now = NOW + 20
    after = engine.refresh_probes()
    assert _status(after) is _status(before)
    assert _status(after, JOURNEY) is _status(before, JOURNEY)
    assert after is before  # nothing changed: scrapes keep their cached text


def test_a_result_stored_since_the_status_is_recomputed(
    engine: Engine, probes: Probes, store: EventStore,
) -> None:
    """A new stored result, even one taken before the status's instant (a probe that
    started before it and finished after), is counted at the next refresh; the
    composite built on the probe follows.

    5m window: the bad result at NOW - 240 and the good one at NOW - 1, then a
    bad one taken at NOW + 2 but stored after the status of NOW + 3: 3 events, 1 good.
    """
    probes.now = NOW + 3
    engine.refresh_probes()  # nothing new yet
    first = _status(engine.snapshot)
    store.record(PROBE, NOW + 2, good=False)
    probes.seen[PROBE] = NOW + 2
    probes.now = NOW + 4
    second = _status(engine.refresh_probes())
    assert second is not first
    w5m = second.window(300.0)
    assert w5m is not None
    assert (w5m.good, w5m.total) == (1.0, 3.0)
    assert _status(engine.snapshot, JOURNEY).evaluated_at == NOW + 4


def test_a_window_end_passing_a_bucket_edge_recomputes(engine: Engine, probes: Probes) -> None:
    """At NOW + 59 the status stays; at NOW + 60 the 5m window ends a bucket later and
    the bad result of NOW - 240 leaves it: 2 events, then 1 (a result at NOW + 50 keeps
    the probe from being late)."""
    probes.seen[PROBE] = NOW + 50
    probes.now = NOW + 50
    kept = _status(engine.refresh_probes())  # the new result's time is read
    w5m = kept.window(300.0)
    assert w5m is not None
    assert w5m.total == 2.0
    probes.now = NOW + 59
    assert _status(engine.refresh_probes()) is kept
    probes.now = NOW + 60
    moved = _status(engine.refresh_probes())
    w5m = moved.window(300.0)
    assert w5m is not None
    assert (moved.evaluated_at, w5m.total) == (NOW + 60, 1.0)


def test_probes_becoming_late_turn_the_slo_down_without_a_result(
    engine: Engine, probes: Probes,
) -> None:
    """Last result at NOW - 1: still up at NOW + 20 (21 s old), down at NOW + 21."""
    probes.now = NOW + 20
    assert _status(engine.refresh_probes()).up
    probes.now = NOW + 21
    late = _status(engine.refresh_probes())
    assert (late.up, late.error) == (False, "probes are late")


def test_a_write_fault_and_its_recovery_are_shown_at_once(engine: Engine, probes: Probes) -> None:
    """A failed write makes the SLO down at the next refresh; the next good write, up."""
    probes.faults[PROBE] = "store write failed: disk full"
    probes.now = NOW + 1
    down = _status(engine.refresh_probes())
    assert (down.up, down.error) == (False, "store write failed: disk full")
    del probes.faults[PROBE]
    probes.now = NOW + 2
    assert _status(engine.refresh_probes()).up


def test_an_alert_hold_running_out_fires_without_a_result(
    store: EventStore, probes: Probes,
) -> None:
    """Every result fails (burn rate 10 > 2 on 2m and 1m): the page holds from NOW and,
    with a 30 s hold, fires at the refresh of NOW + 30, not before, with nothing new
    stored and within one bucket."""
    page = AlertWindow("page", 120.0, 60.0, factor=2.0, hold=30.0)
    alerting = Alerting(windows=(page,), ticket=AlertSettings(disabled=True))
    for i in range(12):
        store.record(PROBE, NOW - 110 + 10 * i, good=False)
    probes.seen[PROBE] = NOW
    eng = _engine(store, probes, _config(alerting))
    try:
        (held,) = _status(eng.evaluate()).alerts
        assert (held.since, held.firing) == (NOW, False)
        probes.now = NOW + 29
        (still,) = _status(eng.refresh_probes()).alerts
        assert not still.firing
        probes.now = NOW + 30
        (fired,) = _status(eng.refresh_probes()).alerts
        assert fired.firing
    finally:
        eng.close()


def test_period_figures_older_than_an_evaluation_interval_are_recomputed(
    store: EventStore, probes: Probes,
) -> None:
    """With a 10 s evaluation interval, the figures of NOW are young at NOW + 9 (the status
    is kept) and recomputed at NOW + 10."""
    probes.seen[PROBE] = NOW
    eng = _engine(store, probes, dataclasses.replace(_config(), evaluation_interval=10.0))
    try:
        first = _status(eng.evaluate())
        probes.now = NOW + 9
        assert _status(eng.refresh_probes()) is first
        probes.now = NOW + 10
        figures = _status(eng.refresh_probes()).period
        assert figures is not None
        assert figures.at == NOW + 10
    finally:
        eng.close()
