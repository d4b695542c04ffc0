"""Stand-in Alertmanagers on 127.0.0.1: one that records posts, and hostile ones.

``RecordingAlertmanager`` answers ``POST /api/v2/alerts`` like Alertmanager
(200, empty body) or with a status the test sets, and keeps every request.
``HostileServer`` accepts connections and then drips bytes, never answers,
or floods the client, so the client's bounds can be measured.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Post:
    path: str
    alerts: list[dict[str, Any]]
    authorization: str | None


class RecordingAlertmanager:
    """Records each POST; ``status`` is the answer given (200 unless set)."""

    def __init__(self) -> None:
        self.status = 200
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server._lock:
                    server.posts.append(Post(self.path, json.loads(raw),
                                             self.headers.get("Authorization")))
                    status = server.status
                body = b"" if status == 200 else b'"bad alert"'
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            return [a for p in self.posts for a in p.alerts]

    def wait_for_alerts(self, count: int, timeout: float = 3.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.alerts()
            if len(got) >= count:
                return got
            time.sleep(0.01)
        return self.alerts()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class HostileServer:
    """Accepts connections and misbehaves: ``drip`` (one byte every 0.1 s
    forever), ``silent`` (reads, never answers) or ``flood`` (a 200 status
    line, then megabytes of body without a length)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sent = 0
        self._sock = socket.create_server((HOST, 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            try:
                if self.mode == "drip":
                    for byte in b"HTTP/1.1 200 OK\r\n" * 1000:
                        if self._stop.wait(0.1):
                            return
                        conn.sendall(bytes([byte]))
                        self.sent += 1
                elif self.mode == "flood":
                    conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
                    chunk = b"x" * 65536
                    for _ in range(160):  # 10 MiB at most
                        if self._stop.is_set():
                            return
                        conn.sendall(chunk)
                        self.sent += len(chunk)
                else:
                    while not self._stop.wait(0.1):
                        with contextlib.suppress(TimeoutError):
                            conn.recv(65536)
            except OSError:
                return  # the client gave up and closed: what the test wants

    def __enter__(self) -> Self:
        self._accept.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accept.join(2)
        for thread in self._threads:
            thread.join(2)
        self._sock.close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
