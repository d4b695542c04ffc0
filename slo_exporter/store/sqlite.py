"""The event store in one SQLite file: ``<storage path>/events.db``.

WAL journal, ``synchronous=NORMAL``: a committed transaction survives a crash
of the process; only a power loss may roll back the last few. Tables are in
``schema``. Events, series state, cursor and measured span of one SLO are
written in one transaction (``commit``), so a crash never leaves events
without the cursor that says they were counted; ``commit_many`` writes many
SLOs' commits (a cycle's steady reads) in one transaction, all or none.
The writer remembers each SLO's cursor and series state once read (it is
their only writer), so a steady read asks the database for neither; a
failed write drops them, and they are read again.

Window sums go through the memory of ``common.StoreBase`` (running sums and
edge blocks per SLO), so a cycle's windows cost no database read whatever
their length; SQLite stays the durable copy, and memory is updated only
after a transaction committed.

Buckets live in two tiers whose values add up (``schema``): commits add
into ``bucket`` rows (hot), and compaction moves settled hot rows into one
``block`` row per SLO per UTC day (``blocks`` encodes its buckets at about a
byte each). Adding into a bucket never reads it first; a read adds the
parts. Only a day no block or hot row holds yet (a backfill's) is written
straight into a new block. The reads (``_read_sum``, ``_read_buckets``)
are each one SQL statement, so a read-only store beside a compacting
writer sees every bucket exactly once.

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
import math
import os
import sqlite3
import time
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts, bucket_start
from slo_exporter.store import blocks, schema
from slo_exporter.store.common import (
    MERGE_GAP,
    StoreBase,
    absorb_runs,
    check_finite,
    commit_rows,
    extend_run,
)
from slo_exporter.store.marker import MARKER, Marker, read_marker, write_marker
from slo_exporter.store.protocol import Bucket, Commit, Pruned, Retirement, Span

FILENAME = "events.db"
LEGACY_LOCK = "lock"  # the side lock file of schema-1 releases
SCHEMA_VERSION = schema.SCHEMA_VERSION

DAY = float(blocks.DAY)
PAGE_SIZE = 8192
#: bytes the write-ahead log is cut back to after a checkpoint; without it the
#: log keeps the size of the largest transaction ever written (a backfill's)
WAL_LIMIT = 16 * 2**20

SETTLE = 7200.0
"""Hot rows this far (seconds) behind an SLO's newest bucket are settled:
compaction may move them into their day's block. Late samples of a read
land well within it, so they rarely touch a block again (if they do, they
still only add to a hot row)."""

COMPACT_EVERY = 3600.0
"""A commit compacts its SLO once its settled hot rows span about this long
(between one and two times it, spread by SLO so that SLOs do not all
compact in the same cycle): the hot tier of a steady daemon holds two to
four hours of buckets."""

COMMIT_COMPACT_DAYS = 32
"""At most this many day blocks are written by the compaction a commit
starts: a 30-day backfill commit is compacted at once."""

COMPACT_BUDGET = 2000
"""Day blocks written by one ``compact()`` call unless told otherwise."""

_UPSERT_BUCKET = """
INSERT INTO bucket (slo_id, start, good, total) VALUES (?, ?, ?, ?)
ON CONFLICT (slo_id, start)
DO UPDATE SET good = good + excluded.good, total = total + excluded.total
"""

_UPSERT_SERIES = """
INSERT INTO series (slo_id, series_key, ts, value) VALUES (?, ?, ?, ?)
ON CONFLICT (slo_id, series_key) DO UPDATE SET ts = excluded.ts, value = excluded.value
"""

# One row write per commit: the cursor and the newest measured run (each
# kept when NULL is given).
_UPDATE_SLO = """
UPDATE slo SET
    cursor = coalesce(?, cursor),
    run_start = coalesce(?, run_start),
    run_until = coalesce(?, run_until)
WHERE id = ?
"""

# One statement per read, so that it sees one snapshot of both tiers even
# while a writer in another process compacts. Blocks lying wholly in the
# range are summed from their day sums; the rest are decoded.
_READ_SUM = """
SELECT 0, SUM(good), SUM(total), NULL FROM block
WHERE slo_id = :id AND day BETWEEN :d0 AND :d1 AND first >= :start AND last < :end
UNION ALL
SELECT 0, SUM(good), SUM(total), NULL FROM bucket
WHERE slo_id = :id AND start >= :start AND start < :end
UNION ALL
SELECT 1, day, NULL, data FROM block
WHERE slo_id = :id AND day BETWEEN :d0 AND :d1 AND first < :end AND last >= :start
AND NOT (first >= :start AND last < :end)
"""

_READ_BUCKETS = """
SELECT 1, day, NULL, data FROM block
WHERE slo_id = :id AND day BETWEEN :d0 AND :d1 AND first < :end AND last >= :start
UNION ALL
SELECT 0, start, good, total FROM bucket
WHERE slo_id = :id AND start >= :start AND start < :end
"""

_FIRST_BUCKET = """
SELECT first FROM (SELECT first FROM block WHERE slo_id = :id ORDER BY day LIMIT 1)
UNION ALL
SELECT MIN(start) FROM bucket WHERE slo_id = :id
"""

_HOT_EDGES = """
SELECT (SELECT MIN(start) FROM bucket WHERE slo_id = :id),
       (SELECT MAX(start) FROM bucket WHERE slo_id = :id)
"""

# An update in place keeps the row's rowid, so its page keeps it: a
# replacement would be a new row at the end of the table and leave a hole
# that no later row fills.
_WRITE_BLOCK = """
INSERT INTO block (slo_id, day, first, last, buckets, good, total, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (slo_id, day) DO UPDATE SET first = excluded.first, last = excluded.last,
buckets = excluded.buckets, good = excluded.good, total = excluded.total, data = excluded.data
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
        # SLO key -> slo.id, filled after a commit or read found the row.
        self._ids: dict[str, int] = {}
        # slo.id -> (oldest, newest) hot bucket start, for the compaction
        # trigger; filled when an SLO commits or compact() looks at it.
        self._hot: dict[int, tuple[float, float]] = {}
        self._hot_complete = False
        self._retry_at: dict[int, float] = {}  # after a failed compaction by a commit
        self._per_day = blocks.slots_per_day(self._resolution)
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
        # A new file gets 8 KiB pages: 4 day blocks of about 1.7 KiB fit a
        # page where 4 KiB pages hold 2 with a quarter left over (a no-op on
        # an existing file).
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(
                f"event store {self.path}: the file system refused WAL journaling "
                f"(got {mode!r}); put the storage path on a local disk"
            )
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
        with self._opening(), _transaction(conn):
            meta = self._read_meta(conn)
            self._check_version(meta)
            old = int(meta.get("schema_version", SCHEMA_VERSION))
            file_res = float(meta.get("resolution", self._resolution))
            if "schema_version" in meta:
                schema.upgrade(conn, old, file_res)
            schema.create(conn)
            if file_res != self._resolution:
                self._rebucket(conn, file_res)
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
        if old < 3:
            self._compact_upgraded(conn)

    def _compact_upgraded(self, conn: sqlite3.Connection) -> None:
        """After an upgrade from a file without blocks: compact every settled
        bucket, then rewrite the file without the pages that freed.

        Each SLO is compacted in its own transactions and ``VACUUM`` is one
        too, so a crash leaves a valid file whose commits compact the rest.
        """
        with self._lock:
            while self._compact(conn, COMPACT_BUDGET, settle=SETTLE) >= COMPACT_BUDGET:
                pass
            try:
                conn.execute("VACUUM")
            except sqlite3.Error as exc:
                raise StoreError(f"{_OPENING} {self.path}: {_describe(exc)}") from exc

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

    def _rebucket(self, conn: sqlite3.Connection, old_resolution: float) -> None:
        """Move every bucket into the bucket of the new resolution holding its start.

        Exact when the new resolution is a multiple of the old one; otherwise
        events shift by less than one old bucket, which beats dropping probe
        history that no source can replay. Blocks are decoded back into hot
        rows first (a block at a time); commits compact them again.
        """
        blocks_of = conn.execute("SELECT slo_id, day, data FROM block ORDER BY slo_id, day")
        for slo_id, day, data in blocks_of:
            block = self._decode(conn, slo_id, day, data, old_resolution)
            rows = block.rows(day * DAY, old_resolution)
            conn.executemany(_UPSERT_BUCKET, [(slo_id, *row) for row in rows])
        conn.execute("DELETE FROM block")
        # Done inside SQLite so that millions of rows never sit in memory.
        resolution = self._resolution
        conn.create_function(
            "new_bucket", 1, lambda start: bucket_start(start, resolution), deterministic=True
        )
        conn.execute(
            "CREATE TEMP TABLE rebucketed AS SELECT slo_id, new_bucket(start) AS start, "
            "SUM(good) AS good, SUM(total) AS total FROM bucket GROUP BY 1, 2"
        )
        conn.execute("DELETE FROM bucket")
        conn.execute(
            "INSERT INTO bucket (slo_id, start, good, total) "
            "SELECT slo_id, start, good, total FROM rebucketed"
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
        """Read-only: drop cached ids when the writer committed since the last read."""
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._data_version = version
            self._forget_all()
            self._ids.clear()  # a retired SLO's row may have been deleted

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"event store {self.path} is closed")
        return self._conn

    def _id(self, conn: sqlite3.Connection, slo_key: str) -> int | None:
        """The SLO's ``slo.id``, or None when the store has no row for it."""
        slo_id = self._ids.get(slo_key)
        if slo_id is None:
            row = conn.execute("SELECT id FROM slo WHERE slo_key = ?", (slo_key,)).fetchone()
            if row is None:
                return None
            slo_id = int(row[0])
            if not conn.in_transaction:  # a row read inside one might be rolled back
                self._ids[slo_key] = slo_id
        return slo_id

    def _id_or_new(self, conn: sqlite3.Connection, slo_key: str) -> int:
        """Inside a write transaction: the SLO's id, making its row when it has none."""
        slo_id = self._id(conn, slo_key)
        if slo_id is None:
            cur = conn.execute("INSERT INTO slo (slo_key) VALUES (?)", (slo_key,))
            slo_id = int(cur.lastrowid or 0)
        return slo_id

    @staticmethod
    def _drop(conn: sqlite3.Connection, slo_id: int) -> int:
        """Delete the SLO's buckets, series and coverage; returns the buckets deleted."""
        deleted = conn.execute("DELETE FROM bucket WHERE slo_id = ?", (slo_id,)).rowcount
        in_blocks = conn.execute(
            "SELECT coalesce(SUM(buckets), 0) FROM block WHERE slo_id = ?", (slo_id,)
        ).fetchone()[0]
        conn.execute("DELETE FROM block WHERE slo_id = ?", (slo_id,))
        conn.execute("DELETE FROM series WHERE slo_id = ?", (slo_id,))
        conn.execute("DELETE FROM measured WHERE slo_id = ?", (slo_id,))
        return int(deleted) + int(in_blocks)

    def _decode(
        self,
        conn: sqlite3.Connection,
        slo_id: int,
        day: int,
        data: bytes,
        resolution: float | None = None,
    ) -> blocks.Block:
        """The block of the SLO's day; ``StoreError`` naming both when it is damaged."""
        try:
            return blocks.decode(data, resolution or self._resolution)
        except blocks.BlockError as exc:
            row = conn.execute("SELECT slo_key FROM slo WHERE id = ?", (slo_id,)).fetchone()
            name = f"SLO {row[0]}" if row else f"SLO id {slo_id}"
            raise StoreError(
                f"event store {self.path}: the block of {name} for the day starting "
                f"{_utc_day(day)} is damaged ({exc}); restore the file from a backup"
            ) from exc

    def _add_span(
        self, conn: sqlite3.Connection, slo_id: int, start: float, until: float,
        last: Span | None,
    ) -> Span:
        """Merge ``[start, until)`` into the SLO's measured runs, whose newest is ``last``
        (None: read from the SLO's row); returns the newest run.

        The newest run lives on the SLO's row (written with the cursor, so a
        span that extends it costs no extra statement); older runs are rows
        of ``measured``. Runs are disjoint and more than ``MERGE_GAP`` apart.
        The caller writes the returned run to the SLO's row.
        """
        if last is None:
            row = conn.execute(
                "SELECT run_start, run_until FROM slo WHERE id = ?", (slo_id,)
            ).fetchone()
            if row is None or row[0] is None:
                return (start, until)
            last = (float(row[0]), float(row[1]))
        merge = extend_run(last, start, until)
        if merge is None:
            # Older than the newest run: merge with the closed runs it touches,
            # walking back from the last one that starts by `until`.
            rows = conn.execute(
                "SELECT start, until FROM measured WHERE slo_id = ? AND start <= ? "
                "ORDER BY start DESC",
                (slo_id, until + MERGE_GAP),
            )
            merge = absorb_runs(last, start, until, rows)
            rows.close()
            conn.executemany("DELETE FROM measured WHERE slo_id = ? AND start = ?",
                             [(slo_id, run_start) for run_start in merge.absorbed])
        if merge.closed is not None:
            conn.execute("INSERT INTO measured (slo_id, start, until) VALUES (?, ?, ?)",
                         (slo_id, *merge.closed))
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
        with self._writing as conn:
            with _transaction(conn):
                row = conn.execute(
                    "SELECT id, fingerprint FROM slo WHERE slo_key = ?", (slo_key,)
                ).fetchone()
                changed = row is not None and row[1] is not None and row[1] != fingerprint
                reset = changed and not keep_events
                if row is None:
                    conn.execute(
                        "INSERT INTO slo (slo_key, fingerprint) VALUES (?, ?)",
                        (slo_key, fingerprint),
                    )
                elif reset:  # the row (and its id) stays; all it held goes
                    self._drop(conn, int(row[0]))
                    conn.execute(
                        "UPDATE slo SET fingerprint = ?, cursor = NULL, retired_at = NULL, "
                        "run_start = NULL, run_until = NULL WHERE id = ?",
                        (fingerprint, row[0]),
                    )
                else:
                    conn.execute(
                        "UPDATE slo SET fingerprint = ?, retired_at = NULL WHERE id = ?",
                        (fingerprint, row[0]),
                    )
            if reset:
                self._forget(slo_key)
                self._forget_state(slo_key)
                self._hot.pop(int(row[0]), None)
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

        The events go to hot rows, whatever their age, except settled ones of
        a day that has neither a block nor hot rows yet, which make its block
        (``_write_through``). Once the SLO's settled hot rows span
        ``COMPACT_EVERY`` or so, the commit then compacts them (its own
        transactions: a failure there loses nothing and is not the
        commit's; the next commit tries again).
        """
        self.commit_many([Commit(slo_key, deltas, cursor, series, measured)])

    def commit_many(self, commits: Sequence[Commit]) -> None:
        """Each of ``commits`` as ``commit`` does it, in order, in one transaction:
        all of them are durable together or none is. The arguments of every
        one are checked first (``ValueError``); memory follows after COMMIT,
        and a failure drops each SLO's remembered cursor and series state.
        A cycle's steady reads commit so, one transaction instead of one per SLO.
        """
        checked = [(c, commit_rows(c.deltas, self._resolution, cursor=c.cursor,
                                   series=c.series, measured=c.measured)) for c in commits]
        if not checked:
            return
        with self._writing as conn:
            written: list[tuple[int, list[Bucket], Span | None]] = []
            try:
                with _transaction(conn):
                    moved: dict[str, Span] = {}
                    if len({commit.slo_key for commit, _ in checked}) < len(checked):
                        # an SLO twice: each commit sees the row and run the one before wrote
                        for item in checked:
                            written += self._write_all(conn, [item], moved)
                    else:
                        written = self._write_all(conn, checked, moved)
            except BaseException:
                for commit, _ in checked:  # the next read asks the database
                    self._forget_state(commit.slo_key)
                # hot edges read inside the transaction may hold rows rolled back
                self._hot.clear()
                self._hot_complete = False
                raise
            for (commit, rows), (slo_id, _, newest) in zip(checked, written, strict=True):
                self._ids[commit.slo_key] = slo_id
                self._committed(commit.slo_key, rows, newest)
                self._kept_state(commit.slo_key, commit.cursor, commit.series)
                if rows:
                    self._note_data()
            for slo_id, hot, _ in written:
                if hot:
                    self._after_commit(conn, slo_id, hot[0][0], hot[-1][0])

    def _write_all(self, conn: sqlite3.Connection, checked: Sequence[tuple[Commit, list[Bucket]]],
                   moved: dict[str, Span]) -> list[tuple[int, list[Bucket], Span | None]]:
        """Inside the transaction: commits of distinct SLOs, each table's rows in one
        statement; each SLO's id, hot rows and newest measured run, which ``moved``
        also takes (the transaction's newest runs, ahead of memory)."""
        buckets: list[tuple[int, float, float, float]] = []
        states: list[tuple[int, str, float, float]] = []
        slos: list[tuple[float | None, float | None, float | None, int]] = []
        written: list[tuple[int, list[Bucket], Span | None]] = []
        for commit, rows in checked:
            slo_id = self._id_or_new(conn, commit.slo_key)
            hot = self._write_through(conn, slo_id, rows, commit.settled) if rows else rows
            if hot:  # a steady commit often has none (the fast path counted them)
                buckets += [(slo_id, s, g, t) for s, g, t in hot]
            if commit.series:
                states += [(slo_id, key, ts, value)
                           for key, (ts, value) in commit.series.items()]
            newest: Span | None = None
            measured = commit.measured
            if measured is not None and measured[1] > measured[0]:
                # the run this transaction moved is ahead of memory (an SLO twice);
                # else reads only this SLO's row, which no statement below changes first
                key = commit.slo_key
                last = moved.get(key) or self._last_run.get(key)
                newest = moved[key] = self._add_span(conn, slo_id, *measured, last)
            if commit.cursor is not None or newest is not None:  # else the row stays as is
                run_start, run_until = newest or (None, None)
                slos.append((commit.cursor, run_start, run_until, slo_id))
            written.append((slo_id, hot, newest))
        if buckets:
            conn.executemany(_UPSERT_BUCKET, buckets)
        if states:
            conn.executemany(_UPSERT_SERIES, states)
        if slos:
            conn.executemany(_UPDATE_SLO, slos)
        return written

    def _write_through(
        self, conn: sqlite3.Connection, slo_id: int, rows: list[Bucket],
        settled: float = -math.inf,
    ) -> list[Bucket]:
        """Inside the commit: write settled rows of days that have neither a block nor
        hot rows straight into new blocks; returns the rows for the hot tier.

        Settled: older than ``SETTLE`` before the newest bucket, or than the
        commit's ``settled`` hint. A backfill's chunks are such days, and go into
        blocks without a detour through hot rows (with the hint, a chunk's last
        hours too, so no compaction merges them into their day later). Steady
        commits land within ``SETTLE`` of the newest bucket and skip this at the
        cost of a comparison.
        """
        if self._per_day is None or not rows:
            return rows
        edges = self._hot.get(slo_id)
        if edges is None:  # the committed state: valid whether or not this commits
            edges = self._hot[slo_id] = self._hot_edges(conn, slo_id)
        horizon = max(max(edges[1], rows[-1][0]) - SETTLE, settled)
        if rows[0][0] >= horizon or rows[0][0] < 0:
            return rows
        settled = bisect_left(rows, (horizon,))
        first_day, last_day = int(rows[0][0] // DAY), int(rows[settled - 1][0] // DAY)
        taken = {
            int(day) for (day,) in conn.execute(
                "SELECT day FROM block WHERE slo_id = ? AND day BETWEEN ? AND ?",
                (slo_id, first_day, last_day),
            )
        }
        hot: list[Bucket] = []
        res = self._resolution
        i = 0
        while i < settled:
            day = int(rows[i][0] // DAY)
            day_start = day * DAY
            j = bisect_left(rows, (day_start + DAY,), i, settled)
            # Only an existing block must not be overwritten (the tiers add up,
            # so hot rows of the day could stay); a day with hot rows is left
            # to compaction, which merges them in one go.
            free = day not in taken and not (edges[0] < day_start + DAY and edges[1] >= day_start)
            if free:
                _, goods, totals = zip(*rows[i:j], strict=True)
                slots = [round((start - day_start) / res) for start, _, _ in rows[i:j]]
                conn.execute(_WRITE_BLOCK, (
                    slo_id, day, rows[i][0], rows[j - 1][0], j - i,
                    math.fsum(goods), math.fsum(totals),
                    blocks.encode(res, slots, goods, totals),
                ))
            else:
                hot += rows[i:j]
            i = j
        return hot + rows[settled:]

    def _after_commit(
        self, conn: sqlite3.Connection, slo_id: int, oldest: float, newest: float
    ) -> None:
        """Note the SLO's new hot rows; compact them when enough have settled."""
        if self._per_day is None:
            return
        edges = self._hot.get(slo_id)
        if edges is None:
            edges = self._hot_edges(conn, slo_id)
        else:
            edges = (min(edges[0], oldest), max(edges[1], newest))
        self._hot[slo_id] = edges
        due = edges[0] < edges[1] - SETTLE - COMPACT_EVERY * (1.0 + _spread(slo_id))
        if due and edges[1] >= self._retry_at.get(slo_id, -math.inf):
            try:
                self._compact_slo(conn, slo_id, COMMIT_COMPACT_DAYS, SETTLE)
            except StoreError:
                # The events are committed and stay hot, where reads find them;
                # a damaged block is reported by the reads that need it and by
                # compact(). Commits try again once COMPACT_EVERY has passed.
                self._retry_at[slo_id] = edges[1] + COMPACT_EVERY

    def _hot_edges(self, conn: sqlite3.Connection, slo_id: int) -> tuple[float, float]:
        """Oldest and newest hot bucket start of the SLO (two index seeks)."""
        lo, hi = conn.execute(_HOT_EDGES, {"id": slo_id}).fetchone()
        if lo is None:
            return (math.inf, -math.inf)
        return (float(lo), float(hi))

    def compact(self, budget: int = COMPACT_BUDGET) -> int:
        """Move settled hot rows of every SLO into their day blocks; returns the
        day blocks written, at most about ``budget`` (less: nothing settled is left).

        Commits compact their own SLO already; this catches up after a
        backfill or an upgrade, and prune calls it. Each SLO's days are
        merged in one transaction, so a crash leaves every bucket in exactly
        one of the tiers' parts it had. Raises ``StoreError``.
        """
        if budget < 1:
            raise ValueError(f"compaction budget must be at least 1 block, got {budget!r}")
        with self._writing as conn:
            return self._compact(conn, budget, settle=SETTLE)

    def _compact(
        self, conn: sqlite3.Connection, budget: int, *, settle: float, strict: bool = True
    ) -> int:
        """``compact`` under the lock: the SLOs with the oldest settled rows first.

        An SLO that cannot be compacted (a damaged block) keeps its hot rows
        and does not hold the others back; ``strict`` raises its error at the
        end.
        """
        if self._per_day is None:
            return 0
        if not self._hot_complete:
            ids = [int(row[0]) for row in conn.execute("SELECT id FROM slo").fetchall()]
            for slo_id in ids:
                if slo_id not in self._hot:
                    self._hot[slo_id] = self._hot_edges(conn, slo_id)
            self._hot_complete = True
        due = sorted(
            (lo, slo_id) for slo_id, (lo, hi) in self._hot.items() if lo < hi - settle
        )
        written = 0
        failed: StoreError | None = None
        for _, slo_id in due:
            if written >= budget:
                break
            try:
                written += self._compact_slo(conn, slo_id, budget - written, settle)
            except StoreError as exc:
                failed = failed or exc
        if failed is not None and strict:
            raise failed
        return written

    def _compact_slo(
        self, conn: sqlite3.Connection, slo_id: int, days: int, settle: float
    ) -> int:
        """Merge the SLO's hot rows older than ``settle`` behind its newest into
        their day blocks, at most ``days`` blocks, oldest first, in one
        transaction; returns the blocks written."""
        assert self._per_day is not None
        res = self._resolution
        try:
            with _transaction(conn):
                lo, hi = self._hot_edges(conn, slo_id)
                horizon = hi - settle
                if not lo < horizon:
                    self._hot[slo_id] = (lo, hi)
                    return 0
                first_day = int(lo // DAY)
                limit = min(horizon, (first_day + days) * DAY)
                # Day and slot in SQL, columns by zip(): no Python step per row.
                hot = conn.execute(
                    "SELECT start / 86400, start % 86400 / ?, good, total FROM bucket "
                    "WHERE slo_id = ? AND start >= 0 AND start < ? ORDER BY start",
                    (int(res), slo_id, limit),
                ).fetchall()
                if not hot:
                    self._hot[slo_id] = (lo, hi)
                    return 0
                day_of, slots, goods, totals = zip(*hot, strict=True)
                merged_days = sorted(set(day_of))
                for day in merged_days:
                    i, j = bisect_left(day_of, day), bisect_right(day_of, day)
                    self._merge_day(conn, slo_id, int(day), (slots[i:j], goods[i:j], totals[i:j]))
                conn.execute(
                    "DELETE FROM bucket WHERE slo_id = ? AND start < ?", (slo_id, limit)
                )
            self._hot[slo_id] = (limit, hi)
            return len(merged_days)
        except sqlite3.Error as exc:
            raise StoreError(f"event store {self.path}: {_describe(exc)}") from exc

    def _merge_day(
        self,
        conn: sqlite3.Connection,
        slo_id: int,
        day: int,
        columns: tuple[Sequence[int], Sequence[float], Sequence[float]],
    ) -> None:
        """Add hot rows, as columns of slots (increasing), goods and totals, into the
        SLO's day block."""
        slots, goods, totals = columns
        old = conn.execute(
            "SELECT data FROM block WHERE slo_id = ? AND day = ?", (slo_id, day)
        ).fetchone()
        if old is not None:
            block = self._decode(conn, slo_id, day, old[0])
            if block.slots[-1] < slots[0]:  # the usual case: the new rows follow
                slots = [*block.slots, *slots]
                goods = [*block.goods(), *goods]
                totals = [*block.totals, *totals]
            else:
                merged = dict(zip(block.slots, zip(block.goods(), block.totals, strict=True),
                                  strict=True))
                for slot, good, total in zip(slots, goods, totals, strict=True):
                    g, t = merged.get(slot, (0.0, 0.0))
                    merged[slot] = (g + good, t + total)
                slots = sorted(merged)
                goods = [merged[s][0] for s in slots]
                totals = [merged[s][1] for s in slots]
        start = day * DAY
        res = self._resolution
        conn.execute(_WRITE_BLOCK, (
            slo_id, day, start + slots[0] * res, start + slots[-1] * res, len(slots),
            math.fsum(goods), math.fsum(totals),
            blocks.encode(res, slots, goods, totals),
        ))

    def prune(self, before: float) -> Pruned:
        """Delete what retention no longer needs; returns what was deleted.

        Buckets that end at or before ``before``, coverage before it, series
        last seen before it, and every SLO retired before it (its events,
        cursor, series and fingerprint). Blocks of days before the horizon's
        day go whole; the block of that day keeps only its buckets after the
        horizon. Then settled hot rows are compacted (``compact``).
        """
        check_finite("before", before)
        # A bucket is kept while any part of it is at or after `before`.
        last_start = before - self._resolution
        with self._writing as conn:
            with _transaction(conn):
                deleted = conn.execute(
                    "DELETE FROM bucket WHERE start <= ?", (last_start,)
                ).rowcount
                deleted += self._prune_blocks(conn, last_start)
                conn.execute("DELETE FROM series WHERE ts < ?", (before,))
                conn.execute("DELETE FROM measured WHERE until <= ?", (before,))
                conn.execute("UPDATE measured SET start = ? WHERE start < ?", (before, before))
                conn.execute(
                    "UPDATE slo SET run_start = NULL, run_until = NULL WHERE run_until <= ?",
                    (before,),
                )
                conn.execute("UPDATE slo SET run_start = ? WHERE run_start < ?", (before, before))
                gone = conn.execute(
                    "SELECT id, slo_key FROM slo WHERE retired_at < ? ORDER BY slo_key", (before,)
                ).fetchall()
                for slo_id, _ in gone:
                    deleted += self._drop(conn, slo_id)
                    conn.execute("DELETE FROM slo WHERE id = ?", (slo_id,))
            keys = tuple(str(key) for _, key in gone)
            for slo_id, key in gone:
                self._ids.pop(key, None)
                self._hot.pop(slo_id, None)
                self._forget_state(key)
            for state in self._states.values():  # as the DELETE of series above
                for series_key in [k for k, (ts, _) in state.items() if ts < before]:
                    del state[series_key]
            self._hot = {i: (max(lo, last_start), hi) for i, (lo, hi) in self._hot.items()}
            self._pruned(keys, last_start)
            # Reads report a damaged block; prune's deletions stand either way.
            self._compact(conn, COMPACT_BUDGET, settle=SETTLE, strict=False)
        return Pruned(buckets=int(deleted), slos=keys)

    def _prune_blocks(self, conn: sqlite3.Connection, last_start: float) -> int:
        """Delete the blocks' buckets starting at or before ``last_start``; returns how many."""
        if not math.isfinite(last_start / DAY):
            return 0
        edge = math.floor(last_start / DAY)
        whole = conn.execute(
            "SELECT coalesce(SUM(buckets), 0) FROM block WHERE day < ?", (edge,)
        ).fetchone()[0]
        conn.execute("DELETE FROM block WHERE day < ?", (edge,))
        deleted = int(whole)
        trimmed = conn.execute(
            "SELECT slo_id, last, buckets, data FROM block WHERE day = ? AND first <= ?",
            (edge, last_start),
        ).fetchall()
        res = self._resolution
        start = edge * DAY
        for slo_id, last, count, data in trimmed:
            if last <= last_start:
                conn.execute("DELETE FROM block WHERE slo_id = ? AND day = ?", (slo_id, edge))
                deleted += int(count)
                continue
            block = self._decode(conn, slo_id, edge, data)
            keep = block.rows(start, res, math.floor((last_start - start) / res) + 1)
            deleted += len(block) - len(keep)
            slots = [round((s - start) / res) for s, _, _ in keep]
            goods = [g for _, g, _ in keep]
            totals = [t for _, _, t in keep]
            conn.execute(_WRITE_BLOCK, (
                slo_id, edge, keep[0][0], keep[-1][0], len(keep),
                math.fsum(goods), math.fsum(totals), blocks.encode(res, slots, goods, totals),
            ))
        return deleted

    # -------------------------------------------------------------- reads

    def cursor(self, slo_key: str) -> float | None:
        """The instant up to which the SLO's source has been read, if any."""
        with self._reading as conn:
            if slo_key in self._cursors:
                return self._cursors[slo_key]
            row = conn.execute("SELECT cursor FROM slo WHERE slo_key = ?", (slo_key,)).fetchone()
            found = None if row is None or row[0] is None else float(row[0])
            if self._remembers(conn):
                self._cursors[slo_key] = found
        return found

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
            state = self._states.get(slo_key)
            if state is not None:
                return dict(state)
            rows = conn.execute(
                "SELECT series_key, ts, value FROM series "
                "WHERE slo_id = (SELECT id FROM slo WHERE slo_key = ?)",
                (slo_key,),
            ).fetchall()
            found = {key: (float(ts), float(value)) for key, ts, value in rows}
            if self._remembers(conn):
                self._states[slo_key] = dict(found)
        return found

    def _remembers(self, conn: sqlite3.Connection) -> bool:
        """Whether a cursor or series state just read may be remembered: by the writer,
        outside a transaction (whose rows might still be rolled back)."""
        return not self.readonly and not conn.in_transaction

    def _sync(self) -> None:
        if self._data_version is not None:  # read-only: drops stale memory on entry
            with self._reading:
                pass

    def _read_sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events of the stored buckets whose start lies in [start, end), from the database:
        whole blocks by their day sums, the blocks at the edges decoded, hot rows summed."""
        if not end > start:
            return Counts()
        with self._reading as conn:
            slo_id = self._id(conn, slo_key)
            if slo_id is None:
                return Counts()
            rows = conn.execute(_READ_SUM, self._range(slo_id, start, end)).fetchall()
            good = total = 0.0
            res = self._resolution
            for decoded, a, b, data in rows:
                if not decoded:
                    good += a or 0.0
                    total += b or 0.0
                    continue
                day_start = a * DAY
                g, t = self._decode(conn, slo_id, a, data).sum(
                    math.ceil((start - day_start) / res), math.ceil((end - day_start) / res)
                )
                good += g
                total += t
        return Counts(good, total)

    def _read_buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """Each stored bucket (start, good, total) with start in [start, end), oldest
        first, from the database: decoded blocks and hot rows, a bucket's parts added."""
        if not end > start:
            return []
        with self._reading as conn:
            slo_id = self._id(conn, slo_key)
            if slo_id is None:
                return []
            rows = conn.execute(_READ_BUCKETS, self._range(slo_id, start, end)).fetchall()
            res = self._resolution
            stored: list[Bucket] = []
            hot: list[Bucket] = []
            for decoded, a, b, c in sorted(rows, key=lambda r: (-r[0], r[1])):
                if decoded:
                    day_start = a * DAY
                    stored += self._decode(conn, slo_id, a, c).rows(
                        day_start, res,
                        math.ceil((start - day_start) / res), math.ceil((end - day_start) / res),
                    )
                else:
                    hot.append((float(a), float(b), float(c)))
        if not stored:
            return hot
        if not hot or hot[0][0] > stored[-1][0]:
            return stored + hot
        merged: dict[float, tuple[float, float]] = {s: (g, t) for s, g, t in stored}
        for s, g, t in hot:
            g0, t0 = merged.get(s, (0.0, 0.0))
            merged[s] = (g0 + g, t0 + t)
        return [(s, *merged[s]) for s in sorted(merged)]

    def _range(self, slo_id: int, start: float, end: float) -> dict[str, float]:
        """Parameters of the read statements: the range and the days it touches."""
        return {
            "id": slo_id, "start": start, "end": end,
            "d0": _day_of(start), "d1": _day_of(end),
        }

    def first_bucket(self, slo_key: str) -> float | None:
        """Start of the oldest stored bucket of the SLO, or None when it has none."""
        with self._reading as conn:
            slo_id = self._id(conn, slo_key)
            if slo_id is None:
                return None
            starts = [r[0] for r in conn.execute(_FIRST_BUCKET, {"id": slo_id}) if r[0] is not None]
        return float(min(starts)) if starts else None

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        """The measured runs within ``[start, end)``, clipped to it, oldest first: from
        the runs kept in memory (``StoreBase._kept_spans``), else the database (all of
        the SLO's runs, to keep, when this writer knows its newest)."""
        kept = self._kept_spans(slo_key, start, end)
        if kept is not None:
            return kept
        with self._reading as conn:
            slo_id = self._id(conn, slo_key)
            if slo_id is None:
                return []
            whole = not self._readonly and slo_key in self._last_run
            lo, hi = (-math.inf, math.inf) if whole else (start, end)
            rows = conn.execute(
                "SELECT start, until FROM measured WHERE slo_id = :id "
                "AND start < :end AND until > :start "
                "UNION ALL SELECT run_start, run_until FROM slo WHERE id = :id "
                "AND run_start < :end AND run_until > :start ORDER BY 1",
                {"id": slo_id, "start": lo, "end": hi},
            ).fetchall()
            runs = [(float(s), float(u)) for s, u in rows]
            if whole:
                self._keep_runs(slo_key, runs)
        return [(max(s, start), min(u, end)) for s, u in runs if s < end and u > start]

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
        self._ids.clear()
        self._hot.clear()
        self._cursors.clear()
        self._states.clear()
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


def _spread(slo_id: int) -> float:
    """A fraction in [0, 1) fixed per SLO that spreads SLOs' compactions in time."""
    return (slo_id * 0x9E3779B1 % 2**32) / 2**32


_FAR_DAY = 2**40  # beyond any day a bucket start can name


def _day_of(instant: float) -> int:
    """The UTC day number holding ``instant`` (clamped for unbounded ranges)."""
    if not math.isfinite(instant):
        return _FAR_DAY if instant > 0 else -_FAR_DAY
    return max(-_FAR_DAY, min(_FAR_DAY, math.floor(instant / DAY)))


def _utc_day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


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

