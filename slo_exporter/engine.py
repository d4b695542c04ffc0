"""The evaluation cycle: ingest, compute every SLO's status, swap a snapshot.

The engine owns the cycle and nothing else. A full cycle (``evaluate``) has
the ingester read each Prometheus SLO's new events into the store, computes
every SLO's windows, budget and budget history from the store with the pure
SLO math, and swaps in an immutable snapshot. ``refresh_probes`` recomputes
only the probe SLOs whose values may have moved (a new result, a bucket edge:
``_refresh_due``), whose events the probe recorder writes, and the composites
built on them. ``catch_up`` is the fast path of Prometheus SLOs:
it commits only the samples newer than each series' last one and recomputes
the SLOs that got new events (and the composites built on them), so a page
follows new samples within seconds instead of waiting for the next cycle.

Service-level management, per status:

* A calendar SLO's period window is its period to date (``bounds``), keyed
  by ``period.longest`` like a rolling period's; its budget is projected
  from the rate so far and its alert factors scale to ``period.length``.
* Composites are read through ``composite.CompositeReader``, after their
  components in the same cycle (``composite_order``), and never ingested.
  A component another shard evaluates (``Config.followed``) has the status
  its writer published in the shared store; such composites are recomputed
  with the probe SLOs, so they follow the other shard within a second.
* Maintenance: a bucket any applicable window overlaps drops out of every
  window's counts, so an outage in maintenance burns nothing and alerts
  nothing (the rule ``compliance`` and ``timeslices`` apply too).
* ``period`` carries ``compliance.current_figures``; a failure there is
  logged (``period_failed``) and counted, and the window values stand. A
  probe refresh reuses figures younger than one evaluation interval.

A cycle reads first, then writes the steady reads' commits in one
transaction (``ingest.Pending``, ``Ingestor.flush``), then computes the
statuses, which see what was written; an SLO whose commit failed is down
with the store's error. The fast path does the same per second.

Reads are shared: before the reads of a full cycle, and before the fast
path's, the ingester asks Prometheus once per metric that SLOs of several
definitions read (``Ingestor.share``, ``sharing``); each SLO's read then
takes its series from that answer (on the pool, shared queries of
different metrics run at once).

A cold start (or a long gap) is a backfill: before the reads of a cycle the
ingester plans which SLOs read more than one chunk (``Ingestor.plan_backfill``)
and follows them (``ingest.Backfill``); while one runs, ``snapshot`` carries
its progress (``Snapshot.backfill``) for the gauges, ``/-/ready`` and ``/``.

Grouped SLOs (``group_by``): the definition is read once per cycle for all
its groups; each group instance (``grouping.Groups``) gets its own status,
and instances first seen by a read join the snapshot. A read failure marks
every instance down and is logged once, under the definition.

Ordering rules of the swap: a status is only ever replaced by one that
describes the same or a later instant (a full cycle that started before a
probe refresh never puts older probe statuses back), and the engine's clock
never steps back, so ``slo_last_evaluation_timestamp_seconds`` does not.

A failing SLO is recorded, counted and logged when its state changes (then
reminded every ``REMIND_EVERY``); it never stops the others or the daemon.
SLOs run on one thread pool kept for the engine's life, so per-thread
Prometheus sessions and their connections are reused across cycles.

On a read-only store (a standby replica of a shared PostgreSQL store,
another replica writes) the engine follows: it records no definitions,
reads no source and prunes nothing; every status is computed from what the
writer stored, a Prometheus SLO is up or down as the writer last published
it, and a probe SLO's last result is the end of its stored coverage. The
daemon builds a writing engine when the replica takes over.

Must not read Prometheus or write the store itself (``ingest``), record
probe results (``recorder``), or serve anything: readers only take the
``snapshot`` reference and never wait on a cycle.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, TypeVar

import structlog

from slo_exporter import accounting, compliance, exclusions, grid, slomath
from slo_exporter.composite import CompositeReader, composite_order
from slo_exporter.errors import QueryCancelled, SloExporterError, SourceError
from slo_exporter.figures import PeriodFigures
from slo_exporter.frozen import slotted
from slo_exporter.grouping import group_of
from slo_exporter.history import BudgetAt, budget_history
from slo_exporter.ingest import (
    CATCH_UP_LIMIT,
    LATE_LIMIT,
    READ_OVERLAP,
    Ingestor,
    Pending,
    Pruner,
    adopt_definitions,
    load_groups,
)
from slo_exporter.model import (
    SLO,
    CalendarPeriod,
    CompositeSLI,
    Config,
    MaintenanceWindow,
    ProbeSLI,
)
from slo_exporter.slomath import Counts
from slo_exporter.snapshot import BudgetHistory, GroupCount, SLOStatus, Snapshot
from slo_exporter.store import EventStore, SharedStore
from slo_exporter.store.protocol import SourceState, Span

#: a failure that lasts is logged again this often (``query_still_failing``)
REMIND_EVERY = 600.0
#: error text in log lines is cut to this many characters
ERROR_TEXT_LIMIT = 160
#: how far before a status's instant the next reads of a Prometheus SLO that was
#: up can still add events: the oldest cursor the fast path reads from, then the
#: furthest a read reaches before its cursor (``Engine._settled_days``)
SETTLE_MARGIN = CATCH_UP_LIMIT + LATE_LIMIT + READ_OVERLAP


_T = TypeVar("_T")
_I = TypeVar("_I")

#: counts one failure under its reason (``slo_exporter_query_errors_total``)
ErrorCounter = Callable[[str], None]


class _Read(NamedTuple):
    """A read of ``slo`` at ``at`` that succeeded; its status waits for its commits
    (a named tuple: every SLO's read of a cycle makes one)."""

    slo: SLO
    at: float
    grouped: bool = False


class Engine:
    """Evaluates every configured SLO and keeps the latest snapshot.

    ``stop`` (set on SIGTERM) makes a cycle end between chunks and SLOs;
    statuses not computed keep their previous value. ``close()`` ends the
    worker pool.
    """

    def __init__(
        self,
        config: Config,
        store: EventStore,
        client: accounting.Source | None,
        *,
        clock: Callable[[], float] = time.time,
        on_error: ErrorCounter | None = None,
        probe_last_seen: Callable[[str], float | None] | None = None,
        probe_fault: Callable[[str], str | None] | None = None,
        stop: threading.Event | None = None,
        max_workers: int = 8,
        logger: Any = None,
    ) -> None:
        self._config = config
        self._store = store
        self._clock = clock
        self._on_error = on_error or (lambda reason: None)
        self._probe_last_seen = probe_last_seen or (lambda key: None)
        self._probe_fault = probe_fault or (lambda key: None)
        self._stop = stop or threading.Event()
        self._log = logger or structlog.get_logger("slo_exporter.engine")
        # a store error fails the build here
        groups = load_groups(store, config.slos, self._log)
        self._lock = threading.Lock()  # one cycle at a time, whatever calls it
        self._swap_lock = threading.Lock()  # full cycles and probe refreshes swap in turn
        self._clock_lock = threading.Lock()
        self._last_now = -math.inf
        self._probe_slos = tuple(s for s in config.slos if isinstance(s.sli, ProbeSLI))
        #: each probe SLO's last computed status and the recorder's (fault, last result) then
        self._probe_inputs: dict[str, tuple[SLOStatus, tuple[str | None, float | None]]] = {}
        self._by_key = {s.key: s for s in config.slos}
        self._followed_slos = {s.key: s for s in config.followed}
        # Composites read their components' stored events through this
        # reader; every other key passes straight to the store.
        self._reader = CompositeReader(store, (*config.slos, *config.followed))
        self._measured = tuple(s for s in config.slos if not s.composite)
        self._composites = tuple(s for s in composite_order(config.slos) if s.composite)
        # recomputed every second: their probe parts, or another shard's parts, move on
        self._probe_composites = _dependents(self._composites,
                                             (*self._probe_slos, *config.followed))
        self._fast = tuple(s for s in self._measured if s.remeasurable)
        self._plans: dict[str, tuple[SLO, _Plan]] = {}
        self._grouped = tuple(s for s in config.slos if s.group_by)
        self._days: dict[str, compliance.SettledDays] = {}
        # each rolling SLO's last window math (``slomath.evaluate_kept``)
        self._evaluated: dict[str, slomath.Evaluation] = {}
        self._period_failures = FailureLog(self._log)
        self._failures = FailureLog(self._log)
        self._ingestor = Ingestor(store, client, config.prometheus, self._measured,
                                  stop=self._stop, log=self._log, on_error=self._on_error,
                                  groups=groups)
        self._pruner = Pruner(store, config, self._log)
        self._follower = store.readonly  # another replica writes what this one serves
        if not self._follower:  # a store error fails the build here
            adopt_definitions(store, config.slos, self._log, at=self._clock(), groups=groups)
        self._snapshot = Snapshot(slos=tuple(SLOStatus(slo=s) for s in self._instances()),
                                  groups=self._group_counts())
        workers = self._workers = min(max(1, max_workers), len(config.slos))
        self._pool = (ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slo-eval")
                      if workers > 1 else None)
        self._closed = False

    # ------------------------------------------------------------------ API

    @property
    def snapshot(self) -> Snapshot:
        """The latest complete snapshot; a plain reference read, never blocks.

        While a backfill runs, a copy that carries its progress."""
        progress = self._ingestor.backfill.progress()
        snap = self._snapshot
        return snap if progress is None else replace(snap, backfill=progress)

    def evaluate(self) -> Snapshot:
        """Run one cycle for every SLO and swap in the new snapshot."""
        with self._lock:
            now = self._now()
            current = self._snapshot.by_key
            # Every backfill of the cycle is counted before the first starts.
            self._ingestor.plan_backfill(self._measured, grid.instant(
                now - self._config.prometheus.query_delay, self._config.evaluation_interval))
            shared = self._share(self._measured, now - self._config.prometheus.query_delay)
            # Every read first, their steady commits then in one transaction, and only
            # then the statuses, which must see what the reads committed.
            pending = Pending()
            try:
                reads = self._map(lambda slo: self._evaluate_slo(
                    slo, now, None if slo.group_by else current.get(slo.key),
                    grouped=bool(slo.group_by), shared=shared, pending=pending),
                    self._measured)
            finally:  # whatever happened, the reads' locks are released
                failed = self._ingestor.flush(pending)
            # Computing statuses is CPU work: threads would only take turns on the GIL.
            statuses = [self._evaluate_definition(slo, now, current, read, failed)
                        for slo, read in zip(self._measured, reads, strict=True)
                        if not self._stop.is_set()]
            fresh = {s.slo.key: s for found in statuses for s in found}
            # After their components, in the same cycle, so a composite
            # never describes older component data than the components show.
            for slo in self._composites:
                if self._stop.is_set():
                    break
                status = self._composite_status(slo, fresh, current)
                if status is not None:
                    fresh[slo.key] = status
            finished = not self._stop.is_set() and len(fresh) == len(self._instances())
            snapshot = self._swap(fresh, taken_at=now, complete=finished)
            if not self._stop.is_set() and not self._follower:
                self._pruner.maybe_prune(now)
            return snapshot

    def refresh_probes(self) -> Snapshot:
        """Recompute the probe SLOs whose values may have moved; swap them in.

        Probe SLOs read nothing but the store's in-memory index, so they can
        be refreshed every second; a page on a probe SLO then waits for the
        next probe, not for the next full cycle over Prometheus. A status is
        kept (the same object) unless ``_refresh_due``: recomputed, it would
        differ only in its instant.
        """
        if not self._snapshot.complete:  # nothing to merge into before the first cycle
            return self._snapshot
        current = self._snapshot.by_key
        now = self._now()
        fresh = {s.key: self._probe_status(s, current.get(s.key), refresh=True)
                 for s in self._probe_slos if self._refresh_due(s, current.get(s.key), now)}
        # Composites built on probe SLOs follow their recomputed components, so a
        # page on a business service waits no longer than one on its probe; those
        # on another shard's SLOs read what it published, every second.
        moved = [*(self._by_key[k] for k in fresh), *self._config.followed]
        for slo in _dependents(self._probe_composites, moved):
            status = self._composite_status(slo, fresh, current, refresh=True)
            if status is not None:
                fresh[slo.key] = status
        return self._swap(fresh, taken_at=None, complete=True)

    def catch_up(self) -> Snapshot:
        """The fast path: read new samples of Prometheus SLOs and recompute those that got any.

        An SLO is skipped while the full cycle reads it, before its first
        read, while the fast path's query budget is spent (``Ingestor.paced``:
        it waits for a later second or the full cycle), while it is down (the
        full cycle owns failures: they are counted and logged there once) or
        when nothing new landed. A failed read here changes nothing and is
        logged at debug level; the next full cycle reads the same samples.
        Stops between SLOs on ``stop``.
        """
        if not self._snapshot.complete or not self._fast or self._follower:
            return self._snapshot
        at = self._now() - self._config.prometheus.query_delay
        # Most seconds most SLOs are not due a sample: only the due ones cost more
        # than a lookup, so a second of the fast path does not grow with every SLO;
        # and only those the query budget allows are read, so its queries grow with
        # the metrics, not with the SLOs and the offsets their scrapes land at.
        due = self._ingestor.paced(self._ingestor.due(self._fast, at), at,
                                   self._config.evaluation_interval)
        if not due:
            return self._snapshot
        current = self._snapshot.by_key
        fresh: dict[str, SLOStatus] = {}
        shared = self._share([s for s in due if self._up(s, current)], at, fast=True)
        # The reads first, their commits (groups' too) then in one transaction, then
        # the statuses: per definition read, the SLOs that got events.
        pending = Pending()
        moved: list[tuple[SLO, tuple[SLO, ...]]] = []
        try:
            for slo in due:
                if self._stop.is_set():
                    break
                if slo.group_by:
                    changed = self._catch_up_groups(slo, at, current, shared, pending)
                    if changed:
                        moved.append((slo, changed))
                    continue
                mine = current.get(slo.key)
                if mine is None or not mine.up or mine.evaluated_at is None:
                    continue
                try:
                    if self._ingestor.catch_up(slo, at, shared, pending):
                        moved.append((slo, (slo,)))
                except Exception as exc:  # the full cycle reads the same span and reports it
                    self._log.debug("catch_up_failed", service=slo.service, slo=slo.name,
                                    error=short_error(str(exc)))
        finally:
            failed = self._ingestor.flush(pending)
        for slo, changed in moved:
            if slo.key in failed:  # nothing of it was written: the full cycle reads it
                self._log.debug("catch_up_failed", service=slo.service, slo=slo.name,
                                error=short_error(str(failed[slo.key])))
                continue
            for inst in changed:
                fresh[inst.key] = self._status(inst, at, up=True, error=None,
                                               previous=current.get(inst.key), refresh=True)
        if fresh:
            for slo in _dependents(self._composites, [s.slo for s in fresh.values()]):
                status = self._composite_status(slo, fresh, current, refresh=True)
                if status is not None:
                    fresh[slo.key] = status
        return self._swap(fresh, taken_at=None, complete=True)

    def close(self) -> None:
        """Wait for a running cycle (set ``stop`` first to make it quick) and end the pool."""
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------ internals

    def _now(self) -> float:
        """The clock, held still while a stepped-back wall clock catches up."""
        with self._clock_lock:
            self._last_now = max(self._last_now, self._clock())
            return self._last_now

    def _instances(self) -> tuple[SLO, ...]:
        """Every SLO with a status: each group of a grouped definition, every other SLO."""
        return tuple(i for slo in self._config.slos for i in (
            self._ingestor.groups(slo).instances() if slo.group_by else (slo,)))

    def _group_counts(self) -> tuple[GroupCount, ...]:
        return tuple(self._ingestor.groups(s).count() for s in self._grouped)

    def _up(self, slo: SLO, current: Mapping[str, SLOStatus]) -> bool:
        """Whether the fast path reads ``slo``: its last status (each group's) is up."""
        keys = ([i.key for i in self._ingestor.groups(slo).instances()] if slo.group_by
                else [slo.key])
        mine = [current.get(k) for k in keys]
        return bool(mine) and all(m is not None and m.up and m.evaluated_at is not None
                                  for m in mine)

    def _share(self, slos: Sequence[SLO], at: float, *,
               fast: bool = False) -> accounting.Source | None:
        """The source of this cycle's reads: one query per metric that SLOs of
        several definitions read, and with ``fast`` per metric of even one
        definition (``Ingestor.share``), or None to read alone.

        A failure to plan is logged and every SLO reads on its own, reporting
        its own failure as before.
        """
        if self._stop.is_set():
            return None
        pool = self._pool

        def mapper(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
            if pool is None or self._closed or len(items) <= 1:
                return [fn(i) for i in items]
            return list(pool.map(fn, items))

        try:
            return self._ingestor.share(slos, at, fast=fast, mapper=mapper,
                                        interval=self._config.evaluation_interval)
        except Exception as exc:  # each read then asks alone and reports its own failure
            self._log.warning("shared_read_failed", error=short_error(repr(exc)))
            return None

    def _catch_up_groups(self, slo: SLO, at: float, current: Mapping[str, SLOStatus],
                         shared: accounting.Source | None,
                         pending: Pending) -> tuple[SLO, ...]:
        """The fast path of a grouped definition: the groups that got events, whose
        commits wait in ``pending``."""
        if not self._up(slo, current):
            return ()
        try:
            return self._ingestor.catch_up_groups(slo, at, shared, pending)
        except Exception as exc:  # the full cycle reads the same span and reports it
            self._log.debug("catch_up_failed", service=slo.service, slo=slo.name,
                            error=short_error(str(exc)))
            return ()

    def _evaluate_definition(self, slo: SLO, now: float, current: Mapping[str, SLOStatus],
                             read: SLOStatus | _Read | None,
                             failed: Mapping[str, Exception]) -> list[SLOStatus]:
        """The new statuses of ``slo``: its own, or each of its groups', after its
        read (``_evaluate_slo``) and the flush of the cycle's commits (``failed``:
        the definitions whose commits failed)."""
        found = read if not isinstance(read, _Read) else self._after_read(
            read, None if slo.group_by else current.get(slo.key), failed.get(slo.key))
        if not slo.group_by:
            return [] if found is None else [found]
        at = now - self._config.prometheus.query_delay
        if found is None:
            return []
        if found.up:
            self._failures.recovered(slo, at)
        out: list[SLOStatus] = []
        for inst in self._ingestor.groups(slo).instances():
            mine = current.get(inst.key)
            if not found.up:  # what the store holds, as for an ungrouped SLO
                out.append(self._status(inst, at, up=False, error=found.error))
                continue
            out.append(self._status(inst, at, up=True, error=None, healthy=True,
                                    previous=mine if mine is not None and mine.up else None))
        return out

    def _map(self, fn: Callable[[_I], _T], items: Sequence[_I]) -> list[_T]:
        if self._pool is None or self._closed or len(items) <= 1:
            return [fn(item) for item in items]
        return _pulled(self._pool, self._workers, fn, items)

    def _swap(
        self, fresh: Mapping[str, SLOStatus], *, taken_at: float | None, complete: bool
    ) -> Snapshot:
        with self._swap_lock:
            current = self._snapshot
            if fresh or taken_at is not None:
                # groups a read created join after every status there was
                self._snapshot = current.merged(
                    fresh, _newer,
                    taken_at=current.taken_at if taken_at is None
                    else max(taken_at, current.taken_at),
                    complete=complete or current.complete,
                    groups=self._group_counts(),
                )
            return self._snapshot

    def _evaluate_slo(self, slo: SLO, now: float, current: SLOStatus | None, *,
                      grouped: bool = False, shared: accounting.Source | None = None,
                      pending: Pending | None = None) -> SLOStatus | _Read | None:
        """The SLO's new status, or None when stopped before it was read.

        ``grouped``: only read a grouped definition; the status returned
        says whether the read succeeded (its groups get theirs). With
        ``pending``, a read that succeeded gives a ``_Read``: its steady
        commit waits there, and ``_after_read`` computes the status once
        it is flushed.
        """
        if self._stop.is_set():
            return None
        if isinstance(slo.sli, ProbeSLI):
            return self._probe_status(slo, current)
        at = grid.instant(now - self._config.prometheus.query_delay,
                          self._config.evaluation_interval)  # an HA pair's instants agree
        if self._follower:  # the writer reads the source; this replica serves its events
            up, error = self._writer_saw(slo)
            if grouped:  # the groups the writer has created so far
                for key in self._store.slo_keys():
                    group = group_of(key, slo)
                    if group is not None:
                        self._ingestor.groups(slo).admit(group)
                return SLOStatus(slo=slo, up=up, evaluated_at=at, error=error)
            return self._status(slo, at, up=up, error=error, healthy=up, previous=current)
        try:
            if not self._ingestor.read(slo, at, shared, pending):
                return None
        except QueryCancelled:
            return None  # a shutdown, not a failure: the SLO keeps its last status
        except SourceError as exc:
            self._on_error(exc.reason)
            self._failures.failed(slo, "query", exc.reason, str(exc), at)
            return self._down(slo, at, str(exc), grouped=grouped)
        except Exception as exc:  # one broken SLO must not stop the others
            return self._read_failed(slo, at, exc, grouped=grouped, exc_info=True)
        read = _Read(slo, at, grouped)
        return read if pending is not None else self._after_read(read, current, None)

    def _read_failed(self, slo: SLO, at: float, exc: Exception, *, grouped: bool,
                     exc_info: bool = False) -> SLOStatus:
        """The down status of a read, or of its commits, that raised ``exc``: a store
        error is the store's, anything else an internal error (counted, logged)."""
        if isinstance(exc, SloExporterError):
            self._on_error("store")
            self._failures.failed(slo, "store", "store", str(exc), at)
            return self._down(slo, at, str(exc), grouped=grouped)
        self._on_error("internal")
        self._failures.failed(slo, "evaluation", "internal", repr(exc), at, exc_info=exc_info)
        return self._down(slo, at, f"internal error: {exc!r}", grouped=grouped)

    def _after_read(self, read: _Read, current: SLOStatus | None,
                    failure: Exception | None) -> SLOStatus:
        """The status of an SLO whose read succeeded, once its commits are written
        (``failure``: they were not, and nothing of them was)."""
        slo, at, grouped = read.slo, read.at, read.grouped
        if failure is not None:
            return self._read_failed(slo, at, failure, grouped=grouped)
        if grouped:
            return SLOStatus(slo=slo, up=True, evaluated_at=at)
        # A history drawn while the source failed may miss events read since.
        return self._status(slo, at, up=True, error=None, healthy=True,
                            previous=current if current is not None and current.up else None)

    def _followed(self, key: str) -> SLOStatus | None:
        """The status of a component another shard evaluates, as its writer published it
        in the shared store (up or down, and the instant it describes); None before that."""
        slo = self._followed_slos.get(key)
        store = self._store
        if slo is None or not isinstance(store, SharedStore):
            return None
        try:
            state, at = store.source_state(key), store.published_at(key)
        except SloExporterError as exc:  # the composite keeps its last status meanwhile
            self._log.warning("followed_read_failed", slo=key, error=short_error(str(exc)))
            return None
        if state is None or at is None:
            return None
        return SLOStatus(slo=slo, up=state[0], error=state[1], evaluated_at=at)

    def _writer_saw(self, slo: SLO) -> SourceState:
        """A follower's view of ``slo``'s source: what the writer published (a shared
        store's ``source_state``), down until it has published anything."""
        store = self._store
        if not isinstance(store, SharedStore):
            return True, None
        state = store.source_state(slo.key)
        return state if state is not None else (False, "the writer has not evaluated it yet")

    def _down(self, slo: SLO, at: float, error: str, *, grouped: bool) -> SLOStatus:
        """The status of a failed read (a grouped definition's only says so)."""
        if grouped:
            return SLOStatus(slo=slo, up=False, evaluated_at=at, error=error)
        return self._status(slo, at, up=False, error=error)

    def _composite_status(
        self, slo: SLO, fresh: Mapping[str, SLOStatus], current: Mapping[str, SLOStatus],
        *, refresh: bool = False,
    ) -> SLOStatus | None:
        """The composite's status from its components' latest statuses, or None
        while one of them has none (a stopped cycle before the first)."""
        assert isinstance(slo.sli, CompositeSLI)
        parts = [fresh.get(c.slo.key) or current.get(c.slo.key) or self._followed(c.slo.key)
                 for c in slo.sli.components]
        if any(p is None or p.evaluated_at is None for p in parts):
            return None
        # The instant every component has described: the oldest of theirs.
        at = min(p.evaluated_at for p in parts if p is not None and p.evaluated_at is not None)
        down = [p for p in parts if p is not None and not p.up]
        error = (None if not down else
                 "component " + ", ".join(p.slo.key for p in down) + " is down")
        mine = current.get(slo.key)
        return self._status(slo, at, up=not down, error=error, healthy=True,
                            previous=mine if mine is not None and mine.up else None,
                            refresh=refresh)

    def _refresh_due(self, slo: SLO, status: SLOStatus | None, now: float) -> bool:
        """Whether a probe refresh at ``now`` must recompute ``status``: a result was
        stored or a write failed or recovered since, its window end passed a bucket
        edge, its probes became late, an alert hold ran out, its period figures aged
        past an evaluation interval, or it is down, a follower's or a calendar
        period's (whose projected budget moves with time)."""
        assert isinstance(slo.sli, ProbeSLI)
        seen = self._probe_inputs.get(slo.key)
        if (status is None or seen is None or seen[0] is not status or self._follower
                or status.evaluated_at is None or not status.up or status.period is None
                or isinstance(slo.period, CalendarPeriod)
                or seen[1] != (self._probe_fault(slo.key), self._probe_last_seen(slo.key))):
            return True
        at, res, last = status.evaluated_at, self._reader.resolution, seen[1][1]
        return (now // res != at // res
                or (last is not None and now - last > 2 * slo.sli.interval + slo.sli.timeout)
                or any(a.since is not None and not a.firing and now - a.since >= a.hold
                       for a in status.alerts)
                or not 0.0 <= now - status.period.at < self._config.evaluation_interval)

    def _probe_status(
        self, slo: SLO, current: SLOStatus | None, *, refresh: bool = False
    ) -> SLOStatus:
        assert isinstance(slo.sli, ProbeSLI)
        at = self._now()
        # A failed write is the recorder's to log; the status only shows it.
        inputs = (self._probe_fault(slo.key), self._probe_last_seen(slo.key))
        error = inputs[0]
        if error is None:
            last = inputs[1]
            if last is None and self._follower:
                last = self._stored_probe_time(slo, at)
            if last is None:
                error = "no probe result yet"
            elif at - last > 2 * slo.sli.interval + slo.sli.timeout:
                error = "probes are late"
        # Probe events only ever land at the present, so past points stay valid.
        status = self._status(slo, at, up=error is None, error=error, healthy=True,
                              previous=current, refresh=refresh)
        self._probe_inputs[slo.key] = (status, inputs)  # read before: a later write shows
        return status

    def _stored_probe_time(self, slo: SLO, at: float) -> float | None:
        """When the writer's newest stored probe result of ``slo`` was taken: each result
        measures one interval, so its coverage ends one interval after the probe."""
        assert isinstance(slo.sli, ProbeSLI)
        spans = self._store.measured_spans(slo.key, at - self._config.evaluation_interval
                                           - 3 * slo.sli.interval - slo.sli.timeout, at + 1e9)
        return spans[-1][1] - slo.sli.interval if spans else None

    def _status(
        self, slo: SLO, at: float, *, up: bool, error: str | None, healthy: bool = False,
        previous: SLOStatus | None = None, refresh: bool = False,
    ) -> SLOStatus:
        """The SLO's values at ``at``; ``healthy`` ends a logged failure.

        ``previous`` lends its budget history (and, on a probe ``refresh``,
        its period figures while they are young).
        """
        days = self._settled_days(slo, previous)
        figures = previous.period if previous is not None and refresh else None
        if figures is None or not self._young(slo, figures, at):
            figures = self._period(slo, at, days)
        try:
            status = self._compute(slo, at, up=up, error=error, previous=previous,
                                   figures=figures, days=days)
        except Exception as exc:  # same isolation for the read side
            self._on_error("store")
            self._failures.failed(slo, "evaluation", "internal", repr(exc), at, exc_info=True)
            return SLOStatus(slo=slo, up=False, evaluated_at=at,
                             error=f"internal error: {exc!r}", period=figures)
        if healthy:
            self._failures.recovered(slo, at)
        return status

    def _young(self, slo: SLO, figures: PeriodFigures, at: float) -> bool:
        """Whether a probe refresh may keep ``figures``: same period, younger than a cycle.

        Figures cost milliseconds (a timeslice or composite SLO's several)
        and a probe refresh runs every second for every probe SLO, so it
        reuses them for up to one evaluation interval (a calendar period's
        never past the period's end).
        """
        if not 0.0 <= at - figures.at < self._config.evaluation_interval:
            return False
        return not isinstance(slo.period, CalendarPeriod) or at < figures.end

    def _period(self, slo: SLO, at: float,
                days: compliance.SettledDays | None = None) -> PeriodFigures | None:
        """The current period to date, or None when computing it failed (logged, counted);
        ``days``: what the SLO carries from status to status (``_settled_days``)."""
        try:
            figures = compliance.current_figures(
                self._reader, slo, at, self._config.maintenance,
                days=days, settled=at - SETTLE_MARGIN)
        except Exception as exc:  # the window values stand without the figures
            self._on_error("internal")
            self._period_failures.failed(slo, "period", "internal", repr(exc), at,
                                         exc_info=True)
            return None
        self._period_failures.recovered(slo, at)
        return figures

    def _settled_days(self, slo: SLO,
                      previous: SLOStatus | None) -> compliance.SettledDays | None:
        """The settled days' sums ``slo``'s figures carry from status to status, if any.

        Only an SLO this engine reads from Prometheus has them, and only while
        its previous status was up: its reads then reach back at most
        ``SETTLE_MARGIN`` before a status's instant (a fast read's cursor is at most
        ``CATCH_UP_LIMIT`` old, and a read starts at most ``LATE_LIMIT``
        before its cursor), so buckets older than that keep their events. A
        failed read (its gap is read later, into old buckets), a follower
        (another replica writes), a probe or a composite SLO start afresh.
        """
        if self._follower or slo.composite or isinstance(slo.sli, ProbeSLI):
            return None
        days = self._days.get(slo.key) if previous is not None and previous.up else None
        if days is None:
            days = self._days[slo.key] = compliance.SettledDays()
        return days

    def _period_budget(self, slo: SLO) -> BudgetAt:
        """A timeslice SLO's budget at a past instant: its period figures' then."""
        def budget_at(t: float) -> float | None:
            try:
                return compliance.current_figures(
                    self._reader, slo, t, self._config.maintenance).budget_remaining
            except Exception:  # a point missing from the curve; the status logs failures
                return None
        return budget_at

    def _compute(
        self, slo: SLO, at: float, *, up: bool, error: str | None,
        previous: SLOStatus | None, figures: PeriodFigures | None,
        days: compliance.SettledDays | None = None,
    ) -> SLOStatus:
        period = slo.period
        key = period.longest
        plan = self._plan(slo)
        # An alert condition with a hold fires once it has held that long:
        # when it began to hold is carried from the previous status. A
        # restart, or a failed source (no previous status), starts it afresh.
        held = previous.alerts if previous is not None else ()
        counter = _WindowCounter(self._reader, slo, plan.maintenance, days=days,
                                 settled=at - SETTLE_MARGIN)
        start, end = period.bounds(at, counter.resolution)
        if isinstance(period, CalendarPeriod):
            # The period to date is the window keyed by `longest`; the
            # alert factors scale to this period's length.
            length = period.length(at)
            spans = {w: (end - w, end) for w in _calendar_windows(slo, length)}
            spans[key] = (start, end)
            counts = counter.counts(spans)
            windows = tuple(slomath.window_values(w, counts[w], slo.objective)
                            for w in plan.windows)
            budget = counter.projected_budget(counts[key], at)
            alerts = slomath.alert_states(slo.objective, length, counts, slo.alerting.windows,
                                          at=at, previous=held)
        else:
            assert plan.rolling is not None  # every period but a calendar one
            counts = counter.rolling(end, plan.rolling.required)
            # a third of statuses see the counts of the last (nothing committed since,
            # the same end bucket): its result is taken when that is exact
            evaluated = self._evaluated[slo.key] = slomath.evaluate_kept(
                plan.rolling, counts, at=at, previous=held, kept=self._evaluated.get(slo.key))
            windows, budget, alerts = evaluated.result
        budget_at = counter.budget_at(at)
        if slo.budgeting.slice is not None:
            # A timeslice budget counts slices, not events: only the period
            # figures know it.
            budget = None if figures is None else figures.budget_remaining
            budget_at = self._period_budget(slo)
        before = previous.budget_history if previous is not None else None
        history = budget_history(self._reader, slo, at, budget, settle=plan.settle,
                                 previous=before, budget_at=budget_at,
                                 carry=_carry(before, days))
        if days is not None and (before is None or history.past is not before.past):
            days.history = (history.grid_end, at)  # its points worked out now
        return _slo_status(
            slo=slo, windows=windows, budget_remaining=budget, alerts=alerts,
            up=up, evaluated_at=at, error=error, budget_history=history, period=figures,
        )

    def _plan(self, slo: SLO) -> _Plan:
        """What every status of ``slo`` reads from its definition, worked out once."""
        found = self._plans.get(slo.key)
        if found is not None and found[0] is slo:
            return found[1]
        rolling = None if isinstance(slo.period, CalendarPeriod) else slomath.plan(
            slo.objective, slo.period.longest, slo.windows, slo.alerting.windows)
        plan = _Plan(windows=slo.windows, maintenance=self._maintenance(slo),
                     settle=self._settle(slo), rolling=rolling)
        self._plans[slo.key] = (slo, plan)
        return plan

    def _settle(self, slo: SLO) -> float:
        """How late an event may still land in a past bucket: a Prometheus sample
        within the least read overlap (a series scraped with more lag is read
        back further, ``accounting.read_start``), a probe result within its
        timeout, a composite's within the latest of its components'."""
        if isinstance(slo.sli, ProbeSLI):
            return slo.sli.timeout
        if isinstance(slo.sli, CompositeSLI):
            parts = [self._by_key[c.slo.key] for c in slo.sli.components
                     if c.slo.key in self._by_key]
            return max((self._settle(p) for p in parts), default=0.0)
        return READ_OVERLAP

    def _maintenance(self, slo: SLO) -> tuple[MaintenanceWindow, ...]:
        return tuple(w for w in self._config.maintenance if w.applies_to(slo.id))


_slo_status = slotted(SLOStatus)  # every status builds one (``frozen.slotted``)


@dataclass(frozen=True)
class _Plan:
    """The parts of an SLO's definition each status uses (``Engine._plan``)."""

    windows: tuple[float, ...]  # ``SLO.windows``
    maintenance: tuple[MaintenanceWindow, ...]  # the maintenance windows that apply to it
    settle: float  # ``Engine._settle``
    rolling: slomath.Plan | None  # the math of a rolling period's statuses


def _carry(before: BudgetHistory | None, days: compliance.SettledDays | None) -> float:
    """Up to when the points of the previous budget history stand after its grid moves
    (``history.budget_history``'s ``carry``), by the promise of the SLO's settled days
    (``Engine._settled_days``, which are carried only while its statuses are up):
    a point ending ``SETTLE_MARGIN`` before the evaluation that worked it out had taken
    all its events, and so had every point carried then."""
    if days is None or before is None:
        return -math.inf
    grid_end, worked_out = days.history
    if grid_end is None or grid_end != before.grid_end:
        return -math.inf
    return worked_out - SETTLE_MARGIN


def _calendar_windows(slo: SLO, length: float) -> set[float]:
    """The rolling windows a calendar SLO exports or alerts on, without its period."""
    needed = {w for w in slo.windows if w != slo.period.longest}
    for a in slomath.alert_pairs(length, slo.alerting.windows):
        needed.update(a.windows)
    return needed


def _dependents(composites: Sequence[SLO], parts: Sequence[SLO]) -> tuple[SLO, ...]:
    """The composites (in evaluation order) built, at any depth, on one of ``parts``."""
    keys = {s.key for s in parts}
    out: list[SLO] = []
    for slo in composites:  # components come first, so one pass sees every level
        assert isinstance(slo.sli, CompositeSLI)
        if any(c.slo.key in keys for c in slo.sli.components):
            keys.add(slo.key)
            out.append(slo)
    return tuple(out)


class _WindowCounter:
    """Sums an SLO's windows through the reader, leaving maintenance time out.

    A bucket is excluded when a maintenance span overlaps it at all, the
    rule timeslices apply to slices; its events drop out of every window
    that holds it, so a window wholly in maintenance has no events (no
    burn rate, no alert) and the budget counts only time outside it.
    """

    __slots__ = ("_days", "_maintenance", "_reader", "_settled", "_slo", "resolution")

    def __init__(self, reader: CompositeReader, slo: SLO,
                 maintenance: Sequence[MaintenanceWindow], *,
                 days: compliance.SettledDays | None = None,
                 settled: float = -math.inf) -> None:
        self._reader = reader
        self._slo = slo
        self._maintenance = maintenance
        self.resolution = reader.resolution
        # excluded buckets that end by ``settled`` are summed once (``SettledDays.sum``)
        self._days = days
        self._settled = settled

    def counts(self, spans: Mapping[float, Span]) -> dict[float, Counts]:
        """The events of each window ``w -> [start, end)``, maintenance left out."""
        key = self._slo.key
        if not spans:
            return {}
        lo = min(a for a, _ in spans.values())
        hi = max(b for _, b in spans.values())
        excluded = self._excluded(lo, hi)
        ends = {b for _, b in spans.values()}
        if len(ends) == 1:  # every window ends at the same bucket: one indexed read
            (end,) = ends
            widths = {w: end - a for w, (a, _) in spans.items()}
            raw = self._reader.sums(key, end, sorted(set(widths.values())))
            counts = {w: raw[widths[w]] for w in spans}
        else:
            counts = {w: self._reader.sum(key, a, b) for w, (a, b) in spans.items()}
        if not excluded:
            return counts
        return {w: _minus(counts[w], self._in(excluded, a, b)) for w, (a, b) in spans.items()}

    def rolling(self, end: float, widths: Sequence[float]) -> dict[float, Counts]:
        """``counts`` of the windows ``[end - w, end)`` of ``widths`` (ascending, distinct):
        the running sums as they are when no maintenance applies."""
        counts = self._reader.sums(self._slo.key, end, widths)
        if not self._maintenance:
            return counts
        excluded = self._excluded(end - widths[-1], end)
        if not excluded:
            return counts
        return {w: _minus(counts[w], self._in(excluded, end - w, end)) for w in widths}

    def projected_budget(self, counts: Counts, at: float) -> float | None:
        """A calendar SLO's budget left at ``at``, from the counts of its period to date.

        Elapsed time and the period's length both leave maintenance out, so
        the projection matches ``compliance``: the rate per open second so
        far, over the period's open seconds.
        """
        period = self._slo.period
        assert isinstance(period, CalendarPeriod)
        start, end = period.current(at)
        return slomath.projected_budget_remaining(
            counts, self._slo.objective, self._open(start, min(at, end)), self._open(start, end))

    def budget_at(self, at: float) -> BudgetAt:
        """The budget as of a past instant, computed as the status's is."""
        period = self._slo.period
        objective = self._slo.objective
        if isinstance(period, CalendarPeriod):
            first = math.floor(period.current(at)[0] / self.resolution) * self.resolution
            return lambda t: self.projected_budget(self.counts({0.0: (first, t)})[0.0], t)
        seconds = period.seconds
        return lambda t: slomath.budget_remaining(
            self.counts({0.0: (t - seconds, t)})[0.0], objective)

    def _open(self, start: float, end: float) -> float:
        """Seconds of ``[start, end)`` outside maintenance."""
        if not self._maintenance or end <= start:
            return max(end - start, 0.0)
        spans = exclusions.excluded_spans(self._maintenance, self._slo.id, start, end)
        return (end - start) - sum(b - a for a, b in spans)

    def _excluded(self, start: float, end: float) -> list[Span]:
        """Maintenance spans in ``[start, end)`` widened to whole buckets, merged."""
        if not self._maintenance:
            return []
        res = self.resolution
        out: list[Span] = []
        for lo, hi in exclusions.excluded_spans(self._maintenance, self._slo.id, start, end):
            a, b = math.floor(lo / res) * res, math.ceil(hi / res) * res
            if out and a <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], b))
            else:
                out.append((a, b))
        return out

    def _in(self, excluded: Sequence[Span], start: float, end: float) -> Counts:
        """Events of the excluded buckets within ``[start, end)``."""
        total = Counts()
        days = self._days
        for lo, hi in excluded:
            a, b = max(lo, start), min(hi, end)
            if a < b:
                if days is None:
                    total = total + self._reader.sum(self._slo.key, a, b)
                else:
                    total = total + Counts(*days.sum(self._reader, self._slo.key, a, b,
                                                     self._settled))
        return total


def _minus(c: Counts, excluded: Counts) -> Counts:
    return Counts(c.good - excluded.good, c.total - excluded.total)


def _newer(current: SLOStatus, new: SLOStatus) -> SLOStatus:
    """``new`` unless it describes an earlier instant than ``current``."""
    if current.evaluated_at is None or new.evaluated_at is None:
        return new if current.evaluated_at is None else current
    return new if new.evaluated_at >= current.evaluated_at else current


@dataclass
class _Failing:
    kind: str  # "query", "store" or "evaluation": the event name prefix
    reason: str
    since: float
    reminded: float


class FailureLog:
    """Logs an SLO's failures on a change of state, with a periodic reminder.

    ``<kind>_failed`` when an SLO starts failing or the reason changes,
    ``<kind>_still_failing`` every ``REMIND_EVERY`` while it lasts and
    ``<kind>_recovered`` when it ends; ``kind`` is ``query``, ``store`` or
    ``evaluation``. Every event carries ``service`` and ``slo``, and error
    text is cut short.
    """

    def __init__(self, log: Any, remind_every: float = REMIND_EVERY) -> None:
        self._log = log
        self._remind_every = remind_every
        self._failing: dict[str, _Failing] = {}
        self._lock = threading.Lock()

    def failed(self, slo: SLO, kind: str, reason: str, error: str, now: float, *,
               exc_info: bool = False) -> None:
        with self._lock:
            state = self._failing.get(slo.key)
            if state is None or (state.kind, state.reason) != (kind, reason):
                self._failing[slo.key] = _Failing(kind, reason, since=now, reminded=now)
                event, extra = f"{kind}_failed", {}
            elif now - state.reminded >= self._remind_every:
                state.reminded = now
                event, extra = f"{kind}_still_failing", {"failing_for": round(now - state.since)}
            else:
                return
        log = self._log.error if kind != "query" else self._log.warning
        log(event, service=slo.service, slo=slo.name, reason=reason,
            error=short_error(error), exc_info=exc_info and event.endswith("_failed"), **extra)

    def recovered(self, slo: SLO, now: float) -> None:
        with self._lock:
            state = self._failing.get(slo.key)
            if state is None:
                return
            del self._failing[slo.key]
        self._log.info(f"{state.kind}_recovered", service=slo.service, slo=slo.name,
                       failed_for=round(now - state.since))


def short_error(text: str, limit: int = ERROR_TEXT_LIMIT) -> str:
    """``text`` on one line and at most ``limit`` characters, for log lines."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _pulled(pool: ThreadPoolExecutor, workers: int, fn: Callable[[_I], _T],
            items: Sequence[_I]) -> list[_T]:
    """``[fn(item) for item in items]`` on up to ``workers`` threads of ``pool``, each
    taking the next item whenever it is done with one (as ``pool.map`` hands them out).

    One task per thread, not one per item: a cycle reads thousands of SLOs, most
    from shared answers in microseconds, and a task per read cost a future and a
    thread wake-up each, more than many reads themselves. The first failure (in
    the order of ``items``) is raised once every thread has stopped; items after
    a failure are left undone, as ``pool.map`` cancels them.
    """
    results: list[Any] = [None] * len(items)
    failed: dict[int, BaseException] = {}
    order = iter(range(len(items)))  # each index to one thread: next() holds the GIL

    def work() -> None:
        for i in order:
            if failed and i > min(failed):  # an earlier item still runs, as in pool.map
                return
            try:
                results[i] = fn(items[i])
            except BaseException as exc:  # raised by the caller, as pool.map would
                failed[i] = exc
                return

    tasks = [pool.submit(work) for _ in range(min(workers, len(items)))]
    for task in tasks:
        task.result()
    if failed:
        raise failed[min(failed)]
    return results
