"""The fast path of Prometheus SLOs (``Engine.catch_up``): new samples re-evaluate an
SLO's windows and alert conditions within seconds, without a full cycle."""

from __future__ import annotations

import dataclasses

import pytest
from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import SourceError
from slo_exporter.model import (
    SLO,
    CompositeComponent,
    CompositeSLI,
    RollingPeriod,
    Service,
    SLOId,
)
from slo_exporter.snapshot import SLOStatus
from slo_exporter.store import EventStore
from tests.engine.support import NOW, Landing, LandingSource, counter_feed, ratio_config

KEY = "api/availability"
# every sample read one by one: the stand-in answers raw reads only (no hour tier)
CONFIG = ratio_config("errors_total", "requests_total", objective="99.9", window="30d",
                      interval="15s").replace("retries: 1}",
                                              "backfill_hourly_after: 30d, retries: 1}")


def _outage_at_now() -> dict[str, dict[str, list[Landing]]]:
    """150 requests per 15 s scrape from NOW - 2 h, all failing after NOW; each sample
    lands 1 s after its timestamp."""
    total = counter_feed(NOW - 7200, NOW + 600, 15, 1.0, lambda ts: 150)
    bad = counter_feed(NOW - 7200, NOW + 600, 15, 1.0, lambda ts: 150 if ts > NOW else 0)
    return {"requests_total": {"a": total}, "errors_total": {"a": bad}}


def _page(status: SLOStatus) -> bool:
    return next(a.firing for a in status.alerts
                if (a.long_window, a.short_window) == (3600.0, 300.0))


def _status(engine: Engine) -> SLOStatus:
    return next(s for s in engine.snapshot.slos if s.slo.key == KEY)


def test_new_samples_fire_the_page_at_the_next_fast_poll_without_a_full_cycle(
    store: EventStore,
) -> None:
    """Total outage from NOW, polled every 5 s after one full cycle at NOW + 0.5.

    Windows end at the bucket end NOW + 120 for any t in [NOW + 60, NOW + 120): the 1h
    window holds the buckets from NOW - 3480. At NOW + 60 the samples up to NOW + 45
    have landed: 236 samples * 150 = 35,400 events, 3 * 150 = 450 bad, burn
    450 / 35,400 / 0.001 = 12.7 < 14.4. The sample at NOW + 60 lands at NOW + 61:
    237 * 150 = 35,550 events, 600 bad, burn 16.9 > 14.4 (5m: 600 / 2,550 / 0.001 =
    235). So the page fires at the poll at NOW + 65, 4 s after that sample landed.
    """
    clock = [NOW + 0.5]
    source = LandingSource(_outage_at_now(), now=clock[0])
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: clock[0])
    try:
        engine.evaluate()
        assert not _page(_status(engine))
        fired_at = None
        t = NOW
        while fired_at is None and t < NOW + 300:
            t += 5
            clock[0] = source.now = t
            engine.catch_up()
            if _page(_status(engine)):
                fired_at = t
        assert fired_at == NOW + 65
        assert _status(engine).evaluated_at == NOW + 65
    finally:
        engine.close()


def test_a_composite_over_the_slo_follows_the_fast_path(store: EventStore) -> None:
    """A composite built on the ratio SLO is recomputed with it on the fast path: both
    describe the poll's instant, not the last full cycle's."""
    base = parse_config(CONFIG, "t.yaml")
    journey = SLO(service="shop", name="journey", objective=0.9,
                  period=RollingPeriod(86400.0),
                  sli=CompositeSLI(mode="all_good",
                                   components=(CompositeComponent(SLOId.parse(KEY)),)))
    config = dataclasses.replace(
        base, services=(*base.services, Service(name="shop", slos=(journey,))))
    clock = [NOW + 0.5]
    source = LandingSource(_outage_at_now(), now=clock[0])
    engine = Engine(config, store, source, clock=lambda: clock[0])
    try:
        engine.evaluate()
        clock[0] = source.now = NOW + 17  # the sample at NOW + 15 landed at NOW + 16
        engine.catch_up()
        statuses = {s.slo.key: s for s in engine.snapshot.slos}
        assert statuses[KEY].evaluated_at == NOW + 17
        assert statuses["shop/journey"].evaluated_at == NOW + 17
    finally:
        engine.close()


def test_the_fast_path_counts_nothing_twice_with_the_full_cycle(store: EventStore) -> None:
    """Fast polls every 5 s and full cycles every 15 s over 5 minutes of outage.

    The last full cycle, at NOW + 317, describes the grid instant NOW + 315; its 1h
    window holds the buckets from NOW + 360 - 3600 = NOW - 3240: the samples
    NOW - 3240 .. NOW + 315, (3555 / 15 + 1) * 150 = 35,700 events, of which the 21
    after NOW are bad, 21 * 150 = 3,150: exactly, nothing twice.
    """
    clock = [NOW + 0.5]
    source = LandingSource(_outage_at_now(), now=clock[0])
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: clock[0])
    try:
        engine.evaluate()
        t = NOW
        while t < NOW + 300:
            t += 5
            clock[0] = source.now = t
            engine.catch_up()
            if t % 15 == 0:
                engine.evaluate()
        clock[0] = source.now = NOW + 317  # the sample at NOW + 315 lands at NOW + 316
        engine.evaluate()
        hour = _status(engine).window(3600.0)
        assert hour is not None
        assert (hour.total, hour.total - hour.good) == (35_700, 3_150)
    finally:
        engine.close()


def test_a_down_slo_is_left_to_the_full_cycle(store: EventStore) -> None:
    """While the full cycle shows an SLO down, the fast path neither reads it nor counts
    or logs an error; once up again, a failed fast read is a debug line, not an error."""
    clock = [NOW + 0.5]
    errors: list[str] = []
    failing = [True]

    def fail(selector: str, start: float, end: float) -> None:
        if failing[0]:
            raise SourceError("down")

    source = LandingSource(_outage_at_now(), now=clock[0], on_read=fail)
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: clock[0],
                    on_error=errors.append)
    try:
        engine.evaluate()
        assert not _status(engine).up
        reads = len(source.reads)
        clock[0] = source.now = NOW + 20
        engine.catch_up()
        assert len(source.reads) == reads
        failing[0] = False
        engine.evaluate()
        assert _status(engine).up
        failing[0] = True
        clock[0] = source.now = NOW + 40
        with capture_logs() as logs:
            engine.catch_up()
        assert [e["event"] for e in logs] == ["catch_up_failed"]
        assert logs[0]["log_level"] == "debug"
        assert errors == ["source"]  # the full cycle's failure only
        assert _status(engine).up
    finally:
        engine.close()


@pytest.mark.parametrize(("setting", "behind"), [("", 0.0), (", query_delay: 30s", 30.0)])
def test_reads_end_at_now_unless_a_query_delay_floor_is_set(
    store: EventStore, setting: str, behind: float,
) -> None:
    """By default a cycle reads up to now and its values describe now; a config that
    keeps `query_delay: 30s` reads and evaluates 30 s behind, as before."""
    text = CONFIG.replace("retries: 1}", f"retries: 1{setting}}}")
    source = LandingSource(_outage_at_now(), now=NOW)
    engine = Engine(parse_config(text, "t.yaml"), store, source, clock=lambda: NOW)
    try:
        engine.evaluate()
    finally:
        engine.close()
    assert max(end for _, _, end in source.reads) == NOW - behind
    assert _status(engine).evaluated_at == NOW - behind
