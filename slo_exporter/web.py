"""HTTP endpoints: /metrics, /-/healthy, /-/ready and the pages the daemon registers.

The daemon registers ``/`` (status page), ``/catalog`` (service catalog),
``/api/v1/slos`` and ``/api/v1/services``; every page gets the same limits,
authentication, compression and headers.

Owns the listening socket, every client connection and the limits that keep
the endpoints answering under hostile clients, plus TLS and basic auth from the
web config file (parsed by ``webconfig``). Handlers only read the current
snapshot (the budget history travels on it); they never read the store or call
Prometheus or a probe. ``/metrics`` serves the snapshot's families as the
``SnapshotCollector`` keeps them (lines per status, a gzip member per
snapshot), then the rest of the registry, whose collectors may hand over
text they keep (the probe metrics' per-target lines). A page that takes
query parameters gets them parsed and bounded here; a value it cannot serve
(``SelectionError``) is a 400 with the reason. Nothing here may log a request
header, a password or a password hash.

How it stays bounded:

- One I/O thread multiplexes every connection with a selector. It does the TLS
  handshake, reads the request head and a small body, and writes the answer,
  all without blocking. A slow or idle client therefore costs a file
  descriptor and a small buffer, never a thread.
- Only a complete request reaches the small, fixed pool of workers that
  authenticates and renders it.
- Each request has one deadline (``Limits.request_timeout``) over handshake,
  head and body, however the bytes trickle in; writing the answer gets one more.
- At ``Limits.max_connections`` (never more than a quarter of the process's
  file-descriptor limit) a new connection replaces the oldest one that
  has not finished sending its request, so a crowd of slow clients cannot lock
  out a scraper that sends its request at once. When every connection is busy
  rendering, the new one is closed at once.
- Heads, header counts and bodies have byte limits (we serve GET and HEAD only);
  query strings have a length and a field-count limit (414 and 400 beyond them).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import gzip
import hashlib
import hmac
import json
import os
import queue
import resource
import selectors
import socket
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import bcrypt
import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from slo_exporter.errors import ConfigError
from slo_exporter.exposition import (
    METRICS_GZIP_LEVEL,
    SnapshotCollector,
    render_families,
    rendering_text,
)
from slo_exporter.snapshot import SelectionError, Snapshot
from slo_exporter.webconfig import WebConfig, build_ssl_context, load_web_config

log = structlog.get_logger("slo_exporter.web")

Page = Callable[[], tuple[str, bytes]]  # -> (content type, body)
#: query parameters of a request: the first value of each name
Query = Mapping[str, str]

#: query strings longer than this are refused (414); pages take a few short parameters
MAX_QUERY_CHARS = 512
#: query parameters beyond this many are refused (400)
MAX_QUERY_FIELDS = 32

TEXT = "text/plain; charset=utf-8"


def parse_listen_address(text: str) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``[::1]:port``; an empty host means all interfaces."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address must be host:port or :port, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ':port' means all interfaces, as in Prometheus


@dataclass(frozen=True)
class Limits:
    """What one server may spend on its clients."""

    #: seconds for a whole request (TLS handshake, head, body), and again for writing the answer
    request_timeout: float = 10.0
    #: open client connections; the process's fd limit must leave room for probes and the store
    max_connections: int = 128
    #: threads that authenticate and render complete requests
    workers: int = 8
    #: pending connections the kernel queues before accept()
    backlog: int = 1024
    max_head_bytes: int = 16 * 1024
    max_headers: int = 100
    #: a GET needs no body; a small one is read and ignored, a larger one is refused
    max_body_bytes: int = 8 * 1024

    def __post_init__(self) -> None:
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        if self.max_connections < 1 or self.workers < 1 or self.backlog < 1:
            raise ValueError("max_connections, workers and backlog must be at least 1")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    keep_alive: bool
    query: Query = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    code: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


class _BadRequest(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_head(head: bytes, limits: Limits) -> Request:
    """Parse a request line and header block (without the blank line); _BadRequest if invalid."""
    lines = head.split(b"\r\n")
    try:
        request_line = lines[0].decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequest(400, "request line is not ASCII") from None
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise _BadRequest(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise _BadRequest(505, "only HTTP/1.0 and HTTP/1.1 are served")
    if len(lines) - 1 > limits.max_headers:
        raise _BadRequest(431, "too many header fields")
    headers: dict[str, str] = {}
    for raw in lines[1:]:
        name, sep, value = raw.partition(b":")
        if not sep or not name or name != name.strip() or raw[:1] in (b" ", b"\t"):
            raise _BadRequest(400, "malformed header field")
        key = name.decode("latin-1").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    # HTTP/1.0 clients get one answer per connection; nobody scrapes with 1.0 keep-alive
    keep_alive = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    url = urlsplit(target)
    return Request(method, url.path, headers, keep_alive, parse_query(url.query))


def parse_query(text: str) -> dict[str, str]:
    """The first value of each parameter; _BadRequest for an oversized query.

    Pages read a few short options (``?sort=burn``, ``?service=checkout``), so
    a query longer than ``MAX_QUERY_CHARS`` or with more than
    ``MAX_QUERY_FIELDS`` fields is refused: ignoring it would silently drop a
    filter and answer with everything. Bad percent escapes are kept as text
    and undecodable bytes replaced; the page then judges the values.
    """
    if not text:
        return {}
    if len(text) > MAX_QUERY_CHARS:
        raise _BadRequest(414, f"query string longer than {MAX_QUERY_CHARS} characters")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="replace",
                          max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise _BadRequest(400, f"more than {MAX_QUERY_FIELDS} query parameters") from None
    query: dict[str, str] = {}
    for name, value in pairs:
        query.setdefault(name, value)
    return query


def render_response(resp: Response, extra: tuple[tuple[str, str], ...], *,
                    head_only: bool) -> bytes:
    """Status line, headers and (unless HEAD) body, ready to send."""
    try:
        reason = HTTPStatus(resp.code).phrase
    except ValueError:
        reason = "Unknown"
    lines = [
        f"HTTP/1.1 {resp.code} {reason}",
        "Server: slo-exporter",
        f"Date: {formatdate(usegmt=True)}",
        f"Content-Type: {resp.content_type}",
        f"Content-Length: {len(resp.body)}",
    ]
    lines += [f"{name}: {value}" for name, value in (*resp.headers, *extra)]
    if resp.close:
        lines.append("Connection: close")
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head_only else out + resp.body


def connection_cap(configured: int, fd_limit: int | None) -> int:
    """Open client connections allowed: the configured cap, at most a quarter of the fd limit."""
    if fd_limit is None:
        return configured
    return max(1, min(configured, fd_limit // 4))


def _fd_soft_limit() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


class BasicAuth:
    """bcrypt checks of ``Authorization: Basic`` with a cache, as exporter-toolkit does.

    bcrypt costs about 100 ms by design, so a verdict is cached under a SHA-256
    of (user, stored hash, password): a scrape with known-good credentials
    costs a hash, a different guess is a different key and gets a full bcrypt
    check, and a changed hash in the web config never matches an old entry.
    Only one bcrypt check runs at a time (a guessing client gets one core at
    most) and only ``waiters`` workers may queue for it; beyond that the answer
    is 503, so guesses cannot starve the workers that serve cached scrapes.
    """

    def __init__(self, *, cache_size: int = 256, waiters: int = 4) -> None:
        self._cache: OrderedDict[bytes, bool] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._bcrypt_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, waiters))
        self._decoys: dict[bytes, bytes] = {}

    def check(self, users: tuple[tuple[str, bytes], ...], authorization: str | None) -> bool | None:
        """True if the credentials match a user; False if not; None if too busy to check."""
        creds = _basic_credentials(authorization)
        if creds is None:
            return False
        user, password = creds
        stored = None
        for name, hashed in users:
            # compare every name, in constant time, so timing does not reveal which exist
            if hmac.compare_digest(name.encode(), user):
                stored = hashed
        known = stored is not None
        hashed = stored if stored is not None else self._decoy(users[0][1])
        key = hashlib.sha256(b"\0".join(
            len(part).to_bytes(4, "big") + part for part in (user, hashed, password))).digest()
        with self._cache_lock:
            verdict = self._cache.get(key)
            if verdict is not None:
                self._cache.move_to_end(key)
        if verdict is None:
            if not self._slots.acquire(blocking=False):
                return None
            try:
                with self._bcrypt_lock:
                    verdict = _bcrypt_matches(password, hashed)
            finally:
                self._slots.release()
            with self._cache_lock:
                self._cache[key] = verdict
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return known and verdict

    def _decoy(self, like: bytes) -> bytes:
        """A hash of the same cost as a real one, checked for unknown users to equalise timing."""
        cost = like[4:6]
        decoy = self._decoys.get(cost)
        if decoy is None:
            decoy = bcrypt.hashpw(os.urandom(16), bcrypt.gensalt(int(cost)))
            self._decoys[cost] = decoy
        return decoy


def _bcrypt_matches(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # bcrypt refuses passwords over 72 bytes
        return False


def _basic_credentials(authorization: str | None) -> tuple[bytes, bytes] | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    return (user, password) if sep else None


class _Conn:
    """One client connection as the I/O thread sees it."""

    __slots__ = ("body_left", "close_after", "config", "deadline", "events", "head",
                 "inbuf", "out", "peer", "phase", "sock", "started")

    def __init__(self, sock: socket.socket, peer: str, config: WebConfig,
                 tls: bool, deadline: float) -> None:
        self.sock = sock
        self.peer = peer
        self.config = config  # the web config at accept time serves the whole connection
        self.phase = "peek" if tls else "read"  # peek, handshake, read, busy, write, closed
        self.started = time.monotonic()
        self.deadline = deadline
        self.inbuf = bytearray()
        self.out = memoryview(b"")
        self.close_after = False
        self.head: Request | None = None
        self.body_left = 0
        self.events = 0


class _WebConfigSource:
    """The current web config and TLS context; re-read when one of its files changes.

    Checked on each new connection (a few stat calls), as exporter-toolkit
    re-reads its file per connection; rotated certificates and changed
    passwords apply without a restart or SIGHUP. A file that turns bad is
    logged once (``web_config_reload_failed``) and the last good config stays.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.config = load_web_config(path) if path else WebConfig()
        self.context = build_ssl_context(self.config) if self.config.tls else None
        self._stamp = self._files_stamp()

    def _files_stamp(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for name in self.config.watched_files:
            try:
                info = os.stat(name)
                stamps.append((info.st_ino, info.st_size, info.st_mtime_ns))
            except OSError:
                stamps.append((0, 0, 0))
        return tuple(stamps)

    def current(self) -> tuple[WebConfig, ssl.SSLContext | None]:
        stamp = self._files_stamp() if self.path else self._stamp
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                config = load_web_config(self.path)
                context = build_ssl_context(config) if config.tls else None
            except ConfigError as exc:
                log.error("web_config_reload_failed", file=self.path,
                          problems=[str(p) for p in exc.problems])
            else:
                self.config, self.context = config, context
                self._stamp = self._files_stamp()  # the new config may watch other files
                log.info("web_config_reloaded", file=self.path, tls=context is not None,
                         users=len(config.users))
        return self.config, self.context


_LISTEN = object()
_WAKE = object()


class WebServer:
    """The HTTP(S) server, bound at construction, served on a daemon thread."""

    def __init__(
        self,
        address: str,
        registry: CollectorRegistry,
        snapshot: Callable[[], Snapshot],
        *,
        pages: Mapping[str, Page | QueryPage] | None = None,
        web_config_file: str = "",
        limits: Limits | None = None,
        snapshot_metrics: SnapshotCollector | None = None,
    ) -> None:
        self.registry = registry
        self.snapshot = snapshot
        #: the snapshot's families, registered on ``registry``, served from their cache
        self.snapshot_metrics = snapshot_metrics
        self.pages = dict(pages or {})
        self.limits = limits or Limits()
        #: the connection cap actually used: never more than a quarter of the fd limit,
        #: so clients cannot take the descriptors the probes and the store need
        self.max_connections = connection_cap(self.limits.max_connections, _fd_soft_limit())
        self._source = _WebConfigSource(web_config_file)
        self._auth = BasicAuth(waiters=max(1, self.limits.workers // 2))
        host, port = parse_listen_address(address)
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        self._listen = socket.socket(family, kind, proto)
        try:
            self._listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._listen.bind(sockaddr)
            self._listen.listen(self.limits.backlog)
            self._listen.setblocking(False)
        except OSError:
            self._listen.close()
            raise
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listen, selectors.EVENT_READ, _LISTEN)
        self._sel.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._conns: dict[int, _Conn] = {}
        self._done: queue.SimpleQueue[tuple[_Conn, bytes, bool]] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="web-worker")
        self._stopping = False
        self._accept_paused_until = 0.0
        self._accept_failed_logged = -10.0
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def port(self) -> int:
        return int(self._listen.getsockname()[1])

    @property
    def tls(self) -> bool:
        return self._source.context is not None

    @property
    def connections(self) -> int:
        """Client connections open right now (for tests and self-checks)."""
        return len(self._conns)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self._closed:
            self._close_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- I/O thread -------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stopping:
                now = time.monotonic()
                if self._accept_paused_until and now >= self._accept_paused_until:
                    self._accept_paused_until = 0.0
                    self._sel.register(self._listen, selectors.EVENT_READ, _LISTEN)
                wakeups = [c.deadline for c in self._conns.values() if c.phase != "busy"]
                wakeups.append(self._accept_paused_until or now + 1.0)
                timeout = min(wakeups) - now
                for key, _ in self._sel.select(max(0.0, timeout)):
                    if key.data is _LISTEN:
                        self._accept()
                    elif key.data is _WAKE:
                        self._finish_responses()
                    else:
                        self._guarded(key.data)
                self._expire(time.monotonic())
        except Exception:
            log.exception("web_server_failed")
            raise
        finally:
            self._close_all()

    def _close_all(self) -> None:
        self._closed = True
        for conn in list(self._conns.values()):
            self._close(conn)
        self._sel.close()
        for sock in (self._listen, self._wake_r, self._wake_w):
            sock.close()

    def _wake(self) -> None:
        # OSError: a wake byte is already pending, or the server is closed
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, addr = self._listen.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: free one and stop accepting briefly, or the
                    # listening socket stays readable and this thread spins.
                    now = time.monotonic()
                    if now - self._accept_failed_logged >= 10.0:  # not a line per attempt
                        self._accept_failed_logged = now
                        log.warning("accept_failed", error=exc.strerror,
                                    connections=len(self._conns))
                    self._evict_oldest()
                    self._sel.unregister(self._listen)
                    self._accept_paused_until = time.monotonic() + 0.1
                return
            if len(self._conns) >= self.max_connections and not self._evict_oldest():
                sock.close()
                continue
            sock.setblocking(False)
            # each answer goes out in one buffer; Nagle would only hold back its tail
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            config, context = self._source.current()
            conn = _Conn(sock, f"{addr[0]}:{addr[1]}", config, context is not None,
                         time.monotonic() + self.limits.request_timeout)
            self._conns[sock.fileno()] = conn
            self._want(conn, selectors.EVENT_READ)

    def _evict_oldest(self) -> bool:
        """Close the oldest connection still sending its request; False if there is none."""
        waiting = [c for c in self._conns.values() if c.phase in ("peek", "handshake", "read")]
        if not waiting:
            return False
        self._close(min(waiting, key=lambda c: c.started))
        return True

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._conns.values() if c.phase != "busy" and c.deadline <= now]:
            self._close(conn)

    def _want(self, conn: _Conn, events: int) -> None:
        if events == conn.events:
            return
        if conn.events and events:
            self._sel.modify(conn.sock, events, conn)
        elif events:
            self._sel.register(conn.sock, events, conn)
        else:
            self._sel.unregister(conn.sock)
        conn.events = events

    def _close(self, conn: _Conn) -> None:
        if conn.phase == "closed":
            return
        self._want(conn, 0)
        self._conns.pop(conn.sock.fileno(), None)
        conn.phase = "closed"
        conn.sock.close()

    def _guarded(self, conn: _Conn) -> None:
        """A bug met on one connection closes that connection, not the server."""
        try:
            self._on_ready(conn)
        except Exception as exc:
            log.error("connection_failed", peer=conn.peer, error=repr(exc), exc_info=exc)
            self._close(conn)

    def _on_ready(self, conn: _Conn) -> None:
        try:
            if conn.phase == "peek":
                self._peek(conn)
            if conn.phase == "handshake":
                self._handshake(conn)
            if conn.phase == "read":
                self._read(conn)
            elif conn.phase == "write":
                self._write(conn)
        except ssl.SSLWantReadError:
            self._want(conn, selectors.EVENT_READ)
        except ssl.SSLWantWriteError:
            self._want(conn, selectors.EVENT_WRITE)
        except (ssl.SSLError, OSError) as exc:
            if conn.phase == "handshake":
                log.debug("tls_handshake_failed", peer=conn.peer, error=str(exc))
            self._close(conn)

    def _peek(self, conn: _Conn) -> None:
        first = conn.sock.recv(1, socket.MSG_PEEK)
        if not first:
            self._close(conn)
            return
        if first != b"\x16":  # not a TLS handshake record: a plain HTTP client, most likely
            self._queue_write(conn, render_response(Response(
                400, TEXT, b"Client sent an HTTP request to an HTTPS server.\n", close=True),
                conn.config.headers, head_only=False), close=True)
            return
        context = self._source.context
        if context is None:
            self._close(conn)
            return
        self._want(conn, 0)
        del self._conns[conn.sock.fileno()]
        conn.sock = context.wrap_socket(conn.sock, server_side=True,
                                        do_handshake_on_connect=False)
        self._conns[conn.sock.fileno()] = conn
        conn.phase = "handshake"
        self._want(conn, selectors.EVENT_READ)

    def _handshake(self, conn: _Conn) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        conn.sock.do_handshake()
        conn.phase = "read"
        self._want(conn, selectors.EVENT_READ)

    def _read(self, conn: _Conn) -> None:
        limit = self.limits.max_head_bytes + self.limits.max_body_bytes
        while len(conn.inbuf) <= limit:
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError):
                break
            if not data:
                self._close(conn)
                return
            conn.inbuf += data
        self._want(conn, selectors.EVENT_READ)
        self._parse(conn)

    def _parse(self, conn: _Conn) -> None:
        if conn.head is None:
            end = conn.inbuf.find(b"\r\n\r\n")
            if end < 0:
                if len(conn.inbuf) > self.limits.max_head_bytes:
                    self._refuse(conn, 431, "request head too large")
                return
            if end > self.limits.max_head_bytes:
                self._refuse(conn, 431, "request head too large")
                return
            try:
                head = parse_head(bytes(conn.inbuf[:end]), self.limits)
            except _BadRequest as exc:
                self._refuse(conn, exc.code, str(exc))
                return
            del conn.inbuf[:end + 4]
            if "transfer-encoding" in head.headers:
                self._refuse(conn, 411, "request bodies must have a Content-Length")
                return
            length = head.headers.get("content-length", "0")
            if not length.isdigit() or len(length) > 12:
                self._refuse(conn, 400, "bad Content-Length")
                return
            if int(length) > self.limits.max_body_bytes:
                self._refuse(conn, 413, "request body too large")
                return
            conn.head, conn.body_left = head, int(length)
        if len(conn.inbuf) < conn.body_left:
            return
        del conn.inbuf[:conn.body_left]
        request, conn.head, conn.body_left = conn.head, None, 0
        conn.phase = "busy"
        self._want(conn, 0)
        self._pool.submit(self._work, conn, request)

    def _refuse(self, conn: _Conn, code: int, message: str) -> None:
        body = f"{message}\n".encode()
        data = render_response(Response(code, TEXT, body, close=True), conn.config.headers,
                               head_only=False)
        self._queue_write(conn, data, close=True)

    def _queue_write(self, conn: _Conn, data: bytes, *, close: bool) -> None:
        conn.out = memoryview(data)
        conn.close_after = close
        conn.phase = "write"
        conn.deadline = time.monotonic() + self.limits.request_timeout
        self._want(conn, selectors.EVENT_WRITE)
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        while conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except (BlockingIOError, ssl.SSLWantWriteError):
                return
            conn.out = conn.out[sent:]
        if conn.close_after:
            self._close(conn)
            return
        conn.phase = "read"
        conn.started = time.monotonic()
        conn.deadline = conn.started + self.limits.request_timeout
        self._want(conn, selectors.EVENT_READ)
        if conn.inbuf:  # a pipelined request is already here
            self._parse(conn)

    def _finish_responses(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                conn, data, close = self._done.get_nowait()
            except queue.Empty:
                return
            if conn.phase != "closed":
                try:
                    self._queue_write(conn, data, close=close)
                except (ssl.SSLError, OSError):
                    self._close(conn)

    # --- workers ----------------------------------------------------------------------------

    def _work(self, conn: _Conn, request: Request) -> None:
        head_only = request.method == "HEAD"
        try:
            resp = self._respond(request, conn.config)
        except Exception as exc:  # a bug here must still answer, and must not kill the worker
            log.error("request_failed", path=request.path, error=repr(exc), exc_info=exc)
            resp = Response(500, TEXT, b"internal server error\n", close=True)
        close = resp.close or not request.keep_alive
        if close and not resp.close:
            resp = Response(resp.code, resp.content_type, resp.body, resp.headers, close=True)
        self._done.put((conn, render_response(resp, conn.config.headers, head_only=head_only),
                        close))
        self._wake()

    def _respond(self, request: Request, config: WebConfig) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, TEXT, b"method not allowed\n", (("Allow", "GET, HEAD"),),
                            close=True)
        if config.users:
            verdict = self._auth.check(config.users, request.headers.get("authorization"))
            if verdict is None:
                return Response(503, TEXT, b"too many credential checks; retry\n",
                                (("Retry-After", "1"),))
            if not verdict:
                return Response(401, TEXT, b"Unauthorized\n", (("WWW-Authenticate", "Basic"),))
        return self._route(request)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/-/healthy":
            return Response(200, TEXT, b"slo-exporter is healthy.\n")
        if path == "/-/ready":
            snap = self.snapshot()
            if snap.complete:  # stays ready: a later backfill (a gap) never flaps it
                return Response(200, TEXT, b"slo-exporter is ready.\n")
            doing = ("first evaluation still running" if snap.backfill is None else
                     f"backfilling: {snap.backfill.slos_done} of "
                     f"{snap.backfill.slos_total} SLOs")
            return Response(503, TEXT, f"slo-exporter is not ready: {doing}.\n".encode())
        if path == "/metrics" and self.snapshot_metrics is not None:
            return self._cached_metrics(request, self.snapshot_metrics)
        page = self._metrics if path == "/metrics" else self.pages.get(path)
        if page is None:
            return Response(404, TEXT, b"not found\n")
        try:
            content_type, body = (page.render(request.query) if isinstance(page, QueryPage)
                                  else page())
        except SelectionError as exc:  # a query parameter the page cannot serve
            return Response(400, TEXT, f"bad query parameter: {exc}\n".encode())
        except Exception as exc:
            log.error("render_failed", path=path, error=repr(exc), exc_info=exc)
            return Response(500, TEXT, b"internal server error: the page failed to render\n")
        return self._compressed(request, content_type, body)

    def _metrics(self) -> tuple[str, bytes]:
        return CONTENT_TYPE_LATEST, generate_latest(self.registry)

    def _cached_metrics(self, request: Request, cached: SnapshotCollector) -> Response:
        """The snapshot's families as rendered once per snapshot, then the rest of the
        registry (``render_families``: generate_latest's text, faster; a collector
        that keeps its own text, like the probe metrics, hands it over as it is).

        Gzip: the snapshot's part is its own gzip member, compressed once per
        snapshot, and the rest another; a gzip stream may hold several
        members (RFC 1952), and Prometheus, curl and browsers read them all.
        """
        zipped = "gzip" in request.headers.get("accept-encoding", "")
        try:
            head = cached.exposition(gzipped=zipped)
            with cached.skipped(), rendering_text():
                rest = render_families(self.registry.collect())
        except Exception as exc:
            log.error("render_failed", path=request.path, error=repr(exc), exc_info=exc)
            return Response(500, TEXT, b"internal server error: the page failed to render\n")
        if zipped:
            return Response(200, CONTENT_TYPE_LATEST,
                            head + gzip.compress(rest, compresslevel=METRICS_GZIP_LEVEL),
                            (("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")))
        return Response(200, CONTENT_TYPE_LATEST, head + rest, (("Vary", "Accept-Encoding"),))

    @staticmethod
    def _compressed(request: Request, content_type: str, body: bytes) -> Response:
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(200, content_type, gzip.compress(body, compresslevel=5),
                            (("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")))
        return Response(200, content_type, body, (("Vary", "Accept-Encoding"),))


def json_page(render: Callable[[], Any]) -> Page:
    def page() -> tuple[str, bytes]:
        return "application/json", json.dumps(render(), indent=2).encode()
    return page


def json_query_page(render: Callable[[Query], Any]) -> QueryPage:
    """A JSON page of the query parameters; ``render`` returns JSON-ready data or
    ``Encoded`` (text already encoded)."""
    def page(query: Query) -> tuple[str, bytes]:
        doc = render(query)
        text = doc.text if isinstance(doc, Encoded) else json.dumps(doc, indent=2)
        return "application/json", text.encode()
    return QueryPage(page)


@dataclass(frozen=True)
class Encoded:
    """A JSON document its renderer already encoded (from parts it keeps encoded)."""

    text: str


def html_page(render: Callable[[], str]) -> Page:
    def page() -> tuple[str, bytes]:
        return "text/html; charset=utf-8", render().encode()
    return page


@dataclass(frozen=True)
class QueryPage:
    """A page whose answer depends on the request's query parameters (``?sort=burn``)."""

    render: Callable[[Query], tuple[str, bytes]]


def html_query_page(render: Callable[[Query], str]) -> QueryPage:
    def page(query: Query) -> tuple[str, bytes]:
        return "text/html; charset=utf-8", render(query).encode()
    return QueryPage(page)
