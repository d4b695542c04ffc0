"""Composite SLOs' derived buckets, kept in hour-long chunks across cycles.

A composite's buckets are derived bucket by bucket from its components'
(``composite.CompositeReader``), which costs far more than an indexed sum
of stored buckets. Every status of a composite sums its windows, its
period, its figures and, when its grid moves, up to 47 history points, and
a composite built on probes is refreshed every second. ``ChunkedReader``
derives each closed hour once and keeps it; only the hour still open is
derived again, once per status.

An hour is *closed* once it ends before the status's settle horizon (events
can no longer land in it). A component whose source was down may later
backfill closed hours, so the engine calls ``forget`` for a composite whose
components were not all up. Chunks older than the composite's retention
(``keep``) are dropped.

Must not write to the store, read a clock, or apply maintenance (callers
subtract excluded buckets from what it returns, as from any reader).
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from slo_exporter.composite import CompositeReader
from slo_exporter.slomath import Counts
from slo_exporter.store.protocol import Bucket, Span

#: width of one kept chunk of derived buckets
CHUNK = 3600.0


@dataclass(frozen=True)
class _Chunk:
    """The derived buckets of one chunk, with prefix sums for partial sums."""

    rows: tuple[Bucket, ...]
    starts: tuple[float, ...]
    cum_good: tuple[float, ...]
    cum_total: tuple[float, ...]

    @classmethod
    def of(cls, rows: Sequence[Bucket]) -> _Chunk:
        return cls(
            rows=tuple(rows),
            starts=tuple(r[0] for r in rows),
            cum_good=(0.0, *accumulate(r[1] for r in rows)),
            cum_total=(0.0, *accumulate(r[2] for r in rows)),
        )

    def sum(self, start: float, end: float) -> Counts:
        i = bisect_left(self.starts, start)
        j = bisect_left(self.starts, end)
        if j <= i:
            return Counts()
        return Counts(self.cum_good[j] - self.cum_good[i], self.cum_total[j] - self.cum_total[i])

    def buckets(self, start: float, end: float) -> list[Bucket]:
        return list(self.rows[bisect_left(self.starts, start):bisect_left(self.starts, end)])


class ChunkedReader:
    """``reader`` with the derived buckets of the composite keys in ``keep`` kept by the hour.

    ``keep`` maps each composite key to how far back its chunks are kept.
    Every other key, and ``measured_spans`` and ``first_bucket`` of every
    key, go to ``reader`` unchanged. Thread-safe: a full cycle and a probe
    refresh may read the same composite.
    """

    def __init__(self, reader: CompositeReader, keep: Mapping[str, float],
                 chunk: float = CHUNK) -> None:
        if not (chunk > 0 and chunk % reader.resolution == 0):
            raise ValueError(f"a chunk must be a whole number of buckets, got {chunk!r}")
        self._reader = reader
        self._keep = dict(keep)
        self._chunk = chunk
        self._closed: dict[str, dict[float, _Chunk]] = {key: {} for key in keep}
        # per key: open chunks derived since the last `settle`, by start
        self._open: dict[str, dict[float, _Chunk]] = {key: {} for key in keep}
        self._horizon: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def resolution(self) -> float:
        return self._reader.resolution

    def settle(self, key: str, horizon: float) -> None:
        """Start a status of ``key``: chunks ending by ``horizon`` are closed from now
        on, open ones are derived again, and chunks older than its retention before
        ``horizon`` are dropped."""
        if key not in self._closed:
            return
        with self._lock:
            self._horizon[key] = horizon
            self._open[key] = {}
            oldest = horizon - self._keep[key] - self._chunk
            chunks = self._closed[key]
            for start in [s for s in chunks if s < oldest]:
                del chunks[start]

    def forget(self, key: str) -> None:
        """Drop every kept chunk of ``key``: its components' past may have changed."""
        with self._lock:
            if key in self._closed:
                self._closed[key] = {}
                self._open[key] = {}

    # ------------------------------------------------------------ reads

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        if slo_key not in self._closed:
            return self._reader.sum(slo_key, start, end)
        total = Counts()
        for chunk_start, chunk in self._chunks(slo_key, start, end):
            total = total + chunk.sum(max(start, chunk_start), min(end, chunk_start + self._chunk))
        return total

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        if slo_key not in self._closed:
            return self._reader.sums(slo_key, end, windows)
        return {w: self.sum(slo_key, end - w, end) for w in windows}

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        if slo_key not in self._closed:
            return self._reader.buckets(slo_key, start, end)
        out: list[Bucket] = []
        for chunk_start, chunk in self._chunks(slo_key, start, end):
            out.extend(chunk.buckets(max(start, chunk_start), min(end, chunk_start + self._chunk)))
        return out

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        return self._reader.measured_spans(slo_key, start, end)

    def measured(self, slo_key: str, start: float, end: float) -> float:
        return self._reader.measured(slo_key, start, end)

    def first_bucket(self, slo_key: str) -> float | None:
        return self._reader.first_bucket(slo_key)

    # ------------------------------------------------------------ chunks

    def _chunks(self, key: str, start: float, end: float) -> list[tuple[float, _Chunk]]:
        """Every chunk overlapping ``[start, end)``, derived where not kept."""
        if not end > start:
            return []
        first = math.floor(start / self._chunk) * self._chunk
        count = math.ceil((end - first) / self._chunk)
        return [(s, self._get(key, s)) for s in (first + i * self._chunk for i in range(count))]

    def _get(self, key: str, start: float) -> _Chunk:
        end = start + self._chunk
        with self._lock:
            horizon = self._horizon.get(key, -math.inf)
            kept = self._closed[key].get(start) or self._open[key].get(start)
            if kept is not None:
                return kept
        # Derived outside the lock: it reads the store, and two threads
        # deriving the same chunk get the same rows.
        chunk = _Chunk.of(self._reader.buckets(key, start, end))
        with self._lock:
            (self._closed if end <= horizon else self._open)[key][start] = chunk
        return chunk
