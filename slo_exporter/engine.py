"""One evaluation cycle: read new events, store them, sum windows, swap a snapshot.

The engine owns the cycle and nothing else. It asks Prometheus only for the
events since each SLO's cursor (a whole backfill after a cold start or a gap),
commits them to the event store in one transaction per SLO, then computes
every window from the store with the pure SLO math and publishes an
immutable snapshot. A failing SLO is recorded, counted and logged; it never
stops the others or the daemon. Readers of the snapshot never wait on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import structlog

from slo_exporter import accounting, slomath
from slo_exporter.errors import SloExporterError, SourceError
from slo_exporter.model import SLO, Config, ProbeSLI
from slo_exporter.snapshot import SLOStatus, Snapshot
from slo_exporter.store import EventStore

#: how often old buckets are pruned
PRUNE_EVERY = 3600.0
#: a backfill starts this far before the oldest window so that every series
#: has a baseline sample before the window opens
BACKFILL_LEAD = 600.0


class ErrorCounter(Protocol):
    def __call__(self, reason: str, /) -> None: ...


class Engine:
    """Evaluates every configured SLO and keeps the latest snapshot."""

    def __init__(
        self,
        config: Config,
        store: EventStore,
        client: accounting.Source | None,
        *,
        clock: Callable[[], float] = time.time,
        on_error: ErrorCounter | None = None,
        probe_last_seen: Callable[[str], float | None] | None = None,
        max_workers: int = 8,
        logger: Any = None,
    ) -> None:
        self._config = config
        self._store = store
        self._client = client
        self._clock = clock
        self._on_error = on_error or (lambda reason: None)
        self._probe_last_seen = probe_last_seen or (lambda key: None)
        self._log = logger or structlog.get_logger("slo_exporter.engine")
        self._max_workers = max(1, max_workers)
        self._snapshot = Snapshot(slos=tuple(SLOStatus(slo=s) for s in config.slos))
        self._last_prune = 0.0
        # le label text per latency SLO, discovered once instead of every cycle
        self._le_cache: dict[str, dict[str, str]] = {s.key: {} for s in config.slos}
        self._lock = threading.Lock()  # one cycle at a time, whatever calls it
        self._swap_lock = threading.Lock()  # full cycles and probe refreshes swap in turn
        self._probe_slos = tuple(s for s in config.slos if isinstance(s.sli, ProbeSLI))
        self._prepare_store()

    # ------------------------------------------------------------------ API

    @property
    def snapshot(self) -> Snapshot:
        """The latest complete snapshot; a plain reference read, never blocks."""
        return self._snapshot

    def evaluate(self) -> Snapshot:
        """Run one cycle for every SLO and swap in the new snapshot."""
        with self._lock:
            now = self._clock()
            slos = self._config.slos
            if len(slos) <= 1 or self._max_workers == 1:
                statuses = [self._evaluate_slo(slo, now) for slo in slos]
            else:
                with ThreadPoolExecutor(
                    max_workers=min(self._max_workers, len(slos)),
                    thread_name_prefix="slo-eval",
                ) as pool:
                    statuses = list(pool.map(lambda s: self._evaluate_slo(s, now), slos))
            snapshot = Snapshot(slos=tuple(statuses), taken_at=now, complete=True)
            with self._swap_lock:
                self._snapshot = snapshot
            self._maybe_prune(now)
            return snapshot

    def refresh_probes(self) -> Snapshot:
        """Recompute only the probe SLOs and swap them into the current snapshot.

        Probe SLOs read nothing but the store's in-memory index, so they can
        be refreshed every second; a page on a probe SLO then waits for the
        next probe, not for the next full cycle over Prometheus.
        """
        now = self._clock()
        fresh = {s.key: self._evaluate_slo(s, now) for s in self._probe_slos}
        with self._swap_lock:
            current = self._snapshot
            if current.complete and fresh:
                self._snapshot = Snapshot(
                    slos=tuple(fresh.get(st.slo.key, st) for st in current.slos),
                    taken_at=current.taken_at, complete=True,
                )
            return self._snapshot

    @property
    def has_probes(self) -> bool:
        return bool(self._probe_slos)

    def budget_history(self, slo: SLO, points: int = 48) -> list[tuple[float, float]]:
        """Remaining error budget at up to ``points`` past instants, from the store.

        The instants span the stored history (at most one period), so a young
        store still draws a curve. Computed from stored buckets rather than
        kept in memory, so a restart keeps the history.
        """
        status = next((s for s in self._snapshot.slos if s.slo.key == slo.key), None)
        first = self._store.first_bucket(slo.key)
        if status is None or status.evaluated_at is None or first is None:
            return []
        res = self._store.resolution
        end = slo.period.bounds(status.evaluated_at, res)[1]
        period = slo.period.longest
        span = min(period, end - first - res)
        step = max(res, (span // max(points - 1, 1)) // res * res)
        out: list[tuple[float, float]] = []
        for i in range(points - 1, -1, -1):
            at = end - i * step
            if at <= first:
                continue
            remaining = slomath.budget_remaining(
                self._store.sum(slo.key, at - period, at), slo.objective)
            if remaining is not None:
                out.append((at, remaining))
        return out

    # ------------------------------------------------------------ internals

    def _prepare_store(self) -> None:
        keys = [slo.key for slo in self._config.slos]
        self._store.forget(keep=keys)
        for slo in self._config.slos:
            if self._store.ensure_fingerprint(slo.key, slo.source_fingerprint):
                self._log.info("slo_definition_changed", service=slo.service, slo=slo.name)

    def _evaluate_slo(self, slo: SLO, now: float) -> SLOStatus:
        error: str | None = None
        if isinstance(slo.sli, ProbeSLI):
            at = now
            last = self._probe_last_seen(slo.key)
            up = last is not None and now - last <= 2 * slo.sli.interval + slo.sli.timeout
            if not up:
                error = "no probe result yet" if last is None else "probes are late"
        else:
            at = now - self._config.prometheus.query_delay
            try:
                self._ingest(slo, at)
                up = True
            except SourceError as exc:
                up, error = False, str(exc)
                self._on_error(exc.reason)
                self._log.warning(
                    "query_failed", service=slo.service, slo=slo.name,
                    reason=exc.reason, error=str(exc),
                )
            except SloExporterError as exc:
                up, error = False, str(exc)
                self._on_error("store")
                self._log.error("store_failed", service=slo.service, slo=slo.name, error=str(exc))
            except Exception as exc:  # one broken SLO must not stop the others
                up, error = False, f"internal error: {exc!r}"
                self._on_error("internal")
                self._log.exception("evaluation_failed", service=slo.service, slo=slo.name)
        try:
            return self._status(slo, at, up, error)
        except Exception as exc:  # same isolation for the read side
            self._on_error("store")
            self._log.exception("evaluation_failed", service=slo.service, slo=slo.name)
            return SLOStatus(slo=slo, up=False, error=f"internal error: {exc!r}")

    def _ingest(self, slo: SLO, until: float) -> None:
        res = self._store.resolution
        window_start = slo.period.bounds(until, res)[0]
        oldest = window_start - BACKFILL_LEAD
        cursor = self._store.cursor(slo.key)
        since = oldest if cursor is None or cursor < oldest else cursor
        if since >= until:
            return
        if cursor is None or since == oldest:
            self._log.info(
                "backfill_started", service=slo.service, slo=slo.name,
                since=since, until=until, seconds=round(until - since),
            )
        if self._client is None:  # the daemon makes one whenever a non-probe SLO exists
            raise SourceError(f"no Prometheus client for {slo.key}")
        batch = accounting.fetch_events(
            self._client, slo,
            since=since, until=until,
            series_state=self._store.series(slo.key),
            resolution=res,
            overlap=self._config.prometheus.query_delay,
            chunk=self._config.prometheus.backfill_chunk,
            le_cache=self._le_cache[slo.key],
        )
        self._store.commit(slo.key, batch.deltas, cursor=batch.covered_until, series=batch.series)

    def _status(self, slo: SLO, at: float, up: bool, error: str | None) -> SLOStatus:
        end = slo.period.bounds(at, self._store.resolution)[1]
        period = slo.period.longest
        counts: Mapping[float, slomath.Counts] = self._store.sums(
            slo.key, end, slomath.required_windows(period, slo.windows))
        windows, budget, alerts = slomath.evaluate(slo.objective, period, slo.windows, counts)
        return SLOStatus(
            slo=slo, windows=windows, budget_remaining=budget, alerts=alerts,
            up=up, evaluated_at=at, error=error,
        )

    def _maybe_prune(self, now: float) -> None:
        if now - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = now
        keep = self._config.longest_window + self._config.storage.retention_margin
        removed = self._store.prune(before=now - keep - BACKFILL_LEAD)
        if removed:
            self._log.info("store_pruned", buckets=removed)

