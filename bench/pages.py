"""What the web server renders at scale: /metrics, /, /api/v1/slos and /catalog.

Builds, in process, the snapshot the engine would hold for N probe SLOs
(every window of a 30-day SLO, the default alert conditions, the current
period's figures and a 48-point budget history) plus the probe metrics of
one target each, then serves each page through a real ``WebServer``'s
routing (bound to 127.0.0.1, no socket traffic: the request goes straight
to the handler, so the figures are render cost only). The budget history
of the first ``--store-slos`` SLOs is computed the way the engine does it,
from a real SQLite store in a temporary directory holding one day of
1-minute buckets each, and that cost is printed on its own (it is paid
once per snapshot, never per request).

Per page it prints the size (plain and gzipped), the first render after a
new snapshot and the median of ``--repeat`` renders after it, each as wall
time and as this process's CPU time (the honest figure on a shared
machine); for /metrics also the samples per SLO. The other pages get a new
snapshot holding the same status objects, as the engine's snapshots do for
SLOs whose values did not change.

/metrics is measured in three states, plain and gzipped (as Prometheus asks):

- ``new definitions``: the first scrape after start or a reload, every SLO
  definition and status object new;
- ``new statuses``: the steady scrape: a snapshot whose every status is a new
  object (each SLO recomputed since, as after a full cycle) and, for probe
  SLOs, one new result per target since the last scrape;
- ``same snapshot``: the median of ``--repeat`` scrapes with nothing new.

``--kind ratio`` builds ratio SLOs instead of probe SLOs (no probe metrics).

    python -m bench.pages [--slos 1000 3000 10000] [--kind probe] [--repeat 3]
                          [--store-slos 200] [--metrics-only]
"""

from __future__ import annotations

import argparse
import functools
import inspect
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from slo_exporter import api, catalog, history, statuspage, web
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO, HTTPProbe, ProbeSLI, RatioSLI, RollingPeriod, Selector, Service
from slo_exporter.model.config import frozen_map
from slo_exporter.probes.metrics import ProbeMetrics
from slo_exporter.probes.result import ProbeResult
from slo_exporter.snapshot import (
    AlertState,
    BudgetHistory,
    SLOStatus,
    Snapshot,
    WindowValues,
)
from slo_exporter.store import SQLiteStore
from slo_exporter.web import Query, Request, WebServer, html_page, html_query_page, json_page

AT = 1_780_000_000.0
PERIOD = 30 * 86400.0
RESOLUTION = 60.0


RATIO = RatioSLI(total=Selector('http_requests_total{job="api"}'),
                 bad=Selector('http_requests_total{job="api",code=~"5.."}'))


def definitions(n: int, kind: str = "probe") -> list[SLO]:
    """N probe (or ratio) SLOs, ten per service, owners spread over 20 teams."""
    out = []
    for i in range(n):
        sli: ProbeSLI | RatioSLI = (ProbeSLI(HTTPProbe(f"http://127.0.0.1:9/{i}"))
                                    if kind == "probe" else RATIO)
        out.append(SLO(service=f"svc-{i // 10:04d}", name=f"probe-{i % 10}", objective=0.999,
                       period=RollingPeriod(PERIOD), sli=sli,
                       labels=frozen_map({"owner": f"team-{i % 20:02d}"})))
    return out


def status_of(slo: SLO, rng: random.Random, budget: BudgetHistory) -> SLOStatus:
    """The status the engine would hold: every window, alerts, period figures."""
    windows = []
    for w in slo.windows:
        total = w / 15.0
        bad = float(rng.randint(0, 3))
        sli = (total - bad) / total
        windows.append(WindowValues(w, total - bad, total, sli, (1 - sli) / (1 - slo.objective)))
    alerts = tuple(
        AlertState(a.severity, a.long, a.short or a.long, 14.4, 0.5, 0.4, firing=False, window=a)
        for a in slo.alerting.windows)
    remaining = 1 - windows[-1].bad / (windows[-1].total * (1 - slo.objective))
    figures = PeriodFigures(
        label="30d", start=AT - PERIOD, end=AT, at=AT, time_zone="UTC",
        objective=slo.objective, budgeting="occurrences", achieved=windows[-1].sli, met=True,
        coverage=1.0, budget_spent_ratio=1 - remaining)
    return SLOStatus(slo=slo, windows=tuple(windows), budget_remaining=remaining, alerts=alerts,
                     up=True, evaluated_at=AT, budget_history=budget, period=figures)


def synthetic_history(remaining: float) -> BudgetHistory:
    step = PERIOD / 47
    past = tuple((AT - PERIOD + i * step, 1 - (1 - remaining) * i / 47) for i in range(47))
    return BudgetHistory(past=past, latest=(AT, remaining), grid_end=past[-1][0],
                         first=AT - PERIOD, step=step)


def store_histories(slos: list[SLO], directory: Path) -> tuple[dict[str, BudgetHistory], float]:
    """Budget histories from a real SQLite store (one day of minute buckets per SLO)."""
    rng = random.Random(7)
    with SQLiteStore(directory / "events.db", RESOLUTION) as store:
        start = AT - 86400.0
        for slo in slos:
            deltas = {}
            b = start
            while b < AT:
                bad = float(rng.random() < 0.01)
                deltas[b] = (4.0 - bad, 4.0)
                b += RESOLUTION
            store.commit(slo.key, deltas, cursor=AT, series={}, measured=(start, AT))
        began = time.perf_counter()
        out = {slo.key: history.budget_history(store, slo, AT, 0.9) for slo in slos}
        return out, time.perf_counter() - began


def build(n: int, store_slos: int, directory: Path, kind: str = "probe",
          ) -> tuple[Snapshot, list[Service], ProbeMetrics, float]:
    rng = random.Random(n)
    slos = definitions(n, kind)
    stored, spent = store_histories(slos[:store_slos], directory)
    statuses = tuple(status_of(slo, rng, stored.get(slo.key) or synthetic_history(0.9))
                     for slo in slos)
    probes = ProbeMetrics()
    for slo in slos if kind == "probe" else ():
        for d in (0.002, 0.004, 0.03):
            probes.observe(slo, ProbeResult(True, d, "ok"))
    services: dict[str, list[SLO]] = {}
    for slo in slos:
        services.setdefault(slo.service, []).append(slo)
    return (Snapshot(slos=statuses, taken_at=AT, complete=True),
            [Service(name, tuple(members)) for name, members in services.items()],
            probes, spent)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """The median wall time and the median CPU time of ``repeat`` calls.

    On a shared machine the wall time includes waiting for a core; the CPU
    time (this process, all threads) is the render's own cost.
    """
    walls, cpus = [], []
    for _ in range(repeat):
        began, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def metrics_states(server: WebServer, holder: list[Snapshot], snap: Snapshot,
                   probes: ProbeMetrics, repeat: int) -> None:
    """/metrics after new definitions, after new statuses (and results), unchanged."""
    kind = "probe" if isinstance(snap.slos[0].slo.sli, ProbeSLI) else "ratio"

    def renewed(statuses: tuple[SLOStatus, ...], *, definitions: bool) -> Snapshot:
        if kind == "probe":
            for status in statuses:
                probes.observe(status.slo, ProbeResult(True, 0.003, "ok"))
        return replace(snap, slos=tuple(
            replace(st, slo=replace(st.slo)) if definitions else replace(st) for st in statuses))

    for encoding in ("", "gzip"):
        request = Request("GET", "/metrics", {"accept-encoding": encoding} if encoding else {},
                          False, {})
        holder[0] = renewed(snap.slos, definitions=True)
        for state in ("new definitions", "new statuses", "same snapshot"):
            if state == "new statuses":
                holder[0] = renewed(holder[0].slos, definitions=False)
            began, cpu = time.perf_counter(), time.process_time()
            resp = server._route(request)
            wall, spent = time.perf_counter() - began, time.process_time() - cpu
            if state == "same snapshot":
                wall, spent = timed(functools.partial(server._route, request), repeat)
            shown = f"/metrics {state}" + (" gz" if encoding else "")
            print(f"{shown:<34}{len(resp.body):>12,}{wall:>9.3f}{spent:>7.3f}")


def measure(n: int, repeat: int, store_slos: int, kind: str = "probe",
            metrics_only: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        snap, services, probes, spent = build(n, min(store_slos, n), Path(tmp), kind)
    holder = [snap]
    registry = CollectorRegistry()
    collector = SnapshotCollector(lambda: holder[0])
    registry.register(probes)  # before the snapshot's families, as the daemon registers them
    registry.register(collector)

    # the same script measures the build before the query parameters existed
    paged = "query" in inspect.signature(statuspage.render_status_page).parameters
    cached = "snapshot_metrics" in inspect.signature(WebServer).parameters

    def status_page(query: Query) -> str:
        if paged:
            return statuspage.render_status_page(holder[0], sort=query.get("sort", ""),
                                                 services=services, query=query)
        return statuspage.render_status_page(holder[0], sort=query.get("sort", ""),
                                             services=services)

    slos_page = (web.json_query_page(lambda query: api.render_slos(holder[0], query=query))
                 if paged else json_page(lambda: api.render_slos(holder[0])))
    extra: dict[str, Any] = {"snapshot_metrics": collector} if cached else {}
    server = WebServer("127.0.0.1:0", registry, lambda: holder[0], **extra, pages={
        "/": html_query_page(status_page),
        "/catalog": html_page(lambda: catalog.render_catalog(services, holder[0])),
        "/api/v1/slos": slos_page,
        "/api/v1/services": json_page(lambda: api.render_services(services, holder[0])),
    })
    try:
        print(f"\n{n} {kind} SLOs: /metrics")
        print(f"{'state':<34}{'bytes':>12}{'wall s':>9}{'cpu':>7}")
        if cached:
            metrics_states(server, holder, snap, probes, repeat)
        if metrics_only:
            return
        print(f"\n{n} {kind} SLOs (budget history of {min(store_slos, n)} from SQLite: "
              f"{spent * 1000 / max(min(store_slos, n), 1):.2f} ms per SLO, once per snapshot)")
        print(f"{'page':<28}{'bytes':>12}{'gzip bytes':>12}{'first s':>9}{'cpu':>7}"
              f"{'median s':>10}{'cpu':>7}")
        for path, query in (("/metrics", {}), ("/", {}), ("/", {"service": "svc-0001"}),
                            ("/api/v1/slos", {}), ("/api/v1/slos", {"owner": "team-03"}),
                            ("/catalog", {}), ("/api/v1/services", {})):
            holder[0] = replace(snap)  # a new snapshot object: no page cached for it yet
            plain = Request("GET", path, {}, False, query)
            zipped = Request("GET", path, {"accept-encoding": "gzip"}, False, query)
            began, cpu = time.perf_counter(), time.process_time()
            resp = server._route(plain)
            first, first_cpu = time.perf_counter() - began, time.process_time() - cpu
            median, median_cpu = timed(functools.partial(server._route, plain), repeat)
            gz = server._route(zipped)
            shown = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
            print(f"{shown:<28}{len(resp.body):>12,}{len(gz.body):>12,}{first:>9.3f}"
                  f"{first_cpu:>7.3f}{median:>10.3f}{median_cpu:>7.3f}")
            if path == "/metrics":
                lines = [line for line in resp.body.split(b"\n")
                         if line and not line.startswith(b"#")]
                print(f"  samples: {len(lines):,} ({len(lines) / n:.1f} per probe SLO)")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store-slos", type=int, default=200)
    parser.add_argument("--kind", choices=("probe", "ratio"), default="probe")
    parser.add_argument("--metrics-only", action="store_true",
                        help="measure /metrics only, not the other pages")
    args = parser.parse_args()
    for n in args.slos:
        measure(n, args.repeat, args.store_slos, args.kind, args.metrics_only)


if __name__ == "__main__":
    main()
