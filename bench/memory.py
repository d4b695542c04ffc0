"""Where the engine's memory goes per SLO, in-process, at a given SLO count.

Builds the ``bench.cycle_cpu`` set-up (the ``bench.scale`` layout of ratio
SLOs, 30-day rolling windows, 1-minute buckets, ``--hours`` of stored
buckets, a stand-in Prometheus answering the layout's counters), runs
``--cycles`` steady cycles as the daemon does (the fast path every second, a
full cycle every ``--interval``), then serves what readers ask for:
``/metrics`` (plain and gzip, through ``SnapshotCollector``), every page of
``/api/v1/slos`` and of the status page at ``/``.

Then it reports, per SLO:

* by owner: the bytes reachable from each long-lived root, each object
  counted once, for the first root that reaches it (the configuration, the
  store, the engine, the current snapshot, the exposition and page caches);
* by line (``--trace``): live allocations from ``tracemalloc``, each one
  charged to the innermost line of the package that made it, grouped by
  module and by line (``--top`` lines);
* resident memory (``VmRSS``) before the set-up and at the end, with glibc's
  malloc arenas limited as the daemon limits them (``--default-arenas``: not).

    python -m bench.memory [--slos 1000] [--hours 6] [--cycles 3] [--trace] [--top 25]
        [--types 6] [--default-arenas]

tracemalloc slows the run down several times and adds its own memory to the
resident figure; run without ``--trace`` for the resident memory.

Must not change what it measures: it only drives the public engine,
exposition and page APIs.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
import types
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from bench.cycle_cpu import RESOLUTION, START, SyntheticPrometheus, prefill
from bench.scale import Layout, native_config
from slo_exporter import api, statuspage
from slo_exporter.config import parse_config
from slo_exporter.daemon import limit_malloc_arenas
from slo_exporter.engine import Engine
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.snapshot import MAX_LIMIT
from slo_exporter.store import SQLiteStore

PACKAGE = os.sep + "slo_exporter" + os.sep
#: objects a walk from a root never enters: code, types and modules belong to no SLO
_OPAQUE = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.CodeType, types.FrameType)


#: CPython's flag for instances whose attributes live outside a dict object until asked for
_MANAGED_DICT = 1 << 4


def rss() -> int:
    """Resident memory of this process, bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def reachable(root: object, seen: set[int],
              types_: dict[str, int] | None = None) -> tuple[int, int]:
    """Bytes and objects reachable from ``root`` not in ``seen`` (which it extends);
    ``types_`` gets the bytes by type name."""
    size = count = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        referents = gc.get_referents(obj)
        own = sys.getsizeof(obj)
        if type(obj).__flags__ & _MANAGED_DICT:
            # the attribute values sit in an array of their own, which reading
            # ``__dict__`` would turn into a dict: estimated instead, a pointer
            # per attribute (the referents but the type) and a small header
            own += 8 * len(referents) + 16
        size += own
        count += 1
        if types_ is not None:
            types_[type(obj).__name__] = types_.get(type(obj).__name__, 0) + own
        stack.extend(referents)
    return size, count


def owners(roots: Iterable[tuple[str, object]]
           ) -> Iterator[tuple[str, int, int, dict[str, int]]]:
    """Each root's name, bytes, objects and bytes by type, counting an object for the
    first root only."""
    seen: set[int] = set()
    for name, root in roots:
        by_type: dict[str, int] = {}
        size, count = reachable(root, seen, by_type)
        yield name, size, count, by_type


def charged(snapshot: tracemalloc.Snapshot) -> tuple[dict[str, int], dict[str, int]]:
    """Live bytes by module and by ``module:line`` of the package's innermost frame."""
    by_module: dict[str, int] = defaultdict(int)
    by_line: dict[str, int] = defaultdict(int)
    for trace in snapshot.traces:
        frames = trace.traceback  # oldest first
        where = "(outside the package)"
        line = where
        for frame in reversed(frames):
            if PACKAGE in frame.filename:
                where = frame.filename.split(PACKAGE, 1)[1]
                line = f"{where}:{frame.lineno}"
                break
        by_module[where] += trace.size
        by_line[line] += trace.size
    return by_module, by_line


def run(args: argparse.Namespace) -> None:
    if not args.default_arenas:
        limit_malloc_arenas()  # as the daemon does before its threads start
    rss0 = rss()
    if args.trace:
        tracemalloc.start(args.frames)
    layout = Layout(slos=args.slos, metrics=args.metrics)
    config = parse_config(yaml.safe_dump(native_config(
        layout, "http://127.0.0.1:1", evaluation_interval=args.interval)), "bench.yaml")
    clock = [START]
    source = SyntheticPrometheus(layout, 60.0)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "events.db", RESOLUTION)
        prefill(store, layout, args.hours, START - 120.0)
        engine = Engine(config, store, source, clock=lambda: clock[0], max_workers=8)
        collector = SnapshotCollector(lambda: engine.snapshot)
        began = time.monotonic()
        engine.evaluate()
        gc.collect()
        gc.freeze()  # as the daemon's settle_heap does after the first cycle
        peaks: list[str] = []
        if args.trace:
            tracemalloc.reset_peak()
            peaks.append(f"after the first cycle {tracemalloc.get_traced_memory()[0] / 2**20:.1f}")
        for _ in range(args.cycles):
            for _ in range(int(args.interval)):
                clock[0] += 1.0
                engine.catch_up()
            engine.evaluate()
        if args.trace:
            peaks.append(f"peak in the cycles {tracemalloc.get_traced_memory()[1] / 2**20:.1f}")
            tracemalloc.reset_peak()
        snap = engine.snapshot
        body = len(collector.exposition())
        zipped = len(collector.exposition(gzipped=True))
        pages = -(-len(snap.slos) // MAX_LIMIT)
        for page in range(1, pages + 1):
            query = {"limit": str(MAX_LIMIT), "page": str(page)}
            api.encode_slos(snap, query)
            statuspage.render_status_page(snap, query=query)
        if args.trace:
            peaks.append(f"peak while serving {tracemalloc.get_traced_memory()[1] / 2**20:.1f}")
        print(f"slos={args.slos} hours={args.hours:g} cycles={args.cycles} "
              f"({time.monotonic() - began:.0f} s); /metrics {body / 1e6:.2f} MB, "
              f"gzip {zipped / 1e6:.2f} MB")
        if peaks:
            print("traced MiB: " + ", ".join(peaks))
        gc.unfreeze()
        gc.collect()
        traced = tracemalloc.take_snapshot() if args.trace else None
        rss1 = rss()
        roots: list[tuple[str, object]] = [
            ("stand-in Prometheus (the bench's own)", source),
            ("configuration (model objects)", config),
            ("store (window memory, connections)", store),
            ("snapshot (statuses, indexes)", snap),
            ("engine (caches, ingest state, pool)", engine),
            ("/metrics text caches", collector),
            ("/api/v1/slos entry cache", api._ENTRIES),
            ("status page caches", (statuspage._COUNTS,
                                    statuspage._BURN_KEYS, statuspage._BUDGET_KEYS)),
        ]
        print("\n| owner | KiB | bytes per SLO | objects per SLO |\n|---|---|---|---|")
        total = 0
        kinds: list[tuple[str, dict[str, int]]] = []
        for name, size, count, by_type in owners(roots):
            total += size
            kinds.append((name, by_type))
            print(f"| {name} | {size / 1024:,.0f} | {size / args.slos:,.0f} | "
                  f"{count / args.slos:,.1f} |")
        print(f"| all of the above | {total / 1024:,.0f} | {total / args.slos:,.0f} | |")
        print(f"\nresident memory: {rss0 / 2**20:.1f} MiB before the set-up, "
              f"{rss1 / 2**20:.1f} MiB at the end ({(rss1 - rss0) / args.slos:,.0f} "
              "bytes per SLO)")
        if args.types:
            print("\n| owner | largest types, bytes per SLO |\n|---|---|")
            for name, by_type in kinds:
                top = sorted(by_type.items(), key=lambda kv: -kv[1])[:args.types]
                print(f"| {name} | " + ", ".join(
                    f"{kind} {size / args.slos:,.0f}" for kind, size in top) + " |")
        if traced is not None:
            report_traced(traced, args)
        engine.close()
        store.close()


def report_traced(snapshot: tracemalloc.Snapshot, args: argparse.Namespace) -> None:
    by_module, by_line = charged(snapshot)
    total = sum(by_module.values())
    print(f"\ntraced: {total / 2**20:.1f} MiB live, {total / args.slos:,.0f} bytes per SLO")
    print("\n| module (innermost package frame) | bytes per SLO |\n|---|---|")
    for name, size in sorted(by_module.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"| {name} | {size / args.slos:,.0f} |")
    print("\n| line | bytes per SLO |\n|---|---|")
    for name, size in sorted(by_line.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"| {name} | {size / args.slos:,.0f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--hours", type=float, default=6.0, help="stored history per SLO")
    parser.add_argument("--interval", type=float, default=30.0, help="evaluation interval, s")
    parser.add_argument("--cycles", type=int, default=3, help="steady cycles after the first")
    parser.add_argument("--default-arenas", action="store_true",
                        help="leave glibc's malloc arenas as they are (the daemon limits them)")
    parser.add_argument("--trace", action="store_true", help="tracemalloc, by module and line")
    parser.add_argument("--frames", type=int, default=12, help="frames tracemalloc keeps")
    parser.add_argument("--types", type=int, default=6,
                        help="largest types shown per owner (0: none)")
    parser.add_argument("--top", type=int, default=25, help="lines and modules shown")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
