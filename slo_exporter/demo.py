"""A demo target with failure injection, so a newcomer can watch a burn rate rise.

``GET /`` answers 200, or 500 for the configured share of requests.
``GET /-/failure-ratio`` shows the share; ``POST /-/failure-ratio`` with a
body such as ``0.5`` (or ``?ratio=0.5``) changes it. ``/metrics`` exposes
``demo_requests_total{code}`` so ratio SLOs can be tried through Prometheus.
``POST /-/alerts/<receiver>`` takes an Alertmanager webhook notification and
logs it (``alert_notification``), so the compose stack's pages have somewhere
to go and can be seen with ``docker compose logs demo``.

Must not: count anything but ``GET /`` as a demo request, or read more than
``MAX_NOTIFICATION_BYTES`` of a notification.
"""

from __future__ import annotations

import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from slo_exporter.web import parse_listen_address

#: the largest Alertmanager notification the demo reads; a bigger one gets 413
MAX_NOTIFICATION_BYTES = 1 << 20
ALERTS_PATH = "/-/alerts/"


class DemoTarget:
    """Holds the failure ratio and counts requests; thread-safe."""

    def __init__(self, failure_ratio: float = 0.0, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._rng = rng or random.Random()
        self.failure_ratio = _check_ratio(failure_ratio)
        self.registry = CollectorRegistry()
        self.requests = Counter("demo_requests", "Requests served by the demo target.",
                                ["code"], registry=self.registry)
        for code in ("200", "500"):
            self.requests.labels(code)

    def set_ratio(self, ratio: float) -> None:
        with self._lock:
            self.failure_ratio = _check_ratio(ratio)

    def answer(self) -> int:
        with self._lock:
            failed = self._rng.random() < self.failure_ratio
        code = 500 if failed else 200
        self.requests.labels(str(code)).inc()
        return code


def _check_ratio(ratio: float) -> float:
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"failure ratio must be between 0 and 1, got {ratio}")
    return ratio


def make_server(address: str, target: DemoTarget) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo answers many probes per second."""

        def _reply(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/metrics":
                self._reply(200, generate_latest(target.registry), CONTENT_TYPE_LATEST)
            elif path == "/-/failure-ratio":
                self._reply(200, f"{target.failure_ratio}\n".encode())
            else:
                code = target.answer()
                self._reply(code, b"ok\n" if code == 200 else b"injected failure\n")

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith(ALERTS_PATH):
                self._notification(parts.path[len(ALERTS_PATH):])
                return
            if parts.path != "/-/failure-ratio":
                self._reply(404, b"not found\n")
                return
            length = _content_length(self.headers.get("Content-Length"))
            if length is None:
                self.close_connection = True
                self._reply(400, b"bad Content-Length\n")
                return
            raw = self.rfile.read(min(length, 64)).decode(errors="replace").strip()
            raw = parse_qs(parts.query).get("ratio", [raw])[0]
            try:
                target.set_ratio(float(raw))
            except ValueError as exc:
                self._reply(400, f"{exc}\n".encode())
                return
            structlog.get_logger("slo_exporter.demo").info(
                "failure_ratio_set", ratio=target.failure_ratio)
            self._reply(200, f"{target.failure_ratio}\n".encode())

        def _notification(self, receiver: str) -> None:
            length = _content_length(self.headers.get("Content-Length"))
            if length is None:
                self.close_connection = True
                self._reply(400, b"bad Content-Length\n")
                return
            if length > MAX_NOTIFICATION_BYTES:
                self.close_connection = True
                self._reply(413, b"notification too large\n")
                return
            try:
                body = json.loads(self.rfile.read(length))
                alerts = [_alert_name(a) for a in body["alerts"]]
                status = str(body["status"])
            except (ValueError, KeyError, TypeError):
                self._reply(400, b"not an Alertmanager webhook notification\n")
                return
            structlog.get_logger("slo_exporter.demo").info(
                "alert_notification", receiver=receiver, status=status, alerts=alerts)
            self._reply(200, b"ok\n")

    httpd = ThreadingHTTPServer(parse_listen_address(address), Handler)
    httpd.daemon_threads = True
    return httpd


def serve(address: str, failure_ratio: float) -> int:
    """Serve until interrupted; 0 on a clean stop, 1 with one logged line if it cannot start.

    A taken or malformed address ends here with ``demo_listen_failed``, never
    a traceback, so ``make run`` stops instead of probing whatever owns the port.
    """
    log = structlog.get_logger("slo_exporter.demo")
    try:
        target = DemoTarget(failure_ratio)
    except ValueError as exc:
        log.error("demo_bad_failure_ratio", failure_ratio=failure_ratio, error=str(exc))
        return 1
    try:
        httpd = make_server(address, target)
    except (OSError, ValueError) as exc:
        log.error("demo_listen_failed", address=address, error=_reason(exc))
        return 1
    log.info("demo_listening", address=address, failure_ratio=failure_ratio)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


def _content_length(header: str | None) -> int | None:
    """The request body's length; None when the header is not a non-negative integer."""
    text = (header or "0").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None


def _alert_name(alert: dict[str, Any]) -> str:
    """``SLOBurnRatePage demo/availability``: the alert name and the SLO it is about."""
    labels = alert["labels"]
    return f"{labels['alertname']} {labels.get('service', '?')}/{labels.get('slo', '?')}"


def _reason(exc: Exception) -> str:
    """The OS's words for a socket error (``Address already in use``), else the message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
