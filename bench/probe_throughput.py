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
"""

from __future__ import annotations

import argparse
import asyncio
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default="100,1000,5000")
    parser.add_argument("--rate", type=float, default=600.0, help="probes per second to sustain")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured span per phase")
    parser.add_argument("--serve", metavar="PORT_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.drive:
        drive()
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
