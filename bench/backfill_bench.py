"""Cold backfill throughput: raw samples per second through the real read path.

Starts a stand-in Prometheus in a child process that answers raw range
selectors (``selector[Nms]`` at ``t``) with counters sampled every ``--step``
seconds (three series per SLO: ``code="200"`` and ``code="500"`` of one job,
read as bad / total), then backfills ``--slos`` ratio SLOs of ``--days``-day
windows into a fresh SQLite store with the daemon's own client and ingester
(one SLO after the other, on one thread), and prints the raw samples read
per CPU second of the daemon's process and the CPU time extrapolated to
10,000 SLOs x 30 days (CPU, not wall time: the machine may be shared, and
the stand-in's own work runs in the child). The answers are
cached by query in the child, so what is timed is the daemon's side: HTTP,
JSON decode, accounting and store commits.

    python -m bench.backfill_bench [--slos 10] [--days 30] [--step 60] [--profile]
        [--hourly-after 3d]

With ``--prometheus`` the source is a real Prometheus instead: ``--days``
of history for ``--slos`` ratio SLOs over ``--metrics`` counters, laid out
and generated as ``bench.scale`` does (two series per SLO, bad ``code="500"``
within total, counter resets), backfilled with promtool. Every SLO is then
read cold up to the end of the history (30-day windows: the days before
the history are read too, and find nothing) and the CPU seconds of this
process and of Prometheus are printed per SLO and per SLO-day of history.

    python -m bench.backfill_bench --prometheus [--slos 1000] [--days 3] [--metrics 20]

The ingester plans the backfills first, as the daemon's cycle does, so SLOs over
one counter read together; both modes run with the daemon's collector threshold.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import multiprocessing
import pstats
import re
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml

from slo_exporter.config import parse_config
from slo_exporter.daemon import GC_YOUNG_THRESHOLD
from slo_exporter.ingest import Ingestor
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.store import SQLiteStore

NOW = 1_800_000_000.0
SELECTOR = re.compile(r'^http_requests_total\{job="([^"]+)"(?:,code="(\d+)")?\}\[(\d+)ms\]$')
#: the hour tier's range query (``accounting._hourly_answer``): its selector
HOURLY = re.compile(r'^label_replace\(last_over_time\(http_requests_total\{job="([^"]+)"'
                    r'(?:,code="(\d+)")?\}\[1h\]\), "([a-z_]+)", "last", "", ""\) or ')
#: a counter resets every this many samples
RESET_EVERY = 10_000


def _series(job: str, code: str, start: float, end: float, step: float) -> dict[str, Any]:
    """Counter samples of one series in ``(start, end]``; ``code="500"`` grows 1 per
    step, ``code="200"`` 100 per step, and both reset every ``RESET_EVERY`` steps."""
    first = int(start // step) + 1
    last = int(end // step)
    rate = 1 if code == "500" else 100
    values = [[n * step, str((n % RESET_EVERY) * rate)] for n in range(first, last + 1)]
    return {"metric": {"__name__": "http_requests_total", "job": job, "code": code},
            "values": values}


def _hourly(job: str, code: str, times: list[float], step: float, part: tuple[str, str]
            ) -> dict[str, Any]:
    """The hour tier's answer for one series at ``times``: the last value in ``(t - 1h,
    t]``, or (``part`` is the check) the resets in ``(t - 2h, t]``, as Prometheus
    computes them."""
    check = part[1] == "check"
    rate = 1 if code == "500" else 100
    values = []
    for t in times:
        last = int(t // step)
        if check:
            first = int((t - 7200) // step) + 1
            resets = sum(1 for n in range(first + 1, last + 1) if n % RESET_EVERY == 0)
            values.append([t, str(resets)])
        elif last * step > t - 3600:
            values.append([t, str((last % RESET_EVERY) * rate)])
    return {"metric": {"job": job, "code": code, part[0]: part[1]}, "values": values}


def _serve(port: multiprocessing.SimpleQueue, step: float) -> None:  # type: ignore[type-arg]
    cache: dict[tuple[str, str], bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0))
                            .decode())
            query = form["query"][0]
            at = form["time"][0] if "time" in form else "{start}:{end}".format(
                start=form["start"][0], end=form["end"][0])
            body = cache.get((query, at))
            if body is None:
                body = (self._answer(query, float(at)) if "time" in form else
                        self._range(query, float(form["start"][0]), float(form["end"][0]),
                                    float(form["step"][0])))
                cache[(query, at)] = body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, query: str, at: float) -> bytes:
            found = SELECTOR.match(query)
            if found is None:
                return b'{"status":"success","data":{"resultType":"vector","result":[]}}'
            job, code, span = found.group(1), found.group(2), int(found.group(3)) / 1000
            codes = [code] if code else ["200", "500"]
            result = [_series(job, c, at - span, at, step) for c in codes]
            return json.dumps({"status": "success",
                               "data": {"resultType": "matrix", "result": result}}).encode()

        def _range(self, query: str, start: float, end: float, every: float) -> bytes:
            found = HOURLY.match(query)
            if found is None:
                return b'{"status":"success","data":{"resultType":"matrix","result":[]}}'
            job, code, label = found.group(1), found.group(2), found.group(3)
            codes = [code] if code else ["200", "500"]
            count = round((end - start) / every)
            times = [round(start + i * every, 3) for i in range(count + 1)]
            result = [_hourly(job, c, times, step, (label, part))
                      for c in codes for part in ("last", "check")]
            return json.dumps({"status": "success",
                               "data": {"resultType": "matrix", "result": result}}).encode()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port.put(httpd.server_address[1])
    httpd.serve_forever()


def config_text(port: int, slos: int, hourly_after: str = "3d") -> str:
    entries = "\n".join(
        f"""      - name: slo-{i}
        objective: 99.9
        window: 30d
        sli:
          ratio:
            bad: http_requests_total{{job="api-{i}",code="500"}}
            total: http_requests_total{{job="api-{i}"}}"""
        for i in range(slos))
    return f"""prometheus:
  {{url: "http://127.0.0.1:{port}", timeout: 30s, backfill_hourly_after: {hourly_after}}}
services:
  - name: api
    slos:
{entries}
"""


def real_prometheus(args: argparse.Namespace) -> None:
    """The ``--prometheus`` run: a real Prometheus holding ``bench.scale``'s history."""
    from bench import scale  # only this mode needs the harness
    from tests.support.harness import PrometheusServer

    layout = scale.Layout(slos=args.slos, metrics=args.metrics)
    end = (time.time() // 60) * 60 - 120
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "history.om"
        _, samples = scale.write_history(history, layout, end=end, days=args.days,
                                         step=int(args.step))
        prometheus = PrometheusServer(Path(tmp) / "prometheus")
        prometheus.backfill(history, timeout=3600)
        history.unlink()
        prometheus.start()
        try:
            document = scale.native_config(layout, prometheus.url, evaluation_interval=30)
            document["prometheus"]["backfill_hourly_after"] = args.hourly_after
            config = parse_config(yaml.safe_dump(document), "bench.yaml")
            store = SQLiteStore(Path(tmp) / "store", config.storage.resolution)
            client = PrometheusClient(config.prometheus)
            ingestor = Ingestor(store, client, config.prometheus, config.slos,
                                stop=threading.Event(), log=_Quiet())
            assert prometheus.pid is not None
            theirs = scale.proc_sample(prometheus.pid).cpu
            profile = cProfile.Profile(time.process_time) if args.profile else None
            t, cpu = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            ingestor.plan_backfill(config.slos, end)  # as the daemon's cycle does first
            for slo in config.slos:
                ingestor.read(slo, end)
            if profile is not None:
                profile.disable()
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
            theirs = scale.proc_sample(prometheus.pid).cpu - theirs
            events = sum(store.sum(slo.key, 0.0, end + 60).total for slo in config.slos)
            store.close()
            client.close()
        finally:
            prometheus.stop()
    slo_days = args.slos * args.days
    print(f"backfill bench (real Prometheus): {args.slos} SLOs over {args.metrics} counters, "
          f"{args.days:g} days of history ({samples:,} raw samples, {events:,.0f} events "
          f"stored), 30-day windows, backfill_hourly_after {args.hourly_after}")
    print(f"this process:   {cpu:.2f} s CPU ({elapsed:.2f} s wall) = "
          f"{cpu / args.slos * 1000:.1f} ms per SLO, {cpu / slo_days * 1000:.2f} ms per SLO-day")
    print(f"prometheus:     {theirs:.2f} s CPU = {theirs / slo_days * 1000:.2f} ms per SLO-day")
    if profile is not None:
        _print_profile(profile, args.profile_out)


def _print_profile(profile: cProfile.Profile, out: str | None) -> None:
    if out:
        profile.dump_stats(out)
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=10)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--step", type=float, default=60.0, help="scrape interval, seconds")
    parser.add_argument("--hourly-after", default="3d",
                        help="backfill_hourly_after (30d: every sample read one by one)")
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    parser.add_argument("--profile-out", default=None,
                        help="with --profile, also save the statistics to this file")
    parser.add_argument("--prometheus", action="store_true",
                        help="read from a real Prometheus holding bench.scale's history")
    parser.add_argument("--metrics", type=int, default=20, help="counters (--prometheus)")
    args = parser.parse_args()
    # the daemon's collector setting: the default one collects far more often
    # while a backfill makes millions of samples (about a third more CPU)
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    if args.prometheus:
        real_prometheus(args)
        return

    ports: multiprocessing.SimpleQueue[int] = multiprocessing.SimpleQueue()
    server = multiprocessing.Process(target=_serve, args=(ports, args.step), daemon=True)
    server.start()
    port = ports.get()
    config = parse_config(config_text(port, args.slos, args.hourly_after), "bench.yaml")
    # the window is 30 d; a shorter run starts its cursor that much later
    start_cursor = NOW - args.days * 86400.0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStore(Path(tmp), config.storage.resolution)
            for slo in config.slos:
                if args.days < 30:
                    store.commit(slo.key, {}, cursor=start_cursor)
            client = PrometheusClient(config.prometheus)
            ingestor = Ingestor(store, client, config.prometheus, config.slos,
                                stop=threading.Event(), log=_Quiet())
            # warm the answers' cache: the child's JSON encoding is not timed
            for slo in config.slos[:1]:
                ingestor.read(slo, NOW)
            store.close()
        with tempfile.TemporaryDirectory() as tmp:
            store = SQLiteStore(Path(tmp), config.storage.resolution)
            for slo in config.slos:
                if args.days < 30:
                    store.commit(slo.key, {}, cursor=start_cursor)
            ingestor = Ingestor(store, client, config.prometheus, config.slos,
                                stop=threading.Event(), log=_Quiet())
            profile = cProfile.Profile(time.process_time) if args.profile else None
            t, cpu = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            for slo in config.slos:
                ingestor.read(slo, NOW)
            if profile is not None:
                profile.disable()
            elapsed = time.perf_counter() - t
            cpu = time.process_time() - cpu
            store.close()
    finally:
        server.terminate()
    days = min(args.days, 30.0) + 600 / 86400  # the backfill's lead
    samples = args.slos * 3 * days * 86400 / args.step
    per_slo = cpu / args.slos * 30 / days
    print(f"backfill bench: {args.slos} SLOs x {days:.2f} days, 3 series each at "
          f"{args.step:g} s = {samples:,.0f} raw samples")
    print(f"backfill:       {elapsed:.2f} s wall, {cpu:.2f} s CPU of this process = "
          f"{samples / cpu:,.0f} samples per CPU second ({cpu / samples * 1e6:.2f} us each)")
    print(f"extrapolated:   10,000 SLOs x 30 days: {per_slo * 10_000 / 60:,.1f} min of CPU "
          f"({per_slo:.3f} s per SLO-month)")
    if profile is not None:
        _print_profile(profile, args.profile_out)


class _Quiet:
    """A logger that drops everything (the bench times reads, not logging)."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


if __name__ == "__main__":
    main()
