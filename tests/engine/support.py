"""Shared pieces of the engine tests: a config with one Prometheus and one probe SLO,
and a scripted Prometheus source."""

from __future__ import annotations

import threading
from collections.abc import Callable

from slo_exporter.prometheus import QueryResult, Series

NOW = 1_800_000_000.0

CONFIG = """
prometheus: {url: "http://127.0.0.1:1", timeout: 1s, retries: 1}
evaluation_interval: 10s
services:
  - name: api
    slos:
      - name: availability
        objective: 99
        window: 1d
        sli:
          ratio:
            bad: http_requests_total{code=~"5.."}
            total: http_requests_total
  - name: web
    slos:
      - name: probe
        objective: 90
        window: 1d
        sli:
          probe:
            http: {url: "http://127.0.0.1:1/"}
            interval: 10s
            timeout: 1s
"""




class ScriptedSource:
    """A Prometheus source answering every range read with no series.

    ``on_read`` runs on each read (to fail, stop or interleave work), and
    ``reads`` keeps ``(selector, start, end, thread name)`` of each and
    ``threads`` the thread objects that read (kept alive, so each is distinct).
    """

    def __init__(self, on_read: Callable[[str, float, float], None] | None = None) -> None:
        self.on_read = on_read
        self.reads: list[tuple[str, float, float, str]] = []
        self.threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        raise AssertionError("ratio SLIs over selectors read raw samples only")

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise AssertionError("ratio SLIs over selectors read raw samples only")

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        with self._lock:
            self.reads.append((selector, start, end, threading.current_thread().name))
            self.threads.add(threading.current_thread())
        if self.on_read is not None:
            self.on_read(selector, start, end)
        return []
