"""Evaluation instants on the epoch grid: the arithmetic, and two engines started at
different times exporting identical SLO series (the unit half of the HA-pair test in
``tests/integration/test_ha_identical.py``)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slo_exporter import grid
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.store import SQLiteStore
from tests.engine.support import NOW, LandingSource, counter_feed

CONFIG = """
prometheus: {url: "http://127.0.0.1:1", timeout: 1s, retries: 1}
evaluation_interval: 15s
services:
  - name: api
    slos:
      - name: availability
        objective: 99
        window: 1d
        sli:
          ratio:
            bad: errors_total
            total: requests_total
"""


@pytest.mark.parametrize(
    ("t", "step", "want"),
    [
        (NOW, 15.0, NOW),  # on the grid: itself
        (NOW + 14.999, 15.0, NOW),
        (NOW + 15.0, 15.0, NOW + 15.0),
        (NOW + 0.4, 1.0, NOW),
        (1_000_000_007.0, 60.0, 999_999_960.0),  # 1,000,000,007 // 60 = 16,666,666 (x60)
    ],
)
def test_instant_is_the_last_multiple_of_the_step_since_the_epoch(
        t: float, step: float, want: float) -> None:
    """instant(t, step) = floor(t / step) * step, whatever t's offset from a start."""
    assert grid.instant(t, step) == want


@pytest.mark.parametrize(
    ("now", "step", "offset", "want"),
    [
        (NOW + 3, 15.0, 0.0, NOW + 15),  # the next multiple
        (NOW, 15.0, 0.0, NOW),  # on the grid: now
        (NOW + 3, 15.0, 5.0, NOW + 5),  # multiples shifted by a 5 s query_delay
        (NOW + 6, 15.0, 5.0, NOW + 20),
        (NOW + 3, 15.0, 20.0, NOW + 5),  # a delay longer than the step: 20 mod 15 = 5
    ],
)
def test_first_fire_is_the_next_grid_instant_plus_the_offset(
        now: float, step: float, offset: float, want: float) -> None:
    """A cycle fired at first_fire(now, step, delay) describes instant(fire - delay, step)
    exactly, a multiple of the step."""
    fire = grid.first_fire(now, step, offset)
    assert fire == want
    assert grid.instant(fire - offset, step) == fire - offset


def test_a_step_of_zero_is_refused() -> None:
    """A grid needs a step above 0."""
    with pytest.raises(ValueError, match="grid step must be > 0"):
        grid.instant(NOW, 0.0)


def _metrics(engine: Engine) -> bytes:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: engine.snapshot))
    return generate_latest(registry)


def test_engines_started_at_different_times_export_identical_series(tmp_path: Path) -> None:
    """Two engines on their own stores, one cycle each at NOW + 3 and NOW + 13 (15 s
    interval), describe the same grid instant NOW and render byte-identical SLO series.

    100 requests per 5 s scrape from NOW - 2 h, 1 of them failing; each sample lands 1 s
    after its timestamp, so at NOW + 13 the samples at NOW + 5 and NOW + 10 have landed
    and would enter a window ending at the clock; on the grid both read up to NOW.
    """
    config = parse_config(CONFIG, "t.yaml")
    feeds = {
        "requests_total": {"a": counter_feed(NOW - 7200, NOW + 60, 5, 1.0, lambda ts: 100)},
        "errors_total": {"a": counter_feed(NOW - 7200, NOW + 60, 5, 1.0, lambda ts: 1)},
    }
    rendered, instants = [], []
    for name, clock in (("first", NOW + 3), ("second", NOW + 13)):
        (tmp_path / name).mkdir()
        store = SQLiteStore(tmp_path / name, 60.0)
        engine = Engine(config, store, LandingSource(feeds, now=clock),
                        clock=functools.partial(float, clock))
        try:
            snapshot = engine.evaluate()
            instants.append(snapshot.slos[0].evaluated_at)
            rendered.append(_metrics(engine))
        finally:
            engine.close()
            store.close()
    assert instants == [NOW, NOW]
    assert rendered[0] == rendered[1]
    assert b'slo_events{result="bad",service="api",slo="availability",window="1d"} 1440.0' in (
        rendered[0]), "2 h of scrapes, 1,440 of them after the first sample, 1 bad each"
