"""The PostgreSQL tables of the event store: the SQLite schema's, plus a change counter.

The tables and columns are those of ``schema`` at ``SCHEMA_VERSION`` (the
PostgreSQL store started at that version, so it has no upgrades yet), with
``double precision`` for SQLite's REAL, and what lets a standby follow the
writer without reading every bucket again:

* ``change``, a sequence: every write of an SLO takes its next value as the
  SLO's ``slo.version``, and each bucket it writes carries it as
  ``bucket.rev`` (indexed), so a standby that knows an SLO at version v
  reads only the buckets with ``rev > v``; one writer commits in sequence
  order, and a bucket is read whole, so reading one twice is harmless;
* ``slo.epoch``, a value of the same sequence taken when the SLO's buckets
  were deleted or moved (a reset, a re-bucketing): a standby whose epoch
  differs reads the SLO again in full;
* ``meta.pruned``: the id (a value of the sequence) and horizon of the last
  prune; a standby that has not seen that prune forgets the buckets up to
  the horizon, then reads the buckets written since as above (which
  brings back any bucket written before the horizon after that prune).

They are created in the current schema (the first of the search path), so
one database can hold several independent stores.

Must not hold store logic; the store runs these statements inside its own
transaction.
"""

from __future__ import annotations

from typing import Any

TABLES = (
    """CREATE TABLE IF NOT EXISTS meta (
        key   text PRIMARY KEY,
        value text NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS slo (
        slo_key     text PRIMARY KEY,
        fingerprint text,
        cursor      double precision,
        retired_at  double precision,
        run_start   double precision,
        run_until   double precision,
        version     bigint NOT NULL DEFAULT 0,
        epoch       bigint NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS bucket (
        slo_key text NOT NULL,
        start   double precision NOT NULL,
        good    double precision NOT NULL,
        total   double precision NOT NULL,
        rev     bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (slo_key, start)
    )""",
    "CREATE INDEX IF NOT EXISTS bucket_rev ON bucket (slo_key, rev)",
    "CREATE SEQUENCE IF NOT EXISTS change",
    """CREATE TABLE IF NOT EXISTS series (
        slo_key    text NOT NULL,
        series_key text NOT NULL,
        ts         double precision NOT NULL,
        value      double precision NOT NULL,
        PRIMARY KEY (slo_key, series_key)
    )""",
    """CREATE TABLE IF NOT EXISTS measured (
        slo_key text NOT NULL,
        start   double precision NOT NULL,
        until   double precision NOT NULL,
        PRIMARY KEY (slo_key, start)
    )""",
)


def create(conn: Any) -> None:
    """Create the tables where missing."""
    for statement in TABLES:
        conn.execute(statement)


def rebucket(conn: Any, resolution: float) -> None:
    """Move every bucket into the bucket of ``resolution`` holding its start.

    The same rule as the SQLite store's (``slomath.bucket_start``: the
    largest multiple not after the start), done in the database so that no
    row travels.
    """
    # A one-off rewrite of every bucket may outlast the per-statement deadline.
    conn.execute("SET LOCAL statement_timeout = '10min'")
    conn.execute(
        "CREATE TEMP TABLE rebucketed ON COMMIT DROP AS "
        "SELECT slo_key, floor(start / %(res)s) * %(res)s AS start, "
        "sum(good) AS good, sum(total) AS total FROM bucket GROUP BY 1, 2",
        {"res": resolution},
    )
    conn.execute("DELETE FROM bucket")
    conn.execute("INSERT INTO bucket (slo_key, start, good, total) "
                 "SELECT slo_key, start, good, total FROM rebucketed")
    conn.execute("UPDATE slo SET version = v.n, epoch = v.n "
                 "FROM (SELECT nextval('change') AS n) AS v")
