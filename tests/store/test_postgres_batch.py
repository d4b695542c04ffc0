"""Specification of the PostgreSQL writer's steady path: ``commit_many`` writes a cycle's
commits in one transaction (and one change log row standbys replay), and the writer keeps
its SLOs' cursors and series state in memory only while it is sure to hold the role.

The behaviour both stores share (``test_store_batch``) runs against both; these are the
parts only a store shared by replicas has.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import psycopg
import pytest

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import Commit, PostgresStore
from slo_exporter.store.postgres import REPLAY_LIMIT, _rounds
from tests.store.values import KEY, RES, T0
from tests.support.postgres import PostgresServer

OTHER = "payments/latency"
THIRD = "search/errors"
WINDOWS = (5 * RES, 60 * RES, 24 * 60 * RES)
END = T0 + 10 * RES


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.new_schema()


def _schema(url: str) -> str:
    return url.rsplit("%3D", 1)[1]


def _log_rows(postgres: PostgresServer, url: str) -> int:
    with psycopg.connect(postgres.url(_schema(url)), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM change_log").fetchone()
    assert row is not None
    return int(row[0])


def _batches() -> list[list[Commit]]:
    """Two cycles' commits: the first warms the writer's memory (cursors, series, newest
    runs); the second has an SLO three times (a run extended, then a new run that closes
    it, then an older span merged into the closed one), late deltas, negative goods, a
    commit too large to replay, a commit without events and one with only a cursor."""
    big = {T0 - (i + 1) * RES: (1.0, 2.0) for i in range(REPLAY_LIMIT + 1)}
    return [
        [Commit(KEY, {T0: (1.0, 1.0)}, cursor=T0 + RES, series={"a": (T0, 1.0)},
                measured=(T0, T0 + RES)),
         Commit(OTHER, {T0: (0.0, 3.0), T0 + RES: (2.0, 2.0)}, cursor=T0 + 2 * RES,
                series={"x": (T0, 5.0), "y": (T0, 6.0)}, measured=(T0, T0 + 2 * RES)),
         Commit(THIRD, {T0 - 30 * RES: (4.0, 4.0)}, cursor=T0)],
        [Commit(KEY, {T0 + RES: (2.0, 3.0)}, cursor=T0 + 2 * RES, series={"a": (T0 + RES, 2.0)},
                measured=(T0 + RES, T0 + 2 * RES)),
         Commit(OTHER, {T0 - 59 * RES: (-1.0, 0.0), T0 + 2 * RES: (0.1, 0.3)},
                cursor=T0 + 3 * RES, series={"y": (T0 + RES, 7.0)}),
         Commit(KEY, {T0 + 5 * RES: (1.0, 1.0)}, cursor=T0 + 6 * RES,
                series={"b": (T0 + 5 * RES, 1.0)}, measured=(T0 + 5 * RES, T0 + 6 * RES)),
         Commit(THIRD, big),
         Commit(KEY, {}, measured=(T0 - 2 * RES, T0 - RES + 0.5)),
         Commit(OTHER, {}, cursor=T0 + 4 * RES)],
    ]


def _state(store: PostgresStore, key: str) -> tuple[object, ...]:
    return (store.buckets(key, -math.inf, math.inf), store.cursor(key), store.series(key),
            store.measured_spans(key, -math.inf, math.inf), store.sums(key, END, WINDOWS))


def test_a_batch_leaves_what_its_commits_leave_one_by_one(postgres: PostgresServer) -> None:
    """The same two cycles written as one commit_many each and as one commit per SLO leave
    equal buckets, cursors, series, measured runs and window sums, in the writer and in a
    standby that loaded its windows before the second cycle and then replayed the log."""
    keys = (KEY, OTHER, THIRD)
    seen = []
    for batched in (True, False):
        url = postgres.new_schema()
        with PostgresStore(url, RES) as writer, PostgresStore(
                url, RES, standby=True, max_staleness=3600.0) as standby:
            first, second = _batches()
            writer.commit_many(first)
            for key in keys:  # memory to replay into, and the writer's memories filled
                standby.refresh()
                standby.sums(key, END, WINDOWS)
                _state(writer, key)
            if batched:
                writer.commit_many(second)
            else:
                for c in second:
                    writer.commit(c.slo_key, c.deltas, cursor=c.cursor, series=c.series,
                                  measured=c.measured)
            standby.refresh()
            replayed = {key: standby.sums(key, END, WINDOWS) for key in keys}
            with PostgresStore(url, RES, readonly=True) as fresh:
                assert replayed == {key: fresh.sums(key, END, WINDOWS) for key in keys}
                assert {key: _state(writer, key) for key in keys} == {
                    key: _state(fresh, key) for key in keys}
            seen.append(({key: _state(writer, key) for key in keys}, replayed))
    assert seen[0] == seen[1]
    assert seen[0][0][KEY][3] == [(T0 - 2 * RES, T0 - RES + 0.5), (T0, T0 + 2 * RES),
                                  (T0 + 5 * RES, T0 + 6 * RES)]


def test_a_cycle_is_one_change_log_row(postgres: PostgresServer, url: str) -> None:
    """A batch of three SLOs' small commits adds one change log row, not three; a commit
    too large to replay adds its own "read it again" row beside it."""
    with PostgresStore(url, RES) as writer:
        first, second = _batches()
        writer.commit_many(first)
        assert _log_rows(postgres, url) == 1
        writer.commit_many(second)
        # rounds [KEY OTHER THIRD] [KEY OTHER] [KEY]: a row and THIRD's reset, a row,
        # nothing (KEY's third commit adds no events)
        assert _log_rows(postgres, url) == 1 + 3
        writer.commit_many([Commit(KEY, {}, cursor=T0 + 9 * RES)])
        assert _log_rows(postgres, url) == 4  # no events: nothing for a standby to replay


def test_a_failing_commit_leaves_nothing_of_the_batch(postgres: PostgresServer, url: str) -> None:
    """A bucket row that breaks a check of the table fails the whole batch: no event,
    cursor, series state, measured run or log row of it is written, the standby's sums
    stay, and the writer answers what the database holds; alone, the good commit lands."""
    with PostgresStore(url, RES) as writer:
        # before the standby's snapshot, which would hold the ALTER back
        postgres.sql(f"ALTER TABLE {_schema(url)}.bucket "
                     "ADD CONSTRAINT small CHECK (total < 1000)")
        standby = PostgresStore(url, RES, standby=True, max_staleness=3600.0)
        writer.commit(KEY, {T0: (1.0, 1.0)}, cursor=T0, series={"a": (T0, 1.0)},
                      measured=(T0 - RES, T0))
        assert (writer.cursor(KEY), writer.series(KEY)) == (T0, {"a": (T0, 1.0)})
        standby.refresh()
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[0]] == Counts(0, 0)
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(1, 1)
        logged = _log_rows(postgres, url)
        good = Commit(KEY, {T0 + RES: (5.0, 5.0)}, cursor=T0 + RES,
                      series={"a": (T0 + RES, 2.0)}, measured=(T0, T0 + RES))
        with pytest.raises(StoreError, match="small"):
            writer.commit_many([good, Commit(OTHER, {T0: (0.0, 5000.0)}, cursor=T0,
                                             series={"z": (T0, 1.0)})])
        assert _log_rows(postgres, url) == logged
        assert writer.sum(KEY, 0, 2 * T0) == Counts(1, 1)
        assert (writer.cursor(KEY), writer.series(KEY)) == (T0, {"a": (T0, 1.0)})
        assert writer.measured_spans(KEY, 0, 2 * T0) == [(T0 - RES, T0)]
        assert (writer.cursor(OTHER), writer.series(OTHER), writer.sum(OTHER, 0, 2 * T0)) == (
            None, {}, Counts())
        assert OTHER not in writer.slo_keys()
        standby.refresh()
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(1, 1)
        writer.commit_many([good])
        assert (writer.cursor(KEY), writer.sum(KEY, 0, 2 * T0)) == (T0 + RES, Counts(6, 6))
        standby.refresh()
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(6, 6)
        standby.close()


def test_a_standby_replays_the_rows_an_earlier_release_logged(
    postgres: PostgresServer, url: str
) -> None:
    """A log row of one commit's deltas (kind ``a``, as a writer of an earlier release
    writes it) still reaches a standby's windows: 1/1 held, plus 2/3 logged at T0."""
    with PostgresStore(url, RES) as writer, PostgresStore(
            url, RES, standby=True, max_staleness=3600.0) as standby:
        writer.commit(KEY, {T0: (1.0, 1.0)})
        standby.refresh()
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(1, 1)
        s = _schema(url)
        postgres.sql(
            f"BEGIN; UPDATE {s}.bucket SET good = good + 2, total = total + 3; "  # noqa: S608
            f"INSERT INTO {s}.change_log (seq, stream, kind, slo_key, starts, goods, totals) "
            f"VALUES (nextval('{s}.change'), '', 'a', '{KEY}', ARRAY[{T0!r}]::float8[], "
            "ARRAY[2]::float8[], ARRAY[3]::float8[]); COMMIT")
        standby.refresh()
        assert standby.sums(KEY, END, WINDOWS)[WINDOWS[1]] == Counts(3, 4)


# ------------------------------------------------------------- writer memory


def _set_cursor(postgres: PostgresServer, url: str, cursor: float) -> None:
    """Another session moves KEY's cursor behind the stores' backs."""
    postgres.sql(f"UPDATE {_schema(url)}.slo SET cursor = {cursor!r} "  # noqa: S608
                 f"WHERE slo_key = '{KEY}'")


def test_the_writer_answers_its_cursor_and_series_from_memory(
    postgres: PostgresServer, url: str
) -> None:
    """Once read, the writer's cursor and series state follow its own commits without a
    read: a cursor changed in the database behind its back (which only a writer may do)
    is not seen; a standby reads each from its snapshot."""
    with PostgresStore(url, RES) as writer, PostgresStore(
            url, RES, standby=True, max_staleness=0.0) as standby:
        writer.commit(KEY, {}, cursor=T0, series={"a": (T0, 1.0)})
        assert (writer.cursor(KEY), writer.series(KEY)) == (T0, {"a": (T0, 1.0)})
        writer.commit(KEY, {T0: (1.0, 1.0)}, cursor=T0 + RES, series={"b": (T0, 2.0)})
        writer.commit(KEY, {}, series={"a": (T0 + 15, 3.0)})  # the fast path: no cursor
        _set_cursor(postgres, url, T0 + 99 * RES)
        assert writer.cursor(KEY) == T0 + RES
        assert writer.series(KEY) == {"a": (T0 + 15, 3.0), "b": (T0, 2.0)}
        assert standby.cursor(KEY) == T0 + 99 * RES
        writer.series(KEY)["a"] = (0.0, 0.0)  # a copy: the memory stays
        assert writer.series(KEY)["a"] == (T0 + 15, 3.0)


def test_a_failed_write_drops_the_remembered_cursor(postgres: PostgresServer, url: str) -> None:
    """After a write fails, the writer reads its cursor and series state from the database
    again (after a lost connection nobody knows whether the COMMIT landed)."""
    with PostgresStore(url, RES) as writer:
        writer.commit(KEY, {}, cursor=T0, series={"a": (T0, 1.0)})
        assert writer.cursor(KEY) == T0
        _set_cursor(postgres, url, T0 + 60)
        postgres.sql(f"ALTER TABLE {_schema(url)}.series "
                     "ADD CONSTRAINT late CHECK (ts < 0) NOT VALID")  # new rows only
        with pytest.raises(StoreError, match="late"):
            writer.commit(KEY, {}, cursor=T0 + 120, series={"a": (T0 + 120, 2.0)})
        assert (writer.cursor(KEY), writer.series(KEY)) == (T0 + 60, {"a": (T0, 1.0)})


def test_a_definition_reset_and_prune_reach_the_remembered_state(url: str) -> None:
    """Series last seen before the prune horizon leave memory as they leave the table; a
    changed definition drops the cursor and series state from both."""
    with PostgresStore(url, RES) as writer:
        writer.ensure_fingerprint(KEY, "v1", keep_events=False)
        writer.commit(KEY, {}, cursor=T0 + 600, series={"old": (T0, 1.0),
                                                         "live": (T0 + 600, 2.0)})
        assert set(writer.series(KEY)) == {"old", "live"}
        writer.prune(before=T0 + 300)
        assert writer.series(KEY) == {"live": (T0 + 600, 2.0)}
        writer.ensure_fingerprint(KEY, "v2", keep_events=False)
        assert (writer.cursor(KEY), writer.series(KEY)) == (None, {})


def test_a_writer_that_was_away_while_another_wrote_does_not_write_from_its_memory(
    postgres: PostgresServer, url: str
) -> None:
    """The server ends the writer's session; a standby takes the role, moves the cursor
    to T0+2m with 1/1 more events, and leaves. The old writer's commit, made from the
    cursor T0 it remembered, is refused twice (the lost session, then the role another
    replica held meanwhile) rather than counted again: 1 + 1 events, cursor T0+2m, which
    the old writer, now read-only, reads from the database."""
    writer = PostgresStore(url, RES)
    try:
        writer.commit(KEY, {T0: (1.0, 1.0)}, cursor=T0)
        assert writer.cursor(KEY) == T0
        postgres.psql(f"SELECT pg_terminate_backend({writer._conn.info.backend_pid})")
        with PostgresStore(url, RES, standby=True) as other:
            assert not other.readonly  # the role was free: it opened as the writer
            assert other.cursor(KEY) == T0
            other.commit(KEY, {T0 + RES: (1.0, 1.0)}, cursor=T0 + 2 * RES)
        stale = [Commit(KEY, {T0 + RES: (1.0, 1.0)}, cursor=T0 + 2 * RES)]
        with pytest.raises(StoreError, match="the next use reconnects"):
            writer.commit_many(stale)
        with pytest.raises(StoreError, match="another replica took the writer role"):
            writer.commit_many(stale)  # as a failed batch is retried, commit by commit
        assert writer.role_lost
        assert writer.readonly
        assert writer.cursor(KEY) == T0 + 2 * RES
        assert writer.sum(KEY, 0, 2 * T0) == Counts(2, 2)
        with PostgresStore(url, RES) as after:  # the role is free: nobody holds it
            assert after.cursor(KEY) == T0 + 2 * RES
    finally:
        writer.close()


def test_a_promoted_standby_reads_the_cursor_the_last_writer_left(url: str) -> None:
    """A standby remembers no cursor while another writes, and starts its writer memory
    empty on promotion: it answers T0, then T0+1m, then T0+2m after taking over."""
    writer = PostgresStore(url, RES)
    with PostgresStore(url, RES, standby=True, max_staleness=0.0) as standby:
        try:
            writer.commit(KEY, {}, cursor=T0)
            assert standby.cursor(KEY) == T0
            writer.commit(KEY, {}, cursor=T0 + RES)
            assert standby.cursor(KEY) == T0 + RES
            writer.commit(KEY, {}, cursor=T0 + 2 * RES)
        finally:
            writer.close()
        assert standby.try_promote()
        assert standby.cursor(KEY) == T0 + 2 * RES
        standby.commit(KEY, {}, cursor=T0 + 3 * RES)
        assert standby.cursor(KEY) == T0 + 3 * RES


@pytest.mark.parametrize(("keys", "expected"), [
    ((), []),
    (("a", "b", "c"), [[0, 1, 2]]),
    (("a", "b", "a", "a", "c", "b"), [[0, 1, 4], [2, 5], [3]]),
])
def test_rounds_hold_each_slo_once_and_keep_its_order(
    keys: Sequence[str], expected: list[list[int]]
) -> None:
    """Round n holds each key's (n+1)-th commit: a, b, a, a, c, b -> [a b c] [a b] [a]."""
    assert _rounds(keys) == expected
