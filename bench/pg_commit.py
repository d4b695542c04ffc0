"""PostgreSQL store cost of one steady cycle: every SLO's commit, and its cursor and series reads.

Each cycle every SLO commits what a steady read makes (two 1-minute buckets,
the cursor, two series' last samples, the span read), once as one
``commit_many`` of the whole cycle and once as one ``commit`` per SLO, each
in a fresh schema; then every SLO's ``cursor`` and ``series`` are read, as
the next cycle's reads ask them. Prints the median wall and CPU seconds of
a cycle (wall time includes the server's work; CPU time is this process's).

Without ``--url`` a private server is started (the one the tests use: it
needs the PostgreSQL server binaries).

    python -m bench.pg_commit [--slos 1000] [--cycles 5] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence

from slo_exporter.store import Commit, PostgresStore

RES = 60.0
T0 = 1_700_000_040.0  # a bucket start


def keys(n: int) -> list[str]:
    return [f"service-{i // 5}/slo-{i % 5}" for i in range(n)]


def cycle_commits(slos: Sequence[str], cycle: int) -> list[Commit]:
    """What each SLO's steady read of cycle ``cycle`` commits."""
    end = T0 + (cycle + 1) * RES
    return [Commit(key, {end - 2 * RES: (1.0 * i, 2.0 * i + 1), end - RES: (3.0, 4.0)},
                   cursor=end, series={"a": (end - 5, float(i)), "b": (end - 5, 2.0)},
                   measured=(end - RES, end))
            for i, key in enumerate(slos)]


def timed(work: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(url: str, slos: Sequence[str], cycles: int, *, batch: bool) -> dict[str, float]:
    """Median wall and CPU seconds of a cycle's commits and of its cursor and series reads."""
    commits, reads = [], []
    with PostgresStore(url, RES) as store:
        for cycle in range(cycles + 1):  # the first warms the memory and is not counted
            found = cycle_commits(slos, cycle)

            def write(found: list[Commit] = found) -> None:
                if batch:
                    store.commit_many(found)
                else:
                    for c in found:
                        store.commit_many([c])

            def read() -> None:
                for key in slos:
                    store.cursor(key)
                    store.series(key)

            took = timed(write), timed(read)
            if cycle:
                commits.append(took[0])
                reads.append(took[1])
    return {"commit wall": statistics.median(w for w, _ in commits),
            "commit cpu": statistics.median(c for _, c in commits),
            "read wall": statistics.median(w for w, _ in reads),
            "read cpu": statistics.median(c for _, c in reads)}


@contextlib.contextmanager
def schemas(url: str | None) -> Iterator[Callable[[], str]]:
    """A fresh schema per measurement: of ``url``'s database, or of a private server."""
    if url is not None:
        counter = iter(range(1_000_000))
        base = url + ("&" if "?" in url else "?")
        stamp = int(time.time())

        def new_schema() -> str:
            import psycopg

            name = f"bench_{stamp}_{next(counter)}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {name}")
            return f"{base}options=-csearch_path%3D{name}"

        yield new_schema
        return
    from tests.support.postgres import private_postgres

    with private_postgres() as server:
        yield server.new_schema


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=5, help="steady cycles to time")
    parser.add_argument("--url", help="a PostgreSQL database to make schemas in")
    args = parser.parse_args()
    slos = keys(args.slos)
    with schemas(args.url) as new_schema:
        for name, batch in (("one commit per SLO", False), ("one commit_many", True)):
            got = measure(new_schema(), slos, args.cycles, batch=batch)
            print(f"{args.slos} SLOs, {name}: commits {got['commit wall']:.3f} s wall "
                  f"{got['commit cpu']:.3f} s cpu; cursor+series reads "
                  f"{got['read wall']:.3f} s wall {got['read cpu']:.3f} s cpu")


if __name__ == "__main__":
    main()
