"""Getting Prometheus SLOs' events into the store: definitions, cursor, backfill, prune.

Owns what the store holds for each SLO over time:

* at start, ``adopt_definitions`` decides what the stored history of each SLO
  name is worth under the current configuration. History belongs to the
  name: a changed Prometheus SLI definition drops its events so the period is
  read again from Prometheus (the data can be recomputed); a changed probe
  target keeps its events, which cannot be measured again, and says so in
  the log (``probe_target_changed``). SLOs no longer configured keep their
  events until retention prunes them, so adding one back restores them.
* ``Ingestor.read`` reads one Prometheus SLO's events since its cursor (the
  whole period after a cold start or a long gap, in chunks) and commits each
  chunk with its cursor, so a backfill that stops half-way resumes there.
  Reads end at the instant asked (now, less the optional ``query_delay``
  floor): each series is read up to its newest sample, and every read
  reaches back to the oldest last sample of the series still scraped
  (``accounting.read_start``), so a sample that lands late is counted once,
  in its own bucket.
* a steady read (one chunk) given a ``Pending`` batch adds its commit there,
  and ``Ingestor.flush`` writes the batch in one transaction
  (``EventStore.commit_many``) before the engine computes any status; the
  SLO's read lock is held until then, so no other read of it starts from
  the cursor the store still holds. A failed batch is retried commit by
  commit, so a bad commit fails only its own SLO.
* ``Ingestor.catch_up`` is the fast path: only the samples newer than each
  live series' last one, committed without moving the cursor, so a ratio
  SLO's status can follow new samples between full cycles. It never runs
  beside a read of the same SLO (one lock per SLO; the fast path skips
  when the lock is taken). ``Ingestor.paced`` keeps its queries within a
  budget (``FastBudget``) that grows with the metrics read, not the SLOs,
  and places them between full cycles when scrapes land at many offsets.
* a grouped SLO (``group_by``) is read once per selector for all its groups
  (``accounting.fetch_grouped_events``). Each group instance keeps its own
  events, coverage and series state under its own key; the definition's
  key keeps the read cursor, committed after its groups', so a read that
  stops between them reads again what the per-series state then skips.
  ``grouping.Groups`` decides which groups exist (the cap).
* SLOs of several definitions over one metric share their steady reads
  (``share``, ``sharing``): the cycle asks once per metric, each read
  takes its own series and span from that answer and counts with its own
  state and cursor, exactly as its own query would. A backfill (more than
  one chunk, or a cursor far behind) does not join them, so an SLO added
  beside steady ones never shifts their cursors or counts.
* backfills that start at the period's start in the same cycle, over one
  metric, are read together (``plan_backfill`` groups them, up to
  ``BACKFILL_BATCH``; the first of a batch to be read reads them all,
  ``BATCHES_AT_ONCE`` batches at a time): each chunk and the hour tier is
  one query for all of them, and each SLO counts and commits what its own
  query would have returned. A failure there leaves each to read alone.
* ``Backfill`` follows the backfills of a cycle: the engine plans them
  before the reads (``Ingestor.plan_backfill``: which SLOs read more than
  one chunk, and how many seconds of history each), each chunk read adds
  its span and samples, and the log gets ``backfill_progress`` at most every
  ``PROGRESS_EVERY`` seconds and ``backfill_finished`` once every planned
  SLO is read. ``progress()`` is what the gauges, ``/-/ready`` and the
  status page show meanwhile.
* ``Pruner`` removes buckets older than the longest period plus the margin
  (a calendar SLO keeps its previous period too, for its report).

Must not compute windows or budgets (``slomath``), decide an SLO's status or
log its query failures (``engine``), or record probe results (``recorder``).
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from slo_exporter import accounting, matchers, sharing
from slo_exporter.errors import SourceError
from slo_exporter.grouping import Groups
from slo_exporter.model import (
    SLO,
    BoolGaugeSLI,
    CalendarPeriod,
    Config,
    LatencySLI,
    ProbeSLI,
    PrometheusConfig,
    RatioSLI,
    Selector,
    SLOId,
    Template,
    fingerprint,
)
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.store import Commit, EventStore

#: the fewest hours worth reading at hour resolution
MIN_HOURLY_HOURS = 2
#: how often old buckets are pruned
PRUNE_EVERY = 3600.0
#: a backfill starts this far before the oldest window so that every series
#: has a baseline sample before the window opens
BACKFILL_LEAD = 600.0
#: every read reaches at least this far before its cursor: a series seen
#: for the first time may land this late and still get its baseline
READ_OVERLAP = 30.0
#: a series whose last sample is this much older than the previous read's
#: end counts as gone and no longer holds reads back (Prometheus' lookback)
LATE_LIMIT = 300.0
#: templates keep no per-series state, so a bucket is evaluated only once
#: the samples at its end have landed: this long after it ends, less the
#: configured ``query_delay``
TEMPLATE_SETTLE = 30.0
#: the fast path reads only when the cursor is this recent; further behind,
#: the full cycle reads the gap
CATCH_UP_LIMIT = 600.0
#: ``backfill_progress`` is logged at most this often
PROGRESS_EVERY = 10.0
#: the longest wait after fast reads that found nothing, while no scrape
#: step is known yet (once known, the step is the longest)
MAX_BACKOFF = 8.0
#: the fast path's Prometheus queries per evaluation interval, per distinct metric
#: its SLOs read (``FastBudget``): with the full cycle's one per metric, about two
#: per metric and interval, however many SLOs and scrape offsets there are
FAST_QUERIES_PER_METRIC = 1.0
#: ... and at least this many per second on average, whatever the metrics: a few
#: metrics keep a read per scrape and a retry after a read that came too early
FAST_QUERIES_FLOOR = 0.5
#: the fast path's poll period (the daemon's ``FAST_PATH_EVERY``): reads are placed
#: (``FastBudget.spacing``) only when the spacing is at least this, and none are
#: made this close before a full cycle's instant
FAST_POLL = 1.0
#: the most SLOs whose backfills read together (``Ingestor.plan_backfill``): one
#: chunk's shared answer holds all their series, so this bounds its size
BACKFILL_BATCH = 10
#: how many such batches read at once: each holds a chunk of all its SLOs'
#: samples in memory, and two keep Prometheus and the decoding both busy
BATCHES_AT_ONCE = 2


def stored_fingerprint(slo: SLO) -> str:
    """What defines the events stored under ``slo``'s key (and its groups' keys).

    A grouped definition's covers its ``group_by`` too, so grouping an SLO
    or ungrouping it reads its history again.
    """
    if not slo.group_by:
        return slo.source_fingerprint
    return fingerprint(slo.source_fingerprint, "group_by", *slo.group_by)


def load_groups(store: EventStore, slos: Sequence[SLO], log: Any) -> dict[str, Groups]:
    """The groups of every grouped definition, as the store keys of their instances
    left them (each group comes back with its history)."""
    grouped = [slo for slo in slos if slo.group_by]
    keys = store.slo_keys() if grouped else ()
    return {slo.key: Groups.from_store(slo, keys, log=log) for slo in grouped}


def adopt_definitions(store: EventStore, slos: Sequence[SLO], log: Any, at: float,
                      groups: Mapping[str, Groups] | None = None) -> None:
    """Match the stored history of each SLO name to its current definition.

    ``groups`` holds the groups of grouped definitions; their instances'
    keys are kept (and reset with the definition's), any other group's key
    is retired.
    """
    groups = groups or {}
    instances = {slo.key: groups[slo.key].instances() if slo.key in groups else ()
                 for slo in slos}
    retire_removed(store, [k for slo in slos for k in (
        slo.key, *(i.key for i in instances[slo.key]))], log, at)
    for slo in slos:
        if slo.composite:  # derived from its components: nothing of its own is stored
            continue
        stored = store.fingerprint(slo.key)
        fingerprint = stored_fingerprint(slo)
        changed = stored is not None and stored != fingerprint
        # Groups before their definition: a start that stops in between
        # finds the definition unchanged and resets it (and its cursor) again.
        for group in instances[slo.key]:
            store.ensure_fingerprint(group.key, fingerprint, keep_events=False)
        # A probe's events cannot be measured again: they stay whatever changed.
        store.ensure_fingerprint(slo.key, fingerprint, keep_events=not slo.remeasurable)
        if not changed:
            continue
        if isinstance(slo.sli, ProbeSLI):
            log.warning("probe_target_changed", service=slo.service, slo=slo.name,
                        events="kept")
        else:
            log.info("slo_definition_changed", service=slo.service, slo=slo.name,
                     events="read again")


def retire_removed(store: EventStore, keep: Iterable[str], log: Any, at: float) -> None:
    """Mark SLOs the store holds that are no longer configured; their events stay.

    ``prune`` deletes a retired SLO's history once its retirement is older
    than the retention; an SLO added back before that finds its events and
    cursor where it left them.
    """
    change = store.retire(keep, at=at)
    for key in change.retired:
        log.info("slo_retired", **SLOId.parse(key).log_fields, events="kept until retention")
    for key in change.restored:
        log.info("slo_restored", **SLOId.parse(key).log_fields)


@dataclass(frozen=True)
class BackfillProgress:
    """Where the running backfills stand: SLOs, seconds of history, samples read.

    ``seconds_total`` sums the history each planned SLO reads;
    ``seconds_done`` what its committed chunks covered. ``elapsed`` is
    the wall time since the first of them started.
    """

    slos_total: int
    slos_done: int
    seconds_total: float
    seconds_done: float
    samples: int
    elapsed: float

    @property
    def slos_remaining(self) -> int:
        return self.slos_total - self.slos_done

    @property
    def fraction(self) -> float:
        """The share of the history read, 0 to 1."""
        if self.seconds_total <= 0:
            return 1.0
        return min(1.0, self.seconds_done / self.seconds_total)

    @property
    def eta(self) -> float | None:
        """Seconds until done at the rate so far; None before anything was read."""
        if self.seconds_done <= 0 or self.elapsed <= 0:
            return None
        rate = self.seconds_done / self.elapsed
        return max(0.0, self.seconds_total - self.seconds_done) / rate


class Backfill:
    """The backfills in progress, shared by the reads of a cycle (thread-safe).

    ``plan`` adds an SLO with the span it will read (planning it again
    only updates the span); ``chunk`` adds what one committed chunk read;
    ``finished`` marks an SLO read. Once every planned SLO is read, the run
    is logged (``backfill_finished``) and forgotten: ``progress()`` is None
    again. An SLO whose read failed stays planned and is read on.
    """

    def __init__(self, log: Any, *, every: float = PROGRESS_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._spans: dict[str, float] = {}  # key -> seconds of history to read
        self._read: dict[str, float] = {}  # key -> seconds read so far
        self._done: set[str] = set()
        self._samples = 0
        self._started = 0.0
        self._logged = 0.0

    def plan(self, key: str, since: float, until: float) -> None:
        """``key`` reads ``(since, until]`` as a backfill."""
        with self._lock:
            if not self._spans:
                self._started = self._logged = self._clock()
            if key in self._done:
                return
            self._spans[key] = self._read.get(key, 0.0) + max(0.0, until - since)

    def chunk(self, key: str, seconds: float, samples: int) -> None:
        """A chunk of ``key``'s backfill was committed; logs progress when due."""
        with self._lock:
            if key not in self._spans:
                return
            self._read[key] = self._read.get(key, 0.0) + max(0.0, seconds)
            self._samples += samples
            now = self._clock()
            if now - self._logged < self._every:
                return
            self._logged = now
            found = self._progress(now)
        self._log.info("backfill_progress", slos_done=found.slos_done,
                       slos_total=found.slos_total, percent=round(100 * found.fraction, 1),
                       seconds_done=round(found.seconds_done),
                       seconds_total=round(found.seconds_total), samples=found.samples,
                       eta_seconds=None if found.eta is None else round(found.eta))

    def finished(self, key: str) -> None:
        """``key``'s backfill is read; the run ends when it was the last."""
        with self._lock:
            if key not in self._spans or key in self._done:
                return
            self._done.add(key)
            self._read[key] = self._spans[key]
            if len(self._done) < len(self._spans):
                return
            found = self._progress(self._clock())
            self._spans, self._read, self._done = {}, {}, set()
            self._samples = 0
        self._log.info("backfill_finished", slos=found.slos_total,
                       seconds=round(found.elapsed, 3), history_seconds=round(found.seconds_total),
                       samples=found.samples)

    def progress(self) -> BackfillProgress | None:
        """The running backfills, or None when none is running."""
        with self._lock:
            return self._progress(self._clock()) if self._spans else None

    def _progress(self, now: float) -> BackfillProgress:
        return BackfillProgress(
            slos_total=len(self._spans), slos_done=len(self._done),
            seconds_total=sum(self._spans.values()),
            seconds_done=sum(self._read.values()), samples=self._samples,
            elapsed=now - self._started)


class FastBudget:
    """How many queries the fast path may ask: a bucket of tokens, one per query.

    It fills at ``max(per_metric x metrics / interval, floor)`` tokens a second
    and holds one interval's worth and one more (so that rounding never leaves
    a metric out of its read): over a long run the fast path asks at most that
    rate, and a second where every metric is due at once (scrapes that land
    together) can still read them all. Time is a parameter: ``take``
    says whether ``cost`` tokens are there at ``now`` and takes them if so.

    ``spacing`` places the reads: a metric's share of the budget is ``n``
    reads an interval, so a read that finds new samples of it is followed by
    the next after ``interval / (n + 1)`` at the soonest, which splits the
    interval evenly with the full cycle's read when scrapes land at every
    offset, rather than spending the share right after that read.
    """

    def __init__(self, metrics: int, interval: float, *,
                 per_metric: float = FAST_QUERIES_PER_METRIC,
                 floor: float = FAST_QUERIES_FLOOR) -> None:
        if interval <= 0 or metrics < 0 or per_metric < 0 or floor <= 0:
            raise ValueError(f"a fast budget needs a positive interval and floor and no "
                             f"negative count, got interval={interval}, floor={floor}, "
                             f"metrics={metrics}, per_metric={per_metric}")
        #: tokens a second, and the most the bucket holds
        self.rate = max(per_metric * metrics / interval, floor)
        self.capacity = self.rate * interval + 1.0
        self.spacing = interval / (self.rate * interval / max(1, metrics) + 1.0)
        self._tokens = self.capacity
        self._at: float | None = None

    def take(self, cost: int, now: float) -> bool:
        """Take ``cost`` tokens at ``now`` when the bucket holds them; False, taking
        nothing, when it does not."""
        if self._at is not None and now > self._at:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now if self._at is None else max(self._at, now)
        if cost > self._tokens:
            return False
        self._tokens -= cost
        return True


class Pending:
    """The commits of a cycle's reads, written together by ``Ingestor.flush`` (one
    transaction instead of one per SLO). Thread-safe: the reads of a cycle add
    to it at once. Each commit is kept under the definition whose read made it
    (a grouped definition commits its groups' keys too), and that definition's
    read lock stays held until the flush: the store does not hold its new
    cursor and series state before, so no other read of it may start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commits: list[tuple[str, Commit]] = []
        self._owners: set[str] = set()
        self._held: list[threading.Lock] = []

    def add(self, owner: str, commit: Commit) -> None:
        with self._lock:
            self._commits.append((owner, commit))
            self._owners.add(owner)

    def hold(self, owner: str, lock: threading.Lock) -> bool:
        """Keep ``owner``'s read lock until the flush when it added a commit; True if so."""
        with self._lock:
            if owner not in self._owners:
                return False
            self._held.append(lock)
            return True

    def take(self) -> tuple[list[tuple[str, Commit]], list[threading.Lock]]:
        """Every commit added so far and the locks held for them (now the caller's)."""
        with self._lock:
            found, self._commits, self._owners = self._commits, [], set()
            held, self._held = self._held, []
        return found, held


class Ingestor:
    """Reads Prometheus SLOs' events since their cursors and commits them."""

    def __init__(
        self,
        store: EventStore,
        client: accounting.Source | None,
        prometheus: PrometheusConfig,
        slos: Sequence[SLO],
        *,
        stop: threading.Event,
        log: Any,
        on_error: Callable[[str], None] = lambda reason: None,
        groups: Mapping[str, Groups] | None = None,
    ) -> None:
        self._store = store
        self._groups = dict(groups or {})
        self._client = client
        self._chunk = prometheus.backfill_chunk
        self._hourly_after = prometheus.backfill_hourly_after
        self._template_lag = max(0.0, TEMPLATE_SETTLE - prometheus.query_delay)
        self._max_increase = prometheus.max_counter_increase
        self._on_error = on_error
        self._stop = stop
        self._log = log
        # le label text per latency SLO, discovered once instead of every cycle
        self._le_cache: dict[str, dict[str, str]] = {s.key: {} for s in slos}
        # SLOs whose backfill was announced and has not finished yet
        self._backfilling: set[str] = set()
        # one read of an SLO at a time: a full read and the fast path would
        # both count what they read under the same series state
        self._locks: dict[str, threading.Lock] = {s.key: threading.Lock() for s in slos}
        # per SLO: the shortest step seen between a series' samples, and when
        # its oldest live series is next due, so the fast path asks only then
        self._step: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._template_of: dict[str, tuple[SLO, bool]] = {}
        # ``due`` without a look at every SLO every second: the keys that may be due
        # now, and the others on a heap of (due instant, key) until then (entries
        # a later ``_set_due`` replaced are skipped when they come up)
        self._due_lock = threading.Lock()
        self._due_for: Sequence[SLO] | None = None
        self._index: dict[str, int] = {}
        self._slo_of: dict[str, SLO] = {}
        self._ready: set[str] = set()
        self._waiting: list[tuple[float, str]] = []
        # fast reads in a row that found nothing: each waits twice as long
        self._misses: dict[str, int] = {}
        # the fast path's query budget (``paced``), made for the SLOs ``due`` was
        # last asked about and the interval, and the queries each SLO's fast read makes
        self._budget: tuple[Sequence[SLO] | None, float, FastBudget] | None = None
        self._queries_of: dict[str, tuple[SLO, tuple[str, ...]]] = {}
        # per metric (``_queries``), the last instant a read of it found new samples
        self._found_at: dict[str, float] = {}
        self._sharing = sharing.Sharing(log)
        #: the backfills in progress (gauges, ``/-/ready``, the status page)
        self.backfill = Backfill(log)
        # per SLO: the cursor its last full read left and where the next one
        # starts from there, so planning a shared read need not load the state
        self._next: dict[str, tuple[float, float]] = {}
        # SLOs whose backfills are read together, by key, until the first is read
        self._batches: dict[str, _Batch] = {}
        self._batches_at_once = threading.BoundedSemaphore(BATCHES_AT_ONCE)

    def read(self, slo: SLO, until: float, source: accounting.Source | None = None,
             pending: Pending | None = None) -> bool:
        """Commit ``slo``'s events up to ``until``; False when stopped before.

        ``source`` stands in for the client (the cycle's ``share``).
        Raises ``SourceError`` when Prometheus fails; every chunk committed
        before the failure stays, with its cursor. With ``pending``, a
        steady read (one chunk, no backfill) adds its commit there instead,
        and ``slo``'s read lock stays held until ``flush`` writes it.
        """
        batch = self._batches.pop(slo.key, None)
        if batch is not None:  # before its own lock: the batch's reader takes them all
            self._read_batch(batch, until)
        lock = self._lock(slo)
        lock.acquire()
        try:
            if slo.group_by:
                return self._read_grouped(slo, until, source, pending)
            return self._read(slo, until, source, pending)
        finally:
            if pending is None or not pending.hold(slo.key, lock):
                lock.release()

    def flush(self, pending: Pending) -> dict[str, Exception]:
        """Write ``pending``'s commits in one transaction and release their SLOs' read
        locks; returns the failures by definition key.

        When that transaction fails, nothing of it was written and each
        commit is tried alone, so one bad commit fails only its own
        definition, as it would have without the batch.
        """
        taken, held = pending.take()
        failed: dict[str, Exception] = {}
        try:
            self._store.commit_many([commit for _, commit in taken])
        except Exception:  # each commit alone then says whose it was
            for owner, commit in taken:
                if owner in failed:
                    continue  # its definition failed: the rest of its read waits too
                try:
                    self._store.commit_many([commit])
                except Exception as exc:  # the caller reports it as the SLO's failure
                    failed[owner] = exc
        finally:
            for owner in failed:
                self._next.pop(owner, None)  # planned from a cursor the store does not hold
            for lock in held:
                lock.release()
        return failed

    def _commit_to(self, owner: str, pending: Pending | None, commit: Commit) -> None:
        """``commit`` now, or into ``pending`` (under ``owner``'s read lock)."""
        if pending is None:
            self._store.commit_many([commit])
        else:
            pending.add(owner, commit)

    def share(self, slos: Sequence[SLO], until: float, *, fast: bool = False,
              mapper: sharing.Mapper | None = None,
              interval: float = 0.0) -> accounting.Source | None:
        """Read once per metric what ``slos``' reads up to ``until`` will ask for.

        Plans each SLO's read as ``read`` (or, with ``fast``, ``catch_up``)
        will make it, from the same cursor and series state, and returns the
        source to pass to them (None when nothing is shared). Only steady
        reads (one chunk) are shared; a backfill reads on its own. A plan
        that turns out wrong costs a query, never a count: a read the shared
        answer does not cover goes to Prometheus. A read reaching back more
        than ``sharing.MAX_SHARED_SPAN``, or two evaluation ``interval``s and
        ``LATE_LIMIT`` when that is longer, is not shared. With ``fast`` a
        metric is shared even when one definition reads it: one query for
        its selectors of that metric instead of one per selector. Without
        it, the metrics of SLOs due a sample at ``until`` count as found by
        this read, which places the fast reads after it (``paced``).
        """
        if self._client is None:
            return None
        needs: list[sharing.Need] = []
        for slo in slos:
            if isinstance(slo.sli, ProbeSLI) or slo.composite:
                continue
            lo = self._fast_start(slo, until) if fast else self._steady_start(slo, until)
            if lo is None:
                continue
            le_cache = self._le_cache.setdefault(slo.key, {})
            try:
                selectors = accounting.plain_selectors(self._client, slo, until, le_cache)
            except (SourceError, ValueError):  # its own read meets it again and reports it
                continue
            if not fast and until >= self._due.get(slo.key, -math.inf):
                self._found(slo, until)  # new samples are due: this read finds them
            needs.extend(sharing.Need(slo.key, selector, lo, until) for selector in selectors)
        span = max(sharing.MAX_SHARED_SPAN, 2 * interval + LATE_LIMIT)
        found = self._sharing.read(self._client, needs, mapper, max_span=span, lone=fast)
        return found if found.queries else None

    def _state(self, slo: SLO) -> dict[str, accounting.Sample]:
        """``slo``'s series state (its groups' merged for a grouped definition)."""
        if slo.group_by:
            return _merged(self._group_states(self.groups(slo)))
        return self._store.series(slo.key)

    def _steady_start(self, slo: SLO, until: float) -> float | None:
        """Where ``read`` of ``slo`` up to ``until`` reads from, when it is one chunk."""
        oldest = backfill_start(slo, until, self._store.resolution) - BACKFILL_LEAD
        cursor = self._store.cursor(slo.key)
        if cursor is None or cursor < oldest or cursor >= until or until - cursor > self._chunk:
            return None
        known = self._next.get(slo.key)
        if known is not None and known[0] == cursor:
            # A fast read since then only moved series forward: the start is the
            # same or later, still inside what is planned.
            return known[1]
        return accounting.read_start(self._state(slo), cursor, overlap=READ_OVERLAP,
                                     late_limit=LATE_LIMIT)

    def _planned(self, key: str, cursor: float, state: Mapping[str, accounting.Sample]) -> None:
        """Remember where the read after one that ended at ``cursor`` starts."""
        self._next[key] = (cursor, accounting.read_start(
            state, cursor, overlap=READ_OVERLAP, late_limit=LATE_LIMIT))

    def _fast_start(self, slo: SLO, until: float) -> float | None:
        """Where ``catch_up`` of ``slo`` at ``until`` reads from, if it reads."""
        if (until < self._due.get(slo.key, -math.inf) or slo.key in self._backfilling
                or self._templated(slo) or self._lock(slo).locked()):
            return None  # the cheap checks first: this runs for every SLO every second
        cursor = self._store.cursor(slo.key)
        if cursor is None or until - cursor > CATCH_UP_LIMIT:
            return None
        since = accounting.read_start(self._state(slo), until, overlap=0.0,
                                      late_limit=LATE_LIMIT)
        return None if since >= until else since

    def groups(self, slo: SLO) -> Groups:
        """The groups of a grouped definition (made on first use)."""
        found = self._groups.get(slo.key)
        if found is None:
            found = self._groups.setdefault(slo.key, Groups(slo, log=self._log))
        return found

    def due(self, slos: Sequence[SLO], until: float) -> list[SLO]:
        """The SLOs of ``slos`` whose fast read at ``until`` is not known to be early,
        in their order: ``catch_up`` and a fast ``share`` skip every other one.

        The cost grows with the SLOs due, not with all of them: an SLO waits on
        a heap until its due instant. Asked about another sequence than last
        time, every SLO of it is looked at once.
        """
        due = self._due
        with self._due_lock:
            if slos is not self._due_for:
                self._due_for = slos
                self._index = {s.key: i for i, s in enumerate(slos)}
                self._slo_of = {s.key: s for s in slos}
                self._ready = set(self._index)
            waiting, ready = self._waiting, self._ready
            while waiting and waiting[0][0] <= until:
                at, key = heapq.heappop(waiting)
                if due.get(key) == at:
                    ready.add(key)
            for key in [k for k in ready if until < due.get(k, -math.inf)]:
                ready.discard(key)  # set early before it was first looked at
                heapq.heappush(waiting, (due[key], key))
            index, slo_of = self._index, self._slo_of
            return [slo_of[k] for k in sorted(ready & index.keys(), key=index.__getitem__)]

    def paced(self, slos: Sequence[SLO], until: float, interval: float) -> list[SLO]:
        """The SLOs of ``slos`` (due at ``until``) whose fast reads fit the fast path's
        query budget (``FastBudget`` over the distinct metrics of the SLOs ``due``
        was last asked about, per evaluation ``interval``), in their order.

        The SLOs due longest go first; an SLO costs one query per metric it reads
        that no SLO before it in this second reads (``share`` asks once per metric),
        and one per selector that is not shared. An SLO reading a metric that a read
        found new samples of less than the budget's ``spacing`` ago waits too, and
        no SLO is read less than ``FAST_POLL`` before a full cycle's instant (a
        multiple of ``interval``), which reads the same a moment later; neither
        applies while the spacing is shorter than ``FAST_POLL`` (an interval of a
        few seconds: a poll a second places nothing). An SLO left out stays due:
        a later second reads what landed meanwhile, or the full cycle does. This
        bounds the queries when scrape targets land at many offsets, so that every
        second would find some SLO of every metric due.
        """
        if self._client is None or not slos:
            return list(slos)
        budget = self._budget
        if budget is None or budget[0] is not self._due_for or budget[1] != interval:
            every = self._due_for if self._due_for is not None else slos
            metrics = {q for slo in every for q in self._queries(slo, until)}
            budget = self._budget = (self._due_for, interval,
                                     FastBudget(len(metrics), interval))
        tokens, due, found = budget[2], self._due, self._found_at
        soonest = math.inf  # a read found after this instant holds its metric back
        if tokens.spacing >= FAST_POLL:
            if math.ceil(until / interval) * interval - until < FAST_POLL:
                return []
            soonest = until - tokens.spacing
        asked: set[str] = set()
        kept: set[int] = set()
        for i in sorted(range(len(slos)), key=lambda i: (due.get(slos[i].key, -math.inf), i)):
            queries = self._queries(slos[i], until)
            if any(found.get(q, -math.inf) > soonest for q in queries):
                continue
            new = {q for q in queries if q not in asked}
            if tokens.take(len(new), until):
                asked |= new
                kept.add(i)
        return [slo for i, slo in enumerate(slos) if i in kept]

    def _found(self, slo: SLO, until: float) -> None:
        """A read of ``slo`` up to ``until`` found new samples of its metrics."""
        for query in self._queries(slo, until):
            self._found_at[query] = until

    def _queries(self, slo: SLO, until: float) -> tuple[str, ...]:
        """What a fast read of ``slo`` asks Prometheus: the metric of each shared
        selector, and ``slo``'s key with each selector ``sharing`` cannot share (or
        with nothing, for a read without plain selectors). Found once per SLO."""
        found = self._queries_of.get(slo.key)
        if found is not None and found[0] is slo:
            return found[1]
        if (self._client is None or self._templated(slo) or isinstance(slo.sli, ProbeSLI)
                or slo.composite):
            queries: tuple[str, ...] = ()  # never read by the fast path
        else:
            try:
                selectors = accounting.plain_selectors(
                    self._client, slo, until, self._le_cache.setdefault(slo.key, {}))
            except (SourceError, ValueError):  # its read meets it: one query, for now
                return (slo.key,)
            parsed = [sharing.metric_of(s) for s in selectors]
            queries = tuple(sorted({m if m is not None else f"{slo.key} {s}"
                                    for s, m in zip(selectors, parsed, strict=True)}
                                   or {slo.key}))
        self._queries_of[slo.key] = (slo, queries)
        return queries

    def scrape_step(self, key: str) -> float | None:
        """The shortest gap between two samples of one series of ``key`` seen so far
        (what the fast path expects between scrapes), None before two were seen."""
        return self._step.get(key)

    def _set_due(self, key: str, at: float) -> None:
        """``key``'s next fast read is due at ``at``."""
        with self._due_lock:
            self._due[key] = at
            self._ready.discard(key)
            heapq.heappush(self._waiting, (at, key))

    def catch_up(self, slo: SLO, until: float, source: accounting.Source | None = None,
                 pending: Pending | None = None) -> bool:
        """The fast path: commit the samples newer than each live series' last one.

        True when new events were committed. Nothing is read (False) while
        a full read of ``slo`` runs, before its first read, when its cursor
        is more than ``CATCH_UP_LIMIT`` behind (a gap is the full cycle's),
        for a template SLI (its buckets wait ``TEMPLATE_SETTLE``), when no
        series is live, or before the oldest live series is due its next
        sample (its last timestamp plus the shortest step seen between two
        samples of a series): Prometheus is asked about once per scrape. A
        read that finds nothing waits 1, 2, 4 ... seconds (at most one step,
        or ``MAX_BACKOFF`` before a step is known) before the next, so a
        target that stopped costs a few reads a step. ``source`` stands in
        for the client (``share`` with ``fast``).
        The cursor and the measured spans stay: the next full read reaches
        back over what this one read, and the series state keeps it from
        counting twice. Raises like ``read``. With ``pending``, the commit of
        an ungrouped SLO waits there, as a full read's does.
        """
        lock = self._lock(slo)
        if not lock.acquire(blocking=False):
            return False
        try:
            # The cheap checks first: this runs for every SLO every second.
            if (until < self._due.get(slo.key, -math.inf) or slo.key in self._backfilling
                    or self._client is None or self._templated(slo)):
                return False
            cursor = self._store.cursor(slo.key)
            if cursor is None or until - cursor > CATCH_UP_LIMIT:
                return False
            if slo.group_by:
                return bool(self._catch_up_grouped(slo, until, source, pending))
            state = self._store.series(slo.key)
            since = accounting.read_start(state, until, overlap=0.0, late_limit=LATE_LIMIT)
            if since >= until or self._stop.is_set():
                return False
            if self._nothing_new(slo, source, since, until, state) is not None:
                self._missed(slo.key, until)  # what the count below would find
                return False
            batch = accounting.fetch_events(
                source or self._client, slo, since=since, until=until, series_state=state,
                resolution=self._store.resolution, overlap=0.0, chunk=until - since,
                le_cache=self._le_cache.setdefault(slo.key, {}),
                max_increase=self._max_increase,
            )
            self._reject(slo, batch.rejected)
            if not batch.deltas and batch.series == state:
                self._missed(slo.key, until)
                return False
            self._commit_to(slo.key, pending,
                            Commit(slo.key, batch.deltas, series=_moved(batch.series, state)))
            self._learn(slo.key, batch, until)
            self._found(slo, until)
            return True
        finally:
            if pending is None or not pending.hold(slo.key, lock):
                lock.release()

    def catch_up_groups(self, slo: SLO, until: float,
                        source: accounting.Source | None = None,
                        pending: Pending | None = None) -> tuple[SLO, ...]:
        """``catch_up`` for a grouped definition: the group instances that got new events.
        With ``pending``, their commits wait there under the definition's key, as a
        full read's do."""
        lock = self._lock(slo)
        if not lock.acquire(blocking=False):
            return ()
        try:
            cursor = self._store.cursor(slo.key)
            if (cursor is None or until - cursor > CATCH_UP_LIMIT
                    or slo.key in self._backfilling or self._client is None
                    or until < self._due.get(slo.key, -math.inf)):
                return ()
            return self._catch_up_grouped(slo, until, source, pending)
        finally:
            if pending is None or not pending.hold(slo.key, lock):
                lock.release()

    def _missed(self, key: str, until: float) -> None:
        """A fast read found nothing: wait twice as long as after the previous miss."""
        misses = self._misses.get(key, 0)
        self._misses[key] = misses + 1
        wait = min(2.0 ** misses, self._step.get(key, MAX_BACKOFF))
        self._set_due(key, max(self._due.get(key, -math.inf), until + wait))

    def _catch_up_grouped(self, slo: SLO, until: float,
                          source: accounting.Source | None = None,
                          pending: Pending | None = None) -> tuple[SLO, ...]:
        groups = self.groups(slo)
        states = self._group_states(groups)
        since = accounting.read_start(_merged(states), until, overlap=0.0,
                                      late_limit=LATE_LIMIT)
        if since >= until or self._stop.is_set() or self._client is None:
            return ()
        found = accounting.fetch_grouped_events(
            source or self._client, slo, since=since, until=until, series_state=states,
            resolution=self._store.resolution, overlap=0.0, chunk=until - since,
            admit=groups.admit, le_cache=self._le_cache.setdefault(slo.key, {}),
            max_increase=self._max_increase,
        )
        self._reject(slo, found.rejected)
        changed: list[SLO] = []
        for group, batch in found.groups.items():
            if not batch.deltas and batch.series == states.get(group, {}):
                continue
            inst = groups.instance(group)
            self._claim(inst, group not in states)
            self._commit_to(slo.key, pending, Commit(
                inst.key, batch.deltas, series=_moved(batch.series, states.get(group, {}))))
            changed.append(inst)
        if not changed:
            self._missed(slo.key, until)
            return ()
        self._learn(slo.key, _union(found), until)
        self._found(slo, until)
        return tuple(changed)

    def _group_states(self, groups: Groups) -> dict[accounting.GroupKey,
                                                      dict[str, accounting.Sample]]:
        return {group: self._store.series(inst.key) for group, inst in groups.items()}

    def _claim(self, inst: SLO, new: bool) -> None:
        """Give a group seen for the first time its definition's fingerprint."""
        if new:
            self._store.ensure_fingerprint(inst.key, stored_fingerprint(inst),
                                           keep_events=False)

    def _read_grouped(self, slo: SLO, until: float,
                      source: accounting.Source | None = None,
                      pending: Pending | None = None) -> bool:
        """``_read`` for a grouped definition: one read per selector and chunk for
        every group; each group's events, state and span are committed under
        its own key, then the definition's cursor."""
        start = self._read_from(slo, until)
        if start is None:
            return True
        since, client = start
        res = self._store.resolution
        groups = self.groups(slo)
        states = self._group_states(groups)
        overlap = since - accounting.read_start(_merged(states), since, overlap=READ_OVERLAP,
                                                late_limit=LATE_LIMIT)
        dropped: set[accounting.GroupKey] = set()
        seen = False  # whether any sample was read: a read of nothing says nothing
        read = _Counted(source or client)
        chunks = accounting.chunk_bounds(since, until, self._chunk)
        if len(chunks) > 1 or slo.key in self._backfilling:
            pending = None  # a backfill commits chunk by chunk, to resume where it stopped
        for lo, hi in chunks:
            if self._stop.is_set():
                return False
            found = accounting.fetch_grouped_events(
                read, slo, since=lo, until=hi, series_state=states,
                resolution=res, overlap=overlap, chunk=self._chunk + overlap,
                admit=groups.admit, le_cache=self._le_cache.setdefault(slo.key, {}),
                max_increase=self._max_increase,
            )
            self._reject(slo, found.rejected)
            dropped |= found.dropped
            seen = seen or bool(found.dropped) or any(
                b.deltas for b in found.groups.values())
            # Every group was looked at over the span, events or not.
            for group, inst in groups.items():
                batch = found.groups.get(group)
                self._claim(inst, group not in states)
                self._commit_to(slo.key, pending, Commit(
                    inst.key, {} if batch is None else batch.deltas, cursor=hi,
                    series=None if batch is None else _moved(batch.series,
                                                             states.get(group, {})),
                    measured=(lo, hi)))
                if batch is not None:
                    states[group] = dict(batch.series)
                else:
                    states.setdefault(group, {})
            self._commit_to(slo.key, pending, Commit(slo.key, {}, cursor=found.covered_until))
            self.backfill.chunk(slo.key, hi - lo, read.taken())
            self._learn(slo.key, _union(found), hi)
        if seen:
            groups.note_read(dropped, until)
        self._planned(slo.key, until, _merged(states))
        self._announced(slo, until)
        return True

    def plan_backfill(self, slos: Sequence[SLO], until: float) -> None:
        """Tell ``backfill`` which of ``slos``' reads up to ``until`` are backfills,
        before the reads start, so its progress counts them all from the first."""
        res = self._store.resolution
        # A cursor this recent is past the oldest instant (the period's start
        # is never after ``until``, less the lead) and one chunk at most behind.
        steady = min(self._chunk, BACKFILL_LEAD - res)
        together: dict[tuple[str, float, tuple[float, float] | None], list[SLO]] = {}
        for slo in slos:
            if isinstance(slo.sli, ProbeSLI) or slo.composite:
                continue
            known = self._next.get(slo.key)  # where the last full read left the cursor
            if known is not None and until - known[0] < steady:
                continue  # the usual cycle: the cursor only moved forward since
            cursor = self._store.cursor(slo.key)
            if cursor is not None and until - cursor < steady:
                continue
            oldest = backfill_start(slo, until, res) - BACKFILL_LEAD
            since = oldest if cursor is None or cursor < oldest else cursor
            if since < until and self._is_backfill(since, until, cursor, oldest):
                self.backfill.plan(slo.key, since, until)
                metric = _shared_metric(slo)
                if metric is not None and since == oldest:
                    together.setdefault((metric, since, self._hourly_span(slo, since, until)),
                                        []).append(slo)
        for members in together.values():
            for i in range(0, len(members), BACKFILL_BATCH):
                batch = _Batch(tuple(members[i:i + BACKFILL_BATCH]))
                if len(batch.members) > 1:
                    self._batches.update(dict.fromkeys((m.key for m in batch.members), batch))

    def _read_batch(self, batch: _Batch, until: float) -> None:
        """Read the backfills of ``batch`` together, once: the first of its SLOs to be
        read does it while the others wait, ``BATCHES_AT_ONCE`` batches at a time.
        A failure leaves each SLO to read on alone from its cursor, where it meets
        (and reports) the error itself."""
        with batch.lock:
            if batch.read:
                return
            batch.read = True
            for slo in batch.members:
                self._batches.pop(slo.key, None)
            locks = [self._lock(slo) for slo in sorted(batch.members, key=lambda s: s.key)]
            with self._batches_at_once:
                for lock in locks:
                    lock.acquire()
                try:
                    self._read_together(batch.members, until)
                except Exception as exc:  # each SLO's own read meets it again, reports it
                    self._log.info("backfill_shared_failed", slos=len(batch.members),
                                   error=str(exc)[:200])
                finally:
                    for lock in locks:
                        lock.release()

    def _read_together(self, slos: Sequence[SLO], until: float) -> None:
        """The backfills of ``slos`` (same metric, same span), segment by segment: one
        query per metric and chunk for all of them (``sharing``, and
        ``accounting.shared_hourly_answers`` for the hour tier), each SLO given
        exactly the series and samples its own query would return and counted and
        committed as ``_read`` does. SLOs whose read turns out to differ (a cursor
        moved since the plan) are left to read alone."""
        readings: list[_Reading] = []
        selectors: dict[str, tuple[str, ...]] = {}
        span: tuple[float, tuple[float, float] | None] | None = None
        client: accounting.Source | None = None
        for slo in slos:
            start = self._read_from(slo, until)
            if start is None:
                continue
            since, client = start
            mine = (since, self._hourly_span(slo, since, until))
            if span is None:
                span = mine
            if mine != span:
                continue
            try:
                selectors[slo.key] = accounting.plain_selectors(
                    client, slo, until, self._le_cache.setdefault(slo.key, {}))
            except (SourceError, ValueError):
                continue
            readings.append(self._reading(slo, since, client))
        if len(readings) < 2 or span is None or client is None:
            return
        texts = sorted({text for found in selectors.values() for text in found})
        for lo, hi, by_hour in _segments(span[0], until, span[1], self._chunk):
            if self._stop.is_set():
                return
            if by_hour:
                answers = accounting.shared_hourly_answers(
                    client, texts, start=lo + accounting.SAME_SAMPLE,
                    end=hi + accounting.SAME_SAMPLE)
                for reading in readings:
                    # the raw hours (resets, new series) each SLO reads on its own
                    reading.counted = _Counted(client)
                    read = _Subsets.of(reading.counted, reading.slo, until,
                                       self._le_cache.setdefault(reading.slo.key, {}))
                    self._segment(reading, read, lo, hi, by_hour=True, hourly=answers,
                                  settled=_settled(hi, until))
                continue
            shared = self._sharing.read(client, [
                sharing.Need(r.slo.key, text, lo - r.overlap, hi)
                for r in readings for text in selectors[r.slo.key]], max_span=math.inf)
            for reading in readings:
                reading.counted = _Counted(shared)
                self._segment(reading, reading.counted, lo, hi, by_hour=False,
                              settled=_settled(hi, until))
        for reading in readings:
            self._planned(reading.slo.key, until, reading.state)
            self._announced(reading.slo, until)

    def _is_backfill(self, since: float, until: float, cursor: float | None,
                     oldest: float) -> bool:
        return cursor is None or since == oldest or until - since > self._chunk

    def _announce(self, slo: SLO, since: float, until: float, cursor: float | None,
                  oldest: float) -> None:
        backfill = self._is_backfill(since, until, cursor, oldest)
        if backfill and slo.key not in self._backfilling:
            self._backfilling.add(slo.key)
            self._log.info("backfill_started", service=slo.service, slo=slo.name,
                           since=since, until=until, seconds=round(until - since))

    def _announced(self, slo: SLO, until: float) -> None:
        if slo.key in self._backfilling:
            self._backfilling.discard(slo.key)
            self._log.info("backfill_done", service=slo.service, slo=slo.name, until=until)
        self.backfill.finished(slo.key)

    def _learn(self, key: str, batch: accounting.EventBatch, until: float) -> None:
        """Note the scrape step of ``key``'s series and when the oldest live one is due."""
        self._learned(key, batch.step, batch.series, bool(batch.deltas), until)

    def _learned(self, key: str, seen: float | None, series: Mapping[str, accounting.Sample],
                 counted: bool, until: float) -> None:
        """``_learn`` of a read whose shortest step was ``seen``, that left ``series`` and
        counted events or not."""
        if seen is not None and seen > 0:
            self._step[key] = min(self._step.get(key, math.inf), seen)
        live = [ts for ts, _ in series.values() if ts >= until - LATE_LIMIT]
        step = self._step.get(key)
        if counted or seen is not None:  # something new landed
            self._misses[key] = 0
        if not self._misses.get(key):
            self._set_due(key, min(live) + step if live and step is not None else -math.inf)

    def _templated(self, slo: SLO) -> bool:
        """``_has_template(slo)``, found once per SLO (the fast path asks every second)."""
        found = self._template_of.get(slo.key)
        if found is None or found[0] is not slo:
            found = self._template_of[slo.key] = (slo, _has_template(slo))
        return found[1]

    def _lock(self, slo: SLO) -> threading.Lock:
        return self._locks.setdefault(slo.key, threading.Lock())

    def _read_from(self, slo: SLO, until: float) -> tuple[float, accounting.Source] | None:
        """Where the read of ``slo`` up to ``until`` starts (its cursor, or the oldest
        instant its period needs when the cursor is older or unset) and the
        client that reads it. None when there is nothing to read; a backfill
        is announced."""
        oldest = backfill_start(slo, until, self._store.resolution) - BACKFILL_LEAD
        cursor = self._store.cursor(slo.key)
        since = oldest if cursor is None or cursor < oldest else cursor
        if since >= until:
            return None
        self._announce(slo, since, until, cursor, oldest)
        if self._client is None:  # the daemon makes one whenever a non-probe SLO exists
            raise SourceError(f"no Prometheus client for {slo.key}")
        return since, self._client

    def _read(self, slo: SLO, until: float, source: accounting.Source | None = None,
              pending: Pending | None = None) -> bool:
        start = self._read_from(slo, until)
        if start is None:
            return True
        since, client = start
        reading = self._reading(slo, since, source or client)
        read: accounting.Source = reading.counted
        if slo.key in self._backfilling:
            read = _Subsets.of(read, slo, until, self._le_cache.setdefault(slo.key, {}))
        # The hour tier's whole hours start an hour after the one `since` lies in:
        # a read shorter than that and MIN_HOURLY_HOURS has none (a steady read).
        hourly = (self._hourly_span(slo, since, until)
                  if until - since >= (MIN_HOURLY_HOURS + 1) * accounting.HOUR else None)
        segments = _segments(since, until, hourly, self._chunk)
        if len(segments) > 1 or slo.key in self._backfilling:
            pending = None  # a backfill commits chunk by chunk, to resume where it stopped
        elif pending is not None and self._unchanged(reading, source, since, until, pending):
            return True
        for lo, hi, by_hour in segments:
            if self._stop.is_set():
                return False
            self._segment(reading, read, lo, hi, by_hour=by_hour, pending=pending,
                          settled=_settled(hi, until))
        self._planned(slo.key, until, reading.state)
        self._announced(slo, until)
        return True

    def _unchanged(self, reading: _Reading, source: accounting.Source | None, since: float,
                   until: float, pending: Pending) -> bool:
        """A steady read (one segment) that a shared answer shows has nothing newer than
        the SLO's series state: committed as its count would be (no events, the
        series as they are, the cursor and measured span moved to ``until``) without
        counting. False, with nothing done, for any other read."""
        slo = reading.slo
        # fetch_events' one chunk reaches back by the overlap
        found = self._nothing_new(slo, source, since - reading.overlap, until, reading.state)
        if found is None:
            return False
        self._commit_to(slo.key, pending, Commit(
            slo.key, {}, cursor=until, series={}, measured=(since, until)))
        self.backfill.chunk(slo.key, until - since, found)
        self._learned(slo.key, None, reading.state, False, until)
        self._planned(slo.key, until, reading.state)
        self._announced(slo, until)
        return True

    def _nothing_new(self, slo: SLO, source: accounting.Source | None, start: float,
                     until: float, state: Mapping[str, accounting.Sample]) -> int | None:
        """The samples a read of ``slo`` over ``(start, until]`` in one chunk would take
        when a shared answer gives them and none is newer than ``state`` (so counting
        them moves nothing: ``accounting.nothing_new``), else None."""
        reads = accounting.plain_reads(slo, self._le_cache.get(slo.key))
        if reads is None or not isinstance(source, sharing.SharedReads):
            return None
        found = []
        for role, selector in reads:
            series = source.answered(selector, start, until)
            if series is None:
                return None
            found.append((role, series))
        if not accounting.nothing_new(found, state):
            return None
        return sum(len(s.samples) for _, series in found for s in series)

    def _reading(self, slo: SLO, since: float, source: accounting.Source) -> _Reading:
        state = self._store.series(slo.key)
        # How far before each chunk a read reaches: to the oldest last sample
        # of a live series, so none of them skips a sample that landed late.
        overlap = since - accounting.read_start(state, since, overlap=READ_OVERLAP,
                                                late_limit=LATE_LIMIT)
        return _Reading(slo, state, overlap, _Counted(source))

    def _segment(self, reading: _Reading, read: accounting.Source, lo: float, hi: float, *,
                 by_hour: bool,
                 hourly: Mapping[str, accounting.HourlyAnswer] | None = None,
                 pending: Pending | None = None, settled: float = -math.inf) -> None:
        """Read and commit one segment of ``reading``'s SLO (``_segments``) through
        ``read``; ``hourly`` holds answers shared with other SLOs; with ``pending``
        the commit waits there (``Ingestor.flush``); ``settled`` is the commit's hint
        (``_settled``)."""
        slo = reading.slo
        le_cache = self._le_cache.setdefault(slo.key, {})
        if by_hour:
            batch = accounting.fetch_hourly_events(
                read, slo, start=lo + accounting.SAME_SAMPLE,
                end=hi + accounting.SAME_SAMPLE, series_state=reading.state,
                le_cache=le_cache, max_increase=self._max_increase, shared=hourly)
            # the raw reads after it reach back from its (newer) state
            reading.overlap = hi - accounting.read_start(
                batch.series, hi, overlap=READ_OVERLAP, late_limit=LATE_LIMIT)
        else:
            batch = accounting.fetch_events(
                read, slo,
                since=lo, until=hi,
                series_state=reading.state,
                resolution=self._store.resolution,
                overlap=reading.overlap,
                # one query per chunk: the overlap rides on the chunk it precedes
                chunk=self._chunk + reading.overlap,
                le_cache=le_cache,
                max_increase=self._max_increase,
                template_lag=self._template_lag,
            )
        self._reject(slo, batch.rejected)
        # The one write of Prometheus events, with the span the read measured.
        self._commit_to(slo.key, pending, Commit(
            slo.key, batch.deltas, cursor=batch.covered_until,
            series=_moved(batch.series, reading.state), measured=(lo, batch.covered_until),
            settled=settled))
        self.backfill.chunk(slo.key, hi - lo, reading.counted.taken())
        # A gap from an hour instant to the next sample is no scrape step: a step
        # learned from it would make the fast path read every second.
        self._learn(slo.key, replace(batch, step=None) if reading.by_hour else batch, hi)
        reading.state = batch.series  # the count's own copy: nothing else changes it
        reading.by_hour = by_hour

    def _hourly_span(self, slo: SLO, since: float, until: float) -> tuple[float, float] | None:
        """The whole hours ``[start, end)`` of ``slo``'s read over ``(since, until]`` that
        are read at hour resolution (``accounting.fetch_hourly_events``), or None.

        Only history older than ``backfill_hourly_after``, or than the SLO's
        longest window short of its period when that is longer (a burn-rate
        alert needs every bucket of its windows), and only at least
        ``MIN_HOURLY_HOURS`` of it: the rest is read sample by sample. The
        hour after the one ``since`` lies in is read sample by sample too,
        so the period's oldest edge (``BACKFILL_LEAD`` after ``since``) stays
        exact for the first 50 minutes at least; later it moves an hour at
        a time.
        """
        if not accounting.hourly_readable(slo):
            return None
        hour = accounting.HOUR
        shorter = [w for w in slo.windows if w < slo.period.longest]
        recent = max([self._hourly_after, *shorter])
        start = math.ceil((since + accounting.SAME_SAMPLE) / hour) * hour + hour
        end = math.floor((until - recent) / hour) * hour
        if end - start < MIN_HOURLY_HOURS * hour:
            return None
        return start, end

    def _reject(self, slo: SLO, rejected: Sequence[accounting.Rejection]) -> None:
        """Implausible series data is left out, logged and counted; the rest goes on."""
        for r in rejected:
            self._on_error("implausible")
            self._log.warning("series_rejected", service=slo.service, slo=slo.name,
                              series=r.series, reason=r.reason, samples=r.samples, at=r.at)


@dataclass(eq=False)
class _Batch:
    """SLOs whose backfills are read together (``Ingestor.plan_backfill``)."""

    members: tuple[SLO, ...]
    read: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _shared_metric(slo: SLO) -> str | None:
    """The metric over which ``slo``'s backfill may read with others', or None when it
    reads alone (grouped, templates, raw ratios, a selector ``matchers`` refuses)."""
    sli = slo.sli
    if slo.group_by or _has_template(slo):
        return None
    if isinstance(sli, LatencySLI):
        text = sli.histogram.text
    elif isinstance(sli, RatioSLI) and isinstance(sli.total, Selector):
        text = sli.total.text
    elif isinstance(sli, BoolGaugeSLI):
        text = sli.gauge.text
    else:
        return None
    try:
        return matchers.parse(text).metric
    except matchers.Unsupported:
        return None


@dataclass
class _Reading:
    """One SLO's read in progress: its series state and overlap move on per segment,
    ``counted`` is what it reads through (the samples it took, for progress)."""

    slo: SLO
    state: Mapping[str, accounting.Sample]
    overlap: float
    counted: _Counted
    #: the state is at hour instants (an hour-tier segment left it), not at samples
    by_hour: bool = False


class _Counted(accounting.SourceProxy):
    """A source that counts the samples read through it (backfill progress): raw
    samples, and the points of range queries (the hour tier's)."""

    def __init__(self, source: accounting.Source) -> None:
        super().__init__(source)
        self._samples = 0

    def taken(self) -> int:
        """The samples read since the last call."""
        found, self._samples = self._samples, 0
        return found

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        found = self._source.raw_samples(selector, start, end)
        self._samples += sum(len(series.samples) for series in found)
        return found

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult:
        found = self._source.query_range(promql, start, end, step, stats=stats)
        self._samples += sum(len(series.samples) for series in found.series)
        return found


class _Subsets(accounting.SourceProxy):
    """One SLO's reads where one selector is another it reads over the same span plus
    label equalities (``bad: m{job="a",code="500"}`` within ``total: m{job="a"}``,
    ``accounting.narrower_within``): the narrower is picked from the wider's raw
    samples, so each span is asked and decoded once. The wider's last answer is
    kept for its own read, which comes next with the same span; any other read
    goes to the source."""

    def __init__(self, source: accounting.Source,
                 narrower: Mapping[str, tuple[str, matchers.Selector]]) -> None:
        super().__init__(source)
        self._narrower = narrower
        self._kept: tuple[str, float, float, list[Series]] | None = None

    @classmethod
    def of(cls, source: accounting.Source, slo: SLO, at: float,
           le_cache: dict[str, str]) -> accounting.Source:
        """``source`` for ``slo``'s reads, with its narrower selectors matched locally."""
        try:
            texts = accounting.plain_selectors(source, slo, at, le_cache)
        except (SourceError, ValueError):  # its own read meets the error and reports it
            return source
        narrower = {}
        for text in texts:
            for other in texts:
                found = accounting.narrower_within(text, other)
                if found is not None:
                    narrower[text] = (other, found[1])
                    break
        return cls(source, narrower) if narrower else source

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        kept = self._kept
        if kept is not None and kept[:3] == (selector, start, end):
            return kept[3]
        found = self._narrower.get(selector)
        if found is None:
            return self._source.raw_samples(selector, start, end)
        wide, narrow = found
        answer = self._source.raw_samples(wide, start, end)
        self._kept = (wide, start, end, answer)
        try:
            return [series for series in answer if narrow.matches(series.labels)]
        except matchers.Ambiguous:
            return self._source.raw_samples(selector, start, end)


def _segments(since: float, until: float, hourly: tuple[float, float] | None,
              chunk: float) -> list[tuple[float, float, bool]]:
    """The reads of ``(since, until]``: ``(lo, hi, by_hour)``, chunks of at most
    ``chunk`` seconds read sample by sample, and the hours ``hourly`` in one
    read by hour. Those hours' reads end 1 ms before each hour boundary: a
    sample on the boundary belongs to the hour it opens. A span of more
    than one chunk is cut on multiples of ``chunk`` (``_chunks``)."""
    if hourly is None:
        return [(lo, hi, False) for lo, hi in _chunks(since, until, chunk)]
    start, end = (edge - accounting.SAME_SAMPLE for edge in hourly)
    return [*((lo, hi, False) for lo, hi in _chunks(since, start, chunk)),
            (start, end, True),
            *((lo, hi, False) for lo, hi in _chunks(end, until, chunk))]


def _settled(hi: float, until: float) -> float:
    """The ``Commit.settled`` hint of a segment of a read up to ``until`` that ends at
    ``hi``: a segment that later ones follow was read a chunk or more behind the
    present, and the samples after ``hi`` are theirs, so its buckets are settled;
    the last segment's are not."""
    return hi if hi < until else -math.inf


def _chunks(since: float, until: float, chunk: float) -> list[tuple[float, float]]:
    """``(since, until]`` in reads of at most ``chunk`` seconds. A span of more than
    one chunk is cut 1 ms before each multiple of ``chunk`` (UTC midnights for the
    default day), so each chunk of a backfill holds whole days and the store
    writes each day's block once instead of merging two halves; one chunk or
    less is one read."""
    if until - since <= chunk:  # a steady read: chunk_bounds' one span, without its lists
        return [(since, until)] if until > since else []
    edges = [since]
    k = math.floor((since + accounting.SAME_SAMPLE) / chunk) + 1
    while k * chunk - accounting.SAME_SAMPLE < until:
        edges.append(k * chunk - accounting.SAME_SAMPLE)
        k += 1
    edges.append(until)
    return [(lo, hi) for lo, hi in itertools.pairwise(edges) if hi > lo]


def _moved(series: Mapping[str, accounting.Sample],
           before: Mapping[str, accounting.Sample]) -> dict[str, accounting.Sample]:
    """The series of a batch whose last sample differs from ``before``: the store
    keeps the others as they are (a commit's series state is an upsert)."""
    return {key: last for key, last in series.items() if before.get(key) != last}


def _merged(states: Mapping[Any, Mapping[str, accounting.Sample]]
            ) -> dict[str, accounting.Sample]:
    return {k: v for state in states.values() for k, v in state.items()}


def _union(found: accounting.GroupedBatch) -> accounting.EventBatch:
    """The groups' batches as one, for what the fast path learns about steps."""
    deltas = {b: d for batch in found.groups.values() for b, d in batch.deltas.items()}
    return accounting.EventBatch(deltas=deltas, series=_merged(
        {g: b.series for g, b in found.groups.items()}), covered_until=found.covered_until,
        step=found.step)


def _has_template(slo: SLO) -> bool:
    """Whether any query of ``slo``'s SLI is a ``{{.window}}`` template."""
    sli = slo.sli
    queries = [getattr(sli, role, None) for role in ("good", "bad", "total", "query")]
    return any(isinstance(q, Template) for q in queries)


def backfill_start(slo: SLO, until: float, resolution: float) -> float:
    """The oldest instant ``slo``'s windows need at ``until``: its period's start, or
    for a calendar period early in its run, the start of its longest rolling
    window (3 days), which reaches back across the boundary."""
    start = slo.period.bounds(until, resolution)[0]
    if not isinstance(slo.period, CalendarPeriod):
        return start
    rolling = [w for w in slo.windows if w != slo.period.longest]
    return min(start, math.floor(until / resolution) * resolution + resolution
               - max(rolling, default=0.0))


def kept_history(slo: SLO) -> float:
    """How far back ``slo`` needs its events: its longest period, or for a
    calendar SLO two of them, so the last whole period stays in the store
    for its report (probe and composite events exist nowhere else)."""
    longest = slo.period.longest
    return 2.0 * longest if isinstance(slo.period, CalendarPeriod) else longest


class Pruner:
    """Deletes buckets older than every configured period plus the retention margin.

    A calendar SLO keeps its current and its whole previous period.
    """

    def __init__(self, store: EventStore, config: Config, log: Any) -> None:
        self._store = store
        longest = max((kept_history(s) for s in config.slos), default=0.0)
        self._keep = longest + config.storage.retention_margin + BACKFILL_LEAD
        self._log = log
        self._last = -math.inf

    def maybe_prune(self, now: float) -> int:
        """Prune at most once per ``PRUNE_EVERY``; returns the buckets deleted."""
        if now - self._last < PRUNE_EVERY:
            return 0
        self._last = now
        removed = self._store.prune(before=now - self._keep)
        if removed.buckets:
            self._log.info("store_pruned", buckets=removed.buckets)
        for key in removed.slos:
            self._log.warning("slo_history_deleted", **SLOId.parse(key).log_fields,
                              reason="retired longer than the retention")
        return removed.buckets
