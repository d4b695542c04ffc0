"""The event store in PostgreSQL (``--storage.url=postgresql://...``), for replicas that share it.

Same contract as ``SQLiteStore`` (``protocol.EventStore``): the same tables
(``pg_schema``), the same one-transaction ``commit`` and ``commit_many`` (a
cycle's commits of every SLO in one transaction, each table's rows in one
statement), the same memory in front of the database (``common.StoreBase``),
which this module feeds from two plain database reads (``_read_sum``,
``_read_buckets``), and the writer's memory of its SLOs' cursors and series
state. What PostgreSQL adds is sharing: several slo-exporter replicas open
one database, and exactly one of them writes.

The writer role is a session-level advisory lock taken on the store's one
connection, and every write runs on that same connection. The lock and the
right to write therefore end together: when the writer's process dies, its
session ends, PostgreSQL frees the lock, and no late write of the old writer
can land after a standby took over (its connection is gone). The lock key
is derived from the schema and the shard (``shard``: shards sharing one
schema each have a writer of their own), so stores in different schemas of
one database are independent.

Three ways to open:

* writer (``PostgresStore(url, res)``): takes the lock or fails with
  ``StoreError`` (another replica writes);
* standby (``standby=True``): the writer if the lock is free, otherwise
  read-only until ``try_promote()`` gets the lock (the daemon tries once
  per evaluation);
* read-only (``readonly=True``, the ``report`` command): never writes,
  never takes the lock.

How a read-only store follows the writer, exactly: every read runs in one
read-only REPEATABLE READ snapshot, and the memory holds what the tables
held in that snapshot. ``refresh()`` starts the next snapshot and replays
into the memory the changes the writer logged since (``pg_schema``'s
``change_log``: the deltas of each commit, resets, prunes), in order, so
the memory again equals the tables, without reading any bucket. A standby
that fell behind the trimmed log, and any replica after a lost connection,
forgets its memory and reads the tables again. Reads also refresh by
themselves once the snapshot is older than ``max_staleness`` seconds (never
in the middle of a read that fills the memory). Promotion replays the log
to its end, under the lock, before the first write.

The writer logs the deltas of each batch (``commit_many``) in the batch's
own transaction, as one log row for all its SLOs (a standby applies a
transaction whole anyway, and one row costs one insert and one fetch
instead of one per SLO), and trims entries older than ``log_keep`` seconds.
A commit of more than ``REPLAY_LIMIT`` buckets (a backfill's day) is logged
as a reset of that SLO's memory instead: re-reading it costs less than
shipping its buckets.

The writer remembers each of its SLOs' cursor and series state once read
and moves them with its own commits, so a steady cycle reads neither. Only
the writer writes them, so the memory is right while it holds the role; it
goes with the rest of the memory on a failed write, a lost connection or
close, and a writer that reconnects after another replica held the role
(even briefly) does not get the role back (``_reconnect``). A standby keeps
none: it reads them from its snapshot.
The writer also publishes each SLO's source state (``publish_sources``),
which standbys export instead of asking the source themselves.

Shards sharing the store (``shard``): each writes, retires and prunes only
its own SLOs and logs to a stream of its own; another shard's SLO (a
composite's component) is read from the database on every read, never
kept in memory, since that shard's commits never reach this store's.

Bounds: connecting waits at most ``connect_timeout`` seconds, every
statement at most ``statement_timeout`` (a server-side deadline, with TCP
keepalives so a vanished server or client is noticed). A follower's
snapshot is exempt from the idle-in-transaction deadline (it holds no lock;
the daemon renews it every evaluation). Errors are ``StoreError`` whose text
names the database without its password and is passed through
``redact.scrub``. This module must not log, compute beyond sums, or read
the wall clock (instants are passed in; the monotonic clock only bounds how
old a snapshot may get and how often the log is trimmed).
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from slo_exporter.errors import StoreError
from slo_exporter.redact import remember, scrub
from slo_exporter.slomath import Counts
from slo_exporter.store import pg_schema
from slo_exporter.store.common import (
    MERGE_GAP,
    StoreBase,
    absorb_runs,
    check_finite,
    commit_rows,
    extend_run,
)
from slo_exporter.store.protocol import Bucket, Commit, Pruned, Retirement, SourceState, Span
from slo_exporter.store.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from slo_exporter.sharding import Shard

try:  # an optional dependency: pip install 'slo-exporter[postgres]'
    import psycopg
    from psycopg import conninfo as _conninfo
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

#: first key of the writer lock ("SLOE"); the second is a hash of the schema and shard
LOCK_CLASS = 0x534C4F45
#: first key of the short lock that serialises creating the tables
SCHEMA_LOCK_CLASS = LOCK_CLASS + 1

CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
MAX_STALENESS = 1.0
#: seconds of change log kept for standbys; one further behind re-reads its memory
LOG_KEEP = 600.0
#: a commit of more buckets is logged as a reset of the SLO's memory, not as deltas
REPLAY_LIMIT = 256

_SCHEMES = ("postgresql://", "postgres://")

_T = TypeVar("_T")

# One statement per round of a batch (each SLO at most once; a batch normally
# is one round), the rows as arrays: a day of buckets is one round trip
# instead of 1,440 (a 30-day backfill writes ~4x faster), and a cycle of
# 1,000 SLOs is one too. Starts are distinct within a commit and keys within
# a round, as ON CONFLICT requires. The change log rows for standbys ride in
# the same statement: one row ``b`` of every replayable delta of the round
# (its key, start, good and total as four equal-length arrays: the bucket
# rows' own unless some are not replayed), and a row ``f`` for each commit of
# more than ``REPLAY_LIMIT`` buckets.
_UPSERT_BUCKETS = """
WITH batch AS (
    INSERT INTO change_log (seq, stream, kind, gone, starts, goods, totals)
    SELECT nextval('change'), %(stream)s, 'b', coalesce(%(log_k)s::text[], %(k)s::text[]),
           coalesce(%(log_s)s::float8[], %(s)s::float8[]),
           coalesce(%(log_g)s::float8[], %(g)s::float8[]),
           coalesce(%(log_t)s::float8[], %(t)s::float8[])
    WHERE %(logged)s),
reset AS (
    INSERT INTO change_log (seq, stream, kind, slo_key)
    SELECT nextval('change'), %(stream)s, 'f', k FROM unnest(%(reset)s::text[]) AS r(k))
INSERT INTO bucket (slo_key, start, good, total)
SELECT k, s, g, t
FROM unnest(%(k)s::text[], %(s)s::float8[], %(g)s::float8[], %(t)s::float8[]) AS u(k, s, g, t)
ON CONFLICT (slo_key, start) DO UPDATE SET
    good = bucket.good + excluded.good, total = bucket.total + excluded.total
"""

_UPSERT_SERIES = """
INSERT INTO series (slo_key, series_key, ts, value)
SELECT s, k, t, v FROM unnest(%s::text[], %s::text[], %s::float8[], %s::float8[]) AS u(s, k, t, v)
ON CONFLICT (slo_key, series_key) DO UPDATE SET ts = excluded.ts, value = excluded.value
"""

# One row write per SLO of a round: the cursor and the newest measured run
# (each kept when NULL is given).
_UPSERT_SLOS = """
INSERT INTO slo (slo_key, cursor, run_start, run_until)
SELECT k, c, s, u FROM unnest(%s::text[], %s::float8[], %s::float8[], %s::float8[]) AS n(k, c, s, u)
ON CONFLICT (slo_key) DO UPDATE SET
    cursor = coalesce(excluded.cursor, slo.cursor),
    run_start = coalesce(excluded.run_start, slo.run_start),
    run_until = coalesce(excluded.run_until, slo.run_until)
"""

_UPSERT_SLO = """
INSERT INTO slo (slo_key, cursor, run_start, run_until)
VALUES (%s, %s::float8, %s::float8, %s::float8)
ON CONFLICT (slo_key) DO UPDATE SET
    cursor = coalesce(excluded.cursor, slo.cursor),
    run_start = coalesce(excluded.run_start, slo.run_start),
    run_until = coalesce(excluded.run_until, slo.run_until)
"""

# The newest measured run of each SLO a batch extends that this writer does not
# know yet (its first commit of the SLO since it opened): one read for them all.
_LAST_RUNS = """
SELECT slo_key, run_start, run_until FROM slo
WHERE slo_key = ANY(%s::text[]) AND run_start IS NOT NULL
"""

_LOG = """
INSERT INTO change_log (seq, stream, kind, slo_key, horizon, gone)
VALUES (nextval('change'), %s, %s, %s, %s::float8, %s::text[])
"""

# Entries older than the log keeps go, of every stream: a stream whose writer
# is gone for good (the shard count changed) is trimmed by the writers that
# remain. The newest entry deleted of a stream becomes its floor, the position
# a standby must have seen to follow on from the log; a floor never moves
# back (two writers trimming one old stream at once).
_TRIM_LOG = """
WITH gone AS (
    DELETE FROM change_log
    WHERE at < now() - make_interval(secs => %(keep)s)
    RETURNING stream, seq)
INSERT INTO meta (key, value)
SELECT 'log_floor ' || stream, max(seq)::text FROM gone GROUP BY stream
ON CONFLICT (key) DO UPDATE
SET value = greatest(meta.value::bigint, excluded.value::bigint)::text
"""

# What a follower replays, oldest first, after the floor (the first
# statement of its snapshot, so both describe the same instant).
_FLOOR = "SELECT value FROM meta WHERE key = 'log_floor ' || %s"
_LOG_SINCE = """
SELECT seq, kind, slo_key, starts, goods, totals, horizon, gone, errors FROM change_log
WHERE stream = %s AND seq > %s ORDER BY seq
"""
_LOG_END = "SELECT max(seq) FROM change_log WHERE stream = %s"
_SOURCES = "SELECT slo_key, up, error FROM source WHERE stream = %s"

# The source states that changed, and their log row, in one statement.
_PUBLISH = """
WITH logged AS (
    INSERT INTO change_log (seq, stream, kind, gone, errors)
    VALUES (nextval('change'), %(stream)s, 's', %(keys)s::text[], %(errors)s::text[]))
INSERT INTO source (slo_key, stream, up, error)
SELECT k, %(stream)s, e IS NULL, e FROM unnest(%(keys)s::text[], %(errors)s::text[]) AS u(k, e)
ON CONFLICT (slo_key) DO UPDATE SET stream = excluded.stream, up = excluded.up,
    error = excluded.error
"""

_SUM = """
SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM bucket
WHERE slo_key = %s AND start >= %s AND start < %s
"""
_BUCKETS = """
SELECT start, good, total FROM bucket
WHERE slo_key = %s AND start >= %s AND start < %s ORDER BY start
"""

def describe_url(url: str) -> str:
    """``url`` as it may be shown: scheme, user, host, port and database, never a password.

    Raises ``StoreError`` (without the URL's secrets) when it is not a
    PostgreSQL connection URL.
    """
    params = _parse(url)
    host = params.get("host") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    user = f"{params['user']}@" if params.get("user") else ""
    return f"postgresql://{user}{host}{port}/{params.get('dbname', '')}"


def _parse(url: str) -> dict[str, Any]:
    if not url.startswith(_SCHEMES):
        raise StoreError(
            "--storage.url must be a PostgreSQL URL (postgresql://user:password@host:port/db)"
        )
    if psycopg is None:
        raise StoreError(
            "--storage.url needs the PostgreSQL driver: pip install 'slo-exporter[postgres]'"
        )
    try:
        params = _conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StoreError(
            f"--storage.url is not a valid PostgreSQL URL: {scrub(str(exc))}") from None
    for key in ("password", "sslpassword"):
        secret = params.get(key)
        if isinstance(secret, str):
            remember(secret)  # masked wherever a driver message repeats it
    return params


class PostgresStore(StoreBase):
    """Durable per-SLO events, coverage, cursors, series state and identity in PostgreSQL.

    Thread-safe: one (re-entrant) lock serialises every call on the one
    connection and every change of the memory. ``url`` is a libpq URL; the
    tables go into the first schema of its search path. ``shard``
    (index, count) gives the writer role of that shard: shards sharing the
    schema each have their own writer and change log. Raises ``StoreError``
    when the database cannot be reached in time, the URL is bad, another
    replica holds the writer role (unless ``standby``), the tables were
    written by a newer schema, or a read-only open finds no store or another
    resolution.
    """

    def __init__(
        self,
        url: str,
        resolution: float,
        *,
        readonly: bool = False,
        standby: bool = False,
        shard: Shard | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        statement_timeout: float = STATEMENT_TIMEOUT,
        max_staleness: float = MAX_STALENESS,
        log_keep: float = LOG_KEEP,
    ) -> None:
        super().__init__(resolution, readonly=readonly or standby)
        self._url = url
        self.name = describe_url(url)
        self._shard = shard
        #: whose change log this store writes or follows ("" unsharded, else "index/count")
        self._stream = "" if shard is None else f"{shard.index}/{shard.count}"
        self._can_promote = standby and not readonly
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._deadline_ms = max(1, round(statement_timeout * 1000))
        self._max_staleness = max_staleness
        self._log_keep = log_keep
        self._trimmed = -math.inf
        #: a follower's position in the change log (None: not known, memory empty)
        self._seen: int | None = None
        #: what the writer's source answered per SLO key: (up, error)
        self._sources: dict[str, SourceState] = {}
        #: this writer's mark in the meta table (``_become_writer``), checked on reconnecting
        self._token = ""
        self._refreshed = -math.inf
        self._conn: Any = None
        self._closed = False
        self._role_lost = False
        self._retry_at = -math.inf
        try:
            with self._errors("cannot open event store"):
                self._conn = self._connect()
                if readonly:
                    self._open_readonly()
                elif self._take_lock():
                    self._become_writer()
                elif standby:
                    self._open_standby()
                else:
                    raise StoreError(
                        f"event store {self.name} is in use by another slo-exporter replica "
                        "(it holds the writer role); start this one as a standby "
                        "(slo-exporter run does) or point --storage.url elsewhere"
                    )
        except BaseException:
            self._release()
            raise

    # ----------------------------------------------------------- the role

    def try_promote(self) -> bool:
        """A standby takes the writer role if it is free; True when this store now writes.

        Cheap (one statement) while another replica writes. On success the
        memory first replays the rest of the change log: the old writer is
        gone, so that brings it to what the tables hold.
        """
        with self._lock:
            if not self._readonly:
                return True
            if not self._can_promote:
                return False
            with self._errors("cannot take over event store"):
                conn = self._open_conn()
                _end_snapshot(conn)
                if not self._take_lock():
                    return False
                try:
                    self._refresh(conn)
                    _end_snapshot(conn)
                    self._become_writer()
                except BaseException:
                    self._readonly = True
                    if not conn.broken:
                        conn.execute("SELECT pg_advisory_unlock_all()")
                    raise
            self._last_run.clear()
            self._seen = None
            return True

    def refresh(self) -> None:
        """Read-only: a new snapshot, with the changes the writer committed since replayed
        into the memory. A writer has nothing to do."""
        if not self._readonly:
            return
        with self._access(write=False, renew=True):
            pass

    @property
    def role_lost(self) -> bool:
        """True once another replica took the writer role while this one was disconnected."""
        return self._role_lost

    def publish_sources(self, states: Mapping[str, SourceState], at: float) -> None:
        """Writer: what each SLO's source answered at the evaluation of instant ``at``, for
        standbys (and other shards' composites) to use. Only states that changed since the
        last publication are written."""
        check_finite("at", at)
        with self._access(write=True) as conn:
            wanted = {k: (True, None) if up else (False, error or "the source did not answer")
                      for k, (up, error) in states.items()}
            changed = {k: v for k, v in wanted.items() if self._sources.get(k) != v}
            with conn.transaction():
                if changed:
                    keys = sorted(changed)
                    conn.execute(_PUBLISH, {"stream": self._stream, "keys": keys,
                                            "errors": [changed[k][1] for k in keys]})
                conn.execute("INSERT INTO meta (key, value) VALUES ('evaluated ' || %s, %s) "
                             "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                             (self._stream, repr(at)))
            self._sources.update(changed)

    def source_state(self, slo_key: str) -> SourceState | None:
        """What the writer's source answered for ``slo_key`` at its last published
        evaluation, as of this replica's snapshot; None when it never published one.
        Another shard's SLO is read from the database."""
        with self._access(write=False) as conn:
            if self._owns(slo_key):
                return self._sources.get(slo_key)
            row = conn.execute("SELECT up, error FROM source WHERE slo_key = %s",
                               (slo_key,)).fetchone()
        return None if row is None else (bool(row[0]), None if row[0] else str(row[1]))

    def published_at(self, slo_key: str) -> float | None:
        """The instant of the last evaluation whose source states the writer owning
        ``slo_key`` published; None before its first."""
        with self._access(write=False) as conn:
            row = conn.execute(
                "SELECT m.value FROM source s JOIN meta m ON m.key = 'evaluated ' || s.stream "
                "WHERE s.slo_key = %s", (slo_key,)).fetchone()
        return None if row is None else float(row[0])

    def _owns(self, slo_key: str) -> bool:
        """Whether ``slo_key`` is this store's to write and remember (its shard's)."""
        return self._shard is None or self._shard.owns_key(slo_key)

    # ------------------------------------------------------------- opening

    def _connect(self) -> Any:
        params = _parse(self._url)
        timeout = max(2, math.ceil(self._connect_timeout))  # libpq's minimum
        deadline = self._deadline_ms
        try:
            conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=timeout,
                application_name=params.get("application_name") or "slo-exporter",
                # the client notices a vanished server (TCP connections only)
                keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                tcp_user_timeout=deadline,
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open event store {self.name}: {_message(exc)}; check --storage.url "
                "and that PostgreSQL is running and reachable"
            ) from None
        try:
            # the server's side of the bounds: a real deadline per statement,
            # and the server notices a vanished writer, so its lock is freed
            conn.execute(f"SET statement_timeout = {deadline}")
            conn.execute(f"SET lock_timeout = {deadline}")
            # a follower's snapshot stays open between reads on purpose
            idle = 0 if self._readonly else deadline
            conn.execute(f"SET idle_in_transaction_session_timeout = {idle}")
            conn.execute("SET tcp_keepalives_idle = 10")
            conn.execute("SET tcp_keepalives_interval = 5")
            conn.execute("SET tcp_keepalives_count = 3")
            conn.execute(f"SET tcp_user_timeout = {deadline}")
            conn.execute("SET client_min_messages = warning")  # no NOTICE for IF NOT EXISTS
        except BaseException:
            conn.close()
            raise
        return conn

    def _take_lock(self) -> bool:
        suffix = f" shard {self._stream}" if self._stream else ""
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(current_schema() || %s))",
            (LOCK_CLASS, suffix),
        ).fetchone()
        return bool(row[0])

    def _ensure_tables(self) -> dict[str, str]:
        """Create the tables where missing (serialised between replicas); the meta rows."""
        conn = self._conn
        if conn.execute("SELECT current_schema()").fetchone()[0] is None:
            raise StoreError(
                f"cannot open event store {self.name}: no schema to create the tables in "
                "(the search path names none that exists)"
            )
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                         (SCHEMA_LOCK_CLASS,))
            pg_schema.create(conn)
            return self._read_meta(conn)

    def _become_writer(self) -> None:
        conn = self._conn
        meta = self._ensure_tables()
        self._check_version(meta)
        with conn.transaction():
            if "resolution" in meta and float(meta["resolution"]) != self._resolution:
                pg_schema.rebucket(conn, self._resolution, self._stream)
                self._forget_all()
            store_id = meta.get("store_id") or uuid.uuid4().hex
            token = uuid.uuid4().hex
            for key, value in (("schema_version", str(SCHEMA_VERSION)),
                               ("resolution", repr(self._resolution)), ("store_id", store_id),
                               (f"writer {self._stream}", token)):
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
        conn.execute(f"SET idle_in_transaction_session_timeout = {self._deadline_ms}")
        self._store_id = store_id
        self._token = token
        self._cursors = {}
        self._states = {}
        self._readonly = False

    def _open_standby(self) -> None:
        meta = self._ensure_tables()
        self._check_meta(meta, missing_ok=True)

    def _open_readonly(self) -> None:
        has_meta = self._conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
        if not has_meta:
            raise StoreError(f"no event store at {self.name}: its tables do not exist")
        self._check_meta(self._read_meta(self._conn), missing_ok=False)

    def _check_meta(self, meta: Mapping[str, str], *, missing_ok: bool) -> None:
        self._check_version(meta)
        if "resolution" not in meta:
            if missing_ok:  # no writer has started yet; promotion writes the meta rows
                return
            raise StoreError(f"no event store at {self.name}: it was never written")
        version = int(meta.get("schema_version", 0))
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"event store {self.name} has schema version {version}; a read-only open "
                "cannot upgrade it. Start slo-exporter on it once, then read it"
            )
        file_res = float(meta["resolution"])
        if file_res != self._resolution:
            raise StoreError(
                f"event store {self.name} has {file_res:g} s buckets, not "
                f"{self._resolution:g} s; every replica must use the resolution it was "
                "written with"
            )
        self._store_id = meta.get("store_id", "")

    def _check_version(self, meta: Mapping[str, str]) -> None:
        version = int(meta.get("schema_version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"event store {self.name} has schema version {version}, newer than this "
                f"slo-exporter understands ({SCHEMA_VERSION}); upgrade slo-exporter or "
                "point --storage.url elsewhere"
            )

    @staticmethod
    def _read_meta(conn: Any) -> dict[str, str]:
        return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}

    # ------------------------------------------------------------ helpers

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Every driver error, and a damaged meta value, as a StoreError naming the database."""
        try:
            yield
        except StoreError:
            raise
        except (ValueError, KeyError) as exc:
            raise StoreError(
                f"{doing} {self.name}: the meta table is damaged ({exc!r})") from None
        except Exception as exc:
            if psycopg is not None and isinstance(exc, psycopg.Error):
                raise StoreError(f"{doing} {self.name}: {_message(exc)}") from None
            raise

    @contextmanager
    def _access(self, *, write: bool, renew: bool | None = None) -> Iterator[Any]:
        """The connection, under the store's lock, with errors turned into StoreError.

        A write on a read-only store is refused. A write that fails drops
        the memory: after a lost connection nobody knows whether the COMMIT
        landed, and the database is read again. A follower's read runs in
        its snapshot, renewed first when ``renew``, or (None) when older
        than ``max_staleness``; a hook filling the memory passes False, so
        the memory never mixes two snapshots.
        """
        with self._lock:
            conn = self._open_conn()
            if write and self._readonly:
                raise StoreError(f"event store {self.name} is open read-only "
                                 "(another replica holds the writer role)")
            try:
                with self._errors("event store"):
                    if not write and self._readonly and (
                            renew or not _in_snapshot(conn) or (renew is None and (
                                time.monotonic() - self._refreshed >= self._max_staleness))):
                        self._refresh(conn)
                    yield conn
            except BaseException as exc:
                if write:
                    self._drop_memory()
                if isinstance(exc, StoreError) and conn.broken:
                    raise StoreError(f"{exc}; {self._lost()}") from None
                raise

    def _open_conn(self) -> Any:
        if self._closed or self._conn is None:
            raise StoreError(f"event store {self.name} is closed")
        if self._conn.closed or self._conn.broken:
            self._reconnect()
        return self._conn

    def _reconnect(self) -> None:
        """Connect again after a lost connection (a database restart, a network cut).

        Attempts are at least ``connect_timeout`` apart, so a database that
        stays down fails each read at once instead of each waiting. A writer
        must win its role back: if a standby took it meanwhile, this store
        has lost it for good (``role_lost``) and only reads, also when that
        standby has let it go again (its mark replaced this writer's in the
        meta table): a write this one computed from a cursor or series state
        it remembered from before would count events twice. The memory is
        dropped: others may have written while this one was away.
        """
        now = time.monotonic()
        if now < self._retry_at:
            raise StoreError(f"event store {self.name}: {self._lost()}")
        self._retry_at = now + self._connect_timeout
        with contextlib.suppress(Exception):
            self._conn.close()
        self._drop_memory()
        self._refreshed = -math.inf
        self._conn = self._connect()
        if self._readonly:
            return
        with self._errors("cannot reconnect to event store"):
            if self._take_lock():
                if self._still_mine():
                    return
                # The role is free again, but another replica held it meanwhile:
                # what this one computed from its memory may be stale.
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        self._readonly = True
        self._can_promote = False
        self._role_lost = True
        self._conn.execute("SET idle_in_transaction_session_timeout = 0")
        raise StoreError(f"event store {self.name}: {self._lost()}")

    def _still_mine(self) -> bool:
        """Whether no other writer took the role since this one's ``_become_writer``
        (its mark in the meta table is still there)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = %s",
                                 (f"writer {self._stream}",)).fetchone()
        return row is not None and row[0] == self._token

    def _lost(self) -> str:
        if self._role_lost:
            return ("another replica took the writer role while this one was disconnected; "
                    "nothing more is written here")
        return "the connection to PostgreSQL was lost; the next use reconnects"

    def _drop_memory(self) -> None:
        """Forget everything read or written; it is read from the tables again when asked."""
        self._forget_all()
        self._sources = {}
        self._seen = None
        self._cursors = {}
        self._states = {}

    def _refresh(self, conn: Any) -> None:
        """A new snapshot, and the memory brought to it from the change log.

        A refresh that fails half-way forgets the memory: it is read again
        rather than trusted half brought up to date.
        """
        try:
            _end_snapshot(conn)
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            self._follow(conn)
        except BaseException:
            self._drop_memory()
            raise
        self._refreshed = time.monotonic()

    def _follow(self, conn: Any) -> None:
        """Replay the stream's log entries after ``_seen``, oldest first.

        Behind the floor (the log was trimmed past this replica's position),
        or with no position yet, the memory is dropped and the position is
        the log's end in this snapshot.
        """
        row = conn.execute(_FLOOR, (self._stream,)).fetchone()
        floor = 0 if row is None else int(row[0])
        if self._seen is None or self._seen < floor:
            self._drop_memory()
            end = conn.execute(_LOG_END, (self._stream,)).fetchone()[0]
            self._sources = {str(k): (bool(up), None if up else str(error)) for k, up, error
                             in conn.execute(_SOURCES, (self._stream,))}
            self._seen = max(floor, 0 if end is None else int(end))
            return
        entries = conn.execute(_LOG_SINCE, (self._stream, self._seen), binary=True)
        for seq, kind, key, starts, goods, totals, horizon, gone, errors in entries:
            if kind == "s":
                self._sources.update(
                    (str(k), (e is None, e)) for k, e in zip(gone, errors, strict=True))
            elif kind == "b":
                self._replay_batch(gone, starts, goods, totals)
            elif kind == "a":  # one commit's, as a writer of an earlier release logs it
                self._committed(str(key), list(zip(starts, goods, totals, strict=True)), None)
            elif kind == "f":
                self._forget(str(key))
            elif kind == "p":
                self._pruned([str(k) for k in gone or ()], float(horizon))
            else:  # "r": every bucket moved
                self._forget_all()
            self._seen = int(seq)

    def _replay_batch(self, keys: Sequence[str], starts: Sequence[float],
                      goods: Sequence[float], totals: Sequence[float]) -> None:
        """A batch's deltas (one per bucket, each with its SLO's key) into the memory of
        the SLOs it holds, each SLO's in the order its commits added them."""
        rows: dict[str, list[Bucket]] = {}
        memory = self._memory
        for key, start, good, total in zip(keys, starts, goods, totals, strict=True):
            if key in memory:
                rows.setdefault(key, []).append((start, good, total))
        for key, found in rows.items():
            self._committed(key, found, None)

    def _log(self, conn: Any, kind: str, slo_key: str | None = None, *,
             horizon: float | None = None, gone: Sequence[str] = ()) -> None:
        """Tell followers, in the writer's transaction, of a change to replay."""
        conn.execute(_LOG, (self._stream, kind, slo_key, horizon, list(gone)))

    def _trim_log(self, conn: Any) -> None:
        """At most every tenth of ``log_keep``: delete the log entries older than it."""
        now = time.monotonic()
        if now - self._trimmed < self._log_keep / 10:
            return
        self._trimmed = now
        conn.execute(_TRIM_LOG, {"stream": self._stream, "keep": self._log_keep})

    @staticmethod
    def _drop(conn: Any, slo_key: str) -> int:
        deleted = conn.execute("DELETE FROM bucket WHERE slo_key = %s", (slo_key,)).rowcount
        conn.execute("DELETE FROM series WHERE slo_key = %s", (slo_key,))
        conn.execute("DELETE FROM measured WHERE slo_key = %s", (slo_key,))
        return int(deleted)

    def _add_span(self, conn: Any, slo_key: str, start: float, until: float,
                  last: Span | None) -> Span:
        """Merge ``[start, until)`` into the SLO's measured runs, whose newest is ``last``
        (None: it has none); returns the newest run.

        The rule is ``common.extend_run`` / ``absorb_runs``: the newest run
        lives on the SLO's row, older runs are rows of ``measured``.
        """
        if last is None:
            return (start, until)
        merge = extend_run(last, start, until)
        if merge is None:
            rows = conn.execute(
                "SELECT start, until FROM measured WHERE slo_key = %s AND start <= %s "
                "ORDER BY start DESC",
                (slo_key, until + MERGE_GAP),
            ).fetchall()
            merge = absorb_runs(last, start, until, rows)
            if merge.absorbed:
                conn.execute("DELETE FROM measured WHERE slo_key = %s AND start = ANY(%s)",
                             (slo_key, list(merge.absorbed)))
        if merge.closed is not None:
            conn.execute("INSERT INTO measured (slo_key, start, until) VALUES (%s, %s, %s)",
                         (slo_key, *merge.closed))
        return merge.newest

    # ------------------------------------------------------------- writes

    def ensure_fingerprint(self, slo_key: str, fingerprint: str, *, keep_events: bool) -> bool:
        """Record what defines the SLO's events; True when a different one was stored."""
        with self._access(write=True) as conn:
            with conn.transaction():
                row = conn.execute(
                    "SELECT fingerprint FROM slo WHERE slo_key = %s", (slo_key,)
                ).fetchone()
                changed = row is not None and row[0] is not None and row[0] != fingerprint
                reset = changed and not keep_events
                if reset:
                    self._drop(conn, slo_key)
                    conn.execute("DELETE FROM slo WHERE slo_key = %s", (slo_key,))
                    self._log(conn, "f", slo_key)
                conn.execute(
                    "INSERT INTO slo (slo_key, fingerprint) VALUES (%s, %s) "
                    "ON CONFLICT (slo_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
                    "retired_at = NULL",
                    (slo_key, fingerprint),
                )
            if reset:
                self._forget(slo_key)
                self._forget_state(slo_key)
        return changed

    def retire(self, keep: Iterable[str], at: float) -> Retirement:
        """Mark every stored SLO not in ``keep`` retired at ``at``; restore those in ``keep``.

        A shard's store only considers its own SLOs: the others' shards keep theirs."""
        check_finite("at", at)
        keep = set(keep)
        with self._access(write=True) as conn, conn.transaction():
            rows = [(k, r) for k, r in conn.execute(
                "SELECT slo_key, retired_at FROM slo ORDER BY slo_key") if self._owns(k)]
            retired = tuple(str(k) for k, r in rows if k not in keep and r is None)
            restored = tuple(str(k) for k, r in rows if k in keep and r is not None)
            if retired:
                conn.execute("UPDATE slo SET retired_at = %s WHERE slo_key = ANY(%s)",
                             (at, list(retired)))
            if restored:
                conn.execute("UPDATE slo SET retired_at = NULL WHERE slo_key = ANY(%s)",
                             (list(restored),))
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

        Same arguments and checks as ``SQLiteStore.commit``; a batch of one
        (``commit_many``).
        """
        self.commit_many([Commit(slo_key, deltas, cursor, series, measured)])

    def commit_many(self, commits: Sequence[Commit]) -> None:
        """Each of ``commits`` as ``commit`` does it, in order, in one transaction: all of
        them are durable together or none is.

        The arguments of every one are checked first (``ValueError``, nothing
        written). Each table's rows go in one statement per round (a round
        holds each SLO at most once, so a batch of distinct SLOs is one round;
        an SLO's later commits go in later rounds, in order). Standbys replay
        the batch from one change log row per round (``_UPSERT_BUCKETS``; a
        commit of more than ``REPLAY_LIMIT`` buckets is a reset instead), in
        the order the commits would have added them one by one: per SLO, the
        order of its commits. Memory follows after COMMIT; a failure drops it
        (``_access``).
        """
        checked = [(c, commit_rows(c.deltas, self._resolution, cursor=c.cursor,
                                   series=c.series, measured=c.measured)) for c in commits]
        if not checked:
            return
        with self._access(write=True) as conn:
            with conn.transaction():
                runs = self._known_runs(conn, checked)
                newest: list[Span | None] = [None] * len(checked)
                for batch in _rounds(c.slo_key for c, _ in checked):
                    self._write_round(conn, [(i, *checked[i]) for i in batch], runs, newest)
                self._trim_log(conn)
            for (commit, rows), run in zip(checked, newest, strict=True):
                self._committed(commit.slo_key, rows, run)
                self._kept_state(commit.slo_key, commit.cursor, commit.series)

    def _known_runs(self, conn: Any, checked: Sequence[tuple[Commit, list[Bucket]]]
                    ) -> dict[str, Span]:
        """Inside the transaction: the newest measured run of each SLO whose span a commit
        extends, from memory, else (one read for all) from the database."""
        runs: dict[str, Span] = {}
        unknown: list[str] = []
        for commit, _ in checked:
            key, span = commit.slo_key, commit.measured
            if span is None or span[1] <= span[0] or key in runs:
                continue
            last = self._last_run.get(key)
            if last is not None:
                runs[key] = last
            else:
                unknown.append(key)
        if unknown:
            for key, start, until in conn.execute(_LAST_RUNS, (unknown,)):
                runs[str(key)] = (float(start), float(until))
        return runs

    def _write_round(self, conn: Any, items: Sequence[tuple[int, Commit, list[Bucket]]],
                     runs: dict[str, Span], newest: list[Span | None]) -> None:
        """Inside the transaction: commits of distinct SLOs, each table's rows in one
        statement. ``runs`` holds each SLO's newest measured run as the transaction has
        left it so far (this round moves it); ``newest[i]`` gets commit ``i``'s."""
        keys: list[str] = []
        cursors: list[float | None] = []
        run_starts: list[float | None] = []
        run_untils: list[float | None] = []
        b_key: list[str] = []
        b_start: list[float] = []
        b_good: list[float] = []
        b_total: list[float] = []
        replay: list[bool] = []
        reset: list[str] = []
        states: tuple[list[str], list[str], list[float], list[float]] = ([], [], [], [])
        for i, commit, rows in items:
            key, span = commit.slo_key, commit.measured
            run: Span | None = None
            if span is not None and span[1] > span[0]:
                run = runs[key] = self._add_span(conn, key, *span, runs.get(key))
            newest[i] = run
            keys.append(key)
            cursors.append(commit.cursor)
            run_starts.append(None if run is None else run[0])
            run_untils.append(None if run is None else run[1])
            if rows:
                b_key += [key] * len(rows)
                starts, goods, totals = zip(*rows, strict=True)
                b_start += starts
                b_good += goods
                b_total += totals
                small = len(rows) <= REPLAY_LIMIT
                replay += [small] * len(rows)
                if not small:
                    reset.append(key)
            if commit.series:
                names = list(commit.series)
                states[0].extend([key] * len(names))
                states[1].extend(names)
                states[2].extend(commit.series[n][0] for n in names)
                states[3].extend(commit.series[n][1] for n in names)
        if len(keys) == 1:  # a probe result's commit: scalars cost the driver less
            conn.execute(_UPSERT_SLO, (keys[0], cursors[0], run_starts[0], run_untils[0]))
        else:
            conn.execute(_UPSERT_SLOS, (keys, cursors, run_starts, run_untils))
        if b_key:
            # the log's arrays are the buckets' own (None), or their replayed part
            picked = [j for j, small in enumerate(replay) if small] if reset else None
            conn.execute(_UPSERT_BUCKETS, {
                "stream": self._stream, "reset": reset, "logged": picked != [],
                "log_k": _pick(b_key, picked), "log_s": _pick(b_start, picked),
                "log_g": _pick(b_good, picked), "log_t": _pick(b_total, picked),
                "k": b_key, "s": b_start, "g": b_good, "t": b_total})
        if states[0]:
            conn.execute(_UPSERT_SERIES, states)

    def prune(self, before: float) -> Pruned:
        """Delete buckets, coverage and series retention no longer needs, and SLOs retired
        before ``before`` (a shard's store: of its own SLOs only)."""
        check_finite("before", before)
        last_start = before - self._resolution
        with self._access(write=True) as conn:
            with conn.transaction():
                # a shard's own SLOs, or (unsharded) every SLO
                keys = [] if self._shard is None else [
                    str(k) for (k,) in conn.execute("SELECT slo_key FROM slo") if self._owns(k)]
                args = {"before": before, "last": last_start, "keys": keys,
                        "all": self._shard is None}
                deleted = conn.execute(
                    "DELETE FROM bucket WHERE start <= %(last)s "
                    "AND (%(all)s OR slo_key = ANY(%(keys)s))", args).rowcount
                for statement in (
                    "DELETE FROM series WHERE ts < %(before)s",
                    "DELETE FROM measured WHERE until <= %(before)s",
                    "UPDATE measured SET start = %(before)s WHERE start < %(before)s",
                    "UPDATE slo SET run_start = NULL, run_until = NULL "
                    "WHERE run_until <= %(before)s",
                    "UPDATE slo SET run_start = %(before)s WHERE run_start < %(before)s",
                ):
                    conn.execute(statement + " AND (%(all)s OR slo_key = ANY(%(keys)s))", args)
                gone = tuple(
                    str(row[0]) for row in conn.execute(
                        "SELECT slo_key FROM slo WHERE retired_at < %(before)s "
                        "AND (%(all)s OR slo_key = ANY(%(keys)s)) ORDER BY slo_key",
                        args).fetchall()
                )
                for key in gone:
                    deleted += self._drop(conn, key)
                    conn.execute("DELETE FROM slo WHERE slo_key = %s", (key,))
                    conn.execute("DELETE FROM source WHERE slo_key = %s", (key,))
                self._log(conn, "p", horizon=last_start, gone=gone)
            for key in gone:
                self._forget_state(key)
            for state in self._states.values():  # as the DELETE of series above
                for series_key in [k for k, (ts, _) in state.items() if ts < before]:
                    del state[series_key]
            self._pruned(gone, last_start)
        return Pruned(buckets=int(deleted), slos=gone)

    # -------------------------------------------------------------- reads

    def cursor(self, slo_key: str) -> float | None:
        """The instant up to which the SLO's source has been read, if any; a writer's own
        SLO from memory once read."""
        with self._access(write=False) as conn:
            if not self._readonly and slo_key in self._cursors:
                return self._cursors[slo_key]
            row = conn.execute("SELECT cursor FROM slo WHERE slo_key = %s", (slo_key,)).fetchone()
            found = None if row is None or row[0] is None else float(row[0])
            if self._remembers(slo_key):
                self._cursors[slo_key] = found
        return found

    def fingerprint(self, slo_key: str) -> str | None:
        with self._access(write=False) as conn:
            row = conn.execute(
                "SELECT fingerprint FROM slo WHERE slo_key = %s", (slo_key,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def retired(self) -> dict[str, float]:
        with self._access(write=False) as conn:
            rows = conn.execute(
                "SELECT slo_key, retired_at FROM slo WHERE retired_at IS NOT NULL").fetchall()
        return {str(k): float(at) for k, at in rows}

    def series(self, slo_key: str) -> dict[str, tuple[float, float]]:
        """Last ``(ts, value)`` of every counter series of the SLO; a writer's own SLO
        from memory once read (a copy: the caller's to change)."""
        with self._access(write=False) as conn:
            state = None if self._readonly else self._states.get(slo_key)
            if state is not None:
                return dict(state)
            rows = conn.execute(
                "SELECT series_key, ts, value FROM series WHERE slo_key = %s", (slo_key,)
            ).fetchall()
            found = {str(key): (float(ts), float(value)) for key, ts, value in rows}
            if self._remembers(slo_key):
                self._states[slo_key] = dict(found)
        return found

    def _remembers(self, slo_key: str) -> bool:
        """Whether a cursor or series state just read may be kept: by the writer, of its
        own SLOs (another shard's writer moves the others). Called under ``_lock``."""
        return not self._readonly and self._owns(slo_key)

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events in the buckets whose start lies in ``[start, end)``; another shard's SLO
        from the database (its writer does not tell this store of its commits)."""
        if not self._owns(slo_key):
            self._sync()
            return self._read_sum(slo_key, start, end) if end > start else Counts()
        return super().sum(slo_key, start, end)

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        """Events of each window ``[end - w, end)``: kept running for this store's SLOs,
        from the database for another shard's."""
        if not self._owns(slo_key):
            self._sync()
            return {w: self._read_sum(slo_key, end - w, end) if w > 0 else Counts()
                    for w in windows}
        return super().sums(slo_key, end, windows)

    def _sync(self) -> None:
        """A follower renews a snapshot older than ``max_staleness`` (replaying the log)
        before a read; never in the middle of one."""
        if self._readonly:
            with self._access(write=False):
                pass

    def first_bucket(self, slo_key: str) -> float | None:
        with self._access(write=False) as conn:
            row = conn.execute(
                "SELECT min(start) FROM bucket WHERE slo_key = %s", (slo_key,)).fetchone()
        return None if row[0] is None else float(row[0])

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """Each stored bucket with start in ``[start, end)``, oldest first (no memory)."""
        with self._access(write=False) as conn:
            return _buckets(conn, slo_key, start, end)

    def _read_sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events of the stored buckets whose start lies in ``[start, end)``: one SUM in
        the database (a follower's in its current snapshot)."""
        with self._access(write=False, renew=False) as conn:
            good, total = conn.execute(_SUM, (slo_key, start, end)).fetchone()
        return Counts(float(good), float(total))

    def _read_buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """Each stored bucket with start in ``[start, end)``, oldest first, from the database."""
        with self._access(write=False, renew=False) as conn:
            return _buckets(conn, slo_key, start, end)

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        """As ``SQLiteStore.measured_spans``: a writer keeps the runs it knows the newest of."""
        kept = self._kept_spans(slo_key, start, end)
        if kept is not None:
            return kept
        with self._access(write=False) as conn:
            whole = not self._readonly and slo_key in self._last_run
            lo, hi = (-math.inf, math.inf) if whole else (start, end)
            rows = conn.execute(
                "SELECT start, until FROM measured WHERE slo_key = %(key)s "
                "AND start < %(end)s AND until > %(start)s "
                "UNION ALL SELECT run_start, run_until FROM slo WHERE slo_key = %(key)s "
                "AND run_start < %(end)s AND run_until > %(start)s ORDER BY 1",
                {"key": slo_key, "start": lo, "end": hi},
            ).fetchall()
            runs = [(float(s), float(u)) for s, u in rows]
            if whole:
                self._keep_runs(slo_key, runs)
        return [(max(s, start), min(u, end)) for s, u in runs if s < end and u > start]

    def slo_keys(self) -> tuple[str, ...]:
        with self._access(write=False) as conn:
            rows = conn.execute("SELECT slo_key FROM slo ORDER BY slo_key").fetchall()
        return tuple(str(row[0]) for row in rows)

    # ---------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the connection (which ends the writer role); idempotent."""
        with self._lock:
            self._closed = True
            self._release()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        self._drop_memory()
        if conn is not None:
            try:
                if not self._readonly and not conn.broken:
                    # Freed now, not when the server notices the socket closed,
                    # so a standby promoting right after this close succeeds.
                    conn.execute("SELECT pg_advisory_unlock_all()")
                conn.close()
            except Exception as exc:
                raise StoreError(f"event store {self.name}: {_message(exc)}") from None


def _rounds(keys: Iterable[str]) -> list[list[int]]:
    """The positions of ``keys`` in rounds: round n holds each key's (n+1)-th position,
    so no key is twice in a round and each key's positions keep their order."""
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}
    for i, key in enumerate(keys):
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(i)
    return rounds


def _pick(values: list[_T], at: list[int] | None) -> list[_T] | None:
    """``values`` at the positions ``at``; None (all of them) when ``at`` is None."""
    return None if at is None else [values[j] for j in at]


def _buckets(conn: Any, slo_key: str, start: float, end: float) -> list[Bucket]:
    rows = conn.execute(_BUCKETS, (slo_key, start, end)).fetchall()
    return [(float(s), float(g), float(t)) for s, g, t in rows]


def _in_snapshot(conn: Any) -> bool:
    """True while a follower's snapshot is open and usable (not ended, not failed)."""
    return bool(conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS)


def _end_snapshot(conn: Any) -> None:
    """End a follower's read-only snapshot, if one is open (nothing to commit)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.execute("ROLLBACK")


def _message(exc: BaseException) -> str:
    """The driver's message, one line, without anything that looks like a secret."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return scrub(text)

