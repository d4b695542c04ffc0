"""The PostgreSQL tables of the event store: the SQLite schema's, plus a change log.

The tables and columns are those of ``schema`` at ``SCHEMA_VERSION`` (the
PostgreSQL store started at that version, so it has no upgrades yet), with
``double precision`` for SQLite's REAL, and what lets standbys follow the
writer without reading every bucket again:

* ``change_log``: one row per write that changes bucket sums, written in the
  writer's own transaction and numbered by the ``change`` sequence. A row
  holds the events a batch of commits added (``kind`` ``b``: per bucket,
  the SLO key in ``gone``, the start and the good and total deltas; an
  earlier release wrote one commit's as ``a``, with the key in
  ``slo_key``), or says that a key's events are gone or replaced
  (``f``: reset, or a commit too large to be worth replaying), that a prune
  ran (``p``: ``horizon`` is the last bucket start it deleted, ``gone`` the
  SLOs it deleted whole), or that every bucket moved (``r``: re-bucketing).
  A row of kind ``s`` says the writer's source state changed for the SLOs
  in ``gone`` (each up when its ``errors`` entry is NULL).
  ``stream`` names the writer role that wrote the row (one per shard
  sharing the database); one writer commits its rows in sequence order, so
  a standby that has applied a stream up to ``seq`` needs only the rows
  after it;
* ``meta`` row ``log_floor <stream>``: the newest ``seq`` deleted from the
  log when it was trimmed; a standby that has not yet seen that row cannot
  catch up from the log and re-reads its memory from the tables;
* ``source``: what each SLO's writer saw of its data source at its last
  evaluation (up, the error), which standbys export instead of asking the
  source themselves, and the ``meta`` row ``evaluated <stream>``: the
  instant of the evaluation the stream's writer last published (what
  another shard's composite describes at most).

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
        run_until   double precision
    )""",
    """CREATE TABLE IF NOT EXISTS bucket (
        slo_key text NOT NULL,
        start   double precision NOT NULL,
        good    double precision NOT NULL,
        total   double precision NOT NULL,
        PRIMARY KEY (slo_key, start)
    )""",
    "CREATE SEQUENCE IF NOT EXISTS change",
    """CREATE TABLE IF NOT EXISTS change_log (
        seq     bigint PRIMARY KEY,
        stream  text NOT NULL,
        kind    text NOT NULL,
        slo_key text,
        starts  double precision[],
        goods   double precision[],
        totals  double precision[],
        horizon double precision,
        gone    text[],
        errors  text[],
        at      timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS change_log_stream ON change_log (stream, seq)",
    """CREATE TABLE IF NOT EXISTS source (
        slo_key text PRIMARY KEY,
        stream  text NOT NULL,
        up      boolean NOT NULL,
        error   text
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


def rebucket(conn: Any, resolution: float, stream: str) -> None:
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
    # every stream's standbys forget everything they hold
    conn.execute("INSERT INTO change_log (seq, stream, kind) "
                 "SELECT nextval('change'), s, 'r' FROM (SELECT DISTINCT stream FROM change_log "
                 "UNION SELECT %s) AS u(s)", (stream,))
