"""Probe history survives a SIGKILLed daemon, and the span it was down adds no events.

A local target answers the daemon's probes with 200 or 500 and logs every
answer, so the exact good and bad counts are known from the target side.
The daemon is killed between two probes; its store is then opened directly
and must hold every probe the target answered. After a restart on the same
storage path the exported windows must again equal the target's counts:
the seconds the daemon was down count as no data, never as success.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from slo_exporter.store import SQLiteStore
from tests.support.alerting_chain import LoopbackServer, QuietHandler
from tests.support.harness import ExporterFactory, ExporterProcess, HarnessError, Scrape, wait_until

pytestmark = pytest.mark.integration

SERVICE, SLO = "shop", "homepage"
KEY = f"{SERVICE}/{SLO}"
RESOLUTION = 60.0  # seconds; the store must be reopened with the daemon's resolution
LABELS = {"service": SERVICE, "slo": SLO, "window": "1h"}

HEALTHY_SECONDS = 8.0
FAILING_SECONDS = 4.0
DOWN_SECONDS = 3.0
#: every probe SLO is refreshed from the store once a second; a few periods
#: of slack cover a slow machine
CONVERGE_TIMEOUT = 15.0
#: a probe answer reaches the daemon's store well within this many seconds
RECORD_GUARD = 0.1
#: Answer delays cycled by the target. Spread over twice the guard, at
#: most three of these five phases can sit within the guard before a
#: refresh; all stay far below the 500 ms probe timeout.
ANSWER_DELAYS = (0.0, 0.05, 0.1, 0.15, 0.2)


@dataclass(frozen=True)
class Counts:
    good: int
    bad: int

    @property
    def total(self) -> int:
        return self.good + self.bad


class RecordingTarget(LoopbackServer):
    """``GET /`` answers 200, or 500 while failing; every answer is logged with its time.

    The n-th request waits ``delays[n % len(delays)]`` before answering, so
    the answers drift against the daemon's fixed refresh phase and some
    refreshes always fall clear of an answer (see wait_for_target_counts).
    """

    def __init__(
        self,
        delays: Sequence[float] = ANSWER_DELAYS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._delays = tuple(delays)
        self._clock = clock
        self._lock = threading.Lock()
        self._failing = False
        self._requests = 0
        self._served: list[tuple[float, int]] = []
        target = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                sleep(target._next_delay())
                self.answer(target._answer())

        super().__init__(Handler)

    def _next_delay(self) -> float:
        with self._lock:
            self._requests += 1
            return self._delays[self._requests % len(self._delays)]

    def _answer(self) -> int:
        with self._lock:
            code = 500 if self._failing else 200
            self._served.append((self._clock(), code))
            return code

    def set_failing(self, failing: bool) -> None:
        with self._lock:
            self._failing = failing

    @property
    def served(self) -> list[tuple[float, int]]:
        """``(time, status)`` of every answer so far, oldest first."""
        with self._lock:
            return list(self._served)

    def counts(self, before: float = math.inf) -> Counts:
        """Answers given before ``before``, by status."""
        codes = [code for t, code in self.served if t < before]
        return Counts(good=codes.count(200), bad=codes.count(500))

    def answered_within(self, start: float, end: float) -> bool:
        return any(start <= t <= end for t, _ in self.served)


def probe_config(target_url: str) -> dict[str, Any]:
    """One 1d probe SLO on ``target_url``, probed and refreshed every second."""
    return {
        "evaluation_interval": "1s",
        "storage": {"resolution": f"{RESOLUTION:g}s"},
        "services": [{
            "name": SERVICE,
            "slos": [{
                "name": SLO,
                "objective": 99,
                "window": "1d",
                "sli": {"probe": {
                    "http": {"url": target_url},
                    "interval": "1s",
                    "timeout": "500ms",
                }},
            }],
        }],
    }


def exported(scrape: Scrape) -> Counts | None:
    """The 1h window's events as the daemon exports them, None before the first evaluation."""
    good = scrape.get("slo_events", **LABELS, result="good")
    bad = scrape.get("slo_events", **LABELS, result="bad")
    if good is None or bad is None:
        return None
    return Counts(int(good), int(bad))


def wait_for_target_counts(
    exporter: ExporterProcess, target: RecordingTarget, what: str, *, min_total: int = 0
) -> tuple[Scrape, Counts]:
    """Scrape until the exported 1h events equal the answers given before the evaluation instant.

    The daemon says when its values were computed; every probe the target
    answered more than ``RECORD_GUARD`` s earlier has been stored by then,
    and none answered later can be in them. A scrape whose instant falls
    within the guard of an answer is ambiguous and skipped, so a lagging
    daemon can never match by coincidence.
    """
    seen: list[str] = []

    def probe() -> tuple[Scrape, Counts] | None:
        if not exporter.alive:
            raise HarnessError(f"slo-exporter exited with {exporter.returncode}\n"
                               + exporter.log_tail())
        scrape = exporter.scrape()
        at = scrape.get("slo_last_evaluation_timestamp_seconds", service=SERVICE, slo=SLO)
        got = exported(scrape)
        if at is None or got is None:
            return None
        if target.answered_within(at - RECORD_GUARD, at):
            seen[:] = [f"at {at:.3f}: an answer within {RECORD_GUARD}s before, skipped"]
            return None
        want = target.counts(before=at)
        seen[:] = [f"at {at:.3f}: answered {want}, exported {got}"]
        return (scrape, want) if got == want and want.total >= min_total else None

    return wait_until(probe, timeout=CONVERGE_TIMEOUT, what=what, interval=0.1,
                      on_timeout=lambda: f"last: {seen}\n{exporter.log_tail()}")


def kill_between_probes(exporter: ExporterProcess, target: RecordingTarget) -> float:
    """SIGKILL the daemon ~150 ms after the target answered a probe; returns the kill time."""
    def just_answered() -> bool | None:
        served = target.served
        return True if served and time.time() - served[-1][0] < 0.1 else None

    wait_until(just_answered, timeout=5, what="a probe answered in the last 100 ms",
               interval=0.01)
    # the answer is recorded within milliseconds; the next probe is ~850 ms away
    time.sleep(0.15)
    exporter.kill()
    return time.time()


def test_sigkill_between_probes_keeps_history_and_downtime_is_no_data(
    make_exporter: ExporterFactory, record_property: Callable[[str, object], None]
) -> None:
    """After SIGKILL and restart the store and the 1h window hold exactly the probes answered."""
    target = RecordingTarget()
    target.start()
    try:
        exporter = make_exporter(probe_config(f"{target.url}/"))
        exporter.start(ready_timeout=30)

        time.sleep(HEALTHY_SECONDS)
        target.set_failing(True)
        time.sleep(FAILING_SECONDS)
        _, before_kill = wait_for_target_counts(
            exporter, target, "exported 1h events equal to the probes answered")
        assert before_kill.good >= 5, before_kill
        assert before_kill.bad >= 2, before_kill

        killed_at = kill_between_probes(exporter, target)
        served_at_kill = target.counts()
        with SQLiteStore(exporter.storage, RESOLUTION) as store:
            stored = store.sum(KEY, 0.0, time.time() + 3600)
        assert (stored.good, stored.total) == (served_at_kill.good, served_at_kill.total), (
            f"store after SIGKILL holds good={stored.good} total={stored.total}, "
            f"the target answered {served_at_kill}"
        )

        time.sleep(DOWN_SECONDS)
        restarted_at = time.time()
        during_downtime = [t for t, _ in target.served if killed_at <= t < restarted_at]
        assert during_downtime == [], f"answers while the daemon was dead: {during_downtime}"

        target.set_failing(False)
        exporter.start(ready_timeout=30)
        # a few post-restart probes, so the window mixes old and new events
        scrape, final = wait_for_target_counts(
            exporter, target, "exported 1h events equal to every answer, across the restart",
            min_total=served_at_kill.total + 3)
        record_property("probes_answered", final.total)
    finally:
        target.stop()

    # Converging at all proves the dead span added nothing: had it counted as
    # success, the exported good events would exceed the target's 200s.
    assert final.total > served_at_kill.total
    ratio = scrape.value("slo_sli_ratio", **LABELS)
    assert math.isclose(ratio, final.good / final.total, rel_tol=1e-9), (
        f"slo_sli_ratio {ratio} != good/total {final.good}/{final.total}"
    )
