"""What every event store does the same way, whatever its database: no SQL here.

``SQLiteStore`` and ``PostgresStore`` keep their own statements, locking
and connections; this module holds the rules they must agree on, so that
the two cannot drift apart:

* ``commit_rows``: the checks of ``commit``'s arguments, and its deltas
  summed into ``(start, good, total)`` bucket rows;
* ``extend_run`` / ``absorb_runs``: how a measured span merges into an SLO's
  measured runs (the newest run on the SLO's row, older ones closed);
* ``StoreBase``: the memory in front of the database (running window sums
  and edge blocks per SLO, ``windows.SLOMemory``; the newest measured run,
  and a writer's measured runs of each SLO once read),
  how a commit or prune updates it, the window sums built on it over two
  database reads each store implements (``_read_sum``, ``_read_buckets``),
  and the protocol methods built from other protocol methods (``record``,
  ``measured``, ``buckets``, the context manager).

Must not do I/O, hold a connection or read a clock.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import NamedTuple, Self

from slo_exporter.slomath import Counts, bucket_start
from slo_exporter.store.protocol import Bucket, EventStore, Span
from slo_exporter.store.windows import ReadBuckets, ReadSum, SLOMemory

MERGE_GAP = 1.0
"""Measured spans closer than this (seconds) are stored as one run.

Probes start on a fixed phase but a busy machine starts them a few
milliseconds late; without this slack every probe would be its own row.
"""


def check_finite(what: str, *numbers: float) -> None:
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError(f"{what}: numbers must be finite, got {numbers!r}")


def commit_rows(
    deltas: Mapping[float, tuple[float, float]],
    resolution: float,
    *,
    cursor: float | None,
    series: Mapping[str, tuple[float, float]] | None,
    measured: Span | None,
) -> list[Bucket]:
    """The bucket rows ``commit`` adds, sorted by start, after checking every argument.

    Raises ``ValueError`` for a non-finite number or a backwards span, so
    nothing is written. Zero deltas are left out.
    """
    rows = (_one_row(deltas, resolution) if len(deltas) == 1
            else _bucket_rows(deltas, resolution) if deltas else [])  # [] often: nothing new
    if rows is None:  # one delta at a time: says which number is bad
        merged: dict[float, list[float]] = {}
        for ts, (good, total) in deltas.items():
            check_finite(f"delta at {ts!r}", ts, good, total)
            if good == 0.0 and total == 0.0:
                continue
            acc = merged.setdefault(bucket_start(ts, resolution), [0.0, 0.0])
            acc[0] += good
            acc[1] += total
        rows = sorted((start, g, t) for start, (g, t) in merged.items())
    if series and not all(map(math.isfinite, itertools.chain.from_iterable(series.values()))):
        for key, (ts, value) in series.items():  # says which one
            check_finite(f"series {key!r}", ts, value)
    isfinite = math.isfinite
    if cursor is not None and not isfinite(cursor):
        check_finite("cursor", cursor)
    if measured is not None:
        if not (isfinite(measured[0]) and isfinite(measured[1])):
            check_finite("measured span", *measured)
        if measured[1] < measured[0]:
            raise ValueError(f"measured span ends before it starts: {measured!r}")
    return rows


def _one_row(deltas: Mapping[float, tuple[float, float]],
             resolution: float) -> list[Bucket] | None:
    """``_bucket_rows`` of one delta (a steady commit's), without building lists."""
    ((ts, (good, total)),) = deltas.items()
    # a NaN or infinity makes the sum so (an overflow only takes the slow way)
    if not math.isfinite(ts + good + total) or math.floor(ts / resolution) * resolution != ts:
        return None
    return [(ts, good, total)] if good != 0.0 or total != 0.0 else []


def _bucket_rows(deltas: Mapping[float, tuple[float, float]],
                 resolution: float) -> list[Bucket] | None:
    """The rows of ``deltas`` whose instants are all bucket starts and whose numbers
    are all finite (a backfill's, a whole list at a time), else None."""
    counts = list(itertools.chain.from_iterable(deltas.values()))
    # a NaN or infinity makes the sum so (an overflow only takes the slow way)
    if not math.isfinite(sum(deltas) + sum(counts)):
        return None
    floor = math.floor
    if any(floor(ts / resolution) * resolution != ts for ts in deltas):
        return None
    return sorted((ts, g, t) for ts, (g, t) in deltas.items() if g != 0.0 or t != 0.0)


# ------------------------------------------------------------- measured runs

RUNS_KEPT = 64
"""Measured runs a writer keeps in memory per SLO; one with more is read each time."""


class RunMerge(NamedTuple):
    """What merging a span into an SLO's measured runs changes.

    ``newest`` goes on the SLO's row; ``absorbed`` are the starts of closed
    runs to delete (before ``closed`` is inserted: it may reuse a start);
    ``closed`` is a run to insert among the closed ones, if any. A named tuple:
    every commit with a measured span makes one.
    """

    newest: Span
    absorbed: tuple[float, ...] = ()
    closed: Span | None = None


def extend_run(last: Span, start: float, until: float) -> RunMerge | None:
    """Merge ``[start, until)`` with the SLO's newest run ``last``.

    None when the span lies before the newest run: then the closed runs it
    touches decide (``absorb_runs``). Runs stay disjoint and more than
    ``MERGE_GAP`` apart.
    """
    if start > last[1] + MERGE_GAP:  # a new run: the newest one is closed
        return RunMerge(newest=(start, until), closed=last)
    if start >= last[0]:
        return RunMerge(newest=(last[0], max(until, last[1])))
    return None


def absorb_runs(last: Span, start: float, until: float, older: Iterable[Span]) -> RunMerge:
    """Merge ``[start, until)``, older than the newest run ``last``, with the closed runs.

    ``older`` are the closed runs starting by ``until + MERGE_GAP``, the
    latest first; they are read only until one ends too early to touch.
    """
    lo, hi = start, until
    absorbed: list[float] = []
    for run_start, run_until in older:
        if run_until < start - MERGE_GAP:
            break
        lo, hi = min(lo, run_start), max(hi, run_until)
        absorbed.append(run_start)
    if hi >= last[0] - MERGE_GAP:
        return RunMerge(newest=(lo, max(hi, last[1])), absorbed=tuple(absorbed))
    return RunMerge(newest=last, absorbed=tuple(absorbed), closed=(lo, hi))


# ------------------------------------------------------------ shared methods


class StoreBase:
    """What both stores keep in memory in front of their database, and the
    ``EventStore`` methods they build the same way from their own.

    The memory: the bucket resolution, an ``SLOMemory`` per SLO (created when
    its windows are first summed: running window sums and a few edge blocks,
    a few kilobytes whatever the window length) and the newest measured run
    of each SLO once read, so extending it (every probe, every cycle) needs
    no read and no extra statement. Both change only after a transaction
    committed, under ``_lock`` (re-entrant: the database reads a window sum
    makes take it again).

    A store implements two reads of the database alone, called under
    ``_lock``: ``_read_sum`` and ``_read_buckets``; ``_sync`` lets a read-only
    store drop memory the writer has made stale before a read.
    """

    def __init__(self, resolution: float, *, readonly: bool) -> None:
        if not (math.isfinite(resolution) and resolution > 0.0):
            raise ValueError(f"resolution must be a positive number of seconds, got {resolution!r}")
        self._resolution = float(resolution)
        self._readonly = readonly
        self._store_id = ""
        self._lock = threading.RLock()
        self._memory: dict[str, SLOMemory] = {}
        self._last_run: dict[str, Span] = {}
        # every measured run of an SLO, oldest first, the newest last (``_kept_spans``)
        self._runs: dict[str, tuple[Span, ...]] = {}
        # The writer's memory of what only it writes: each SLO's cursor and series
        # state as committed, filled by the first read and kept by its commits
        # (``_kept_state``), so a steady read asks the database for neither. A
        # read-only store or standby keeps none (another process writes them).
        self._cursors: dict[str, float | None] = {}
        self._states: dict[str, dict[str, tuple[float, float]]] = {}

    @property
    def resolution(self) -> float:
        return self._resolution

    @property
    def readonly(self) -> bool:
        """True while this store may not write (opened read-only, or a standby)."""
        return self._readonly

    @property
    def store_id(self) -> str:
        """The store's identity, kept in its meta table."""
        return self._store_id

    # ----------------------------------------------------- database reads

    def _read_sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events of the stored buckets whose start lies in ``[start, end)``, from the database."""
        raise NotImplementedError

    def _read_buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """Each stored bucket with start in ``[start, end)``, oldest first, from the database."""
        raise NotImplementedError

    def _sync(self) -> None:
        """Before a read: forget memory the writer made stale (read-only stores)."""

    # ---------------------------------------------------------- window sums

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events in the buckets whose start lies in ``[start, end)``."""
        if end <= start:
            return Counts()
        self._sync()
        with self._lock:
            memory = self._memory.get(slo_key)
            if memory is None:
                return self._read_sum(slo_key, start, end)
            return memory.range(start, end, *self._reads(slo_key, memory))

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        """Events of each window ``[end - w, end)``, keyed by window, kept running."""
        self._sync()
        with self._lock:
            memory = self._memory.get(slo_key)
            if memory is None:
                memory = self._memory[slo_key] = SLOMemory(slo_key, self._resolution)
            return memory.windows(end, windows, *self._reads(slo_key, memory))

    def first_kept(self, slo_key: str) -> float | None:
        """``first_bucket``, kept in the SLO's window memory once read: only an SLO whose
        windows this store keeps running (so every commit and prune of it passes
        here) has it; any other is read from the database each time."""
        self._sync()
        with self._lock:
            memory = self._memory.get(slo_key)
            if memory is None:
                return self.first_bucket(slo_key)  # type: ignore[attr-defined, no-any-return]
            if not memory.first_known:
                memory.first = self.first_bucket(slo_key)  # type: ignore[attr-defined]
                memory.first_known = True
            return memory.first

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """``(start, good, total)`` of each stored bucket with start in ``[start, end)``."""
        return self._read_buckets(slo_key, start, end)

    # -------------------------------------------------------- measured runs

    def _kept_spans(self, slo_key: str, start: float, end: float) -> list[Span] | None:
        """``measured_spans`` from the SLO's runs kept in memory, or None when they are not
        kept: a writer keeps them once read while it knows the SLO's newest run (every
        commit with a measured span tells it), and moves them with its own commits
        (``_committed``); a read-only store always asks its database."""
        if self._readonly:
            return None
        with self._lock:
            runs = self._runs.get(slo_key)
            if runs is None or self._last_run.get(slo_key) != runs[-1]:
                return None
        return [(max(s, start), min(u, end)) for s, u in runs if s < end and u > start]

    def _keep_runs(self, slo_key: str, runs: Sequence[Span]) -> None:
        """Keep ``runs`` (every measured run of the SLO as just read, oldest first) when
        the newest is the one this writer knows and there are few (``RUNS_KEPT``).
        Called under ``_lock``, in the read."""
        if (not self._readonly and runs and len(runs) <= RUNS_KEPT
                and self._last_run.get(slo_key) == runs[-1]):
            self._runs[slo_key] = tuple(runs)

    def _moved_runs(self, slo_key: str, last: Span | None, newest: Span) -> None:
        """After a commit moved the SLO's newest run from ``last`` to ``newest``: the kept
        runs follow when the closed ones cannot have changed (a run extended at its end,
        or a new run after the last, which closes it), else they are read again."""
        runs = self._runs.pop(slo_key, None)
        if runs is None or last is None or runs[-1] != last:
            return
        if newest[0] == last[0] and newest[1] > last[1]:
            self._runs[slo_key] = (*runs[:-1], newest)
        elif newest[0] > last[1]:
            self._runs[slo_key] = (*runs, newest)

    def _reads(self, slo_key: str, memory: SLOMemory) -> tuple[ReadSum, ReadBuckets]:
        """The two database reads of one SLO, made once and kept on its memory (every
        status asks)."""
        reads = memory.reads
        if reads is None:
            reads = memory.reads = (lambda a, b: self._read_sum(slo_key, a, b),
                                    lambda a, b: self._read_buckets(slo_key, a, b))
        return reads

    # --------------------------------------------------------- memory upkeep

    def _forget(self, slo_key: str) -> None:
        """After an SLO's events were dropped: read it again when asked."""
        self._memory.pop(slo_key, None)
        self._last_run.pop(slo_key, None)
        self._runs.pop(slo_key, None)

    def _forget_all(self) -> None:
        """Every SLO is read again when asked (another writer changed the database)."""
        self._memory.clear()
        self._last_run.clear()
        self._runs.clear()

    def _kept_state(self, slo_key: str, cursor: float | None,
                    series: Mapping[str, tuple[float, float]] | None) -> None:
        """After COMMIT: the remembered cursor and series state take what was written
        (an SLO not remembered yet is read on its first use)."""
        if cursor is not None and slo_key in self._cursors:
            self._cursors[slo_key] = cursor
        state = self._states.get(slo_key)
        if state is not None and series:
            state.update(series)

    def _forget_state(self, slo_key: str) -> None:
        """The SLO's cursor and series state are read from the database again."""
        self._cursors.pop(slo_key, None)
        self._states.pop(slo_key, None)

    def _committed(self, slo_key: str, rows: Sequence[Bucket], newest: Span | None) -> None:
        """After COMMIT (memory never runs ahead of the database): the window sums
        and edge blocks holding these buckets take their events."""
        if newest is not None:
            self._moved_runs(slo_key, self._last_run.get(slo_key), newest)
            self._last_run[slo_key] = newest
        if rows:  # a steady commit often has none (the fast path counted them)
            memory = self._memory.get(slo_key)
            if memory is not None:
                memory.add(rows)

    def _pruned(self, gone: Iterable[str], last_start: float) -> None:
        """After a prune committed: what it deleted leaves memory too."""
        self._last_run.clear()  # trimmed at the horizon
        self._runs.clear()
        for key in gone:
            self._memory.pop(key, None)
        for memory in self._memory.values():
            memory.drop_through(last_start)

    def record(
        self: EventStore, slo_key: str, ts: float, good: bool, *, span: float | None = None
    ) -> None:
        """One event (a probe result) at ``ts``; with ``span`` (the probe
        interval), ``[ts, ts + span)`` counts as measured."""
        measured = None if span is None else (ts, ts + span)
        self.commit(slo_key, {ts: (1.0 if good else 0.0, 1.0)}, measured=measured)

    def measured(self: EventStore, slo_key: str, start: float, end: float) -> float:
        """Seconds of ``[start, end)`` that were measured."""
        return sum(u - s for s, u in self.measured_spans(slo_key, start, end))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self: EventStore,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
