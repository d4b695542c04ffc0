"""Specification of ``commit_many`` (a cycle's steady commits in one transaction) and of
the writer's memory of cursors and series state."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import Commit, EventStore, SQLiteStore
from tests.store.conftest import Backend, SQLiteBackend
from tests.store.crash import run_until
from tests.store.values import KEY, RES, T0

OTHER = "payments/latency"


def _statements(store: SQLiteStore) -> list[str]:
    """From now on, every SQL statement the store's connection runs is appended here."""
    seen: list[str] = []
    conn = store._conn  # observation only: which statements a read costs
    assert conn is not None
    conn.set_trace_callback(seen.append)
    return seen


# ---------------------------------------------------------------- commit_many


def test_commit_many_is_each_commit_in_order(store: EventStore) -> None:
    """Two commits of one SLO and one of another, given together, leave what the three
    commits one by one leave: 1 + 2 events in one bucket, the later cursor, both series."""
    store.commit_many([
        Commit(KEY, {T0: (1.0, 1.0)}, cursor=T0, series={"a": (T0, 1.0)},
               measured=(T0 - RES, T0)),
        Commit(OTHER, {T0: (0.0, 5.0)}, cursor=T0 + 5),
        Commit(KEY, {T0 + 10: (2.0, 2.0)}, cursor=T0 + 30, series={"b": (T0 + 20, 4.0)},
               measured=(T0, T0 + 30)),
    ])
    assert store.buckets(KEY, T0, T0 + RES) == [(T0, 3.0, 3.0)]
    assert store.cursor(KEY) == T0 + 30
    assert store.series(KEY) == {"a": (T0, 1.0), "b": (T0 + 20, 4.0)}
    assert store.measured_spans(KEY, 0, 2 * T0) == [(T0 - RES, T0 + 30)]
    assert (store.sum(OTHER, 0, 2 * T0), store.cursor(OTHER)) == (Counts(0, 5), T0 + 5)


def test_an_slo_twice_in_a_batch_extends_the_run_the_first_commit_made(
        backend: Backend) -> None:
    """The store keeps the run [T0, T0+60) and knows it; a batch extends it to T0+120 and
    then starts a new run at T0+300 (more than a second after T0+120), so the first run
    closes as [T0, T0+120) and the new one is [T0+300, T0+360): 120 + 60 = 180 s measured,
    not the 60 + 60 the stale run [T0, T0+60) would leave, in the writer's memory and in
    what a store opened afterwards reads."""
    want = [(T0, T0 + 2 * RES), (T0 + 5 * RES, T0 + 6 * RES)]
    with backend.open() as store:
        store.commit(KEY, {}, cursor=T0 + RES, measured=(T0, T0 + RES))
        assert store.measured_spans(KEY, 0, 2 * T0) == [(T0, T0 + RES)]  # the writer knows it
        store.commit_many([
            Commit(KEY, {}, cursor=T0 + 2 * RES, measured=(T0 + RES, T0 + 2 * RES)),
            Commit(KEY, {}, cursor=T0 + 6 * RES, measured=(T0 + 5 * RES, T0 + 6 * RES)),
        ])
        assert store.measured_spans(KEY, 0, 2 * T0) == want
    with backend.open() as store:
        assert store.measured_spans(KEY, 0, 2 * T0) == want
        assert store.measured(KEY, 0, 2 * T0) == 180.0
        assert store.cursor(KEY) == T0 + 6 * RES


def test_commit_many_checks_every_commit_before_writing_any(store: EventStore) -> None:
    """A NaN in the second commit is a ValueError, and the first is not written either."""
    with pytest.raises(ValueError, match="finite"):
        store.commit_many([Commit(KEY, {T0: (1.0, 1.0)}, cursor=T0),
                           Commit(OTHER, {T0: (float("nan"), 1.0)})])
    assert (store.cursor(KEY), store.sum(KEY, 0, 2 * T0)) == (None, Counts())


def test_a_failed_batch_writes_none_of_its_commits(tmp_path: Path) -> None:
    """The second commit's series write fails: the first commit's events and cursor, which
    were written before it in the same transaction, are rolled back with it, and the
    remembered cursor and series state are what the file holds."""
    backend = SQLiteBackend(tmp_path)
    with backend.open() as store:
        store.commit(KEY, {T0: (1.0, 1.0)}, cursor=T0, series={"a": (T0, 1.0)})
        assert (store.cursor(KEY), store.series(KEY)) == (T0, {"a": (T0, 1.0)})  # remembered
        backend.fail_writes("series", "disk on fire")
        with pytest.raises(StoreError, match="disk on fire"):
            store.commit_many([Commit(KEY, {T0 + RES: (5.0, 5.0)}, cursor=T0 + RES),
                               Commit(OTHER, {T0: (1.0, 1.0)}, cursor=T0,
                                      series={"b": (T0, 2.0)})])
        assert store.cursor(KEY) == T0
        assert store.series(KEY) == {"a": (T0, 1.0)}
        assert store.sum(KEY, 0, 2 * T0) == Counts(1, 1)
        assert (store.cursor(OTHER), store.sum(OTHER, 0, 2 * T0)) == (None, Counts())
        backend.heal()
        store.commit_many([Commit(KEY, {T0 + RES: (5.0, 5.0)}, cursor=T0 + RES)])
        assert (store.cursor(KEY), store.sum(KEY, 0, 2 * T0)) == (T0 + RES, Counts(6, 6))


def test_a_crash_inside_a_batch_loses_it_whole(tmp_path: Path) -> None:
    """Killed while the batch writes its third commit (the only one with series state),
    the file holds none of the batch: no SLO has events without the cursor and series
    state that say they were counted, so the next read counts them once."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, {T0: (1.0, 1.0)}, cursor=T0)
    code = f"""
from slo_exporter.store import Commit
s.commit_many([Commit({KEY!r}, {{{T0 + RES}: (5.0, 5.0)}}, cursor={T0 + RES}),
               Commit({OTHER!r}, {{{T0}: (2.0, 2.0)}}, cursor={T0}),
               Commit("third/slo", {{{T0}: (1.0, 1.0)}}, series={{"x": ({T0}, 1.0)}})])
"""
    assert run_until("\nINSERT INTO series", tmp_path, code) == 9  # the upsert text
    with SQLiteStore(tmp_path, RES) as s:
        assert (s.cursor(KEY), s.sum(KEY, 0, 2 * T0)) == (T0, Counts(1, 1))
        assert (s.cursor(OTHER), s.sum(OTHER, 0, 2 * T0)) == (None, Counts())
        assert s.series("third/slo") == {}
        assert "third/slo" not in s.slo_keys()


# ------------------------------------------------------------- writer memory


def test_the_writer_reads_a_cursor_and_series_state_once(sqlite_store: SQLiteStore) -> None:
    """After the first read, cursor and series state come from memory and follow commits:
    no statement reads them again."""
    sqlite_store.commit(KEY, {}, cursor=T0, series={"a": (T0, 1.0)})
    assert sqlite_store.cursor(KEY) == T0
    assert sqlite_store.series(KEY) == {"a": (T0, 1.0)}
    seen = _statements(sqlite_store)
    sqlite_store.commit(KEY, {T0: (1.0, 1.0)}, cursor=T0 + 30, series={"b": (T0, 2.0)})
    sqlite_store.commit(KEY, {}, series={"a": (T0 + 15, 3.0)})  # the fast path: no cursor
    assert sqlite_store.cursor(KEY) == T0 + 30
    assert sqlite_store.series(KEY) == {"a": (T0 + 15, 3.0), "b": (T0, 2.0)}
    assert not [s for s in seen if "FROM series" in s or "SELECT cursor" in s]


def test_a_copy_of_the_series_state_leaves_the_memory_alone(sqlite_store: SQLiteStore) -> None:
    """What ``series`` returns is the caller's: changing it changes nothing stored."""
    sqlite_store.commit(KEY, {}, series={"a": (T0, 1.0)})
    sqlite_store.series(KEY)["a"] = (T0 + 99, 9.0)
    assert sqlite_store.series(KEY) == {"a": (T0, 1.0)}


def test_prune_and_a_reset_reach_the_remembered_state(sqlite_store: SQLiteStore) -> None:
    """Series last seen before the horizon leave memory as they leave the file; a changed
    definition drops the cursor and series state from both."""
    sqlite_store.ensure_fingerprint(KEY, "v1", keep_events=False)
    sqlite_store.commit(KEY, {}, cursor=T0 + 600,
                        series={"old": (T0, 1.0), "live": (T0 + 600, 2.0)})
    assert set(sqlite_store.series(KEY)) == {"old", "live"}
    sqlite_store.prune(before=T0 + 300)
    assert sqlite_store.series(KEY) == {"live": (T0 + 600, 2.0)}
    sqlite_store.ensure_fingerprint(KEY, "v2", keep_events=False)
    assert (sqlite_store.cursor(KEY), sqlite_store.series(KEY)) == (None, {})


def test_a_reader_beside_the_writer_sees_each_new_cursor(tmp_path: Path) -> None:
    """A read-only store remembers nothing of what another process writes: each read
    answers the cursor and series state the writer last committed."""
    with SQLiteStore(tmp_path, RES) as writer:
        writer.commit(KEY, {}, cursor=T0, series={"a": (T0, 1.0)})
        with SQLiteStore(tmp_path, RES, readonly=True) as reader:
            assert (reader.cursor(KEY), reader.series(KEY)) == (T0, {"a": (T0, 1.0)})
            writer.commit(KEY, {}, cursor=T0 + 30, series={"a": (T0 + 30, 2.0)})
            assert (reader.cursor(KEY), reader.series(KEY)) == (T0 + 30, {"a": (T0 + 30, 2.0)})


def test_a_reopened_store_reads_what_the_file_holds(tmp_path: Path) -> None:
    """Memory lives as long as the open store: another writer's rows, seen after a reopen."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, {}, cursor=T0)
        assert s.cursor(KEY) == T0
    conn = sqlite3.connect(tmp_path / "events.db")
    with conn:
        conn.execute("UPDATE slo SET cursor = ? WHERE slo_key = ?", (T0 + 60, KEY))
    conn.close()
    with SQLiteStore(tmp_path, RES) as s:
        assert s.cursor(KEY) == T0 + 60


def test_backends_agree_after_a_batch(backend: Backend) -> None:
    """SQLite and PostgreSQL answer the same after one batch of two SLOs' commits."""
    with backend.open() as store:
        store.commit_many([Commit(KEY, {T0: (1.0, 2.0)}, cursor=T0, series={"a": (T0, 1.0)}),
                           Commit(OTHER, {T0 + RES: (3.0, 3.0)}, cursor=T0 + RES)])
        assert store.buckets(KEY, 0, 2 * T0) == [(T0, 1.0, 2.0)]
        assert store.buckets(OTHER, 0, 2 * T0) == [(T0 + RES, 3.0, 3.0)]
        assert (store.cursor(KEY), store.cursor(OTHER)) == (T0, T0 + RES)
        assert store.series(KEY) == {"a": (T0, 1.0)}
