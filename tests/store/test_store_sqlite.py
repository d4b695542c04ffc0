"""Specification of the SQLite event store: buckets, sums, cursor, series state, durability."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import FILENAME, EventStore, SQLiteStore
from tests.store.conftest import Backend
from tests.store.values import KEY, RES, T0

# ------------------------------------------------------------ buckets/sums


def test_deltas_land_in_the_bucket_holding_their_instant(store: EventStore) -> None:
    """An instant inside a bucket adds to that bucket; deltas to one bucket add up."""
    store.commit(KEY, {T0: (1, 2), T0 + 59.9: (3, 3), T0 + 60: (0, 1)})
    assert store.buckets(KEY, T0, T0 + 600) == [(T0, 4.0, 5.0), (T0 + 60, 0.0, 1.0)]


def test_commits_add_into_existing_buckets(store: EventStore) -> None:
    """A second commit to the same bucket adds to it instead of replacing it."""
    store.commit(KEY, {T0: (1, 1)})
    assert store.sum(KEY, T0, T0 + RES) == Counts(1, 1)  # loads the index
    store.commit(KEY, {T0 + 5: (0, 2)})
    assert store.sum(KEY, T0, T0 + RES) == Counts(1, 3)
    assert store.buckets(KEY, T0, T0 + RES) == [(T0, 1.0, 3.0)]


def test_good_deltas_may_be_negative(store: EventStore) -> None:
    """Bad events counted as negative good (good = total - bad) are summed as given."""
    store.commit(KEY, {T0: (5, 5)})
    store.commit(KEY, {T0 + 60: (-2, 0)})
    assert store.sum(KEY, T0, T0 + 120) == Counts(3, 5)


def test_sum_covers_buckets_starting_in_the_half_open_range(store: EventStore) -> None:
    """sum(start, end) counts buckets whose start lies in [start, end)."""
    store.commit(KEY, {T0 + i * RES: (1, 1) for i in range(10)})
    assert store.sum(KEY, T0, T0 + 5 * RES).total == 5
    assert store.sum(KEY, T0 + 1, T0 + 5 * RES).total == 4
    assert store.sum(KEY, T0, T0 + 5 * RES + 1).total == 6
    assert store.sum(KEY, T0 + 5 * RES, T0) == Counts()


def test_sums_of_many_windows_end_at_the_same_instant(store: EventStore) -> None:
    """sums() gives each window [end - w, end), keyed by window."""
    store.commit(KEY, {T0 + i * RES: (i % 2, 1) for i in range(60)})
    end = T0 + 60 * RES
    got = store.sums(KEY, end, [300.0, 1800.0, 3600.0, 7200.0])
    assert got == {
        300.0: Counts(3, 5),  # buckets 55..59: odd ones are good
        1800.0: Counts(15, 30),
        3600.0: Counts(30, 60),
        7200.0: Counts(30, 60),
    }


def test_unknown_slo_sums_to_zero(store: EventStore) -> None:
    """An SLO with no events sums to zero events, and has no cursor or series."""
    assert store.sums("nobody/nothing", T0, [300.0]) == {300.0: Counts()}
    assert store.cursor("nobody/nothing") is None
    assert store.series("nobody/nothing") == {}


def test_record_stores_one_probe_event(store: EventStore) -> None:
    """record() adds one event, good or bad, to the bucket of its instant."""
    store.record(KEY, T0 + 1, good=True)
    store.record(KEY, T0 + 2, good=False)
    store.record(KEY, T0 + 61, good=True)
    assert store.buckets(KEY, T0, T0 + 120) == [(T0, 1.0, 2.0), (T0 + 60, 1.0, 1.0)]


def test_slos_are_kept_apart(store: EventStore) -> None:
    """Events of one SLO never show up in another's sums."""
    store.commit("a/x", {T0: (1, 1)})
    store.commit("b/y", {T0: (0, 7)})
    assert store.sum("a/x", T0, T0 + RES) == Counts(1, 1)
    assert store.sum("b/y", T0, T0 + RES) == Counts(0, 7)
    assert store.slo_keys() == ("a/x", "b/y")


@st.composite
def commit_batches(draw: st.DrawFn) -> list[dict[float, tuple[float, float]]]:
    """Several commits of integer events at arbitrary instants over ~2 days, any order."""
    instant = st.floats(min_value=T0 - 2 * 86400, max_value=T0, allow_nan=False)
    event = st.tuples(st.integers(-5, 1000).map(float), st.integers(0, 1000).map(float))
    batch = st.dictionaries(instant, event, max_size=15)
    return draw(st.lists(batch, min_size=1, max_size=8))


def brute_sum(batches: list[dict[float, tuple[float, float]]], start: float, end: float) -> Counts:
    good = total = 0.0
    for batch in batches:
        for ts, (g, t) in batch.items():
            bucket = (ts // RES) * RES
            if start <= bucket < end:
                good += g
                total += t
    return Counts(good, total)


@settings(max_examples=40, deadline=None)
@given(
    batches=commit_batches(),
    end=st.integers(min_value=-3000, max_value=10).map(lambda i: T0 + i * RES),
    windows=st.lists(st.integers(min_value=1, max_value=3000).map(lambda n: n * RES), max_size=6),
    load_first=st.booleans(),
)
def test_sums_equal_brute_force_sums(
    batches: list[dict[float, tuple[float, float]]],
    end: float,
    windows: list[float],
    load_first: bool,
) -> None:
    """Indexed window sums equal brute-force sums of the events, also after reopening."""
    with tempfile.TemporaryDirectory() as tmp:
        with SQLiteStore(tmp, RES) as s:
            if load_first:  # exercise the in-memory index being updated in place
                s.sum(KEY, 0, 1)
            for batch in batches:
                s.commit(KEY, batch)
            expected = {w: brute_sum(batches, end - w, end) for w in windows}
            assert s.sums(KEY, end, windows) == expected
        with SQLiteStore(tmp, RES) as s:
            assert s.sums(KEY, end, windows) == expected


@settings(max_examples=30, deadline=None)
@given(
    batches=commit_batches(),
    cuts=st.lists(st.integers(min_value=-3000, max_value=10).map(lambda i: T0 + i * RES)),
)
def test_sums_over_split_ranges_equal_sum_over_whole(
    batches: list[dict[float, tuple[float, float]]], cuts: list[float]
) -> None:
    """Summing adjacent ranges piece by piece gives the sum over the whole range."""
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(tmp, RES) as s:
        for batch in batches:
            s.commit(KEY, batch)
        edges = sorted({T0 - 3000 * RES, T0 + 20 * RES, *cuts})
        pieces = sum((s.sum(KEY, a, b) for a, b in itertools.pairwise(edges)), Counts())
        assert pieces == s.sum(KEY, edges[0], edges[-1])


# ------------------------------------------------------ cursor and series


def test_cursor_and_series_state_are_stored(store: EventStore) -> None:
    """commit() sets the cursor and upserts the last sample of each series."""
    store.commit(KEY, {}, cursor=T0, series={"a": (T0 - 5, 10.0), "b": (T0 - 3, 2.0)})
    store.commit(KEY, {}, cursor=T0 + 30, series={"a": (T0 + 25, 12.0)})
    assert store.cursor(KEY) == T0 + 30
    assert store.series(KEY) == {"a": (T0 + 25, 12.0), "b": (T0 - 3, 2.0)}


def test_commit_without_cursor_keeps_the_cursor(store: EventStore) -> None:
    """A commit that gives no cursor leaves the stored one unchanged."""
    store.commit(KEY, {T0: (1, 1)}, cursor=T0)
    store.commit(KEY, {T0 + 60: (1, 1)})
    assert store.cursor(KEY) == T0


def test_a_failed_commit_writes_nothing(backend: Backend, store: EventStore) -> None:
    """When one part of a commit fails, its events, series and cursor are all rolled back."""
    store.commit(KEY, {T0: (1, 1)}, cursor=T0, series={"a": (T0, 1.0)})
    assert store.sum(KEY, T0, T0 + 600) == Counts(1, 1)
    # Fault injection through the database itself: writing series state fails,
    # after the buckets of the same commit were written.
    backend.fail_writes("series", "disk on fire")
    with pytest.raises(StoreError, match="disk on fire"):
        store.commit(KEY, {T0 + 60: (5, 5)}, cursor=T0 + 60, series={"b": (T0 + 60, 1.0)})
    assert store.cursor(KEY) == T0
    assert store.series(KEY) == {"a": (T0, 1.0)}
    assert store.sum(KEY, T0, T0 + 600) == Counts(1, 1)
    assert store.buckets(KEY, T0, T0 + 600) == [(T0, 1.0, 1.0)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"deltas": {T0: (float("nan"), 1.0)}},
        {"deltas": {T0: (1.0, float("inf"))}},
        {"deltas": {float("nan"): (1.0, 1.0)}},
        {"deltas": {}, "cursor": float("nan")},
        {"deltas": {}, "series": {"a": (T0, float("nan"))}},
    ],
)
def test_non_finite_numbers_are_rejected_before_writing(
    store: EventStore, kwargs: dict[str, object]
) -> None:
    """NaN or Inf anywhere in a commit is a ValueError and nothing is stored."""
    with pytest.raises(ValueError, match="must be finite"):
        store.commit(KEY, **kwargs)  # type: ignore[arg-type]
    assert store.slo_keys() == ()


# ------------------------------------------------------------- durability


def test_everything_survives_close_and_reopen(backend: Backend) -> None:
    """Buckets, cursor, series state and fingerprint are read back after reopening."""
    with backend.open() as s:
        s.ensure_fingerprint(KEY, "f1", keep_events=False)
        s.commit(KEY, {T0: (3, 4), T0 + 60: (1, 1)}, cursor=T0 + 70, series={"x": (T0 + 65, 9.0)})
    with backend.open() as s:
        assert s.sum(KEY, T0, T0 + 120) == Counts(4, 5)
        assert s.cursor(KEY) == T0 + 70
        assert s.series(KEY) == {"x": (T0 + 65, 9.0)}
        assert s.fingerprint(KEY) == "f1"


def test_store_uses_wal_journal(tmp_path: Path) -> None:
    """The file is in WAL mode, so readers never block the writer and commits are crash-safe."""
    SQLiteStore(tmp_path, RES).close()
    conn = sqlite3.connect(tmp_path / FILENAME)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_committed_data_survives_sigkill(tmp_path: Path) -> None:
    """Data committed before the process is killed with SIGKILL is there after reopening."""
    child = textwrap.dedent(
        f"""
        import sys, time
        from slo_exporter.store import SQLiteStore
        s = SQLiteStore(sys.argv[1], {RES})
        for i in range(100):
            s.commit({KEY!r}, {{{T0} + i * 60: (i, 100)}}, cursor={T0} + i * 60 + 59,
                     series={{"s": ({T0} + i * 60, float(i))}})
        print("committed", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "committed"
    finally:
        proc.kill()  # SIGKILL: no atexit, no close, no checkpoint
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -9
    with SQLiteStore(tmp_path, RES) as s:
        assert s.sum(KEY, T0, T0 + 100 * 60) == Counts(sum(range(100)), 100 * 100)
        assert s.cursor(KEY) == T0 + 99 * 60 + 59
        assert s.series(KEY) == {"s": (T0 + 99 * 60, 99.0)}


# ------------------------------------------------------------- resolution


def test_changed_resolution_rebuckets_stored_events(backend: Backend) -> None:
    """Reopening with a coarser resolution merges old buckets into the new ones."""
    t = 1_800_000_000.0 - 60  # one minute before a multiple of 180 s
    with backend.open(60) as s:
        s.commit(KEY, {t + i * 60: (1, 2) for i in range(5)})
    with backend.open(180) as s:
        assert s.buckets(KEY, 0, 2 * t) == [
            (t - 120, 1.0, 2.0),
            (t + 60, 3.0, 6.0),
            (t + 240, 1.0, 2.0),
        ]
        assert s.sum(KEY, 0, 2 * t) == Counts(5, 10)


# ----------------------------------------------------------------- errors


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    """A storage path that cannot be created raises StoreError naming the file."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"cannot open event store .*not-a-dir"):
        SQLiteStore(blocker / "data", RES)


def test_corrupt_file_is_a_store_error(tmp_path: Path) -> None:
    """A file that is not an SQLite database raises StoreError, not sqlite3's error."""
    (tmp_path / FILENAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open event store"):
        SQLiteStore(tmp_path, RES)


def test_bad_resolution_is_rejected(tmp_path: Path) -> None:
    """A resolution that is not a positive number fails in the constructor."""
    with pytest.raises(ValueError, match="resolution must be a positive number"):
        SQLiteStore(tmp_path, 0)


def test_closed_store_raises(tmp_path: Path) -> None:
    """Using a closed store raises StoreError; closing twice is fine."""
    s = SQLiteStore(tmp_path, RES)
    s.close()
    s.close()
    with pytest.raises(StoreError, match="is closed"):
        s.sum(KEY, 0, 1)
    with pytest.raises(StoreError, match="is closed"):
        s.record(KEY, T0, good=True)


# ---------------------------------------------------------------- threads


def test_concurrent_writers_and_readers(store: EventStore) -> None:
    """Threads recording and summing at once lose no event and see no error."""
    errors: list[BaseException] = []
    per_thread = 200

    def write(n: int) -> None:
        try:
            for i in range(per_thread):
                store.record(KEY, T0 + (i % 30) * RES, good=(i + n) % 3 != 0)
        except BaseException as exc:  # collected and asserted in the main thread
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(per_thread):
                c = store.sums(KEY, T0 + 30 * RES, [30 * RES])[30 * RES]
                assert 0 <= c.good <= c.total
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert store.sum(KEY, T0, T0 + 30 * RES).total == 4 * per_thread


def test_second_store_on_one_path_is_refused(tmp_path: Path) -> None:
    """Two stores on one storage path would double-count; the second open fails clearly."""
    first = SQLiteStore(tmp_path, 60.0)
    try:
        with pytest.raises(StoreError, match=r"in use by another slo-exporter process"):
            SQLiteStore(tmp_path, 60.0)
    finally:
        first.close()
    SQLiteStore(tmp_path, 60.0).close()  # free again once the first is closed
