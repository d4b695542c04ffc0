"""Event store cost: bytes on disk per bucket, backfill, steady commits, window sums, compaction.

Fills a fresh SQLite store with N SLOs x D days of 1-minute buckets the way
the engine does after a cold start (one commit per SLO per day chunk; the
commits compact settled days into blocks as they go), then measures:

* the file's bytes per bucket, and the store extrapolated to 10,000 SLOs x
  30 days (the goal of issue 11: at most 1 GB);
* one steady evaluation cycle: a small commit per SLO and its window sums;
* ``_read_sum`` over a 30-day range (two edge blocks decoded, the rest day sums);
* compaction per SLO-day (read hot rows, merge, encode, write, delete);
* prune of the two oldest days.

Traffic is ``ratio`` (each SLO a Poisson rate drawn from 1 to 1000 events a
minute, following a daily curve, with about 0.1 % bad events) or ``probe``
(4 results a minute from a 15 s probe, a failed one now and then).

    python -m bench.store_bench [--slos 100] [--days 30] [--traffic ratio|probe] [--cycles 20]
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import resource
import sqlite3
import tempfile
import time
from pathlib import Path

from slo_exporter.model import STANDARD_WINDOWS
from slo_exporter.slomath import required_windows, window_bounds
from slo_exporter.store import FILENAME, SQLiteStore

DAY = 86400.0
SERIES_PER_SLO = 10
BACKFILL_CHUNK = DAY
GOAL_SLOS, GOAL_DAYS, GOAL_BYTES = 10_000, 30, 1e9


def keys(n: int) -> list[str]:
    return [f"service-{i // 5}/slo-{i % 5}" for i in range(n)]


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (normal approximation above 30, Knuth's product below)."""
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Traffic:
    """Per-bucket (good, total) of one SLO; None for a bucket without events."""

    def __init__(self, kind: str, rng: random.Random) -> None:
        self.kind = kind
        self.rng = rng
        self.rate = rng.uniform(1.0, 1000.0)

    def bucket(self, start: float) -> tuple[float, float] | None:
        rng = self.rng
        if self.kind == "probe":
            bad = rng.randint(1, 4) if rng.random() < 0.002 else 0
            return (4.0 - bad, 4.0)
        daily = 0.6 + 0.4 * math.sin(2 * math.pi * (start % DAY) / DAY)
        total = poisson(rng, self.rate * daily)
        if total == 0:
            return None  # the engine stores no zero deltas
        bad = poisson(rng, total * 0.001)
        return (float(total - min(bad, total)), float(total))


def backfill(
    store: SQLiteStore, slos: dict[str, Traffic], start: float, end: float
) -> tuple[int, int]:
    """One commit per SLO per chunk, like a cold-start backfill; returns commits and buckets."""
    res = store.resolution
    commits = buckets = 0
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + BACKFILL_CHUNK, end)
        starts = [chunk_start + i * res for i in range(int((chunk_end - chunk_start) // res))]
        for key, traffic in slos.items():
            deltas = {}
            for b in starts:
                value = traffic.bucket(b)
                if value is not None:
                    deltas[b] = value
            series = {f"s{j}": (chunk_end - 1.0, float(j)) for j in range(SERIES_PER_SLO)}
            store.commit(
                key, deltas, cursor=chunk_end, series=series, measured=(chunk_start, chunk_end)
            )
            commits += 1
            buckets += len(deltas)
        chunk_start = chunk_end
    return commits, buckets


def used_bytes(path: Path) -> tuple[int, int]:
    """The file's size and the bytes of its pages in use (free pages are reused)."""
    conn = sqlite3.connect(path / FILENAME)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    return (path / FILENAME).stat().st_size, (pages - free) * page


def compact_cost(
    path: Path, slos: dict[str, Traffic], start: float, end: float, res: float
) -> None:
    """Time compact() over a backlog: every SLO's buckets written as hot rows straight into
    the file under new keys (as a crash before compaction would leave them)."""
    conn = sqlite3.connect(path / FILENAME)
    with conn:
        for key, traffic in itertools.islice(slos.items(), 20):
            slo_id = conn.execute(
                "INSERT INTO slo (slo_key) VALUES (?)", ("backlog/" + key,)
            ).lastrowid
            rows = []
            for i in range(int((end - start) // res)):
                value = traffic.bucket(start + i * res)
                if value is not None:
                    rows.append((slo_id, start + i * res, *value))
            conn.executemany("INSERT INTO bucket VALUES (?, ?, ?, ?)", rows)
    conn.close()
    store = SQLiteStore(path, res)
    t = time.perf_counter()
    written = store.compact(budget=10**9)
    elapsed = time.perf_counter() - t
    store.close()
    print(
        f"compaction:    {written:,} SLO-days from hot rows into blocks in {elapsed:.2f} s = "
        f"{elapsed / max(written, 1) * 1000:.2f} ms per SLO-day"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--traffic", choices=("ratio", "probe"), default="ratio")
    parser.add_argument("--resolution", type=float, default=60.0)
    parser.add_argument("--cycles", type=int, default=20, help="steady-state cycles to time")
    parser.add_argument("--path", help="storage directory (default: a temporary one)")
    args = parser.parse_args()

    rng = random.Random(42)
    slos = {key: Traffic(args.traffic, rng) for key in keys(args.slos)}
    period = args.days * DAY
    windows = required_windows(period, (*(w for w in STANDARD_WINDOWS if w < period), period))
    res = args.resolution
    now = 1_800_000_000.0 - 1_800_000_000.0 % DAY + 13 * 3600.0  # 13:00 UTC
    slots = int(period // res)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.path or tmp)
        print(
            f"store bench: {args.slos} {args.traffic} SLOs x {args.days:g} days at {res:g} s "
            f"= {slots:,} buckets per SLO, {len(windows)} windows summed per SLO"
        )

        store = SQLiteStore(path, res)
        t = time.perf_counter()
        commits, rows = backfill(store, slos, now - period, now)
        elapsed = time.perf_counter() - t
        print(
            f"backfill:      {commits:,} commits of {int(BACKFILL_CHUNK // res):,} buckets in "
            f"{elapsed:.1f} s = {rows / elapsed:,.0f} buckets/s, compaction included "
            f"({rows:,} buckets stored: minutes without events store nothing)"
        )
        t = time.perf_counter()
        blocks = store.compact(budget=10**9)
        print(f"compact rest:  {blocks:,} day blocks in {time.perf_counter() - t:.2f} s")
        store.close()
        size, used = used_bytes(path)
        per_bucket = used / rows
        extrapolated = per_bucket * rows / args.slos / args.days * GOAL_SLOS * GOAL_DAYS
        print(
            f"on disk:       {used / 2**20:,.1f} MiB in use ({size / 2**20:,.1f} MiB file) = "
            f"{per_bucket:.2f} bytes per stored bucket"
        )
        verdict = "met" if extrapolated <= GOAL_BYTES else "missed"
        print(
            f"extrapolated:  {extrapolated / 1e9:.2f} GB for {GOAL_SLOS:,} SLOs x {GOAL_DAYS} "
            f"days of this traffic (goal <= 1 GB: {verdict})"
        )

        store = SQLiteStore(path, res)
        key = next(iter(slos))
        n = 200
        t = time.perf_counter()
        for i in range(n):
            store._read_sum(key, now - period + 3600.0 + i * 60.0, now - 600.0)
        elapsed = time.perf_counter() - t
        print(f"_read_sum:     {elapsed / n * 1e6:,.0f} us for a 30-day range ending mid-day")

        t = time.perf_counter()
        for k in slos:
            store.buckets(k, now - period, now)
        elapsed = time.perf_counter() - t
        print(f"buckets:       {elapsed / args.slos * 1000:,.1f} ms per SLO for the whole period")

        commit_s = sums_s = 0.0
        for cycle in range(args.cycles):
            t_eval = now + (cycle + 1) * 30.0
            for k in slos:
                newest = (t_eval // res) * res
                deltas = {newest - res: (1.0, 2.0), newest: (5.0, 5.0)}
                series = {f"s{j}": (t_eval, float(cycle)) for j in range(SERIES_PER_SLO)}
                t = time.perf_counter()
                store.commit(
                    k, deltas, cursor=t_eval, series=series, measured=(t_eval - 30.0, t_eval)
                )
                t2 = time.perf_counter()
                _, end = window_bounds(t_eval, res, res)
                store.sums(k, end, windows)
                t3 = time.perf_counter()
                commit_s += t2 - t
                sums_s += t3 - t2
        n = args.cycles * args.slos
        print(
            f"steady commit: {commit_s / n * 1e6:,.0f} us each (2 buckets, "
            f"{SERIES_PER_SLO} series, cursor, span)"
        )
        print(
            f"steady sums:   {sums_s / n * 1e6:,.0f} us per SLO for {len(windows)} windows "
            "(the store's running sums over its database reads)"
        )

        t = time.perf_counter()
        pruned = store.prune(now - period + 2 * DAY)
        elapsed = time.perf_counter() - t
        print(
            f"prune:         {pruned.buckets:,} buckets (2 days x {args.slos} SLOs) "
            f"in {elapsed:.2f} s"
        )
        store.close()

        compact_cost(path, slos, now - period, now, res)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS:      {rss:,.0f} MiB (process)")


if __name__ == "__main__":
    main()
