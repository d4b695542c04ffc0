"""Specification of the upgrade to schema 3: a store file of schema 2 opens with every bucket,
coverage, cursor, series, fingerprint and retirement kept, its settled days compacted into
blocks, and a crash at any point of the upgrade leaves a file that opens with all of it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import FILENAME, SCHEMA_VERSION, SQLiteStore
from slo_exporter.store.sqlite import SETTLE
from tests.store.crash import run_until
from tests.store.test_store_schema import write_schema_1
from tests.store.values import RES

DAY = 86400.0
D0 = 19675 * DAY  # a UTC midnight

# The tables exactly as schema 2 created them, and its statements to fill them.
SCHEMA_2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE slo (
    slo_key TEXT PRIMARY KEY, fingerprint TEXT, cursor REAL, retired_at REAL,
    run_start REAL, run_until REAL
);
CREATE TABLE bucket (
    slo_key TEXT NOT NULL, start REAL NOT NULL, good REAL NOT NULL, total REAL NOT NULL,
    PRIMARY KEY (slo_key, start)
) WITHOUT ROWID;
CREATE TABLE series (
    slo_key TEXT NOT NULL, series_key TEXT NOT NULL, ts REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (slo_key, series_key)
) WITHOUT ROWID;
CREATE TABLE measured (
    slo_key TEXT NOT NULL, start REAL NOT NULL, until REAL NOT NULL,
    PRIMARY KEY (slo_key, start)
) WITHOUT ROWID;
"""

READ = "shop/availability"  # read from Prometheus: cursor, series, two coverage runs
PROBE = "shop/homepage"  # probed, no cursor
GONE = "shop/legacy"  # retired
END = D0 + 3 * DAY
READ_BUCKETS = [(D0 + i * RES, 90.0 + i % 7, 100.0 + i % 11) for i in range(3 * 1440)]
PROBE_BUCKETS = [(D0 + i * RES, 3.0, 4.0) for i in range(0, 3 * 1440, 2)]
GONE_BUCKETS = [(D0 + i * RES, 0.5, 1.0) for i in range(100)]
SERIES = {'{code="200"}': (END - 30, 123456.0), '{code="500"}': (END - 45, 7.0)}


def write_schema_2(directory: Path) -> None:
    """A store file as the schema-2 release left it."""
    directory.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(directory / FILENAME)
    with conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA_2)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("schema_version", "2"), ("resolution", "60.0"), ("store_id", "abc123")],
        )
        conn.executemany(
            "INSERT INTO slo VALUES (?, ?, ?, ?, ?, ?)",
            [
                (READ, "ratio:1", END, None, D0 + DAY, END),
                (PROBE, "probe:1", None, None, D0, END),
                (GONE, "ratio:2", D0 + 100 * RES, D0 + DAY, None, None),
            ],
        )
        for key, rows in ((READ, READ_BUCKETS), (PROBE, PROBE_BUCKETS), (GONE, GONE_BUCKETS)):
            conn.executemany("INSERT INTO bucket VALUES (?, ?, ?, ?)", [(key, *b) for b in rows])
        conn.executemany(
            "INSERT INTO series VALUES (?, ?, ?, ?)",
            [(READ, k, ts, v) for k, (ts, v) in SERIES.items()],
        )
        conn.execute("INSERT INTO measured VALUES (?, ?, ?)", (READ, D0, D0 + 600))
    conn.close()


def assert_everything_kept(s: SQLiteStore) -> None:
    assert s.buckets(READ, 0, 2 * D0) == READ_BUCKETS
    assert s.buckets(PROBE, 0, 2 * D0) == PROBE_BUCKETS
    assert s.buckets(GONE, 0, 2 * D0) == GONE_BUCKETS
    assert s.sum(READ, D0 + 3600, END - 3600) == Counts(
        sum(g for t, g, _ in READ_BUCKETS if D0 + 3600 <= t < END - 3600),
        sum(v for t, _, v in READ_BUCKETS if D0 + 3600 <= t < END - 3600),
    )
    assert s.cursor(READ) == END
    assert s.cursor(PROBE) is None
    assert s.series(READ) == SERIES
    assert s.fingerprint(READ) == "ratio:1"
    assert s.fingerprint(PROBE) == "probe:1"
    assert s.retired() == {GONE: D0 + DAY}
    assert s.measured_spans(READ, 0, 2 * D0) == [(D0, D0 + 600), (D0 + DAY, END)]
    assert s.measured_spans(PROBE, 0, 2 * D0) == [(D0, END)]
    assert s.slo_keys() == (READ, PROBE, GONE)
    assert s.store_id == "abc123"


def file_state(directory: Path) -> tuple[str, int, int]:
    """(schema version, hot rows, blocks) of the file, read beside the store."""
    conn = sqlite3.connect(directory / FILENAME)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        hot = conn.execute("SELECT COUNT(*) FROM bucket").fetchone()[0]
        blocks = 0
        if "block" in tables:
            blocks = conn.execute("SELECT COUNT(*) FROM block").fetchone()[0]
    finally:
        conn.close()
    return str(version[0]), int(hot), int(blocks)


def test_schema_2_store_opens_with_everything_kept(tmp_path: Path) -> None:
    """Every bucket, cursor, series, fingerprint, retirement and coverage run of a schema-2
    file is there after the upgrade, and again after reopening."""
    write_schema_2(tmp_path)
    with SQLiteStore(tmp_path, RES) as s:
        assert_everything_kept(s)
    with SQLiteStore(tmp_path, RES) as s:
        assert_everything_kept(s)
    with SQLiteStore(tmp_path, RES, readonly=True) as s:
        assert_everything_kept(s)


def test_upgrade_compacts_settled_days(tmp_path: Path) -> None:
    """After the upgrade only each SLO's last SETTLE stays hot: 121 read buckets (the newest
    and 120 before it), 61 probe buckets (every other minute) and the retired SLO's 100 (all
    within SETTLE of its newest); the rest is in 3 + 3 day blocks."""
    write_schema_2(tmp_path)
    SQLiteStore(tmp_path, RES).close()
    version, hot, blocks = file_state(tmp_path)
    assert version == str(SCHEMA_VERSION) == "3"
    assert hot == (SETTLE / RES + 1) + (SETTLE / RES / 2 + 1) + 100
    assert blocks == 3 + 3


def test_upgrade_shrinks_the_file(tmp_path: Path) -> None:
    """The text keys and one row per bucket give way to ids and blocks: the file shrinks."""
    write_schema_2(tmp_path)
    before = (tmp_path / FILENAME).stat().st_size
    SQLiteStore(tmp_path, RES).close()
    conn = sqlite3.connect(tmp_path / FILENAME)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert (tmp_path / FILENAME).stat().st_size < before / 3


@pytest.mark.parametrize(
    ("statement", "left"),
    [
        ("DROP TABLE bucket_v2", "2"),  # tables copied, the old ones not dropped yet
        ("COMMIT", "2"),  # the upgrade's transaction about to commit
        ("DELETE FROM bucket WHERE slo_id", "3"),  # compacting the first SLO after the upgrade
        ("VACUUM", "3"),
    ],
)
def test_a_crash_during_the_upgrade_leaves_a_file_that_opens(
    tmp_path: Path, statement: str, left: str
) -> None:
    """Killed at any step, the upgrade leaves schema 2 or 3, never a mix; the next start
    upgrades or compacts what is left and every record is there."""
    write_schema_2(tmp_path)
    assert run_until(statement, tmp_path) == 9
    assert file_state(tmp_path)[0] == left
    with SQLiteStore(tmp_path, RES) as s:
        assert_everything_kept(s)
        s.compact()
        assert_everything_kept(s)


def test_schema_1_store_upgrades_to_blocks(tmp_path: Path) -> None:
    """A file of the first release goes through schema 2 to 3 with its buckets kept."""
    write_schema_1(tmp_path)
    with SQLiteStore(tmp_path, RES) as s:
        assert len(s.buckets("shop/availability", 0, 4e9)) == 50
    assert file_state(tmp_path)[0] == "3"


def test_schema_2_cannot_be_read_only_before_the_upgrade(tmp_path: Path) -> None:
    """A read-only open of a schema-2 file says to start slo-exporter on it once."""
    write_schema_2(tmp_path)
    with pytest.raises(StoreError, match="schema version 2; a read-only open cannot upgrade"):
        SQLiteStore(tmp_path, RES, readonly=True)
    assert file_state(tmp_path)[0] == "2"
