"""The SQLite schema of the event store and the upgrade of older files.

Schema history:

1. ``meta``, ``slo`` (fingerprint, cursor), ``bucket``, ``series``.
2. adds ``slo.retired_at`` (SLOs that left the configuration keep their
   history until retention) and coverage: the spans that were measured, one
   row of ``measured`` per contiguous run, except the newest run, which is
   ``slo.run_start``/``run_until`` so extending it rides on the cursor's
   row write. Upgrading from 1 keeps every
   bucket, cursor and series; it forgets the stored fingerprints, which were
   a ``repr()`` the new release cannot compare (the next start records the
   new ones without touching the events), and estimates coverage from what
   is stored: ``[first bucket, cursor)`` for an SLO read from Prometheus, the
   runs of consecutive buckets for a probe SLO.
3. every table refers to an SLO by its integer ``slo.id`` instead of
   repeating the key's text, and buckets live in two tiers whose values add
   up: ``bucket`` (hot: one row per bucket, where commits add) and
   ``block`` (one row per SLO per UTC day: the day's sums, its first and
   last bucket start, and the day's buckets encoded by ``blocks``).
   Compaction moves settled hot rows into their day's block. A ``block`` is
   a rowid table, not WITHOUT ROWID: its rows of about 1.5 KiB would spill
   most of each blob to an overflow page of its own there. Upgrading from 2
   keeps every row, only keyed by id; the store compacts afterwards.

Must not hold store logic; the store runs these statements inside its own
transaction.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3

TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS slo (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slo_key     TEXT NOT NULL UNIQUE,
    fingerprint TEXT,
    cursor      REAL,
    retired_at  REAL,
    run_start   REAL,
    run_until   REAL
);
CREATE TABLE IF NOT EXISTS bucket (
    slo_id INTEGER NOT NULL,
    start  INTEGER NOT NULL,
    good   REAL NOT NULL,
    total  REAL NOT NULL,
    PRIMARY KEY (slo_id, start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS block (
    slo_id  INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    first   INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    buckets INTEGER NOT NULL,
    good    REAL NOT NULL,
    total   REAL NOT NULL,
    data    BLOB NOT NULL,
    PRIMARY KEY (slo_id, day)
);
CREATE INDEX IF NOT EXISTS block_by_day ON block (day);
CREATE TABLE IF NOT EXISTS series (
    slo_id     INTEGER NOT NULL,
    series_key TEXT NOT NULL,
    ts         REAL NOT NULL,
    value      REAL NOT NULL,
    PRIMARY KEY (slo_id, series_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS measured (
    slo_id INTEGER NOT NULL,
    start  REAL NOT NULL,
    until  REAL NOT NULL,
    PRIMARY KEY (slo_id, start)
) WITHOUT ROWID;
"""

_MEASURED_1_TO_2 = """
CREATE TABLE measured (
    slo_key TEXT NOT NULL,
    start   REAL NOT NULL,
    until   REAL NOT NULL,
    PRIMARY KEY (slo_key, start)
) WITHOUT ROWID
"""

# Islands of consecutive buckets: start - n * resolution is constant along a
# run (bucket starts are exact multiples of the resolution).
_PROBE_COVERAGE_1_TO_2 = """
INSERT INTO measured (slo_key, start, until)
SELECT slo_key, MIN(start), MAX(start) + :res FROM (
    SELECT b.slo_key, b.start,
           b.start - ROW_NUMBER() OVER (PARTITION BY b.slo_key ORDER BY b.start) * :res AS run
    FROM bucket b JOIN slo s ON s.slo_key = b.slo_key
    WHERE s.cursor IS NULL
) GROUP BY slo_key, run
"""

_READ_COVERAGE_1_TO_2 = """
INSERT INTO measured (slo_key, start, until)
SELECT s.slo_key, MIN(b.start), s.cursor
FROM slo s JOIN bucket b ON b.slo_key = s.slo_key
WHERE s.cursor IS NOT NULL
GROUP BY s.slo_key
HAVING MIN(b.start) < s.cursor
"""

_NEWEST_RUN_TO_SLO = """
UPDATE slo SET (run_start, run_until) = (
    SELECT start, until FROM measured m WHERE m.slo_key = slo.slo_key
    ORDER BY start DESC LIMIT 1
)
"""


# Schema 2 keyed every row by the SLO key's text; schema 3 by the SLO's id.
# Every SLO named anywhere gets a row (an SLO with buckets always had one,
# but a file of the first release may lack it).
_KEYS_2_TO_3 = """
INSERT INTO slo (slo_key, fingerprint, cursor, retired_at, run_start, run_until)
SELECT slo_key, fingerprint, cursor, retired_at, run_start, run_until FROM slo_v2
ORDER BY slo_key
"""
_MISSING_KEYS_2_TO_3 = """
INSERT OR IGNORE INTO slo (slo_key)
SELECT slo_key FROM bucket_v2 UNION SELECT slo_key FROM series_v2
UNION SELECT slo_key FROM measured_v2 ORDER BY 1
"""
_ROWS_2_TO_3 = (
    "INSERT INTO bucket (slo_id, start, good, total) SELECT s.id, b.start, b.good, b.total "
    "FROM bucket_v2 b JOIN slo s ON s.slo_key = b.slo_key",
    "INSERT INTO series (slo_id, series_key, ts, value) SELECT s.id, r.series_key, r.ts, r.value "
    "FROM series_v2 r JOIN slo s ON s.slo_key = r.slo_key",
    "INSERT INTO measured (slo_id, start, until) SELECT s.id, m.start, m.until "
    "FROM measured_v2 m JOIN slo s ON s.slo_key = m.slo_key",
)


def create(conn: sqlite3.Connection) -> None:
    """Create the current tables where missing (a new file)."""
    for statement in TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)


def upgrade(conn: sqlite3.Connection, version: int, resolution: float) -> None:
    """Bring a file of schema ``version`` to ``SCHEMA_VERSION``, keeping every event."""
    if version < 2:
        conn.execute("ALTER TABLE slo ADD COLUMN retired_at REAL")
        conn.execute("UPDATE slo SET fingerprint = NULL")
        conn.execute(_MEASURED_1_TO_2)
        conn.execute("ALTER TABLE slo ADD COLUMN run_start REAL")
        conn.execute("ALTER TABLE slo ADD COLUMN run_until REAL")
        conn.execute(_PROBE_COVERAGE_1_TO_2, {"res": resolution})
        conn.execute(_READ_COVERAGE_1_TO_2)
        conn.execute(_NEWEST_RUN_TO_SLO)
        conn.execute(
            "DELETE FROM measured WHERE (slo_key, start) IN "
            "(SELECT slo_key, run_start FROM slo WHERE run_start IS NOT NULL)"
        )
    if version < 3:
        for table in ("slo", "bucket", "series", "measured"):
            conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v2")
        create(conn)
        conn.execute(_KEYS_2_TO_3)
        conn.execute(_MISSING_KEYS_2_TO_3)
        for statement in _ROWS_2_TO_3:
            conn.execute(statement)
        for table in ("slo", "bucket", "series", "measured"):
            conn.execute(f"DROP TABLE {table}_v2")
