"""Real processes for integration tests and benchmarks, on loopback ports.

Owns: free ports, a ``PrometheusServer`` (config file, optional promtool
backfill, start/stop/restart on the same data dir and port), an
``ExporterProcess`` running the ``slo-exporter`` daemon as a subprocess, a
``CounterTarget`` that Prometheus scrapes so counters keep moving during a
test, and a parsed view of one ``/metrics`` scrape.

Must not: depend on pytest (benchmarks use it too; fixtures in conftest.py
turn ``HarnessError`` into test failures), wait without a bound, touch any
address other than 127.0.0.1, or import the daemon's modules (the daemon is
driven through its command line only).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.synth import DAY, Sample, WindowSpec, expected_window, series_key

T = TypeVar("T")

HOST = "127.0.0.1"

#: The tests' synthetic history spans this many days and ends this long
#: before the session starts, like a scrape that stopped a little while ago.
HISTORY_DAYS = 32
HISTORY_LAG_SECONDS = 150
#: Selectors of that history's request counters (one job, "api").
API_TOTAL = 'http_requests_total{job="api"}'
API_GOOD = 'http_requests_total{job="api",code="200"}'
API_BAD = 'http_requests_total{job="api",code="500"}'


class HarnessError(RuntimeError):
    """A process could not be prepared, started or reached in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def require_binary(name: str) -> str:
    """Absolute path of ``name`` on PATH, or HarnessError saying how to get it."""
    path = shutil.which(name)
    if path is None:
        raise HarnessError(
            f"`{name}` is not on PATH; the integration tests run the real binary. "
            "Install Debian's `prometheus` package (`make test` does it) and retry."
        )
    return path


def run_tool(argv: Sequence[str], what: str, timeout: float) -> None:
    """Run a command line tool to completion; HarnessError with its output if it fails."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{what} took over {timeout:g}s") from exc
    if done.returncode != 0:
        raise HarnessError(
            f"{what} failed ({done.returncode}):\n"
            + done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        )


@contextlib.contextmanager
def failing_on_harness_error() -> Iterator[None]:
    """A harness failure (a process that would not start, a timeout) fails the test plainly."""
    import pytest  # here, so benchmarks import the harness without the test tools

    try:
        yield
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    on_timeout: Callable[[], str] = lambda: "",
) -> T:
    """Call ``probe`` until it returns something other than None, at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            detail = on_timeout()
            raise HarnessError(f"timed out after {timeout:g}s waiting for {what}\n{detail}")
        time.sleep(interval)


def _tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path.name}: no output)"
    text = path.read_text(errors="replace").splitlines()
    return f"--- last {min(lines, len(text))} lines of {path.name} ---\n" + "\n".join(
        text[-lines:]
    )


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class _Process:
    """A subprocess whose output goes to a log file in its work dir."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def _spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        if self.alive:
            raise HarnessError(f"{argv[0]} is already running (pid {self.pid})")
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {' '.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def signal_and_wait(self, sig: int, timeout: float) -> int | None:
        """Send ``sig`` and wait up to ``timeout`` s; SIGKILL if still running."""
        if self.proc is None or self.proc.poll() is not None:
            return self.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise HarnessError(
                f"pid {self.proc.pid} ignored signal {sig} for {timeout:g}s and was killed\n"
                + self.log_tail()
            ) from None


# ------------------------------------------------------------------ Prometheus


class PrometheusServer(_Process):
    """A real Prometheus on a loopback port with its data dir under ``workdir``.

    ``stop()`` and ``start()`` may alternate: the server comes back on the
    same port and data dir, with everything it had stored.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        scrape_configs: Sequence[Mapping[str, Any]] = (),
        scrape_interval: str = "1s",
        query_log: bool = False,
    ) -> None:
        self.binary = require_binary("prometheus")
        self.promtool = require_binary("promtool")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir / "prometheus.log")
        self.port = port or free_port()
        self.data_dir = workdir / "data"
        self.config_path = workdir / "prometheus.yml"
        self.query_log_path = workdir / "query.log" if query_log else None
        global_cfg: dict[str, Any] = {
            "scrape_interval": scrape_interval,
            "evaluation_interval": scrape_interval,
        }
        if self.query_log_path:
            global_cfg["query_log_file"] = str(self.query_log_path)
        self.config_path.write_text(
            yaml.safe_dump({"global": global_cfg, "scrape_configs": list(scrape_configs)})
        )

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def backfill(self, openmetrics: Path, timeout: float = 300) -> None:
        """Turn an OpenMetrics file into TSDB blocks in the data dir (before start)."""
        if self.alive:
            raise HarnessError("backfill needs a stopped Prometheus")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Large blocks: promtool re-reads the whole input once per block, so
        # the default 2h blocks make a 30-day import about 60x slower.
        argv = [
            self.promtool, "tsdb", "create-blocks-from", "openmetrics",
            "--max-block-duration=720h", "-q", str(openmetrics), str(self.data_dir),
        ]
        run_tool(argv, "promtool backfill", timeout)

    def start(self, timeout: float = 60) -> None:
        """Start and wait until /-/ready answers 200."""
        self._spawn([
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address={HOST}:{self.port}",
            "--web.enable-lifecycle",
        ])

        def ready() -> bool | None:
            if not self.alive:
                raise HarnessError(
                    f"prometheus exited with {self.returncode}\n{self.log_tail()}"
                )
            return True if _http_ok(f"{self.url}/-/ready") else None

        wait_until(ready, timeout=timeout, what="prometheus /-/ready", on_timeout=self.log_tail)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait for a clean shutdown (the WAL is kept for a restart)."""
        self.signal_and_wait(signal.SIGTERM, timeout)

    # -- queries ------------------------------------------------------------

    def api(self, path: str, timeout: float = 60, **params: Any) -> Any:
        """GET /api/v1/<path>; returns ``data`` or raises HarnessError."""
        try:
            resp = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=timeout)
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise HarnessError(f"prometheus /api/v1/{path} {params}: {exc}") from exc
        if body.get("status") != "success":
            raise HarnessError(f"prometheus /api/v1/{path} {params}: {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None, *, stats: bool = False) -> Any:
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        if stats:
            params["stats"] = "all"
        return self.api("query", **params)

    def scalar(self, promql: str, at: float | None = None) -> float:
        """The single value of an instant query returning one series."""
        result = self.query(promql, at)["result"]
        if len(result) != 1:
            raise HarnessError(f"{promql!r} returned {len(result)} series, expected 1")
        return float(result[0]["value"][1])

    def raw_samples(self, selector: str, at: float, span_seconds: float) -> dict[str, list[Sample]]:
        """Every raw sample of ``selector`` in ``[at - span, at]``, keyed like synth.series_key."""
        data = self.query(f"{selector}[{math.ceil(span_seconds)}s]", at)
        return {
            series_key(item["metric"]): [
                (round(float(ts) * 1000), float(v)) for ts, v in item["values"]
            ]
            for item in data["result"]
        }

    def wait_for_sample_after(self, selector: str, after: float, timeout: float = 30) -> None:
        """Wait until every series of ``selector`` has a sample newer than ``after``.

        Prometheus starts scraping a few seconds after start (target
        discovery is throttled), so live data appears only after a while.
        """
        def fresh() -> bool | None:
            data = self.query(f"timestamp({selector})")
            stamps = [float(item["value"][1]) for item in data["result"]]
            return True if stamps and min(stamps) > after else None

        wait_until(fresh, timeout=timeout, what=f"a sample of {selector} after {after:.3f}",
                   on_timeout=self.log_tail)


# ------------------------------------------------------------ the daemon


def exporter_argv() -> list[str]:
    """How to run the daemon: the console script next to this interpreter, else ``-m``."""
    script = Path(sys.executable).parent / "slo-exporter"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "slo_exporter"]


@dataclass(frozen=True)
class SLOSpec:
    """A ratio SLO over plain selectors, as a test configures it."""

    service: str
    name: str
    total: str
    good: str | None = None
    bad: str | None = None
    objective: float = 99.9  # percent, as in the config
    window: str = "30d"

    def config_entry(self) -> dict[str, Any]:
        sli: dict[str, str] = {"total": self.total}
        if self.good is not None:
            sli["good"] = self.good
        if self.bad is not None:
            sli["bad"] = self.bad
        return {
            "name": self.name,
            "objective": self.objective,
            "window": self.window,
            "sli": {"ratio": sli},
        }


def exporter_config(
    prometheus_url: str,
    slos: Sequence[SLOSpec],
    *,
    evaluation_interval: str = "30s",
    query_delay: str = "30s",
    resolution: str = "60s",
    timeout: str = "10s",
) -> dict[str, Any]:
    """A native config document (see PRODUCT.md) as plain data, ready to dump."""
    services: dict[str, list[dict[str, Any]]] = {}
    for slo in slos:
        services.setdefault(slo.service, []).append(slo.config_entry())
    return {
        "prometheus": {"url": prometheus_url, "timeout": timeout, "query_delay": query_delay},
        "evaluation_interval": evaluation_interval,
        "storage": {"resolution": resolution},
        "services": [{"name": name, "slos": entries} for name, entries in services.items()],
    }


@dataclass(frozen=True)
class MetricSample:
    name: str
    labels: Mapping[str, str]
    value: float


class Scrape:
    """One parsed /metrics response."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: tuple[MetricSample, ...] = tuple(
            MetricSample(s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        )

    def find(self, name: str, **labels: str) -> list[MetricSample]:
        return [
            s for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def get(self, name: str, **labels: str) -> float | None:
        """The value of the one sample matching name and labels, None if absent."""
        found = self.find(name, **labels)
        if len(found) > 1:
            raise HarnessError(f"{name}{labels} matches {len(found)} samples: {found}")
        return found[0].value if found else None

    def value(self, name: str, **labels: str) -> float:
        """Like get(), but the sample must exist."""
        got = self.get(name, **labels)
        if got is None:
            present = sorted({s.name for s in self.samples})
            raise HarnessError(f"no sample {name}{labels} in scrape; metric names: {present}")
        return got


class ExporterProcess(_Process):
    """The slo-exporter daemon under test, as a subprocess on a loopback port.

    The port and storage path stay the same across kill()/start(), so a
    restart finds the events the previous run stored.
    """

    def __init__(
        self,
        workdir: Path,
        config: Mapping[str, Any],
        *,
        port: int | None = None,
        storage: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir / "exporter.log")
        self.port = port or free_port()
        self.storage = storage or workdir / "storage"
        self.config_path = workdir / "slo.yaml"
        self.config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        self.extra_args = tuple(extra_args)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def argv(self) -> list[str]:
        return [
            *exporter_argv(), "run",
            f"--config.file={self.config_path}",
            f"--web.listen-address={HOST}:{self.port}",
            f"--storage.path={self.storage}",
            "--log.format=json",
            *self.extra_args,
        ]

    def launch(self) -> None:
        """Start the daemon without waiting for it."""
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._spawn(self.argv(), env)

    def start(self, ready_timeout: float = 120) -> None:
        """Start the daemon and wait until /-/ready says 200."""
        self.launch()
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout: float) -> None:
        def ready() -> bool | None:
            if not self.alive:
                raise HarnessError(
                    f"slo-exporter exited with {self.returncode} before it was ready\n"
                    + self.log_tail()
                )
            return True if _http_ok(f"{self.url}/-/ready") else None

        wait_until(ready, timeout=timeout, what="slo-exporter /-/ready", on_timeout=self.log_tail)

    def scrape(self) -> Scrape:
        try:
            resp = requests.get(f"{self.url}/metrics", timeout=5)
        except requests.RequestException as exc:
            raise HarnessError(
                f"scrape of {self.url}/metrics failed: {exc}\n{self.log_tail()}"
            ) from exc
        if resp.status_code != 200:
            raise HarnessError(f"/metrics answered {resp.status_code}\n{self.log_tail()}")
        return Scrape(resp.text)

    def wait_for_scrape(
        self, check: Callable[[Scrape], bool], *, timeout: float, what: str
    ) -> Scrape:
        """Scrape until ``check`` holds; the daemon must stay alive meanwhile."""
        def probe() -> Scrape | None:
            if not self.alive:
                raise HarnessError(f"slo-exporter exited with {self.returncode}\n{self.log_tail()}")
            scrape = self.scrape()
            return scrape if check(scrape) else None

        return wait_until(probe, timeout=timeout, what=what, interval=0.5, on_timeout=self.log_tail)

    def logged(self, event: str) -> list[dict[str, Any]]:
        """The daemon's JSON log lines with this event name, in order."""
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and f'"{event}"' in line:
                entry = json.loads(line)
                if entry.get("event") == event:
                    found.append(entry)
        return found

    def kill(self) -> None:
        """SIGKILL: no chance to flush or close anything."""
        self.signal_and_wait(signal.SIGKILL, 10)

    def terminate(self, timeout: float = 15) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        return self.signal_and_wait(signal.SIGTERM, timeout)


def evaluation_instants(scrape: Scrape) -> set[float]:
    """The distinct instants the scraped SLO values describe."""
    return {s.value for s in scrape.find("slo_last_evaluation_timestamp_seconds")}


def scrapes_at_one_instant(
    exporters: Sequence[ExporterProcess], *, timeout: float, what: str
) -> list[Scrape]:
    """One scrape per daemon, all describing the same single evaluation instant.

    Every daemon is scraped again afterwards: none may have moved on while
    the others were scraped.
    """
    def probe() -> list[Scrape] | None:
        scrapes = [e.scrape() for e in exporters]
        first = evaluation_instants(scrapes[0])
        if len(first) != 1 or any(evaluation_instants(s) != first for s in scrapes):
            return None
        moved_on = any(evaluation_instants(e.scrape()) != first for e in exporters)
        return None if moved_on else scrapes

    return wait_until(probe, timeout=timeout, what=what, interval=0.2)


# -------------------------------------------------------- live counters


class LoopbackServer:
    """A ThreadingHTTPServer on a free loopback port, run in a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.port = free_port()
        self._server = ThreadingHTTPServer((HOST, self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ScrapeTarget(LoopbackServer):
    """A ``/metrics`` server on a free loopback port answering every GET with ``exposition()``.

    The shared part of the synthetic scrape targets: the server, its thread, the
    address and a Prometheus scrape job that stores exactly the series' labels
    (``honor_labels``, ``instance`` dropped). Subclasses say what is exposed.
    """

    def __init__(self) -> None:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = target.exposition().encode()
                # Prometheus may stop mid-scrape in the outage tests
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every second would drown the output

        super().__init__(Handler)

    def exposition(self) -> str:
        raise NotImplementedError

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def scrape_config(self, interval: str = "1s") -> dict[str, Any]:
        """A Prometheus scrape job that stores exactly the synthetic series' labels."""
        return {
            "job_name": "synthetic",
            "scrape_interval": interval,
            "honor_labels": True,
            "static_configs": [{"targets": [self.address]}],
            "metric_relabel_configs": [{"action": "labeldrop", "regex": "instance"}],
        }


class CounterTarget(ScrapeTarget):
    """An HTTP scrape target whose request counters keep growing in real time.

    It continues synthetic histories: the same series (``job``/``code``
    labels, scraped with ``honor_labels`` and ``instance`` dropped) starting
    from each job's last values, so a test can watch the daemon follow live
    data across restarts and outages. ``reset()`` simulates an app restart
    (counters drop to zero).
    """

    def __init__(
        self,
        starts: Mapping[str, tuple[float, float]],
        *,
        good_rps: float = 8.0,
        bad_rps: float = 0.25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``starts`` maps each job to its (good, bad) counter values at start."""
        self.good_rps, self.bad_rps = good_rps, bad_rps
        self._clock = clock
        self._lock = threading.Lock()
        self._base = dict(starts)
        self._since = clock()
        super().__init__()

    def values(self) -> dict[str, tuple[int, int]]:
        """Current (good, bad) counter values per job."""
        with self._lock:
            elapsed = self._clock() - self._since
            base = dict(self._base)
        return {
            job: (int(good) + math.floor(self.good_rps * elapsed),
                  int(bad) + math.floor(self.bad_rps * elapsed))
            for job, (good, bad) in base.items()
        }

    def exposition(self) -> str:
        lines = ["# TYPE http_requests_total counter\n"]
        for job, (good, bad) in self.values().items():
            # integers in full: `%g` would round large counters to 6 digits
            lines.append(f'http_requests_total{{job="{job}",code="200"}} {good}\n')
            lines.append(f'http_requests_total{{job="{job}",code="500"}} {bad}\n')
        return "".join(lines)

    def reset(self) -> None:
        """Counters start again from zero, as after an app restart."""
        with self._lock:
            self._base = dict.fromkeys(self._base, (0.0, 0.0))
            self._since = self._clock()



@contextlib.contextmanager
def backfilled_prometheus(
    workdir: Path,
    openmetrics: Path | list[str],
    *,
    query_log: bool = False,
    scrape_interval: str = "1s",
) -> Iterator[PrometheusServer]:
    """A real Prometheus in ``workdir`` holding a history, stopped on the way out.

    ``openmetrics`` is an OpenMetrics file or its lines (then written to
    ``workdir/history.om``). For module fixtures that load their own history;
    a harness failure (the binaries missing, a bad file) fails the test plainly.
    """
    if not isinstance(openmetrics, Path):
        lines, openmetrics = openmetrics, workdir / "history.om"
        openmetrics.write_text("\n".join(lines) + "\n")
    with failing_on_harness_error():
        server = PrometheusServer(
            workdir / "server", query_log=query_log, scrape_interval=scrape_interval
        )
        server.backfill(openmetrics)
        server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def running(process: PrometheusServer | ExporterProcess) -> Iterator[None]:
    """Stop ``process`` on the way out, whatever happened."""
    try:
        yield
    finally:
        with contextlib.suppress(HarnessError):
            process.signal_and_wait(signal.SIGTERM, 20)


# ------------------------------------------------------------ exactness


#: The windows the issue names, by their exported label.
CHECKED_WINDOWS: Mapping[str, float] = {
    "30d": 30 * 86400.0, "1d": 86400.0, "6h": 6 * 3600.0, "1h": 3600.0,
}
RATIO_TOLERANCE = 1e-3  # 0.1% relative, for ratios and burn rates


def _close(got: float, want: float, rel: float) -> bool:
    return math.isclose(got, want, rel_tol=rel, abs_tol=1e-12)


def evaluated_at(scrape: Scrape, slo: SLOSpec) -> float:
    """The instant the SLO's exported values describe."""
    return scrape.value(
        "slo_last_evaluation_timestamp_seconds", service=slo.service, slo=slo.name
    )


def up_after(slos: Sequence[SLOSpec], after: float) -> Callable[[Scrape], bool]:
    """A scrape check: every SLO answered, at an instant later than ``after``."""
    def check(scrape: Scrape) -> bool:
        return all(
            scrape.get("slo_sli_up", service=s.service, slo=s.name) == 1.0
            and (scrape.get("slo_last_evaluation_timestamp_seconds",
                            service=s.service, slo=s.name) or 0.0) > after
            for s in slos
        )

    return check


def stored_samples(
    prometheus: PrometheusServer,
) -> Callable[[str, float], Mapping[str, Sequence[Sample]]]:
    """The oracle's view: Prometheus's raw samples of a selector as they stood at t."""
    def samples(selector: str, t: float) -> Mapping[str, Sequence[Sample]]:
        return prometheus.raw_samples(selector, t, HISTORY_DAYS * DAY + 3600)

    return samples


def window_mismatches(
    scrape: Scrape,
    slo: SLOSpec,
    samples: Callable[[str, float], Mapping[str, Sequence[Sample]]],
    *,
    windows: Mapping[str, float] = CHECKED_WINDOWS,
    resolution: float = 60.0,
) -> list[str]:
    """Every way the scrape differs from the exact values for ``slo``; empty when exact.

    ``samples(selector, t)`` returns the raw samples of a selector as they
    stood at ``t`` (generated history, or Prometheus's own raw samples).
    Events must match exactly; SLI and burn rate within 0.1% relative.
    """
    t = evaluated_at(scrape, slo)
    total = samples(slo.total, t)
    good = samples(slo.good, t) if slo.good else None
    bad = samples(slo.bad, t) if slo.bad else None
    objective = slo.objective / 100.0
    labels = {"service": slo.service, "slo": slo.name}
    problems: list[str] = []
    for label, seconds in windows.items():
        want = expected_window(total, WindowSpec(t, seconds, resolution), good=good, bad=bad)
        where = f"{slo.service}/{slo.name} window={label} t={t:.3f}"
        for result, value in (("good", want.good), ("bad", want.bad)):
            got = scrape.get("slo_events", **labels, window=label, result=result)
            if got is None or not math.isclose(got, value, rel_tol=1e-12, abs_tol=1e-9):
                problems.append(
                    f"{where}: slo_events{{result={result}}} = {got}, exact {value:.0f}"
                )
        checks = (
            ("slo_sli_ratio", want.sli),
            ("slo_burn_rate", want.burn_rate(objective)),
        )
        for metric, exact in checks:
            got = scrape.get(metric, **labels, window=label)
            if exact is None:
                if got is not None:
                    problems.append(f"{where}: {metric} = {got}, but the window has no events")
            elif got is None or not _close(got, exact, RATIO_TOLERANCE):
                problems.append(f"{where}: {metric} = {got}, exact {exact!r}")
        if label == slo.window and want.error_ratio is not None:
            remaining = 1.0 - want.error_ratio / (1.0 - objective)
            got = scrape.get("slo_error_budget_remaining_ratio", **labels)
            if got is None or not math.isclose(got, remaining, rel_tol=RATIO_TOLERANCE,
                                               abs_tol=RATIO_TOLERANCE):
                problems.append(
                    f"{where}: slo_error_budget_remaining_ratio = {got}, exact {remaining!r}"
                )
    return problems


#: What the make_prometheus / make_exporter fixtures hand to tests.
PrometheusFactory = Callable[..., PrometheusServer]
ExporterFactory = Callable[..., ExporterProcess]
