"""Fire every probe on its own interval, with jitter, on a bounded worker pool.

Owns the timing of probes: one timer thread keeps a heap of next-fire times
(cheap for thousands of targets, unlike one scheduler job per target) and
hands due probes to a bounded ``ThreadPoolExecutor``. Each target starts at a
random offset within its interval so that targets sharing an interval spread
out, and then keeps that phase. A target still running when it is due again
is skipped and counted, never run twice at once. When every worker is busy
the timer waits for one to free up; a target that fell a whole interval or
more behind skips the missed runs (counted) rather than bursting.

It must not interpret results: ``on_result`` gets every ``ProbeResult``
together with the wall-clock time the probe started, and decides what to
record. It logs ``probe_failed`` when a target starts failing (or its reason
changes) and ``probe_recovered`` when it succeeds again, not every failure.
It must not block on a probe: probes bound themselves by their timeout.
"""

from __future__ import annotations

import heapq
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import structlog

from slo_exporter import model
from slo_exporter.probes.result import Clock, ProbeResult
from slo_exporter.probes.runner import run_probe

OnResult = Callable[[str, model.ProbeSLI, ProbeResult, float], None]
Runner = Callable[[model.ProbeSLI], ProbeResult]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SchedulerStats:
    """Counters since start; each is monotonic."""

    started: int  # probes handed to a worker
    completed: int  # probes whose result reached on_result
    skipped_overlap: int  # due while the same target was still running
    skipped_behind: int  # runs dropped because the scheduler fell an interval behind
    callback_errors: int  # on_result raised
    in_flight: int  # probes running or queued now


@dataclass
class _Target:
    key: str
    sli: model.ProbeSLI
    running: bool = False
    last_reason: str | None = None  # None until the first result


class ProbeScheduler:
    """Run each ``(slo_key, sli)`` every ``sli.interval`` seconds until stopped.

    ``runner`` runs one probe (``run_probe`` by default); tests pass a plain
    function to drive timing without sockets.
    """

    def __init__(
        self,
        slis: Sequence[tuple[str, model.ProbeSLI]],
        on_result: OnResult,
        *,
        max_workers: int = 32,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
        rng: random.Random | None = None,
        runner: Runner | None = None,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        for key, sli in slis:
            if not sli.interval > 0:
                raise ValueError(f"probe {key!r}: interval must be positive, got {sli.interval}")
        self._targets = [_Target(key, sli) for key, sli in slis]
        self._on_result = on_result
        self._max_workers = max_workers
        self._clock = clock
        self._wall = wall
        self._rng = rng if rng is not None else random.Random()
        self._run = runner if runner is not None else run_probe
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._heap: list[tuple[float, int]] = []
        self._in_flight = 0
        self._started = 0
        self._completed = 0
        self._skipped_overlap = 0
        self._skipped_behind = 0
        self._callback_errors = 0

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the timer thread; each target first fires at a random point in its interval."""
        with self._cond:
            if self._thread is not None:
                raise RuntimeError("ProbeScheduler.start() called twice")
            now = self._clock()
            self._heap = [
                (now + self._rng.uniform(0.0, t.sli.interval), i)
                for i, t in enumerate(self._targets)
            ]
            heapq.heapify(self._heap)
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="probe")
            self._thread = threading.Thread(target=self._loop, name="probe-timer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop firing, wait up to ``timeout`` s for running probes; True if all finished."""
        end = self._clock() + timeout
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(max(0.0, end - self._clock()))
        with self._cond:
            while self._in_flight:
                left = end - self._clock()
                if left <= 0:
                    break
                self._cond.wait(left)
            clean = self._in_flight == 0
        if self._pool is not None:
            # Probes bound themselves by their timeout; never block shutdown on one.
            self._pool.shutdown(wait=False, cancel_futures=True)
        return clean

    def stats(self) -> SchedulerStats:
        with self._cond:
            return SchedulerStats(
                started=self._started,
                completed=self._completed,
                skipped_overlap=self._skipped_overlap,
                skipped_behind=self._skipped_behind,
                callback_errors=self._callback_errors,
                in_flight=self._in_flight,
            )

    # --------------------------------------------------------------- timer

    def _loop(self) -> None:
        cond = self._cond
        with cond:
            while not self._stopping:
                if not self._heap:
                    cond.wait()
                    continue
                due, index = self._heap[0]
                now = self._clock()
                if due > now:
                    cond.wait(due - now)
                    continue
                if self._in_flight >= self._max_workers:
                    # The pool is full: wait for a free worker instead of queueing
                    # without bound. A worker finishing notifies the condition.
                    cond.wait(0.05)
                    continue
                target = self._targets[index]
                interval = target.sli.interval
                following = due + interval
                if following <= now:
                    missed = math.ceil((now - following) / interval + 1e-9)
                    self._skipped_behind += missed
                    following += missed * interval
                heapq.heapreplace(self._heap, (following, index))
                if target.running:
                    self._skipped_overlap += 1
                    continue
                target.running = True
                self._in_flight += 1
                self._started += 1
                assert self._pool is not None
                self._pool.submit(self._probe, target)

    def _probe(self, target: _Target) -> None:
        started_at = self._wall()
        ok = False
        try:
            result = self._run(target.sli)
            self._log_transition(target, result)
            self._on_result(target.key, target.sli, result, started_at)
            ok = True
        except Exception:
            log.exception("probe_callback_failed", slo=target.key)
        finally:
            with self._cond:
                target.running = False
                self._in_flight -= 1
                self._completed += 1
                if not ok:
                    self._callback_errors += 1
                # Wake the timer only when it may be waiting for this worker.
                if self._stopping or self._in_flight == self._max_workers - 1:
                    self._cond.notify_all()

    @staticmethod
    def _log_transition(target: _Target, result: ProbeResult) -> None:
        """Log when a target starts failing, changes reason, or recovers.

        Logging every failure of thousands of targets would drown the log;
        transitions say the same with a bounded volume. Only this target's
        worker touches ``last_reason``, never two at once.
        """
        previous, target.last_reason = target.last_reason, result.reason
        if result.reason == previous:
            return
        fields = {
            "slo": target.key,
            "module": target.sli.module,
            "instance": target.sli.instance,
            "duration": round(result.duration, 6),
        }
        if not result.success:
            log.warning("probe_failed", reason=result.reason, detail=result.detail, **fields)
        elif previous is not None:
            log.info("probe_recovered", previous_reason=previous, **fields)
