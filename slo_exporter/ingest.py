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
from slo_exporter.model import SLO, CalendarPeriod, Config, ProbeSLI, PrometheusConfig, SLOId
from slo_exporter.store import EventStore

#: how often old buckets are pruned
PRUNE_EVERY = 3600.0
#: a backfill starts this far before the oldest window so that every series
#: has a baseline sample before the window opens
BACKFILL_LEAD = 600.0


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
        self._overlap = prometheus.query_delay
        self._max_increase = prometheus.max_counter_increase
        self._on_error = on_error
        self._stop = stop
        self._log = log
        # le label text per latency SLO, discovered once instead of every cycle
        self._le_cache: dict[str, dict[str, str]] = {s.key: {} for s in slos}
        # SLOs whose backfill was announced and has not finished yet
        self._backfilling: set[str] = set()

    def read(self, slo: SLO, until: float) -> bool:
        """Commit ``slo``'s events up to ``until``; False when stopped before.

        Raises ``SourceError`` when Prometheus fails; every chunk committed
        before the failure stays, with its cursor.
        """
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
        for lo, hi in accounting.chunk_bounds(since, until, self._chunk):
            if self._stop.is_set():
                return False
            batch = accounting.fetch_events(
                self._client, slo,
                since=lo, until=hi,
                series_state=state,
                resolution=res,
                overlap=self._overlap,
                # one query per chunk: the overlap rides on the chunk it precedes
                chunk=self._chunk + self._overlap,
                le_cache=self._le_cache.setdefault(slo.key, {}),
                max_increase=self._max_increase,
            )
            self._reject(slo, batch.rejected)
            self._commit(slo, lo, batch)
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
