"""Event store throughput: backfill, cold index load, steady-state commits and window sums.

Fills a fresh store with N SLOs x D days of buckets (default 100 x 30 days at
60 s, 43,200 buckets per SLO) the way the engine does after a cold start (one
transaction per SLO per backfill chunk), then measures what an evaluation
cycle costs: one small commit per SLO (the newest buckets, series state,
cursor, the span the read measured) and the sums of every exported window.

    python -m bench.store_bench [--slos 100] [--days 30] [--resolution 60] [--cycles 20]
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from pathlib import Path

from slo_exporter.model import STANDARD_WINDOWS
from slo_exporter.slomath import required_windows, window_bounds
from slo_exporter.store import FILENAME, SQLiteStore

DAY = 86400.0
SERIES_PER_SLO = 10
BACKFILL_CHUNK = DAY


def keys(n: int) -> list[str]:
    return [f"service-{i // 5}/slo-{i % 5}" for i in range(n)]


def backfill(
    store: SQLiteStore, slos: list[str], start: float, end: float, rng: random.Random
) -> int:
    """One commit per SLO per chunk, like a cold-start backfill; returns commits made."""
    res = store.resolution
    commits = 0
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + BACKFILL_CHUNK, end)
        buckets = [chunk_start + i * res for i in range(int((chunk_end - chunk_start) // res))]
        for key in slos:
            deltas = {}
            for b in buckets:
                total = float(rng.randint(100, 1000))
                deltas[b] = (total - rng.randint(0, 2), total)
            series = {f"s{j}": (chunk_end - 1.0, float(j)) for j in range(SERIES_PER_SLO)}
            store.commit(
                key, deltas, cursor=chunk_end, series=series, measured=(chunk_start, chunk_end)
            )
            commits += 1
        chunk_start = chunk_end
    return commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--resolution", type=float, default=60.0)
    parser.add_argument("--cycles", type=int, default=20, help="steady-state cycles to time")
    parser.add_argument("--path", help="storage directory (default: a temporary one)")
    args = parser.parse_args()

    rng = random.Random(42)
    slos = keys(args.slos)
    period = args.days * DAY
    windows = required_windows(period, (*(w for w in STANDARD_WINDOWS if w < period), period))
    res = args.resolution
    now = 1_800_000_000.0
    buckets_per_slo = int(period // res)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.path or tmp)
        print(
            f"store bench: {args.slos} SLOs x {args.days:g} days at {res:g} s "
            f"= {buckets_per_slo:,} buckets per SLO, {len(windows)} windows summed per SLO"
        )

        store = SQLiteStore(path, res)
        t = time.perf_counter()
        commits = backfill(store, slos, now - period, now, rng)
        elapsed = time.perf_counter() - t
        rows = buckets_per_slo * args.slos
        print(
            f"backfill:      {commits:,} commits of {int(BACKFILL_CHUNK // res):,} buckets in "
            f"{elapsed:.1f} s = {commits / elapsed:,.0f} commits/s, {rows / elapsed:,.0f} buckets/s"
        )
        store.close()
        size = sum(p.stat().st_size for p in path.glob(FILENAME + "*"))
        print(f"file size:     {size / 2**20:,.0f} MiB ({size / rows:.0f} bytes per bucket)")

        store = SQLiteStore(path, res)
        t = time.perf_counter()
        for key in slos:
            store.sums(key, now, windows)
        elapsed = time.perf_counter() - t
        print(
            f"cold load:     first sums of {args.slos} SLOs in {elapsed:.2f} s "
            f"({elapsed / args.slos * 1000:.1f} ms per SLO, index read from SQLite)"
        )

        commit_s = sums_s = 0.0
        for cycle in range(args.cycles):
            t_eval = now + (cycle + 1) * 30.0
            for key in slos:
                newest = (t_eval // res) * res
                deltas = {newest - res: (1.0, 2.0), newest: (5.0, 5.0)}
                series = {f"s{j}": (t_eval, float(cycle)) for j in range(SERIES_PER_SLO)}
                t = time.perf_counter()
                store.commit(
                    key, deltas, cursor=t_eval, series=series, measured=(t_eval - 30.0, t_eval)
                )
                t2 = time.perf_counter()
                _, end = window_bounds(t_eval, res, res)
                store.sums(key, end, windows)
                t3 = time.perf_counter()
                commit_s += t2 - t
                sums_s += t3 - t2
        n = args.cycles * args.slos
        print(
            f"steady commit: {n / commit_s:,.0f} commits/s "
            f"({commit_s / n * 1e6:,.0f} us each: 2 buckets, {SERIES_PER_SLO} series, cursor, span)"
        )
        print(
            f"steady sums:   {n / sums_s:,.0f} SLOs/s "
            f"({sums_s / n * 1e6:,.1f} us per SLO for {len(windows)} windows)"
        )
        print(
            f"cycle cost:    {(commit_s + sums_s) / args.cycles * 1000:,.1f} ms per evaluation "
            f"cycle of {args.slos} SLOs (store only)"
        )

        t = time.perf_counter()
        pruned = store.prune(now - period + 2 * DAY)
        elapsed = time.perf_counter() - t
        print(
            f"prune:         {pruned.buckets:,} buckets (2 days x {args.slos} SLOs) "
            f"in {elapsed:.2f} s"
        )
        store.close()

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:      {rss:,.0f} MiB (process, including the loaded indexes)")


if __name__ == "__main__":
    main()
