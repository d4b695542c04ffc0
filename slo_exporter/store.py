"""Embedded event store: per-SLO good/total counts in fixed time buckets.

Owns the one SQLite file ``<storage path>/events.db`` (WAL journal,
``synchronous=NORMAL``: a committed transaction survives a crash of the
process; only a power loss may roll back the last few). Per SLO it keeps

* ``bucket``: good and total events per bucket of ``resolution`` seconds,
  keyed by the bucket start (a multiple of the resolution);
* ``slo``: the SLI fingerprint the events were counted under, and the
  coverage cursor (the instant up to which the source has been read);
* ``series``: the last raw sample ``(ts, value)`` of every counter series, so
  the next cycle continues the exact counter accounting where it stopped.

Events, series state and cursor of one SLO are written in one transaction
(``commit``), so a crash never leaves events without the cursor that says
they were counted.

Reads go through an in-memory index per SLO (sorted bucket starts and prefix
sums, loaded lazily from SQLite), so summing a window costs two binary
searches whatever its length. SQLite stays the durable copy; the index is
updated only after a transaction has committed.

Sums over arbitrary ``[start, end)`` ranges and the bucket listing are what
calendar periods, timeslices and maintenance exclusions build on.

This module must not do math on windows beyond sums: ratios, burn rates and
budgets live in ``slomath``. It must not read a clock either.
"""

from __future__ import annotations

import fcntl
import math
import os
import sqlite3
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts, bucket_start

SCHEMA_VERSION = 1
FILENAME = "events.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS slo (
    slo_key     TEXT PRIMARY KEY,
    fingerprint TEXT,
    cursor      REAL
);
CREATE TABLE IF NOT EXISTS bucket (
    slo_key TEXT NOT NULL,
    start   REAL NOT NULL,
    good    REAL NOT NULL,
    total   REAL NOT NULL,
    PRIMARY KEY (slo_key, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
    slo_key    TEXT NOT NULL,
    series_key TEXT NOT NULL,
    ts         REAL NOT NULL,
    value      REAL NOT NULL,
    PRIMARY KEY (slo_key, series_key)
) WITHOUT ROWID;
"""

_UPSERT_BUCKET = """
INSERT INTO bucket (slo_key, start, good, total) VALUES (?, ?, ?, ?)
ON CONFLICT (slo_key, start)
DO UPDATE SET good = good + excluded.good, total = total + excluded.total
"""

_UPSERT_SERIES = """
INSERT INTO series (slo_key, series_key, ts, value) VALUES (?, ?, ?, ?)
ON CONFLICT (slo_key, series_key) DO UPDATE SET ts = excluded.ts, value = excluded.value
"""

_UPSERT_CURSOR = """
INSERT INTO slo (slo_key, cursor) VALUES (?, ?)
ON CONFLICT (slo_key) DO UPDATE SET cursor = excluded.cursor
"""


class _Index:
    """Sorted bucket starts of one SLO with prefix sums of good and total.

    ``cum_good[i]`` is the sum of the first ``i`` buckets, so any run of
    buckets sums to a difference of two entries. Typed arrays keep a 30-day
    SLO at 60 s buckets near 1 MB (24 bytes a bucket).
    """

    __slots__ = ("cum_good", "cum_total", "starts")

    def __init__(self, rows: Iterable[tuple[float, float, float]] = ()) -> None:
        self.starts = array("d")
        self.cum_good = array("d", [0.0])
        self.cum_total = array("d", [0.0])
        g = t = 0.0
        for start, good, total in rows:  # rows come ordered by start
            g += good
            t += total
            self.starts.append(start)
            self.cum_good.append(g)
            self.cum_total.append(t)

    def __len__(self) -> int:
        return len(self.starts)

    def add(self, deltas: Sequence[tuple[float, float, float]]) -> None:
        """Add ``(start, good, total)`` deltas, ``deltas`` sorted by start."""
        if not deltas:
            return
        # Create the missing buckets first, each with a zero value: its prefix
        # entry repeats the previous one.
        for start, _, _ in deltas:
            i = bisect_left(self.starts, start)
            if i == len(self.starts) or self.starts[i] != start:
                self.starts.insert(i, start)
                self.cum_good.insert(i + 1, self.cum_good[i])
                self.cum_total.insert(i + 1, self.cum_total[i])
        # Then one pass over the prefix entries from the first touched bucket
        # to the end. Updates land near the newest bucket, so this is short.
        first = bisect_left(self.starts, deltas[0][0])
        pending = iter(deltas)
        nxt = next(pending, None)
        add_g = add_t = 0.0
        for i in range(first, len(self.starts)):
            while nxt is not None and nxt[0] == self.starts[i]:
                add_g += nxt[1]
                add_t += nxt[2]
                nxt = next(pending, None)
            self.cum_good[i + 1] += add_g
            self.cum_total[i + 1] += add_t

    def sum(self, start: float, end: float) -> Counts:
        i = bisect_left(self.starts, start)
        j = bisect_left(self.starts, end)
        if j <= i:
            return Counts()
        return Counts(self.cum_good[j] - self.cum_good[i], self.cum_total[j] - self.cum_total[i])

    def drop_before(self, count: int) -> None:
        """Forget the ``count`` oldest buckets (differences stay valid)."""
        del self.starts[:count]
        del self.cum_good[:count]
        del self.cum_total[:count]


class EventStore:
    """Durable per-SLO event buckets, coverage cursors and counter series state.

    Thread-safe: one lock serialises every call. ``path`` is the storage
    directory; it is created if missing. Raises ``StoreError`` when the file
    cannot be opened or was written by a newer schema.
    """

    def __init__(self, path: str | Path, resolution: float) -> None:
        if not (math.isfinite(resolution) and resolution > 0.0):
            raise ValueError(f"resolution must be a positive number of seconds, got {resolution!r}")
        self.resolution = float(resolution)
        self.path = Path(path) / FILENAME
        self._lock = threading.Lock()
        self._index: dict[str, _Index] = {}
        self._conn: sqlite3.Connection | None = None
        self._lockfile = self._take_lock(self.path.parent)
        try:
            # isolation_level=None: transactions are opened explicitly with
            # BEGIN IMMEDIATE, so a write never upgrades a read lock midway.
            conn = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            self._lockfile.close()
            raise StoreError(f"cannot open event store {self.path}: {exc}") from exc
        try:
            self._setup(conn)
        except (sqlite3.Error, ValueError) as exc:  # ValueError: a damaged meta table
            conn.close()
            self._lockfile.close()
            raise StoreError(f"cannot open event store {self.path}: {exc}") from exc
        except StoreError:
            conn.close()
            self._lockfile.close()
            raise
        self._conn = conn

    @staticmethod
    def _take_lock(directory: Path) -> IO[str]:
        """Hold an exclusive lock on ``<dir>/lock`` while open.

        Two daemons on one storage path would each advance cursors the other
        does not see and count events twice. The kernel drops the lock when
        the process dies, so a SIGKILL never leaves a stale lock behind.
        """
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle = (directory / "lock").open("a+")
        except OSError as exc:
            raise StoreError(f"cannot open event store in {directory}: {exc}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StoreError(
                f"event store {directory} is in use by {holder}; "
                "each slo-exporter needs its own --storage.path"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        return handle

    # ------------------------------------------------------------- set-up

    def _setup(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"event store {self.path}: the file system refused WAL journaling "
                f"(got {mode!r}); put the storage path on a local disk"
            )
        conn.execute("PRAGMA synchronous=NORMAL")
        with _transaction(conn):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            version = int(meta.get("schema_version", SCHEMA_VERSION))
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"event store {self.path} has schema version {version}, newer than "
                    f"this slo-exporter understands ({SCHEMA_VERSION}); upgrade slo-exporter "
                    "or point --storage.path elsewhere"
                )
            old_resolution = float(meta["resolution"]) if "resolution" in meta else None
            if old_resolution is not None and old_resolution != self.resolution:
                self._rebucket(conn)
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("schema_version", str(SCHEMA_VERSION)), ("resolution", repr(self.resolution))],
            )

    def _rebucket(self, conn: sqlite3.Connection) -> None:
        """Move every bucket into the bucket of the new resolution holding its start.

        Exact when the new resolution is a multiple of the old one; otherwise
        events shift by less than one old bucket, which beats dropping probe
        history that no source can replay.
        """
        # Done inside SQLite so that millions of rows never sit in memory.
        resolution = self.resolution
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
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise StoreError(f"event store {self.path} is closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(f"event store {self.path}: {exc}") from exc

    def _loaded(self, conn: sqlite3.Connection, slo_key: str) -> _Index:
        index = self._index.get(slo_key)
        if index is None:
            rows = conn.execute(
                "SELECT start, good, total FROM bucket WHERE slo_key = ? ORDER BY start",
                (slo_key,),
            )
            index = self._index[slo_key] = _Index(rows)
        return index

    def _keys(self, conn: sqlite3.Connection) -> tuple[str, ...]:
        rows = conn.execute("SELECT slo_key FROM slo ORDER BY slo_key").fetchall()
        return tuple(row[0] for row in rows)

    def _drop(self, conn: sqlite3.Connection, slo_key: str) -> None:
        conn.execute("DELETE FROM bucket WHERE slo_key = ?", (slo_key,))
        conn.execute("DELETE FROM series WHERE slo_key = ?", (slo_key,))
        conn.execute("DELETE FROM slo WHERE slo_key = ?", (slo_key,))

    # ------------------------------------------------------------- writes

    def ensure_fingerprint(self, slo_key: str, fingerprint: str) -> bool:
        """Record the SLI definition the events are counted under.

        When a different fingerprint is stored, the SLO's events, series
        state and cursor are dropped (they count something else) and True is
        returned.
        """
        with self._locked() as conn:
            with _transaction(conn):
                row = conn.execute(
                    "SELECT fingerprint FROM slo WHERE slo_key = ?", (slo_key,)
                ).fetchone()
                reset = row is not None and row[0] is not None and row[0] != fingerprint
                if reset:
                    self._drop(conn, slo_key)
                conn.execute(
                    "INSERT INTO slo (slo_key, fingerprint) VALUES (?, ?) "
                    "ON CONFLICT (slo_key) DO UPDATE SET fingerprint = excluded.fingerprint",
                    (slo_key, fingerprint),
                )
            if reset:
                self._index.pop(slo_key, None)
        return reset

    def commit(
        self,
        slo_key: str,
        deltas: Mapping[float, tuple[float, float]],
        *,
        cursor: float | None = None,
        series: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        """Add events, update series state and move the cursor, in one transaction.

        ``deltas`` maps an instant to ``(good, total)`` events to add to the
        bucket holding it (a bucket start is such an instant); good may be
        negative. ``series`` maps a series key to its last ``(ts, value)``.
        A ``cursor`` of None leaves the cursor as it is. Raises ``ValueError``
        for non-finite numbers, before anything is written.
        """
        merged: dict[float, list[float]] = {}
        for ts, (good, total) in deltas.items():
            _check_finite(f"delta at {ts!r}", ts, good, total)
            if good == 0.0 and total == 0.0:
                continue
            acc = merged.setdefault(bucket_start(ts, self.resolution), [0.0, 0.0])
            acc[0] += good
            acc[1] += total
        rows = sorted((start, g, t) for start, (g, t) in merged.items())
        for key, (ts, value) in (series or {}).items():
            _check_finite(f"series {key!r}", ts, value)
        if cursor is not None:
            _check_finite("cursor", cursor)

        with self._locked() as conn:
            with _transaction(conn):
                conn.executemany(_UPSERT_BUCKET, [(slo_key, s, g, t) for s, g, t in rows])
                if series:
                    conn.executemany(
                        _UPSERT_SERIES,
                        [(slo_key, key, ts, value) for key, (ts, value) in series.items()],
                    )
                if cursor is not None:
                    conn.execute(_UPSERT_CURSOR, (slo_key, cursor))
                else:
                    # Every SLO with data has a row, so listing SLOs stays cheap.
                    conn.execute("INSERT OR IGNORE INTO slo (slo_key) VALUES (?)", (slo_key,))
            # Only after COMMIT: memory never runs ahead of the disk. An index
            # not loaded yet will read these rows when it is.
            index = self._index.get(slo_key)
            if index is not None:
                index.add(rows)

    def record(self, slo_key: str, ts: float, good: bool) -> None:
        """One event (a probe result) at instant ``ts``."""
        self.commit(slo_key, {ts: (1.0 if good else 0.0, 1.0)})

    def prune(self, before: float) -> int:
        """Delete buckets that end at or before ``before`` and series last seen
        before it; returns the number of buckets deleted."""
        _check_finite("before", before)
        # A bucket is kept while any part of it is at or after `before`.
        last_start = before - self.resolution
        with self._locked() as conn:
            with _transaction(conn):
                deleted = conn.execute(
                    "DELETE FROM bucket WHERE start <= ?", (last_start,)
                ).rowcount
                conn.execute("DELETE FROM series WHERE ts < ?", (before,))
            for index in self._index.values():
                index.drop_before(bisect_right(index.starts, last_start))
        return int(deleted)

    def forget(self, keep: Iterable[str]) -> tuple[str, ...]:
        """Drop every SLO not in ``keep``; returns the keys dropped, sorted."""
        keep = set(keep)
        with self._locked() as conn:
            with _transaction(conn):
                gone = tuple(k for k in self._keys(conn) if k not in keep)
                for key in gone:
                    self._drop(conn, key)
            for key in gone:
                self._index.pop(key, None)
        return gone

    # -------------------------------------------------------------- reads

    def cursor(self, slo_key: str) -> float | None:
        """The instant up to which the SLO's source has been read, if any."""
        with self._locked() as conn:
            row = conn.execute("SELECT cursor FROM slo WHERE slo_key = ?", (slo_key,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def fingerprint(self, slo_key: str) -> str | None:
        with self._locked() as conn:
            row = conn.execute(
                "SELECT fingerprint FROM slo WHERE slo_key = ?", (slo_key,)
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def series(self, slo_key: str) -> dict[str, tuple[float, float]]:
        """Last ``(ts, value)`` of every counter series of the SLO."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT series_key, ts, value FROM series WHERE slo_key = ?", (slo_key,)
            ).fetchall()
        return {key: (float(ts), float(value)) for key, ts, value in rows}

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events in the buckets whose start lies in ``[start, end)``."""
        with self._locked() as conn:
            return self._loaded(conn, slo_key).sum(start, end)

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        """Events of each window ``[end - w, end)``, keyed by window."""
        with self._locked() as conn:
            index = self._loaded(conn, slo_key)
            return {w: index.sum(end - w, end) for w in windows}

    def first_bucket(self, slo_key: str) -> float | None:
        """Start of the oldest stored bucket of the SLO, or None when it has none."""
        with self._locked() as conn:
            index = self._loaded(conn, slo_key)
            return index.starts[0] if len(index) else None

    def buckets(self, slo_key: str, start: float, end: float) -> list[tuple[float, float, float]]:
        """``(start, good, total)`` of each stored bucket with start in ``[start, end)``."""
        with self._locked() as conn:
            rows = conn.execute(
                "SELECT start, good, total FROM bucket "
                "WHERE slo_key = ? AND start >= ? AND start < ? ORDER BY start",
                (slo_key, start, end),
            ).fetchall()
        return [(float(s), float(g), float(t)) for s, g, t in rows]

    def slo_keys(self) -> tuple[str, ...]:
        """Every SLO the store holds anything for, sorted."""
        with self._locked() as conn:
            return self._keys(conn)

    # ---------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the file; later calls raise ``StoreError``. Idempotent."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sqlite3.Error as exc:
                    raise StoreError(f"event store {self.path}: {exc}") from exc
                finally:
                    self._conn = None
                    self._index.clear()
                    self._lockfile.close()  # releases the flock

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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


def _check_finite(what: str, *numbers: float) -> None:
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError(f"{what}: numbers must be finite, got {numbers!r}")
