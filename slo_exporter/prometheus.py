"""Client for the Prometheus HTTP API (also Thanos, Mimir and Cortex).

Owns the wire: ``/api/v1/query`` and ``/api/v1/query_range`` as POST forms,
headers and credentials, TLS (including ``server_name``), proxies from the
environment (read once), retries with exponential backoff, decoding of the
JSON answer, and mapping every failure to one of the typed ``QueryError``
subclasses in ``errors.py``, with text from the server scrubbed of
credentials.

Every answer is bounded. ``prometheus.timeout`` is a deadline over connect,
send, every byte received and decode: each socket operation blocks at most
the time left (in slices, so a set ``stop`` event is noticed within about
``_STOP_POLL`` seconds), so a server dripping bytes cannot stretch it. The
decoded body is refused past ``max_response_size``, counted while
streaming and inflating, so neither a huge answer nor a gzip bomb is ever
held whole. All attempts and backoff waits of one call fit in
``max_total_time``.

It must not know about SLOs, buckets or the event store: callers pass PromQL
and timestamps and get plain series back.

Retries happen on connection errors, timeouts, HTTP 429 and 5xx. A 4xx
answer (``bad_data``, a query that cannot execute), an answer too large and
a cancelled call are raised at once: asking again would not help.

Large query backends speak the same API: a path prefix in the URL
(``http://mimir:8080/prometheus``) is kept in front of ``/api/v1/...``, the
tenant travels as any other configured header (``X-Scope-OrgID``), and every
query carries Thanos' ``partial_response`` parameter. With
``partial_response: false`` (the default) a Thanos querier refuses to answer
without one of its stores, and an answer that still says data is missing
(a warning that is not a PromQL annotation) raises ``QueryPartial``: events
missing from an answer taken as complete would be lost for good, since the
cursor moves past them. Prometheus and Mimir ignore the parameter.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import operator
import os
import re
import selectors
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import requests.utils
import structlog
import urllib3
import urllib3.connection
import urllib3.exceptions

from slo_exporter import errors, model, redact

#: bytes read per step while streaming an answer
_READ_CHUNK = 64 * 1024

#: longest a socket operation blocks before the stop event is checked again
_STOP_POLL = 0.2

#: how much of a non-JSON error body goes into the exception message
_BODY_SNIPPET = 200

#: warnings that annotate a correct answer (Prometheus' and Thanos' PromQL
#: engines: "PromQL info: metric might not be a counter ..."); any other
#: warning (a store that did not answer) says data is missing
_ANNOTATION_PREFIXES = ("PromQL info:", "PromQL warning:")


@dataclass(frozen=True)
class Series:
    """One series of a query answer: its labels and ``(timestamp, value)`` samples."""

    labels: Mapping[str, str]
    samples: tuple[tuple[float, float], ...]
    #: ``label_text(labels)`` when already known (a shared answer's series make it
    #: once, not once per SLO reading them); never part of equality
    text: str | None = field(default=None, compare=False, repr=False)

    def label_text(self) -> str:
        """Canonical ``{a="1",b="2"}`` text: sorted names, Prometheus escaping."""
        return self.text if self.text is not None else label_text(self.labels)


@dataclass(frozen=True)
class QueryResult:
    """A decoded ``status=success`` answer.

    ``series`` holds vector and matrix results (a vector sample is a series
    with one sample); ``scalar`` is set only for scalar results. ``stats`` is
    Prometheus' ``data.stats`` when ``stats=True`` was asked and the server
    supports it.
    """

    result_type: str
    series: tuple[Series, ...]
    scalar: float | None
    stats: Mapping[str, Any] | None
    query: str
    warnings: tuple[str, ...] = field(default=())


def partial_warnings(warnings: tuple[str, ...]) -> tuple[str, ...]:
    """The warnings of an answer that say data is missing: all but PromQL annotations."""
    return tuple(w for w in warnings if not w.lstrip().startswith(_ANNOTATION_PREFIXES))


def label_text(labels: Mapping[str, str]) -> str:
    """Render labels as canonical selector text, the same for equal label sets."""
    parts = [f'{name}="{_escape(value)}"' for name, value in sorted(labels.items())]
    return "{" + ",".join(parts) + "}"


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:  # rare: most values are plain
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


class _Abort(Exception):
    """Raised inside the socket layer when the deadline passed or ``stop`` was set.

    Deliberately no ``OSError``: urllib3 and requests let it through untouched
    (and close the connection on the way), so ``_send`` can tell a deadline
    from a network failure.
    """

    def __init__(self, why: str) -> None:
        self.why = why  # "deadline" or "cancelled"
        super().__init__(why)


class _Guard:
    """The deadline and stop event of the request in flight on one client.

    Every blocking socket operation asks ``wait_slice()`` how long it may
    block: at most the time left and at most ``_STOP_POLL``, so a set
    ``stop`` is noticed within that slice and no single recv outlives the
    deadline.
    """

    def __init__(self, stop: threading.Event, clock: Callable[[], float]) -> None:
        self.stop = stop
        self.clock = clock
        # Per thread: the socket work of a call runs on the caller's thread,
        # so a client shared by mistake still gives each call its own deadline.
        self._local = threading.local()

    @property
    def deadline(self) -> float:
        deadline: float = getattr(self._local, "deadline", math.inf)
        return deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        self._local.deadline = value

    def remaining(self) -> float:
        if self.stop.is_set():
            raise _Abort("cancelled")
        left = self.deadline - self.clock()
        if left <= 0:
            raise _Abort("deadline")
        return left

    def wait_slice(self) -> float:
        return min(self.remaining(), _STOP_POLL)


class _GuardedSocket:
    """A connected socket whose every send and recv obeys the ``_Guard``.

    A timed-out recv is simply retried while time is left: the socket
    timeout is only the polling slice, not a limit on the answer. Anything
    not overridden is delegated to the wrapped socket.
    """

    def __init__(self, sock: socket.socket, guard: _Guard) -> None:
        self._sock = sock
        self._guard = guard

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        while True:
            self._sock.settimeout(self._guard.wait_slice())
            try:
                return self._sock.recv_into(buffer, nbytes, flags)
            except TimeoutError:
                continue

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        while True:
            self._sock.settimeout(self._guard.wait_slice())
            try:
                return self._sock.recv(bufsize, flags)
            except TimeoutError:
                continue

    def sendall(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view:
            self._sock.settimeout(self._guard.wait_slice())
            try:
                sent = self._sock.send(view)
            except TimeoutError:
                continue
            view = view[sent:]

    def makefile(self, mode: str = "r", buffering: int | None = None, **_: Any) -> Any:
        # http.client reads the answer through this file; it must read via
        # our recv_into, not the raw socket's. The file holds a reference on
        # the real socket, as socket.makefile does, so closing the
        # connection while the answer is still read leaves it open.
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(raw, buffering or io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()  # type: ignore[attr-defined]


class _GuardedConnectionMixin:
    """urllib3 connection that connects and reads under the client's ``_Guard``."""

    guard: _Guard
    sock: Any
    _dns_host: str
    port: int
    source_address: tuple[str, int] | None
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise urllib3.exceptions.NameResolutionError(
                self._dns_host, self, exc  # type: ignore[arg-type]
            ) from exc
        failure: OSError | None = None
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                _connect(sock, address, self.guard, self.socket_options, self.source_address)
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        raise urllib3.exceptions.NewConnectionError(
            self, f"Failed to establish a new connection: {failure}"  # type: ignore[arg-type]
        )

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock = _GuardedSocket(self.sock, self.guard)


def _connect(
    sock: socket.socket,
    address: Any,
    guard: _Guard,
    options: Any,
    source: tuple[str, int] | None,
) -> None:
    """Connect without blocking longer than one guard slice at a time."""
    for option in options or ():
        sock.setsockopt(*option)
    if source:
        sock.bind(source)
    sock.setblocking(False)
    err = sock.connect_ex(address)
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
            if selector.select(guard.wait_slice()):
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                break
    if err:
        raise OSError(err, os.strerror(err))
    # The TLS handshake cannot be resumed after a timeout, so it gets all
    # the time left rather than a polling slice.
    sock.settimeout(guard.remaining())


class _GuardedHTTPConnection(_GuardedConnectionMixin, urllib3.connection.HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, urllib3.connection.HTTPSConnection):
    pass


class _GuardedAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose connections obey one ``_Guard``.

    ``server_name`` (``tls.server_name``) replaces the URL's host for SNI and
    for certificate verification.
    """

    def __init__(self, guard: _Guard, server_name: str | None) -> None:
        self._guard = guard
        self._server_name = server_name
        http_conn = type("_Conn", (_GuardedHTTPConnection,), {"guard": guard})
        https_conn = type("_TLSConn", (_GuardedHTTPSConnection,), {"guard": guard})
        self._pool_classes = {
            "http": type("_Pool", (urllib3.HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type(
                "_TLSPool", (urllib3.HTTPSConnectionPool,), {"ConnectionCls": https_conn}
            ),
        }
        super().__init__(pool_connections=1, pool_maxsize=1)

    def _tls_kwargs(self) -> dict[str, Any]:
        return {"server_hostname": self._server_name} if self._server_name else {}

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(
            connections, maxsize, block, **self._tls_kwargs(), **pool_kwargs
        )
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        fresh = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **self._tls_kwargs(), **proxy_kwargs)
        if fresh and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = self._pool_classes
        return manager


class PrometheusClient:
    """Blocking client for one Prometheus-compatible HTTP API.

    One ``requests.Session`` per client, reused across calls; not for use
    by two threads at once (``ClientPool`` hands clients to workers).

    ``stop`` cancels: once set, a request in flight is abandoned within
    about ``_STOP_POLL`` seconds and raises ``QueryCancelled``, and no retry
    or backoff wait follows. ``max_total_time`` bounds one call (all its
    attempts and backoff waits) in seconds; the default, twice the timeout,
    leaves room for one retry. The engine passes a fraction of the
    evaluation interval.

    ``session`` is the HTTP collaborator (tests pass one with a handler
    transport mounted; such a session is used as it is, without the
    deadline-aware transport). ``sleep`` replaces the backoff wait and
    ``clock`` measures deadlines, so tests control both.
    """

    def __init__(
        self,
        cfg: model.PrometheusConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        logger: Any = None,
        stop: threading.Event | None = None,
        max_total_time: float | None = None,
    ) -> None:
        parts = urlsplit(cfg.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"prometheus url {redact.redact_url(cfg.url)!r} must be absolute http(s), "
                "e.g. http://127.0.0.1:9090 or https://mimir.example.com/prometheus"
            )
        if not cfg.timeout > 0:
            raise ValueError(f"prometheus timeout must be > 0 seconds, got {cfg.timeout!r}")
        if cfg.retries < 1:
            raise ValueError(
                f"prometheus retries counts attempts and must be >= 1 (1 = no retry), "
                f"got {cfg.retries!r}"
            )
        if cfg.retry_backoff < 0:
            raise ValueError(f"prometheus retry_backoff must be >= 0, got {cfg.retry_backoff!r}")
        if cfg.basic_auth is not None and cfg.bearer_token_file is not None:
            raise ValueError("set either prometheus basic_auth or bearer_token_file, not both")
        if cfg.tls.key_file and not cfg.tls.cert_file:
            raise ValueError("prometheus tls.key_file needs tls.cert_file as well")
        if not cfg.max_response_size > 0:
            raise ValueError(
                f"prometheus max_response_size must be > 0 bytes, got {cfg.max_response_size!r}"
            )
        if max_total_time is None:
            max_total_time = 2 * cfg.timeout
        if not max_total_time > 0:
            raise ValueError(f"max_total_time must be > 0 seconds, got {max_total_time!r}")
        self._cfg = cfg
        self._base = cfg.url.rstrip("/")
        # Errors and logs show the endpoint without any user:password@ part.
        host = parts.hostname
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        self._public_base = urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")
        self._stop = stop if stop is not None else threading.Event()
        self._clock = clock
        self._sleep = sleep
        self._max_total_time = max_total_time
        self._guard = _Guard(self._stop, clock)
        self._owns_session = session is None
        # trust_env is off on our session, so the CA bundle variables that
        # requests would read per request are read once here.
        self._env_ca_bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or ""
            if session is None else ""
        )
        self._session = session if session is not None else self._new_session()
        self._log = (
            logger if logger is not None else structlog.get_logger("slo_exporter.prometheus")
        )

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        # requests would scan the environment (proxies, CA bundle, netrc) on
        # every request; it is read once here instead.
        session.trust_env = False
        session.proxies.update(requests.utils.get_environ_proxies(self._cfg.url))
        session.headers["Accept-Encoding"] = "gzip"
        adapter = _GuardedAdapter(self._guard, self._cfg.tls.server_name)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    # ------------------------------------------------------------ public API

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        """Evaluate ``promql`` at the instant ``at`` (epoch seconds)."""
        form = {"query": promql, "time": _fmt_time(at)}
        return self._call("/api/v1/query", promql, form, stats=stats)

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult:
        """Evaluate ``promql`` at ``start, start + step, ... <= end``."""
        if not step > 0:
            raise ValueError(f"query_range step must be > 0 seconds, got {step!r}")
        if end < start:
            raise ValueError(f"query_range end {end!r} is before start {start!r}")
        form = {
            "query": promql,
            "start": _fmt_time(start),
            "end": _fmt_time(end),
            "step": _fmt_seconds(step),
        }
        return self._call("/api/v1/query_range", promql, form, stats=stats)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        """The stored samples of ``selector`` with ``start < ts <= end``, unaltered.

        One instant query of ``selector[<range>ms]`` at ``end``. Prometheus 2.x
        range selectors include the left edge and 3.x excludes it, so the
        left edge is filtered here to give the same answer on both.
        """
        start_ms = round(start * 1000)
        end_ms = round(end * 1000)
        if end_ms <= start_ms:
            return []
        promql = f"{selector}[{end_ms - start_ms}ms]"
        result = self.query(promql, end_ms / 1000)
        if result.result_type != "matrix":
            raise errors.QueryDecodeError(
                f"a range selector answered {result.result_type!r}, expected 'matrix'",
                query=promql,
                endpoint=self._public_base + "/api/v1/query",
            )
        out: list[Series] = []
        for series in result.series:
            kept = series.samples
            times = [ts for ts, _ in kept]
            # the usual answer lies wholly inside: two comparisons instead of one per sample
            if times and not (start_ms < round(min(times) * 1000)
                              and round(max(times) * 1000) <= end_ms):
                kept = tuple(s for s in kept if start_ms < round(s[0] * 1000) <= end_ms)
            if kept:  # nothing left out: the decoded series as it is
                out.append(series if kept is series.samples else Series(series.labels, kept))
        return out

    def healthy(self) -> bool:
        """True when ``/-/healthy`` answers 200 within the timeout; never raises."""
        self._guard.deadline = self._clock() + self._cfg.timeout
        try:
            resp = self._session.get(
                self._base + "/-/healthy",
                headers=self._headers(""),
                auth=self._auth(""),
                timeout=self._cfg.timeout,
                stream=True,
                **self._tls(),
            )
            resp.close()
        except (requests.RequestException, errors.QueryError, _Abort):
            return False
        finally:
            self._guard.deadline = math.inf
        return resp.status_code == 200

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    # --------------------------------------------------------------- request

    def _call(self, path: str, promql: str, form: dict[str, str], *, stats: bool) -> QueryResult:
        endpoint = self._public_base + path
        call_deadline = self._clock() + self._max_total_time
        if stats:
            form["stats"] = "all"
        form["partial_response"] = "true" if self._cfg.partial_response else "false"
        attempts = self._cfg.retries
        for attempt in range(attempts):
            self._check_stop(promql, endpoint)
            now = self._clock()
            allowed = max(min(self._cfg.timeout, call_deadline - now), 0.001)
            deadline = now + allowed
            # Let the server give up first, with an answer that says why.
            sent = {**form, "timeout": _fmt_seconds(round(allowed, 3))}
            try:
                status, body = self._send(self._base + path, promql, endpoint, sent, deadline)
                if 200 <= status < 300:
                    return self._decode_in_time(body, promql, endpoint, deadline)
                failure = _error_for(status, body, promql, endpoint)
                if not (status == 429 or status >= 500):
                    raise failure
            except (errors.QueryTimeout, errors.QueryConnectionError) as exc:
                failure = exc
            if attempt + 1 >= attempts:
                raise failure
            delay = self._cfg.retry_backoff * 2**attempt
            if self._clock() + delay >= call_deadline:
                # No time left for another attempt within this call's budget.
                raise failure
            self._log.debug(
                "query_retry",
                endpoint=endpoint,
                attempt=attempt + 1,
                attempts=attempts,
                reason=failure.reason,
                delay=delay,
                error=str(failure),
            )
            if self._sleep is not None:
                self._sleep(delay)
            else:
                self._stop.wait(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _decode_in_time(
        self, body: bytearray, promql: str, endpoint: str, deadline: float
    ) -> QueryResult:
        # Decoding cannot be interrupted; max_response_size bounds its cost,
        # and an answer that was not decoded in time is not used.
        result = _decode(body, promql, endpoint)
        if self._clock() > deadline:
            raise errors.QueryTimeout(
                f"answer from {endpoint} not decoded within {self._cfg.timeout:g}s",
                query=promql,
                endpoint=endpoint,
            )
        missing = partial_warnings(result.warnings)
        if missing:
            if not self._cfg.partial_response:
                raise errors.QueryPartial(
                    f"partial answer from {endpoint} refused (partial_response is false): "
                    + "; ".join(w[:_BODY_SNIPPET] for w in missing[:3]),
                    query=promql,
                    endpoint=endpoint,
                    warnings=missing,
                )
            self._log.warning(
                "query_partial_accepted", endpoint=endpoint, query=promql,
                warnings=[w[:_BODY_SNIPPET] for w in missing[:3]],
            )
        return result

    def _check_stop(self, promql: str, endpoint: str) -> None:
        if self._stop.is_set():
            raise errors.QueryCancelled(
                f"query to {endpoint} cancelled: shutting down", query=promql, endpoint=endpoint
            )

    def _send(
        self, url: str, promql: str, endpoint: str, form: dict[str, str], deadline: float
    ) -> tuple[int, bytearray]:
        allowed = deadline - self._clock()
        self._guard.deadline = deadline
        try:
            return self._exchange(url, promql, endpoint, form, deadline)
        except _Abort as exc:
            if exc.why == "cancelled":
                raise errors.QueryCancelled(
                    f"query to {endpoint} cancelled: shutting down",
                    query=promql,
                    endpoint=endpoint,
                ) from None
            raise errors.QueryTimeout(
                f"no complete answer from {endpoint} within {round(allowed, 2):g}s",
                query=promql,
                endpoint=endpoint,
            ) from None
        finally:
            self._guard.deadline = math.inf

    def _exchange(
        self, url: str, promql: str, endpoint: str, form: dict[str, str], deadline: float
    ) -> tuple[int, bytearray]:
        allowed = deadline - self._clock()
        try:
            resp = self._session.post(
                url,
                data=form,
                headers=self._headers(promql),
                auth=self._auth(promql),
                timeout=allowed,
                stream=True,
                **self._tls(),
            )
        except requests.Timeout as exc:
            raise errors.QueryTimeout(
                f"no answer from {endpoint} within {round(allowed, 2):g}s: {_clean(exc)}",
                query=promql,
                endpoint=endpoint,
            ) from None
        except requests.RequestException as exc:
            raise errors.QueryConnectionError(
                f"cannot reach {endpoint}: {_clean(exc)}", query=promql, endpoint=endpoint
            ) from None
        with resp:
            try:
                body = self._read(resp, deadline, promql, endpoint)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if _is_read_timeout(exc):
                    raise errors.QueryTimeout(
                        f"answer from {endpoint} stalled for more than {round(allowed, 2):g}s",
                        query=promql,
                        endpoint=endpoint,
                    ) from None
                raise errors.QueryConnectionError(
                    f"connection to {endpoint} dropped while reading the answer: {_clean(exc)}",
                    query=promql,
                    endpoint=endpoint,
                ) from None
        return resp.status_code, body

    def _read(
        self, resp: requests.Response, deadline: float, promql: str, endpoint: str
    ) -> bytearray:
        """The decoded body, refused past ``max_response_size`` decoded bytes.

        Compressed answers are inflated here, bounded while streaming, so a
        gzip bomb costs at most the limit in memory, never its inflated size.
        """
        limit = self._cfg.max_response_size

        def too_large(what: str) -> errors.QueryTooLarge:
            return errors.QueryTooLarge(
                f"answer from {endpoint} is larger than max_response_size "
                f"{limit} bytes ({what})",
                query=promql,
                endpoint=endpoint,
                limit=limit,
            )

        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        inflate: Any = None
        if encoding in ("gzip", "x-gzip"):
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            inflate = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise errors.QueryDecodeError(
                f"answer from {endpoint} uses unsupported Content-Encoding "
                f"{redact.scrub(encoding[:40])!r}",
                query=promql,
                endpoint=endpoint,
            )
        else:
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise too_large(f"Content-Length {declared}")
        body = bytearray()
        for chunk in _raw_chunks(resp):
            if inflate is None:
                body += chunk
            else:
                try:
                    body += inflate.decompress(chunk, limit - len(body) + 1)
                except zlib.error as exc:
                    raise errors.QueryDecodeError(
                        f"answer from {endpoint} is not valid {encoding}: {exc}",
                        query=promql,
                        endpoint=endpoint,
                    ) from None
                if inflate.unconsumed_tail:
                    raise too_large(f"{encoding} inflates beyond it")
            if len(body) > limit:
                raise too_large("body")
            if self._clock() > deadline:
                raise _Abort("deadline")
        return body

    def _headers(self, promql: str) -> dict[str, str]:
        headers = dict(self._cfg.headers)
        token_file = self._cfg.bearer_token_file
        if token_file is not None:
            # Read on every request so a rotated token is picked up.
            headers["Authorization"] = (
                f"Bearer {_read_secret(token_file, 'bearer_token_file', promql)}"
            )
        return headers

    def _auth(self, promql: str) -> tuple[str, str] | None:
        basic = self._cfg.basic_auth
        if basic is None:
            return None
        password = basic.password or ""
        if basic.password_file is not None:
            password = _read_secret(basic.password_file, "basic_auth.password_file", promql)
        return (basic.username, password)

    def _tls(self) -> dict[str, Any]:
        tls = self._cfg.tls
        verify: bool | str = True
        if tls.insecure_skip_verify:
            verify = False
        elif tls.ca_file:
            verify = tls.ca_file
        elif self._env_ca_bundle:
            verify = self._env_ca_bundle
        cert: tuple[str, str] | str | None = None
        if tls.cert_file:
            cert = (tls.cert_file, tls.key_file) if tls.key_file else tls.cert_file
        return {"verify": verify, "cert": cert}


def _raw_chunks(resp: requests.Response) -> Iterator[bytes]:
    """The body as sent, still compressed: inflating is ``_read``'s job."""
    raw = resp.raw
    stream = getattr(raw, "stream", None)
    if stream is not None:
        yield from stream(_READ_CHUNK, decode_content=False)
        return
    while chunk := raw.read(_READ_CHUNK):
        yield chunk


class ClientPool:
    """``PrometheusClient``s shared by the evaluation workers.

    A call borrows an idle client (or makes one) and gives it back, so each
    client serves one thread at a time and its session, with its open
    connections, is reused across cycles however often the worker threads
    change. The interface is the client's query methods plus ``close``.
    """

    def __init__(
        self,
        cfg: model.PrometheusConfig,
        *,
        stop: threading.Event | None = None,
        max_total_time: float | None = None,
    ) -> None:
        self._cfg = cfg
        self._stop = stop
        self._max_total_time = max_total_time
        self._idle: list[PrometheusClient] = []
        self._lock = threading.Lock()
        # Fail at construction on settings that cannot work.
        self._idle.append(self._make())

    def _make(self) -> PrometheusClient:
        return PrometheusClient(self._cfg, stop=self._stop, max_total_time=self._max_total_time)

    @contextlib.contextmanager
    def _lease(self) -> Iterator[PrometheusClient]:
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._make()
        try:
            yield client
        finally:
            with self._lock:
                self._idle.append(client)

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        with self._lease() as client:
            return client.query(promql, at, stats=stats)

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult:
        with self._lease() as client:
            return client.query_range(promql, start, end, step, stats=stats)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        with self._lease() as client:
            return client.raw_samples(selector, start, end)

    def healthy(self) -> bool:
        with self._lease() as client:
            return client.healthy()

    def close(self) -> None:
        """Close every idle client's session."""
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()


#: the name the daemon has used for the pool
ThreadLocalClient = ClientPool


# ---------------------------------------------------------------- decoding


def _decode(body: bytes | bytearray, promql: str, endpoint: str) -> QueryResult:
    def bad(why: str) -> errors.QueryDecodeError:
        return errors.QueryDecodeError(
            f"unexpected answer from {endpoint}: {why}", query=promql, endpoint=endpoint
        )

    try:
        payload = json.loads(body)
    except ValueError:
        raise bad(f"not JSON: {_snippet(body)!r}") from None
    if not isinstance(payload, dict):
        raise bad("top level is not an object")
    if payload.get("status") != "success":
        if payload.get("status") == "error":
            raise _api_error(payload, 200, promql, endpoint)
        raise bad(f"status is {redact.scrub(str(payload.get('status'))[:_BODY_SNIPPET])!r}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise bad("'data' is not an object")
    result_type = data.get("resultType")
    result = data.get("result")
    stats = data.get("stats")
    warnings = payload.get("warnings") or []
    if not isinstance(warnings, list):
        raise bad("'warnings' is not a list")
    series: list[Series] = []
    scalar: float | None = None
    try:
        if result_type == "vector":
            for item in _as_list(result):
                series.append(Series(_labels(item), (_sample(item["value"]),)))
        elif result_type == "matrix":
            for item in _as_list(result):
                # Native histogram samples ("histograms") carry no float value
                # and are not counters; only float samples are read.
                values = item.get("values") or []
                series.append(Series(_labels(item), _samples(_as_list(values))))
        elif result_type == "scalar":
            scalar = _sample(result)[1]
        elif result_type == "string":
            pass
        else:
            raise bad(f"unknown resultType {redact.scrub(str(result_type)[:_BODY_SNIPPET])!r}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        why = redact.scrub(str(exc)[:_BODY_SNIPPET])
        raise bad(f"malformed {result_type} result ({exc.__class__.__name__}: {why})") from None
    return QueryResult(
        result_type=str(result_type),
        series=tuple(series),
        scalar=scalar,
        stats=stats if isinstance(stats, dict) else None,
        query=promql,
        warnings=tuple(redact.scrub(str(w)) for w in warnings),
    )


def _as_list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _labels(item: Any) -> Mapping[str, str]:
    metric = item.get("metric", {})
    if not isinstance(metric, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metric.items()
    ):
        raise TypeError("'metric' is not a map of strings")
    return model.frozen_map(metric)


def _samples(pairs: list[Any]) -> tuple[tuple[float, float], ...]:
    """``_sample`` of every pair, a whole series at a time when every pair is plainly
    well formed (a backfill decodes millions); otherwise pair by pair, which says
    what is wrong. A short series (a steady read's one or two samples per series)
    goes pair by pair anyway: the whole-series checks cost more than they save."""
    if len(pairs) < _WHOLE_SERIES_FROM:
        return tuple(map(_sample, pairs))
    try:
        if set(map(type, pairs)) <= {list} and set(map(len, pairs)) <= {2}:
            times = list(map(_FIRST, pairs))
            texts = list(map(_SECOND, pairs))
            if (set(map(type, times)) <= {int, float} and set(map(type, texts)) <= {str}
                    and math.isfinite(sum(times)) and "_" not in "".join(texts)):
                return tuple(zip(map(float, times), map(float, texts), strict=True))
    except ValueError:  # a text float() refuses: the pair by pair path says which
        pass
    return tuple(_sample(v) for v in pairs)


#: the length from which a series is decoded a whole series at a time (measured:
#: 2.3 us against 0.8 us pair by pair for one sample, even at ten)
_WHOLE_SERIES_FROM = 10
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


def _sample(pair: Any) -> tuple[float, float]:
    """``[1700000000.123, "0.5"]`` -> floats; ``"NaN"``, ``"+Inf"``, ``"-Inf"`` included."""
    ts, text = _as_list(pair)
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise TypeError(f"timestamp {ts!r} is not a number")
    if not isinstance(text, str) or "_" in text:
        # float() would take Python's 1_000 spelling, which Prometheus never sends.
        raise ValueError(f"sample value {text!r} is not a Prometheus float string")
    return float(ts), float(text)


def _error_for(
    status: int, body: bytes | bytearray, promql: str, endpoint: str
) -> errors.QueryError:
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload.get("status") == "error":
        return _api_error(payload, status, promql, endpoint)
    return errors.QueryHTTPError(
        f"HTTP {status} from {endpoint}: {_snippet(body)!r}",
        query=promql,
        endpoint=endpoint,
        status=status,
    )


def _api_error(
    payload: Mapping[str, Any], status: int, promql: str, endpoint: str
) -> errors.QueryError:
    error_type = redact.scrub(str(payload.get("errorType", ""))[:_BODY_SNIPPET])
    detail = redact.scrub(str(payload.get("error", "")))
    message = f"Prometheus answered {error_type or 'error'} (HTTP {status}): {detail}"
    if error_type == "timeout":
        # The server's own query timeout: same meaning as no answer in time.
        return errors.QueryTimeout(message, query=promql, endpoint=endpoint)
    return errors.QueryAPIError(message, query=promql, endpoint=endpoint, error_type=error_type)


def _is_read_timeout(exc: BaseException) -> bool:
    # requests re-raises a read timeout while streaming as ConnectionError
    # wrapping urllib3's ReadTimeoutError.
    if isinstance(exc, requests.Timeout | urllib3.exceptions.ReadTimeoutError):
        return True
    return any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args)


def _read_secret(path: str, what: str, promql: str) -> str:
    try:
        return redact.read_secret_file(path)  # read per use, so rotation works
    except OSError as exc:
        raise errors.QueryError(
            f"cannot read prometheus {what} {path!r}: {exc.strerror}", query=promql
        ) from exc


def _snippet(body: bytes | bytearray) -> str:
    """The start of a body for an error message, credentials scrubbed."""
    text = redact.scrub(bytes(body[:_BODY_SNIPPET]).decode("utf-8", "replace"))
    return text + ("..." if len(body) > _BODY_SNIPPET else "")


def _clean(exc: BaseException) -> str:
    """An exception's text for an error message: credentials scrubbed, bounded.

    Transport errors wrap the operating system's reason three levels deep
    (requests -> urllib3 pool -> connection -> socket error); the reason is
    what an operator needs ("Connection refused"), not the wrappers' reprs.
    """
    text = str(exc)
    root = _os_reason(exc)
    if root is None:  # the wrappers kept only the text: "... [Errno 111] Connection refused"
        match = _ERRNO_TEXT.search(text)
        root = match.group(1).strip() if match else None
    return redact.scrub(root if root is not None else text)[:300]


_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\"()\[\]]+)")


def _os_reason(exc: BaseException) -> str | None:
    """The ``strerror`` of the innermost operating-system error behind ``exc``, if any."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    found: str | None = None
    while todo and len(seen) < 32:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            found = current.strerror  # keep going: a deeper one is more precise
        todo += [a for a in current.args if isinstance(a, BaseException)]
        for attr in ("reason", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)
    return found


def _fmt_time(ts: float) -> str:
    """Epoch seconds with millisecond precision, the resolution Prometheus stores."""
    return f"{ts:.3f}"


def _fmt_seconds(seconds: float) -> str:
    """A duration as plain seconds; Prometheus parses ``"10"`` and ``"0.5"``."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".")
