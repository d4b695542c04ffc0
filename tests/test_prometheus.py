"""Specification of the Prometheus HTTP API client.

Most tests drive a real ``PrometheusClient`` and a real ``requests.Session``
through ``HandlerAdapter``, a transport that hands each prepared request to a
plain function (the idea of httpx's ``MockTransport``). The last group runs
real HTTP servers on 127.0.0.1 for what only a socket can show: a server
that never answers, a refused connection, a trickled or cut-off answer.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import requests.adapters
import structlog.testing
from requests.structures import CaseInsensitiveDict

from slo_exporter import errors, model
from slo_exporter.prometheus import PrometheusClient, Series, label_text

URL = "http://prom.test:9090"

Reply = tuple[int, Any] | Exception
Handler = Callable[[requests.PreparedRequest], Reply]


@dataclass
class Sent:
    """One request as the transport saw it."""

    request: requests.PreparedRequest
    timeout: Any
    verify: Any
    cert: Any

    @property
    def form(self) -> dict[str, str]:
        body = self.request.body
        text = body.decode() if isinstance(body, bytes) else str(body or "")
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


class HandlerAdapter(requests.adapters.BaseAdapter):
    """A requests transport that answers with ``handler(request)``.

    The handler returns ``(status, body)`` where a dict/list body is sent as
    JSON and bytes as they are, or returns an exception to raise as the
    transport would (e.g. ``requests.ConnectionError``).
    """

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.sent: list[Sent] = []

    def send(  # noqa: PLR0917 - requests' BaseAdapter.send signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        self.sent.append(Sent(request, timeout, verify, cert))
        reply = self.handler(request)
        if isinstance(reply, Exception):
            raise reply
        status, body = reply
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = requests.Response()
        resp.status_code = status
        resp.raw = io.BytesIO(raw)
        resp.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        resp.url = request.url or ""
        resp.request = request
        return resp

    def close(self) -> None:
        pass


@dataclass
class Rig:
    """A client wired to a handler, with the sleeps it asked for."""

    client: PrometheusClient
    adapter: HandlerAdapter
    sleeps: list[float] = field(default_factory=list)


def rig(handler: Handler, **cfg: Any) -> Rig:
    adapter = HandlerAdapter(handler)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    sleeps: list[float] = []
    config = model.PrometheusConfig(**{"url": URL, **cfg})
    client = PrometheusClient(config, session=session, sleep=sleeps.append)
    return Rig(client, adapter, sleeps)


def success(result_type: str, result: Any, **extra: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result, **extra}}


def api_error(error_type: str, error: str) -> dict[str, Any]:
    return {"status": "error", "errorType": error_type, "error": error}


def always(reply: Reply) -> Handler:
    return lambda _request: reply


def in_turn(*replies: Reply) -> Handler:
    queue = list(replies)
    return lambda _request: queue.pop(0)


EMPTY_VECTOR = success("vector", [])


# ------------------------------------------------------------------ requests


def test_query_posts_a_form_with_time_in_milliseconds_and_a_server_timeout() -> None:
    """query() POSTs query, time (ms precision) and the timeout to /api/v1/query."""
    r = rig(always((200, EMPTY_VECTOR)), timeout=7.5)
    r.client.query('up{job="a"}', 1700000000.1234)
    (sent,) = r.adapter.sent
    assert sent.request.method == "POST"
    assert sent.request.url == URL + "/api/v1/query"
    assert sent.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {"query": 'up{job="a"}', "time": "1700000000.123", "timeout": "7.5"}
    assert sent.timeout == pytest.approx(7.5, abs=0.05)


def test_query_range_posts_start_end_and_step() -> None:
    """query_range() POSTs start, end and step (in seconds) to /api/v1/query_range."""
    r = rig(always((200, success("matrix", []))))
    r.client.query_range("sum(x)", 600.0, 1200.0, 60.0)
    (sent,) = r.adapter.sent
    assert sent.request.url == URL + "/api/v1/query_range"
    assert sent.form == {
        "query": "sum(x)",
        "start": "600.000",
        "end": "1200.000",
        "step": "60",
        "timeout": "10",
    }


def test_url_path_prefix_is_kept_for_mimir_style_endpoints() -> None:
    """A base URL with a path (Mimir's /prometheus) is prefixed to the API path."""
    r = rig(always((200, EMPTY_VECTOR)), url="https://mimir.test/prometheus/")
    r.client.query("up", 1.0)
    assert r.adapter.sent[0].request.url == "https://mimir.test/prometheus/api/v1/query"


def test_query_range_rejects_a_non_positive_step_before_sending() -> None:
    """A zero step or an end before start is refused without a request."""
    r = rig(always((200, success("matrix", []))))
    with pytest.raises(ValueError, match="step must be > 0"):
        r.client.query_range("x", 0.0, 60.0, 0.0)
    with pytest.raises(ValueError, match="before start"):
        r.client.query_range("x", 60.0, 0.0, 15.0)
    assert r.adapter.sent == []


def test_stats_asks_for_all_and_exposes_them() -> None:
    """stats=True sends stats=all and returns the data.stats object."""
    stats = {"samples": {"totalQueryableSamples": 42}}
    r = rig(always((200, success("vector", [], stats=stats))))
    result = r.client.query("x", 1.0, stats=True)
    assert r.adapter.sent[0].form["stats"] == "all"
    assert result.stats == stats


def test_stats_are_not_asked_for_by_default() -> None:
    """Without stats=True no stats parameter is sent and stats is None."""
    r = rig(always((200, EMPTY_VECTOR)))
    assert r.client.query("x", 1.0).stats is None
    assert "stats" not in r.adapter.sent[0].form


# ----------------------------------------------------------------- decoding


def test_vector_result_becomes_single_sample_series() -> None:
    """A vector answer gives one Series per element, labels sorted, one sample each."""
    result = [{"metric": {"job": "a", "__name__": "up"}, "value": [1700000000.5, "1"]}]
    r = rig(always((200, success("vector", result))))
    answer = r.client.query("up", 1700000000.5)
    assert answer.result_type == "vector"
    assert answer.query == "up"
    assert answer.series == (Series({"__name__": "up", "job": "a"}, ((1700000000.5, 1.0),)),)
    assert list(answer.series[0].labels) == ["__name__", "job"]


def test_matrix_result_keeps_all_samples_in_order() -> None:
    """A matrix answer keeps every (ts, value) of every series."""
    result = [{"metric": {"a": "1"}, "values": [[10, "1"], [25, "2.5"]]}]
    r = rig(always((200, success("matrix", result))))
    (series,) = r.client.query_range("x", 10, 25, 15).series
    assert series.samples == ((10.0, 1.0), (25.0, 2.5))


def test_special_float_strings_are_parsed() -> None:
    """'NaN', '+Inf' and '-Inf' sample values decode to floats instead of failing."""
    values = [[1, "NaN"], [2, "+Inf"], [3, "-Inf"], [4, "1e3"]]
    r = rig(always((200, success("matrix", [{"metric": {}, "values": values}]))))
    samples = r.client.query("x[4s]", 4).series[0].samples
    assert samples[0][1] != samples[0][1]  # NaN
    assert [v for _, v in samples[1:]] == [float("inf"), float("-inf"), 1000.0]


def test_scalar_result_sets_scalar() -> None:
    """A scalar answer fills .scalar and leaves .series empty."""
    r = rig(always((200, success("scalar", [5, "+Inf"]))))
    answer = r.client.query("1/0", 5)
    assert answer.scalar == float("inf")
    assert answer.series == ()


def test_warnings_are_surfaced() -> None:
    """Prometheus warnings (e.g. partial responses) are returned with the result."""
    r = rig(always((200, {**EMPTY_VECTOR, "warnings": ["store down"]})))
    assert r.client.query("x", 1).warnings == ("store down",)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>proxy</html>", "not JSON"),
        ({"status": "success"}, "'data' is not an object"),
        (success("vector", [{"metric": {}, "value": [1, 2]}]), "malformed vector"),
        (success("vector", [{"metric": {}, "value": [1, "1_000"]}]), "malformed vector"),
        (success("matrix", [{"metric": {"a": 1}, "values": []}]), "malformed matrix"),
        (success("matrix", {"oops": 1}), "malformed matrix"),
        (success("vector", [{"metric": {}, "value": ["x", "1"]}]), "malformed vector"),
        (success("histogram", []), "unknown resultType 'histogram'"),
        ({"status": "weird"}, "status is 'weird'"),
    ],
)
def test_unexpected_success_bodies_raise_decode_errors(body: Any, why: str) -> None:
    """A 200 answer that is not the documented JSON shape raises QueryDecodeError."""
    r = rig(always((200, body)))
    with pytest.raises(errors.QueryDecodeError, match=why) as info:
        r.client.query("x", 1)
    assert info.value.query == "x"
    assert info.value.endpoint == URL + "/api/v1/query"
    assert len(r.adapter.sent) == 1, "a malformed answer is not retried"


# -------------------------------------------------------------- raw samples


def test_raw_samples_queries_a_millisecond_range_at_the_end() -> None:
    """raw_samples() evaluates selector[<end-start>ms] at end."""
    r = rig(always((200, success("matrix", []))))
    assert r.client.raw_samples('x{a="b"}', 1000.0, 1090.5) == []
    assert r.adapter.sent[0].form["query"] == 'x{a="b"}[90500ms]'
    assert r.adapter.sent[0].form["time"] == "1090.500"


def test_raw_samples_excludes_the_left_edge_like_prometheus_3() -> None:
    """A sample exactly at start (returned by Prometheus 2.x) is dropped; end is kept."""
    values = [[1000, "1"], [1000.001, "2"], [1090, "3"]]
    result = [
        {"metric": {"a": "1"}, "values": values},
        {"metric": {"a": "2"}, "values": [[1000, "7"]]},
    ]
    r = rig(always((200, success("matrix", result))))
    (series,) = r.client.raw_samples("x", 1000.0, 1090.0)
    assert series.labels == {"a": "1"}
    assert series.samples == ((1000.001, 2.0), (1090.0, 3.0))


def test_raw_samples_of_an_empty_span_sends_nothing() -> None:
    """An empty or inverted span returns [] without a request."""
    r = rig(always((200, success("matrix", []))))
    assert r.client.raw_samples("x", 10.0, 10.0) == []
    assert r.client.raw_samples("x", 10.0, 5.0) == []
    assert r.adapter.sent == []


def test_raw_samples_rejects_a_non_matrix_answer() -> None:
    """A selector that is not a plain series selector answers no matrix: decode error."""
    r = rig(always((200, success("scalar", [1, "1"]))))
    with pytest.raises(errors.QueryDecodeError, match="expected 'matrix'") as info:
        r.client.raw_samples("x", 0.0, 60.0)
    assert info.value.query == "x[60000ms]"


def test_label_text_is_canonical_and_escaped() -> None:
    """label_text sorts names and escapes backslash, quote and newline."""
    assert label_text({"b": 'say "hi"\n', "a": "c:\\"}) == '{a="c:\\\\",b="say \\"hi\\"\\n"}'
    assert label_text({}) == "{}"


# ----------------------------------------------------- headers and credentials


def test_extra_headers_are_sent_for_tenancy() -> None:
    """Configured headers (Mimir/Cortex X-Scope-OrgID) are on every request."""
    r = rig(always((200, EMPTY_VECTOR)), headers=model.frozen_map({"X-Scope-OrgID": "team-a"}))
    r.client.query("x", 1)
    r.client.query_range("x", 1, 2, 1)
    assert [s.request.headers["X-Scope-OrgID"] for s in r.adapter.sent] == ["team-a"] * 2


def test_basic_auth_with_password() -> None:
    """basic_auth sends an Authorization: Basic header."""
    r = rig(always((200, EMPTY_VECTOR)), basic_auth=model.BasicAuth("alice", password="s3cret"))
    r.client.query("x", 1)
    assert r.adapter.sent[0].request.headers["Authorization"] == "Basic YWxpY2U6czNjcmV0"


def test_basic_auth_password_file_is_read_at_request_time(tmp_path: Path) -> None:
    """password_file is read per request, trailing newline stripped."""
    secret = tmp_path / "pw"
    secret.write_text("one\n")
    auth = model.BasicAuth("alice", password_file=str(secret))
    r = rig(always((200, EMPTY_VECTOR)), basic_auth=auth)
    r.client.query("x", 1)
    secret.write_text("two\n")
    r.client.query("x", 1)
    headers = [s.request.headers["Authorization"] for s in r.adapter.sent]
    assert headers == ["Basic YWxpY2U6b25l", "Basic YWxpY2U6dHdv"]


def test_bearer_token_file_is_reread_so_rotation_works(tmp_path: Path) -> None:
    """The bearer token file is read on every request, so a rotated token is used."""
    token = tmp_path / "token"
    token.write_text("first\n")
    r = rig(always((200, EMPTY_VECTOR)), bearer_token_file=str(token))
    r.client.query("x", 1)
    token.write_text("second")
    r.client.query("x", 1)
    headers = [s.request.headers["Authorization"] for s in r.adapter.sent]
    assert headers == ["Bearer first", "Bearer second"]


def test_missing_token_file_is_a_query_error_naming_the_file(tmp_path: Path) -> None:
    """An unreadable token file fails the query with the path, without a request."""
    missing = tmp_path / "gone"
    r = rig(always((200, EMPTY_VECTOR)), bearer_token_file=str(missing))
    with pytest.raises(errors.QueryError, match="bearer_token_file") as info:
        r.client.query("up", 1)
    assert str(missing) in str(info.value)
    assert info.value.query == "up"
    assert r.adapter.sent == []


def test_tls_ca_file_and_client_certificate_are_used() -> None:
    """tls.ca_file becomes the verify bundle and cert/key the client certificate."""
    tls = model.TLSConfig(ca_file="/etc/ca.pem", cert_file="/etc/c.pem", key_file="/etc/k.pem")
    r = rig(always((200, EMPTY_VECTOR)), url="https://prom.test", tls=tls)
    r.client.query("x", 1)
    assert r.adapter.sent[0].verify == "/etc/ca.pem"
    assert r.adapter.sent[0].cert == ("/etc/c.pem", "/etc/k.pem")


def test_insecure_skip_verify_disables_verification() -> None:
    """tls.insecure_skip_verify turns certificate verification off."""
    tls = model.TLSConfig(insecure_skip_verify=True, ca_file="/etc/ca.pem")
    r = rig(always((200, EMPTY_VECTOR)), url="https://prom.test", tls=tls)
    r.client.query("x", 1)
    assert r.adapter.sent[0].verify is False


def test_default_tls_verifies_with_system_roots() -> None:
    """Without TLS settings certificates are verified and no client cert is sent."""
    r = rig(always((200, EMPTY_VECTOR)), url="https://prom.test")
    r.client.query("x", 1)
    # requests may swap True for a bundle path from REQUESTS_CA_BUNDLE
    assert r.adapter.sent[0].verify not in (False, None)
    assert r.adapter.sent[0].cert is None


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"url": "prom:9090"}, "must be absolute http"),
        ({"url": "ftp://prom"}, "must be absolute http"),
        ({"timeout": 0.0}, "timeout must be > 0"),
        ({"retries": 0}, "retries counts attempts"),
        ({"retry_backoff": -1.0}, "retry_backoff must be >= 0"),
        (
            {"basic_auth": model.BasicAuth("a", "b"), "bearer_token_file": "/t"},
            "either prometheus basic_auth or bearer_token_file",
        ),
        ({"tls": model.TLSConfig(key_file="/k")}, "key_file needs tls.cert_file"),
        ({"max_response_size": 0}, "max_response_size must be > 0"),
    ],
)
def test_constructor_rejects_bad_settings(cfg: Mapping[str, Any], message: str) -> None:
    """Settings that cannot work fail when the client is built, not at first query."""
    with pytest.raises(ValueError, match=message):
        PrometheusClient(model.PrometheusConfig(**cfg))


# --------------------------------------------------------- errors and retries


def test_5xx_is_retried_with_exponential_backoff_then_raised() -> None:
    """A persistent 503 is tried cfg.retries times, sleeping backoff*2**n between."""
    r = rig(always((503, b"upstream unavailable")), retries=4, retry_backoff=0.25)
    with pytest.raises(errors.QueryHTTPError) as info:
        r.client.query("up", 1)
    assert len(r.adapter.sent) == 4
    assert r.sleeps == [0.25, 0.5, 1.0]
    assert info.value.status == 503
    assert info.value.endpoint == URL + "/api/v1/query"
    assert info.value.query == "up"
    assert "HTTP 503" in str(info.value)
    assert "upstream unavailable" in str(info.value)


def test_429_then_success_returns_the_answer() -> None:
    """A rate-limited answer is retried and a later success is returned."""
    r = rig(in_turn((429, b"slow down"), (200, success("scalar", [1, "3"]))))
    assert r.client.query("x", 1).scalar == 3.0
    assert r.sleeps == [0.5]


def test_bad_data_is_not_retried() -> None:
    """A 400 bad_data error is raised at once as QueryAPIError with its type."""
    r = rig(always((400, api_error("bad_data", 'parse error: unexpected "}"'))))
    with pytest.raises(errors.QueryAPIError) as info:
        r.client.query("x{", 1)
    assert info.value.error_type == "bad_data"
    assert str(info.value) == (
        'Prometheus answered bad_data (HTTP 400): parse error: unexpected "}" (query: x{)'
    )
    assert len(r.adapter.sent) == 1
    assert r.sleeps == []


def test_execution_error_422_is_not_retried() -> None:
    """A 422 execution error (e.g. too many samples) is not retried."""
    r = rig(always((422, api_error("execution", "query processing would load too many samples"))))
    with pytest.raises(errors.QueryAPIError, match="too many samples"):
        r.client.query("x", 1)
    assert len(r.adapter.sent) == 1


def test_plain_4xx_without_api_body_is_http_error_not_retried() -> None:
    """A 401 from a proxy is a QueryHTTPError carrying the status, not retried."""
    r = rig(always((401, b"unauthorized")))
    with pytest.raises(errors.QueryHTTPError) as info:
        r.client.query("x", 1)
    assert info.value.status == 401
    assert len(r.adapter.sent) == 1


def test_server_side_timeout_is_a_query_timeout_and_retried() -> None:
    """errorType=timeout (HTTP 503) maps to QueryTimeout after the retries."""
    r = rig(always((503, api_error("timeout", "query timed out in expression evaluation"))))
    with pytest.raises(errors.QueryTimeout, match="query timed out") as info:
        r.client.query("x", 1)
    assert info.value.reason == "timeout"
    assert len(r.adapter.sent) == 3


def test_api_error_in_a_200_answer_is_raised() -> None:
    """status=error is an error even when the HTTP status says 200."""
    r = rig(always((200, api_error("internal", "boom"))))
    with pytest.raises(errors.QueryAPIError, match="boom"):
        r.client.query("x", 1)


def test_transport_connection_errors_are_retried_then_typed() -> None:
    """A connection error from the transport is retried, then raised as QueryConnectionError."""
    r = rig(always(requests.ConnectionError("connection reset by peer")))
    with pytest.raises(errors.QueryConnectionError, match="connection reset by peer"):
        r.client.query("x", 1)
    assert len(r.adapter.sent) == 3
    assert r.sleeps == [0.5, 1.0]


def test_single_attempt_means_no_retry() -> None:
    """retries=1 sends exactly one request and never sleeps."""
    r = rig(always((500, b"")), retries=1)
    with pytest.raises(errors.QueryHTTPError):
        r.client.query("x", 1)
    assert len(r.adapter.sent) == 1
    assert r.sleeps == []


def test_retries_are_logged_as_query_retry_events() -> None:
    """Each retry logs a query_retry event with attempt, reason and delay."""
    r = rig(in_turn((502, b""), (200, EMPTY_VECTOR)))
    with structlog.testing.capture_logs() as logs:
        r.client.query("x", 1)
    (event,) = [e for e in logs if e["event"] == "query_retry"]
    assert event["attempt"] == 1
    assert event["reason"] == "http"
    assert event["delay"] == 0.5
    assert event["endpoint"] == URL + "/api/v1/query"


def test_credentials_in_the_url_do_not_leak_into_errors() -> None:
    """user:password@ in the URL is used but not shown in the error's endpoint."""
    r = rig(always((500, b"")), url="http://bob:pw@prom.test:9090", retries=1)
    with pytest.raises(errors.QueryHTTPError) as info:
        r.client.query("x", 1)
    assert info.value.endpoint == "http://prom.test:9090/api/v1/query"
    assert "pw" not in str(info.value)


# ----------------------------------------------------- real loopback servers


@contextlib.contextmanager
def serve(handler_cls: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Run an HTTP server on a free 127.0.0.1 port; yield its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def real_client(url: str, **cfg: Any) -> tuple[PrometheusClient, list[float]]:
    sleeps: list[float] = []
    config = replace(model.PrometheusConfig(url=url), **cfg)
    return PrometheusClient(config, sleep=sleeps.append), sleeps


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_real_server_receives_form_headers_and_bearer_token(tmp_path: Path) -> None:
    """Over a real socket the form body, tenancy header and token arrive as sent."""
    seen: list[tuple[dict[str, str], dict[str, list[str]]]] = []

    class Handler(_Quiet):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            seen.append((dict(self.headers), parse_qs(self.rfile.read(length).decode())))
            body = json.dumps(success("scalar", [1, "2"])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    token = tmp_path / "token"
    token.write_text("tok\n")
    with serve(Handler) as url:
        client, _ = real_client(
            url,
            headers=model.frozen_map({"X-Scope-OrgID": "t1"}),
            bearer_token_file=str(token),
        )
        assert client.query("vector(2)", 10).scalar == 2.0
    ((headers, form),) = seen
    assert headers["X-Scope-OrgID"] == "t1"
    assert headers["Authorization"] == "Bearer tok"
    assert form == {"query": ["vector(2)"], "time": ["10.000"], "timeout": ["10"]}


def test_server_that_never_answers_times_out_within_bounds() -> None:
    """A server that accepts and never answers gives QueryTimeout after each attempt's timeout."""
    release = threading.Event()
    arrived: list[float] = []

    class Hang(_Quiet):
        def do_POST(self) -> None:
            arrived.append(time.monotonic())
            release.wait(timeout=10)

    with serve(Hang) as url:
        client, sleeps = real_client(url, timeout=0.3, retries=2, retry_backoff=0.01)
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryTimeout, match=r"within 0\.3s") as info:
                client.query("up", 1)
        finally:
            release.set()
        elapsed = time.monotonic() - started
    assert len(arrived) == 2
    assert sleeps == [0.01]
    assert 0.55 < elapsed < 2.0
    assert info.value.endpoint == url + "/api/v1/query"


def test_connection_refused_is_retried_then_raised() -> None:
    """A closed port gives QueryConnectionError after every attempt, with backoff sleeps."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client, sleeps = real_client(f"http://127.0.0.1:{port}", retries=3, retry_backoff=0.1)
    with pytest.raises(errors.QueryConnectionError, match="cannot reach") as info:
        client.query("up", 1)
    assert sleeps == [0.1, 0.2]
    assert info.value.reason == "connection"
    assert info.value.query == "up"
    assert not client.healthy()


def test_trickled_answer_hits_the_overall_deadline() -> None:
    """A server trickling a chunked body slower than the timeout allows gives QueryTimeout."""
    stop = threading.Event()

    class Trickle(_Quiet):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(200):  # bounded: 200 * 0.05 s at most
                    if stop.is_set():
                        return
                    self.wfile.write(b"1\r\n \r\n")
                    self.wfile.flush()
                    time.sleep(0.05)

    with serve(Trickle) as url:
        client, _ = real_client(url, timeout=0.4, retries=1)
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryTimeout, match=r"no complete answer .* within 0\.4s"):
                client.query("up", 1)
        finally:
            stop.set()
        assert time.monotonic() - started < 2.0


def test_answer_cut_off_mid_body_is_a_connection_error() -> None:
    """A connection closed before Content-Length bytes arrived is QueryConnectionError."""

    class Cut(_Quiet):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"status":')

    with serve(Cut) as url:
        client, sleeps = real_client(url, retries=2, retry_backoff=0.0)
        with pytest.raises(errors.QueryConnectionError, match="dropped while reading"):
            client.query("up", 1)
    assert sleeps == [0.0]


def test_healthy_reflects_the_health_endpoint() -> None:
    """healthy() is True on a 200 from /-/healthy."""

    class Health(_Quiet):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/-/healthy" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serve(Health) as url:
        client, _ = real_client(url)
        assert client.healthy()
