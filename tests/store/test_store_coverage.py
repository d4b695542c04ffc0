"""Specification of coverage: the store knows which spans were measured, not only the events."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter.errors import StoreError
from slo_exporter.store import EventStore, SQLiteStore
from slo_exporter.store.common import MERGE_GAP
from tests.store.conftest import Backend
from tests.store.values import KEY, T0


def runs(store: EventStore) -> list[tuple[float, float]]:
    return store.measured_spans(KEY, 0, 2 * T0)


def test_probe_results_measure_their_interval(store: EventStore) -> None:
    """A probe at ts with span=interval measures [ts, ts + interval)."""
    store.record(KEY, T0, good=True, span=15.0)
    assert store.measured(KEY, 0, 2 * T0) == 15.0
    assert store.measured(KEY, T0 + 5, T0 + 10) == 5.0
    assert store.measured(KEY, T0 + 15, T0 + 100) == 0.0


def test_consecutive_probes_are_one_run(backend: Backend, store: EventStore) -> None:
    """A day of probes every 15 s, each started a little late, is stored as one row (two
    hours on PostgreSQL, where each probe is a round trip: the same merge, 12x cheaper)."""
    rng = random.Random(7)
    count = 5760 if backend.name == "sqlite" else 480
    for i in range(count):
        store.record(KEY, T0 + i * 15.0 + rng.uniform(0, 0.05), good=True, span=15.0)
    (start, until), = runs(store)
    assert start == pytest.approx(T0, abs=0.05)
    assert until == pytest.approx(T0 + count * 15.0, abs=0.1)


def test_an_outage_leaves_a_gap(store: EventStore) -> None:
    """Probes that stop for a while leave two runs with the unmeasured gap between them."""
    for i in range(4):
        store.record(KEY, T0 + i * 15.0, good=True, span=15.0)
    for i in range(8, 10):
        store.record(KEY, T0 + i * 15.0, good=False, span=15.0)
    assert runs(store) == [(T0, T0 + 60), (T0 + 120, T0 + 150)]
    assert store.measured(KEY, T0, T0 + 150) == 90.0


def test_prometheus_reads_join_at_the_cursor(store: EventStore) -> None:
    """commit(measured=) of reads that follow each other gives one run."""
    store.commit(KEY, {T0: (1, 1)}, cursor=T0 + 30, measured=(T0 - 3600, T0 + 30))
    store.commit(KEY, {}, cursor=T0 + 60, measured=(T0 + 30, T0 + 60))
    assert runs(store) == [(T0 - 3600, T0 + 60)]


def test_a_span_bridging_two_runs_merges_them(store: EventStore) -> None:
    """A span overlapping several runs merges them all into one."""
    store.commit(KEY, {}, measured=(T0, T0 + 10))
    store.commit(KEY, {}, measured=(T0 + 20, T0 + 30))
    store.commit(KEY, {}, measured=(T0 + 40, T0 + 50))
    store.commit(KEY, {}, measured=(T0 + 100, T0 + 110))
    store.commit(KEY, {}, measured=(T0 + 5, T0 + 45))
    assert runs(store) == [(T0, T0 + 50), (T0 + 100, T0 + 110)]


def test_spans_are_clipped_to_the_range_asked(store: EventStore) -> None:
    """measured_spans() clips runs to [start, end)."""
    store.commit(KEY, {}, measured=(T0, T0 + 100))
    assert store.measured_spans(KEY, T0 + 50, T0 + 70) == [(T0 + 50, T0 + 70)]
    assert store.measured_spans(KEY, T0 + 100, T0 + 200) == []


def test_coverage_of_slos_is_kept_apart(store: EventStore) -> None:
    """One SLO's measured spans never show up in another's."""
    store.commit("a/x", {}, measured=(T0, T0 + 10))
    assert store.measured("b/y", 0, 2 * T0) == 0.0


def test_a_backwards_span_is_rejected(store: EventStore) -> None:
    """A span ending before it starts is a ValueError and nothing is written."""
    with pytest.raises(ValueError, match="ends before it starts"):
        store.commit(KEY, {T0: (1, 1)}, measured=(T0 + 10, T0))
    assert store.slo_keys() == ()


@settings(max_examples=40, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 200), st.integers(1, 40)).map(
            lambda p: (T0 + p[0] * 5.0, T0 + p[0] * 5.0 + p[1] * 5.0)
        ),
        min_size=1,
        max_size=25,
    ),
    window=st.tuples(st.integers(-10, 260), st.integers(0, 300)),
)
def test_measured_seconds_equal_the_union_of_spans(
    tmp_path_factory: pytest.TempPathFactory,
    spans: list[tuple[float, float]],
    window: tuple[int, int],
) -> None:
    """Measured seconds in a range equal the length of the union of the committed spans in it."""
    start, end = T0 + window[0] * 5.0, T0 + (window[0] + window[1]) * 5.0
    covered: set[int] = set()  # 5-second cells; spans are on the 5 s grid, wider than MERGE_GAP
    for a, b in spans:
        covered.update(range(int((a - T0) // 5), int((b - T0) // 5)))
    expected = sum(
        max(0.0, min(T0 + (c + 1) * 5.0, end) - max(T0 + c * 5.0, start)) for c in covered
    )
    assert MERGE_GAP < 5.0
    with SQLiteStore(tmp_path_factory.mktemp("cov"), 60.0) as s:
        for span in spans:
            s.commit(KEY, {}, measured=span)
        assert s.measured(KEY, start, end) == pytest.approx(expected)
        stored = s.measured_spans(KEY, 0, 2 * T0)
        assert all(a < b for a, b in stored)
        assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(stored))


def test_a_rolled_back_span_leaves_coverage_as_it_was(
    backend: Backend, store: EventStore
) -> None:
    """A commit whose span fails to store changes no run, and later spans merge correctly."""
    store.commit(KEY, {}, measured=(T0, T0 + 30))
    backend.fail_writes("slo", "disk on fire", on="UPDATE")
    with pytest.raises(StoreError, match="disk on fire"):
        store.commit(KEY, {T0: (1, 1)}, measured=(T0 + 30, T0 + 60))
    backend.heal()
    assert runs(store) == [(T0, T0 + 30)]
    store.commit(KEY, {}, measured=(T0 + 30, T0 + 45))
    store.commit(KEY, {}, measured=(T0 + 100, T0 + 110))
    assert runs(store) == [(T0, T0 + 45), (T0 + 100, T0 + 110)]


def test_coverage_continues_after_reopen_and_prune(backend: Backend) -> None:
    """The newest run is found again after a reopen and after prune trimmed it."""
    with backend.open() as s:
        s.commit(KEY, {}, measured=(T0, T0 + 30))
    with backend.open() as s:
        s.commit(KEY, {}, measured=(T0 + 30, T0 + 60))
        s.prune(T0 + 10)
        s.commit(KEY, {}, measured=(T0 + 60, T0 + 90))
        assert s.measured_spans(KEY, 0, 2 * T0) == [(T0 + 10, T0 + 90)]


def test_a_late_span_joins_older_runs_to_the_newest(store: EventStore) -> None:
    """A span arriving late that bridges an older run and the newest run makes one run."""
    store.commit(KEY, {}, measured=(T0, T0 + 10))
    store.commit(KEY, {}, measured=(T0 + 20, T0 + 30))
    store.commit(KEY, {}, measured=(T0 + 5, T0 + 25))
    assert runs(store) == [(T0, T0 + 30)]
    store.commit(KEY, {}, measured=(T0 + 30, T0 + 40))
    assert runs(store) == [(T0, T0 + 40)]
