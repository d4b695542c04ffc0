"""What an event store is: the contract the engine, the status page and reports use.

An event store keeps, per SLO key (``service/slo``):

* good and total events in fixed buckets of ``resolution`` seconds, summed
  over any ``[start, end)`` range and listed bucket by bucket;
* coverage: the spans of time that were actually measured (a Prometheus
  read, a probe interval), so a report can tell "no events" from "nobody
  looked";
* the ingestion state of a Prometheus SLO: the cursor (the instant up to
  which the source has been read) and the last raw sample of every counter
  series;
* identity: the fingerprint of what defines the events, and when the SLO left
  the configuration (retired SLOs keep their history until retention).

Every failure to store or read is a ``StoreError``; bad arguments (NaN, Inf)
are a ``ValueError`` raised before anything is written.

This module must not hold an implementation, do I/O or read a clock.
SQLite is one implementation (``slo_exporter.store.sqlite``); another
database is a sibling module that satisfies the same protocol.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from slo_exporter.slomath import Counts

Bucket = tuple[float, float, float]
"""``(start, good, total)`` of one stored bucket."""

Span = tuple[float, float]
"""``[start, end)`` in seconds since the epoch."""

SourceState = tuple[bool, str | None]
"""Whether an SLO's data source answered at an evaluation, and the error when it did not."""


@dataclass(frozen=True)
class Retirement:
    """What ``retire`` changed: SLOs that left the configuration and SLOs that came back."""

    retired: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pruned:
    """What ``prune`` deleted.

    ``buckets`` is the number of buckets older than the horizon; ``slos``
    are SLOs retired before the horizon whose whole history was deleted.
    """

    buckets: int = 0
    slos: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.buckets or self.slos)


@dataclass(frozen=True)
class Commit:
    """One SLO's ``commit``, as an item of ``commit_many``: the same arguments, and
    ``settled``, a hint: the buckets that start before it take no more events (a
    backfill chunk that later chunks follow). A store that keeps recent buckets apart
    from settled ones may file them as settled at once; one that gets events there
    after all must still add them up (the hint saves work, it never decides counts).
    """

    slo_key: str
    deltas: Mapping[float, tuple[float, float]]
    cursor: float | None = None
    series: Mapping[str, tuple[float, float]] | None = None
    measured: Span | None = None
    settled: float = -math.inf


class EventStore(Protocol):
    """Durable per-SLO events, coverage, ingestion state and identity.

    Implementations are thread-safe. A store opened read-only raises
    ``StoreError`` on every write and sees what the writer commits.
    """

    @property
    def resolution(self) -> float:
        """Bucket width in seconds; bucket starts are multiples of it."""
        ...

    @property
    def readonly(self) -> bool: ...

    # ------------------------------------------------------------ writes

    def ensure_fingerprint(self, slo_key: str, fingerprint: str, *, keep_events: bool) -> bool:
        """Record what defines the SLO's events; True when a different one was stored.

        On a change with ``keep_events=False`` (the source can be read again)
        the SLO's events, coverage, cursor and series state are dropped so
        they are recomputed. With ``keep_events=True`` (probe events exist
        nowhere else) only the fingerprint is replaced. The SLO stops being
        retired either way.
        """
        ...

    def retire(self, keep: Iterable[str], at: float) -> Retirement:
        """Mark every stored SLO not in ``keep`` retired at ``at`` (if not already);
        SLOs in ``keep`` that were retired are restored. Nothing is deleted."""
        ...

    def commit(
        self,
        slo_key: str,
        deltas: Mapping[float, tuple[float, float]],
        *,
        cursor: float | None = None,
        series: Mapping[str, tuple[float, float]] | None = None,
        measured: Span | None = None,
    ) -> None:
        """Add events, series state, cursor and a measured span in one transaction.

        ``deltas`` maps an instant to ``(good, total)`` events added to the
        bucket holding it; good may be negative. ``series`` maps a series key
        to its last ``(ts, value)``; a ``cursor`` of None keeps the cursor;
        ``measured`` is the ``[start, end)`` the read covered.
        """
        ...

    def commit_many(self, commits: Sequence[Commit]) -> None:
        """Each of ``commits`` as ``commit`` does it, in order; all of them or none
        durable together where the database allows (a store may also commit
        them one at a time: each is still whole). Raises like ``commit``; the
        arguments of every one are checked before anything is written."""
        ...

    def record(self, slo_key: str, ts: float, good: bool, *, span: float | None = None) -> None:
        """One probe result at ``ts``; with ``span``, ``[ts, ts + span)`` counts as measured."""
        ...

    def prune(self, before: float) -> Pruned:
        """Delete buckets and coverage ending at or before ``before``, series last
        seen before it, and every SLO retired before it."""
        ...

    # ------------------------------------------------------------- reads

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        """Events in the buckets whose start lies in ``[start, end)``."""
        ...

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        """Events of each window ``[end - w, end)``, keyed by window."""
        ...

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        """Each stored bucket with start in ``[start, end)``, oldest first."""
        ...

    def first_bucket(self, slo_key: str) -> float | None:
        """Start of the oldest stored bucket, or None when there is none."""
        ...

    def measured(self, slo_key: str, start: float, end: float) -> float:
        """Seconds of ``[start, end)`` that were measured."""
        ...

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[Span]:
        """The measured runs within ``[start, end)``, clipped to it, oldest first."""
        ...

    def cursor(self, slo_key: str) -> float | None:
        """The instant up to which the SLO's source has been read, if any."""
        ...

    def series(self, slo_key: str) -> dict[str, tuple[float, float]]:
        """Last ``(ts, value)`` of every counter series of the SLO."""
        ...

    def fingerprint(self, slo_key: str) -> str | None: ...

    def retired(self) -> dict[str, float]:
        """Retired SLO keys and when they were retired."""
        ...

    def slo_keys(self) -> tuple[str, ...]:
        """Every SLO the store holds anything for (retired ones too), sorted."""
        ...

    # --------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Release the store; later calls raise ``StoreError``. Idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class SharedStore(Protocol):
    """A store several replicas open, one of which writes (``PostgresStore``).

    A replica that opened it as a standby is ``readonly`` until
    ``try_promote`` gets the writer role.
    """

    def try_promote(self) -> bool:
        """Take the writer role if it is free; True when this replica now writes."""
        ...

    def refresh(self) -> None:
        """Read-only: forget cached reads the writer has changed since."""
        ...

    @property
    def role_lost(self) -> bool:
        """True once this replica wrote, lost its connection, and another took the role."""
        ...

    def publish_sources(self, states: Mapping[str, SourceState], at: float) -> None:
        """The writer: each SLO's source state at its evaluation of instant ``at``."""
        ...

    def source_state(self, slo_key: str) -> SourceState | None:
        """What the writer last published for ``slo_key``; None when nothing yet."""
        ...

    def published_at(self, slo_key: str) -> float | None:
        """The instant the writer owning ``slo_key`` last published states for."""
        ...
