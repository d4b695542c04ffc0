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

Must not hold store logic; the store runs these statements inside its own
transaction.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2

TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS slo (
    slo_key     TEXT PRIMARY KEY,
    fingerprint TEXT,
    cursor      REAL,
    retired_at  REAL,
    run_start   REAL,
    run_until   REAL
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
CREATE TABLE IF NOT EXISTS measured (
    slo_key TEXT NOT NULL,
    start   REAL NOT NULL,
    until   REAL NOT NULL,
    PRIMARY KEY (slo_key, start)
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
