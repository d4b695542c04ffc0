"""What keeps a steady cycle cheap, and that it changes no value: statuses a long-running
engine computes with everything it carries and caches from cycle to cycle (budget
history points, per-SLO definition parts, cached days and quantiles, the fast path
polling only SLOs due a sample) equal, field by field, those of a fresh engine that
computes everything from the store at the same instant."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from slo_exporter import matchers
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import QueryError
from slo_exporter.prometheus import Series
from slo_exporter.slomath import Counts
from slo_exporter.snapshot import SLOStatus
from slo_exporter.store import SQLiteStore
from tests.engine.support import NOW, RawSamplesOnly

RES = 60.0
STEP = 20.0  # scrape step of the stand-in's series
PHASE = 7.0  # samples at 7 s past each step, so the fast path meets them between cycles
INTERVAL = 10.0

CONFIG = """
prometheus: {url: "http://127.0.0.1:1", timeout: 1s, retries: 1}
evaluation_interval: 10s
maintenance:
  - name: nightly
    start: "2027-01-14 22:00:00"
    duration: 90m
    rrule: "FREQ=DAILY"
    time_zone: Europe/Berlin
    slos: [b/avail]
services:
  - name: a
    slos:
      - name: avail
        objective: 99.9
        window: 2d
        sli: {ratio: {bad: 'req_total{job="a",code="500"}', total: 'req_total{job="a"}'}}
  - name: b
    slos:
      - name: avail
        objective: 99
        window: 3d
        sli: {ratio: {bad: 'req_total{job="b",code="500"}', total: 'req_total{job="b"}'}}
  - name: c
    slos:
      - name: month
        objective: 99.5
        calendar: {period: month, time_zone: Europe/Berlin}
        sla: {objective: 99.5, credits: [{below: 99.5, credit: 10}]}
        sli: {ratio: {bad: 'req_total{job="c",code="500"}', total: 'req_total{job="c"}'}}
  - name: d
    slos:
      - name: slices
        objective: 99
        window: 1d
        budgeting: {timeslices: {slice: 1m, target: 95}}
        sli: {ratio: {bad: 'req_total{job="d",code="500"}', total: 'req_total{job="d"}'}}
"""

#: requests per second of each job's good (200) and bad (500) series ("a" burns fast
#: enough to page); whole events per sample and bucket, so sums are exact whichever
#: way a store adds them up
RATES = {"a": (2.0, 0.05), "b": (3.0, 0.0), "c": (1.0, 0.05), "d": (4.0, 0.05)}


class Counters(RawSamplesOnly):
    """Counters ``req_total{job, code}`` growing at ``RATES``, a sample every ``STEP``
    seconds; any plain selector over them is answered (matched locally)."""

    def __init__(self) -> None:
        self.series = [{"__name__": "req_total", "job": job, "code": code}
                       for job in RATES for code in ("200", "500")]
        self._lock = threading.Lock()
        self.reads = 0
        self.failing = False  # every read fails while set, as an unreachable Prometheus's
        #: ``(start, end)``: bad events grow by 20 a second more meanwhile
        self.burst: tuple[float, float] | None = None

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        with self._lock:
            self.reads += 1
        if self.failing:
            raise QueryError("connection refused", query=selector)
        parsed = matchers.parse(selector)
        first = ((start - PHASE) // STEP + 1) * STEP + PHASE
        stamps = [first + i * STEP for i in range(int((end - first) // STEP) + 1)]
        out = []
        for labels in self.series:
            if parsed.matches(labels):
                bad = labels["code"] == "500"
                rate = RATES[labels["job"]][bad]
                out.append(Series(labels, tuple(
                    (t, rate * STEP * ((t - PHASE - NOW) // STEP + 10_000)
                     + (self._burst(t) if bad else 0.0))
                    for t in stamps if start < t <= end)))
        return out

    def _burst(self, t: float) -> float:
        if self.burst is None:
            return 0.0
        lo, hi = self.burst
        return 20.0 * (min(max(t, lo), hi) - lo)


def prefill(store: SQLiteStore, hours: float, until: float = NOW) -> None:
    """``hours`` of buckets per SLO up to just before ``until``, a bad hour in each, and
    the cursor."""
    cursor = until - 120.0
    first = cursor - hours * 3600.0
    for job, (good, bad) in RATES.items():
        key = f"{job}/{ {'a': 'avail', 'b': 'avail', 'c': 'month', 'd': 'slices'}[job] }"
        deltas: dict[float, tuple[float, float]] = {}
        for i in range(int(hours * 3600 / RES)):
            spoiled = 600 <= i < 660  # a bad hour ten hours in
            # whole events (0.05 * 60 is not 3 in floats): sums are then exact in any order
            errors = 30.0 if spoiled else float(round(bad * RES))
            total = float(round((good + bad) * RES))
            deltas[first + i * RES] = (total - errors, total)
        store.commit(key, deltas, cursor=cursor, series={}, measured=(first, cursor))


def comparable(status: SLOStatus) -> dict[str, Any]:
    """Every field of a status; alert holds start afresh in a new engine, so ``since``
    is left out of the alert states (``firing`` stays: these conditions have no hold)."""
    fields = {f.name: getattr(status, f.name) for f in dataclasses.fields(status)}
    fields["alerts"] = tuple(dataclasses.replace(a, since=None) for a in status.alerts)
    return fields


def fresh_statuses(path: Path, at: float) -> Mapping[str, SLOStatus]:
    """Every status as a new engine computes it at ``at`` from the store alone
    (a read-only follower: it reads no source and carries nothing)."""
    config = parse_config(CONFIG, "t.yaml")
    store = SQLiteStore(path, RES, readonly=True)
    engine = Engine(config, store, None, clock=lambda: at)
    try:
        return {s.slo.key: s for s in engine.evaluate().slos}
    finally:
        engine.close()
        store.close()


def test_carried_statuses_equal_a_full_recompute(tmp_path: Path) -> None:
    """After cycles with the fast path every second between them, each status equals,
    field by field, the one a new engine computes from the store at the same instant:
    windows, budget, alerts, budget history, period figures (coverage, worst day,
    evidence, SLA) alike, for rolling, maintained, calendar and timeslice SLOs."""
    path = tmp_path / "events.db"
    store = SQLiteStore(path, RES)
    now = [NOW]
    source = Counters()
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: now[0])
    try:
        prefill(store, 36.0)
        engine.evaluate()
        compared = 0
        for cycle in range(7):
            for _ in range(int(INTERVAL)):
                now[0] += 1.0
                engine.catch_up()
            carried = {s.slo.key: s for s in engine.evaluate().slos}
            if cycle % 3 != 2:
                continue
            fresh = fresh_statuses(path, now[0])
            assert set(fresh) == set(carried)
            for key, status in carried.items():
                assert status.up, key
                assert status.error is None, key
                assert comparable(status) == comparable(fresh[key]), key
                compared += 1
        assert compared == 8
        page = next(a for a in carried["a/avail"].alerts if a.severity == "page")
        assert page.firing  # the differential covers a firing alert too
        assert carried["c/month"].period is not None
        assert carried["c/month"].period.sla is not None
    finally:
        engine.close()
        store.close()


def test_a_gap_read_into_settled_days_is_not_hidden_by_carried_sums(tmp_path: Path) -> None:
    """Prometheus is unreachable from 23:55 to 00:35 UTC: after midnight yesterday looks
    settled, then the read after the outage adds its last minutes, a burst of errors
    that makes it the worst day. The figures still equal a fresh engine's (worst day
    included): a failed read drops the day sums the SLO carried."""
    midnight = NOW - 8 * 3600.0 + 86400.0  # NOW is 08:00 UTC
    path = tmp_path / "events.db"
    store = SQLiteStore(path, RES)
    now = [midnight - 600.0]
    source = Counters()
    source.burst = (midnight - 300.0, midnight - 60.0)
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: now[0])
    try:
        prefill(store, 36.0, until=now[0])
        engine.evaluate()
        now[0] = midnight - 300.0
        source.failing = True
        while now[0] < midnight + 2100.0:
            assert not any(s.up for s in engine.evaluate().slos)
            now[0] += 600.0
        source.failing = False
        for _ in range(2):
            carried = {s.slo.key: s for s in engine.evaluate().slos}
            fresh = fresh_statuses(path, now[0])
            for key, status in carried.items():
                assert status.up, key
                assert comparable(status) == comparable(fresh[key]), key
            now[0] += INTERVAL
        worst = carried["a/avail"].period
        assert worst is not None
        assert worst.worst_day is not None
        assert worst.worst_day.date == "2027-01-15"  # the day the gap read changed
    finally:
        engine.close()
        store.close()


class CountingStore(SQLiteStore):
    """The SQLite store, counting reads of the cursor."""

    cursor_reads = 0

    def cursor(self, slo_key: str) -> float | None:
        CountingStore.cursor_reads += 1
        return super().cursor(slo_key)


def test_fast_path_seconds_without_a_due_sample_read_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between samples (one every 20 s here), a second of the fast path neither asks
    Prometheus nor reads any SLO's cursor: it costs a lookup per SLO, not a store read."""
    store = CountingStore(tmp_path / "events.db", RES)
    now = [NOW]
    source = Counters()
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: now[0])
    try:
        prefill(store, 2.0)
        engine.evaluate()
        for _ in range(int(INTERVAL)):  # a first sample of each series: steps are learnt
            now[0] += 1.0
            engine.catch_up()
        now[0] += STEP - INTERVAL  # the next samples are due at NOW + 27 (PHASE + STEP)
        engine.catch_up()
        reads, cursors = source.reads, CountingStore.cursor_reads
        idle = 0
        while now[0] < NOW + PHASE + STEP - 1.0:
            now[0] += 1.0
            engine.catch_up()
            idle += 1
        assert idle >= 3
        assert (source.reads, CountingStore.cursor_reads) == (reads, cursors)
        now[0] = NOW + PHASE + STEP
        changed = engine.catch_up()
        assert source.reads > reads  # due again: read, and the SLOs recomputed
        assert all(s.evaluated_at == now[0] for s in changed.slos)
    finally:
        engine.close()
        store.close()


def test_carried_statuses_equal_a_full_recompute_across_midnight(tmp_path: Path) -> None:
    """From four minutes before to four after midnight UTC (the rolling SLOs' local days;
    the first day of each rolling period ends at a midnight and its start moves with
    the period's, the open day starts afresh at midnight), every 40 s each status
    equals, field by field, the one a new engine computes from the store alone."""
    midnight = NOW - 8 * 3600.0 + 86400.0  # NOW is 08:00 UTC
    path = tmp_path / "events.db"
    store = SQLiteStore(path, RES)
    now = [midnight - 240.0]
    source = Counters()
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: now[0])
    try:
        prefill(store, 36.0, until=now[0])
        engine.evaluate()
        compared = 0
        while now[0] < midnight + 240.0:
            for _ in range(4):
                now[0] += 5.0
                engine.catch_up()
            carried = {s.slo.key: s for s in engine.evaluate().slos}
            fresh = fresh_statuses(path, now[0])
            for key, status in carried.items():
                assert status.up, key
                assert comparable(status) == comparable(fresh[key]), key
                compared += 1
        assert compared == 4 * 24
    finally:
        engine.close()
        store.close()


class SumCountingStore(SQLiteStore):
    """The SQLite store, noting each SLO whose window sum it reads from the database."""

    summed: ClassVar[list[str]] = []

    def _read_sum(self, slo_key: str, start: float, end: float) -> Counts:
        SumCountingStore.summed.append(slo_key)
        return super()._read_sum(slo_key, start, end)


def test_steady_statuses_sum_no_window_in_the_database(tmp_path: Path) -> None:
    """Once running, a status of a rolling or calendar SLO (windows, budget, and the
    period figures: the period to date, its first local day and the open one) moves
    running window sums by a bucket instead of summing a range in the database again,
    and the settled nightly maintenance spans b/avail leaves out are summed once: over
    five cycles a minute apart, at most the sums of a point of the budget history whose
    grid (a step of 45 min over 36 h stored) moved (two for b/avail)."""
    store = SumCountingStore(tmp_path / "events.db", RES)
    now = [NOW]
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, Counters(), clock=lambda: now[0])
    try:
        prefill(store, 36.0)
        for _ in range(3):
            engine.evaluate()
            now[0] += RES
        SumCountingStore.summed.clear()
        for _ in range(5):
            engine.evaluate()
            now[0] += RES
        assert SumCountingStore.summed.count("a/avail") <= 1
        assert SumCountingStore.summed.count("b/avail") <= 2
        assert SumCountingStore.summed.count("c/month") <= 1
    finally:
        engine.close()
        store.close()


def test_a_moved_budget_history_grid_sums_only_its_new_point(tmp_path: Path) -> None:
    """With 80 h stored, a/avail's history spans its 2-day window in steps of 3660 s
    (172800 / 47 = 3676, in whole minutes); ten minutes after the engine starts the grid
    moves by a step: the points the start worked out (all ending before it, less the
    930 s of ``SETTLE_MARGIN``) stand, only the new newest one is summed, and every
    status, before and after, still equals a fresh engine's."""
    step, settle = 3660.0, 30.0
    move = (math.floor((NOW - settle) / step) + 1) * step + settle  # the grid moves here
    path = tmp_path / "events.db"
    store = SumCountingStore(path, RES)
    now = [move - 600.0]
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, Counters(), clock=lambda: now[0])
    try:
        prefill(store, 80.0, until=now[0])
        first = {s.slo.key: s for s in engine.evaluate().slos}["a/avail"].budget_history
        compared = 0
        while now[0] < move + 60.0:
            now[0] += 30.0
            SumCountingStore.summed.clear()
            carried = {s.slo.key: s for s in engine.evaluate().slos}
            history = carried["a/avail"].budget_history
            if history.grid_end != first.grid_end:
                assert history.grid_end == first.grid_end + step  # type: ignore[operator]
                assert history.past[:-1] == first.past[1:]
                assert SumCountingStore.summed.count("a/avail") <= 1
            if now[0] >= move - 60.0:
                fresh = fresh_statuses(path, now[0])
                for key, status in carried.items():
                    assert status.up, key
                    assert comparable(status) == comparable(fresh[key]), key
                    compared += 1
        assert carried["a/avail"].budget_history.grid_end == first.grid_end + step  # type: ignore[operator]
        assert compared == 4 * 5
    finally:
        engine.close()
        store.close()


def test_after_a_failed_read_the_history_is_summed_afresh_then_carried(
    tmp_path: Path,
) -> None:
    """Prometheus is unreachable for three cycles before a/avail's grid moves: the first
    status after the failure sums every point afresh (after the read that may land
    events in old buckets; the down statuses carry none), the move then sums only its
    new point, and the statuses equal a fresh engine's."""
    step, settle = 3660.0, 30.0
    move = (math.floor((NOW - settle) / step) + 1) * step + settle
    path = tmp_path / "events.db"
    store = SumCountingStore(path, RES)
    now = [move - 1800.0]
    source = Counters()
    engine = Engine(parse_config(CONFIG, "t.yaml"), store, source, clock=lambda: now[0])
    try:
        prefill(store, 80.0, until=now[0])
        engine.evaluate()
        source.failing = True
        for _ in range(3):
            now[0] += 60.0
            assert not any(s.up for s in engine.evaluate().slos)
        source.failing = False
        now[0] += 60.0
        SumCountingStore.summed.clear()
        assert all(s.up for s in engine.evaluate().slos)  # the read after the failure
        assert SumCountingStore.summed.count("a/avail") > 10  # every point summed again
        while now[0] < move - 60.0:
            now[0] += 60.0
            engine.evaluate()
        now[0] = move
        SumCountingStore.summed.clear()
        carried = {s.slo.key: s for s in engine.evaluate().slos}
        assert SumCountingStore.summed.count("a/avail") <= 1
        fresh = fresh_statuses(path, now[0])
        for key, status in carried.items():
            assert status.up, key
            assert comparable(status) == comparable(fresh[key]), key
    finally:
        engine.close()
        store.close()
