"""A Prometheus stand-in for unit tests of the parts that query it.

Owns one small HTTP server on 127.0.0.1 that answers every query with an
empty matrix, counts requests and the client connections they came on, and
can hold answers back (like a Prometheus stuck in a long query). Tests that
need real data run a real Prometheus (``tests.support.harness``).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

EMPTY_MATRIX = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'


class EmptyPrometheus:
    """Answers every query with an empty matrix over keep-alive HTTP/1.1.

    While ``open`` is cleared, answers wait (at most ``hold`` seconds), so a
    test can hold a cycle inside a query. ``arrived`` is set by the first
    request.
    """

    def __init__(self, hold: float = 5.0) -> None:
        self.open = threading.Event()
        self.open.set()
        self.arrived = threading.Event()
        self.requests = 0
        self.connections: set[tuple[str, int]] = set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer()

            def _answer(self) -> None:
                owner.requests += 1
                owner.connections.add(self.client_address)
                owner.arrived.set()
                owner.open.wait(hold)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(EMPTY_MATRIX)))
                self.end_headers()
                self.wfile.write(EMPTY_MATRIX)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.open.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
