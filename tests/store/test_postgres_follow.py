"""Specification of how a PostgreSQL standby follows the writer: it replays the writer's
logged changes into its memory, exactly, and re-reads the tables when it cannot.

The memory a standby keeps must always equal what a fresh open of the same
database would compute; these tests compare the two after every kind of write.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import psycopg
import pytest

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import PostgresStore
from slo_exporter.store.postgres import REPLAY_LIMIT
from tests.store.values import KEY, RES, T0
from tests.support.postgres import PostgresServer

WINDOWS = (5 * RES, 60 * RES, 24 * 60 * RES)
END = T0 + RES


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.new_schema()


@pytest.fixture
def pair(url: str) -> Iterator[tuple[PostgresStore, PostgresStore]]:
    """A writer and a standby whose snapshots only move on refresh()."""
    with PostgresStore(url, RES) as writer, PostgresStore(
        url, RES, standby=True, max_staleness=3600.0
    ) as standby:
        yield writer, standby


def fresh_sums(url: str, key: str, end: float = END) -> dict[float, Counts]:
    with PostgresStore(url, RES, readonly=True) as fresh:
        return fresh.sums(key, end, WINDOWS)


def test_late_deltas_into_old_buckets_reach_a_standby_exactly(
    url: str, pair: tuple[PostgresStore, PostgresStore]
) -> None:
    """The writer adds events to buckets an hour and a day old after the standby loaded its
    windows; after refresh() the standby's window sums equal a fresh open's.

    Before: 1/1 at T0 and 2/2 at T0-59m. Late: +1/+3 at T0-59m, +0/+4 at T0-1000m (inside
    only the 1d window). 5m: 1/1; 1h: 1+2+1=4 good of 1+2+3=6; 1d: 4 of 6+4=10.
    """
    writer, standby = pair
    writer.commit(KEY, {T0: (1, 1), T0 - 59 * RES: (2, 2)})
    standby.refresh()
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(3, 3)  # memory loaded
    writer.commit(KEY, {T0 - 59 * RES: (1, 3)})
    writer.commit(KEY, {T0 - 1000 * RES: (0, 4)})
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(3, 3)  # its snapshot
    standby.refresh()
    expected = {WINDOWS[0]: Counts(1, 1), WINDOWS[1]: Counts(4, 6), WINDOWS[2]: Counts(4, 10)}
    assert standby.sums(KEY, END, WINDOWS) == expected == fresh_sums(url, KEY)


def test_refresh_replays_the_log_and_reads_no_bucket(
    postgres: PostgresServer, url: str, pair: tuple[PostgresStore, PostgresStore]
) -> None:
    """A refresh brings the standby's windows up to date from the logged deltas alone: with
    every bucket row deleted behind both stores' backs, the standby still adds the writer's
    newest commit (3 + 2 good, 3 + 5 total) to what it held."""
    writer, standby = pair
    writer.commit(KEY, {T0: (3, 3)})
    standby.refresh()
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[0]] == Counts(3, 3)
    writer.commit(KEY, {T0 - RES: (2, 5)})
    schema = url.rsplit("%3D", 1)[1]
    postgres.sql(f"DELETE FROM {schema}.bucket")  # noqa: S608 - our own schema name
    standby.refresh()
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[0]] == Counts(5, 8)


def test_a_large_commit_makes_the_standby_read_the_slo_again(
    url: str, pair: tuple[PostgresStore, PostgresStore]
) -> None:
    """A commit of more buckets than REPLAY_LIMIT (a backfill's day) is logged as "read it
    again", not as deltas; the standby's sums are still exact: 1 good of 1 per minute for
    REPLAY_LIMIT + 1 minutes, plus the 1/1 it held."""
    writer, standby = pair
    writer.commit(KEY, {T0: (1, 1)})
    standby.refresh()
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[2]] == Counts(1, 1)
    n = REPLAY_LIMIT + 1
    writer.commit(KEY, {T0 - (i + 1) * RES: (1, 1) for i in range(n)})
    standby.refresh()
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[2]] == Counts(n + 1, n + 1)
    assert standby.sums(KEY, END, WINDOWS) == fresh_sums(url, KEY)


def test_a_standby_behind_the_trimmed_log_reads_the_tables_again(url: str) -> None:
    """The writer trims every log entry before its newest commit (log_keep=0): a standby
    whose position was trimmed away forgets its memory and reads the tables, exactly
    (1/1, then 2/5 and 0/1 later: 3 good of 7)."""
    with PostgresStore(url, RES, log_keep=0.0) as writer, PostgresStore(
        url, RES, standby=True, max_staleness=3600.0
    ) as standby:
        writer.commit(KEY, {T0: (1, 1)})
        standby.refresh()
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(1, 1)
        writer.commit(KEY, {T0 - RES: (2, 5)})
        writer.commit(KEY, {T0 - 2 * RES: (0, 1)})  # trims the entry above
        standby.refresh()
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(3, 7)
        assert standby.sums(KEY, END, WINDOWS) == fresh_sums(url, KEY)


def test_a_refresh_follows_every_kind_of_write(url: str) -> None:
    """After any mix of commits (new and old buckets, also behind the prune horizon), resets,
    prunes and retirements, several between two refreshes, a refreshed standby's sums and
    window sums (at a moving end and a fixed one) equal the writer's and a fresh open's,
    for every SLO and range."""
    rng = random.Random(11)
    keys = ("a/x", "b/y", "c/z")
    with PostgresStore(url, RES) as writer, PostgresStore(
        url, RES, readonly=True, max_staleness=3600.0
    ) as reader:
        horizon = T0 - 62 * RES
        for step in range(100):
            key = rng.choice(keys)
            kind = rng.random()
            if kind < 0.7:
                writer.commit(key, {T0 - rng.randrange(60) * RES: (rng.randrange(-2, 5),
                                                                   rng.randrange(0, 5))
                                    for _ in range(rng.randrange(1, 6))})
            elif kind < 0.8:
                writer.ensure_fingerprint(key, f"f{step}", keep_events=rng.random() < 0.5)
            elif kind < 0.9:
                horizon += rng.randrange(0, 10) * RES
                writer.prune(horizon)
            else:
                writer.retire([k for k in keys if k != key], at=horizon - RES)
                writer.prune(horizon)
            if rng.random() < 0.6:
                continue
            reader.refresh()
            end = T0 - 20 * RES + step * RES  # window ends move on, as cycles do
            for k in keys:
                assert reader.sums(k, end, WINDOWS) == writer.sums(k, end, WINDOWS), step
                assert reader.sums(k, END, WINDOWS) == writer.sums(k, END, WINDOWS), step
                for lo in range(-70, 1, 7):
                    start = T0 + lo * RES
                    assert reader.sum(k, start, T0 + RES) == writer.sum(k, start, T0 + RES), (
                        f"step {step}: {k} from {lo}")
        for k in keys:
            assert reader.sums(k, END, WINDOWS) == fresh_sums(url, k)


def test_promotion_replays_the_rest_of_the_log(
    url: str, pair: tuple[PostgresStore, PostgresStore]
) -> None:
    """A standby whose snapshot is behind takes over after the writer leaves: its memory
    first takes the old writer's last commits (1/1 + 2/4), then its own (1/1): 4 of 6."""
    writer, standby = pair
    writer.commit(KEY, {T0: (1, 1)})
    standby.refresh()
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[0]] == Counts(1, 1)
    writer.commit(KEY, {T0 - RES: (2, 4)})
    writer.close()
    assert standby.try_promote()
    standby.commit(KEY, {T0: (1, 1)})
    assert standby.sums(KEY, END, WINDOWS)[WINDOWS[0]] == Counts(4, 6)
    assert standby.sums(KEY, END, WINDOWS) == fresh_sums(url, KEY)


def test_a_failed_read_does_not_leave_the_standby_stuck(
    postgres: PostgresServer, url: str
) -> None:
    """A standby read that fails (here: blocked past its 1 s deadline by another session's
    lock) aborts its snapshot; the next read starts a new one and answers, though the
    snapshot is not stale yet."""
    with PostgresStore(url, RES) as writer, PostgresStore(
        url, RES, standby=True, max_staleness=3600.0, statement_timeout=1.0
    ) as standby, psycopg.connect(url, autocommit=True) as other:
        writer.commit(KEY, {T0: (1, 1)})
        standby.refresh()
        with other.transaction():
            other.execute("LOCK TABLE bucket IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreError, match="timeout"):
                standby.buckets(KEY, 0, 2 * T0)
        assert standby.buckets(KEY, 0, 2 * T0) == [(T0, 1.0, 1.0)]
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[0]] == Counts(1, 1)
