"""Specification of the SQLite store's two bucket tiers: hot rows and day blocks add up to
exactly what was committed, whichever tier holds a bucket, through compaction, prune,
crashes, damaged blocks and a reader beside the writer."""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import FILENAME, SQLiteStore
from slo_exporter.store.protocol import Commit
from slo_exporter.store.sqlite import COMPACT_EVERY, SETTLE
from tests.store.crash import run_until
from tests.store.values import KEY, RES

DAY = 86400.0
D0 = 19675 * DAY  # a UTC midnight (2023-11-14)
HOUR = 3600.0


def tiers(directory: Path) -> tuple[int, int]:
    """(hot rows, day blocks) in the file, read beside the store."""
    conn = sqlite3.connect(directory / FILENAME)
    try:
        hot = conn.execute("SELECT COUNT(*) FROM bucket").fetchone()[0]
        blocks = conn.execute("SELECT COUNT(*) FROM block").fetchone()[0]
    finally:
        conn.close()
    return int(hot), int(blocks)


def minutes(
    start: float, count: int, good: float = 1.0, total: float = 2.0
) -> dict[float, tuple[float, float]]:
    """``count`` consecutive buckets from ``start``, each (good, total)."""
    return {start + i * RES: (good, total) for i in range(count)}


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path, RES)


# ------------------------------------------------------------- compaction


def test_a_30_day_backfill_is_compacted_by_its_commit(tmp_path: Path, store: SQLiteStore) -> None:
    """One commit of 30 days leaves only the settle horizon hot: 30 * 1440 buckets, of which
    the newest and the 7200 s / 60 s = 120 before it stay hot and the rest are in 30 day blocks."""
    store.commit(KEY, minutes(D0, 30 * 1440))
    hot, blocks = tiers(tmp_path)
    assert hot == SETTLE / RES + 1  # the newest bucket and the 120 before it
    assert blocks == 30
    assert store.sum(KEY, 0, 2 * D0) == Counts(30 * 1440, 2 * 30 * 1440)
    assert store.first_bucket(KEY) == D0
    assert store.buckets(KEY, 0, 2 * D0) == sorted(
        (s, g, t) for s, (g, t) in minutes(D0, 30 * 1440).items()
    )
    store.close()


def test_backfill_chunks_go_straight_into_blocks(tmp_path: Path, store: SQLiteStore) -> None:
    """A day's chunk writes its settled 22 h as a block and keeps 121 buckets hot; the next
    day's chunk does the same and moves the first day's last 2 h into its block."""
    store.commit(KEY, minutes(D0, 1440))
    assert tiers(tmp_path) == (121, 1)
    store.commit(KEY, minutes(D0 + DAY, 1440))
    assert tiers(tmp_path) == (121, 2)
    assert store.sum(KEY, D0, D0 + DAY) == Counts(1440, 2880)
    assert store.sum(KEY, D0 + DAY, D0 + 2 * DAY) == Counts(1440, 2880)
    store.close()


def test_a_settled_hint_files_a_whole_chunk_as_settled(tmp_path: Path,
                                                       store: SQLiteStore) -> None:
    """With ``settled`` at the chunk's end (later chunks follow), a day's chunk goes into
    its block whole: no hot row, no compaction later; the next chunk likewise."""
    store.commit_many([Commit(KEY, minutes(D0, 1440), settled=D0 + DAY - 0.001)])
    assert tiers(tmp_path) == (0, 1)
    store.commit_many([Commit(KEY, minutes(D0 + DAY, 1440), settled=D0 + 2 * DAY - 0.001)])
    assert tiers(tmp_path) == (0, 2)
    assert store.sum(KEY, D0, D0 + 2 * DAY) == Counts(2880, 5760)
    store.close()


def test_events_after_a_wrong_settled_hint_still_add_up(tmp_path: Path,
                                                        store: SQLiteStore) -> None:
    """The hint only saves work: events that land in a day filed as settled after all
    (its last bucket, say) go to the hot tier and every read and compaction adds them."""
    store.commit_many([Commit(KEY, minutes(D0, 1440), settled=D0 + DAY)])
    last = D0 + DAY - RES
    store.commit_many([Commit(KEY, {last: (5.0, 7.0), D0 + DAY: (1.0, 1.0)})])
    assert tiers(tmp_path)[0] > 0  # the late bucket is hot beside its day's block
    expected = Counts(1440 + 5, 2880 + 7)
    assert store.sum(KEY, D0, D0 + DAY) == expected
    assert (last, 6.0, 9.0) in store.buckets(KEY, D0, D0 + DAY)
    store.compact()
    assert store.sum(KEY, D0, D0 + DAY) == expected
    store.close()
    reopened = SQLiteStore(tmp_path, RES)
    assert reopened.sum(KEY, D0, D0 + DAY) == expected
    reopened.close()


def test_a_chunk_read_twice_adds_into_its_block(tmp_path: Path, store: SQLiteStore) -> None:
    """The same day committed twice (a block exists the second time): every bucket reads
    (2, 4), 1440 * 2 = 2880 good and 5760 total, whatever tier holds which part."""
    store.commit(KEY, minutes(D0, 1440))
    store.commit(KEY, minutes(D0, 1440))
    assert store.sum(KEY, D0, D0 + DAY) == Counts(2880, 5760)
    assert set(store.buckets(KEY, D0, D0 + DAY)) == {
        (D0 + i * RES, 2.0, 4.0) for i in range(1440)
    }
    store.close()


def test_steady_commits_keep_a_few_hours_hot(tmp_path: Path, store: SQLiteStore) -> None:
    """A commit a minute for a day keeps at most SETTLE + 2 * COMPACT_EVERY of buckets hot."""
    for i in range(1440):
        store.commit(KEY, {D0 + i * RES: (1.0, 1.0)})
    hot, blocks = tiers(tmp_path)
    assert hot * RES <= SETTLE + 2 * COMPACT_EVERY
    assert hot * RES >= SETTLE
    assert blocks == 1
    assert store.sum(KEY, D0, D0 + DAY) == Counts(1440, 1440)
    store.close()


def test_compaction_is_idempotent(tmp_path: Path, store: SQLiteStore) -> None:
    """A second compact() finds nothing settled and changes nothing."""
    store.commit(KEY, minutes(D0, 3 * 1440))
    store.compact()
    before = (tiers(tmp_path), store.buckets(KEY, 0, 2 * D0))
    assert store.compact() == 0
    assert (tiers(tmp_path), store.buckets(KEY, 0, 2 * D0)) == before
    store.close()


def add_hot(directory: Path, rows: dict[float, tuple[float, float]]) -> None:
    """Hot rows written into the file directly, as a crash before compaction leaves them."""
    conn = sqlite3.connect(directory / FILENAME)
    with conn:
        conn.executemany(
            "INSERT INTO bucket VALUES ((SELECT id FROM slo WHERE slo_key = ?), ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET good = good + excluded.good, total = total + excluded.total",
            [(KEY, start, g, t) for start, (g, t) in rows.items()],
        )
    conn.close()


def test_compact_budget_bounds_the_blocks_written(tmp_path: Path) -> None:
    """With settled hot rows in 5 days, compact(budget=2) writes 2, 2, then 1 block."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, minutes(D0, 6 * 1440))
    add_hot(tmp_path, {D0 + d * DAY: (1.0, 1.0) for d in range(5)})
    with SQLiteStore(tmp_path, RES) as s:
        calls = [s.compact(budget=2) for _ in range(5)]
        assert calls == [2, 2, 1, 0, 0]
        assert tiers(tmp_path)[0] == SETTLE / RES + 1
        assert s.sum(KEY, D0, D0 + 5 * DAY) == Counts(5 * 1440 + 5, 2 * 5 * 1440 + 5)


def test_compact_rejects_a_budget_below_one(store: SQLiteStore) -> None:
    """A budget of 0 would never make progress; it is a ValueError."""
    with pytest.raises(ValueError, match="at least 1 block"):
        store.compact(budget=0)
    store.close()


# ------------------------------------------------------------- exact reads


def test_one_bucket_in_both_tiers_reads_as_their_sum(tmp_path: Path) -> None:
    """A hot (3, 4) beside the block's (1, 2) for one bucket reads as (4, 6) in sums and lists."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, minutes(D0, 2 * 1440))
    late = D0 + 100 * RES
    add_hot(tmp_path, {late: (3.0, 4.0)})
    with SQLiteStore(tmp_path, RES) as s:
        assert s.sum(KEY, late, late + RES) == Counts(4, 6)
        assert s.buckets(KEY, late - RES, late + 2 * RES) == [
            (late - RES, 1.0, 2.0), (late, 4.0, 6.0), (late + RES, 1.0, 2.0)
        ]
        assert s.sum(KEY, D0, D0 + DAY) == Counts(1440 + 3, 2880 + 4)
        s.compact()
        assert s.buckets(KEY, late, late + RES) == [(late, 4.0, 6.0)]
        assert s.sum(KEY, D0, D0 + DAY) == Counts(1440 + 3, 2880 + 4)


def test_ranges_starting_and_ending_mid_day(store: SQLiteStore) -> None:
    """[D0 + 23 h, D0 + 2 d + 1 h) covers 60 + 1440 + 60 minutes of (1, 2): (1560, 3120)."""
    store.commit(KEY, minutes(D0, 4 * 1440))
    assert store.sum(KEY, D0 + 23 * HOUR, D0 + 2 * DAY + HOUR) == Counts(1560, 3120)
    assert store.sums(KEY, D0 + 2 * DAY + HOUR, [25 * HOUR, 26 * HOUR]) == {
        25 * HOUR: Counts(1500, 3000), 26 * HOUR: Counts(1560, 3120)
    }
    rows = store.buckets(KEY, D0 + 23 * HOUR + 30, D0 + 2 * DAY + HOUR)
    assert len(rows) == 1559  # 23:00 itself starts before the range
    assert rows[0][0] == D0 + 23 * HOUR + RES
    store.close()


def test_negative_good_deltas_add_across_tiers(store: SQLiteStore) -> None:
    """(5, 5) compacted, then (-2, 0) and (-1, 0) late: the bucket reads (2, 5)."""
    store.commit(KEY, minutes(D0, 3 * 1440, 5.0, 5.0))
    store.commit(KEY, {D0: (-2.0, 0.0)})
    store.commit(KEY, {D0: (-1.0, 0.0)})
    assert store.buckets(KEY, D0, D0 + RES) == [(D0, 2.0, 5.0)]
    assert store.sum(KEY, D0, D0 + DAY) == Counts(1440 * 5 - 3, 1440 * 5)
    store.close()


def test_fractional_and_huge_counts_stay_exact(store: SQLiteStore) -> None:
    """0.1 and 2**40 survive compaction bit for bit; 0.5 + 0.25 (exact in binary) sums to 0.75."""
    store.commit(KEY, {D0: (0.1, 0.30000000000000004), D0 + RES: (2.0**40, 2.0**40 + 1)})
    store.commit(KEY, {D0 + 2 * RES: (0.5, 1.0), D0 + 3 * RES: (0.25, 1.0)})
    store.commit(KEY, minutes(D0 + DAY, 2 * 1440))  # moves day D0 into a block
    assert store.buckets(KEY, D0, D0 + 4 * RES) == [
        (D0, 0.1, 0.30000000000000004),
        (D0 + RES, 2.0**40, 2.0**40 + 1),
        (D0 + 2 * RES, 0.5, 1.0),
        (D0 + 3 * RES, 0.25, 1.0),
    ]
    assert store.sum(KEY, D0 + 2 * RES, D0 + 4 * RES) == Counts(0.75, 2.0)
    assert store.sum(KEY, D0 + RES, D0 + 2 * RES) == Counts(2.0**40, 2.0**40 + 1)
    store.close()


@st.composite
def timeline(draw: st.DrawFn) -> list[dict[float, tuple[float, float]]]:
    """Commits of whole-number events at bucket starts over 4 days, any order."""
    start = st.integers(0, 4 * 1440 - 1).map(lambda i: D0 + i * RES)
    event = st.tuples(st.integers(-5, 1000).map(float), st.integers(0, 1000).map(float))
    batch = st.dictionaries(start, event, max_size=40)
    return draw(st.lists(batch, min_size=1, max_size=8))


@settings(max_examples=40, deadline=None)
@given(
    batches=timeline(),
    compact_after=st.sets(st.integers(0, 7)),
    cuts=st.lists(st.integers(-10, 4 * 1440 + 10).map(lambda i: D0 + i * RES), min_size=2,
                  max_size=6),
)
def test_reads_equal_brute_force_whatever_tier_holds_a_bucket(
    batches: list[dict[float, tuple[float, float]]], compact_after: set[int], cuts: list[float]
) -> None:
    """Sums and bucket lists over any ranges equal brute-force sums of what was committed,
    with compactions anywhere in between (a day of padding moves the rest into blocks)."""
    with tempfile.TemporaryDirectory() as tmp, SQLiteStore(tmp, RES) as s:
        expected: dict[float, list[float]] = {}
        for i, batch in enumerate(batches):
            s.commit(KEY, batch)
            for start, (g, t) in batch.items():
                if g == t == 0.0:
                    continue  # a zero delta stores no bucket
                acc = expected.setdefault(start, [0.0, 0.0])
                acc[0] += g
                acc[1] += t
            if i in compact_after:
                s.commit(KEY, {D0 + 5 * DAY: (0.0, 1.0)})
                expected.setdefault(D0 + 5 * DAY, [0.0, 0.0])[1] += 1.0
                s.compact()
        for a, b in itertools.pairwise(sorted(cuts)):
            inside = [(k, v) for k, v in sorted(expected.items()) if a <= k < b]
            assert s.sum(KEY, a, b) == Counts(sum(v[0] for _, v in inside),
                                              sum(v[1] for _, v in inside))
            assert s.buckets(KEY, a, b) == [(k, v[0], v[1]) for k, v in inside]
        assert s.first_bucket(KEY) == min(expected, default=None)


# ------------------------------------------------------------- prune


def test_prune_deletes_old_blocks_and_trims_the_edge_day(
    tmp_path: Path, store: SQLiteStore
) -> None:
    """Pruning before D0 + 1 d 12 h deletes day D0's block (1440 buckets) and the first 720
    buckets of day D0 + 1: 2160 buckets; the rest reads as before."""
    store.commit(KEY, minutes(D0, 4 * 1440))
    rest = store.sum(KEY, D0 + DAY + 12 * HOUR, 2 * D0)
    pruned = store.prune(D0 + DAY + 12 * HOUR)
    assert pruned.buckets == 2160
    assert store.sum(KEY, 0, D0 + DAY + 12 * HOUR) == Counts()
    assert store.sum(KEY, 0, 2 * D0) == rest
    assert store.first_bucket(KEY) == D0 + DAY + 12 * HOUR
    assert tiers(tmp_path)[1] == 3
    store.close()


def test_prune_at_a_block_edge_keeps_the_day(store: SQLiteStore) -> None:
    """Pruning before D0 + 1 d deletes exactly day D0's 1440 buckets."""
    store.commit(KEY, minutes(D0, 3 * 1440))
    assert store.prune(D0 + DAY).buckets == 1440
    assert store.first_bucket(KEY) == D0 + DAY
    assert store.sum(KEY, 0, 2 * D0) == Counts(2 * 1440, 4 * 1440)
    store.close()


def test_retired_slo_blocks_go_with_it(tmp_path: Path, store: SQLiteStore) -> None:
    """An SLO retired before the horizon loses its blocks and hot rows; another keeps its own."""
    store.commit(KEY, minutes(D0, 3 * 1440))
    store.commit("other/slo", minutes(D0, 3 * 1440))
    store.retire(["other/slo"], at=D0)
    pruned = store.prune(D0 + 1.0)
    assert pruned.slos == (KEY,)
    assert pruned.buckets == 3 * 1440
    assert store.sum(KEY, 0, 2 * D0) == Counts()
    assert store.sum("other/slo", 0, 2 * D0) == Counts(3 * 1440, 6 * 1440)
    assert tiers(tmp_path)[1] == 3
    store.close()


def test_a_changed_definition_drops_blocks_too(store: SQLiteStore) -> None:
    """A reset by a new fingerprint leaves no block behind to be read again."""
    store.ensure_fingerprint(KEY, "a", keep_events=False)
    store.commit(KEY, minutes(D0, 3 * 1440), cursor=D0 + 3 * DAY)
    assert store.ensure_fingerprint(KEY, "b", keep_events=False)
    assert store.sum(KEY, 0, 2 * D0) == Counts()
    assert store.first_bucket(KEY) is None
    assert store.cursor(KEY) is None
    store.commit(KEY, {D0: (1.0, 1.0)})
    assert store.buckets(KEY, 0, 2 * D0) == [(D0, 1.0, 1.0)]
    store.close()


# ------------------------------------------------------------- damage


def damage_block(directory: Path, day: int, key: str = KEY) -> None:
    """Overwrite the SLO's block of ``day`` with a text value that starts like a block."""
    conn = sqlite3.connect(directory / FILENAME)
    with conn:
        conn.execute(
            "UPDATE block SET data = x'534c42' || zeroblob(40) "
            "WHERE day = ? AND slo_id = (SELECT id FROM slo WHERE slo_key = ?)", (day, key)
        )
    conn.close()


def test_a_damaged_block_is_a_store_error_naming_slo_and_day(tmp_path: Path) -> None:
    """Reading a damaged block raises StoreError with the SLO and the UTC day, not a zlib error."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, minutes(D0, 3 * 1440))
    damage_block(tmp_path, int(D0 // DAY))
    with SQLiteStore(tmp_path, RES) as s:
        with pytest.raises(StoreError, match=f"block of SLO {KEY} for the day starting 2023-11-14"):
            s.sum(KEY, D0 + HOUR, D0 + 2 * HOUR)
        with pytest.raises(StoreError, match="is damaged"):
            s.buckets(KEY, D0, D0 + DAY)
        # The other days still read, and whole-day sums need no decoding.
        assert s.sum(KEY, D0 + DAY, D0 + 2 * DAY) == Counts(1440, 2880)


def test_a_commit_into_a_damaged_day_is_kept_hot(tmp_path: Path) -> None:
    """The commit succeeds and its events stay hot when the day's block cannot be merged;
    compact() says why."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, minutes(D0, 3 * 1440))
    damage_block(tmp_path, int(D0 // DAY))
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, {D0: (1.0, 1.0), D0 + 3 * DAY + 3 * HOUR: (1.0, 1.0)})
        assert s.buckets(KEY, D0 + 3 * DAY + 3 * HOUR, 2 * D0) == [
            (D0 + 3 * DAY + 3 * HOUR, 1.0, 1.0)
        ]
        with pytest.raises(StoreError, match="is damaged"):
            s.compact()


def test_prune_compacts_past_a_damaged_block(tmp_path: Path) -> None:
    """Prune succeeds and compacts another SLO's backlog although one SLO's block is damaged;
    compact() then names the damaged one."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, minutes(D0, 3 * 1440))
        s.commit("other/slo", minutes(D0, 3 * 1440))
    damage_block(tmp_path, int(D0 // DAY))
    add_hot(tmp_path, {D0 + HOUR: (1.0, 1.0)})
    conn = sqlite3.connect(tmp_path / FILENAME)
    with conn:
        conn.execute("INSERT INTO bucket VALUES ((SELECT id FROM slo WHERE slo_key = ?), ?, 1, 1)"
                     " ON CONFLICT DO UPDATE SET total = total + 1, good = good + 1",
                     ("other/slo", D0 + DAY + HOUR))
    conn.close()
    hot_before = tiers(tmp_path)[0]
    with SQLiteStore(tmp_path, RES) as s:
        s.prune(D0 - DAY)
        assert tiers(tmp_path)[0] == hot_before - 1  # the other SLO's row moved into its block
        assert s.sum("other/slo", D0 + DAY, D0 + 2 * DAY) == Counts(1441, 2881)
        with pytest.raises(StoreError, match=f"block of SLO {KEY} for the day starting"):
            s.compact()


# ------------------------------------------------------------- crashes

def test_a_crash_inside_compaction_loses_and_doubles_nothing(tmp_path: Path) -> None:
    """Killed after the block was written but before its hot rows were deleted, the
    compaction's transaction rolls back: every bucket reads once."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, minutes(D0, 3 * 1440))
        expected = s.buckets(KEY, 0, 2 * D0)
        s.commit(KEY, {D0 + 10 * RES: (7.0, 7.0)})  # compacted into day D0 by this commit
    code = f"s.commit({KEY!r}, {{{D0 + 20 * RES}: (5.0, 5.0)}})"
    assert run_until("DELETE FROM bucket WHERE slo_id", tmp_path, code) == 9
    with SQLiteStore(tmp_path, RES) as s:
        rows = s.buckets(KEY, 0, 2 * D0)
        want = {b[0]: b for b in expected}
        want[D0 + 10 * RES] = (D0 + 10 * RES, 8.0, 9.0)
        want[D0 + 20 * RES] = (D0 + 20 * RES, 6.0, 7.0)  # the commit itself had committed
        assert rows == sorted(want.values())
        assert s.sum(KEY, 0, 2 * D0) == Counts(3 * 1440 + 12, 6 * 1440 + 12)


# ------------------------------------------------------------- a reader beside


def test_a_reader_beside_a_compacting_writer_sees_each_bucket_once(tmp_path: Path) -> None:
    """Commit k adds 2**k events to an old, compacted day, and compacts it: a read-only store
    reading meanwhile only ever sees 4320 + 2**k - 1 events, never a bucket twice or not at all."""
    writer = SQLiteStore(tmp_path, RES)
    writer.commit(KEY, minutes(D0, 3 * 1440, 1.0, 1.0))
    valid = {3 * 1440 + 2**k - 1 for k in range(21)}
    seen: list[float] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            with SQLiteStore(tmp_path, RES, readonly=True) as reader:
                while not done.is_set():
                    seen.append(reader.sum(KEY, 0, 2 * D0).total)
                    seen.append(sum(t for _, _, t in reader.buckets(KEY, 0, 2 * D0)))
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for k in range(20):
            writer.commit(KEY, {D0 + (k % 3) * DAY + k * RES: (0.0, float(2**k))})
            writer.compact()
    finally:
        done.set()
        thread.join(timeout=30)
        writer.close()
    assert not failures
    assert seen
    assert set(seen) <= valid


# ------------------------------------------------------------- resolution


def test_a_changed_resolution_rebuckets_blocks_too(tmp_path: Path) -> None:
    """Three days of (1, 2) a minute, compacted, reopened at 300 s buckets: each 5-minute
    bucket holds (5, 10), and the 3 * 288 of them sum to (4320, 8640)."""
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(KEY, minutes(D0, 3 * 1440))
        assert tiers(tmp_path)[1] == 3
    with SQLiteStore(tmp_path, 300.0) as s:
        rows = s.buckets(KEY, 0, 2 * D0)
        assert rows == [(D0 + i * 300.0, 5.0, 10.0) for i in range(3 * 288)]
        assert s.sum(KEY, 0, 2 * D0) == Counts(4320, 8640)
        s.commit(KEY, {D0 + 3 * DAY: (1.0, 1.0)})  # compacts again, at 300 s
        assert tiers(tmp_path)[1] == 3
        assert s.sum(KEY, 0, 2 * D0) == Counts(4321, 8641)


def test_buckets_that_do_not_tile_a_day_stay_hot(tmp_path: Path) -> None:
    """At 7 s buckets (86400 / 7 is no whole number) nothing is compacted; reads are exact."""
    with SQLiteStore(tmp_path, 7.0) as s:
        s.commit(KEY, {D0 + i * 7.0: (1.0, 1.0) for i in range(2 * 12343)})
        assert s.compact() == 0
        assert tiers(tmp_path) == (2 * 12343, 0)
        assert s.sum(KEY, D0, D0 + DAY) == Counts(12343, 12343)


def test_the_write_ahead_log_is_cut_back_after_a_large_transaction(tmp_path: Path) -> None:
    """One commit larger than the 16 MiB limit (120,000 series rows of ~230 bytes, as a
    backfill's transaction may be) grows the log past it; after the next checkpoint the log
    is cut back to at most WAL_LIMIT, so the storage directory does not keep the largest
    transaction's size for ever."""
    from slo_exporter.store.sqlite import WAL_LIMIT

    end = 1_700_006_400.0
    wal = tmp_path / (FILENAME + "-wal")
    with SQLiteStore(tmp_path, RES) as store:
        store.commit(KEY, {}, series={
            f"series-{i:06d}-{'x' * 200}": (end, float(i)) for i in range(120_000)})
        assert wal.stat().st_size > WAL_LIMIT
        store._open_conn().execute("PRAGMA wal_checkpoint(PASSIVE)")
        store.commit(KEY, {end: (1.0, 1.0)})
        assert wal.stat().st_size <= WAL_LIMIT
