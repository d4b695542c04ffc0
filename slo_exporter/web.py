"""HTTP endpoints: /metrics, /-/healthy, /-/ready, / (status page), /api/v1/slos.

Handlers only read the current snapshot (and the store for the budget
history on the status page); they never call Prometheus or a probe.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from slo_exporter.snapshot import Snapshot

Page = Callable[[], tuple[str, bytes]]  # -> (content type, body)


def parse_listen_address(text: str) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``[::1]:port``; an empty host means all interfaces."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address must be host:port or :port, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ':port' means all interfaces, as in Prometheus


class WebServer:
    """A threaded HTTP server bound at construction, served on a daemon thread."""

    def __init__(
        self,
        address: str,
        registry: CollectorRegistry,
        snapshot: Callable[[], Snapshot],
        *,
        pages: dict[str, Page] | None = None,
    ) -> None:
        host, port = parse_listen_address(address)
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self.registry = registry
        self.snapshot = snapshot
        self.pages = dict(pages or {})
        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server_owner: WebServer
    server_version = "slo-exporter"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs are off; errors are logged where they happen."""

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, *, head: bool) -> None:
        owner = self.server_owner
        path = urlsplit(self.path).path
        if path == "/metrics":
            body = generate_latest(owner.registry)
            self._send(200, CONTENT_TYPE_LATEST, body, head=head, compress=True)
        elif path == "/-/healthy":
            self._send(200, "text/plain; charset=utf-8", b"slo-exporter is healthy.\n", head=head)
        elif path == "/-/ready":
            if owner.snapshot().complete:
                self._send(200, "text/plain; charset=utf-8", b"slo-exporter is ready.\n", head=head)
            else:
                self._send(503, "text/plain; charset=utf-8",
                           b"slo-exporter is not ready: first evaluation still running.\n",
                           head=head)
        elif path in owner.pages:
            content_type, body = owner.pages[path]()
            self._send(200, content_type, body, head=head, compress=True)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n", head=head)

    def _send(self, code: int, content_type: str, body: bytes, *, head: bool,
              compress: bool = False) -> None:
        if compress and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=5)
            encoding: str | None = "gzip"
        else:
            encoding = None
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        if not head:
            self.wfile.write(body)


def json_page(render: Callable[[], Any]) -> Page:
    def page() -> tuple[str, bytes]:
        return "application/json", json.dumps(render(), indent=2).encode()
    return page


def html_page(render: Callable[[], str]) -> Page:
    def page() -> tuple[str, bytes]:
        return "text/html; charset=utf-8", render().encode()
    return page
