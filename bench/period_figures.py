"""Period figures per evaluation cycle: what service-level management adds to a cycle.

Fills a fresh store with N SLOs x one Berlin calendar month of 60 s buckets
(March 2026, 44,580 buckets each, with measured spans and a few bad minutes),
then times ``compliance.current_figures`` for every SLO the way the engine
calls it each cycle: the first cycle after a start (nothing cached) and the
steady cycles that follow. Half the SLOs budget by events, half by 1-minute
timeslices, all with an SLA and a weekly maintenance window.

    python -m bench.period_figures [--slos 100] [--cycles 5]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from slo_exporter import compliance
from slo_exporter.model import (
    SLO,
    Budgeting,
    CalendarPeriod,
    MaintenanceWindow,
    ProbeSLI,
    TCPProbe,
    Timeslices,
)
from slo_exporter.sla import PRESETS
from slo_exporter.store import SQLiteStore

RESOLUTION = 60.0
BERLIN = "Europe/Berlin"
MONTH = CalendarPeriod("month", BERLIN)
START, END = MONTH.span_of("2026-03")

def slos(n: int) -> list[SLO]:
    """N calendar-month SLOs with an SLA; every other one budgets by timeslices."""
    base = SLO(service="svc", name="slo", objective=0.999, period=MONTH,
               sli=ProbeSLI(TCPProbe("127.0.0.1:1")), sla=PRESETS["azure-vm-premium-ssd"])
    slices = Budgeting(Timeslices(slice=60.0, target=Decimal("0.95")))
    return [replace(base, service=f"service-{i // 5}", name=f"slo-{i % 5}",
                    budgeting=slices if i % 2 else Budgeting()) for i in range(n)]

def fill(store: SQLiteStore, keys: list[str], rng: random.Random) -> None:
    """One day per commit per SLO, with the day's span measured."""
    day = START
    while day < END:
        day_end = min(day + 86400.0, END)
        for key in keys:
            deltas = {}
            b = day
            while b < day_end:
                total = float(rng.randint(50, 500))
                bad = total if rng.random() < 0.0005 else float(rng.randint(0, 1))
                deltas[b] = (total - bad, total)
                b += RESOLUTION
            store.commit(key, deltas, cursor=day_end, series={}, measured=(day, day_end))
        day = day_end

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=100)
    parser.add_argument("--cycles", type=int, default=5)
    args = parser.parse_args()

    definitions = slos(args.slos)
    maintenance = (MaintenanceWindow(
        name="patching", start=datetime(2026, 1, 4, 2, 0, tzinfo=ZoneInfo(BERLIN)),
        time_zone=BERLIN, duration=7200.0, rrule="FREQ=WEEKLY;BYDAY=SU"),)
    at = END - 3 * 86400.0 + 1234.0  # late in the month: 28 days to date
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        with SQLiteStore(path, RESOLUTION) as store:
            t0 = time.perf_counter()
            fill(store, [s.key for s in definitions], random.Random(7))
            fill_s = time.perf_counter() - t0
        with SQLiteStore(path, RESOLUTION) as store:
            cycles = []
            for _ in range(args.cycles + 1):
                t0 = time.perf_counter()
                for slo in definitions:
                    compliance.current_figures(store, slo, at, maintenance)
                cycles.append(time.perf_counter() - t0)
            sample = compliance.current_figures(store, definitions[1], at, maintenance)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.slos} SLOs x {int((END - START) // RESOLUTION)} buckets "
          f"(Berlin March 2026), filled in {fill_s:.1f} s")
    print(f"first cycle (nothing cached): {cycles[0]:.2f} s "
          f"({cycles[0] / args.slos * 1000:.1f} ms per SLO)")
    steady = statistics.median(cycles[1:])
    print(f"steady cycle (median of {args.cycles}): {steady * 1000:.1f} ms "
          f"({steady / args.slos * 1000:.2f} ms per SLO)")
    print(f"peak RSS: {rss:.0f} MiB")
    print(f"sample (timeslices): achieved {sample.achieved}, coverage {sample.coverage}, "
          f"excluded {sample.excluded_seconds:.0f} s, slices {sample.slices}")

if __name__ == "__main__":
    main()
