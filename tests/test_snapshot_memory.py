"""What a status costs in memory: packed budget history points, no per-instance dicts,
bounded per-status caches."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import pytest

from slo_exporter.figures import PeriodFigures
from slo_exporter.snapshot import (
    AlertState,
    BudgetHistory,
    PerStatus,
    Points,
    SLOStatus,
    Snapshot,
    WindowValues,
)
from tests.support.helpers import ratio_slo

PAIRS = tuple((1_800_000_000.0 + 3600.0 * i, 1.0 - i / 1000) for i in range(47))


def test_history_reads_back_the_points_it_was_given() -> None:
    """Packed points index, iterate, slice and compare as the tuple they came from."""
    history = BudgetHistory(past=PAIRS, latest=(1_900_000_000.0, 0.5))
    assert isinstance(history.past, Points)
    assert history.past == PAIRS
    assert list(history.past) == list(PAIRS)
    assert history.past[0] == PAIRS[0]
    assert history.past[-1] == PAIRS[-1]
    assert history.past[1:3] == PAIRS[1:3]
    assert history.points == (*PAIRS, (1_900_000_000.0, 0.5))
    assert history == BudgetHistory(past=list(PAIRS), latest=(1_900_000_000.0, 0.5))
    assert hash(history.past) == hash(PAIRS)
    with pytest.raises(IndexError):
        history.past[47]


def test_empty_history_has_no_points() -> None:
    """No past points and no latest point: ``points`` is the empty tuple."""
    assert BudgetHistory().points == ()
    assert BudgetHistory(past=()).past == ()
    assert not BudgetHistory().past


def test_reused_points_are_shared_not_copied() -> None:
    """A history built from another's ``past`` holds the same object (the engine reuses it)."""
    first = BudgetHistory(past=PAIRS)
    again = BudgetHistory(past=first.past, latest=(2.0, 0.1))
    assert again.past is first.past


def test_history_points_cost_about_16_bytes_each() -> None:
    """100 histories of 47 points stay under 100 KB: 47 x 16 bytes packed plus headers
    is about 0.9 KB each, where tuples of floats cost about 4.5 KB each."""
    pairs = [tuple((float(t), t / 7.0) for t in range(k, k + 47)) for k in range(100)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [BudgetHistory(past=p) for p in pairs]
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(kept) == 100
    assert used < 100_000


@pytest.mark.parametrize("value", [
    WindowValues(window=300.0, good=1.0, total=2.0, sli=0.5, burn_rate=500.0),
    AlertState(severity="page", long_window=3600.0, short_window=300.0, factor=14.4,
               long_burn_rate=None, short_burn_rate=None, firing=False),
    BudgetHistory(),
])
def test_per_status_values_have_no_attribute_dict(value: object) -> None:
    """Window values, alert states and histories keep their fields in slots, no dict each."""
    assert not hasattr(value, "__dict__")


def test_status_has_no_attribute_dict() -> None:
    """An SLO status keeps its fields in slots."""
    assert "__dict__" not in dir(SLOStatus)
    assert SLOStatus.__slots__


def test_bounded_per_status_cache_keeps_at_most_its_bound() -> None:
    """Past ``most`` entries, derived values are returned but not kept: five statuses
    through a cache of two derive 5 values, and 3 again on the second pass (5 - 2 kept)."""
    statuses = tuple(SLOStatus(slo=ratio_slo("svc", f"slo-{i}")) for i in range(5))
    snap = Snapshot(slos=statuses)
    calls: list[str] = []

    def derive(status: SLOStatus) -> str:
        calls.append(status.slo.name)
        return status.slo.name.upper()

    cache = PerStatus(derive, most=2)
    assert cache.all(snap, statuses) == [f"SLO-{i}" for i in range(5)]
    assert len(calls) == 5
    assert cache.all(snap, statuses) == [f"SLO-{i}" for i in range(5)]
    assert len(calls) == 8


def test_unbounded_per_status_cache_derives_each_status_once() -> None:
    """Without a bound, a second pass over the same snapshot derives nothing."""
    statuses = tuple(SLOStatus(slo=ratio_slo("svc", f"slo-{i}")) for i in range(5))
    snap = Snapshot(slos=statuses)
    calls: list[str] = []

    def derive(status: SLOStatus) -> int:
        calls.append(status.slo.name)
        return len(calls)

    cache = PerStatus(derive)
    cache.all(snap, statuses)
    cache.all(snap, statuses)
    assert len(calls) == 5


def test_period_figures_have_no_attribute_dict() -> None:
    """The period figures every status carries keep their fields in slots."""
    figures = PeriodFigures(label="30d", start=0.0, end=1.0, at=1.0, time_zone="UTC",
                            objective=0.999, budgeting="occurrences", achieved=None, met=None)
    assert not hasattr(figures, "__dict__")


def test_per_status_cache_does_not_keep_old_statuses_alive() -> None:
    """Once the engine drops a snapshot, a cache that served it holds neither the
    snapshot nor its statuses (a page read once must not pin 10,000 statuses)."""
    statuses = tuple(SLOStatus(slo=ratio_slo("svc", f"slo-{i}")) for i in range(3))
    snap = Snapshot(slos=statuses)
    cache = PerStatus(lambda s: s.slo.name)
    assert cache.all(snap, statuses) == ["slo-0", "slo-1", "slo-2"]
    gone = [weakref.ref(s) for s in statuses] + [weakref.ref(snap)]
    del snap, statuses
    gc.collect()
    assert all(ref() is None for ref in gone)


def test_per_status_cache_rederives_for_a_new_object_at_a_reused_address() -> None:
    """An entry answers only for its own status object, never for a later one."""
    first = SLOStatus(slo=ratio_slo("svc", "a"))
    cache = PerStatus(lambda s: s.slo.name)
    assert cache.all(Snapshot(slos=(first,)), (first,)) == ["a"]
    second = SLOStatus(slo=ratio_slo("svc", "b"))
    snap = Snapshot(slos=(first, second))
    assert cache.all(snap, (second, first)) == ["b", "a"]
