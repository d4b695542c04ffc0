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
* ``Ingestor.catch_up`` is the fast path: only the samples newer than each
  live series' last one, committed without moving the cursor, so a ratio
  SLO's status can follow new samples between full cycles. It never runs
  beside a read of the same SLO (one lock per SLO; the fast path skips
  when the lock is taken).
* ``Pruner`` removes buckets older than the longest period plus the margin
  (a calendar SLO keeps its previous period too, for its report).

Must not compute windows or budgets (``slomath``), decide an SLO's status or
log its query failures (``engine``), or record probe results (``recorder``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from slo_exporter import accounting
from slo_exporter.errors import SourceError
from slo_exporter.model import (
    SLO,
    CalendarPeriod,
    Config,
    ProbeSLI,
    PrometheusConfig,
    SLOId,
    Template,
)
from slo_exporter.store import EventStore

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
#: the longest wait after fast reads that found nothing, while no scrape
#: step is known yet (once known, the step is the longest)
MAX_BACKOFF = 8.0


def adopt_definitions(store: EventStore, slos: Sequence[SLO], log: Any, at: float) -> None:
    """Match the stored history of each SLO name to its current definition."""
    retire_removed(store, [slo.key for slo in slos], log, at)
    for slo in slos:
        if slo.composite:  # derived from its components: nothing of its own is stored
            continue
        stored = store.fingerprint(slo.key)
        fingerprint = slo.source_fingerprint
        changed = stored is not None and stored != fingerprint
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
    ) -> None:
        self._store = store
        self._client = client
        self._chunk = prometheus.backfill_chunk
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
        # fast reads in a row that found nothing: each waits twice as long
        self._misses: dict[str, int] = {}

    def read(self, slo: SLO, until: float) -> bool:
        """Commit ``slo``'s events up to ``until``; False when stopped before.

        Raises ``SourceError`` when Prometheus fails; every chunk committed
        before the failure stays, with its cursor.
        """
        with self._lock(slo):
            return self._read(slo, until)

    def catch_up(self, slo: SLO, until: float) -> bool:
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
        target that stopped costs a few reads a step.
        The cursor and the measured spans stay: the next full read reaches
        back over what this one read, and the series state keeps it from
        counting twice. Raises like ``read``.
        """
        lock = self._lock(slo)
        if not lock.acquire(blocking=False):
            return False
        try:
            cursor = self._store.cursor(slo.key)
            if (cursor is None or until - cursor > CATCH_UP_LIMIT or _has_template(slo)
                    or slo.key in self._backfilling or self._client is None
                    or until < self._due.get(slo.key, -math.inf)):
                return False
            state = self._store.series(slo.key)
            since = accounting.read_start(state, until, overlap=0.0, late_limit=LATE_LIMIT)
            if since >= until or self._stop.is_set():
                return False
            batch = accounting.fetch_events(
                self._client, slo, since=since, until=until, series_state=state,
                resolution=self._store.resolution, overlap=0.0, chunk=until - since,
                le_cache=self._le_cache.setdefault(slo.key, {}),
                max_increase=self._max_increase,
            )
            self._reject(slo, batch.rejected)
            if not batch.deltas and dict(batch.series) == state:
                misses = self._misses.get(slo.key, 0)
                self._misses[slo.key] = misses + 1
                wait = min(2.0 ** misses, self._step.get(slo.key, MAX_BACKOFF))
                self._due[slo.key] = max(self._due.get(slo.key, -math.inf), until + wait)
                return False
            self._store.commit(slo.key, batch.deltas, series=batch.series)
            self._learn(slo.key, batch, until)
            return True
        finally:
            lock.release()

    def _learn(self, key: str, batch: accounting.EventBatch, until: float) -> None:
        """Note the scrape step of ``key``'s series and when the oldest live one is due."""
        if batch.step is not None and batch.step > 0:
            self._step[key] = min(self._step.get(key, math.inf), batch.step)
        live = [ts for ts, _ in batch.series.values() if ts >= until - LATE_LIMIT]
        step = self._step.get(key)
        if batch.deltas or batch.step is not None:  # something new landed
            self._misses[key] = 0
        if not self._misses.get(key):
            self._due[key] = min(live) + step if live and step is not None else -math.inf

    def _lock(self, slo: SLO) -> threading.Lock:
        return self._locks.setdefault(slo.key, threading.Lock())

    def _read(self, slo: SLO, until: float) -> bool:
        res = self._store.resolution
        oldest = backfill_start(slo, until, res) - BACKFILL_LEAD
        cursor = self._store.cursor(slo.key)
        since = oldest if cursor is None or cursor < oldest else cursor
        if since >= until:
            return True
        backfill = cursor is None or since == oldest or until - since > self._chunk
        if backfill and slo.key not in self._backfilling:
            self._backfilling.add(slo.key)
            self._log.info("backfill_started", service=slo.service, slo=slo.name,
                           since=since, until=until, seconds=round(until - since))
        if self._client is None:  # the daemon makes one whenever a non-probe SLO exists
            raise SourceError(f"no Prometheus client for {slo.key}")
        state = self._store.series(slo.key)
        # How far before each chunk a read reaches: to the oldest last sample
        # of a live series, so none of them skips a sample that landed late.
        overlap = since - accounting.read_start(state, since, overlap=READ_OVERLAP,
                                                late_limit=LATE_LIMIT)
        for lo, hi in accounting.chunk_bounds(since, until, self._chunk):
            if self._stop.is_set():
                return False
            batch = accounting.fetch_events(
                self._client, slo,
                since=lo, until=hi,
                series_state=state,
                resolution=res,
                overlap=overlap,
                # one query per chunk: the overlap rides on the chunk it precedes
                chunk=self._chunk + overlap,
                le_cache=self._le_cache.setdefault(slo.key, {}),
                max_increase=self._max_increase,
                template_lag=self._template_lag,
            )
            self._reject(slo, batch.rejected)
            self._commit(slo, lo, batch)
            self._learn(slo.key, batch, hi)
            state = dict(batch.series)
        if slo.key in self._backfilling:
            self._backfilling.discard(slo.key)
            self._log.info("backfill_done", service=slo.service, slo=slo.name, until=until)
        return True

    def _reject(self, slo: SLO, rejected: Sequence[accounting.Rejection]) -> None:
        """Implausible series data is left out, logged and counted; the rest goes on."""
        for r in rejected:
            self._on_error("implausible")
            self._log.warning("series_rejected", service=slo.service, slo=slo.name,
                              series=r.series, reason=r.reason, samples=r.samples, at=r.at)

    def _commit(self, slo: SLO, since: float, batch: accounting.EventBatch) -> None:
        # The one write of Prometheus events, with the span the read measured.
        self._store.commit(slo.key, batch.deltas, cursor=batch.covered_until,
                           series=batch.series, measured=(since, batch.covered_until))


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
