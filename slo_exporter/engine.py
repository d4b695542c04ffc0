"""The evaluation cycle: ingest, compute every SLO's status, swap a snapshot.

The engine owns the cycle and nothing else. A full cycle (``evaluate``) has
the ingester read each Prometheus SLO's new events into the store, computes
every SLO's windows, budget and budget history from the store with the pure
SLO math, and swaps in an immutable snapshot. ``refresh_probes`` recomputes
only the probe SLOs, whose events the probe recorder writes.

Ordering rules of the swap: a status is only ever replaced by one that
describes the same or a later instant (a full cycle that started before a
probe refresh never puts older probe statuses back), and the engine's clock
never steps back, so ``slo_last_evaluation_timestamp_seconds`` does not.

A failing SLO is recorded, counted and logged when its state changes (then
reminded every ``REMIND_EVERY``); it never stops the others or the daemon.
SLOs run on one thread pool kept for the engine's life, so per-thread
Prometheus sessions and their connections are reused across cycles.

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
from dataclasses import dataclass
from typing import Any

import structlog

from slo_exporter import accounting, slomath
from slo_exporter.errors import QueryCancelled, SloExporterError, SourceError
from slo_exporter.history import budget_history
from slo_exporter.ingest import Ingestor, Pruner, adopt_definitions
from slo_exporter.model import SLO, Config, ProbeSLI
from slo_exporter.snapshot import BudgetHistory, SLOStatus, Snapshot
from slo_exporter.store import EventStore

#: a failure that lasts is logged again this often (``query_still_failing``)
REMIND_EVERY = 600.0
#: error text in log lines is cut to this many characters
ERROR_TEXT_LIMIT = 160


#: counts one failure under its reason (``slo_exporter_query_errors_total``)
ErrorCounter = Callable[[str], None]


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
        self._snapshot = Snapshot(slos=tuple(SLOStatus(slo=s) for s in config.slos))
        self._lock = threading.Lock()  # one cycle at a time, whatever calls it
        self._swap_lock = threading.Lock()  # full cycles and probe refreshes swap in turn
        self._clock_lock = threading.Lock()
        self._last_now = -math.inf
        self._probe_slos = tuple(s for s in config.slos if isinstance(s.sli, ProbeSLI))
        self._failures = FailureLog(self._log)
        self._ingestor = Ingestor(store, client, config.prometheus, config.slos,
                                  stop=self._stop, log=self._log, on_error=self._on_error)
        self._pruner = Pruner(store, config, self._log)
        # a store error fails the build here
        adopt_definitions(store, config.slos, self._log, at=self._clock())
        workers = min(max(1, max_workers), len(config.slos))
        self._pool = (ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slo-eval")
                      if workers > 1 else None)
        self._closed = False

    # ------------------------------------------------------------------ API

    @property
    def snapshot(self) -> Snapshot:
        """The latest complete snapshot; a plain reference read, never blocks."""
        return self._snapshot

    def evaluate(self) -> Snapshot:
        """Run one cycle for every SLO and swap in the new snapshot."""
        with self._lock:
            now = self._now()
            current = {st.slo.key: st for st in self._snapshot.slos}
            statuses = self._map(
                lambda slo: self._evaluate_slo(slo, now, current.get(slo.key)), self._config.slos)
            fresh = {s.slo.key: s for s in statuses if s is not None}
            finished = not self._stop.is_set() and len(fresh) == len(self._config.slos)
            snapshot = self._swap(fresh, taken_at=now, complete=finished)
            if not self._stop.is_set():
                self._pruner.maybe_prune(now)
            return snapshot

    def refresh_probes(self) -> Snapshot:
        """Recompute only the probe SLOs and swap them into the current snapshot.

        Probe SLOs read nothing but the store's in-memory index, so they can
        be refreshed every second; a page on a probe SLO then waits for the
        next probe, not for the next full cycle over Prometheus.
        """
        if not self._snapshot.complete:  # nothing to merge into before the first cycle
            return self._snapshot
        current = {st.slo.key: st for st in self._snapshot.slos}
        fresh = {s.key: self._probe_status(s, current.get(s.key)) for s in self._probe_slos}
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

    def _map(
        self, fn: Callable[[SLO], SLOStatus | None], slos: Sequence[SLO]
    ) -> list[SLOStatus | None]:
        if self._pool is None or self._closed or len(slos) <= 1:
            return [fn(slo) for slo in slos]
        return list(self._pool.map(fn, slos))

    def _swap(
        self, fresh: Mapping[str, SLOStatus], *, taken_at: float | None, complete: bool
    ) -> Snapshot:
        with self._swap_lock:
            current = self._snapshot
            if fresh or taken_at is not None:
                self._snapshot = Snapshot(
                    slos=tuple(_newer(st, fresh.get(st.slo.key)) for st in current.slos),
                    taken_at=current.taken_at if taken_at is None
                    else max(taken_at, current.taken_at),
                    complete=complete or current.complete,
                )
            return self._snapshot

    def _evaluate_slo(self, slo: SLO, now: float, current: SLOStatus | None) -> SLOStatus | None:
        """The SLO's new status, or None when stopped before it was read."""
        if self._stop.is_set():
            return None
        if isinstance(slo.sli, ProbeSLI):
            return self._probe_status(slo, current)
        at = now - self._config.prometheus.query_delay
        try:
            if not self._ingestor.read(slo, at):
                return None
        except QueryCancelled:
            return None  # a shutdown, not a failure: the SLO keeps its last status
        except SourceError as exc:
            self._on_error(exc.reason)
            self._failures.failed(slo, "query", exc.reason, str(exc), at)
            return self._status(slo, at, up=False, error=str(exc))
        except SloExporterError as exc:
            self._on_error("store")
            self._failures.failed(slo, "store", "store", str(exc), at)
            return self._status(slo, at, up=False, error=str(exc))
        except Exception as exc:  # one broken SLO must not stop the others
            self._on_error("internal")
            self._failures.failed(slo, "evaluation", "internal", repr(exc), at, exc_info=True)
            return self._status(slo, at, up=False, error=f"internal error: {exc!r}")
        # A history drawn while the source failed may miss events read since.
        previous = current.budget_history if current is not None and current.up else None
        return self._status(slo, at, up=True, error=None, healthy=True, previous=previous)

    def _probe_status(self, slo: SLO, current: SLOStatus | None) -> SLOStatus:
        assert isinstance(slo.sli, ProbeSLI)
        at = self._now()
        # A failed write is the recorder's to log; the status only shows it.
        error = self._probe_fault(slo.key)
        if error is None:
            last = self._probe_last_seen(slo.key)
            if last is None:
                error = "no probe result yet"
            elif at - last > 2 * slo.sli.interval + slo.sli.timeout:
                error = "probes are late"
        # Probe events only ever land at the present, so past points stay valid.
        return self._status(slo, at, up=error is None, error=error, healthy=True,
                            previous=current.budget_history if current is not None else None)

    def _status(
        self, slo: SLO, at: float, *, up: bool, error: str | None, healthy: bool = False,
        previous: BudgetHistory | None = None,
    ) -> SLOStatus:
        """The SLO's values at ``at``; ``healthy`` ends a logged failure."""
        try:
            status = self._compute(slo, at, up, error, previous)
        except Exception as exc:  # same isolation for the read side
            self._on_error("store")
            self._failures.failed(slo, "evaluation", "internal", repr(exc), at, exc_info=True)
            return SLOStatus(slo=slo, up=False, evaluated_at=at,
                             error=f"internal error: {exc!r}")
        if healthy:
            self._failures.recovered(slo, at)
        return status

    def _compute(
        self, slo: SLO, at: float, up: bool, error: str | None, previous: BudgetHistory | None
    ) -> SLOStatus:
        end = slo.period.bounds(at, self._store.resolution)[1]
        period = slo.period.longest
        counts: Mapping[float, slomath.Counts] = self._store.sums(
            slo.key, end, slomath.required_windows(period, slo.windows))
        windows, budget, alerts = slomath.evaluate(slo.objective, period, slo.windows, counts)
        # How late an event may still land in a past bucket: a Prometheus
        # sample within the read overlap, a probe result within its timeout.
        settle = (slo.sli.timeout if isinstance(slo.sli, ProbeSLI)
                  else self._config.prometheus.query_delay)
        history = budget_history(self._store, slo, at, budget, settle=settle, previous=previous)
        return SLOStatus(
            slo=slo, windows=windows, budget_remaining=budget, alerts=alerts,
            up=up, evaluated_at=at, error=error, budget_history=history,
        )


def _newer(current: SLOStatus, new: SLOStatus | None) -> SLOStatus:
    """``new`` unless it describes an earlier instant than ``current``."""
    if new is None:
        return current
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
