"""The event store in PostgreSQL (``--storage.url=postgresql://...``), for replicas that share it.

Same contract as ``SQLiteStore`` (``protocol.EventStore``): the same tables
(``pg_schema``), the same one-transaction ``commit``, the same memory of
running window sums per SLO in front of the database (``common.StoreBase``). What PostgreSQL adds is
sharing: several slo-exporter replicas open one database, and exactly one of
them writes.

The writer role is a session-level advisory lock taken on the store's one
connection, and every write runs on that same connection. The lock and the
right to write therefore end together: when the writer's process dies, its
session ends, PostgreSQL frees the lock, and no late write of the old writer
can land after a standby took over (its connection is gone). The lock key
is derived from the schema, so stores in different schemas of one database
are independent.

Three ways to open:

* writer (``PostgresStore(url, res)``): takes the lock or fails with
  ``StoreError`` (another replica writes);
* standby (``standby=True``): the writer if the lock is free, otherwise
  read-only until ``try_promote()`` gets the lock (the daemon tries once
  per evaluation); promotion drops all memory, since the old writer wrote
  behind this replica's back;
* read-only (``readonly=True``, the ``report`` command): never writes,
  never takes the lock.

A read-only store keeps its memory until ``refresh()``, which reads each
SLO's change counter and forgets the memory of the SLOs written since
(``pg_schema`` says how); reads also refresh by themselves once the last
refresh is older than ``max_staleness`` seconds.

Bounds: connecting waits at most ``connect_timeout`` seconds, every
statement at most ``statement_timeout`` (a server-side deadline, with TCP
keepalives so a vanished server or client is noticed). Errors are
``StoreError`` whose text names the database without its password and is
passed through ``redact.scrub``. This module must not log, compute beyond
sums, or read the wall clock (instants are passed in; ``max_staleness``
uses the monotonic clock only to bound how old a cache may get).
"""

from __future__ import annotations

import contextlib
import math
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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
from slo_exporter.store.protocol import Bucket, Pruned, Retirement, Span
from slo_exporter.store.schema import SCHEMA_VERSION

try:  # an optional dependency: pip install 'slo-exporter[postgres]'
    import psycopg
    from psycopg import conninfo as _conninfo
except ImportError:  # pragma: no cover - exercised only without the extra
    psycopg = None  # type: ignore[assignment]

#: first key of the writer lock ("SLOE"); the second is a hash of the schema
LOCK_CLASS = 0x534C4F45
#: first key of the short lock that serialises creating the tables
SCHEMA_LOCK_CLASS = LOCK_CLASS + 1

CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
MAX_STALENESS = 1.0

_SCHEMES = ("postgresql://", "postgres://")

# One statement per commit, the rows as arrays: a day of buckets is one
# round trip instead of 1,440 (a 30-day backfill writes ~4x faster). Starts
# and series keys are distinct within a commit, as ON CONFLICT requires.
_UPSERT_BUCKET = """
INSERT INTO bucket (slo_key, start, good, total, rev)
SELECT %s, s, g, t, %s FROM unnest(%s::float8[], %s::float8[], %s::float8[]) AS u(s, g, t)
ON CONFLICT (slo_key, start) DO UPDATE SET
    good = bucket.good + excluded.good, total = bucket.total + excluded.total, rev = excluded.rev
"""

_UPSERT_SERIES = """
INSERT INTO series (slo_key, series_key, ts, value)
SELECT %s, k, t, v FROM unnest(%s::text[], %s::float8[], %s::float8[]) AS u(k, t, v)
ON CONFLICT (slo_key, series_key) DO UPDATE SET ts = excluded.ts, value = excluded.value
"""

# One row write per commit: the cursor, the newest measured run (each kept
# when NULL is given) and the change counter standbys compare, which the
# commit's buckets then carry.
_UPSERT_SLO = """
WITH v AS (SELECT nextval('change') AS n)
INSERT INTO slo (slo_key, cursor, run_start, run_until, version, epoch)
SELECT %s, %s::float8, %s::float8, %s::float8, n, n FROM v
ON CONFLICT (slo_key) DO UPDATE SET
    cursor = coalesce(excluded.cursor, slo.cursor),
    run_start = coalesce(excluded.run_start, slo.run_start),
    run_until = coalesce(excluded.run_until, slo.run_until),
    version = excluded.version
RETURNING version
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

    Thread-safe: one lock serialises every call on the one connection.
    ``url`` is a libpq URL; the tables go into the first schema of its search
    path. Raises ``StoreError`` when the database cannot be reached in time,
    the URL is bad, another replica holds the writer role (unless
    ``standby``), the tables were written by a newer schema, or a read-only
    open finds no store or another resolution.
    """

    def __init__(
        self,
        url: str,
        resolution: float,
        *,
        readonly: bool = False,
        standby: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT,
        statement_timeout: float = STATEMENT_TIMEOUT,
        max_staleness: float = MAX_STALENESS,
    ) -> None:
        super().__init__(resolution, readonly=readonly or standby)
        self._url = url
        self.name = describe_url(url)
        self._can_promote = standby and not readonly
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._max_staleness = max_staleness
        # read-only: (version, epoch, last prune) each cached index reflects
        self._versions: dict[str, tuple[int, int, str]] = {}
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

        Cheap (one statement) while another replica writes. On success every
        cached index is dropped: the old writer changed the database since.
        """
        with self._lock:
            if not self._readonly:
                return True
            if not self._can_promote:
                return False
            with self._errors("cannot take over event store"):
                conn = self._open_conn()
                if not self._take_lock():
                    return False
                try:
                    self._become_writer()
                except BaseException:
                    self._readonly = True
                    conn.execute("SELECT pg_advisory_unlock_all()")
                    raise
            self._forget_all()
            self._versions.clear()
            return True

    def refresh(self) -> None:
        """Read-only: drop the cached indexes of SLOs the writer changed since the last look."""
        with self._access(write=False) as conn:
            self._refresh(conn)

    # ------------------------------------------------------------- opening

    def _connect(self) -> Any:
        params = _parse(self._url)
        timeout = max(2, math.ceil(self._connect_timeout))  # libpq's minimum
        deadline = max(1, round(self._statement_timeout * 1000))
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
            conn.execute(f"SET idle_in_transaction_session_timeout = {deadline}")
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
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (LOCK_CLASS,)
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
                pg_schema.rebucket(conn, self._resolution)
            store_id = meta.get("store_id") or uuid.uuid4().hex
            for key, value in (("schema_version", str(SCHEMA_VERSION)),
                               ("resolution", repr(self._resolution)), ("store_id", store_id)):
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
        self._store_id = store_id
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
    def _access(self, *, write: bool) -> Iterator[Any]:
        """The connection, under the store's lock, with errors turned into StoreError.

        A write on a read-only store is refused. A write that fails drops
        every cached index: after a lost connection nobody knows whether the
        COMMIT landed, and the database is read again.
        """
        with self._lock:
            conn = self._open_conn()
            if write and self._readonly:
                raise StoreError(f"event store {self.name} is open read-only "
                                 "(another replica holds the writer role)")
            try:
                with self._errors("event store"):
                    if not write and self._readonly and (
                            time.monotonic() - self._refreshed >= self._max_staleness):
                        self._refresh(conn)
                    yield conn
            except BaseException as exc:
                if write:
                    self._forget_all()
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
        has lost it for good (``role_lost``) and only reads. Every cache is
        dropped: others may have written while this one was away.
        """
        now = time.monotonic()
        if now < self._retry_at:
            raise StoreError(f"event store {self.name}: {self._lost()}")
        self._retry_at = now + self._connect_timeout
        with contextlib.suppress(Exception):
            self._conn.close()
        self._forget_all()
        self._versions.clear()
        self._refreshed = -math.inf
        self._conn = self._connect()
        if self._readonly:
            return
        with self._errors("cannot reconnect to event store"):
            if self._take_lock():
                return
        self._readonly = True
        self._can_promote = False
        self._role_lost = True
        raise StoreError(f"event store {self.name}: {self._lost()}")

    @property
    def role_lost(self) -> bool:
        """True once another replica took the writer role while this one was disconnected."""
        return self._role_lost

    def _lost(self) -> str:
        if self._role_lost:
            return ("another replica took the writer role while this one was disconnected; "
                    "nothing more is written here")
        return "the connection to PostgreSQL was lost; the next use reconnects"

    def _refresh(self, conn: Any) -> None:
        """Bring the cached indexes up to what the writer committed, reading only changes.

        A refresh that fails half-way forgets every cached index: they are
        read again in full rather than trusted half brought up to date.
        """
        try:
            self._follow(conn)
        except BaseException:
            self._forget_all()
            self._versions.clear()
            raise
        self._refreshed = time.monotonic()

    def _follow(self, conn: Any) -> None:
        """Forget the memory of every SLO the writer changed (or moved, or a prune
        trimmed) since the last look; it is read again from the tables when asked."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'pruned'").fetchone()
        pruned = "" if row is None else str(row[0])
        now = {str(k): (int(v), int(e), pruned) for k, v, e in
               conn.execute("SELECT slo_key, version, epoch FROM slo")}
        for key in list(self._memory):
            if self._versions.get(key) != now.get(key):
                self._memory.pop(key, None)
        self._versions = now

    @staticmethod
    def _drop(conn: Any, slo_key: str) -> int:
        deleted = conn.execute("DELETE FROM bucket WHERE slo_key = %s", (slo_key,)).rowcount
        conn.execute("DELETE FROM series WHERE slo_key = %s", (slo_key,))
        conn.execute("DELETE FROM measured WHERE slo_key = %s", (slo_key,))
        return int(deleted)

    def _add_span(self, conn: Any, slo_key: str, start: float, until: float) -> Span:
        """Merge ``[start, until)`` into the SLO's measured runs; returns the newest run.

        The rule is ``common.extend_run`` / ``absorb_runs``: the newest run
        lives on the SLO's row, older runs are rows of ``measured``.
        """
        last = self._last_run.get(slo_key)
        if last is None:
            row = conn.execute(
                "SELECT run_start, run_until FROM slo WHERE slo_key = %s", (slo_key,)
            ).fetchone()
            if row is None or row[0] is None:
                return (start, until)
            last = (float(row[0]), float(row[1]))
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
                conn.execute(
                    "WITH v AS (SELECT nextval('change') AS n) "
                    "INSERT INTO slo (slo_key, fingerprint, version, epoch) "
                    "SELECT %s, %s, n, n FROM v "
                    "ON CONFLICT (slo_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
                    "retired_at = NULL, version = excluded.version",
                    (slo_key, fingerprint),
                )
            if reset:
                self._forget(slo_key)
        return changed

    def retire(self, keep: Iterable[str], at: float) -> Retirement:
        """Mark every stored SLO not in ``keep`` retired at ``at``; restore those in ``keep``."""
        check_finite("at", at)
        keep = set(keep)
        with self._access(write=True) as conn, conn.transaction():
            rows = conn.execute(
                "SELECT slo_key, retired_at FROM slo ORDER BY slo_key").fetchall()
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

        Same arguments and checks as ``SQLiteStore.commit``.
        """
        rows = commit_rows(deltas, self._resolution, cursor=cursor, series=series,
                           measured=measured)

        newest: Span | None = None
        with self._access(write=True) as conn:
            with conn.transaction():
                if measured is not None and measured[1] > measured[0]:
                    newest = self._add_span(conn, slo_key, *measured)
                run_start, run_until = newest or (None, None)
                version = conn.execute(
                    _UPSERT_SLO, (slo_key, cursor, run_start, run_until)).fetchone()[0]
                if rows:
                    starts, goods, totals = zip(*rows, strict=True)
                    conn.execute(_UPSERT_BUCKET,
                                 (slo_key, version, list(starts), list(goods), list(totals)))
                if series:
                    keys = list(series)
                    conn.execute(_UPSERT_SERIES, (slo_key, keys, [series[k][0] for k in keys],
                                                  [series[k][1] for k in keys]))
            self._committed(slo_key, rows, newest)

    def prune(self, before: float) -> Pruned:
        """Delete buckets, coverage and series retention no longer needs, and SLOs retired
        before ``before``."""
        check_finite("before", before)
        last_start = before - self._resolution
        with self._access(write=True) as conn:
            with conn.transaction():
                deleted = conn.execute(
                    "DELETE FROM bucket WHERE start <= %s", (last_start,)).rowcount
                conn.execute("DELETE FROM series WHERE ts < %s", (before,))
                conn.execute("DELETE FROM measured WHERE until <= %s", (before,))
                conn.execute("UPDATE measured SET start = %s WHERE start < %s", (before, before))
                conn.execute("UPDATE slo SET run_start = NULL, run_until = NULL "
                             "WHERE run_until <= %s", (before,))
                conn.execute("UPDATE slo SET run_start = %s WHERE run_start < %s",
                             (before, before))
                gone = tuple(
                    str(row[0]) for row in conn.execute(
                        "SELECT slo_key FROM slo WHERE retired_at < %s ORDER BY slo_key",
                        (before,)).fetchall()
                )
                for key in gone:
                    deleted += self._drop(conn, key)
                    conn.execute("DELETE FROM slo WHERE slo_key = %s", (key,))
                # standbys forget the same buckets (``pg_schema``)
                conn.execute(
                    "INSERT INTO meta (key, value) "
                    "VALUES ('pruned', nextval('change')::text || ' ' || %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (repr(before),))
            self._pruned(gone, last_start)
        return Pruned(buckets=int(deleted), slos=gone)

    # -------------------------------------------------------------- reads

    def cursor(self, slo_key: str) -> float | None:
        with self._access(write=False) as conn:
            row = conn.execute("SELECT cursor FROM slo WHERE slo_key = %s", (slo_key,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

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
        with self._access(write=False) as conn:
            rows = conn.execute(
                "SELECT series_key, ts, value FROM series WHERE slo_key = %s", (slo_key,)
            ).fetchall()
        return {str(key): (float(ts), float(value)) for key, ts, value in rows}

    def _sync(self) -> None:
        if self._readonly:  # a standby brings its memory up to the writer on entry
            with self._access(write=False):
                pass

    def _read_sum(self, slo_key: str, start: float, end: float) -> Counts:
        with self._access(write=False) as conn:
            good, total = conn.execute(
                "SELECT coalesce(sum(good), 0), coalesce(sum(total), 0) FROM bucket "
                "WHERE slo_key = %s AND start >= %s AND start < %s",
                (slo_key, start, end),
            ).fetchone()
        return Counts(float(good), float(total))

    def _read_buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        with self._access(write=False) as conn:
            rows = conn.execute(
                "SELECT start, good, total FROM bucket "
                "WHERE slo_key = %s AND start >= %s AND start < %s ORDER BY start",
                (slo_key, start, end),
            ).fetchall()
        return [(float(s), float(g), float(t)) for s, g, t in rows]

    def first_bucket(self, slo_key: str) -> float | None:
        with self._access(write=False) as conn:
            row = conn.execute(
                "SELECT min(start) FROM bucket WHERE slo_key = %s", (slo_key,)
            ).fetchone()
        return None if row[0] is None else float(row[0])

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        with self._access(write=False) as conn:
            rows = conn.execute(
                "SELECT start, until FROM measured WHERE slo_key = %(key)s "
                "AND start < %(end)s AND until > %(start)s "
                "UNION ALL SELECT run_start, run_until FROM slo WHERE slo_key = %(key)s "
                "AND run_start < %(end)s AND run_until > %(start)s ORDER BY 1",
                {"key": slo_key, "start": start, "end": end},
            ).fetchall()
        return [(max(float(s), start), min(float(u), end)) for s, u in rows]

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
        self._forget_all()
        if conn is not None:
            try:
                if not self._readonly and not conn.broken:
                    # Freed now, not when the server notices the socket closed,
                    # so a standby promoting right after this close succeeds.
                    conn.execute("SELECT pg_advisory_unlock_all()")
                conn.close()
            except Exception as exc:
                raise StoreError(f"event store {self.name}: {_message(exc)}") from None


def _message(exc: BaseException) -> str:
    """The driver's message, one line, without anything that looks like a secret."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return scrub(text)

