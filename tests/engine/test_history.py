"""The budget history: computed once per status, carried on the snapshot, never in the
future, and reused while its grid of whole steps has not moved."""

from __future__ import annotations

import pytest

from slo_exporter import api, statuspage
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import SourceError
from slo_exporter.history import POINTS, budget_history
from slo_exporter.slomath import Counts
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW, ScriptedSource

PROBE = "web/probe"


def _probe_engine(store: EventStore, clock: list[float]) -> Engine:
    config = parse_config(CONFIG, "t.yaml")
    return Engine(config, store, ScriptedSource(), clock=lambda: clock[0],
                  probe_last_seen=lambda key: clock[0])


def _two_hours(store: EventStore) -> None:
    for i in range(120):  # two hours of one probe a minute; the last hour all bad
        store.record(PROBE, NOW - 7200 + 60 * i, good=i < 60)


def test_history_spans_stored_data_and_follows_the_events(store: EventStore) -> None:
    """The history starts after the oldest stored bucket and ends at the current budget."""
    _two_hours(store)
    snap = _probe_engine(store, [NOW]).evaluate()
    status = next(s for s in snap.slos if s.slo.key == PROBE)
    history = status.budget_history.points
    assert len(history) >= POINTS - 2
    assert len(history) <= POINTS
    assert history[0][1] == pytest.approx(1.0)  # before the bad hour: nothing spent
    assert history[-1][1] == pytest.approx(1 - 0.5 / 0.1)  # half bad on a 10% budget
    assert history[-1][1] == status.budget_remaining
    assert [t for t, _ in history] == sorted(t for t, _ in history)


def test_newest_point_is_the_evaluation_instant_never_later(store: EventStore) -> None:
    """No history point is later than the instant the status describes, nor than now."""
    _two_hours(store)
    now = NOW + 17  # inside a bucket: its end lies 43 s in the future
    snap = _probe_engine(store, [now]).evaluate()
    status = next(s for s in snap.slos if s.slo.key == PROBE)
    points = status.budget_history.points
    assert points[-1][0] == status.evaluated_at == now
    assert all(t <= now for t, _ in points)
    prometheus = next(s for s in snap.slos if s.slo.key == "api/availability")
    assert all(t <= now for t, _ in prometheus.budget_history.points)


def test_pages_read_the_history_from_the_snapshot_not_the_store(store: EventStore) -> None:
    """Once built, a snapshot renders its history with the store closed."""
    _two_hours(store)
    snap = _probe_engine(store, [NOW]).evaluate()
    store.close()
    doc = api.render_slos(snap)
    entry = next(e for e in doc["slos"] if e["slo"] == "probe")  # type: ignore[attr-defined]
    assert len(entry["error_budget_history"]) >= POINTS - 2
    assert "<svg" in statuspage.render_status_page(snap)


class _CountingSums:
    """The store's sums, counted: how many a history costs."""

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self.calls = 0

    @property
    def resolution(self) -> float:
        return self._store.resolution

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        self.calls += 1
        return self._store.sum(slo_key, start, end)

    def first_bucket(self, slo_key: str) -> float | None:
        return self._store.first_bucket(slo_key)


def test_within_one_step_only_the_newest_point_is_computed(store: EventStore) -> None:
    """Within one step (here 2 min) the past points are reused; the next step sums them anew."""
    _two_hours(store)
    slo = next(s for s in parse_config(CONFIG, "t.yaml").slos if s.key == PROBE)
    sums = _CountingSums(store)
    first = budget_history(sums, slo, NOW + 1, 0.5)
    assert sums.calls == POINTS - 1
    again = budget_history(sums, slo, NOW + 30, 0.4, previous=first)
    assert sums.calls == POINTS - 1
    assert again.past == first.past
    assert again.latest == (NOW + 30, 0.4)
    budget_history(sums, slo, NOW + 121, 0.4, previous=again)
    assert sums.calls == 2 * (POINTS - 1)


def test_probe_refreshes_do_not_sum_the_store_for_the_history(store: EventStore) -> None:
    """Refreshing a probe SLO every second within one step keeps its past points."""
    _two_hours(store)
    clock = [NOW + 1]
    engine = _probe_engine(store, clock)
    past = next(s for s in engine.evaluate().slos if s.slo.key == PROBE).budget_history.past
    clock[0] = NOW + 2
    refreshed = next(s for s in engine.refresh_probes().slos if s.slo.key == PROBE)
    assert refreshed.budget_history.past is past
    assert refreshed.budget_history.latest == (NOW + 2, refreshed.budget_remaining)


def test_no_events_means_no_history(store: EventStore) -> None:
    """An SLO without stored events has an empty history, not a line at 100 %."""
    snap = _probe_engine(store, [NOW]).evaluate()
    assert all(s.budget_history.points == () for s in snap.slos)


def test_past_points_lie_on_closed_buckets(store: EventStore) -> None:
    """Every past point is a bucket boundary at least the settle time before the instant."""
    _two_hours(store)
    slo = next(s for s in parse_config(CONFIG, "t.yaml").slos if s.key == PROBE)
    for offset in (0.0, 1.0, 59.0, 61.0, 119.0):
        history = budget_history(store, slo, NOW + offset, 0.5, settle=30.0)
        assert history.past
        newest = history.past[-1][0]
        assert newest <= NOW + offset - 30.0
        assert newest % 60.0 == 0.0


def test_a_history_drawn_while_the_source_was_down_is_drawn_again(store: EventStore) -> None:
    """Events read after an outage show in the history at once, not only after the next step."""
    fail, clock = [True], [NOW]
    key = "api/availability"

    def read(selector: str, start: float, end: float) -> None:
        if fail[0]:
            raise SourceError("down")

    config = parse_config(CONFIG, "t.yaml")
    engine = Engine(config, store, ScriptedSource(read), clock=lambda: clock[0],
                    probe_last_seen=lambda k: clock[0])
    store.commit(key, {NOW - 7200 + 60 * i: (10.0, 10.0) for i in range(60)})
    down = next(s for s in engine.evaluate().slos if s.slo.key == key)
    # the backfill that failed lands: the second hour was all bad
    store.commit(key, {NOW - 3600 + 60 * i: (0.0, 10.0) for i in range(60)}, cursor=NOW - 30)
    fail[0] = False
    clock[0] = NOW + 1
    up = next(s for s in engine.evaluate().slos if s.slo.key == key)
    assert up.budget_history.past != down.budget_history.past
    assert min(v for _, v in up.budget_history.past) < 0
    clock[0] = NOW + 2
    again = next(s for s in engine.evaluate().slos if s.slo.key == key)
    assert again.budget_history.past is up.budget_history.past
