"""The per-SLO memory of running window sums and edge blocks (``store.windows``).

Pure logic: the "database" is a dict of buckets, and every answer is checked
against a sum over it.
"""

from __future__ import annotations

import random
from bisect import bisect_left

from slo_exporter.slomath import Counts
from slo_exporter.store import windows
from slo_exporter.store.windows import BLOCK, MAX_BLOCKS, MAX_TRACKERS, SLOMemory

RES = 60.0
DAY = 86_400.0
T0 = 1_700_006_400.0  # a multiple of BLOCK * RES


class Database:
    """Buckets by start, and how often each read was made."""

    def __init__(self) -> None:
        self.buckets: dict[float, tuple[float, float]] = {}
        self.sum_reads = 0
        self.bucket_reads = 0
        #: the starts in the order they were first added, while that order ascends
        self._starts: list[float] | None = []

    def add(self, start: float, good: float, total: float) -> None:
        if start not in self.buckets and self._starts is not None:
            if self._starts and start <= self._starts[-1]:  # out of order, or re-added
                self._starts = None
            else:
                self._starts.append(start)
        g, t = self.buckets.get(start, (0.0, 0.0))
        self.buckets[start] = (g + good, t + total)

    def read_sum(self, start: float, end: float) -> Counts:
        self.sum_reads += 1
        return self.truth(start, end)

    def read_buckets(self, start: float, end: float) -> list[tuple[float, float, float]]:
        self.bucket_reads += 1
        return sorted((s, g, t) for s, (g, t) in self.buckets.items() if start <= s < end)

    def truth(self, start: float, end: float) -> Counts:
        if self._starts is not None:
            # added in ascending order: the buckets in range are one run of the dict's
            # order, found by bisection and summed in that same order (a test may have
            # deleted some since)
            inside = [self.buckets[s] for s in self._starts[bisect_left(self._starts, start):
                                                            bisect_left(self._starts, end)]
                      if s in self.buckets]
            return Counts(sum(g for g, _ in inside), sum(t for _, t in inside))
        good = sum(g for s, (g, _) in self.buckets.items() if start <= s < end)
        total = sum(t for s, (_, t) in self.buckets.items() if start <= s < end)
        return Counts(good, total)


def commit(db: Database, memory: SLOMemory, rows: list[tuple[float, float, float]]) -> None:
    for start, good, total in rows:
        db.add(start, good, total)
    memory.add(rows)


def test_windows_follow_commits_moves_and_late_events_exactly() -> None:
    """Over 1,200 random steps (new events, late events into old buckets, negative good
    deltas, the end moving forward and sometimes back, a period to date), every window the
    memory answers equals the sum of the database's buckets."""
    rng = random.Random(7)
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    widths = [5 * RES, 60 * RES, 360 * RES, DAY, 3 * DAY]
    end = T0 + 4 * DAY
    period_start = T0 + DAY
    for start in range(int(T0), int(end), int(RES) * 31):  # some history to begin with
        db.add(float(start), 3.0, 4.0)
    for _ in range(1_200):
        kind = rng.random()
        if kind < 0.5:  # events in the newest buckets
            rows = [(end - RES * rng.randint(1, 3), float(rng.randint(-1, 5)),
                     float(rng.randint(0, 9)))]
            commit(db, memory, rows)
        elif kind < 0.6:  # a late event, anywhere in the history
            rows = [(T0 + RES * rng.randint(0, int((end - T0) / RES)), 1.0, 2.0)]
            commit(db, memory, rows)
        elif kind < 0.95:
            end += RES
        else:
            end -= RES * rng.randint(1, 40)  # a report or an older snapshot asks
        for width in widths:
            assert memory.window(end - width, end, db.read_sum, db.read_buckets) == \
                db.truth(end - width, end), (width, end)
        assert memory.window(period_start, end, db.read_sum, db.read_buckets) == \
            db.truth(period_start, end)


def test_steady_moves_read_the_database_once_per_block_per_edge() -> None:
    """Moving a 1-day and a 30-day window one bucket at a time over 10 blocks reads each
    edge's block once (2 edges x 10 blocks, +3 for the first reads), and sums nothing in
    full after the first answer."""
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    for i in range(31 * 1440):
        db.add(T0 + i * RES, 1.0, 1.0)
    end = T0 + 31 * DAY
    widths = [DAY, 30 * DAY]
    for width in widths:
        memory.window(end - width, end, db.read_sum, db.read_buckets)
    assert db.sum_reads == 2
    for _ in range(10 * BLOCK):
        end += RES
        db.add(end - RES, 1.0, 1.0)
        memory.add([(end - RES, 1.0, 1.0)])
        for width in widths:
            assert memory.window(end - width, end, db.read_sum, db.read_buckets) == \
                Counts(width / RES, width / RES)
    assert db.sum_reads == 2
    # the newest edge's block and each window start's block: 10 + 1 each, the newest shared
    assert db.bucket_reads <= 3 * 11


class GridDatabase(Database):
    """A ``Database`` whose bucket reads walk the grid of the range (the tests of many
    moves over a month of buckets would spend seconds scanning every bucket)."""

    def read_buckets(self, start: float, end: float) -> list[tuple[float, float, float]]:
        self.bucket_reads += 1
        out, t = [], start
        while t < end:
            if t in self.buckets:
                out.append((t, *self.buckets[t]))
            t += RES
        return out


def test_eight_rolling_windows_at_once_read_each_edge_block_once() -> None:
    """A 30-day SLO's eight windows (5m to 30d, ``windows`` at once) moved a bucket at a
    time over 20 blocks, from two phases in the block: nine edges (eight starts, the
    newest end) want nine blocks of the ten kept, so each edge's block is read once,
    9 x 20 (+9 for the first blocks); not again after a move that reads another evicted
    it (the steady moves do not mark the blocks they take as used): 313 reads before."""
    widths = [5 * RES, 30 * RES, 60 * RES, 120 * RES, 360 * RES, DAY, 3 * DAY, 30 * DAY]
    assert len(widths) + 1 <= MAX_BLOCKS
    for phase in (0, 12):
        db = GridDatabase()
        memory = SLOMemory("svc/slo", RES)
        for i in range(31 * 1440 + phase):
            db.add(T0 + i * RES, 1.0, 1.0)
        end = T0 + 31 * DAY + phase * RES
        memory.windows(end, widths, db.read_sum, db.read_buckets)
        for _ in range(20 * BLOCK):
            end += RES
            commit(db, memory, [(end - RES, 1.0, 1.0)])
            got = memory.windows(end, widths, db.read_sum, db.read_buckets)
            assert got == {w: Counts(w / RES, w / RES) for w in widths}
        assert db.bucket_reads <= 9 * 20 + 9, phase


def test_memory_per_slo_is_bounded() -> None:
    """However many windows are asked for and however far they move, an SLO keeps at most
    MAX_TRACKERS window sums and MAX_BLOCKS edge blocks, and answers stay exact."""
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    for i in range(0, 3 * 1440, 3):
        db.add(T0 + i * RES, 1.0, 2.0)
    end = T0 + 3 * DAY
    for w in range(1, 60):
        width = w * 7 * RES
        assert memory.window(end - width, end, db.read_sum, db.read_buckets) == \
            db.truth(end - width, end)
        end -= 3 * RES
    assert len(memory._trackers) <= MAX_TRACKERS
    assert len(memory._blocks) <= MAX_BLOCKS


def test_a_tracker_is_read_again_after_resync_moves(monkeypatch: object) -> None:
    """After RESYNC moves a tracker's sum comes from the database again, so float
    rounding from adding and subtracting cannot build up."""
    import pytest

    mp = pytest.MonkeyPatch()
    mp.setattr(windows, "RESYNC", 8)
    try:
        db = Database()
        memory = SLOMemory("svc/slo", RES)
        for i in range(200):
            db.add(T0 + i * RES, 0.1, 0.3)
        end = T0 + 100 * RES
        memory.window(end - 50 * RES, end, db.read_sum, db.read_buckets)
        reads = db.sum_reads
        for _ in range(20):
            end += RES
            memory.window(end - 50 * RES, end, db.read_sum, db.read_buckets)
        assert db.sum_reads > reads
    finally:
        mp.undo()


def test_drop_through_forgets_what_holds_pruned_buckets() -> None:
    """After a prune of buckets up to T0 + 10 min, a window starting before it is summed
    again (without the pruned buckets); one starting after it keeps running."""
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    for i in range(60):
        db.add(T0 + i * RES, 1.0, 1.0)
    end = T0 + 60 * RES
    memory.window(end - 60 * RES, end, db.read_sum, db.read_buckets)  # holds pruned buckets
    memory.window(end - 30 * RES, end, db.read_sum, db.read_buckets)
    last = T0 + 10 * RES
    for start in [s for s in db.buckets if s <= last]:
        del db.buckets[start]
    memory.drop_through(last)
    assert [t.start for t in memory._trackers] == [end - 30 * RES]
    assert memory.window(end - 60 * RES, end, db.read_sum, db.read_buckets) == Counts(49, 49)
    assert memory.range(T0, T0 + 20 * RES, db.read_sum, db.read_buckets) == Counts(9, 9)


def test_unaligned_windows_count_buckets_starting_inside() -> None:
    """With 7 s buckets and a 5-minute window, the buckets counted are those whose start
    lies in [end - 300, end), as the protocol says, at every end."""
    res = 7.0
    db = Database()
    memory = SLOMemory("svc/slo", res)
    base = 7.0 * 10**8
    for i in range(500):
        db.add(base + i * res, 1.0, 1.0)
    for step in range(200):
        end = base + 100 * res + step * res
        assert memory.window(end - 300, end, db.read_sum, db.read_buckets) == \
            db.truth(end - 300, end)


def test_a_far_window_gets_its_own_tracker_and_the_present_one_stays() -> None:
    """Summing a 30-day window at 48 past instants 15 hours apart (a budget history), oldest
    first, reads one full range and then moves one tracker along; the tracker of the present
    30-day window is not moved, so the next cycle's answer reads nothing."""
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    for i in range(0, 62 * 1440, 60):
        db.add(T0 + i * RES, 1.0, 2.0)
    width = 30 * DAY
    end = T0 + 62 * DAY
    present = (end - width, end)
    assert memory.window(*present, db.read_sum, db.read_buckets) == db.truth(*present)
    step = 15 * 3600.0
    fresh = db.sum_reads
    for i in range(47, -1, -1):
        t = end - DAY - i * step
        assert memory.window(t - width, t, db.read_sum, db.read_buckets) == db.truth(t - width, t)
    assert db.sum_reads - fresh <= 1 + 2 * 47  # one fresh read, then two 15-hour ranges a move
    before = (db.sum_reads, db.bucket_reads)
    assert memory.window(*present, db.read_sum, db.read_buckets) == db.truth(*present)
    assert (db.sum_reads, db.bucket_reads) == before


def test_after_a_resync_a_tracker_waits_a_full_resync_again() -> None:
    """A tracker whose first resync comes early (its spread offset is RESYNC - 1, so
    one move after it is tracked) is read again once more in the next RESYNC moves,
    not at every move: 3 * RESYNC moves after tracking read the database 1 (tracking)
    + 1 (the early resync) + 3 (one per RESYNC moves after it) = 5 times at most."""
    import zlib

    width = 50 * RES
    key = next(f"svc/slo-{i}" for i in range(10_000)
               if zlib.crc32(f"svc/slo-{i}/{width}".encode()) % windows.RESYNC
               == windows.RESYNC - 1)
    db = Database()
    memory = SLOMemory(key, RES)
    for i in range(3 * windows.RESYNC + 200):
        db.add(T0 + i * RES, 1.0, 2.0)
    end = T0 + 100 * RES
    memory.window(end - width, end, db.read_sum, db.read_buckets)
    for _ in range(3 * windows.RESYNC):
        end += RES
        assert memory.window(end - width, end, db.read_sum, db.read_buckets) == \
            db.truth(end - width, end)
    assert db.sum_reads <= 5


def test_a_range_with_a_fixed_end_and_a_moving_start_moves_its_tracker() -> None:
    """The first local day of a rolling period, ``[period start, next midnight)``, ends
    before the period does: its start moves a bucket per status and its end stays;
    after the first sum, 50 such moves read no database sum (the start's edge blocks
    serve them) and stay exact."""
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    for i in range(400):
        db.add(T0 + i * RES, 1.0, 1.5)
    now = T0 + 350 * RES
    end = T0 + 300 * RES
    start = T0 + 10 * RES
    memory.window(now - 340 * RES, now, db.read_sum, db.read_buckets)  # the period
    memory.window(start, end, db.read_sum, db.read_buckets)
    reads = db.sum_reads
    for _ in range(50):
        start += RES
        assert memory.window(start, end, db.read_sum, db.read_buckets) == db.truth(start, end)
    assert db.sum_reads == reads
    assert len(memory._trackers) == 2


def test_a_rolling_window_never_borrows_a_tracker_of_another_width_by_its_end() -> None:
    """Windows of 5 and 6 buckets ending together each keep their own tracker: an end
    match is only a fallback when no tracker has the width or the start."""
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    for i in range(100):
        db.add(T0 + i * RES, 1.0, 1.0)
    end = T0 + 50 * RES
    for _ in range(5):
        for width in (5 * RES, 6 * RES):
            assert memory.window(end - width, end, db.read_sum, db.read_buckets) == \
                db.truth(end - width, end)
        end += RES
    assert sorted(t.end - t.start for t in memory._trackers) == [5 * RES, 6 * RES]


def test_windows_at_once_follow_commits_moves_and_late_events_exactly() -> None:
    """``windows`` (every width ending together, the steady move taken at once) over
    1,200 random steps of commits, late events, moves forward and back, and a
    period to date asked in between, answers each window as the database's sum."""
    rng = random.Random(11)
    db = Database()
    memory = SLOMemory("svc/slo", RES)
    widths = [0.0, 5 * RES, 60 * RES, 360 * RES, DAY, 3 * DAY]
    end = T0 + 4 * DAY
    period_start = T0 + DAY
    for start in range(int(T0), int(end), int(RES) * 29):
        db.add(float(start), 2.0, 5.0)
    for _ in range(1_200):
        kind = rng.random()
        if kind < 0.5:
            commit(db, memory, [(end - RES * rng.randint(1, 3), float(rng.randint(-1, 5)),
                                 float(rng.randint(0, 9)))])
        elif kind < 0.6:
            commit(db, memory, [(T0 + RES * rng.randint(0, int((end - T0) / RES)), 1.0, 2.0)])
        elif kind < 0.95:
            end += RES
        else:
            end -= RES * rng.randint(1, 40)
        got = memory.windows(end, widths, db.read_sum, db.read_buckets)
        assert got == {w: db.truth(end - w, end) if w > 0 else Counts() for w in widths}, end
        if kind < 0.2:
            assert memory.window(period_start, end, db.read_sum, db.read_buckets) == \
                db.truth(period_start, end)
    assert len(memory._trackers) <= MAX_TRACKERS


def test_a_full_block_memory_follows_commits_moves_and_late_events_exactly() -> None:
    """Eight windows and a day to date (more edges than blocks kept, so blocks are dropped
    and read again all along) over 400 random steps of commits, late events into old
    buckets, moves forward by a bucket and back: every answer is the database's sum,
    whichever blocks were dropped. After a move back, the 30-minute window took the
    1-hour window's tracker by its end (another tracker ended later) and ``windows``
    then answered the hour with it: 136 good of 291 where the hour held 209 of 395."""
    rng = random.Random(23)
    db = GridDatabase()
    memory = SLOMemory("svc/slo", RES)
    widths = [5 * RES, 30 * RES, 60 * RES, 120 * RES, 360 * RES, DAY, 3 * DAY, 4 * DAY]
    end = T0 + 5 * DAY + 7 * RES
    for start in range(int(T0), int(end), int(RES) * 7):
        db.add(float(start), 3.0, 4.0)
    dropped = 0
    for _ in range(1_500):
        kind = rng.random()
        if kind < 0.4:
            commit(db, memory, [(end - RES * rng.randint(1, 3), float(rng.randint(-1, 5)),
                                 float(rng.randint(0, 9)))])
        elif kind < 0.55:
            commit(db, memory, [(end - RES * rng.randint(1, 6000), 1.0, 2.0)])
        elif kind < 0.97:
            end += RES
        else:
            end -= RES * rng.randint(1, 20)
        before = set(memory._blocks)
        got = memory.windows(end, widths, db.read_sum, db.read_buckets)
        assert got == {w: db.truth(end - w, end) for w in widths}, end
        midnight = (end // DAY) * DAY
        if midnight < end:
            assert memory.window(midnight, end, db.read_sum, db.read_buckets) == \
                db.truth(midnight, end)
        dropped += len(before - set(memory._blocks))
        assert len(memory._blocks) <= MAX_BLOCKS
    assert dropped > 100  # the memory was full and dropping blocks all along


def _state(memory: SLOMemory) -> tuple[object, ...]:
    trackers = tuple((t.start, t.end, t.good, t.total, t.used, t.moves)
                     for t in memory._trackers)
    blocks = tuple((b, tuple(v)) for b, v in memory._blocks.items())
    return repr(trackers), blocks, memory._clock


def test_one_width_asked_alone_moves_and_answers_as_any_widths_do(monkeypatch: object) -> None:
    """``windows`` of one width (its own one-pass path: a period to date, a first or an
    open local day, a history point) gives, bit for bit, the sums, tracker moves, clock
    and blocks that the path of several widths gives for it, over 400 random steps of
    commits of fractional events, late events, moves on and off the grid and back,
    resyncs, rolling windows and plain ``window`` asks in between (twin memories)."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(windows, "RESYNC", 40)  # resyncs all along
    rng = random.Random(5)
    db = GridDatabase()
    one, many = SLOMemory("svc/slo", RES), SLOMemory("svc/slo", RES)
    rolling = [5 * RES, 60 * RES, 360 * RES, DAY, 3 * DAY]
    end = T0 + 5 * DAY
    for start in range(int(T0), int(end), int(RES) * 3):
        db.add(float(start), rng.randint(0, 30) / 10, 3.3)
    period = 3 * DAY
    for step in range(400):
        kind = rng.random()
        if kind < 0.3:  # into buckets on the grid
            on_grid = (end // RES) * RES
            rows = [(on_grid - RES * rng.randint(0, 2), rng.randint(-5, 50) / 10,
                     rng.randint(0, 90) / 10)]
            if rng.random() < 0.2:  # a late event far back
                rows.append((on_grid - RES * rng.randint(1, 5000), 0.1, 0.3))
            for bucket, good, total in rows:
                db.add(bucket, good, total)
            one.add(rows)
            many.add(rows)
        elif kind < 0.8:
            end += RES
        elif kind < 0.9:
            end += 30.0  # off the grid, or back on it
        elif kind < 0.97:
            end -= RES * rng.randint(1, 30)
        else:
            end += RES * rng.randint(2, 50)
        grid_end = (end // RES) * RES + (RES if end % RES else 0.0)
        assert repr(one.windows(grid_end, rolling, db.read_sum, db.read_buckets)) == \
            repr(many.windows(grid_end, rolling, db.read_sum, db.read_buckets))
        first = grid_end - period
        midnight = (first // DAY + 1) * DAY
        today = (end // DAY) * DAY
        far = grid_end - RES * 60 * rng.randint(1, 40)
        asks = [(grid_end, period), (midnight, midnight - first), (end, end - today),
                (far, period), (grid_end, rng.choice([0.0, -RES, RES, 60 * RES]))]
        for _ in range(3):  # short ranges near the end: same widths, same ends, same starts
            asks.append((grid_end - RES * rng.randint(0, 4), RES * rng.randint(1, 6)))
        for at_end, width in asks:
            got = one.windows(at_end, (width,), db.read_sum, db.read_buckets)
            assert repr(got) == repr(many._windows(at_end, (width,), db.read_sum,
                                                   db.read_buckets)), (at_end, width)
            if width > 0 and step % 10 == 0:  # right, up to the rounding of running sums
                truth = db.truth(at_end - width, at_end)
                assert abs(got[width].good - truth.good) < 1e-6
                assert abs(got[width].total - truth.total) < 1e-6
            assert _state(one) == _state(many)
        if kind < 0.05:
            assert repr(one.window(today, end, db.read_sum, db.read_buckets)) == \
                repr(many.window(today, end, db.read_sum, db.read_buckets))
    assert len(one._trackers) <= MAX_TRACKERS
