"""Scale figures of the real daemon at a given SLO count, against the goals for 10,000 SLOs.

Sets up a real Prometheus holding ``--days`` of request counters for ratio
SLOs spread over ``--metrics`` distinct counters (default 20; SLOs over one
counter differ by their ``job`` and ``route`` labels, as a grouped
configuration produces them), backfilled with promtool and kept growing by a
live scrape target. It then runs the real ``slo-exporter`` daemon as a
process (30-day rolling windows, 1-minute buckets) and measures, from the
outside only (``/proc``, HTTP, Prometheus's query log, the daemon's log and
its own ``/metrics``):

* the cold start (backfill plus first evaluation) until ``/-/ready``, and
  whether a progress signal shows meanwhile (a gauge on ``/metrics``, log
  events, the ``/-/ready`` text);
* resident memory after the cold start and after the steady cycles, and the
  size of the storage directory;
* Prometheus queries per steady cycle (query log, and the daemon's own query
  counter when it has one), CPU seconds per steady cycle (``/proc/<pid>/stat``
  deltas over several cycles; the daemon's own cycle timing beside it);
* ``/metrics`` size and render time, ``/`` and ``/api/v1/slos`` time, and
  whether ``?service=`` and ``?owner=`` filter them;
* with ``--soak-minutes``, the memory slope, open file descriptors and threads
  while ``/metrics`` is scraped every 15 s and the pages are read each minute.

``--probes N`` adds N probe SLOs against a local HTTP target. ``--slos``
takes a comma-separated list (e.g. ``300,1000``): each count is one run, and
the report states the per-SLO slope and the extrapolation to 10,000 SLOs
beside each goal.

    python -m bench.scale [--slos 1000] [--metrics 20] [--days 3] [--probes 0]
        [--cycles 6] [--evaluation-interval 30] [--soak-minutes 0] [--json FILE]

``--sizing`` runs the ``--grid`` of (SLOs, probes, days) points instead and
prints the sizing table: CPU, memory and disk at each size of
``SIZING_ROWS``, from a least-squares fit over the runs (fixed part, per
SLO, per probe target, per SLO-day of buckets), with the Kubernetes requests,
limits and volume derived from them. ``--sizing-from FILE...`` prints the same
table from runs saved with ``--json`` (a soak run included) without running
anything.

It prints a Markdown table and exits 0 whenever the measurement ran (missed
goals are reported, not failed), 2 when the set-up failed. Needs
``prometheus`` and ``promtool`` on PATH. Everything runs on 127.0.0.1 on free
ports, in a temp dir that is removed at the end.

Must not import the daemon's modules: it measures whatever build the tree
holds, through its command line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from tests.support.harness import (
    ExporterProcess,
    HarnessError,
    PrometheusServer,
    Scrape,
    ScrapeTarget,
    SLOSpec,
    wait_until,
)
from tests.support.synth import JobHistory, generate_job

TARGET_SLOS = 10_000
TARGET_DAYS = 30
MIB = 2**20
SOAK_SAMPLE_SECONDS = 30.0
SOAK_SCRAPE_SECONDS = 15.0
#: metric name fragments that mark a cold-start progress gauge on /metrics
PROGRESS_WORDS = ("backfill", "progress", "catch")


# ------------------------------------------------------------ the SLO layout


@dataclass(frozen=True)
class BenchSLO:
    """One ratio SLO of the layout and the two series it reads."""

    service: str
    name: str
    owner: str
    metric: str  # the counter, with its ``_total`` suffix
    labels: Mapping[str, str]  # what tells this SLO's series apart on the counter

    def selector(self, **extra: str) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in {**self.labels, **extra}.items())
        return f"{self.metric}{{{inner}}}"

    def spec(self) -> SLOSpec:
        return SLOSpec(self.service, self.name, total=self.selector(),
                       bad=self.selector(code="500"), objective=99.9, window="30d")


@dataclass(frozen=True)
class Layout:
    """``slos`` ratio SLOs over ``metrics`` counters, ``per_service`` SLOs per service.

    SLO ``i`` belongs to service ``svc-{i // per_service}`` (owner
    ``team-{service % owners}``), reads counter ``bench_requests_{i % metrics}_total``
    and picks its series by ``job`` (the service) and ``route`` labels, so the SLOs over
    one counter differ only by labels.
    """

    slos: int
    metrics: int = 20
    per_service: int = 10
    owners: int = 10

    def service(self, i: int) -> str:
        return f"svc-{i // self.per_service:04d}"

    def owner(self, service_index: int) -> str:
        return f"team-{service_index % self.owners}"

    def slo(self, i: int) -> BenchSLO:
        service = self.service(i)
        return BenchSLO(
            service=service, name=f"route-{i % self.per_service}",
            owner=self.owner(i // self.per_service),
            metric=f"bench_requests_{i % self.metrics:02d}_total",
            labels={"job": service, "route": f"/r{i % self.per_service}"},
        )

    def all(self) -> list[BenchSLO]:
        return [self.slo(i) for i in range(self.slos)]

    def services_of(self, owner: str) -> set[str]:
        return {s.service for s in self.all() if s.owner == owner}


def series_labels(slo: BenchSLO, code: str) -> str:
    """Label text of one of the SLO's series in the exposition formats."""
    inner = ",".join(f'{k}="{v}"' for k, v in {**slo.labels, "code": code}.items())
    return "{" + inner + "}"


def probe_timeout(interval: float) -> int:
    """Whole seconds (the config takes no fractions): half the interval, 1 to 5 s."""
    return max(1, min(5, int(interval // 2)))


def native_config(
    layout: Layout,
    prometheus_url: str,
    *,
    evaluation_interval: float,
    probe_urls: Sequence[str] = (),
    probe_interval: float = 15.0,
) -> dict[str, Any]:
    """The daemon's native config: ratio SLOs by service with an owner label, then probes."""
    services: dict[str, dict[str, Any]] = {}
    for slo in layout.all():
        entry = services.setdefault(slo.service, {
            "name": slo.service, "labels": {"owner": slo.owner}, "slos": [],
        })
        entry["slos"].append(slo.spec().config_entry())
    for n, url in enumerate(probe_urls):
        name = f"probe-{n // layout.per_service:04d}"
        entry = services.setdefault(name, {"name": name, "labels": {"owner": "probers"},
                                           "slos": []})
        entry["slos"].append({
            "name": f"target-{n % layout.per_service}", "objective": 99.9, "window": "30d",
            "sli": {"probe": {"http": {"url": url}, "interval": f"{probe_interval:g}s",
                              "timeout": f"{probe_timeout(probe_interval)}s"}},
        })
    return {
        "prometheus": {"url": prometheus_url, "timeout": f"{evaluation_interval:g}s"},
        "evaluation_interval": f"{evaluation_interval:g}s",
        "storage": {"resolution": "60s"},
        "services": list(services.values()),
    }


# ------------------------------------------------------------------ history


def _value(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


def write_history(
    path: Path, layout: Layout, *, end: float, days: float, step: int
) -> tuple[dict[str, tuple[float, float]], int]:
    """Every SLO's counters as OpenMetrics, one family per counter.

    Returns each SLO's last (good, bad) values by its good series' label text,
    and the number of samples written.
    """
    last: dict[str, tuple[float, float]] = {}
    count = 0
    by_metric: dict[str, list[BenchSLO]] = {}
    for slo in layout.all():
        by_metric.setdefault(slo.metric, []).append(slo)
    with path.open("w", encoding="ascii") as out:
        for metric, slos in by_metric.items():
            family = metric.removesuffix("_total")
            out.write(f"# HELP {family} Synthetic requests by route and status code.\n")
            out.write(f"# TYPE {family} counter\n")
            for slo in slos:
                history: JobHistory = generate_job(
                    f"{slo.service}/{slo.name}", end=end, days=days, step=step)
                for code, values in (("200", history.good_values), ("500", history.bad_values)):
                    labels = series_labels(slo, code)
                    out.writelines(
                        f"{metric}{labels} {_value(v)} {ts // 1000}\n"
                        for ts, v in zip(history.timestamps, values, strict=True)
                    )
                    count += len(values)
                last[slo.selector()] = (history.last_good, history.last_bad)
        out.write("# EOF\n")
    return last, count


class LiveCounters(ScrapeTarget):
    """Continues every SLO's counters in real time, for Prometheus to scrape."""

    def __init__(self, layout: Layout, starts: Mapping[str, tuple[float, float]],
                 *, good_rps: float = 5.0, bad_rps: float = 0.01) -> None:
        self.slos = layout.all()
        self.starts = dict(starts)
        self.good_rps, self.bad_rps = good_rps, bad_rps
        self.since = time.time()
        super().__init__()

    def exposition(self) -> str:
        elapsed = time.time() - self.since
        lines = []
        for slo in self.slos:
            good, bad = self.starts[slo.selector()]
            lines.append(f"{slo.metric}{series_labels(slo, '200')} "
                         f"{int(good + self.good_rps * elapsed)}\n")
            lines.append(f"{slo.metric}{series_labels(slo, '500')} "
                         f"{int(bad + self.bad_rps * elapsed)}\n")
        return "".join(lines)


class ProbeTarget(ScrapeTarget):
    """An HTTP target for probe SLOs: every GET answers 200 and is counted.

    The count shows that the probes really run: N targets probed every
    ``interval`` seconds make about N / interval hits a second.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hits = 0
        super().__init__()

    def exposition(self) -> str:
        with self._lock:
            self.hits += 1
        return "ok\n"


# ------------------------------------------------------------------ /proc


def cpu_seconds(stat: str, ticks: int) -> float:
    """utime + stime of a ``/proc/<pid>/stat`` line, in seconds."""
    fields = stat.rsplit(")", 1)[1].split()
    # after the command name: state is field 3, utime 14 and stime 15 (1-based)
    return (int(fields[11]) + int(fields[12])) / ticks


def status_field(status: str, name: str) -> int:
    """An integer field of ``/proc/<pid>/status`` (``VmRSS`` in kB, ``Threads``)."""
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value.split()[0])
    raise HarnessError(f"no {name} in /proc status")


@dataclass(frozen=True)
class ProcSample:
    at: float
    cpu: float  # seconds
    rss: float  # bytes
    threads: int
    fds: int


def proc_sample(pid: int) -> ProcSample:
    base = Path(f"/proc/{pid}")
    try:
        status = (base / "status").read_text()
        return ProcSample(
            at=time.monotonic(),
            cpu=cpu_seconds((base / "stat").read_text(), os.sysconf("SC_CLK_TCK")),
            rss=status_field(status, "VmRSS") * 1024.0,
            threads=status_field(status, "Threads"),
            fds=len(os.listdir(base / "fd")),
        )
    except OSError as exc:
        raise HarnessError(f"cannot read /proc/{pid}: {exc}") from exc


def directory_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ------------------------------------------------------ the daemon's figures


@dataclass(frozen=True)
class OwnFigures:
    """What the daemon's own /metrics says about itself."""

    evaluations: float | None
    duration_sum: float | None
    duration_count: float | None
    queries: float | None  # its own query counter, summed over labels
    query_metric: str | None
    progress: Mapping[str, float]  # cold-start progress gauges, by name


def own_figures(text: str) -> OwnFigures:
    """The daemon's self-metrics from one /metrics text (names found by pattern)."""
    scrape = Scrape(text)
    totals: dict[str, float] = {}
    for sample in scrape.samples:
        totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    queries = sorted(
        name for name in totals
        if re.fullmatch(r"slo_exporter_\w*(quer(y|ies)|prometheus_requests?)\w*_total", name)
        and "error" not in name
    )
    progress = {
        name: value for name, value in totals.items()
        if name.startswith("slo_exporter_") and any(w in name for w in PROGRESS_WORDS)
        and not name.endswith(("_created", "_bucket"))
    }
    return OwnFigures(
        evaluations=totals.get("slo_exporter_evaluations_total"),
        duration_sum=totals.get("slo_exporter_evaluation_duration_seconds_sum"),
        duration_count=totals.get("slo_exporter_evaluation_duration_seconds_count"),
        queries=sum(totals[n] for n in queries) if queries else None,
        query_metric=" + ".join(queries) if queries else None,
        progress=progress,
    )


def sample_count(text: str) -> int:
    """Samples in an exposition text: lines that are neither comments nor blank."""
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def logged_queries(path: Path, since: float, until: float) -> int:
    """Queries Prometheus's query log holds between two wall-clock instants."""
    if not path.exists():
        return 0
    count = 0
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        logged = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
        count += since <= logged <= until
    return count


def progress_events(log_text: str) -> dict[str, int]:
    """Structured log events of the cold start (names with backfill/progress), counted."""
    counts: dict[str, int] = {}
    for line in log_text.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line).get("event", "")
            if isinstance(event, str) and any(w in event for w in PROGRESS_WORDS):
                counts[event] = counts.get(event, 0) + 1
    return counts


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per hour; None under 2 points."""
    if len(points) < 2 or len({t for t, _ in points}) < 2:
        return None
    slope = statistics.linear_regression([t for t, _ in points], [v for _, v in points]).slope
    return slope * 3600.0


# ------------------------------------------------------------------ a run


@dataclass
class Run:
    """Everything measured at one SLO count; None where it could not be measured."""

    slos: int
    probes: int
    metrics: int
    days: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cold_start_s: float | None = None
    progress: str = "none seen"
    rss_cold: float | None = None
    cold_cpu_s: float | None = None  # process CPU from launch to /-/ready
    rss_steady: float | None = None
    store_bytes: float | None = None
    cycles: float | None = None
    queries_per_cycle: float | None = None
    own_queries_per_cycle: float | None = None
    own_query_metric: str | None = None
    cpu_per_cycle: float | None = None
    core_share: float | None = None
    own_cycle_wall: float | None = None
    metrics_bytes: float | None = None
    metrics_samples: int | None = None
    metrics_s: float | None = None
    status_s: float | None = None
    api_s: float | None = None
    api_rows: int | None = None  # SLOs in the unfiltered answer (a paged one holds fewer)
    filters: dict[str, str] = field(default_factory=dict)
    fds: int | None = None
    threads: int | None = None
    soak: dict[str, Any] = field(default_factory=dict)


def timed_get(url: str, timeout: float = 300) -> tuple[float, requests.Response]:
    began = time.perf_counter()
    try:
        resp = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise HarnessError(f"GET {url}: {exc}") from exc
    elapsed = time.perf_counter() - began
    if resp.status_code != 200:
        raise HarnessError(f"GET {url} answered {resp.status_code}")
    return elapsed, resp


def median_time(url: str, times: int = 3) -> tuple[float, requests.Response]:
    results = [timed_get(url) for _ in range(times)]
    return statistics.median(t for t, _ in results), results[-1][1]


def api_rows(resp: requests.Response) -> int | None:
    """How many SLOs an ``/api/v1/slos`` answer holds; None when it is not that document."""
    with contextlib.suppress(ValueError):
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("slos"), list):
            return len(body["slos"])
    return None


def api_filter(body: Any, allowed: set[str], total: int) -> bool:
    """Did ``/api/v1/slos`` keep only SLOs of the ``allowed`` services (and fewer)?"""
    slos = body.get("slos", []) if isinstance(body, dict) else []
    return 0 < len(slos) < total and all(s.get("service") in allowed for s in slos)


def page_filter(html: str, kept: str, dropped: str) -> bool:
    """Did ``/`` show the ``kept`` service and leave out the ``dropped`` one?"""
    return kept in html and dropped not in html


def measure_filters(base: str, layout: Layout, total: int) -> dict[str, str]:
    """Time and verdict of ``?service=`` and ``?owner=`` on ``/`` and ``/api/v1/slos``."""
    first, other = layout.service(0), layout.service(layout.per_service)
    owner = layout.owner(0)
    mine = layout.services_of(owner)
    foreign = next((s.service for s in layout.all() if s.service not in mine), other)
    out: dict[str, str] = {}
    checks: list[tuple[str, str, Callable[[requests.Response], bool]]] = [
        ("/api/v1/slos?service=", first, lambda r: api_filter(r.json(), {first}, total)),
        ("/api/v1/slos?owner=", owner, lambda r: api_filter(r.json(), mine, total)),
        ("/?service=", first, lambda r: page_filter(r.text, first, other)),
        ("/?owner=", owner, lambda r: page_filter(r.text, min(mine), foreign)),
    ]
    for path, value, works in checks:
        try:
            seconds, resp = timed_get(f"{base}{path}{value}")
        except HarnessError as exc:
            out[path] = f"not supported ({exc})"
            continue
        try:
            filtered = works(resp)
        except ValueError:  # not the JSON document
            filtered = False
        out[path] = f"{seconds:.3f} s" if filtered else "not supported (ignored)"
    return out


def wait_cold_start(
    exporter: ExporterProcess, timeout: float, poll: float, progress_poll: float
) -> tuple[float, dict[str, float], str | None]:
    """Launch and wait for /-/ready; returns seconds, progress gauges seen, the 503 text.

    /metrics is read only every ``progress_poll`` seconds: each read costs the
    daemon a render, which would slow the cold start being timed.
    """
    gauges: dict[str, float] = {}
    next_progress = [time.monotonic() + progress_poll]
    ready_text: list[str] = []
    began = time.monotonic()
    exporter.launch()

    def ready() -> bool | None:
        if not exporter.alive:
            raise HarnessError(f"slo-exporter exited with {exporter.returncode}\n"
                               + exporter.log_tail())
        try:
            resp = requests.get(f"{exporter.url}/-/ready", timeout=5)
        except requests.RequestException:
            return None
        if resp.status_code == 200:
            return True
        if not ready_text:
            ready_text.append(resp.text.strip())
        if time.monotonic() < next_progress[0]:
            return None
        next_progress[0] = time.monotonic() + progress_poll
        with contextlib.suppress(requests.RequestException):
            metrics = requests.get(f"{exporter.url}/metrics", timeout=30)
            for name, value in own_figures(metrics.text).progress.items():
                gauges[name] = value
        return None

    wait_until(ready, timeout=timeout, what="slo-exporter /-/ready", interval=poll,
               on_timeout=exporter.log_tail)
    return time.monotonic() - began, gauges, ready_text[0] if ready_text else None


def steady_cycles(
    args: argparse.Namespace, run: Run, exporter: ExporterProcess, query_log: Path
) -> None:
    """CPU, queries and cycle time over ``--cycles`` intervals without any request to the daemon.

    The daemon is read (/metrics) just before and just after; between the
    two /proc readings nothing but its own work runs in it.
    """
    assert exporter.pid is not None
    before = own_figures(exporter.scrape().text)
    wall0, proc0 = time.time(), proc_sample(exporter.pid)
    time.sleep(args.cycles * args.evaluation_interval)
    proc1, wall1 = proc_sample(exporter.pid), time.time()
    after = own_figures(exporter.scrape().text)
    if before.evaluations is None or after.evaluations is None:
        raise HarnessError("the daemon exports no slo_exporter_evaluations_total")
    cycles = after.evaluations - before.evaluations
    if cycles <= 0:
        raise HarnessError(f"no evaluation cycle in {wall1 - wall0:.0f} s")
    run.cycles = cycles
    cpu = proc1.cpu - proc0.cpu
    run.cpu_per_cycle = cpu / cycles
    run.core_share = cpu / (proc1.at - proc0.at)
    run.queries_per_cycle = logged_queries(query_log, wall0, wall1) / cycles
    if before.queries is not None and after.queries is not None:
        run.own_queries_per_cycle = (after.queries - before.queries) / cycles
        run.own_query_metric = after.query_metric
    if (before.duration_sum is not None and after.duration_sum is not None
            and before.duration_count is not None and after.duration_count is not None
            and after.duration_count > before.duration_count):
        run.own_cycle_wall = ((after.duration_sum - before.duration_sum)
                              / (after.duration_count - before.duration_count))


def warm_up_seconds(minutes: float) -> float:
    """The start of a soak left out of the settled slope: a quarter, at most 15 minutes."""
    return min(15.0, minutes / 4) * 60


def soak(minutes: float, exporter: ExporterProcess,
         probe_target: ProbeTarget | None = None) -> dict[str, Any]:
    """Memory slope, fds and threads while /metrics is scraped and the pages read.

    A ``/proc`` sample is taken every ``SOAK_SAMPLE_SECONDS`` and printed to
    stderr as it is taken, so a long soak shows its course while it runs. The
    slope is given over the whole soak and over what follows the warm-up.
    """
    assert exporter.pid is not None
    samples: list[ProcSample] = [proc_sample(exporter.pid)]
    hits: list[int] = [probe_target.hits if probe_target else 0]
    began = time.monotonic()
    end = began + minutes * 60
    next_sample = began + SOAK_SAMPLE_SECONDS
    next_pages = began

    def record(sample: ProcSample) -> None:
        samples.append(sample)
        hits.append(probe_target.hits if probe_target else 0)
        print(f"[soak] t={sample.at - began:7.0f} s rss={sample.rss / MIB:8.1f} MiB "
              f"cpu={sample.cpu:9.1f} s fds={sample.fds} threads={sample.threads} "
              f"probe_hits={hits[-1]}", file=sys.stderr, flush=True)

    while time.monotonic() < end:
        timed_get(f"{exporter.url}/metrics")
        if time.monotonic() >= next_pages:
            timed_get(f"{exporter.url}/")
            timed_get(f"{exporter.url}/api/v1/slos")
            next_pages += 60
        if time.monotonic() >= next_sample:
            record(proc_sample(exporter.pid))
            next_sample += SOAK_SAMPLE_SECONDS
        time.sleep(max(0.0, min(SOAK_SCRAPE_SECONDS, next_sample - time.monotonic(),
                                end - time.monotonic())))
    record(proc_sample(exporter.pid))
    points = [(s.at - began, s.rss / MIB) for s in samples]
    settled = [(t, v) for t, v in points if t >= warm_up_seconds(minutes)]
    span = samples[-1].at - samples[0].at
    return {
        "minutes": minutes,
        "sample_seconds": SOAK_SAMPLE_SECONDS,
        "warm_up_minutes": warm_up_seconds(minutes) / 60,
        "rss_start": samples[0].rss, "rss_end": samples[-1].rss,
        "rss_max": max(s.rss for s in samples),
        "rss_slope": slope_per_hour(points),
        "rss_slope_settled": slope_per_hour(settled),
        "cpu_seconds": samples[-1].cpu - samples[0].cpu,
        "core_share": (samples[-1].cpu - samples[0].cpu) / span if span > 0 else None,
        "fds_start": samples[0].fds, "fds_end": samples[-1].fds,
        "fds_max": max(s.fds for s in samples),
        "threads_start": samples[0].threads, "threads_end": samples[-1].threads,
        "threads_max": max(s.threads for s in samples),
        "probe_hits_per_s": (hits[-1] - hits[0]) / span if span > 0 else None,
        "samples": [
            {"t": round(s.at - began, 1), "rss_mib": round(s.rss / MIB, 2),
             "cpu_s": round(s.cpu, 2), "fds": s.fds, "threads": s.threads, "probe_hits": h}
            for s, h in zip(samples, hits, strict=True)
        ],
    }


def measure(args: argparse.Namespace, slos: int, work: Path) -> Run:
    """One run at ``slos`` SLOs: history, Prometheus, the daemon, every figure."""
    layout = Layout(slos, metrics=args.metrics)
    run = Run(slos=slos, probes=args.probes, metrics=min(args.metrics, slos), days=args.days,
              load_before=os.getloadavg())
    began = time.monotonic()
    end = time.time() - 2 * args.step
    history = work / "history.om"
    last, count = write_history(history, layout, end=end, days=args.days, step=args.step)
    print(f"[{slos} SLOs] history: {count:,} samples in {time.monotonic() - began:.0f} s",
          file=sys.stderr)

    with contextlib.ExitStack() as stack:
        live = stack.enter_context(LiveCounters(layout, last))
        probe_target = stack.enter_context(ProbeTarget()) if args.probes else None
        prometheus = PrometheusServer(work / "prometheus", query_log=True,
                                      scrape_configs=[live.scrape_config(f"{args.step}s")])
        began = time.monotonic()
        prometheus.backfill(history, timeout=3600)
        history.unlink()
        print(f"[{slos} SLOs] promtool: {time.monotonic() - began:.0f} s", file=sys.stderr)
        prometheus.start(timeout=600)
        stack.callback(prometheus.stop)
        prometheus.wait_for_sample_after(layout.slo(0).selector(), time.time(),
                                         timeout=args.step + 60)

        urls = ([f"http://{probe_target.address}/t/{n}" for n in range(args.probes)]
                if probe_target else [])
        config = native_config(layout, prometheus.url, evaluation_interval=args.evaluation_interval,
                               probe_urls=urls, probe_interval=args.probe_interval)
        exporter = ExporterProcess(work / "exporter", config)
        stack.callback(lambda: exporter.terminate(60))
        seconds, gauges, ready_text = wait_cold_start(
            exporter, args.ready_timeout, poll=args.cold_poll,
            progress_poll=args.progress_poll)
        run.cold_start_s = seconds
        events = progress_events(exporter.log_path.read_text(errors="replace"))
        signals = [f"gauge {n}" for n in sorted(gauges)]
        signals += [f"log {name} x{n}" for name, n in sorted(events.items())]
        if ready_text:
            signals.append(f"/-/ready: {ready_text!r}")
        run.progress = "; ".join(signals) or "none seen"
        assert exporter.pid is not None
        cold = proc_sample(exporter.pid)
        run.rss_cold, run.cold_cpu_s = cold.rss, cold.cpu
        print(f"[{slos} SLOs] ready after {seconds:.1f} s", file=sys.stderr)

        # one settling cycle, then the steady ones
        time.sleep(args.evaluation_interval)
        assert prometheus.query_log_path is not None
        steady_cycles(args, run, exporter, prometheus.query_log_path)
        state = proc_sample(exporter.pid)
        run.rss_steady, run.fds, run.threads = state.rss, state.fds, state.threads
        run.store_bytes = directory_size(exporter.storage)

        run.metrics_s, resp = median_time(f"{exporter.url}/metrics")
        run.metrics_bytes = len(resp.content)
        run.metrics_samples = sample_count(resp.text)
        run.status_s, _ = median_time(f"{exporter.url}/")
        run.api_s, resp = median_time(f"{exporter.url}/api/v1/slos")
        run.api_rows = api_rows(resp)
        run.filters = measure_filters(exporter.url, layout, slos + args.probes)
        if args.soak_minutes > 0:
            run.soak = soak(args.soak_minutes, exporter, probe_target)
    run.load_after = os.getloadavg()
    return run


# ------------------------------------------------------------------ report


@dataclass(frozen=True)
class Goal:
    """One line of the goals table: how to read it from a run, and its limit at 10,000."""

    label: str
    unit: str
    value: Callable[[Run], float | None]
    limit: Callable[[Run], float] | None  # at TARGET_SLOS; None: reported only
    scale: Callable[[Run], float] = lambda run: 1.0  # e.g. days -> 30 days
    #: scale only the slope (the per-SLO part), not the fixed part of the line
    per_slo_scale_only: bool = False


def _mib(v: float | None) -> float | None:
    return None if v is None else v / MIB


GOALS: tuple[Goal, ...] = (
    Goal("resident memory after the cold start", "MiB", lambda r: _mib(r.rss_cold),
         lambda r: 500.0),
    Goal("resident memory after the steady cycles", "MiB", lambda r: _mib(r.rss_steady),
         lambda r: 500.0),
    Goal("resident memory, per-SLO part scaled to 30 days of buckets", "MiB",
         lambda r: _mib(r.rss_steady), lambda r: 500.0,
         scale=lambda r: TARGET_DAYS / r.days, per_slo_scale_only=True),
    Goal("state on disk (storage directory)", "MiB", lambda r: _mib(r.store_bytes),
         lambda r: 1024.0, scale=lambda r: TARGET_DAYS / r.days),
    Goal("Prometheus queries per cycle (query log)", "", lambda r: r.queries_per_cycle,
         lambda r: 2.0 * r.metrics),
    Goal("Prometheus queries per cycle (own counter)", "", lambda r: r.own_queries_per_cycle,
         lambda r: 2.0 * r.metrics),
    Goal("CPU per steady cycle (/proc)", "s", lambda r: r.cpu_per_cycle, lambda r: 1.0),
    Goal("cycle wall time (own histogram)", "s", lambda r: r.own_cycle_wall, None),
    Goal("`/metrics` render", "s", lambda r: r.metrics_s, lambda r: 1.0),
    Goal("`/metrics` size", "MiB", lambda r: _mib(r.metrics_bytes), None),
    Goal("`/` (status page)", "s", lambda r: r.status_s, None),
    Goal("`/api/v1/slos`", "s", lambda r: r.api_s, None),
    Goal("cold start (backfill + first cycle), 30 days", "s", lambda r: r.cold_start_s,
         lambda r: 600.0, scale=lambda r: TARGET_DAYS / r.days),
)


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(intercept, slope) through the points; through the origin for a single one."""
    if len({n for n, _ in points}) < 2:
        n, v = points[0]
        return 0.0, v / n
    line = statistics.linear_regression([n for n, _ in points], [v for _, v in points])
    return line.intercept, line.slope


def number(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    if float(v).is_integer() or abs(v) >= 100:
        text = f"{v:,.0f}"
    else:
        text = f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return f"{text} {unit}".strip()


def goal_rows(runs: Sequence[Run]) -> list[list[str]]:
    """Per goal: each run's figure, the per-SLO slope, the 10,000 extrapolation, the verdict."""
    rows = []
    for goal in GOALS:
        values = [goal.value(r) for r in runs]
        cells = [number(v, goal.unit) for v in values]
        factor = goal.scale(runs[-1])
        points = [(float(r.slos), v * (1.0 if goal.per_slo_scale_only else goal.scale(r)))
                  for r, v in zip(runs, values, strict=True) if v is not None]
        if points:
            intercept, slope = fit(points)
            if goal.per_slo_scale_only:
                slope *= factor
            at_target = intercept + slope * TARGET_SLOS
            slope_text = number(slope * 1000, goal.unit) + " per 1,000"
        else:
            at_target, slope_text = None, "—"
        limit = goal.limit(runs[-1]) if goal.limit else None
        verdict = ("—" if limit is None or at_target is None
                   else "met" if at_target <= limit else "missed")
        rows.append([goal.label, *cells, slope_text, number(at_target, goal.unit),
                     "—" if limit is None else f"≤ {number(limit, goal.unit)}", verdict])
    return rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render_report(runs: Sequence[Run]) -> str:
    """The Markdown report: goals table, then what is not a number, then the machine's load."""
    header = ["", *(f"{r.slos:,} SLOs" for r in runs), "slope",
              f"{TARGET_SLOS:,} (extrapolated)", f"goal at {TARGET_SLOS:,}", "verdict"]
    parts = [markdown_table(header, goal_rows(runs)), ""]
    for r in runs:
        parts.append(f"**{r.slos:,} SLOs** over {r.metrics} counters, {r.probes:,} probe SLOs, "
                     f"{r.days:g} day(s) of history, {number(r.cycles)} steady cycles measured")
        details = [
            ["daemon CPU in steady state", f"{number((r.core_share or 0) * 100)} % of a core"],
            ["`/metrics` samples", number(r.metrics_samples)],
            ["SLOs in the unfiltered `/api/v1/slos` answer",
             f"{number(r.api_rows)} of {r.slos + r.probes:,}"],
            ["open fds / threads", f"{r.fds} / {r.threads}"],
            ["cold-start progress signal", r.progress],
        ]
        if r.own_query_metric:
            details.append(["own query counter", f"`{r.own_query_metric}`"])
        details += [[f"`{path}`", verdict] for path, verdict in r.filters.items()]
        if r.soak:
            s = r.soak
            details += [
                ["soak", f"{number(s['minutes'])} min"],
                ["soak memory", f"{number(_mib(s['rss_start']), 'MiB')} → "
                                f"{number(_mib(s['rss_end']), 'MiB')} "
                                f"(peak {number(_mib(s['rss_max']), 'MiB')}), slope "
                                f"{number(s['rss_slope'], 'MiB/h')}, after the first "
                                f"{number(s['warm_up_minutes'])} min "
                                f"{number(s['rss_slope_settled'], 'MiB/h')}"],
                ["soak CPU", f"{number(s['cpu_seconds'], 's')} of process CPU "
                             f"({number((s['core_share'] or 0) * 100)} % of a core)"],
                ["soak fds", f"{number(s['fds_start'])} → {number(s['fds_end'])} "
                             f"(max {number(s['fds_max'])})"],
                ["soak threads", f"{number(s['threads_start'])} → "
                                 f"{number(s['threads_end'])} (max {number(s['threads_max'])})"],
                ["soak probe target hits", f"{number(s['probe_hits_per_s'])} per s"],
            ]
        details.append(["load average (1, 5, 15 min) before → after",
                        f"{', '.join(f'{x:.2f}' for x in r.load_before)} → "
                        f"{', '.join(f'{x:.2f}' for x in r.load_after)}"])
        parts += [markdown_table(["", "measured"], details), ""]
    parts.append(
        "Extrapolation: a straight line through the runs (through the origin for one run); "
        f"disk and cold start are scaled to {TARGET_DAYS} days of history. Query goal: "
        "2 x distinct counters.")
    return "\n".join(parts)


# ------------------------------------------------------------------ sizing

#: the size the shipped manifests are set for: the soak's 1,000 ratio SLOs and 1,000 probes
DEFAULT_SIZE = (1_000, 1_000)
#: rows of the sizing table: (ratio SLOs, probe targets)
SIZING_ROWS = ((100, 0), (300, 0), (1_000, 0), (1_000, 1_000), (3_000, 0), (10_000, 0))
#: the runs of ``--sizing``: SLOs:probes:days; 1000:0:30 tells the per-bucket part apart, at
#: the history length the table is for (memory hardly grows with it: window sums, not buckets)
SIZING_GRID = "100:0:1,300:0:1,1000:0:1,3000:0:1,100:1000:1,1000:1000:1,1000:0:30"
MEMORY_HEADROOM = 1.5  # limit = fitted 30-day peak x this
DISK_HEADROOM = 1.5  # volume = fitted 30-day store x this
CPU_STEP = 0.05  # requests are rounded up to 50m
MEMORY_STEP = 64  # MiB
DISK_STEP = 1024  # MiB: volumes in whole GiB


def grid_points(text: str) -> list[tuple[int, int, float]]:
    """``--grid`` as (SLOs, probes, days) triples: ``"100:0:1,300:0:3"``."""
    points = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            slos, probes, days = part.split(":")
            point = (int(slos), int(probes), float(days))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not SLOS:PROBES:DAYS: {part!r} (e.g. 300:0:1)") from None
        if point[0] < 1 or point[1] < 0 or point[2] <= 0:
            raise argparse.ArgumentTypeError(
                f"SLOs must be positive, probes not negative, days positive: {part!r}")
        points.append(point)
    if not points:
        raise argparse.ArgumentTypeError("an empty grid")
    return points


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """x with matrix · x = vector (Gaussian elimination); ValueError when singular."""
    n = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        scale = max(abs(v) for row in rows for v in row[:n]) or 1.0
        if abs(rows[pivot][col]) <= 1e-12 * scale:
            raise ValueError("singular")
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def least_squares(features: Sequence[Sequence[float]], values: Sequence[float]) -> list[float]:
    """Coefficients minimising the squared error of features · c against values."""
    k = len(features[0])
    normal = [[sum(f[i] * f[j] for f in features) for j in range(k)] for i in range(k)]
    target = [sum(f[i] * v for f, v in zip(features, values, strict=True)) for i in range(k)]
    return solve(normal, target)


@dataclass(frozen=True)
class Linear:
    """A fitted figure: ``base + per_slo·S + per_probe·P + per_slo_day·(S + P)·D``.

    S ratio SLOs, P probe targets, D days of buckets held. A run holds D days
    for its ratio SLOs (backfilled) and almost none for its probes (they start
    empty), so ``per_slo_day`` is fitted on S·D alone; at a size it is charged
    to the probes as well, since a probe SLO holds a 30-day window of the same
    1-minute buckets once it has run that long.
    """

    base: float
    per_slo: float
    per_probe: float
    per_slo_day: float = 0.0

    def at(self, slos: int, probes: int, days: float) -> float:
        return (self.base + self.per_slo * slos + self.per_probe * probes
                + self.per_slo_day * (slos + probes) * days)


def fit_linear(points: Sequence[tuple[int, int, float, float]], *, with_days: bool) -> Linear:
    """Least squares through (SLOs, probes, days, value) points.

    A negative slope is noise (nothing shrinks as SLOs are added) and counts as
    zero; the fit is then repeated without that term. ValueError names the runs
    missing when the points cannot tell the terms apart.
    """
    terms = ["base", "per_slo", "per_probe"] + (["per_slo_day"] if with_days else [])
    columns: dict[str, Callable[[int, int, float], float]] = {
        "base": lambda s, p, d: 1.0, "per_slo": lambda s, p, d: float(s),
        "per_probe": lambda s, p, d: float(p), "per_slo_day": lambda s, p, d: s * d,
    }
    while True:
        try:
            coefficients = least_squares(
                [[columns[t](s, p, d) for t in terms] for s, p, d, _ in points],
                [v for *_, v in points])
        except ValueError:
            raise ValueError(
                "the runs cannot tell the terms apart: sizing needs at least two SLO counts, "
                "a run with probes and, for memory and disk, a run at a second history length "
                f"(e.g. --grid {SIZING_GRID})") from None
        fitted = dict(zip(terms, coefficients, strict=True))
        negative = [t for t in terms if t != "base" and fitted[t] < 0]
        if not negative:
            return Linear(**{t: fitted.get(t, 0.0) for t in columns})
        terms = [t for t in terms if t not in negative]


def fit_staged(points: Sequence[tuple[int, int, float, float]]) -> Linear:
    """CPU through (SLOs, probes, days, value) points, in two stages: the fixed and
    per-SLO terms from the runs without probes, then the per-probe term, through
    the origin, from what the runs with probes add over that line.

    A joint fit lets the runs with probes, whose CPU is mostly probing and
    noisier, set the per-SLO slope too: one sizing grid measured 1,000 SLOs plus
    1,000 probes at less CPU per cycle than 100 SLOs plus 1,000 probes, and the
    joint fit then called the SLOs free. A negative slope counts as zero.
    ValueError names the runs missing.
    """
    plain = [(float(s), v) for s, p, _, v in points if p == 0]
    probed = [(s, p, v) for s, p, _, v in points if p > 0]
    if len({s for s, _ in plain}) < 2 or not probed:
        raise ValueError(
            "the runs cannot tell the terms apart: CPU needs runs without probes at two SLO "
            f"counts at least and a run with probes (e.g. --grid {SIZING_GRID})")
    line = statistics.linear_regression([s for s, _ in plain], [v for _, v in plain])
    per_slo = max(line.slope, 0.0)
    base = line.intercept if line.slope >= 0 else statistics.fmean(v for _, v in plain)
    added = [(p, v - base - per_slo * s) for s, p, v in probed]
    per_probe = sum(p * extra for p, extra in added) / sum(p * p for p, _ in added)
    return Linear(base=base, per_slo=per_slo, per_probe=max(per_probe, 0.0))


def round_up(value: float, step: float) -> float:
    """The next multiple of ``step`` at or above ``value``."""
    return max(step, -(-value // step) * step)


def peak_rss(run: Run) -> float | None:
    """Highest resident memory seen in the run (cold start, steady state, soak), bytes."""
    seen = [v for v in (run.rss_cold, run.rss_steady, run.soak.get("rss_max")) if v is not None]
    return max(seen) if seen else None


@dataclass(frozen=True)
class Sizing:
    """The fitted figures behind the sizing table."""

    memory: Linear  # MiB, peak
    disk: Linear  # MiB
    cores: Linear  # steady CPU, cores
    cycle_cpu: Linear  # s per evaluation cycle
    runs: tuple[Run, ...]

    def row(self, slos: int, probes: int, days: float = TARGET_DAYS) -> dict[str, float]:
        """One size's figures and the Kubernetes values derived from them."""
        memory = self.memory.at(slos, probes, days)
        disk = self.disk.at(slos, probes, days)
        cores = max(0.0, self.cores.at(slos, probes, 0))
        return {
            "cores": cores, "cycle_cpu": max(0.0, self.cycle_cpu.at(slos, probes, 0)),
            "memory_mib": memory, "disk_mib": disk,
            "cpu_request": round_up(cores, CPU_STEP),
            "memory_request_mib": round_up(memory, MEMORY_STEP),
            "memory_limit_mib": round_up(memory * MEMORY_HEADROOM, MEMORY_STEP),
            "volume_mib": round_up(disk * DISK_HEADROOM, DISK_STEP),
        }


def fit_sizing(runs: Sequence[Run]) -> Sizing:
    """Fit memory, disk, steady CPU and cycle CPU over the runs; ValueError if they cannot."""
    def points(value: Callable[[Run], float | None]) -> list[tuple[int, int, float, float]]:
        out = []
        for r in runs:
            v = value(r)
            if v is not None:
                out.append((r.slos, r.probes, r.days, v))
        return out

    return Sizing(
        memory=fit_linear(points(lambda r: _mib(peak_rss(r))), with_days=True),
        disk=fit_linear(points(lambda r: _mib(r.store_bytes)), with_days=True),
        cores=fit_staged(points(lambda r: r.core_share)),
        cycle_cpu=fit_staged(points(lambda r: r.cpu_per_cycle)),
        runs=tuple(runs),
    )


def quantity(mib: float) -> str:
    """A Kubernetes memory or storage quantity: whole GiB as ``Gi``, else ``Mi``."""
    return f"{mib / 1024:.0f}Gi" if mib % 1024 == 0 else f"{mib:.0f}Mi"


def millicores(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def render_sizing(sizing: Sizing, rows: Sequence[tuple[int, int]] = SIZING_ROWS) -> str:
    """The sizing table in Markdown, then how it was fitted and the runs behind it."""
    header = ["ratio SLOs", "probe targets", "CPU, steady", "CPU per cycle (probes included)",
              f"memory, peak ({TARGET_DAYS} days)", "memory request / limit",
              f"disk ({TARGET_DAYS} days)", "volume"]
    table = []
    for slos, probes in rows:
        f = sizing.row(slos, probes)
        default = " (default)" if (slos, probes) == DEFAULT_SIZE else ""
        table.append([
            f"{slos:,}{default}", f"{probes:,}",
            f"{number(f['cores'])} cores ({millicores(f['cpu_request'])})",
            number(f["cycle_cpu"], "s"), number(f["memory_mib"], "MiB"),
            f"{quantity(f['memory_request_mib'])} / {quantity(f['memory_limit_mib'])}",
            number(f["disk_mib"], "MiB"), quantity(f["volume_mib"]),
        ])

    def line(name: str, fit: Linear, unit: str) -> str:
        return textwrap.fill(
            f"- {name}: {number(fit.base, unit)} + {number(fit.per_slo * 1000, unit)} per "
                f"1,000 SLOs + {number(fit.per_probe * 1000, unit)} per 1,000 probe targets + "
                f"{number(fit.per_slo_day * 1000, unit)} per 1,000 SLO-days of buckets",
            width=100, subsequent_indent="  ")

    runs = [[f"{r.slos:,}", f"{r.probes:,}", f"{r.days:g}", number(_mib(peak_rss(r)), "MiB"),
             number(r.core_share, "cores"), number(r.cpu_per_cycle, "s"),
             number(_mib(r.store_bytes), "MiB"), number(r.cold_start_s, "s"),
             cold_cpu(r),
             ", ".join(f"{x:.1f}" for x in (*r.load_before[:1], *r.load_after[:1]))]
            for r in sizing.runs]
    note = (
        "CPU is process CPU in the steady state (cycles and probes, no page reads) at the runs' "
        f"evaluation interval, requested rounded up to {CPU_STEP * 1000:.0f}m; memory is the "
        "highest resident memory seen (cold start or steady), requested rounded up to "
        f"{MEMORY_STEP} MiB, limit {MEMORY_HEADROOM:g} x that; disk is the storage directory, "
        f"the volume {DISK_HEADROOM:g} x that in whole GiB. Figures at {TARGET_DAYS} days hold "
        "every SLO's and probe's full window of 1-minute buckets. Fitted by least squares over "
        "the runs (a negative slope counts as zero); CPU in two stages, the SLO terms from the "
        "runs without probes, then the probe term from what the runs with probes add:"
    )
    return "\n".join([
        markdown_table(header, table), "", textwrap.fill(note, width=100), "",
        line("memory", sizing.memory, "MiB"), line("disk", sizing.disk, "MiB"),
        line("CPU, steady", sizing.cores, "cores"), line("CPU per cycle", sizing.cycle_cpu, "s"),
        "", markdown_table(["SLOs", "probes", "days", "peak memory", "CPU, steady",
                            "CPU per cycle", "disk", "cold start", "cold-start CPU",
                            "load before, after"], runs),
    ])


def cold_cpu(run: Run) -> str:
    """Process CPU of the cold start, and the cores it kept busy on average."""
    if run.cold_cpu_s is None:
        return "—"
    if not run.cold_start_s:
        return number(run.cold_cpu_s, "s")
    return f"{number(run.cold_cpu_s, 's')} ({number(run.cold_cpu_s / run.cold_start_s)} cores)"


def load_runs(paths: Sequence[Path]) -> list[Run]:
    """Runs saved by ``--json``; HarnessError for a file that is not such a list."""
    names = {f.name for f in fields(Run)}
    runs = []
    for path in paths:
        try:
            saved = json.loads(path.read_text())
            for entry in saved:
                kept: dict[str, Any] = {k: (tuple(v) if k.startswith("load_") else v)
                                        for k, v in entry.items() if k in names}
                runs.append(Run(**kept))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise HarnessError(f"{path}: not runs saved by --json ({exc})") from exc
    return runs


# ------------------------------------------------------------------ main


def slo_counts(text: str) -> list[int]:
    """``--slos`` as a list of positive counts, ascending: ``"300,1000"`` → [300, 1000]."""
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of SLO counts: {text!r}") from None
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(f"SLO counts must be positive: {text!r}")
    return counts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--slos", type=slo_counts, default=[1000],
                        help="ratio SLOs; a comma-separated list runs each (e.g. 300,1000)")
    parser.add_argument("--metrics", type=int, default=20, help="distinct counters")
    parser.add_argument("--days", type=float, default=3, help="history backfilled, days")
    parser.add_argument("--step", type=int, default=60, help="scrape interval, s")
    parser.add_argument("--probes", type=int, default=0, help="probe SLOs (local HTTP target)")
    parser.add_argument("--probe-interval", type=float, default=15, help="s")
    parser.add_argument("--evaluation-interval", type=float, default=30, help="s")
    parser.add_argument("--cycles", type=int, default=6, help="steady cycles to measure")
    parser.add_argument("--soak-minutes", type=float, default=0)
    parser.add_argument("--ready-timeout", type=float, default=3600, help="cold start bound, s")
    parser.add_argument("--cold-poll", type=float, default=2,
                        help="seconds between /-/ready polls in the cold start")
    parser.add_argument("--progress-poll", type=float, default=30,
                        help="seconds between /metrics reads (progress gauge) in the cold start")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--sizing", action="store_true",
                        help="run the --grid and print the sizing table (Markdown)")
    parser.add_argument("--grid", type=grid_points, default=grid_points(SIZING_GRID),
                        help=f"the sizing runs, SLOS:PROBES:DAYS,... (default {SIZING_GRID})")
    parser.add_argument("--sizing-from", type=Path, nargs="+", metavar="JSON",
                        help="print the sizing table from runs saved by --json; runs nothing")
    args = parser.parse_args(argv)
    if args.metrics < 1 or args.days <= 0 or args.cycles < 1 or args.probes < 0:
        parser.error("--metrics, --days and --cycles must be positive, --probes not negative")
    return args


def print_sizing(runs: Sequence[Run]) -> int:
    try:
        print(render_sizing(fit_sizing(runs)))
    except ValueError as exc:
        print(f"sizing failed: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sizing_from:
        return print_sizing(load_runs(args.sizing_from))
    points = (args.grid if args.sizing
              else [(slos, args.probes, args.days) for slos in args.slos])
    runs: list[Run] = []
    for slos, probes, days in points:
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
            point = argparse.Namespace(**{**vars(args), "probes": probes, "days": days})
            runs.append(measure(point, slos, Path(tmp)))
        if args.json:  # after every run, so a late failure keeps the earlier ones
            args.json.write_text(json.dumps([r.__dict__ for r in runs], indent=2))
    if args.sizing:
        return print_sizing(runs)
    print(render_report(runs))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        sys.exit(2)
