"""The PostgreSQL tables of the event store: the SQLite schema's, plus a change counter.

The tables and columns are those of ``schema`` at ``SCHEMA_VERSION`` (the
PostgreSQL store started at that version, so it has no upgrades yet), with
``double precision`` for SQLite's REAL and one addition: ``slo.version``,
bumped by every write of the SLO, which tells a standby which cached
indexes to drop. They are created in the current schema (the first of the
search path), so one database can hold several independent stores.

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
        version     bigint NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS bucket (
        slo_key text NOT NULL,
        start   double precision NOT NULL,
        good    double precision NOT NULL,
        total   double precision NOT NULL,
        PRIMARY KEY (slo_key, start)
    )""",
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
    conn.execute("UPDATE slo SET version = version + 1")
