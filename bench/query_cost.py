"""Prometheus samples touched per evaluation cycle: slo-exporter vs full-window queries.

Sets up a real Prometheus holding N jobs x D days of request counters
(backfilled with promtool, then kept growing by a live scrape target), runs
the real ``slo-exporter`` daemon with one ratio SLO (bad/total, 30d) per job,
waits until it is past its cold start, and reads what its steady-state
evaluation cycles cost from Prometheus's own query log
(``stats.samples.totalQueryableSamples`` of every query it issued). Side by
side, it issues what a full-window tool evaluates each cycle,
``sum(increase(<selector>[30d]))`` per selector, with ``stats=all``, and
prints both totals and their ratio (target: at least 1000x fewer samples).

As a cross-check it also replays the daemon's steady-state query shape
(``<selector>[<evaluation interval + query delay>]`` at an instant) with
``stats=all``.

    python -m bench.query_cost [--slos 100] [--days 31] [--step 60]
        [--evaluation-interval 30] [--query-delay 30] [--cycles 6]

Needs ``prometheus`` and ``promtool`` on PATH. Everything lives in a temp
dir that is removed at the end; nothing is cached between runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from tests.support.harness import (
    CounterTarget,
    ExporterProcess,
    HarnessError,
    PrometheusServer,
    Scrape,
    SLOSpec,
    exporter_config,
)
from tests.support.synth import JobHistory, generate_job, write_openmetrics

TARGET_RATIO = 1000.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slos", type=int, default=100, help="SLOs, one job each")
    parser.add_argument("--days", type=float, default=31, help="history length (>= 30)")
    parser.add_argument(
        "--step", type=int, default=60,
        help="seconds between samples, history and live scrapes (Prometheus default: 60)",
    )
    parser.add_argument("--evaluation-interval", type=int, default=30, help="seconds")
    parser.add_argument("--query-delay", type=int, default=30, help="seconds")
    parser.add_argument("--cycles", type=int, default=6, help="steady cycles to measure")
    parser.add_argument("--ready-timeout", type=float, default=900, help="cold start bound, s")
    args = parser.parse_args(argv)
    if args.days < 30:
        parser.error("--days must cover the 30d window")
    return args


def selectors(job: str) -> tuple[str, str]:
    """(bad, total) selectors of one job's SLO."""
    return f'http_requests_total{{job="{job}",code="500"}}', f'http_requests_total{{job="{job}"}}'


def build_history(path: Path, jobs: Sequence[str], days: float, step: int) -> tuple[
    dict[str, tuple[float, float]], int, float
]:
    """Write every job's history as OpenMetrics; returns last values, samples, end time."""
    end = time.time() - 2 * step
    last: dict[str, tuple[float, float]] = {}

    def histories() -> Iterator[JobHistory]:
        for job in jobs:
            history = generate_job(job, end=end, days=days, step=step)
            last[job] = (history.last_good, history.last_bad)
            yield history

    samples = write_openmetrics(path, histories())
    return last, samples, end


class LoggedQuery(NamedTuple):
    logged_at: float
    samples: int  # stats.samples.totalQueryableSamples
    seconds: float  # stats.timings.evalTotalTime
    query: str


def query_log_entries(path: Path, since: float, until: float) -> list[LoggedQuery]:
    """Every query Prometheus logged in [since, until], with its stats, oldest first."""
    out = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        logged = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
        if since <= logged <= until:
            stats = entry.get("stats", {})
            out.append(LoggedQuery(
                logged,
                int(stats.get("samples", {}).get("totalQueryableSamples", 0)),
                float(stats.get("timings", {}).get("evalTotalTime", 0.0)),
                entry["params"]["query"],
            ))
    return sorted(out)


def split_cycles(entries: Sequence[LoggedQuery], gap: float) -> list[list[LoggedQuery]]:
    """Group queries into evaluation cycles: a pause longer than ``gap`` starts a new one."""
    cycles: list[list[LoggedQuery]] = []
    for entry in entries:
        if cycles and entry.logged_at - cycles[-1][-1].logged_at <= gap:
            cycles[-1].append(entry)
        else:
            cycles.append([entry])
    return cycles


def cost(prometheus: PrometheusServer, promql: str, at: float) -> tuple[int, float]:
    """(samples touched, evaluation seconds) of one instant query, from ``stats=all``."""
    stats = prometheus.query(promql, at, stats=True)["stats"]
    return int(stats["samples"]["totalQueryableSamples"]), float(stats["timings"]["evalTotalTime"])


def evaluated_at(scrape: Scrape, slo: SLOSpec) -> float:
    return float(
        scrape.value("slo_last_evaluation_timestamp_seconds", service=slo.service, slo=slo.name)
    )


def measure_daemon(
    args: argparse.Namespace, work: Path, prometheus: PrometheusServer, slos: Sequence[SLOSpec]
) -> list[tuple[int, float]]:
    """Run the daemon to steady state; (samples, seconds) of each complete cycle."""
    config = exporter_config(
        prometheus.url, slos,
        evaluation_interval=f"{args.evaluation_interval}s",
        query_delay=f"{args.query_delay}s",
        timeout=f"{args.evaluation_interval}s",  # at most the interval (config rule)
    )
    exporter = ExporterProcess(work / "exporter", config)
    began = time.monotonic()
    try:
        exporter.start(ready_timeout=args.ready_timeout)
        print(f"daemon ready after a cold start of {time.monotonic() - began:.1f}s")
        ready_at = time.time()
        last = evaluated_at(exporter.scrape(), slos[-1])
        for n in range(args.cycles + 1):
            seen = last

            def advanced(scrape: Scrape, seen: float = seen) -> bool:
                return evaluated_at(scrape, slos[-1]) > seen

            last = evaluated_at(
                exporter.wait_for_scrape(
                    advanced, timeout=4 * args.evaluation_interval + 60,
                    what=f"evaluation cycle {n + 1}",
                ),
                slos[-1],
            )
        done_at = time.time()
    finally:
        exporter.terminate()

    assert prometheus.query_log_path is not None
    entries = query_log_entries(prometheus.query_log_path, ready_at, done_at)
    cycles = split_cycles(entries, gap=args.evaluation_interval / 3)
    # the first cycle after ready may still be catching up, the last may be cut off
    full = max((len(c) for c in cycles), default=0)
    steady = [c for c in cycles[1:] if len(c) == full]
    if not steady:
        raise HarnessError(f"no complete steady-state cycle in the query log ({len(cycles)})")
    print(f"query shape the daemon issued, e.g.: {steady[-1][0].query}")
    return [(sum(q.samples for q in cycle), sum(q.seconds for q in cycle)) for cycle in steady]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    jobs = [f"api-{i:03d}" for i in range(args.slos)]
    slos = [
        SLOSpec(job, "availability", total=selectors(job)[1], bad=selectors(job)[0],
                objective=99.9, window="30d")
        for job in jobs
    ]
    with tempfile.TemporaryDirectory(prefix="query-cost-") as tmp:
        work = Path(tmp)
        began = time.monotonic()
        last, history_samples, _ = build_history(work / "history.om", jobs, args.days, args.step)
        print(f"history: {len(jobs)} jobs x {args.days:g} days every {args.step}s = "
              f"{history_samples:,} samples ({time.monotonic() - began:.1f}s)")

        with CounterTarget(last, good_rps=8.0, bad_rps=0.25) as target:
            prometheus = PrometheusServer(
                work / "prometheus",
                scrape_configs=[target.scrape_config(f"{args.step}s")],
                query_log=True,
            )
            began = time.monotonic()
            prometheus.backfill(work / "history.om", timeout=1800)
            (work / "history.om").unlink()
            print(f"promtool backfill: {time.monotonic() - began:.1f}s")
            prometheus.start(timeout=300)
            try:
                prometheus.wait_for_sample_after(
                    selectors(jobs[0])[1], time.time(), timeout=args.step + 30
                )
                per_cycle = measure_daemon(args, work, prometheus, slos)

                at = time.time() - args.query_delay
                span = args.evaluation_interval + args.query_delay
                # the replayed shape at the same instants as len(per_cycle) cycles
                instants = [at - k * args.evaluation_interval for k in range(len(per_cycle))]
                shape = statistics.mean(
                    sum(
                        cost(prometheus, f"{sel}[{span}s]", t)[0]
                        for job in jobs for sel in selectors(job)
                    )
                    for t in instants
                )
                full = [
                    cost(prometheus, f"sum(increase({sel}[30d]))", at)
                    for job in jobs for sel in selectors(job)
                ]
                full_window = sum(samples for samples, _ in full)
                full_seconds = sum(seconds for _, seconds in full)
            finally:
                prometheus.stop()

    # a cycle touches 0, 1 or 2 samples per series depending on where the
    # scrapes fall, so the mean over cycles is the figure that adds up
    samples = [n for n, _ in per_cycle]
    mean = statistics.mean(samples)
    seconds = statistics.mean(t for _, t in per_cycle)
    print()
    print(f"samples touched per evaluation cycle, {len(slos)} SLOs (2 selectors each):")
    print(f"  slo-exporter, steady state (query log, {len(per_cycle)} cycles): "
          f"mean {mean:,.1f} (min {min(samples):,}, max {max(samples):,}), "
          f"{seconds * 1000:.1f} ms of Prometheus evaluation")
    print(f"  replayed daemon query shape selector[{span}s], same instants: mean {shape:,.1f}")
    print(f"  full window, sum(increase(selector[30d])) per selector: {full_window:,}, "
          f"{full_seconds * 1000:.1f} ms of Prometheus evaluation")
    ratio = full_window / max(mean, 1.0)
    print(f"  ratio: {ratio:,.0f}x fewer samples per cycle (target >= {TARGET_RATIO:,.0f}x)")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(2)
