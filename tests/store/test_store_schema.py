"""Specification of schema upgrades: a store of the previous release opens with every event kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import FILENAME, SCHEMA_VERSION, SQLiteStore
from tests.store.values import RES, T0

# The tables exactly as schema 1 (the first release) created them.
SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE slo (slo_key TEXT PRIMARY KEY, fingerprint TEXT, cursor REAL);
CREATE TABLE bucket (
    slo_key TEXT NOT NULL, start REAL NOT NULL, good REAL NOT NULL, total REAL NOT NULL,
    PRIMARY KEY (slo_key, start)
) WITHOUT ROWID;
CREATE TABLE series (
    slo_key TEXT NOT NULL, series_key TEXT NOT NULL, ts REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (slo_key, series_key)
) WITHOUT ROWID;
"""

READ = "shop/availability"  # read from Prometheus: has a cursor and series state
PROBE = "shop/homepage"  # probed: no cursor
READ_BUCKETS = [(T0 + i * RES, 90.0 + i, 100.0 + i) for i in range(50)]
# Two runs of probe buckets with a 10-minute outage between them.
PROBE_BUCKETS = [(T0 + i * RES, 3.0, 4.0) for i in (*range(0, 20), *range(30, 40))]
SERIES = {"{code=\"200\"}": (T0 + 49 * RES + 30, 123456.0), "{code=\"500\"}": (T0 + 3000, 7.0)}


def write_schema_1(directory: Path) -> None:
    """A store file as the first release left it, with the old repr() fingerprints."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "lock").write_text("pid 4242\n")  # the first release's side lock file
    conn = sqlite3.connect(directory / FILENAME)
    with conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA_1)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)", [("schema_version", "1"), ("resolution", "60.0")]
        )
        conn.execute(
            "INSERT INTO slo VALUES (?, ?, ?)",
            (READ, "RatioSLI(total=Query(text='sum(rate(x[5m]))'))", T0 + 50 * RES),
        )
        conn.execute("INSERT INTO slo VALUES (?, ?, NULL)", (PROBE, "ProbeSLI(interval=15.0)"))
        conn.executemany(
            "INSERT INTO bucket VALUES (?, ?, ?, ?)", [(READ, *b) for b in READ_BUCKETS]
        )
        conn.executemany(
            "INSERT INTO bucket VALUES (?, ?, ?, ?)", [(PROBE, *b) for b in PROBE_BUCKETS]
        )
        conn.executemany(
            "INSERT INTO series VALUES (?, ?, ?, ?)",
            [(READ, k, ts, v) for k, (ts, v) in SERIES.items()],
        )
    conn.close()


def test_schema_1_store_opens_with_every_bucket_cursor_and_series(tmp_path: Path) -> None:
    """Every bucket, cursor and series of a schema-1 file is there after the upgrade."""
    write_schema_1(tmp_path)
    with SQLiteStore(tmp_path, RES) as s:
        assert s.buckets(READ, 0, 2 * T0) == READ_BUCKETS
        assert s.buckets(PROBE, 0, 2 * T0) == PROBE_BUCKETS
        assert s.cursor(READ) == T0 + 50 * RES
        assert s.cursor(PROBE) is None
        assert s.series(READ) == SERIES
        assert s.series(PROBE) == {}
        assert s.slo_keys() == (READ, PROBE)
        assert s.retired() == {}
    conn = sqlite3.connect(tmp_path / FILENAME)
    try:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    finally:
        conn.close()
    assert version == (str(SCHEMA_VERSION),)


def test_schema_1_fingerprints_never_reset_events(tmp_path: Path) -> None:
    """The old repr() fingerprints are forgotten, so the first new fingerprint keeps the events."""
    write_schema_1(tmp_path)
    with SQLiteStore(tmp_path, RES) as s:
        assert s.fingerprint(READ) is None
        assert s.ensure_fingerprint(READ, "ratio:new", keep_events=False) is False
        assert s.ensure_fingerprint(PROBE, "probe:new", keep_events=True) is False
        assert s.sum(READ, 0, 2 * T0) == Counts(
            sum(g for _, g, _ in READ_BUCKETS), sum(t for _, _, t in READ_BUCKETS)
        )
        assert s.cursor(READ) == T0 + 50 * RES


def test_schema_1_coverage_is_estimated_from_stored_events(tmp_path: Path) -> None:
    """Upgraded coverage: first bucket to cursor for a read SLO, runs of buckets for a probe SLO."""
    write_schema_1(tmp_path)
    with SQLiteStore(tmp_path, RES) as s:
        assert s.measured_spans(READ, 0, 2 * T0) == [(T0, T0 + 50 * RES)]
        assert s.measured_spans(PROBE, 0, 2 * T0) == [
            (T0, T0 + 20 * RES),
            (T0 + 30 * RES, T0 + 40 * RES),
        ]


def test_schema_1_store_upgrades_once_and_reopens(tmp_path: Path) -> None:
    """An upgraded file opens again as the current schema with the same data."""
    write_schema_1(tmp_path)
    SQLiteStore(tmp_path, RES).close()
    with SQLiteStore(tmp_path, RES) as s:
        assert s.buckets(READ, 0, 2 * T0) == READ_BUCKETS
        assert s.measured(PROBE, 0, 2 * T0) == 30 * RES


def test_schema_1_store_cannot_be_read_only_before_the_upgrade(tmp_path: Path) -> None:
    """A read-only open of a schema-1 file says to start slo-exporter on it once."""
    write_schema_1(tmp_path)
    with pytest.raises(StoreError, match="schema version 1; a read-only open cannot upgrade"):
        SQLiteStore(tmp_path, RES, readonly=True)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A file written by a newer schema version is refused with advice."""
    SQLiteStore(tmp_path, RES).close()
    conn = sqlite3.connect(tmp_path / FILENAME)
    with conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99, newer than"):
        SQLiteStore(tmp_path, RES)
    with pytest.raises(StoreError, match="schema version 99, newer than"):
        SQLiteStore(tmp_path, RES, readonly=True)


def test_upgraded_probe_coverage_keeps_growing(tmp_path: Path) -> None:
    """After the upgrade, new probes extend the newest estimated run."""
    write_schema_1(tmp_path)
    with SQLiteStore(tmp_path, RES) as s:
        s.record(PROBE, T0 + 40 * RES, good=True, span=RES)
        assert s.measured_spans(PROBE, 0, 2 * T0) == [
            (T0, T0 + 20 * RES),
            (T0 + 30 * RES, T0 + 41 * RES),
        ]
