"""Composite SLOs: a business service's events derived from its component SLOs' stored data.

Owns :class:`CompositeReader`, which answers the store's read questions
(``resolution``, ``buckets``, ``sum``, ``sums``, ``measured_spans``,
``measured``, ``first_bucket``) for a composite SLO's key from its
components' buckets and coverage, and passes every other key to the store;
and :func:`composite_order`, the order that evaluates every composite after
its components.

Rules, per bucket of the storage grid:

* A composite is **measured** only where every component is: its measured
  spans are the intersection of the components' spans, and a bucket where
  any component was measured for less than half of it yields nothing
  (missing data is never good; it lowers coverage).
* ``all_good``: a component's bucket is *good* when good/total is at or
  above that component's timeslice target if it budgets by timeslices, else
  at or above its objective (exactly, as timeslices compare). The composite
  bucket is ``(0, 1)`` (bad) when any component's is bad, ``(1, 1)`` when
  at least one is good and none bad, and nothing when no component had
  events there. A measured component without events is neutral, unless its
  timeslice ``empty_slices`` policy says ``good`` or ``bad``.
* ``weighted``: ``good = Σ w·SLI_i`` and ``total = Σ w`` over the components
  that had events in the bucket; a component without events adds to
  neither (it is never counted as good).

Sums over a window are sums of these buckets, so the composite's counts add
up like any SLO's (excluded buckets subtract, budgets scale). For
``weighted`` this makes the window's ratio the average of the per-bucket
weighted SLI, each bucket weighing Σw: every minute of the journey counts
alike, however many requests a component served in it.

Cost: a composite's buckets are computed one UTC day (chunk) at a time and
kept in a bounded cache keyed by everything they derive from (each part's
sums and measured spans over the chunk, the parts' thresholds and weights),
so a cycle recomputes only the day in progress; a month of one-minute
buckets is read from the cache, not recomputed from its parts.

It must not write to the store, read a clock or the config files.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

from slo_exporter.exclusions import intersect
from slo_exporter.lru import BoundedCache
from slo_exporter.model import SLO, CompositeMode, CompositeSLI
from slo_exporter.slomath import Counts
from slo_exporter.timeslices import merge_spans

if TYPE_CHECKING:
    from slo_exporter.store.protocol import Bucket, EventStore, Span


class CompositeReader:
    """Read-only view of ``store`` in which composite SLO keys have derived events.

    ``slos`` are the configured SLOs; composites among them are answered
    from their components (composites of composites too). Every key of an
    SLO that is not a composite, and every key not configured, is the
    store's. Raises ValueError when composites form a cycle.
    """

    def __init__(self, store: EventStore, slos: Sequence[SLO]) -> None:
        self._store = store
        composite_order(slos)  # refuse a cycle now, not at the first read
        self._slos = {slo.key: slo for slo in slos}
        # every status asks several times: most keys are no composite's, told by a set
        self._composed = frozenset(s.key for s in slos if isinstance(s.sli, CompositeSLI))
        # the store's first bucket as its window memory keeps it, when it has one
        self._first_kept = getattr(store, "first_kept", None)

    @property
    def resolution(self) -> float:
        return self._store.resolution

    @property
    def store_id(self) -> str | None:
        """The wrapped store's identity, when it has one (caches key on it)."""
        found = getattr(self._store, "store_id", None)
        return None if found is None else str(found)

    def _composite(self, slo_key: str) -> tuple[SLO, CompositeSLI] | None:
        if slo_key not in self._composed:
            return None
        slo = self._slos[slo_key]
        assert isinstance(slo.sli, CompositeSLI)
        return slo, slo.sli

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """``(start, good, total)`` of each bucket with start in ``[start, end)``, oldest first."""
        found = self._composite(slo_key)
        if found is None:
            return self._store.buckets(slo_key, start, end)
        out: list[Bucket] = []
        for chunk, lo, hi in self._chunks(found, start, end):
            out.extend(chunk.rows(lo, hi))
        return out

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        """The measured runs within ``[start, end)``: for a composite, where every component was."""
        found = self._composite(slo_key)
        if found is None:
            return self._store.measured_spans(slo_key, start, end)
        _, sli = found
        common: list[Span] | None = None
        for component in sli.components:
            spans = merge_spans(self.measured_spans(component.slo.key, start, end))
            common = spans if common is None else intersect(common, spans)
        return common or []

    def measured(self, slo_key: str, start: float, end: float) -> float:
        """Seconds of ``[start, end)`` that were measured."""
        return sum(e - s for s, e in merge_spans(self.measured_spans(slo_key, start, end)))

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events in the buckets whose start lies in ``[start, end)``."""
        found = self._composite(slo_key)
        if found is None:
            return self._store.sum(slo_key, start, end)
        good = total = 0.0
        for chunk, lo, hi in self._chunks(found, start, end):
            g, t = chunk.sum(lo, hi)
            good += g
            total += t
        return Counts(good, total)

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        """Events of each window ``[end - w, end)``, keyed by window."""
        if slo_key not in self._composed:
            return self._store.sums(slo_key, end, windows)
        return {w: self.sum(slo_key, end - w, end) for w in windows}

    def first_bucket(self, slo_key: str) -> float | None:
        """Start of the oldest bucket; for a composite, the latest of its components' first."""
        found = self._composite(slo_key)
        if found is None:
            kept = self._first_kept
            return kept(slo_key) if kept is not None else self._store.first_bucket(slo_key)
        firsts = [self.first_bucket(c.slo.key) for c in found[1].components]
        if not firsts or any(f is None for f in firsts):
            return None
        return max(f for f in firsts if f is not None)

    # ------------------------------------------------------------ chunks

    def _chunks(
        self, found: tuple[SLO, CompositeSLI], start: float, end: float
    ) -> list[tuple[_Chunk, float, float]]:
        """The chunks covering ``[start, end)``, each with the part of the span inside it."""
        res = self.resolution
        size = math.ceil(_CHUNK / res) * res
        out: list[tuple[_Chunk, float, float]] = []
        first = math.floor(start / size) * size
        for k in range(max(math.ceil((end - first) / size), 0)):
            c = first + k * size
            out.append((self._chunk(found, c, c + size), max(start, c), min(end, c + size)))
        return out

    def _chunk(self, found: tuple[SLO, CompositeSLI], start: float, end: float) -> _Chunk:
        slo, sli = found
        inputs = tuple(
            _Input(
                key=c.slo.key,
                weight=c.weight,
                threshold=_threshold(self._slos.get(c.slo.key)),
                empty=_empty_policy(self._slos.get(c.slo.key)),
                counts=_pair(self.sum(c.slo.key, start, end)),
                spans=tuple(merge_spans(self.measured_spans(c.slo.key, start, end))),
            )
            for c in sli.components
        )
        # One entry per composite and day, replaced when its inputs change:
        # the day in progress changes every cycle and must not pile up.
        where = (self.store_id or id(self._store), slo.key, start, end)
        kept = _CHUNKS.get(where)
        if kept is not None and kept[0] == (sli.mode, inputs):
            return kept[1]
        chunk = self._compute(sli.mode, start, end, inputs)
        _CHUNKS.put(where, ((sli.mode, inputs), chunk))
        return chunk

    def _compute(
        self, mode: CompositeMode, start: float, end: float, inputs: Sequence[_Input]
    ) -> _Chunk:
        res = self.resolution
        parts = [
            _Part(
                weight=given.weight,
                buckets={b[0]: (b[1], b[2]) for b in self.buckets(given.key, start, end)},
                measured=_measured_buckets(given.spans, res, start, end),
                threshold=given.threshold,
                empty=given.empty,
            )
            for given in inputs
        ]
        chunk = _Chunk()
        if not parts:
            return chunk
        judge = _all_good if mode == "all_good" else _weighted
        for b in sorted(set.intersection(*(p.measured for p in parts))):
            bucket = judge(parts, b)
            if bucket is not None:
                chunk.append(b, *bucket)
        return chunk


class _Input(NamedTuple):
    """What one part contributes to a chunk, and what the chunk's cache entry is keyed by."""

    key: str
    weight: float
    threshold: Decimal | float
    empty: str
    counts: tuple[float, float]  # the part's sums over the chunk: they change when it does
    spans: tuple[Span, ...]


def composite_order(slos: Sequence[SLO]) -> tuple[SLO, ...]:
    """``slos`` with every composite after the components it names, otherwise in config order.

    Components that are not among ``slos`` are ignored here (the config
    reports them). Raises ValueError naming the SLOs of a cycle.
    """
    by_key = {slo.key: slo for slo in slos}
    done: set[str] = set()
    order: list[SLO] = []

    def visit(slo: SLO, path: tuple[str, ...]) -> None:
        if slo.key in done:
            return
        if slo.key in path:
            cycle = (*path[path.index(slo.key) :], slo.key)
            raise ValueError(f"composite SLOs form a cycle: {' -> '.join(cycle)}")
        if isinstance(slo.sli, CompositeSLI):
            for component in slo.sli.components:
                part = by_key.get(component.slo.key)
                if part is not None:
                    visit(part, (*path, slo.key))
        done.add(slo.key)
        order.append(slo)

    for slo in slos:
        visit(slo, ())
    return tuple(order)


#: Chunks are UTC days (rounded up to whole buckets): small enough that the
#: day in progress is cheap to recompute, large enough to keep few entries.
_CHUNK = 86_400.0


class _Chunk:
    """One chunk of a composite's buckets, in typed arrays (24 bytes a bucket)."""

    __slots__ = ("goods", "starts", "totals")

    def __init__(self) -> None:
        self.starts = array("d")
        self.goods = array("d")
        self.totals = array("d")

    def append(self, start: float, good: float, total: float) -> None:
        self.starts.append(start)
        self.goods.append(good)
        self.totals.append(total)

    def _range(self, lo: float, hi: float) -> tuple[int, int]:
        return bisect_left(self.starts, lo), bisect_left(self.starts, hi)

    def rows(self, lo: float, hi: float) -> list[Bucket]:
        i, j = self._range(lo, hi)
        return list(zip(self.starts[i:j], self.goods[i:j], self.totals[i:j], strict=True))

    def sum(self, lo: float, hi: float) -> tuple[float, float]:
        i, j = self._range(lo, hi)
        return math.fsum(self.goods[i:j]), math.fsum(self.totals[i:j])


_Entry = tuple[Hashable, _Chunk]


#: Composite days kept: 3000 is a quarter for 30 composites or a month for
#: 90; with one-minute buckets a day is about 35 kB, so at most about 100 MB.
#: Days every cycle reads stay; the least recently read go first.
_CHUNKS: BoundedCache[_Entry] = BoundedCache(3000)


class _Part:
    """One component's data over a chunk."""

    __slots__ = ("buckets", "empty", "goal", "measured", "weight")

    def __init__(
        self,
        *,
        weight: float,
        buckets: dict[float, tuple[float, float]],
        measured: set[float],
        threshold: Decimal | float,
        empty: str,
    ) -> None:
        self.weight = weight
        self.buckets = buckets
        self.measured = measured
        goal = Fraction(threshold) if isinstance(threshold, Decimal) else Fraction(repr(threshold))
        self.goal = (goal.numerator, goal.denominator)
        self.empty = empty

    def events(self, b: float) -> tuple[float, float] | None:
        good, total = self.buckets.get(b, (0.0, 0.0))
        if not (total > 0 and math.isfinite(total) and math.isfinite(good)):
            return None
        return good, total

    def good(self, good: float, total: float) -> bool:
        """good / total >= the part's threshold, exactly (as timeslices compare)."""
        p, q = self.goal
        if good.is_integer() and total.is_integer():
            return int(good) * q >= int(total) * p
        return Fraction(good) * q >= Fraction(total) * p


def _measured_buckets(spans: Sequence[Span], res: float, start: float, end: float) -> set[float]:
    """Bucket starts in ``[start, end)`` at least half covered by ``spans`` (as for slices)."""
    covered: dict[float, float] = {}
    for s, e in spans:
        b = math.floor(max(s, start) / res) * res
        while b < min(e, end):
            covered[b] = covered.get(b, 0.0) + min(e, b + res) - max(s, b)
            b += res
    return {b for b, seconds in covered.items() if seconds * 2 >= res}


def _all_good(parts: Sequence[_Part], b: float) -> tuple[float, float] | None:
    any_good = False
    for part in parts:
        events = part.events(b)
        if events is None:
            verdict = {"good": True, "bad": False}.get(part.empty)
        else:
            verdict = part.good(*events)
        if verdict is False:
            return (0.0, 1.0)
        any_good = any_good or verdict is True
    return (1.0, 1.0) if any_good else None


def _weighted(parts: Sequence[_Part], b: float) -> tuple[float, float] | None:
    good = total = 0.0
    for part in parts:
        events = part.events(b)
        if events is None:
            continue
        g, t = events
        good += part.weight * min(max(g / t, 0.0), 1.0)
        total += part.weight
    return (good, total) if total > 0 else None


def _threshold(slo: SLO | None) -> Decimal | float:
    if slo is None:
        return 1.0  # an unknown component: the config reports it; never call it good lightly
    if slo.budgeting.timeslices is not None:
        return slo.budgeting.timeslices.target
    return slo.objective


def _empty_policy(slo: SLO | None) -> str:
    if slo is None or slo.budgeting.timeslices is None:
        return "skip"
    return slo.budgeting.timeslices.empty


def _pair(counts: Counts) -> tuple[float, float]:
    return counts.good, counts.total
