"""In-memory prefix sums of one SLO's buckets, so any window sums in O(log n).

Owns nothing durable: it is a cache of what the database holds, updated only
after a transaction has committed. Must not do I/O.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from slo_exporter.slomath import Counts


class BucketIndex:
    """Sorted bucket starts of one SLO with prefix sums of good and total.

    ``cum_good[i]`` is the sum of the first ``i`` buckets, so any run of
    buckets sums to a difference of two entries. Typed arrays keep a 30-day
    SLO at 60 s buckets near 1 MB (24 bytes a bucket).
    """

    __slots__ = ("cum_good", "cum_total", "starts")

    def __init__(self, rows: Iterable[tuple[float, float, float]] = ()) -> None:
        self.starts = array("d")
        self.cum_good = array("d", [0.0])
        self.cum_total = array("d", [0.0])
        g = t = 0.0
        for start, good, total in rows:  # rows come ordered by start
            g += good
            t += total
            self.starts.append(start)
            self.cum_good.append(g)
            self.cum_total.append(t)

    def __len__(self) -> int:
        return len(self.starts)

    def add(self, deltas: Sequence[tuple[float, float, float]]) -> None:
        """Add ``(start, good, total)`` deltas, ``deltas`` sorted by start."""
        if not deltas:
            return
        # Create the missing buckets first, each with a zero value: its prefix
        # entry repeats the previous one.
        for start, _, _ in deltas:
            i = bisect_left(self.starts, start)
            if i == len(self.starts) or self.starts[i] != start:
                self.starts.insert(i, start)
                self.cum_good.insert(i + 1, self.cum_good[i])
                self.cum_total.insert(i + 1, self.cum_total[i])
        # Then one pass over the prefix entries from the first touched bucket
        # to the end. Updates land near the newest bucket, so this is short.
        first = bisect_left(self.starts, deltas[0][0])
        pending = iter(deltas)
        nxt = next(pending, None)
        add_g = add_t = 0.0
        for i in range(first, len(self.starts)):
            while nxt is not None and nxt[0] == self.starts[i]:
                add_g += nxt[1]
                add_t += nxt[2]
                nxt = next(pending, None)
            self.cum_good[i + 1] += add_g
            self.cum_total[i + 1] += add_t

    def sum(self, start: float, end: float) -> Counts:
        i = bisect_left(self.starts, start)
        j = bisect_left(self.starts, end)
        if j <= i:
            return Counts()
        return Counts(self.cum_good[j] - self.cum_good[i], self.cum_total[j] - self.cum_total[i])

    def first(self) -> float | None:
        return self.starts[0] if self.starts else None

    def drop_through(self, last_start: float) -> None:
        """Forget every bucket starting at or before ``last_start`` (differences stay valid)."""
        count = bisect_left(self.starts, last_start)
        if count < len(self.starts) and self.starts[count] == last_start:
            count += 1
        del self.starts[:count]
        del self.cum_good[:count]
        del self.cum_total[:count]
