"""Specification of loud store faults: a full disk, a write error, a deleted or swapped
database and a second writer each raise StoreError; history never silently starts over."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import FILENAME, EventStore, SQLiteStore
from slo_exporter.store.marker import MARKER
from tests.store.conftest import Backend
from tests.store.values import KEY, RES, T0


def run_child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


# ------------------------------------------------------------ full disk


def test_disk_full_on_commit_is_a_store_error(sqlite_store: SQLiteStore) -> None:
    """SQLITE_FULL raises StoreError saying the disk is full; nothing half-written stays."""
    sqlite_store.commit(KEY, {T0: (1, 1)}, cursor=T0)
    assert sqlite_store.sum(KEY, 0, 2 * T0) == Counts(1, 1)
    conn = sqlite_store._conn  # fault injection: cap the file at its current size
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    many = {T0 + i * RES: (1.0, 1.0) for i in range(1, 5000)}
    # Settled buckets compress to a few bytes each; the series state takes room.
    state = {f"series-{i}": (T0, float(i)) for i in range(3000)}
    with pytest.raises(StoreError, match=r"database or disk is full \(SQLITE_FULL\): free space"):
        sqlite_store.commit(KEY, many, cursor=T0 + 5000 * RES, series=state)
    with pytest.raises(StoreError, match="disk is full"):
        sqlite_store.commit("probe/new", {T0 + i * RES: (1.0, 1.0) for i in range(2000)},
                            series=state)
    assert sqlite_store.cursor(KEY) == T0
    assert sqlite_store.sum(KEY, 0, 2 * T0) == Counts(1, 1)
    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed: writing works again
    sqlite_store.commit(KEY, many)
    assert sqlite_store.sum(KEY, 0, 2 * T0) == Counts(5000, 5000)


WRITE_LIMITED = """
    import resource, signal, sys
    from slo_exporter.errors import StoreError
    from slo_exporter.store import SQLiteStore
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    limit = int(sys.argv[2])
    if limit == 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
    try:
        store = SQLiteStore(sys.argv[1], 60.0)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        for i in range(100_000):
            store.commit("a/b", {{1_700_000_040.0 + i * 60: (1.0, 1.0)}}, cursor=1.0 + i)
    except StoreError as exc:
        print("StoreError:", exc)
    except BaseException as exc:
        print("other:", type(exc).__name__, exc)
    else:
        print("no error")
"""


def test_write_error_from_the_os_is_a_store_error(tmp_path: Path) -> None:
    """A write the OS refuses (file size limit) raises StoreError, never a raw sqlite3 error."""
    done = run_child(WRITE_LIMITED.replace("{{", "{").replace("}}", "}"), str(tmp_path), "200000")
    assert done.stdout.startswith("StoreError: event store"), done.stdout + done.stderr
    assert "disk I/O error (SQLITE_IOERR_WRITE): check the storage device" in done.stdout


def test_no_room_at_start_is_a_store_error_with_the_reason(tmp_path: Path) -> None:
    """When no file can be written at start, opening raises StoreError with the OS reason."""
    done = run_child(WRITE_LIMITED.replace("{{", "{").replace("}}", "}"), str(tmp_path), "0")
    assert done.stdout.startswith("StoreError: cannot open event store"), done.stdout + done.stderr


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    """A storage path that cannot be created raises StoreError naming the file and the reason."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match=r"cannot open event store .*not-a-dir.*: Not a directory"):
        SQLiteStore(blocker / "data", RES)


def test_write_on_a_read_only_database_is_a_store_error(tmp_path: Path) -> None:
    """SQLite refusing to write (read-only database) is a StoreError that says so."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, {T0: (1, 1)})
        conn = s._conn  # fault injection: no more writes
        assert conn is not None
        conn.execute("PRAGMA query_only = ON")
        with pytest.raises(StoreError, match="readonly database"):
            s.record(KEY, T0, good=True)
        assert s.sum(KEY, 0, 2 * T0) == Counts(1, 1)


# ------------------------------------------------------ lost database


def filled(directory: Path) -> None:
    with SQLiteStore(directory, RES) as s:
        s.commit(KEY, {T0: (1, 1)}, cursor=T0)


def test_deleted_database_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    """A store that held events and lost events.db refuses to open and creates nothing."""
    filled(tmp_path)
    for name in os.listdir(tmp_path):
        if name.startswith(FILENAME):
            (tmp_path / name).unlink()
    with pytest.raises(StoreError, match=r"is missing \(deleted\?\).*delete the directory"):
        SQLiteStore(tmp_path, RES)
    assert not (tmp_path / FILENAME).exists()


def test_emptied_database_is_an_error(tmp_path: Path) -> None:
    """An events.db truncated to nothing next to a store that held events is an error."""
    filled(tmp_path)
    (tmp_path / FILENAME).write_bytes(b"")
    with pytest.raises(StoreError, match=r"is empty .*says this store held events"):
        SQLiteStore(tmp_path, RES)
    with pytest.raises(StoreError, match=r"is empty"):
        SQLiteStore(tmp_path, RES, readonly=True)


def test_database_of_another_store_is_an_error(tmp_path: Path) -> None:
    """An events.db copied in from another store is refused, naming both ids."""
    filled(tmp_path / "a")
    filled(tmp_path / "b")
    shutil.copy(tmp_path / "b" / FILENAME, tmp_path / "a" / FILENAME)
    with pytest.raises(StoreError, match=r"belongs to another store \(id \w+, expected \w+\)"):
        SQLiteStore(tmp_path / "a", RES)


def test_deleting_the_directory_starts_fresh_deliberately(tmp_path: Path) -> None:
    """Removing the whole storage directory is the way to start over, and it works."""
    filled(tmp_path / "data")
    shutil.rmtree(tmp_path / "data")
    with SQLiteStore(tmp_path / "data", RES) as s:
        assert s.slo_keys() == ()


def test_store_without_events_may_start_over(tmp_path: Path) -> None:
    """A store that never held events may lose its file without complaint."""
    SQLiteStore(tmp_path, RES).close()
    (tmp_path / FILENAME).unlink()
    SQLiteStore(tmp_path, RES).close()


def test_lost_marker_is_written_again(tmp_path: Path) -> None:
    """A deleted store.id is rebuilt from the database, which stays the authority."""
    filled(tmp_path)
    before = (tmp_path / MARKER).read_text()
    (tmp_path / MARKER).unlink()
    with SQLiteStore(tmp_path, RES) as s:
        assert s.sum(KEY, 0, 2 * T0) == Counts(1, 1)
    assert (tmp_path / MARKER).read_text() == before


def test_marker_says_data_once_the_first_event_is_committed(tmp_path: Path) -> None:
    """store.id records the store's id at once and "has data" after the first event."""
    with SQLiteStore(tmp_path, RES) as s:
        assert f'"store_id": "{s.store_id}", "has_data": false' in (tmp_path / MARKER).read_text()
        s.commit(KEY, {}, cursor=T0)
        assert '"has_data": false' in (tmp_path / MARKER).read_text()
        s.record(KEY, T0, good=True)
        assert '"has_data": true' in (tmp_path / MARKER).read_text()
        s.prune(2 * T0)
    assert '"has_data": true' in (tmp_path / MARKER).read_text()


def test_damaged_marker_is_a_store_error(tmp_path: Path) -> None:
    """A store.id that cannot be read is refused with what to do about it."""
    filled(tmp_path)
    (tmp_path / MARKER).write_text("{not json")
    with pytest.raises(StoreError, match=r"store\.id is damaged .*delete the damaged file"):
        SQLiteStore(tmp_path, RES)


def test_database_deleted_while_open_stops_writes(sqlite_store: SQLiteStore) -> None:
    """Deleting events.db under a running writer makes the next write fail loudly."""
    sqlite_store.commit(KEY, {T0: (1, 1)})
    sqlite_store.path.unlink()
    with pytest.raises(StoreError, match="was deleted while slo-exporter had it open"):
        sqlite_store.record(KEY, T0, good=True)


def test_database_replaced_while_open_stops_writes(sqlite_store: SQLiteStore) -> None:
    """Replacing events.db under a running writer makes the next write fail loudly."""
    sqlite_store.commit(KEY, {T0: (1, 1)})
    sqlite_store.path.rename(sqlite_store.path.with_name("moved.db"))
    sqlite_store.path.write_bytes(b"")
    with pytest.raises(StoreError, match="was replaced by another file"):
        sqlite_store.commit(KEY, {}, cursor=T0)


# ------------------------------------------------------------- one writer


HOLD = """
    import sys, time
    from slo_exporter.store import SQLiteStore
    store = SQLiteStore(sys.argv[1], 60.0)
    for i in range(int(sys.argv[2])):
        store.commit("a/b", {1_700_000_040.0 + i * 60: (1.0, 2.0)}, cursor=1.0 + i,
                     measured=(1_700_000_040.0 + i * 60, 1_700_000_100.0 + i * 60))
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(int(sys.argv[2]), 2 * int(sys.argv[2])):
        store.commit("a/b", {1_700_000_040.0 + i * 60: (1.0, 2.0)}, cursor=1.0 + i)
    print("more", flush=True)
    sys.stdin.readline()
"""


def hold(directory: Path, commits: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD), str(directory), str(commits)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.close()
    proc.wait(timeout=30)
    proc.stdout.close()


def test_second_writer_in_another_process_is_refused(tmp_path: Path) -> None:
    """A writer in another process holds the database; removing side files does not free it."""
    proc = hold(tmp_path, 1)
    try:
        (tmp_path / MARKER).unlink()
        (tmp_path / "lock").unlink(missing_ok=True)
        with pytest.raises(StoreError, match="in use by another slo-exporter process"):
            SQLiteStore(tmp_path, RES)
    finally:
        release(proc)
    SQLiteStore(tmp_path, RES).close()  # free once the holder exited


def test_second_store_on_one_path_is_refused(tmp_path: Path) -> None:
    """Two writers in one process would double-count; the second open fails clearly."""
    first = SQLiteStore(tmp_path, RES)
    try:
        with pytest.raises(StoreError, match="in use by another slo-exporter process"):
            SQLiteStore(tmp_path, RES)
    finally:
        first.close()
    SQLiteStore(tmp_path, RES).close()


def test_read_only_open_while_another_process_writes(tmp_path: Path) -> None:
    """A read-only store opens while the writer holds the lock, and sees its later commits."""
    proc = hold(tmp_path, 10)
    try:
        with SQLiteStore(tmp_path, RES, readonly=True) as ro:
            assert ro.readonly
            assert ro.sum("a/b", 0, 2 * T0) == Counts(10, 20)
            assert ro.sums("a/b", T0 + 10 * RES, [5 * RES]) == {5 * RES: Counts(5, 10)}
            assert ro.cursor("a/b") == 10.0
            assert ro.measured("a/b", 0, 2 * T0) == 10 * RES
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "more"
            assert ro.sum("a/b", 0, 2 * T0) == Counts(20, 40)  # the cached index was refreshed
            assert ro.first_bucket("a/b") == T0
            with pytest.raises(StoreError, match="is open read-only"):
                ro.record("a/b", T0, good=True)
            with pytest.raises(StoreError, match="is open read-only"):
                ro.prune(T0)
    finally:
        release(proc)


def test_read_only_open_beside_a_writer_in_this_process(
    backend: Backend, store: EventStore
) -> None:
    """Two instances: a read-only one sees what the writer commits, and never writes."""
    store.commit(KEY, {T0: (1, 1)})
    with backend.open(readonly=True) as ro:
        assert ro.readonly
        assert ro.sum(KEY, 0, 2 * T0) == Counts(1, 1)
        store.commit(KEY, {T0 + RES: (0, 1)})
        assert ro.sum(KEY, 0, 2 * T0) == Counts(1, 2)
        with pytest.raises(StoreError, match="is open read-only"):
            ro.ensure_fingerprint(KEY, "f", keep_events=True)
    store.commit(KEY, {T0: (1, 1)})  # the writer is unaffected by the reader closing
    assert store.sum(KEY, 0, 2 * T0) == Counts(2, 3)


def test_read_only_open_of_a_missing_store_is_an_error(tmp_path: Path) -> None:
    """A read-only open never creates a store."""
    with pytest.raises(StoreError, match=r"no event store at .*does not exist"):
        SQLiteStore(tmp_path / "nothing", RES, readonly=True)
    assert not (tmp_path / "nothing").exists()


def test_read_only_open_after_the_writer_closed(tmp_path: Path) -> None:
    """A cleanly closed store (no WAL files left) opens read-only."""
    filled(tmp_path)
    with SQLiteStore(tmp_path, RES, readonly=True) as ro:
        assert ro.sum(KEY, 0, 2 * T0) == Counts(1, 1)


def test_read_only_open_with_another_resolution_is_an_error(tmp_path: Path) -> None:
    """A read-only open cannot re-bucket, so a different resolution is refused."""
    filled(tmp_path)
    with pytest.raises(StoreError, match="has 60 s buckets, not 300 s"):
        SQLiteStore(tmp_path, 300.0, readonly=True)


def test_reader_survives_a_sqlite_reader_in_the_same_file(tmp_path: Path) -> None:
    """Plain sqlite3 readers of the file (backups, debugging) do not disturb the writer."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, {T0: (1, 1)})
        conn = sqlite3.connect(f"file:{tmp_path / FILENAME}?mode=ro", uri=True)
        try:
            assert conn.execute("SELECT COUNT(*) FROM bucket").fetchone() == (1,)
        finally:
            conn.close()
        s.commit(KEY, {T0: (1, 1)})
        assert s.sum(KEY, 0, 2 * T0) == Counts(2, 2)


LEGACY_HOLD = """
    import fcntl, sys
    handle = open(sys.argv[1], "a+")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_a_running_older_release_keeps_the_new_one_off(tmp_path: Path) -> None:
    """While a schema-1 release holds its side lock file, the new release does not open."""
    filled(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(LEGACY_HOLD), str(tmp_path / "lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="in use by an older slo-exporter process"):
            SQLiteStore(tmp_path, RES)
    finally:
        release(proc)
    SQLiteStore(tmp_path, RES).close()  # the side file alone does not keep it off


def test_damaged_meta_table_is_a_store_error(tmp_path: Path) -> None:
    """A meta value that cannot be read is a StoreError, not a ValueError traceback."""
    filled(tmp_path)
    conn = sqlite3.connect(tmp_path / FILENAME)
    with conn:
        conn.execute("UPDATE meta SET value = 'sixty' WHERE key = 'resolution'")
    conn.close()
    with pytest.raises(StoreError, match="the meta table is damaged"):
        SQLiteStore(tmp_path, RES)
