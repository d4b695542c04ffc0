"""The event store in one SQLite file: ``<storage path>/events.db``.

WAL journal, ``synchronous=NORMAL``: a committed transaction survives a crash
of the process; only a power loss may roll back the last few. Tables are in
``schema``. Events, series state, cursor and measured span of one SLO are
written in one transaction (``commit``), so a crash never leaves events
without the cursor that says they were counted.

Window sums go through the memory of ``common.StoreBase`` (running sums and
edge blocks per SLO), so a cycle's windows cost no database read whatever
their length; SQLite stays the durable copy, and memory is updated only
after a transaction committed.

One writer per file: the writer holds an exclusive ``flock`` on the database
file itself (not on a side file that could be deleted while held), and checks
before each write that the path still names the file it has open. A second
process may open the file read-only (``readonly=True``): it takes no lock,
never writes, and sees what the writer commits. A ``store.id`` marker beside
the file (``marker``) turns a deleted, emptied or swapped database into a
``StoreError`` instead of a silent fresh start.

Every SQLite or OS failure surfaces as ``StoreError``. This module must not
do math on windows beyond sums (ratios, budgets live in ``slomath``), must
not log, and must not read a clock: instants are passed in.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts, bucket_start
from slo_exporter.store import schema
from slo_exporter.store.common import (
    MERGE_GAP,
    StoreBase,
    absorb_runs,
    check_finite,
    commit_rows,
    extend_run,
)
from slo_exporter.store.marker import MARKER, Marker, read_marker, write_marker
from slo_exporter.store.protocol import Bucket, Pruned, Retirement, Span

FILENAME = "events.db"
LEGACY_LOCK = "lock"  # the side lock file of schema-1 releases
SCHEMA_VERSION = schema.SCHEMA_VERSION

_UPSERT_BUCKET = """
INSERT INTO bucket (slo_key, start, good, total) VALUES (?, ?, ?, ?)
ON CONFLICT (slo_key, start)
DO UPDATE SET good = good + excluded.good, total = total + excluded.total
"""

_UPSERT_SERIES = """
INSERT INTO series (slo_key, series_key, ts, value) VALUES (?, ?, ?, ?)
ON CONFLICT (slo_key, series_key) DO UPDATE SET ts = excluded.ts, value = excluded.value
"""

# One row write per commit: the cursor and the newest measured run (each
# kept when NULL is given).
_UPSERT_SLO = """
INSERT INTO slo (slo_key, cursor, run_start, run_until) VALUES (?, ?, ?, ?)
ON CONFLICT (slo_key) DO UPDATE SET
    cursor = coalesce(excluded.cursor, cursor),
    run_start = coalesce(excluded.run_start, run_start),
    run_until = coalesce(excluded.run_until, run_until)
"""

_OPENING = "cannot open event store"

_FRESH_START = (
    "to start fresh deliberately, stop slo-exporter and delete the directory {dir} "
    "(or just its {marker} file)"
)


class SQLiteStore(StoreBase):
    """Durable per-SLO event buckets, coverage, cursors, series state and identity.

    Thread-safe: one lock serialises every call. ``path`` is the storage
    directory; the writer creates it if missing. Raises ``StoreError`` when
    the file cannot be opened, is in use by another writer, was written by a
    newer schema, or is not the store the ``store.id`` marker names.
    """

    def __init__(self, path: str | Path, resolution: float, *, readonly: bool = False) -> None:
        super().__init__(resolution, readonly=readonly)
        self.directory = Path(path)
        self.path = self.directory / FILENAME
        self._reading = _Access(self, write=False)
        self._writing = _Access(self, write=True)
        self._conn: sqlite3.Connection | None = None
        self._fd: int | None = None
        self._inode: tuple[int, int] = (0, 0)
        self._data_version: int | None = None
        self._has_data = False
        try:
            with self._opening():
                if readonly:
                    self._open_readonly()
                else:
                    self._open_writer()
        except BaseException:
            self._release()
            raise

    # ------------------------------------------------------------- opening

    def _open_writer(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot open event store {self.path}: {exc.strerror or exc}"
            ) from exc
        marker = read_marker(self.directory)
        if marker is not None and marker.has_data and not self.path.exists():
            raise self._lost("is missing (deleted?)")
        self._fd = self._take_lock()
        self._refuse_legacy_writer()
        conn = self._connect(f"file:{quote(str(self.path))}")
        self._conn = conn
        self._check_identity(conn, marker)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"event store {self.path}: the file system refused WAL journaling "
                f"(got {mode!r}); put the storage path on a local disk"
            )
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._opening(), _transaction(conn):
            meta = self._read_meta(conn)
            self._check_version(meta)
            if "schema_version" in meta:
                old = int(meta["schema_version"])
                file_res = float(meta.get("resolution", self._resolution))
                schema.upgrade(conn, old, file_res)
            schema.create(conn)
            if "resolution" in meta and float(meta["resolution"]) != self._resolution:
                self._rebucket(conn)
            store_id = meta.get("store_id")
            if store_id is None:
                keep = marker is not None and not marker.has_data
                store_id = marker.store_id if keep and marker is not None else uuid.uuid4().hex
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("resolution", repr(self._resolution)),
                    ("store_id", store_id),
                ],
            )
            has_buckets = conn.execute("SELECT EXISTS (SELECT 1 FROM bucket)").fetchone()[0]
        self._store_id = store_id
        # Once events existed, the marker keeps saying so, even after prune.
        self._has_data = bool(has_buckets) or (
            marker is not None and marker.has_data and marker.store_id == store_id
        )
        wanted = Marker(store_id, self._has_data)
        if marker != wanted:
            write_marker(self.directory, wanted)

    def _open_readonly(self) -> None:
        if not self.path.is_file():
            raise StoreError(f"no event store at {self.path}: the file does not exist")
        marker = read_marker(self.directory)
        conn = self._connect(f"file:{quote(str(self.path))}?mode=ro")
        self._conn = conn
        self._check_identity(conn, marker)
        with self._opening():
            meta = self._read_meta(conn)
            self._check_version(meta)
            version = int(meta.get("schema_version", 0))
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"event store {self.path} has schema version {version}; a read-only "
                    "open cannot upgrade it. Start slo-exporter on it once, then read it"
                )
            file_res = float(meta["resolution"])
            if file_res != self._resolution:
                raise StoreError(
                    f"event store {self.path} has {file_res:g} s buckets, not "
                    f"{self._resolution:g} s; open it with the resolution it was written with"
                )
            self._store_id = meta["store_id"]
            self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]

    def _connect(self, uri: str) -> sqlite3.Connection:
        try:
            # isolation_level=None: transactions are opened explicitly with
            # BEGIN IMMEDIATE, so a write never upgrades a read lock midway.
            return sqlite3.connect(
                uri, uri=True, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open event store {self.path}: {exc}") from exc

    def _take_lock(self) -> int:
        """Hold an exclusive ``flock`` on the database file while open.

        Two daemons on one storage path would each advance cursors the other
        does not see and count events twice. The lock is on the database file
        itself, so deleting a side file cannot free it; the kernel drops it
        when the process dies, so a SIGKILL never leaves a stale lock. (SQLite
        locks with ``fcntl``, which is independent of ``flock`` on Linux; the
        descriptor is closed only after the connection, because closing any
        descriptor of a file drops the process's ``fcntl`` locks on it.)
        """
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot open event store {self.path}: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StoreError(
                f"event store {self.path} is in use by another slo-exporter process; "
                "each slo-exporter needs its own --storage.path"
            ) from exc
        st = os.fstat(fd)
        self._inode = (st.st_dev, st.st_ino)
        try:
            self._check_file()
        except StoreError:
            os.close(fd)
            raise
        return fd

    def _refuse_legacy_writer(self) -> None:
        """Refuse while a release of schema 1 runs on this path.

        That release locked a side file named ``lock`` instead of the
        database; during a rolling upgrade it may still be writing.
        """
        legacy = self.directory / LEGACY_LOCK
        try:
            fd = os.open(legacy, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"cannot open event store {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise StoreError(
                f"event store {self.path} is in use by an older slo-exporter process "
                f"(it holds {legacy}); stop it before starting this one"
            ) from exc
        finally:
            os.close(fd)

    def _check_file(self) -> None:
        """The path still names the file this writer has open and locked."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise StoreError(f"event store {self.path}: {exc.strerror or exc}") from exc
        if st is None or (st.st_dev, st.st_ino) != self._inode:
            what = "was deleted" if st is None else "was replaced by another file"
            raise StoreError(
                f"event store {self.path} {what} while slo-exporter had it open; "
                "nothing more is written. Restart slo-exporter to find out what is left"
            )

    def _check_identity(self, conn: sqlite3.Connection, marker: Marker | None) -> None:
        if marker is None or not marker.has_data:
            return
        with self._opening():
            db_id = self._read_meta(conn).get("store_id")
        if db_id is None:
            raise self._lost("is empty (replaced or truncated?)")
        if db_id != marker.store_id:
            raise self._lost(f"belongs to another store (id {db_id}, expected {marker.store_id})")

    def _lost(self, what: str) -> StoreError:
        return StoreError(
            f"event store {self.path} {what}, but {self.directory / MARKER} says this "
            "store held events: its history is not here. Restore the file from a backup, or "
            + _FRESH_START.format(dir=self.directory, marker=MARKER)
        )

    def _check_version(self, meta: Mapping[str, str]) -> None:
        version = int(meta.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"event store {self.path} has schema version {version}, newer than "
                f"this slo-exporter understands ({SCHEMA_VERSION}); upgrade slo-exporter "
                "or point --storage.path elsewhere"
            )

    @staticmethod
    def _read_meta(conn: sqlite3.Connection) -> dict[str, str]:
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return {}
        return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}

    def _rebucket(self, conn: sqlite3.Connection) -> None:
        """Move every bucket into the bucket of the new resolution holding its start.

        Exact when the new resolution is a multiple of the old one; otherwise
        events shift by less than one old bucket, which beats dropping probe
        history that no source can replay.
        """
        # Done inside SQLite so that millions of rows never sit in memory.
        resolution = self._resolution
        conn.create_function(
            "new_bucket", 1, lambda start: bucket_start(start, resolution), deterministic=True
        )
        conn.execute(
            "CREATE TEMP TABLE rebucketed AS SELECT slo_key, new_bucket(start) AS start, "
            "SUM(good) AS good, SUM(total) AS total FROM bucket GROUP BY 1, 2"
        )
        conn.execute("DELETE FROM bucket")
        conn.execute(
            "INSERT INTO bucket (slo_key, start, good, total) "
            "SELECT slo_key, start, good, total FROM rebucketed"
        )
        conn.execute("DROP TABLE rebucketed")

    # ------------------------------------------------------------ helpers

    @contextmanager
    def _opening(self) -> Iterator[None]:
        """While opening: any SQLite error or damaged meta value is a StoreError naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"{_OPENING} {self.path}: {_describe(exc)}") from exc
        except (ValueError, KeyError) as exc:
            raise StoreError(
                f"{_OPENING} {self.path}: the meta table is damaged ({exc!r})"
            ) from exc

    def _refresh(self, conn: sqlite3.Connection) -> None:
        """Read-only: drop cached indexes when the writer committed since the last read."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self._forget_all()

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"event store {self.path} is closed")
        return self._conn

    @staticmethod
    def _drop(conn: sqlite3.Connection, slo_key: str) -> int:
        deleted = conn.execute("DELETE FROM bucket WHERE slo_key = ?", (slo_key,)).rowcount
        conn.execute("DELETE FROM series WHERE slo_key = ?", (slo_key,))
        conn.execute("DELETE FROM measured WHERE slo_key = ?", (slo_key,))
        return int(deleted)

    def _add_span(
        self, conn: sqlite3.Connection, slo_key: str, start: float, until: float
    ) -> Span:
        """Merge ``[start, until)`` into the SLO's measured runs; returns the newest run.

        The newest run lives on the SLO's row (written with the cursor, so a
        span that extends it costs no extra statement); older runs are rows
        of ``measured``. Runs are disjoint and more than ``MERGE_GAP`` apart.
        The caller writes the returned run to the SLO's row.
        """
        last = self._last_run.get(slo_key)
        if last is None:
            row = conn.execute(
                "SELECT run_start, run_until FROM slo WHERE slo_key = ?", (slo_key,)
            ).fetchone()
            if row is None or row[0] is None:
                return (start, until)
            last = (float(row[0]), float(row[1]))
        merge = extend_run(last, start, until)
        if merge is None:
            # Older than the newest run: merge with the closed runs it touches,
            # walking back from the last one that starts by `until`.
            rows = conn.execute(
                "SELECT start, until FROM measured WHERE slo_key = ? AND start <= ? "
                "ORDER BY start DESC",
                (slo_key, until + MERGE_GAP),
            )
            merge = absorb_runs(last, start, until, rows)
            rows.close()
            conn.executemany("DELETE FROM measured WHERE slo_key = ? AND start = ?",
                             [(slo_key, run_start) for run_start in merge.absorbed])
        if merge.closed is not None:
            conn.execute("INSERT INTO measured (slo_key, start, until) VALUES (?, ?, ?)",
                         (slo_key, *merge.closed))
        return merge.newest

    def _note_data(self) -> None:
        """Say in the marker, once, that this store holds events."""
        if not self._has_data:
            write_marker(self.directory, Marker(self._store_id, True))
            self._has_data = True

    # ------------------------------------------------------------- writes

    def ensure_fingerprint(self, slo_key: str, fingerprint: str, *, keep_events: bool) -> bool:
        """Record what defines the SLO's events; True when a different one was stored.

        On a change with ``keep_events=False`` the SLO's events, coverage,
        cursor and series state are dropped so they are read again; with
        ``keep_events=True`` only the fingerprint is replaced. Either way the
        SLO is no longer retired.
        """
        with self._writing as conn, _transaction(conn):
            row = conn.execute(
                "SELECT fingerprint FROM slo WHERE slo_key = ?", (slo_key,)
            ).fetchone()
            changed = row is not None and row[0] is not None and row[0] != fingerprint
            reset = changed and not keep_events
            if reset:
                self._drop(conn, slo_key)
                conn.execute("DELETE FROM slo WHERE slo_key = ?", (slo_key,))
            conn.execute(
                "INSERT INTO slo (slo_key, fingerprint) VALUES (?, ?) ON CONFLICT (slo_key) "
                "DO UPDATE SET fingerprint = excluded.fingerprint, retired_at = NULL",
                (slo_key, fingerprint),
            )
            if reset:
                self._forget(slo_key)
        return changed

    def retire(self, keep: Iterable[str], at: float) -> Retirement:
        """Mark every stored SLO not in ``keep`` retired at ``at`` (unless it already
        is) and restore SLOs in ``keep`` that were retired. Nothing is deleted:
        ``prune`` removes a retired SLO once its retirement is past retention."""
        check_finite("at", at)
        keep = set(keep)
        with self._writing as conn, _transaction(conn):
            rows = conn.execute("SELECT slo_key, retired_at FROM slo ORDER BY slo_key").fetchall()
            retired = tuple(k for k, r in rows if k not in keep and r is None)
            restored = tuple(k for k, r in rows if k in keep and r is not None)
            conn.executemany(
                "UPDATE slo SET retired_at = ? WHERE slo_key = ?", [(at, k) for k in retired]
            )
            conn.executemany(
                "UPDATE slo SET retired_at = NULL WHERE slo_key = ?", [(k,) for k in restored]
            )
        return Retirement(retired=retired, restored=restored)

    def commit(
        self,
        slo_key: str,
        deltas: Mapping[float, tuple[float, float]],
        *,
        cursor: float | None = None,
        series: Mapping[str, tuple[float, float]] | None = None,
        measured: Span | None = None,
    ) -> None:
        """Add events, series state, cursor and measured span in one transaction.

        ``deltas`` maps an instant to ``(good, total)`` events to add to the
        bucket holding it (a bucket start is such an instant); good may be
        negative. ``series`` maps a series key to its last ``(ts, value)``.
        A ``cursor`` of None leaves the cursor as it is. ``measured`` is the
        ``[start, end)`` the read covered. Raises ``ValueError`` for
        non-finite numbers or a backwards span, before anything is written.
        """
        rows = commit_rows(deltas, self._resolution, cursor=cursor, series=series,
                           measured=measured)

        newest: Span | None = None
        with self._writing as conn:
            with _transaction(conn):
                conn.executemany(_UPSERT_BUCKET, [(slo_key, s, g, t) for s, g, t in rows])
                if series:
                    conn.executemany(
                        _UPSERT_SERIES,
                        [(slo_key, key, ts, value) for key, (ts, value) in series.items()],
                    )
                if measured is not None and measured[1] > measured[0]:
                    newest = self._add_span(conn, slo_key, *measured)
                # Every SLO with data has a row, so listing SLOs stays cheap.
                run_start, run_until = newest or (None, None)
                conn.execute(_UPSERT_SLO, (slo_key, cursor, run_start, run_until))
            self._committed(slo_key, rows, newest)
            if rows:
                self._note_data()

    def prune(self, before: float) -> Pruned:
        """Delete what retention no longer needs; returns what was deleted.

        Buckets that end at or before ``before``, coverage before it, series
        last seen before it, and every SLO retired before it (its events,
        cursor, series and fingerprint).
        """
        check_finite("before", before)
        # A bucket is kept while any part of it is at or after `before`.
        last_start = before - self._resolution
        with self._writing as conn:
            with _transaction(conn):
                deleted = conn.execute(
                    "DELETE FROM bucket WHERE start <= ?", (last_start,)
                ).rowcount
                conn.execute("DELETE FROM series WHERE ts < ?", (before,))
                conn.execute("DELETE FROM measured WHERE until <= ?", (before,))
                conn.execute("UPDATE measured SET start = ? WHERE start < ?", (before, before))
                conn.execute(
                    "UPDATE slo SET run_start = NULL, run_until = NULL WHERE run_until <= ?",
                    (before,),
                )
                conn.execute("UPDATE slo SET run_start = ? WHERE run_start < ?", (before, before))
                gone = tuple(
                    str(row[0])
                    for row in conn.execute(
                        "SELECT slo_key FROM slo WHERE retired_at < ? ORDER BY slo_key", (before,)
                    ).fetchall()
                )
                for key in gone:
                    deleted += self._drop(conn, key)
                    conn.execute("DELETE FROM slo WHERE slo_key = ?", (key,))
            self._pruned(gone, last_start)
        return Pruned(buckets=int(deleted), slos=gone)

    # -------------------------------------------------------------- reads

    def cursor(self, slo_key: str) -> float | None:
        """The instant up to which the SLO's source has been read, if any."""
        with self._reading as conn:
            row = conn.execute("SELECT cursor FROM slo WHERE slo_key = ?", (slo_key,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def fingerprint(self, slo_key: str) -> str | None:
        with self._reading as conn:
            row = conn.execute(
                "SELECT fingerprint FROM slo WHERE slo_key = ?", (slo_key,)
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def retired(self) -> dict[str, float]:
        """Retired SLO keys and when they were retired."""
        with self._reading as conn:
            rows = conn.execute(
                "SELECT slo_key, retired_at FROM slo WHERE retired_at IS NOT NULL"
            ).fetchall()
        return {str(k): float(at) for k, at in rows}

    def series(self, slo_key: str) -> dict[str, tuple[float, float]]:
        """Last ``(ts, value)`` of every counter series of the SLO."""
        with self._reading as conn:
            rows = conn.execute(
                "SELECT series_key, ts, value FROM series WHERE slo_key = ?", (slo_key,)
            ).fetchall()
        return {key: (float(ts), float(value)) for key, ts, value in rows}

    def _sync(self) -> None:
        if self._data_version is not None:  # read-only: drops stale memory on entry
            with self._reading:
                pass

    def _read_sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events of the stored buckets whose start lies in ``[start, end)``."""
        with self._reading as conn:
            good, total = conn.execute(
                "SELECT TOTAL(good), TOTAL(total) FROM bucket "
                "WHERE slo_key = ? AND start >= ? AND start < ?",
                (slo_key, start, end),
            ).fetchone()
        return Counts(float(good), float(total))

    def _read_buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """``(start, good, total)`` of each stored bucket with start in ``[start, end)``."""
        with self._reading as conn:
            rows = conn.execute(
                "SELECT start, good, total FROM bucket "
                "WHERE slo_key = ? AND start >= ? AND start < ? ORDER BY start",
                (slo_key, start, end),
            ).fetchall()
        return [(float(s), float(g), float(t)) for s, g, t in rows]

    def first_bucket(self, slo_key: str) -> float | None:
        """Start of the oldest stored bucket of the SLO, or None when it has none."""
        with self._reading as conn:
            row = conn.execute(
                "SELECT MIN(start) FROM bucket WHERE slo_key = ?", (slo_key,)
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        """The measured runs within ``[start, end)``, clipped to it, oldest first."""
        with self._reading as conn:
            rows = conn.execute(
                "SELECT start, until FROM measured WHERE slo_key = :key "
                "AND start < :end AND until > :start "
                "UNION ALL SELECT run_start, run_until FROM slo WHERE slo_key = :key "
                "AND run_start < :end AND run_until > :start ORDER BY 1",
                {"key": slo_key, "start": start, "end": end},
            ).fetchall()
        return [(max(float(s), start), min(float(u), end)) for s, u in rows]

    def slo_keys(self) -> tuple[str, ...]:
        """Every SLO the store holds anything for (retired ones too), sorted."""
        with self._reading as conn:
            rows = conn.execute("SELECT slo_key FROM slo ORDER BY slo_key").fetchall()
        return tuple(str(row[0]) for row in rows)

    # ---------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the file; later calls raise ``StoreError``. Idempotent."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        fd, self._fd = self._fd, None
        self._forget_all()
        try:
            if conn is not None:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"event store {self.path}: {exc}") from exc
        finally:
            if fd is not None:
                os.close(fd)  # after the connection: releases the flock


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (also a failed COMMIT)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may already have rolled back on its own (disk full, I/O error).
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class _Access:
    """``with store._reading as conn`` / ``with store._writing as conn``.

    Holds the store's lock, hands out the open connection and turns SQLite
    errors into ``StoreError``. A writer is refused on a read-only store and
    when the path no longer names the file it locked; callers open the
    transaction themselves and update memory after COMMIT, still under the
    lock. A reader of a read-only store first drops indexes the writer made
    stale. A class rather than a generator context manager: it is entered on
    every window sum, and this keeps a sum within a few microseconds.
    """

    __slots__ = ("_store", "_write")

    def __init__(self, store: SQLiteStore, *, write: bool) -> None:
        self._store = store
        self._write = write

    def __enter__(self) -> sqlite3.Connection:
        store = self._store
        store._lock.acquire()
        try:
            conn = store._open_conn()
            if self._write:
                if store.readonly:
                    raise StoreError(f"event store {store.path} is open read-only")
                store._check_file()
            elif store._data_version is not None:
                store._refresh(conn)
        except BaseException as exc:
            store._lock.release()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"event store {store.path}: {_describe(exc)}") from exc
            raise
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"event store {self._store.path}: {_describe(exc)}") from exc


def _describe(exc: sqlite3.Error) -> str:
    """SQLite's message and code, with what to do for the faults an operator must fix."""
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None)
    text = f"{exc} ({name})" if name else str(exc)
    if code is None:
        return text
    primary = code & 0xFF
    if primary == sqlite3.SQLITE_FULL:
        return f"{text}: free space on the storage path"
    if primary == sqlite3.SQLITE_READONLY:
        return f"{text}: slo-exporter needs write access to the storage path"
    if primary == sqlite3.SQLITE_IOERR:
        return f"{text}: check the storage device, its free space and file size limits"
    return text

