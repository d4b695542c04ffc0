"""Sustained HTTP probe throughput and CPU per probe, against blackbox_exporter.

For 100, 1,000 and 5,000 targets (all URLs on one loopback target server that
runs in its own process, so its CPU is not counted), this runs:

1. slo-exporter's ``ProbeScheduler`` in this process, with the probe metrics
   collector observing every result, at ``--rate`` probes/s (interval =
   targets / rate). CPU is this process's ``time.process_time()``.
2. Debian's ``prometheus-blackbox-exporter`` probing the same target server at
   the same rate, driven through ``/probe?module=http_2xx&target=...`` by a
   load driver in a separate process. CPU is blackbox's utime+stime from
   ``/proc/<pid>/stat``; the driver's CPU is not counted.

Each phase warms up for one interval (the jittered first fires), then
measures for ``--seconds``. Run: ``python -m bench.probe_throughput`` from the repository root.

Two more measurements, instead of the comparison:

- ``--daemon``: the whole daemon (``slo-exporter run`` in its own process,
  SQLite store, every job) probing the same target server, one probe SLO per
  target at ``--interval``, scraped like Prometheus (gzip) every
  ``--scrape-every`` seconds. After one interval plus the first evaluation
  it reports the daemon's CPU (utime+stime from ``/proc``) as a share of a
  core and per probe, its resident memory, and the scrapes' time and size.
- ``--refresh``: ``Engine.refresh_probes`` in this process over a SQLite
  store holding ``--hours`` of minute buckets per probe SLO: the CPU of one
  refresh while no result arrives (idle), and while results arrive at
  targets / ``--interval`` per second.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: this script as a module, so the helper processes it starts import like it does
SELF = (sys.executable, "-m", "bench.probe_throughput")

BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)


# ------------------------------------------------------------ target server


def serve(port_file: str) -> None:
    """A minimal asyncio HTTP server: answer 200 to any request, then close."""

    class Handler(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            if b"\r\n\r\n" in self.buf:
                self.transport.write(RESPONSE)  # type: ignore[attr-defined]
                self.transport.close()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Handler, "127.0.0.1", 0, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        Path(port_file).write_text(str(port))
        await server.serve_forever()

    asyncio.run(main())


def start_target_server(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = tmp / "target.port"
    proc = subprocess.Popen([*SELF, "--serve", str(port_file)], cwd=ROOT)
    for _ in range(100):
        if port_file.exists() and port_file.read_text():
            return proc, int(port_file.read_text())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("target server did not start")


# ------------------------------------------------------------------ phases


@dataclass
class Phase:
    who: str
    targets: int
    probes: int
    failures: int
    seconds: float
    cpu: float
    p50_ms: float = 0.0
    p99_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.probes / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / max(self.probes, 1)


def run_scheduler(
    urls: list[str], rate: float, seconds: float, body_regexp: str | None, *, markers: bool = False
) -> dict[str, Any]:
    """Probe ``urls`` at ``rate``/s; measure after one interval of warm-up."""
    from slo_exporter import model
    from slo_exporter.probes import ProbeMetrics, ProbeScheduler

    interval = len(urls) / rate
    timeout = min(5.0, interval * 0.9)
    metrics = ProbeMetrics()
    slos = {}
    slis = []
    for i, url in enumerate(urls):
        target = model.HTTPProbe(
            url=url,
            fail_if_body_not_matches_regexp=(body_regexp,) if body_regexp else (),
        )
        sli = model.ProbeSLI(target, interval=interval, timeout=timeout)
        slo = model.SLO("bench", f"t{i}", 0.99, model.RollingPeriod(86400.0), sli)
        slos[slo.key] = slo
        slis.append((slo.key, sli))
    lock = threading.Lock()
    counts = {"ok": 0, "fail": 0}
    durations: list[float] = []
    reasons: dict[str, int] = {}

    def on_result(key: str, sli: object, result: object, started: float) -> None:
        metrics.observe(slos[key], result)  # type: ignore[arg-type]
        with lock:
            counts["ok" if result.success else "fail"] += 1  # type: ignore[attr-defined]
            if not result.success:  # type: ignore[attr-defined]
                reasons[result.reason] = reasons.get(result.reason, 0) + 1  # type: ignore[attr-defined]
            durations.append(result.duration)  # type: ignore[attr-defined]

    sched = ProbeScheduler(slis, on_result, max_workers=32)
    sched.start()
    time.sleep(interval)  # every target has fired once; the load is steady
    with lock:
        ok0, fail0 = counts["ok"], counts["fail"]
        durations.clear()
    if markers:  # the parent reads blackbox's CPU at these lines
        print("START", flush=True)
    cpu0, t0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    with lock:
        ok1, fail1 = counts["ok"], counts["fail"]
        lat = sorted(durations)
    cpu1, t1 = time.process_time(), time.monotonic()
    if markers:
        print("END", flush=True)
    stats = sched.stats()
    sched.stop(10)
    return {
        "probes": (ok1 - ok0) + (fail1 - fail0),
        "failures": fail1 - fail0,
        "seconds": t1 - t0,
        "cpu": cpu1 - cpu0,
        "p50_ms": 1000 * statistics.median(lat) if lat else 0.0,
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else 0.0,
        "skipped": stats.skipped_behind + stats.skipped_overlap,
        "reasons": reasons,
    }


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def start_blackbox(tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    if not Path(BLACKBOX).exists() and not shutil.which("prometheus-blackbox-exporter"):
        raise SystemExit(f"{BLACKBOX} not found: apt-get install prometheus-blackbox-exporter")
    config = tmp / "blackbox.yml"
    config.write_text(
        "modules:\n"
        "  http_2xx:\n"
        "    prober: http\n"
        "    timeout: 5s\n"
        "    http:\n"
        "      preferred_ip_protocol: ip4\n"
        "      ip_protocol_fallback: false\n"
    )
    port = free_port()
    binary = shutil.which("prometheus-blackbox-exporter") or BLACKBOX
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("blackbox_exporter did not start")


def blackbox_phase(
    bb_pid: int, bb_port: int, urls: list[str], rate: float, seconds: float
) -> Phase:
    """Drive blackbox from a separate process; count only blackbox's CPU."""
    probe_urls = [
        f"http://127.0.0.1:{bb_port}/probe?module=http_2xx&target={u}" for u in urls
    ]
    spec = json.dumps({"urls": probe_urls, "rate": rate, "seconds": seconds})
    driver = subprocess.Popen(
        [*SELF, "--drive"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert driver.stdin is not None
    assert driver.stdout is not None
    driver.stdin.write(spec)
    driver.stdin.close()
    cpu0 = cpu1 = 0.0
    result = {}
    for line in driver.stdout:
        if line.startswith("START"):
            cpu0 = proc_cpu(bb_pid)
        elif line.startswith("END"):
            cpu1 = proc_cpu(bb_pid)
        elif line.startswith("{"):
            result = json.loads(line)
    driver.wait()
    return Phase("blackbox_exporter", len(urls), result["probes"], result["failures"],
                 result["seconds"], cpu1 - cpu0, result["p50_ms"], result["p99_ms"])


def drive() -> None:
    """Load driver: probe blackbox's /probe URLs at the rate given on stdin."""
    spec = json.loads(sys.stdin.read())
    out = run_scheduler(
        spec["urls"], spec["rate"], spec["seconds"], "probe_success 1", markers=True
    )
    print(json.dumps(out), flush=True)


def requests_reference(url: str, n: int = 2000) -> float:
    """CPU ms per probe of plain ``requests`` with a new Session per probe, sequentially."""
    import requests

    cpu0 = time.process_time()
    for _ in range(n):
        with requests.Session() as session:
            session.get(url, timeout=5).raise_for_status()
    return 1000 * (time.process_time() - cpu0) / n


# ------------------------------------------------------------- the daemon


def probe_config(urls: list[str], interval: float) -> str:
    """A native config of one HTTP probe SLO per URL, ten per service."""
    lines = ['prometheus: {url: "http://127.0.0.1:1"}', "evaluation_interval: 30s", "services:"]
    for i, url in enumerate(urls):
        if i % 10 == 0:
            lines += [f"  - name: svc-{i // 10:04d}", "    slos:"]
        lines += [f"      - name: probe-{i % 10}", "        objective: 99.9",
                  "        window: 30d", "        sli:", "          probe:",
                  f'            http: {{url: "{url}"}}', f"            interval: {interval:g}s",
                  "            timeout: 5s"]
    return "\n".join(lines) + "\n"


def probes_run(text: str) -> float:
    """Probes counted in a /metrics text: the sum of slo_probe_results_total."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("slo_probe_results_total{"))


def get(url: str, timeout: float = 60.0) -> tuple[int, bytes]:
    """GET a local http:// URL as Prometheus would (gzip accepted); status and plain body."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})  # noqa: S310 (http only)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read()
            if response.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return response.status, body
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def daemon_phase(tmp: Path, urls: list[str], interval: float, seconds: float,
                 scrape_every: float) -> dict[str, float]:
    """Run the daemon on one probe SLO per URL; measure after the warm-up."""
    n = len(urls)
    config = tmp / f"probes-{n}.yaml"
    config.write_text(probe_config(urls, interval))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "slo_exporter", "run", f"--config.file={config}",
         f"--web.listen-address=127.0.0.1:{port}", f"--storage.path={tmp / f'store-{n}'}",
         "--log.level=warn"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if get(f"{base}/-/ready", 5)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("the daemon did not become ready")
        time.sleep(interval + 5)  # every target has fired; refreshes and cycles are steady
        started = probes_run(get(f"{base}/metrics")[1].decode())
        cpu0, t0 = proc_cpu(proc.pid), time.monotonic()
        walls: list[float] = []
        size = 0
        text = ""
        while time.monotonic() - t0 < seconds:
            began = time.perf_counter()
            body = get(f"{base}/metrics")[1]
            walls.append(time.perf_counter() - began)
            size, text = len(body), body.decode()
            time.sleep(max(0.0, scrape_every - (time.perf_counter() - began)))
        cpu1, t1 = proc_cpu(proc.pid), time.monotonic()
        probes = probes_run(text) - started
        return {"targets": n, "seconds": t1 - t0, "cpu": cpu1 - cpu0, "probes": probes,
                "rss": rss_mib(proc.pid), "scrape_p50": statistics.median(walls),
                "scrape_max": max(walls), "bytes": size}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_daemon(targets: list[int], interval: float, seconds: float, scrape_every: float) -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        target, port = start_target_server(tmp)
        rows = []
        try:
            for n in targets:
                print(f"daemon with {n} probe targets every {interval:g} s ...", file=sys.stderr)
                urls = [f"http://127.0.0.1:{port}/t{i}" for i in range(n)]
                rows.append(daemon_phase(tmp, urls, interval, seconds, scrape_every))
        finally:
            target.terminate()
            target.wait(5)
    print(f"\nslo-exporter run, HTTP probe SLOs on loopback every {interval:g} s, /metrics "
          f"scraped (gzip) every {scrape_every:g} s, {seconds:g} s measured per row\n")
    header = (f"{'targets':>7} {'probes/s':>9} {'CPU % core':>10} {'CPU ms/probe':>12} "
              f"{'RSS MiB':>8} {'/metrics MB':>11} {'scrape p50 s':>12} {'max s':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['targets']:>7.0f} {r['probes'] / r['seconds']:>9.1f} "
              f"{100 * r['cpu'] / r['seconds']:>10.1f} "
              f"{1000 * r['cpu'] / max(r['probes'], 1):>12.3f} {r['rss']:>8.0f} "
              f"{r['bytes'] / 1e6:>11.1f} {r['scrape_p50']:>12.3f} {r['scrape_max']:>6.3f}")


# ---------------------------------------------------------- probe refresh


class SetClock:
    """A clock the benchmark moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_refresh(targets: list[int], interval: float, hours: float, refreshes: int) -> None:
    """CPU of Engine.refresh_probes over a SQLite store, idle and with results arriving."""
    from slo_exporter.config import parse_config
    from slo_exporter.engine import Engine
    from slo_exporter.store import SQLiteStore

    now0 = 1_800_000_000.0  # the start of a bucket: no edge is passed in the first minute
    print(f"\nEngine.refresh_probes, {hours:g} h of minute buckets per probe SLO, results "
          f"every {interval:g} s per target when arriving; CPU s per refresh (median of "
          f"{refreshes})\n")
    print(f"{'targets':>7} {'idle':>8} {'results arriving':>17}")
    for n in targets:
        urls = [f"http://127.0.0.1:9/t{i}" for i in range(n)]
        config = parse_config(probe_config(urls, interval), "bench.yaml")
        figures = []
        for arriving in (False, True):
            clock = SetClock(now0)
            seen = {slo.key: now0 - 1 for slo in config.slos}
            with tempfile.TemporaryDirectory() as tmp:
                store = SQLiteStore(Path(tmp), 60.0)
                start = now0 - hours * 3600
                for slo in config.slos:
                    deltas = {start + 60 * i: (4.0, 4.0) for i in range(int(hours * 60))}
                    store.commit(slo.key, deltas, cursor=now0, series={}, measured=(start, now0))
                engine = Engine(config, store, None, clock=clock,
                                probe_last_seen=seen.get)
                try:
                    engine.evaluate()
                    cpus = []
                    per_second = max(1, round(interval))
                    for i in range(refreshes):
                        clock.now += 1
                        if arriving:  # each second, the results of 1 / interval of the targets
                            for slo in config.slos[i % per_second::per_second]:
                                store.record(slo.key, clock.now - 0.5, True, span=interval)
                                seen[slo.key] = clock.now - 0.5
                        began = time.process_time()
                        engine.refresh_probes()
                        cpus.append(time.process_time() - began)
                    figures.append(statistics.median(cpus))
                finally:
                    engine.close()
                    store.close()
        print(f"{n:>7} {figures[0]:>8.4f} {figures[1]:>17.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default="100,1000,5000")
    parser.add_argument("--rate", type=float, default=600.0, help="probes per second to sustain")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured span per phase")
    parser.add_argument("--daemon", action="store_true",
                        help="measure the whole daemon instead (see the module docstring)")
    parser.add_argument("--refresh", action="store_true",
                        help="measure Engine.refresh_probes instead")
    parser.add_argument("--interval", type=float, default=15.0,
                        help="probe interval of --daemon and --refresh (seconds)")
    parser.add_argument("--scrape-every", type=float, default=15.0,
                        help="seconds between the /metrics scrapes of --daemon")
    parser.add_argument("--hours", type=float, default=6.0,
                        help="stored history per probe SLO for --refresh")
    parser.add_argument("--serve", metavar="PORT_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.drive:
        drive()
        return
    counts = [int(x) for x in args.targets.split(",")]
    if args.daemon:
        run_daemon(counts, args.interval, args.seconds, args.scrape_every)
        return
    if args.refresh:
        run_refresh(counts, args.interval, args.hours, 30)
        return

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        target, port = start_target_server(tmp)
        blackbox, bb_port = start_blackbox(tmp)
        phases: list[Phase] = []
        try:
            for n in (int(x) for x in args.targets.split(",")):
                urls = [f"http://127.0.0.1:{port}/t{i}" for i in range(n)]
                print(f"{n} targets at {args.rate:g}/s: slo-exporter ...", file=sys.stderr)
                ours = run_scheduler(urls, args.rate, args.seconds, None)
                if ours["reasons"]:
                    print(f"  failures by reason: {ours['reasons']}", file=sys.stderr)
                phases.append(Phase("slo-exporter", n, ours["probes"], ours["failures"],
                                    ours["seconds"], ours["cpu"], ours["p50_ms"], ours["p99_ms"]))
                print(f"{n} targets at {args.rate:g}/s: blackbox_exporter ...", file=sys.stderr)
                phases.append(blackbox_phase(blackbox.pid, bb_port, urls, args.rate, args.seconds))
            reference = requests_reference(f"http://127.0.0.1:{port}/ref")
        finally:
            blackbox.terminate()
            target.terminate()
            blackbox.wait(5)
            target.wait(5)

    print(f"\nHTTP probes on loopback, {os.cpu_count()} CPUs, target rate {args.rate:g}/s, "
          f"{args.seconds:g} s measured per row\n")
    header = (f"{'prober':<18} {'targets':>7} {'probes/s':>9} {'failed':>6} "
              f"{'CPU ms/probe':>12} {'p50 ms':>7} {'p99 ms':>7}")
    print(header)
    print("-" * len(header))
    for p in phases:
        print(f"{p.who:<18} {p.targets:>7} {p.rate:>9.1f} {p.failures:>6} "
              f"{p.cpu_ms:>12.3f} {p.p50_ms:>7.2f} {p.p99_ms:>7.2f}")
    print()
    for mine, theirs in zip(phases[::2], phases[1::2], strict=True):
        print(f"{mine.targets:>5} targets: CPU per probe, slo-exporter / blackbox_exporter = "
              f"{mine.cpu_ms / theirs.cpu_ms:.2f}")
    print("p50/p99: probe duration for slo-exporter; for blackbox_exporter, the /probe round")
    print("trip seen by the load driver (includes blackbox's HTTP serving and the driver).")
    print(f"reference: requests with a new Session per probe, sequential: "
          f"{reference:.3f} CPU ms/probe")


if __name__ == "__main__":
    main()
