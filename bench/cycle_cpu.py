"""CPU of steady evaluation cycles of the engine itself, in-process, at a given SLO count.

Builds the ``bench.scale`` layout (ratio SLOs over ``--metrics`` counters,
30-day rolling windows, 1-minute buckets) in a SQLite store in a temp dir,
with ``--hours`` of stored buckets and a cursor just behind the first
instant, so the first cycle reads a few minutes (no backfill). Prometheus is
a stand-in ``accounting.Source`` that answers any plain selector over the
layout's counters (a sample every ``--step`` seconds, matched locally), so
what is measured is the engine's own work: shared reads matched per SLO,
counting, the store commit, every status, the snapshot swap.

Time is simulated: the clock advances one second at a time; every second
runs the fast path (``Engine.catch_up``, as the daemon does) and every
``--interval`` seconds a full cycle (``Engine.evaluate``). After
``--warm`` cycles, CPU seconds of the process (``/proc/self/stat``, so
threads count) are taken over ``--cycles`` cycles, and the figure is the
CPU per cycle. ``--spread`` gives each service (scrape target) its own
offset in the step, so new samples land every few seconds as with many
targets, instead of all at once. It also prints how long after its
timestamp each SLO's newest sample reaches its status (mean, median,
max over the measured cycles; the check's own CPU is left out).
``--profile FILE`` writes cProfile stats of the measured cycles (the pool
is set to one worker so every call is seen).
``--gc-freeze`` and ``--gc-threshold N`` show what the cyclic garbage
collector costs: freezing what the cold start left, a larger gen-0 threshold.

    python -m bench.cycle_cpu [--slos 1000] [--cycles 4] [--hours 6] [--spread]
        [--gc-freeze] [--gc-threshold 10000] [--profile out.prof]

Must not change what it measures: it only drives the public engine API.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import os
import tempfile
import threading
import time
from pathlib import Path

import yaml

from bench.scale import Layout, native_config
from slo_exporter import matchers
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.store import SQLiteStore

RESOLUTION = 60.0
START = 1_800_000_000.0  # a multiple of 60 and of 30
GOOD_RPS = 5.0
BAD_RPS = 0.01
PHASE = 17.0


class SyntheticPrometheus:
    """Answers raw-sample reads of the layout's counters; counts the reads."""

    def __init__(self, layout: Layout, step: float, *, spread: bool = False) -> None:
        self.step = step
        self.reads = 0
        self._lock = threading.Lock()
        #: per metric, each series' labels and the phase of its samples in the step
        self._series: dict[str, list[tuple[dict[str, str], float]]] = {}
        #: each SLO's key and the phase of its samples
        self.phases: list[tuple[str, float]] = []
        for i, slo in enumerate(layout.all()):
            # one scrape target per service: its offset in the step, when spread
            phase = (PHASE + (i // layout.per_service) * 7.0) % step if spread else PHASE
            self.phases.append((f"{slo.service}/{slo.name}", phase))
            for code in ("200", "500"):
                self._series.setdefault(slo.metric, []).append(
                    ({"__name__": slo.metric, **slo.labels, "code": code}, phase))

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        with self._lock:
            self.reads += 1
        parsed = _parse(selector)
        out = []
        for labels, phase in self._series.get(parsed.metric, []):
            if not parsed.matches(labels):
                continue
            # samples at ``phase`` past each step, so the fast path meets them between cycles
            first = (int((start - phase) // self.step) + 1) * self.step + phase
            stamps = []
            t = first
            while t <= end:
                stamps.append(t)
                t += self.step
            rate = GOOD_RPS if labels["code"] == "200" else BAD_RPS
            out.append(Series(labels, tuple((ts, rate * (ts - START + 86400.0))
                                            for ts in stamps)))
        return out

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        raise NotImplementedError(promql)

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise NotImplementedError(promql)


@functools.lru_cache(maxsize=4096)
def _parse(selector: str) -> matchers.Selector:
    # the stand-in's own work, kept out of what is measured as far as it can be
    return matchers.parse(selector)


class Lag:
    """How long after its timestamp each SLO's newest sample reaches its status: after
    every engine call at simulated ``now``, an SLO whose status was evaluated at or
    after its newest sample's timestamp has that sample counted (the stand-in's
    samples are there at their timestamp, and the default ``query_delay`` is 0)."""

    def __init__(self, source: SyntheticPrometheus, since: float) -> None:
        self._phases = source.phases
        self._step = source.step
        self._since = since
        self._seen: dict[str, float] = {}
        self.lags: list[float] = []
        #: this thread's CPU seconds spent here, left out of the cycle's figure
        self.cpu = 0.0

    def look(self, engine: Engine, now: float) -> None:
        began = time.thread_time()
        by_key = engine.snapshot.by_key
        for key, phase in self._phases:
            newest = ((now - phase) // self._step) * self._step + phase
            status = by_key.get(key)
            if (newest < self._since or self._seen.get(key) == newest or status is None
                    or status.evaluated_at is None or status.evaluated_at < newest):
                continue
            self._seen[key] = newest
            self.lags.append(now - newest)
        self.cpu += time.thread_time() - began


def run_cycles(engine: Engine, clock: list[float], cycles: int, interval: float,
               lag: Lag | None = None, *, fast: bool = True) -> None:
    """``cycles`` evaluation intervals as the daemon schedules them, on the simulated
    ``clock``: the fast path every second (unless ``fast`` is off), a full cycle at the
    end of each interval; ``lag`` looks after every engine call."""
    for _ in range(cycles):
        for _ in range(int(interval)):
            clock[0] += 1.0
            if fast:
                engine.catch_up()
            if lag is not None:
                lag.look(engine, clock[0])
        engine.evaluate()
        if lag is not None:
            lag.look(engine, clock[0])


def cpu_seconds() -> float:
    """User + system CPU of this process (every thread), from /proc."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prefill(store: SQLiteStore, layout: Layout, hours: float, cursor: float) -> None:
    """``hours`` of one-minute buckets per SLO ending at ``cursor``, and the cursor."""
    buckets = int(hours * 3600 / RESOLUTION)
    first = cursor - buckets * RESOLUTION
    for slo in layout.all():
        key = f"{slo.service}/{slo.name}"
        deltas = {first + i * RESOLUTION: (GOOD_RPS * RESOLUTION, (GOOD_RPS + BAD_RPS)
                                           * RESOLUTION) for i in range(buckets)}
        store.commit(key, deltas, cursor=cursor, series={}, measured=(first, cursor))


def run(args: argparse.Namespace) -> None:
    layout = Layout(slos=args.slos, metrics=args.metrics)
    config = parse_config(yaml.safe_dump(native_config(
        layout, "http://127.0.0.1:1", evaluation_interval=args.interval)), "bench.yaml")
    clock = [START]
    source = SyntheticPrometheus(layout, args.step, spread=args.spread)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "events.db", RESOLUTION)
        engine = Engine(config, store, source, clock=lambda: clock[0],
                        max_workers=1 if args.profile else 8)
        prefill(store, layout, args.hours, START - 120.0)
        if args.gc_threshold:
            gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
        began = time.monotonic()
        engine.evaluate()
        print(f"first cycle: {time.monotonic() - began:.1f} s wall")
        if args.gc_freeze:  # what survived the cold start is never scanned again
            gc.collect()
            gc.freeze()

        run_cycles(engine, clock, args.warm, args.interval)
        profiler = cProfile.Profile() if args.profile else None
        lag = Lag(source, clock[0])
        reads0 = source.reads
        cpu0 = cpu_seconds()
        if profiler is not None:
            profiler.enable()
        run_cycles(engine, clock, args.cycles, args.interval, lag)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        cpu = cpu_seconds() - cpu0 - lag.cpu
        engine.close()
        store.close()
        per = cpu / args.cycles
        print(f"slos={args.slos} cycles={args.cycles} cpu/cycle={per:.3f} s "
              f"({per / args.slos * 1000:.3f} ms/SLO) reads/cycle="
              f"{(source.reads - reads0) / args.cycles:.1f}")
        if lag.lags:
            lags = sorted(lag.lags)
            print(f"sample to status: mean {sum(lags) / len(lags):.2f} s, median "
                  f"{lags[len(lags) // 2]:.0f} s, max {lags[-1]:.0f} s ({len(lags)} samples)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--step", type=float, default=60.0, help="scrape step, s")
    parser.add_argument("--interval", type=float, default=30.0, help="evaluation interval, s")
    parser.add_argument("--warm", type=int, default=2)
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--spread", action="store_true",
                        help="scrape targets (services) at different offsets in the step")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() after the first cycle")
    parser.add_argument("--gc-threshold", type=int, default=0,
                        help="the collector's generation-0 threshold (default: Python's)")
    parser.add_argument("--profile", default=None)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
