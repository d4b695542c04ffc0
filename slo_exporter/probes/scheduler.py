"""Fire every probe on its own interval, with jitter, on a bounded worker pool.

Owns the timing of probes: one timer thread keeps a heap of next-fire times
(cheap for thousands of targets, unlike one scheduler job per target) and
hands due probes to a bounded ``ThreadPoolExecutor``. Each target starts at a
random offset within its interval so that targets sharing an interval spread
out, and then keeps that phase. A target still running when it is due again
is skipped and counted, never run twice at once. When every worker is busy
the timer waits for one to free up; a target that fell a whole interval or
more behind skips the missed runs (counted) rather than bursting.

A probe the timer could hand to a worker only later than its interval (or
its timeout, if longer) after it was due is not run: the daemon is saturated
and its verdict would say more about the daemon than about the target. It is
reported as a ``probe_late`` self error instead.

It must not interpret results: ``on_result`` gets every ``ProbeResult``
together with the wall-clock time the probe started, and decides what to
record (``is_good`` says None for self errors: not an event). It logs per
target on a change of state, not every probe: ``probe_failed`` when a target
starts failing or its reason changes, ``probe_skipped`` when the daemon's own
failure (``result.self_error``) starts, ``probe_recovered`` when it succeeds
again; while a state lasts, ``probe_still_failing`` / ``probe_still_skipped``
every ``remind_every`` seconds. Every event carries ``service`` and ``slo``.
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
from slo_exporter.probes.runner import Prober, instance

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


#: seconds between reminders that a target is still failing
REMIND_EVERY = 300.0
#: a probe is never called late for starting less than this after it was due
MIN_LATE = 1.0


@dataclass
class _Target:
    key: str
    sli: model.ProbeSLI
    running: bool = False
    last_reason: str | None = None  # None until the first result
    since: float = 0.0  # when last_reason began (scheduler clock)
    logged: float = 0.0  # when this state was last logged
    repeats: int = 0  # results in this state since it began

    @property
    def names(self) -> dict[str, str]:
        return model.SLOId.parse(self.key).log_fields


class ProbeScheduler:
    """Run each ``(slo_key, sli)`` every ``sli.interval`` seconds until stopped.

    ``runner`` runs one probe (a ``Prober`` of this scheduler's own by
    default, so a scheduler built on reload reads TLS files afresh); tests
    pass a plain function to drive timing without sockets.
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
        remind_every: float = REMIND_EVERY,
        min_late: float = MIN_LATE,
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
        self._runner = runner
        self._prober = Prober() if runner is None else None
        self._remind_every = remind_every
        self._min_late = min_late
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._heap: list[tuple[float, int]] = []
        # handed to the pool, not yet taken by a worker; popping is atomic
        self._pending: dict[object, _Target] = {}
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
                token = object()
                self._pending[token] = target
                try:
                    self._pool.submit(self._probe, target, due, token)
                except RuntimeError as exc:
                    self._worker_not_started(target, token, exc)

    def _worker_not_started(self, target: _Target, token: object, exc: RuntimeError) -> None:
        """The pool could not start a worker thread (the timer holds ``_cond``).

        The work item may sit queued already; whoever pops ``token`` first
        owns the run, so it happens once or is reported here as a self error,
        and the timer thread lives on either way.
        """
        if self._pending.pop(token, None) is None:
            return  # a worker took it after all
        target.running = False
        self._in_flight -= 1
        self._started -= 1
        if self._stopping:
            return  # the pool is shut down: not an error
        result = ProbeResult(False, 0.0, "resource_exhausted", f"no probe worker: {exc}")
        self._cond.release()  # on_result may write to disk: never under the timer's lock
        try:
            self._report(target, result, self._wall())
        finally:
            self._cond.acquire()
        self._cond.wait(0.1)  # give the system a moment before the next try

    def _probe(self, target: _Target, due: float, token: object) -> None:
        if self._pending.pop(token, None) is None:
            return  # given up by the timer when this worker could not start
        started_at = self._wall()
        ok = False
        try:
            lag = self._clock() - due
            sli = target.sli
            if lag > max(self._min_late, sli.interval, sli.timeout):
                result = ProbeResult(
                    False, 0.0, "probe_late",
                    f"started {lag:.3f}s after it was due: the probe pool is saturated",
                )
            elif self._prober is not None:
                result = self._prober.run(sli, target.key)
            else:
                assert self._runner is not None
                result = self._runner(sli)
            ok = self._report(target, result, started_at)
        except Exception:
            log.exception("probe_callback_failed", **target.names)
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

    def _report(self, target: _Target, result: ProbeResult, started_at: float) -> bool:
        """Log and hand on one result; False if ``on_result`` raised."""
        try:
            self._log_transition(target, result)
            self._on_result(target.key, target.sli, result, started_at)
        except Exception:
            log.exception("probe_callback_failed", **target.names)
            return False
        return True

    def _log_transition(self, target: _Target, result: ProbeResult) -> None:
        """Log when a target's state changes, and remind while it is not ok.

        Logging every failure of thousands of targets would drown the log;
        changes say the same with a bounded volume. Only this target's worker
        touches its state, never two at once.
        """
        previous = target.last_reason
        if result.reason == previous:
            target.repeats += 1
            if result.success:
                return  # the common case: no clock read, no log
            now = self._clock()
            if now - target.logged < self._remind_every:
                return
            target.logged = now
            event = "probe_still_skipped" if result.self_error else "probe_still_failing"
            log.warning(
                event, reason=result.reason, detail=result.detail, results=target.repeats,
                seconds=round(now - target.since, 3), **self._fields(target, result),
            )
            return
        now = self._clock()
        repeats = target.repeats
        target.last_reason, target.since, target.logged, target.repeats = (
            result.reason, now, now, 1
        )
        fields = self._fields(target, result)
        if result.self_error:
            log.warning("probe_skipped", reason=result.reason, detail=result.detail, **fields)
        elif not result.success:
            log.warning("probe_failed", reason=result.reason, detail=result.detail, **fields)
        elif previous is not None:
            log.info("probe_recovered", previous_reason=previous, results=repeats, **fields)

    @staticmethod
    def _fields(target: _Target, result: ProbeResult) -> dict[str, object]:
        return {
            **target.names,
            "module": target.sli.module,
            "instance": instance(target.sli),
            "duration": round(result.duration, 6),
        }
