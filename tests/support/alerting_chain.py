"""The alerting chain on loopback: target -> exporter -> Prometheus -> Alertmanager -> webhook.

Owns: a probe target whose failures can be switched on (all requests, or a
deterministic share), a webhook receiver that records every Alertmanager
notification with its arrival time, a real Alertmanager process, and the
Prometheus configuration that scrapes the exporter, loads the shipped rule
file (``deploy/prometheus/slo-exporter-rules.yml``) and sends alerts to that
Alertmanager. Alertmanager runs the shipped routing
(``deploy/alertmanager/alertmanager.yml``) with every receiver pointed at the
local webhook, so the receiver a notification reaches is part of the result.

Must not: depend on pytest (``bench/detection_time.py`` drives the same
chain), wait without a bound, or touch any address other than 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.harness import HOST, HarnessError, free_port, require_binary, wait_until

# Re-exported (the `as` form tells mypy so): the alerting tests build their
# targets from it alongside QuietHandler.
from tests.support.harness import LoopbackServer as LoopbackServer  # noqa: PLC0414

ROOT = Path(__file__).resolve().parents[2]
RULE_FILE = ROOT / "deploy" / "prometheus" / "slo-exporter-rules.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a probe every second would drown the output

    def answer(self, code: int) -> None:
        """A short plain-text answer: ``ok`` for 200, ``fail`` otherwise."""
        body = b"ok\n" if code == 200 else b"fail\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# ------------------------------------------------------------------ target


class FlakyTarget(LoopbackServer):
    """``GET /`` answers 200, or 500 for a share of requests that can be changed live.

    Failures are deterministic: with share ``r`` the n-th request fails when
    ``floor(n * r)`` grows, so 1% means exactly every 100th request. Each
    change of the share is timestamped, so detection time is measured from
    the real onset.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._share = 0.0
        self._requests = 0
        self.failed = 0
        self.changes: list[tuple[float, float]] = []
        target = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self.answer(500 if target._next_fails() else 200)

        super().__init__(Handler)

    def _next_fails(self) -> bool:
        with self._lock:
            before = int(self._requests * self._share)
            self._requests += 1
            fails = int(self._requests * self._share) > before
            self.failed += fails
            return fails

    def set_failure_share(self, share: float) -> float:
        """Fail this share of requests from now on; returns the instant of the change."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"failure share must be within [0, 1], got {share!r}")
        with self._lock:
            self._share = share
            self._requests = 0
            at = self._clock()
            self.changes.append((at, share))
        return at


# ----------------------------------------------------------------- webhook


@dataclass(frozen=True)
class Notification:
    """One Alertmanager webhook POST, as received."""

    received_at: float
    receiver_path: str
    body: Mapping[str, Any]

    @property
    def status(self) -> str:
        return str(self.body.get("status", ""))

    @property
    def alerts(self) -> list[Mapping[str, Any]]:
        return list(self.body.get("alerts", []))


class WebhookReceiver(LoopbackServer):
    """Collects Alertmanager webhook notifications in arrival order."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsed": raw.decode(errors="replace")}
                receiver._add(Notification(receiver._clock(), self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__(Handler)

    def _add(self, notification: Notification) -> None:
        with self._lock:
            self._received.append(notification)

    @property
    def received(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def wait_for(
        self,
        match: Callable[[Notification], bool],
        *,
        timeout: float,
        what: str,
        on_timeout: Callable[[], str] = lambda: "",
    ) -> Notification:
        """The first notification (old or new) for which ``match`` holds."""

        def probe() -> Notification | None:
            return next((n for n in self.received if match(n)), None)

        def explain() -> str:
            seen = "\n".join(
                f"  {n.receiver_path} {n.status}: "
                + ", ".join(str(a.get("labels", {}).get("alertname")) for a in n.alerts)
                for n in self.received
            )
            return f"notifications so far:\n{seen or '  (none)'}\n{on_timeout()}"

        return wait_until(probe, timeout=timeout, what=what, interval=0.2, on_timeout=explain)


def firing(alertname: str, **labels: str) -> Callable[[Notification], bool]:
    """Matches a notification that reports ``alertname`` firing with these labels."""
    return _matches("firing", alertname, labels)


def resolved(alertname: str, **labels: str) -> Callable[[Notification], bool]:
    """Matches a notification that reports ``alertname`` resolved with these labels."""
    return _matches("resolved", alertname, labels)


def _matches(
    status: str, alertname: str, labels: Mapping[str, str]
) -> Callable[[Notification], bool]:
    def match(n: Notification) -> bool:
        return any(
            a.get("status") == status
            and a.get("labels", {}).get("alertname") == alertname
            and all(a.get("labels", {}).get(k) == v for k, v in labels.items())
            for a in n.alerts
        )

    return match


def alert_in(n: Notification, alertname: str, status: str) -> Mapping[str, Any]:
    """The first alert of ``n`` with this name and status."""
    for a in n.alerts:
        if a.get("status") == status and a.get("labels", {}).get("alertname") == alertname:
            return a
    raise HarnessError(f"no {status} {alertname} in notification {n.body}")


# ------------------------------------------------------------ Alertmanager


def alertmanager_config(
    webhook_url: str,
    *,
    group_wait: str | None = None,
    group_interval: str | None = None,
) -> dict[str, Any]:
    """The shipped routing, with each receiver posting to ``webhook_url/<receiver name>``.

    ``group_wait``/``group_interval`` override every route's, so a test can
    see notifications within seconds; None keeps the shipped timings.
    """
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook_url}/{receiver['name']}"
    routes = [config["route"]]
    while routes:
        route = routes.pop()
        if group_wait is not None:
            route["group_wait"] = group_wait
        if group_interval is not None:
            route["group_interval"] = group_interval
        routes.extend(route.get("routes", []))
    return dict(config)


class AlertmanagerProcess:
    """A real Alertmanager on a loopback port, clustering off."""

    def __init__(self, workdir: Path, config: Mapping[str, Any]) -> None:
        self.binary = _alertmanager_binary()
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.config_path = workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
        self.log_path = workdir / "alertmanager.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(alertmanager: no output)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "--- alertmanager.log ---\n" + "\n".join(text[-lines:])

    def start(self, timeout: float = 30) -> None:
        argv = [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            # An empty address turns gossip clustering off: no extra ports.
            "--cluster.listen-address=",
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

        def ready() -> bool | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError(f"alertmanager exited with {self.proc.returncode}\n"
                                   + self.log_tail())
            try:
                return True if requests.get(f"{self.url}/-/ready", timeout=2).ok else None
            except requests.RequestException:
                return None

        wait_until(ready, timeout=timeout, what="alertmanager /-/ready", on_timeout=self.log_tail)

    def alerts(self) -> list[Mapping[str, Any]]:
        """Alerts Alertmanager holds now (API v2)."""
        resp = requests.get(f"{self.url}/api/v2/alerts", timeout=5)
        resp.raise_for_status()
        return list(resp.json())

    def stop(self, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _alertmanager_binary() -> str:
    # Debian installs the binary as prometheus-alertmanager; upstream as alertmanager.
    try:
        return require_binary("prometheus-alertmanager")
    except HarnessError:
        try:
            return require_binary("alertmanager")
        except HarnessError:
            raise HarnessError(
                "`prometheus-alertmanager` is not on PATH; the alerting tests run the real "
                "binary. Install Debian's `prometheus-alertmanager` package "
                "(`make system-deps` does it) and retry."
            ) from None


# -------------------------------------------------------------- Prometheus


def prometheus_config(
    *,
    exporter_address: str,
    alertmanager_address: str,
    scrape_interval: str,
    evaluation_interval: str,
    rule_files: Sequence[Path] = (RULE_FILE,),
) -> dict[str, Any]:
    """Scrape the exporter as job "slo-exporter", evaluate the rules, alert to Alertmanager."""
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(p) for p in rule_files],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager_address]}]}],
        },
        "scrape_configs": [
            {"job_name": "slo-exporter", "static_configs": [{"targets": [exporter_address]}]},
        ],
    }


def probe_slo_config(
    *,
    target_url: str,
    prometheus_url: str,
    objective: float,
    evaluation_interval: str,
    probe_interval: str = "1s",
    resolution: str = "5s",
    owner: str = "platform",
    tier: str = "critical",
    runbook_url: str = "https://runbooks.example.com/shop/homepage",
) -> dict[str, Any]:
    """An exporter config with one 30d probe SLO, shop/homepage, on ``target_url``."""
    return {
        "prometheus": {"url": prometheus_url, "timeout": "2s", "retries": 1},
        "evaluation_interval": evaluation_interval,
        "storage": {"resolution": resolution},
        "services": [{
            "name": "shop",
            "labels": {"owner": owner, "tier": tier},
            "slos": [{
                "name": "homepage",
                "objective": objective,
                "window": "30d",
                "runbook_url": runbook_url,
                "sli": {"probe": {
                    "http": {"url": target_url},
                    "interval": probe_interval,
                    "timeout": "500ms",
                }},
            }],
        }],
    }


def seed_probe_history(
    storage: Path,
    config: Mapping[str, Any],
    segments: Sequence[tuple[float, float, float]],
    *,
    probes_per_second: float = 1.0,
) -> None:
    """Write past probe events into the exporter's store before it starts.

    Stands in for an exporter that has already been running: ``segments``
    are ``(start, end, failure share)`` spans in Unix time, each filled with
    ``probes_per_second`` events per second, bucket by bucket. The SLI
    fingerprint is registered the way the daemon does, so it keeps them.
    """
    # The store and config modules are the daemon's own: the events must be
    # laid out exactly as the daemon would have written them.
    from slo_exporter.config import parse_config
    from slo_exporter.store import SQLiteStore

    parsed = parse_config(yaml.safe_dump(dict(config), sort_keys=False), "seed.yaml")
    with SQLiteStore(storage, parsed.storage.resolution) as store:
        res = store.resolution
        for slo in parsed.slos:
            store.ensure_fingerprint(slo.key, slo.source_fingerprint, keep_events=True)
            deltas: dict[float, tuple[float, float]] = {}
            for start, end, share in segments:
                at = start
                while at < end:
                    span = min(res - at % res, end - at)
                    total = probes_per_second * span
                    good, all_ = deltas.get(at, (0.0, 0.0))
                    deltas[at] = (good + total * (1.0 - share), all_ + total)
                    at += span
            store.commit(slo.key, deltas)
