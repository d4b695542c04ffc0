"""One Alertmanager's v2 API: ``POST /api/v2/alerts``, bounded in time and bytes.

Owns the wire to one Alertmanager: the URL (``AlertmanagerURL``: user info
becomes basic auth and never reaches text; ``display`` is the URL without
it), one HTTP/1.1 request per post on a fresh connection, and the answer.

Every post is bounded. ``timeout`` is a deadline over connect, send and
every byte received: each socket operation blocks at most the time left, in
slices short enough to notice a set ``stop`` event, so a server that drips
bytes or never answers cannot stretch it. At most ``MAX_ANSWER`` bytes of
the answer are read: only its status line matters.

Must not retry, queue or log: ``notifier`` decides what to do with a
``PostError``.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from slo_exporter.redact import remember, scrub

#: bytes of an answer read at most (status line, headers, an error text)
MAX_ANSWER = 4096
#: longest one socket operation blocks before ``stop`` is checked again
STOP_POLL = 0.2
#: the API path, below the URL's own path (``--web.route-prefix``)
ALERTS_PATH = "/api/v2/alerts"


class PostError(Exception):
    """A post that did not get a 2xx answer.

    ``reason`` is one of ``timeout``, ``connection``, ``http``, ``answer``
    (unreadable or too long before its status line) or ``cancelled``;
    ``retryable`` says whether asking again may help (not for a 4xx or a
    cancelled post).
    """

    def __init__(self, reason: str, message: str, *, retryable: bool,
                 status: int | None = None) -> None:
        super().__init__(scrub(message))
        self.reason = reason
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class AlertmanagerURL:
    """A parsed ``--alertmanager.url``; ``display`` never holds credentials."""

    scheme: str
    host: str
    port: int
    path: str
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, text: str) -> AlertmanagerURL:
        """Parse ``http(s)://[user:password@]host[:port][/prefix]``; ``ValueError`` says why not."""
        text = text.strip()
        if not text.isascii() or any(c.isspace() or ord(c) < 32 for c in text):
            raise ValueError("must be ASCII without spaces (percent-encode it; punycode "
                             "for host names)")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a URL: {scrub(str(exc))}") from None
        if parts.scheme not in ("http", "https"):
            raise ValueError("must start with http:// or https://, e.g. http://alertmanager:9093")
        if not parts.hostname:
            raise ValueError("names no host, e.g. http://alertmanager:9093")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        password = unquote(parts.password) if parts.password is not None else None
        remember(password)
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port or (443 if parts.scheme == "https" else 80),
            path=parts.path.rstrip("/"),
            username=unquote(parts.username) if parts.username is not None else None,
            password=password,
        )

    @property
    def display(self) -> str:
        """The URL without user info: safe for logs and metric labels."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    def __repr__(self) -> str:
        return f"AlertmanagerURL({self.display!r})"


class AlertmanagerClient:
    """Posts alert batches to one Alertmanager; see the module docstring for bounds."""

    def __init__(self, url: AlertmanagerURL, *, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 tls: ssl.SSLContext | None = None) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.url = url
        self.timeout = timeout
        self._clock = clock
        self._tls = tls
        if url.scheme == "https" and tls is None:
            self._tls = ssl.create_default_context()

    def post(self, body: bytes, stop: threading.Event | None = None) -> int:
        """Post a JSON list of alerts; the 2xx status, or ``PostError``."""
        stop = stop or threading.Event()
        deadline = self._clock() + self.timeout
        sock = self._connect(deadline, stop)
        try:
            _send(sock, self._request(body), deadline, stop, self._clock)
            answer = _receive(sock, deadline, stop, self._clock)
        finally:
            sock.close()
        status = _status(answer)
        if 200 <= status < 300:
            return status
        text = answer.partition(b"\r\n\r\n")[2][:200].decode("utf-8", "replace").strip()
        raise PostError("http", f"HTTP {status}: {text}" if text else f"HTTP {status}",
                        retryable=status == 429 or status >= 500, status=status)

    def _request(self, body: bytes) -> bytes:
        url = self.url
        default = (url.scheme, url.port) in (("http", 80), ("https", 443))
        host = url.host if ":" not in url.host else f"[{url.host}]"
        lines = [
            f"POST {url.path}{ALERTS_PATH} HTTP/1.1",
            f"Host: {host}" + ("" if default else f":{url.port}"),
            "User-Agent: slo-exporter",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        if url.username is not None:
            token = f"{url.username}:{url.password or ''}".encode()
            lines.append("Authorization: Basic " + base64.b64encode(token).decode("ascii"))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def _connect(self, deadline: float, stop: threading.Event) -> socket.socket:
        remaining = _left(deadline, stop, self._clock)
        try:
            sock = socket.create_connection((self.url.host, self.url.port), timeout=remaining)
        except TimeoutError:
            raise PostError("timeout", f"connect timed out after {self.timeout:g}s",
                            retryable=True) from None
        except OSError as exc:
            raise PostError("connection", f"connect failed: {exc.strerror or exc}",
                            retryable=True) from None
        if self._tls is None:
            return sock
        try:
            sock.settimeout(_left(deadline, stop, self._clock))
            return self._tls.wrap_socket(sock, server_hostname=self.url.host)
        except TimeoutError:
            sock.close()
            raise PostError("timeout", "TLS handshake timed out", retryable=True) from None
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise PostError("connection", f"TLS handshake failed: {exc}",
                            retryable=True) from None


def _left(deadline: float, stop: threading.Event, clock: Callable[[], float]) -> float:
    """Seconds left before ``deadline``; ``PostError`` when none are or ``stop`` is set."""
    if stop.is_set():
        raise PostError("cancelled", "stopped", retryable=False)
    remaining = deadline - clock()
    if remaining <= 0:
        raise PostError("timeout", "no answer within the timeout", retryable=True)
    return remaining


def _send(sock: socket.socket, data: bytes, deadline: float, stop: threading.Event,
          clock: Callable[[], float]) -> None:
    view = memoryview(data)
    while view:
        sock.settimeout(min(_left(deadline, stop, clock), STOP_POLL))
        try:
            sent = sock.send(view)
        except TimeoutError:
            continue
        except OSError as exc:
            raise PostError("connection", f"send failed: {exc.strerror or exc}",
                            retryable=True) from None
        view = view[sent:]


def _receive(sock: socket.socket, deadline: float, stop: threading.Event,
             clock: Callable[[], float]) -> bytes:
    """The answer, at most ``MAX_ANSWER`` bytes: until the server closes or the
    body is complete; once the headers are in, a deadline ends it without error."""
    answer = bytearray()
    while len(answer) < MAX_ANSWER and not _complete(answer):
        try:
            remaining = _left(deadline, stop, clock)
        except PostError as exc:
            if exc.reason == "timeout" and b"\r\n\r\n" in answer:
                break  # the status is in; a slow body adds nothing
            raise
        sock.settimeout(min(remaining, STOP_POLL))
        try:
            chunk = sock.recv(MAX_ANSWER - len(answer))
        except TimeoutError:
            continue
        except OSError as exc:
            raise PostError("connection", f"receive failed: {exc.strerror or exc}",
                            retryable=True) from None
        if not chunk:
            break
        answer += chunk
    if not answer:
        raise PostError("connection", "closed without an answer", retryable=True)
    return bytes(answer)


def _complete(answer: bytearray) -> bool:
    """Whether the headers and a body of the announced length are in."""
    head, sep, body = bytes(answer).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def _status(answer: bytes) -> int:
    line = answer.split(b"\r\n", 1)[0]
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise PostError("answer", "not an HTTP answer", retryable=True)
    return int(parts[1])
