"""Client for the Prometheus HTTP API (also Thanos, Mimir and Cortex).

Owns the wire: ``/api/v1/query`` and ``/api/v1/query_range`` as POST forms,
headers and credentials, TLS, a bounded timeout per request, retries with
exponential backoff, decoding of the JSON answer, and mapping every failure
to one of the typed ``QueryError`` subclasses in ``errors.py``.

It must not know about SLOs, buckets or the event store: callers pass PromQL
and timestamps and get plain series back.

Retries happen on connection errors, timeouts, HTTP 429 and 5xx. A 4xx
answer (``bad_data``, a query that cannot execute) is the caller's mistake
and is raised at once: asking again would give the same answer.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import structlog
import urllib3.exceptions

from slo_exporter import errors, model

#: bytes read per step while streaming an answer; the overall deadline is
#: checked between steps
_READ_CHUNK = 64 * 1024

#: how much of a non-JSON error body goes into the exception message
_BODY_SNIPPET = 200


@dataclass(frozen=True)
class Series:
    """One series of a query answer: its labels and ``(timestamp, value)`` samples."""

    labels: Mapping[str, str]
    samples: tuple[tuple[float, float], ...]

    def label_text(self) -> str:
        """Canonical ``{a="1",b="2"}`` text: sorted names, Prometheus escaping."""
        return label_text(self.labels)


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


def label_text(labels: Mapping[str, str]) -> str:
    """Render labels as canonical selector text, the same for equal label sets."""
    parts = [f'{name}="{_escape(value)}"' for name, value in sorted(labels.items())]
    return "{" + ",".join(parts) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class PrometheusClient:
    """Blocking client for one Prometheus-compatible HTTP API.

    ``session`` is the HTTP collaborator (tests pass one with a handler
    transport mounted); ``sleep`` waits between retries and ``clock`` measures
    the overall deadline of one answer, so tests control both.
    """

    def __init__(
        self,
        cfg: model.PrometheusConfig,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        logger: Any = None,
    ) -> None:
        parts = urlsplit(cfg.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"prometheus url {cfg.url!r} must be absolute http(s), "
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
        if cfg.tls.server_name:
            # requests offers no per-request SNI override; silently ignoring
            # the setting would verify against the wrong name.
            raise ValueError(
                "prometheus tls.server_name is not supported; point url at the name "
                "the certificate is issued for"
            )
        self._cfg = cfg
        self._base = cfg.url.rstrip("/")
        # Errors and logs show the endpoint without any user:password@ part.
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self._public_base = urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/")
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._sleep = sleep
        self._clock = clock
        self._log = (
            logger if logger is not None else structlog.get_logger("slo_exporter.prometheus")
        )

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
            kept = tuple(s for s in series.samples if start_ms < round(s[0] * 1000) <= end_ms)
            if kept:
                out.append(Series(series.labels, kept))
        return out

    def healthy(self) -> bool:
        """True when ``/-/healthy`` answers 200 within the timeout; never raises."""
        try:
            resp = self._session.get(
                self._base + "/-/healthy",
                headers=self._headers(""),
                auth=self._auth(""),
                timeout=self._cfg.timeout,
                **self._tls(),
            )
            resp.close()
        except (requests.RequestException, errors.QueryError):
            return False
        return resp.status_code == 200

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    # --------------------------------------------------------------- request

    def _call(self, path: str, promql: str, form: dict[str, str], *, stats: bool) -> QueryResult:
        endpoint = self._public_base + path
        # Let the server give up first, with an answer that says why.
        form = {**form, "timeout": _fmt_seconds(self._cfg.timeout)}
        if stats:
            form["stats"] = "all"
        attempts = self._cfg.retries
        for attempt in range(attempts):
            try:
                status, body = self._send(self._base + path, promql, endpoint, form)
            except (errors.QueryTimeout, errors.QueryConnectionError) as exc:
                failure: errors.QueryError = exc
            else:
                if 200 <= status < 300:
                    return _decode(body, promql, endpoint)
                failure = _error_for(status, body, promql, endpoint)
                if not (status == 429 or status >= 500):
                    raise failure
            if attempt + 1 >= attempts:
                raise failure
            delay = self._cfg.retry_backoff * 2**attempt
            self._log.debug(
                "query_retry",
                endpoint=endpoint,
                attempt=attempt + 1,
                attempts=attempts,
                reason=failure.reason,
                delay=delay,
                error=str(failure),
            )
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def _send(
        self, url: str, promql: str, endpoint: str, form: dict[str, str]
    ) -> tuple[int, bytes]:
        timeout = self._cfg.timeout
        deadline = self._clock() + timeout
        try:
            resp = self._session.post(
                url,
                data=form,
                headers=self._headers(promql),
                auth=self._auth(promql),
                timeout=timeout,
                stream=True,
                **self._tls(),
            )
        except requests.Timeout as exc:
            raise errors.QueryTimeout(
                f"no answer from {endpoint} within {timeout:g}s: {exc}",
                query=promql,
                endpoint=endpoint,
            ) from exc
        except requests.RequestException as exc:
            raise errors.QueryConnectionError(
                f"cannot reach {endpoint}: {exc}", query=promql, endpoint=endpoint
            ) from exc
        with resp:
            try:
                body = b"".join(self._read(resp, deadline, promql, endpoint))
            except requests.RequestException as exc:
                if _is_read_timeout(exc):
                    raise errors.QueryTimeout(
                        f"answer from {endpoint} stalled for more than {timeout:g}s",
                        query=promql,
                        endpoint=endpoint,
                    ) from exc
                raise errors.QueryConnectionError(
                    f"connection to {endpoint} dropped while reading the answer: {exc}",
                    query=promql,
                    endpoint=endpoint,
                ) from exc
        return resp.status_code, body

    def _read(
        self, resp: requests.Response, deadline: float, promql: str, endpoint: str
    ) -> Iterator[bytes]:
        # The socket timeout bounds each wait; this bounds the whole answer,
        # so a server trickling bytes cannot hold a cycle forever.
        for chunk in resp.iter_content(chunk_size=_READ_CHUNK):
            yield chunk
            if self._clock() > deadline:
                raise errors.QueryTimeout(
                    f"answer from {endpoint} not complete within {self._cfg.timeout:g}s",
                    query=promql,
                    endpoint=endpoint,
                )

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
        cert: tuple[str, str] | str | None = None
        if tls.cert_file:
            cert = (tls.cert_file, tls.key_file) if tls.key_file else tls.cert_file
        return {"verify": verify, "cert": cert}


# ---------------------------------------------------------------- decoding


def _decode(body: bytes, promql: str, endpoint: str) -> QueryResult:
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
        raise bad(f"status is {payload.get('status')!r}")
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
                series.append(Series(_labels(item), tuple(_sample(v) for v in _as_list(values))))
        elif result_type == "scalar":
            scalar = _sample(result)[1]
        elif result_type == "string":
            pass
        else:
            raise bad(f"unknown resultType {result_type!r}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad(f"malformed {result_type} result ({exc.__class__.__name__}: {exc})") from None
    return QueryResult(
        result_type=str(result_type),
        series=tuple(series),
        scalar=scalar,
        stats=stats if isinstance(stats, dict) else None,
        query=promql,
        warnings=tuple(str(w) for w in warnings),
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


def _sample(pair: Any) -> tuple[float, float]:
    """``[1700000000.123, "0.5"]`` -> floats; ``"NaN"``, ``"+Inf"``, ``"-Inf"`` included."""
    ts, text = _as_list(pair)
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
        raise TypeError(f"timestamp {ts!r} is not a number")
    if not isinstance(text, str) or "_" in text:
        # float() would take Python's 1_000 spelling, which Prometheus never sends.
        raise ValueError(f"sample value {text!r} is not a Prometheus float string")
    return float(ts), float(text)


def _error_for(status: int, body: bytes, promql: str, endpoint: str) -> errors.QueryError:
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
    error_type = str(payload.get("errorType", ""))
    detail = payload.get("error", "")
    message = f"Prometheus answered {error_type or 'error'} (HTTP {status}): {detail}"
    if error_type == "timeout":
        # The server's own query timeout: same meaning as no answer in time.
        return errors.QueryTimeout(message, query=promql, endpoint=endpoint)
    return errors.QueryAPIError(message, query=promql, endpoint=endpoint, error_type=error_type)


def _is_read_timeout(exc: BaseException) -> bool:
    # requests re-raises a read timeout while streaming as ConnectionError
    # wrapping urllib3's ReadTimeoutError.
    if isinstance(exc, requests.Timeout):
        return True
    return any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in exc.args)


def _read_secret(path: str, what: str, promql: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError as exc:
        raise errors.QueryError(
            f"cannot read prometheus {what} {path!r}: {exc.strerror}", query=promql
        ) from exc


def _snippet(body: bytes) -> str:
    text = body[:_BODY_SNIPPET].decode("utf-8", "replace")
    return text + ("..." if len(body) > _BODY_SNIPPET else "")


def _fmt_time(ts: float) -> str:
    """Epoch seconds with millisecond precision, the resolution Prometheus stores."""
    return f"{ts:.3f}"


def _fmt_seconds(seconds: float) -> str:
    """A duration as plain seconds; Prometheus parses ``"10"`` and ``"0.5"``."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".")
