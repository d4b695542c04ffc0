"""Probe results in, stored events and probe metrics out.

Owns what happens to one probe result: whether it is an event of the target
at all (a probe that failed because this process ran out of file descriptors
or threads is not: ``is_good`` answers None and the result is skipped,
counted and logged once), writing the event, and remembering per probe SLO
when a result last arrived and whether the last write failed. The engine
reads both to decide the SLO's ``up`` and error: a write that fails (a full
disk) makes the SLO down with the reason until a later write succeeds.

Must not run probes (``probes``), judge results itself, or compute windows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from slo_exporter.model import SLO, ProbeSLI
from slo_exporter.probes import ProbeMetrics, ProbeResult, is_good
from slo_exporter.store import EventStore

#: whether a result is a good (True) or bad (False) event of the target, or
#: no event of it (None)
Judge = Callable[[ProbeSLI, ProbeResult], "bool | None"]


class ProbeRecorder:
    """Turns probe results into stored events and probe metrics.

    The scheduler logs failures when a target's outcome changes; this logs
    the recorder's own trouble, once per change: ``probe_result_skipped``,
    ``store_failed`` and ``store_recovered``.
    """

    def __init__(
        self,
        store: EventStore,
        slos: Mapping[str, SLO],
        metrics: ProbeMetrics,
        on_error: Callable[[str], None],
        last_seen: Mapping[str, float] | None = None,
        *,
        judge: Judge = is_good,
        logger: Any = None,
    ) -> None:
        self._store = store
        self._on_error = on_error
        self._slos = dict(slos)
        self._metrics = metrics
        self._judge = judge
        self._log = logger or structlog.get_logger("slo_exporter.recorder")
        self._lock = threading.Lock()  # last-seen times move over between recorders on reload
        # carried over a reload, so kept probes do not look late meanwhile
        self._last_seen = {k: v for k, v in (last_seen or {}).items() if k in slos}
        self._faults: dict[str, str] = {}  # SLO key -> why its last write failed
        self._skipped: dict[str, int] = {}
        self._skipping: set[str] = set()  # SLOs whose last result was skipped

    def last_seen(self, key: str) -> float | None:
        """When the SLO's last stored result was taken."""
        return self._last_seen.get(key)

    def last_seen_all(self) -> dict[str, float]:
        with self._lock:
            return dict(self._last_seen)

    def adopt_last_seen(self, seen: Mapping[str, float]) -> None:
        """Take newer probe times of this recorder's SLOs, from the recorder it replaces."""
        with self._lock:
            for key, at in seen.items():
                if key in self._slos and at > self._last_seen.get(key, float("-inf")):
                    self._last_seen[key] = at

    def fault(self, key: str) -> str | None:
        """Why the SLO's last write failed; None once a write succeeds."""
        return self._faults.get(key)

    def skipped(self, key: str) -> int:
        """Results of the SLO that were no event of its target."""
        return self._skipped.get(key, 0)

    def __call__(self, key: str, sli: ProbeSLI, result: ProbeResult, at: float) -> None:
        slo = self._slos[key]
        good = self._judge(sli, result)
        if good is None:
            self._skip(slo, result)
            return
        self._skipping.discard(key)
        self._metrics.observe(slo, result)
        try:
            self._write(key, at, good, sli.interval)
        except Exception as exc:  # a full disk must not kill the probe loop
            self._on_error("store")
            reason = f"store write failed: {exc}"
            if self._faults.get(key) != reason:
                self._log.error("store_failed", service=slo.service, slo=slo.name, error=reason)
            self._faults[key] = reason
            return
        if self._faults.pop(key, None) is not None:
            self._log.info("store_recovered", service=slo.service, slo=slo.name)
        with self._lock:
            self._last_seen[key] = at

    def _write(self, key: str, at: float, good: bool, span: float) -> None:
        # The one write of probe events; a probe measures its target until
        # the next one is due.
        self._store.record(key, at, good, span=span)

    def _skip(self, slo: SLO, result: ProbeResult) -> None:
        self._metrics.observe(slo, result)  # counted as skipped, never as the target's
        self._skipped[slo.key] = self._skipped.get(slo.key, 0) + 1
        if slo.key not in self._skipping:
            self._skipping.add(slo.key)
            self._log.warning(
                "probe_result_skipped", service=slo.service, slo=slo.name,
                reason=result.reason, detail="not an event of the target",
            )
