"""What a store keeps in memory per SLO so window sums cost no database read.

Not every bucket: a 30-day SLO at 60 s buckets has 43,200 of them, and
10,000 such SLOs would need gigabytes. Instead, per SLO:

* **running window sums** (``Tracker``): the events of ``[start, end)`` as
  last asked. When the next cycle asks for the same window at a later end,
  only the buckets that entered and the buckets that left are read, and a
  commit into a tracked range adds its events at once. A window is matched
  by its width (rolling windows), by its start (a calendar period or a
  local day to date, growing) or else by its end (the first, partial day
  of a rolling period, whose start moves);
* **edge blocks**: the buckets of a few short runs of ``BLOCK`` buckets
  around the window edges (the newest run, where events land, and the one
  each long window's start is passing through), kept up to date by commits.
  A window edge moves one bucket at a time, so each block is read once and
  serves ``BLOCK`` moves.

Everything else (a range no tracker holds, a report's span) is summed by the
database. A tracker is re-read from the database after ``RESYNC`` moves, so
the float arithmetic of adding and subtracting never drifts for long.

Owns no I/O: the store passes its database reads in (``read_sum`` and
``read_buckets``). Not thread-safe: the store calls it under its lock.
"""

from __future__ import annotations

import math
import zlib
from array import array
from collections.abc import Callable, Iterable, Sequence

from slo_exporter.frozen import slotted
from slo_exporter.slomath import Counts

BLOCK = 16
"""Buckets per edge block."""

_counts = slotted(Counts)  # every window of every status (``frozen.slotted``)

MAX_BLOCKS = 10
"""Edge blocks kept per SLO: the newest, a few short windows' and each long window's start."""

MAX_TRACKERS = 16
"""Window sums kept per SLO (the alert and exported windows, a period to date, spares)."""

RESYNC = 2048
"""Moves of a tracker after which it is summed again by the database."""

BLOCK_READS = 4
"""A range spanning more blocks than this is summed by the database instead."""

ReadSum = Callable[[float, float], Counts]
"""Events of the stored buckets whose start lies in ``[start, end)``."""

ReadBuckets = Callable[[float, float], Sequence[tuple[float, float, float]]]
"""The stored ``(start, good, total)`` buckets with start in ``[start, end)``."""


class Tracker:
    """The events of ``[start, end)``; ``used`` orders eviction, ``moves`` resyncs."""

    __slots__ = ("end", "good", "moves", "start", "total", "used")

    def __init__(self, start: float, end: float, counts: Counts, used: int, moves: int) -> None:
        self.start = start
        self.end = end
        self.good = float(counts.good)
        self.total = float(counts.total)
        self.used = used
        self.moves = moves


class SLOMemory:
    """One SLO's window sums and edge blocks, over a resolution of ``res`` seconds."""

    __slots__ = ("_blocks", "_clock", "_key", "_res", "_trackers", "first", "first_known",
                 "reads")

    def __init__(self, key: str, resolution: float) -> None:
        self._key = key
        self._res = resolution
        self._trackers: list[Tracker] = []
        # block start -> good and total of its BLOCK buckets, interleaved
        self._blocks: dict[float, array[float]] = {}
        self._clock = 0  # bumped per use, for least-recently-used eviction
        #: the start of the oldest stored bucket (None: none stored), once
        #: ``first_known``: commits lower it, a prune forgets it
        self.first: float | None = None
        self.first_known = False
        #: the store's two database reads of this SLO, made once (``StoreBase``)
        self.reads: tuple[ReadSum, ReadBuckets] | None = None

    # ------------------------------------------------------------------ reads

    def window(self, start: float, end: float, read_sum: ReadSum,
               read_buckets: ReadBuckets) -> Counts:
        """Events of ``[start, end)`` (bucket-aligned), moving the tracker that fits."""
        self._clock += 1
        return self._moved(self._match(start, end), start, end, read_sum, read_buckets)

    def _moved(self, tracker: Tracker | None, start: float, end: float, read_sum: ReadSum,
               read_buckets: ReadBuckets) -> Counts:
        """``window`` once its tracker (``_match``'s) is found, the clock moved."""
        if tracker is None:
            return self._track(start, end, read_sum(start, end))
        tracker.used = self._clock
        if tracker.start == start and tracker.end == end:
            return Counts(tracker.good, tracker.total)
        if tracker.moves >= RESYNC:
            self._trackers.remove(tracker)
            return self._track(start, end, read_sum(start, end), moves=0)
        # new = old + what entered at the end - what left at the start; a
        # move backwards makes the ranges negative, which the sign handles
        res = self._res
        grew, shrank = end - tracker.end, start - tracker.start
        if (grew in (res, 0.0) and shrank in (res, 0.0)
                and tracker.end % res == 0.0 and tracker.start % res == 0.0):
            # the steady moves: a rolling window's, a day to date's (its end), a first
            # day's (its start), each edge by one bucket or none, on the bucket grid
            # (a calendar period may end between buckets)
            g_in, t_in = self._bucket(tracker.end, read_buckets) if grew else (0.0, 0.0)
            g_out, t_out = self._bucket(tracker.start, read_buckets) if shrank else (0.0, 0.0)
        else:
            g_in, t_in = self._signed(tracker.end, end, read_sum, read_buckets)
            g_out, t_out = self._signed(tracker.start, start, read_sum, read_buckets)
        tracker.good += g_in - g_out
        tracker.total += t_in - t_out
        tracker.start, tracker.end = start, end
        tracker.moves += 1
        return Counts(tracker.good, tracker.total)

    def windows(self, end: float, widths: Sequence[float], read_sum: ReadSum,
                read_buckets: ReadBuckets) -> dict[float, Counts]:
        """Events of each window ``[end - w, end)`` (``Counts()`` for ``w <= 0``), keyed by
        width: ``window`` of each, the steady case (every tracker a bucket behind)
        taken at once, the bucket that entered read once for all of them."""
        if len(widths) == 1:  # a period figure's range
            (only,) = widths
            return {only: self._one(end, only, read_sum, read_buckets)}
        return self._windows(end, widths, read_sum, read_buckets)

    def _one(self, end: float, w: float, read_sum: ReadSum,
             read_buckets: ReadBuckets) -> Counts:
        """``_windows`` of the one width ``w``, the same sums and moves: the tracker
        ``_windows`` takes, or else the one ``window`` would move (``_match``), is
        found in one pass over the trackers instead of two (``_scan``)."""
        if w <= 0:
            return Counts()
        res = self._res
        behind = end - res
        start = end - w
        found, matched = self._scan(start, end, w, (end, behind))
        if found is None:  # as ``window`` moves it
            self._clock += 1
            return self._moved(matched, start, end, read_sum, read_buckets)
        if found.moves >= RESYNC:
            return self.window(start, end, read_sum, read_buckets)
        self._clock += 1
        found.used = self._clock
        if found.end != behind:
            return _counts(found.good, found.total)
        return self._steady(found, end, w, self._bucket(behind, read_buckets), read_buckets)

    def _steady(self, tracker: Tracker, end: float, w: float, entered: tuple[float, float],
                read_buckets: ReadBuckets) -> Counts:
        """The steady move of a tracker of width ``w`` a bucket behind ``end``: the bucket
        that ``entered`` added, the one that left (``_bucket``, inlined: every window of
        every status) taken away; the same sums as ``good += g_in - g_out`` in ``window``."""
        res = self._res
        left = tracker.start
        span = BLOCK * res
        base = (left // span) * span
        values = self._blocks.get(base)
        if values is None:
            values = self._block(base, read_buckets)
        i = 2 * round((left - base) / res)
        g_in, t_in = entered
        good = tracker.good = tracker.good + (g_in - values[i])
        total = tracker.total = tracker.total + (t_in - values[i + 1])
        tracker.start, tracker.end = end - w, end
        tracker.moves += 1
        return _counts(good, total)

    def _windows(self, end: float, widths: Sequence[float], read_sum: ReadSum,
                 read_buckets: ReadBuckets) -> dict[float, Counts]:
        """``windows`` of any widths."""
        res = self._res
        behind = end - res
        # the first tracker of each width ending at ``end`` or a bucket behind
        by_width: dict[float, Tracker] = {}
        edges = (end, behind)
        for tracker in self._trackers:
            tracker_end = tracker.end
            if tracker_end in edges:
                width = tracker_end - tracker.start
                if width not in by_width:
                    by_width[width] = tracker
        out: dict[float, Counts] = {}
        entered: tuple[float, float] | None = None
        clock = self._clock  # kept in a local, written back around ``window``
        # ``window`` may move a tracker found here for a later width (one ending at
        # ``end`` it cuts at its start, when another tracker ends later): after it ran,
        # a tracker found is taken only while it still holds its width at ``end``
        moved = False
        for w in widths:
            found = by_width.get(w) if w > 0 else None
            if (found is None or found.moves >= RESYNC
                    or (moved and (found.end - found.start != w or found.end not in edges))):
                self._clock = clock
                out[w] = self.window(end - w, end, read_sum, read_buckets) if w > 0 \
                    else Counts()
                clock = self._clock
                moved = moved or w > 0
                continue
            tracker = found
            clock += 1
            tracker.used = clock
            if tracker.end == behind:  # the steady move, as ``window`` makes it
                if entered is None:
                    entered = self._bucket(behind, read_buckets)
                out[w] = self._steady(tracker, end, w, entered, read_buckets)
            else:
                out[w] = _counts(tracker.good, tracker.total)
        self._clock = clock
        return out

    def range(self, start: float, end: float, read_sum: ReadSum,
              read_buckets: ReadBuckets) -> Counts:
        """Events of ``[start, end)`` without tracking it: a tracker holding exactly
        this range, the edge blocks when it is short, else the database."""
        if end <= start:
            return Counts()
        for tracker in self._trackers:
            if tracker.start == start and tracker.end == end:
                return Counts(tracker.good, tracker.total)
        g, t = self._signed(start, end, read_sum, read_buckets)
        return Counts(g, t)

    # ----------------------------------------------------------------- writes

    def add(self, rows: Iterable[tuple[float, float, float]]) -> None:
        """Committed ``(start, good, total)`` deltas: into every range holding them."""
        trackers, blocks = self._trackers, self._blocks
        if self.first_known and rows:
            oldest = min(row[0] for row in rows)
            if self.first is None or oldest < self.first:
                self.first = oldest
        for start, good, total in rows:
            for tracker in trackers:
                if tracker.start <= start < tracker.end:
                    tracker.good += good
                    tracker.total += total
            if blocks:
                base, i = self._slot(start)
                values = blocks.get(base)
                if values is not None:
                    values[i] += good
                    values[i + 1] += total

    def drop_through(self, last_start: float) -> None:
        """Buckets starting at or before ``last_start`` were deleted: forget what held them."""
        self.first_known = False
        self._trackers = [t for t in self._trackers if t.start > last_start]
        self._blocks = {b: v for b, v in self._blocks.items() if b > last_start}

    # --------------------------------------------------------------- helpers

    def _match(self, start: float, end: float) -> Tracker | None:
        """The tracker cheapest to move here, if moving it reads less than summing the
        range afresh: one of the same width (a rolling window), or of the same start
        that this range extends (a period or a local day to date); failing those, for
        a range ending before the newest tracked end, one of the same end that this
        range cuts at its start (the first local day of a rolling period: its start
        moves with the period's, its end stays at a midnight).

        So a window asked at a far instant (a point of the budget history) gets
        a tracker of its own, and the ones following the present stay put: a range
        never takes a tracker it would shrink from its end (a local day to date
        the period's, a first day the period's), and a rolling window, ending at
        the present, never takes one by its end.
        """
        return self._scan(start, end, end - start, ())[1]

    def _scan(self, start: float, end: float, w: float,
              edges: tuple[float, ...]) -> tuple[Tracker | None, Tracker | None]:
        """One pass over the trackers: the first of width ``w`` ending at one of
        ``edges`` (the tracker ``_one`` takes as it is or moves by a bucket; none is
        looked for without edges) and, when there is none, ``_match``'s choice for
        ``[start, end)``."""
        width = end - start
        best, best_cost = None, width
        # the same-end candidate (and the newest end) is looked for beside the others,
        # and taken only when none of those fits
        by_end, by_end_cost = None, width
        newest = -math.inf
        for tracker in self._trackers:
            t_start, t_end = tracker.start, tracker.end
            if t_end in edges and t_end - t_start == w:
                return tracker, None
            if t_end > newest:  # noqa: PLR1730 - max(newest, t_end) without a call per tracker
                newest = t_end
            if t_end - t_start == width or (t_start == start and t_end <= end):
                cost = abs(end - t_end) + abs(start - t_start)
                if cost <= best_cost:
                    best, best_cost = tracker, cost
            if t_end == end and t_start <= start:
                cost = start - t_start
                if cost <= by_end_cost:
                    by_end, by_end_cost = tracker, cost
        if best is None and end < newest:
            return None, by_end
        return None, best

    def _track(self, start: float, end: float, counts: Counts,
               moves: int | None = None) -> Counts:
        """Keep ``counts`` as the sum of ``[start, end)``; ``moves``: how many the tracker
        counts as made (a resynced one starts from 0)."""
        if len(self._trackers) >= MAX_TRACKERS:
            self._trackers.remove(min(self._trackers, key=lambda t: t.used))
        if moves is None:
            # Spread the first resyncs of many SLOs over time instead of one
            # burst; after that each comes a full RESYNC moves after the last.
            moves = zlib.crc32(f"{self._key}/{end - start}".encode()) % RESYNC
        self._trackers.append(Tracker(start, end, counts, self._clock, moves))
        return counts

    def _signed(self, a: float, b: float, read_sum: ReadSum,
                read_buckets: ReadBuckets) -> tuple[float, float]:
        """Events of ``[a, b)``, or minus those of ``[b, a)`` when ``b < a``."""
        if a == b:
            return 0.0, 0.0
        sign = 1.0
        if b < a:
            a, b, sign = b, a, -1.0
        span = BLOCK * self._res
        first = (a // span) * span
        if (b - first) > BLOCK_READS * span:
            counts = read_sum(a, b)
            return sign * counts.good, sign * counts.total
        good = total = 0.0
        base = first
        while base < b:
            values = self._block(base, read_buckets)
            lo = _index(max(a, base) - base, self._res)
            hi = _index(min(b, base + span) - base, self._res)
            good += sum(values[2 * lo:2 * hi:2])
            total += sum(values[2 * lo + 1:2 * hi:2])
            base += span
        return sign * good, sign * total

    def _bucket(self, start: float, read_buckets: ReadBuckets) -> tuple[float, float]:
        """The events of the one bucket starting at ``start`` (an aligned instant)."""
        base, i = self._slot(start)
        values = self._blocks.get(base)
        if values is None:
            values = self._block(base, read_buckets)
        return values[i], values[i + 1]

    def _slot(self, start: float) -> tuple[float, int]:
        """The start of the block holding the bucket at ``start``, and the bucket's
        good value's index in it (its total follows)."""
        span = BLOCK * self._res
        base = (start // span) * span
        return base, 2 * round((start - base) / self._res)

    def _block(self, base: float, read_buckets: ReadBuckets) -> array[float]:
        values = self._blocks.get(base)
        if values is not None:
            # re-insert: dicts keep insertion order, so the first is the least recent
            del self._blocks[base]
            self._blocks[base] = values
            return values
        values = array("d", bytes(16 * BLOCK))
        for start, good, total in read_buckets(base, base + BLOCK * self._res):
            i = self._slot(start)[1]
            values[i] += good
            values[i + 1] += total
        if len(self._blocks) >= MAX_BLOCKS:
            self._evict()
        self._blocks[base] = values
        return values

    def _evict(self) -> None:
        """Drop the least recently read block that no tracker's next move reads (the
        bucket leaving at its start, the one entering at its end), else the least
        recent. The steady moves take their blocks without marking them used, so
        dropping by recency alone could drop one still in use: read again, it
        drops another in use, and each block came to be read twice."""
        span = BLOCK * self._res
        needed = set()
        for tracker in self._trackers:
            needed.add((tracker.start // span) * span)
            needed.add((tracker.end // span) * span)
        for base in self._blocks:
            if base not in needed:
                del self._blocks[base]
                return
        del self._blocks[next(iter(self._blocks))]


def _index(offset: float, res: float) -> int:
    """Index of the first bucket starting at or after ``offset`` seconds into a block."""
    return math.ceil(offset / res - 1e-9)
