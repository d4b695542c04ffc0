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

It must not write to the store, read a clock or the config files.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from slo_exporter.exclusions import intersect, merge
from slo_exporter.model import SLO, CompositeSLI
from slo_exporter.slomath import Counts
from slo_exporter.timeslices import meets

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

    @property
    def resolution(self) -> float:
        return self._store.resolution

    @property
    def store_id(self) -> str | None:
        """The wrapped store's identity, when it has one (caches key on it)."""
        found = getattr(self._store, "store_id", None)
        return None if found is None else str(found)

    def _composite(self, slo_key: str) -> tuple[SLO, CompositeSLI] | None:
        slo = self._slos.get(slo_key)
        if slo is None or not isinstance(slo.sli, CompositeSLI):
            return None
        return slo, slo.sli

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """``(start, good, total)`` of each bucket with start in ``[start, end)``, oldest first."""
        found = self._composite(slo_key)
        if found is None:
            return self._store.buckets(slo_key, start, end)
        _, sli = found
        res = self.resolution
        parts: list[_Part] = []
        for component in sli.components:
            part_slo = self._slos.get(component.slo.key)
            rows = self.buckets(component.slo.key, start, end)
            parts.append(
                _Part(
                    weight=component.weight,
                    buckets={b[0]: (b[1], b[2]) for b in rows},
                    spans=merge(self.measured_spans(component.slo.key, start, end)),
                    threshold=_threshold(part_slo),
                    empty=_empty_policy(part_slo),
                )
            )
        if not parts:
            return []
        starts = sorted({s for part in parts for s in part.buckets})
        out: list[Bucket] = []
        for b in starts:
            if not all(part.measured(b, res) for part in parts):
                continue
            bucket = _all_good(parts, b) if sli.mode == "all_good" else _weighted(parts, b)
            if bucket is not None:
                out.append((b, *bucket))
        return out

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        """The measured runs within ``[start, end)``: for a composite, where every component was."""
        found = self._composite(slo_key)
        if found is None:
            return self._store.measured_spans(slo_key, start, end)
        _, sli = found
        common: list[Span] | None = None
        for component in sli.components:
            spans = merge(self.measured_spans(component.slo.key, start, end))
            common = spans if common is None else intersect(common, spans)
        return common or []

    def measured(self, slo_key: str, start: float, end: float) -> float:
        """Seconds of ``[start, end)`` that were measured."""
        return sum(e - s for s, e in merge(self.measured_spans(slo_key, start, end)))

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events in the buckets whose start lies in ``[start, end)``."""
        if self._composite(slo_key) is None:
            return self._store.sum(slo_key, start, end)
        return _total(self.buckets(slo_key, start, end))

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        """Events of each window ``[end - w, end)``, keyed by window."""
        if self._composite(slo_key) is None or not windows:
            return self._store.sums(slo_key, end, windows)
        rows = self.buckets(slo_key, end - max(windows), end)
        return {w: _total(r for r in rows if r[0] >= end - w) for w in windows}

    def first_bucket(self, slo_key: str) -> float | None:
        """Start of the oldest bucket; for a composite, the latest of its components' first."""
        found = self._composite(slo_key)
        if found is None:
            return self._store.first_bucket(slo_key)
        firsts = [self.first_bucket(c.slo.key) for c in found[1].components]
        if not firsts or any(f is None for f in firsts):
            return None
        return max(f for f in firsts if f is not None)


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


class _Part:
    """One component's data over the asked span."""

    __slots__ = ("buckets", "empty", "spans", "starts", "threshold", "weight")

    def __init__(
        self,
        *,
        weight: float,
        buckets: dict[float, tuple[float, float]],
        spans: list[Span],
        threshold: Decimal | float,
        empty: str,
    ) -> None:
        self.weight = weight
        self.buckets = buckets
        self.spans = spans
        self.starts = [s for s, _ in spans]
        self.threshold = threshold
        self.empty = empty

    def measured(self, b: float, res: float) -> bool:
        """Whether at least half of bucket ``[b, b + res)`` was measured (as for slices)."""
        covered = 0.0
        i = max(bisect_right(self.starts, b) - 1, 0)
        while i < len(self.spans) and self.spans[i][0] < b + res:
            s, e = self.spans[i]
            covered += max(0.0, min(e, b + res) - max(s, b))
            i += 1
        return covered * 2 >= res

    def events(self, b: float) -> tuple[float, float] | None:
        good, total = self.buckets.get(b, (0.0, 0.0))
        if not (total > 0 and math.isfinite(total) and math.isfinite(good)):
            return None
        return good, total


def _all_good(parts: Iterable[_Part], b: float) -> tuple[float, float] | None:
    any_good = False
    for part in parts:
        events = part.events(b)
        if events is None:
            verdict = {"good": True, "bad": False}.get(part.empty)
        else:
            verdict = meets(*events, part.threshold)
        if verdict is False:
            return (0.0, 1.0)
        any_good = any_good or verdict is True
    return (1.0, 1.0) if any_good else None


def _weighted(parts: Iterable[_Part], b: float) -> tuple[float, float] | None:
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


def _total(rows: Iterable[Bucket]) -> Counts:
    good = total = 0.0
    for _, g, t in rows:
        good += g
        total += t
    return Counts(good, total)
