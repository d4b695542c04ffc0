"""Specification of history ownership: events belong to the SLO's name, not to its definition.

A changed Prometheus SLI drops its events so the period is read again; a
changed probe target keeps them (nothing can re-measure them); an SLO that
leaves the configuration keeps its events until retention and gets them back
when it returns.
"""

from __future__ import annotations

from slo_exporter.slomath import Counts
from slo_exporter.store import EventStore, Pruned, Retirement
from tests.store.conftest import Backend
from tests.store.values import KEY, RES, T0


def test_unchanged_fingerprint_keeps_everything(store: EventStore) -> None:
    """Recording the same fingerprint again changes nothing and reports no change."""
    assert store.ensure_fingerprint(KEY, "f1", keep_events=False) is False
    store.commit(KEY, {T0: (1, 2)}, cursor=T0, series={"a": (T0, 1.0)}, measured=(T0 - 60, T0))
    assert store.ensure_fingerprint(KEY, "f1", keep_events=False) is False
    assert store.sum(KEY, T0, T0 + RES) == Counts(1, 2)
    assert store.cursor(KEY) == T0


def test_changed_remeasurable_definition_drops_events_to_read_again(store: EventStore) -> None:
    """A changed Prometheus SLI drops that SLO's events, coverage, cursor and series only."""
    store.ensure_fingerprint(KEY, "f1", keep_events=False)
    store.commit(KEY, {T0: (1, 2)}, cursor=T0, series={"a": (T0, 1.0)}, measured=(T0 - 60, T0))
    store.commit("other/slo", {T0: (1, 1)})
    assert store.sum(KEY, T0, T0 + RES) == Counts(1, 2)  # index loaded before the reset

    assert store.ensure_fingerprint(KEY, "f2", keep_events=False) is True
    assert store.sum(KEY, T0, T0 + RES) == Counts()
    assert store.buckets(KEY, 0, 2 * T0) == []
    assert store.cursor(KEY) is None
    assert store.series(KEY) == {}
    assert store.measured(KEY, 0, 2 * T0) == 0.0
    assert store.fingerprint(KEY) == "f2"
    assert store.sum("other/slo", T0, T0 + RES) == Counts(1, 1)


def test_changed_probe_target_keeps_its_events(store: EventStore) -> None:
    """A changed probe definition keeps the events and coverage, and still reports the change."""
    store.ensure_fingerprint(KEY, "probe-a", keep_events=True)
    store.record(KEY, T0, good=True, span=15.0)
    assert store.ensure_fingerprint(KEY, "probe-b", keep_events=True) is True
    assert store.sum(KEY, T0, T0 + RES) == Counts(1, 1)
    assert store.measured(KEY, 0, 2 * T0) == 15.0
    assert store.fingerprint(KEY) == "probe-b"
    assert store.ensure_fingerprint(KEY, "probe-b", keep_events=True) is False


def test_first_fingerprint_keeps_existing_data(store: EventStore) -> None:
    """Recording a fingerprint for data stored without one does not reset it."""
    store.commit(KEY, {T0: (1, 1)})
    assert store.ensure_fingerprint(KEY, "f1", keep_events=False) is False
    assert store.sum(KEY, T0, T0 + RES) == Counts(1, 1)


def test_removed_slo_keeps_its_events_and_comes_back(store: EventStore) -> None:
    """retire() marks SLOs gone from the config without deleting; adding one back restores it."""
    for key in ("a/x", "b/y", "c/z"):
        store.commit(key, {T0: (1, 1)}, cursor=T0, measured=(T0 - 60, T0))
        store.sum(key, T0, T0 + RES)
    assert store.retire(["b/y"], at=T0 + 100) == Retirement(retired=("a/x", "c/z"))
    assert store.retired() == {"a/x": T0 + 100, "c/z": T0 + 100}
    assert store.slo_keys() == ("a/x", "b/y", "c/z")
    assert store.sum("a/x", T0, T0 + RES) == Counts(1, 1)
    assert store.cursor("a/x") == T0

    # Still gone a cycle later: the retirement instant stays the first one.
    assert store.retire(["b/y"], at=T0 + 200) == Retirement()
    assert store.retired()["a/x"] == T0 + 100

    assert store.retire(["a/x", "b/y"], at=T0 + 300) == Retirement(restored=("a/x",))
    assert store.retired() == {"c/z": T0 + 100}
    assert store.sum("a/x", T0, T0 + RES) == Counts(1, 1)
    assert store.measured("a/x", 0, 2 * T0) == 60.0


def test_renamed_slo_gets_its_events_back_when_renamed_back(backend: Backend) -> None:
    """Renaming an SLO and renaming it back, across restarts, finds the old events again."""
    with backend.open() as s:
        s.ensure_fingerprint("shop/old", "f", keep_events=True)
        s.record("shop/old", T0, good=False, span=30.0)
    with backend.open() as s:
        s.retire(["shop/new"], at=T0 + 60)
        s.ensure_fingerprint("shop/new", "f", keep_events=True)
    with backend.open() as s:
        assert s.retire(["shop/old"], at=T0 + 120).restored == ("shop/old",)
        assert s.ensure_fingerprint("shop/old", "f", keep_events=True) is False
        assert s.sum("shop/old", T0, T0 + RES) == Counts(0, 1)


def test_ensure_fingerprint_restores_a_retired_slo(store: EventStore) -> None:
    """A configured SLO is never left marked retired."""
    store.ensure_fingerprint(KEY, "f", keep_events=True)
    store.retire([], at=T0)
    store.ensure_fingerprint(KEY, "f", keep_events=True)
    assert store.retired() == {}


def test_prune_drops_buckets_that_end_before_the_horizon(store: EventStore) -> None:
    """prune(before) deletes buckets ending at or before it and series last seen before it."""
    store.commit(KEY, {T0 + i * RES: (1, 1) for i in range(10)}, series={"old": (T0, 1.0)})
    store.commit(KEY, {}, series={"new": (T0 + 5 * RES, 1.0)})
    assert store.sum(KEY, 0, 2 * T0).total == 10  # loads the index before pruning
    # T0 + 4.5 buckets: bucket 4 straddles the horizon and is kept.
    assert store.prune(T0 + 4.5 * RES) == Pruned(buckets=4)
    assert store.sum(KEY, 0, 2 * T0).total == 6
    assert store.first_bucket(KEY) == T0 + 4 * RES
    assert store.sums(KEY, T0 + 10 * RES, [3 * RES]) == {3 * RES: Counts(3, 3)}
    assert store.buckets(KEY, 0, 2 * T0)[0][0] == T0 + 4 * RES
    assert store.series(KEY) == {"new": (T0 + 5 * RES, 1.0)}


def test_prune_trims_coverage_to_the_horizon(store: EventStore) -> None:
    """Coverage before the horizon is deleted; a run straddling it is cut at it."""
    store.commit(KEY, {}, measured=(T0, T0 + 100))
    store.commit(KEY, {}, measured=(T0 + 200, T0 + 300))
    store.prune(T0 + 250)
    assert store.measured_spans(KEY, 0, 2 * T0) == [(T0 + 250, T0 + 300)]


def test_retired_slo_is_deleted_only_after_retention(store: EventStore) -> None:
    """prune() deletes a retired SLO's whole history once its retirement is older
    than the horizon, and says which SLOs it deleted."""
    store.ensure_fingerprint("gone/slo", "f", keep_events=False)
    store.commit("gone/slo", {T0: (1, 1)}, cursor=T0 + 60, series={"s": (T0 + 60, 1.0)},
                 measured=(T0, T0 + 60))
    store.commit("kept/slo", {T0 + 600: (1, 1)}, cursor=T0 + 660)
    store.retire(["kept/slo"], at=T0 + 120)

    assert store.prune(T0 + 120) == Pruned(buckets=1)  # retired at the horizon: kept
    assert store.cursor("gone/slo") == T0 + 60
    assert store.fingerprint("gone/slo") == "f"

    assert store.prune(T0 + 121) == Pruned(slos=("gone/slo",))
    assert store.slo_keys() == ("kept/slo",)
    assert store.retired() == {}
    assert store.cursor("gone/slo") is None
    assert store.series("gone/slo") == {}
    assert store.measured("gone/slo", 0, 2 * T0) == 0.0
    assert store.sum("kept/slo", T0, 2 * T0) == Counts(1, 1)


def test_pruned_is_false_only_when_nothing_was_deleted() -> None:
    """A Pruned result is truthy when buckets or SLOs were deleted."""
    assert not Pruned()
    assert Pruned(buckets=1)
    assert Pruned(slos=("a/b",))
