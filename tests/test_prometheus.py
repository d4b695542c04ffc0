"""Specification of the Prometheus HTTP API client.

Most tests drive a real ``PrometheusClient`` and a real ``requests.Session``
through ``HandlerAdapter``, a transport that hands each prepared request to a
plain function (the idea of httpx's ``MockTransport``). The last group runs
real HTTP servers on 127.0.0.1 for what only a socket can show: a server
that never answers, a refused connection, a trickled or cut-off answer.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import io
import json
import os
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import requests.adapters
import structlog.testing
import urllib3
from requests.structures import CaseInsensitiveDict

from slo_exporter import errors, model
from slo_exporter.prometheus import ClientPool, PrometheusClient, Series, label_text
from tests.support.probe_servers import PKI, Request, Response, TCPServer, http_app, make_pki

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
        self.headers: dict[str, str] = {}

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
        headers = {"Content-Type": "application/json", **self.headers}
        resp = requests.Response()
        resp.status_code = status
        resp.raw = urllib3.HTTPResponse(
            body=io.BytesIO(raw), headers=headers, status=status, preload_content=False
        )
        resp.headers = CaseInsensitiveDict(headers)
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
    """query() POSTs query, time (ms precision), the timeout and partial_response=false
    to /api/v1/query."""
    r = rig(always((200, EMPTY_VECTOR)), timeout=7.5)
    r.client.query('up{job="a"}', 1700000000.1234)
    (sent,) = r.adapter.sent
    assert sent.request.method == "POST"
    assert sent.request.url == URL + "/api/v1/query"
    assert sent.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "query": 'up{job="a"}', "time": "1700000000.123", "timeout": "7.5",
        "partial_response": "false",
    }
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
        "partial_response": "false",
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


def test_promql_annotations_are_surfaced_and_the_answer_kept() -> None:
    """A PromQL annotation in ``warnings`` annotates a complete answer: returned with it."""
    note = 'PromQL info: metric might not be a counter, name does not end in _total: "x"'
    r = rig(always((200, {**EMPTY_VECTOR, "warnings": [note]})))
    assert r.client.query("x", 1).warnings == (note,)


# ------------------------------------------------------- partial responses

THANOS_WARNING = (
    "fetch series for {region=\"eu\"} Addr: store-eu:10901: rpc error: code = Unavailable"
)


def test_partial_response_false_is_asked_for_by_default() -> None:
    """Every query and range query carries partial_response=false unless configured."""
    r = rig(always((200, EMPTY_VECTOR)))
    r.client.query("x", 1)
    r.client.query_range("x", 1, 2, 1)
    assert [s.form["partial_response"] for s in r.adapter.sent] == ["false", "false"]


def test_a_partial_answer_is_refused_by_default_and_not_retried() -> None:
    """A success answer whose warnings say a store is missing raises QueryPartial
    (reason partial), carries the warning, and is not asked again."""
    answer = success("matrix", [{"metric": {"a": "1"}, "values": [[1, "5"]]}])
    r = rig(always((200, {**answer, "warnings": [THANOS_WARNING]})))
    with pytest.raises(errors.QueryPartial) as caught:
        r.client.raw_samples("x", 0, 1)
    assert caught.value.reason == "partial"
    assert caught.value.warnings == (THANOS_WARNING,)
    assert "partial_response is false" in str(caught.value)
    assert "store-eu:10901" in str(caught.value)
    assert len(r.adapter.sent) == 1


def test_a_partial_answer_with_an_annotation_too_is_still_refused() -> None:
    """One missing-data warning among PromQL annotations is enough to refuse."""
    warnings = ["PromQL warning: encountered a mix of histograms and floats", THANOS_WARNING]
    r = rig(always((200, {**EMPTY_VECTOR, "warnings": warnings})))
    with pytest.raises(errors.QueryPartial) as caught:
        r.client.query("x", 1)
    assert caught.value.warnings == (THANOS_WARNING,)


def test_a_partial_answer_never_shows_a_credential_from_the_warning() -> None:
    """Warning text from the server passes the scrubber before it reaches the error."""
    leak = "store http://u:hunter2secret@store:10901 down, token=abcdef123456"
    r = rig(always((200, {**EMPTY_VECTOR, "warnings": [leak]})))
    with pytest.raises(errors.QueryPartial) as caught:
        r.client.query("x", 1)
    assert "hunter2secret" not in str(caught.value)
    assert "abcdef123456" not in str(caught.value)


def test_partial_response_true_asks_for_and_keeps_partial_answers_with_a_warning() -> None:
    """partial_response: true sends partial_response=true, returns the data and logs
    query_partial_accepted with the warning."""
    r = rig(always((200, {**EMPTY_VECTOR, "warnings": [THANOS_WARNING]})),
            partial_response=True)
    with structlog.testing.capture_logs() as logs:
        answer = r.client.query("x", 1)
    assert answer.warnings == (THANOS_WARNING,)
    assert r.adapter.sent[0].form["partial_response"] == "true"
    (event,) = [e for e in logs if e["event"] == "query_partial_accepted"]
    assert event["log_level"] == "warning"
    assert event["warnings"] == [THANOS_WARNING]


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
    assert form == {
        "query": ["vector(2)"], "time": ["10.000"], "timeout": ["10"],
        "partial_response": ["false"],
    }


def test_server_that_never_answers_times_out_within_bounds() -> None:
    """A server that accepts and never answers gives QueryTimeout after each attempt's timeout
    (the last attempt's may be a few milliseconds shorter: the query's whole budget bounds it)."""
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
            with pytest.raises(errors.QueryTimeout, match=r"within 0\.(3|2[5-9])s") as info:
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
    # the operating system's reason, not three layers of wrapper reprs
    assert str(info.value) == (
        f"cannot reach http://127.0.0.1:{port}/api/v1/query: Connection refused (query: up)")


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


# ------------------------------------------------------- hostile servers


def _answer(handler: http.server.BaseHTTPRequestHandler, body: bytes, **headers: str) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def _drain(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.rfile.read(int(handler.headers.get("Content-Length", "0")))


@pytest.mark.parametrize("where", ["status line", "body"])
def test_a_two_bytes_per_second_dripper_is_cut_at_the_deadline(where: str) -> None:
    """A server dripping 2 bytes/s is abandoned at the timeout, not after its last byte."""
    done = threading.Event()
    body = json.dumps(EMPTY_VECTOR).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)

    class Drip(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            stream = head + body if where == "status line" else body
            if where == "body":
                self.wfile.write(head)
                self.wfile.flush()
            with contextlib.suppress(OSError):
                for byte in stream[:8]:  # bounded: about 4 s of dripping at most
                    if done.wait(0.5):
                        return
                    self.wfile.write(bytes((byte,)))
                    self.wfile.flush()

    with serve(Drip) as url:
        client, _ = real_client(url, timeout=0.6, retries=1)
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryTimeout, match=r"within 0\.6s"):
                client.query("up", 1)
        finally:
            done.set()
        elapsed = time.monotonic() - started
    assert 0.55 < elapsed < 0.9


def test_a_body_over_the_size_limit_is_refused_while_streaming() -> None:
    """An endless body without Content-Length is refused once max_response_size is passed."""
    sent = [0]

    class Huge(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            self.send_response(200)
            self.end_headers()
            block = b" " * 65536
            with contextlib.suppress(OSError):
                for _ in range(1600):  # bounded: 100 MiB
                    self.wfile.write(block)
                    sent[0] += len(block)

    with serve(Huge) as url:
        client, _ = real_client(url, max_response_size=1 << 20, retries=3)
        started = time.monotonic()
        with pytest.raises(errors.QueryTooLarge, match="max_response_size 1048576") as info:
            client.query("up", 1)
        elapsed = time.monotonic() - started
    assert info.value.reason == "too_large"
    assert elapsed < 1.0
    assert sent[0] < 16 << 20, "a too-large answer is not retried nor read to the end"


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    """A Content-Length above max_response_size is refused from the headers alone."""

    class Declared(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            self.send_response(200)
            self.send_header("Content-Length", str(500 << 20))
            self.end_headers()

    with serve(Declared) as url:
        client, _ = real_client(url, max_response_size=1 << 20)
        with pytest.raises(errors.QueryTooLarge, match="Content-Length 524288000"):
            client.query("up", 1)


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """64 MiB of zeros gzipped to about 64 KiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(64)) + packer.flush()


def test_a_gzip_bomb_is_refused_quickly_with_little_memory(gzip_bomb: bytes) -> None:
    """A small gzip answer that inflates past the limit is refused without inflating it whole."""

    class Bomb(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            _answer(self, gzip_bomb, Content_Encoding="gzip", Content_Length=str(len(gzip_bomb)))

    with serve(Bomb) as url:
        client, _ = real_client(url, max_response_size=1 << 20)
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryTooLarge, match="gzip inflates beyond it"):
                client.query("up", 1)
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 8 << 20, f"peak {peak} bytes while refusing a 64 MiB bomb"


def test_a_gzipped_answer_within_the_limit_is_decoded() -> None:
    """Prometheus gzips its answers: a compressed answer under the limit is inflated and read."""
    body = gzip.compress(json.dumps(success("scalar", [1, "4"])).encode())

    class Gzipped(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            _answer(self, body, Content_Encoding="gzip", Content_Length=str(len(body)))

    with serve(Gzipped) as url:
        client, _ = real_client(url)
        assert client.query("x", 1).scalar == 4.0


def test_a_corrupt_gzip_answer_is_a_decode_error() -> None:
    """A body that claims gzip but is not gives QueryDecodeError, not a traceback."""
    r = rig(always((200, b"definitely not gzip")))
    r.adapter.headers = {"Content-Encoding": "gzip"}
    with pytest.raises(errors.QueryDecodeError, match="not valid gzip"):
        r.client.query("x", 1)


def test_retries_and_backoff_fit_in_the_total_time_budget() -> None:
    """Ten attempts with growing backoff stop when max_total_time would be passed."""
    arrived: list[float] = []

    class Down(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            arrived.append(time.monotonic())
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serve(Down) as url:
        config = model.PrometheusConfig(url=url, retries=10, retry_backoff=0.2, timeout=5.0)
        client = PrometheusClient(config, max_total_time=1.0)
        started = time.monotonic()
        with pytest.raises(errors.QueryHTTPError):
            client.query("up", 1)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert len(arrived) == 3  # waits of 0.2 and 0.4; the next 0.8 would pass the budget


def test_the_last_attempt_gets_only_the_time_left_in_the_budget() -> None:
    """An attempt never runs past max_total_time, even with a longer timeout."""
    release = threading.Event()

    class Hang(_Quiet):
        def do_POST(self) -> None:
            release.wait(timeout=10)

    with serve(Hang) as url:
        config = model.PrometheusConfig(url=url, retries=3, retry_backoff=0.0, timeout=5.0)
        client = PrometheusClient(config, max_total_time=0.5)
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryTimeout):
                client.query("up", 1)
        finally:
            release.set()
        assert time.monotonic() - started < 0.9


# ------------------------------------------------------------ cancellation


def test_stop_abandons_a_request_in_flight_within_a_second() -> None:
    """Setting stop makes a hanging request raise QueryCancelled long before its timeout."""
    release = threading.Event()

    class Hang(_Quiet):
        def do_POST(self) -> None:
            release.wait(timeout=10)

    stop = threading.Event()
    with serve(Hang) as url:
        client = PrometheusClient(model.PrometheusConfig(url=url, timeout=20.0), stop=stop)
        timer = threading.Timer(0.3, stop.set)
        timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryCancelled) as info:
                client.query("up", 1)
        finally:
            release.set()
            timer.cancel()
        elapsed = time.monotonic() - started
    assert info.value.reason == "cancelled"
    assert isinstance(info.value, errors.SourceError)
    assert elapsed < 1.0


def test_stop_ends_a_backoff_wait_at_once() -> None:
    """A set stop interrupts the wait between retries and raises QueryCancelled."""
    r_stop = threading.Event()

    class Down(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serve(Down) as url:
        config = model.PrometheusConfig(url=url, retries=3, retry_backoff=8.0)
        client = PrometheusClient(config, stop=r_stop, max_total_time=30.0)
        timer = threading.Timer(0.3, r_stop.set)
        timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryCancelled):
                client.query("up", 1)
        finally:
            timer.cancel()
        assert time.monotonic() - started < 1.0


@contextlib.contextmanager
def unanswered_syn() -> Iterator[str]:
    """A listener whose accept queue is full: a new connect neither succeeds nor fails."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_stop_abandons_a_connect_that_hangs() -> None:
    """A connect that never completes is abandoned on stop, not held for the timeout."""
    stop = threading.Event()
    with unanswered_syn() as url:
        client = PrometheusClient(model.PrometheusConfig(url=url, timeout=20.0), stop=stop)
        timer = threading.Timer(0.3, stop.set)
        timer.start()
        started = time.monotonic()
        try:
            with pytest.raises(errors.QueryCancelled):
                client.query("up", 1)
        finally:
            timer.cancel()
        assert time.monotonic() - started < 1.0


def test_a_connect_that_hangs_ends_at_the_deadline() -> None:
    """The connect phase counts against the timeout like every byte after it."""
    with unanswered_syn() as url:
        client, _ = real_client(url, timeout=0.4, retries=1)
        started = time.monotonic()
        with pytest.raises(errors.QueryTimeout):
            client.query("up", 1)
        assert 0.35 < time.monotonic() - started < 0.8


def test_a_stopped_client_sends_nothing() -> None:
    """Once stop is set, a new call raises QueryCancelled without a request."""
    stop = threading.Event()
    stop.set()
    adapter = HandlerAdapter(always((200, EMPTY_VECTOR)))
    session = requests.Session()
    session.mount("http://", adapter)
    client = PrometheusClient(model.PrometheusConfig(url=URL), session=session, stop=stop)
    with pytest.raises(errors.QueryCancelled):
        client.query("up", 1)
    assert adapter.sent == []


# --------------------------------------------------------- TLS server_name


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls_prometheus(pki: PKI, seen_names: list[str | None]) -> TCPServer:
    context = pki.server_context(pki.other_host_cert)
    context.sni_callback = lambda _sock, name, _ctx: seen_names.append(name)

    def app(request: Request) -> Response:
        return Response(200, json.dumps(success("scalar", [1, "7"])).encode(), {})

    return TCPServer(http_app(app), tls=context)


def test_tls_server_name_sets_sni_and_the_verified_name(pki: PKI) -> None:
    """tls.server_name is sent as SNI and the certificate is verified against it."""
    names: list[str | None] = []
    with _tls_prometheus(pki, names) as server:
        tls = model.TLSConfig(ca_file=str(pki.ca), server_name="other.example")
        client = PrometheusClient(model.PrometheusConfig(url=server.url(""), tls=tls))
        assert client.query("x", 1).scalar == 7.0
    assert names == ["other.example"]


def test_without_server_name_a_certificate_for_another_name_is_refused(pki: PKI) -> None:
    """The same server reached by IP without server_name fails verification."""
    with _tls_prometheus(pki, []) as server:
        tls = model.TLSConfig(ca_file=str(pki.ca))
        config = model.PrometheusConfig(url=server.url(""), tls=tls, retries=1)
        with pytest.raises(errors.QueryConnectionError, match=r"(?i)certificate"):
            PrometheusClient(config).query("x", 1)


# ------------------------------------------------------ sessions and proxies


class _Counting(http.server.ThreadingHTTPServer):
    """Counts the TCP connections it accepts."""

    connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)


def test_pool_reuses_one_connection_across_worker_threads() -> None:
    """Calls from successive threads share a pooled client and its kept-alive connection."""

    class KeepAlive(_Quiet):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            _drain(self)
            body = json.dumps(EMPTY_VECTOR).encode()
            _answer(self, body, Content_Length=str(len(body)))

    server = _Counting(("127.0.0.1", 0), KeepAlive)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        pool = ClientPool(model.PrometheusConfig(url=f"http://127.0.0.1:{server.server_port}"))
        for _ in range(3):
            worker = threading.Thread(target=pool.query, args=("up", 1))
            worker.start()
            worker.join(timeout=5)
        pool.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert server.connections == 1


def test_environment_proxy_is_resolved_once_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY is honoured, read when the client is built, not on every request."""
    targets: list[str] = []

    class Proxy(_Quiet):
        def do_POST(self) -> None:
            _drain(self)
            targets.append(self.path)
            body = json.dumps(EMPTY_VECTOR).encode()
            _answer(self, body, Content_Length=str(len(body)))

    with serve(Proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        client = PrometheusClient(model.PrometheusConfig(url="http://prom.invalid:9090"))
        monkeypatch.delenv("HTTP_PROXY")
        client.query("up", 1)
    assert targets == ["http://prom.invalid:9090/api/v1/query"]


def test_no_proxy_is_honoured() -> None:
    """A URL listed in NO_PROXY is reached directly even with HTTP_PROXY set."""
    with serve(_JSONOk) as url:
        env = {"HTTP_PROXY": "http://127.0.0.1:1", "NO_PROXY": "127.0.0.1"}
        with _environ(env):
            client = PrometheusClient(model.PrometheusConfig(url=url, retries=1))
        assert client.query("x", 1).series == ()


class _JSONOk(_Quiet):
    def do_POST(self) -> None:
        _drain(self)
        body = json.dumps(EMPTY_VECTOR).encode()
        _answer(self, body, Content_Length=str(len(body)))


@contextlib.contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


# ------------------------------------------------------------------ scrubbing

SECRET = "hunter2-planted"


@pytest.mark.parametrize(
    "reply",
    [
        (500, f"upstream said Authorization: Bearer {SECRET}".encode()),
        (502, f"<html>password={SECRET}</html>".encode()),
        (400, api_error("bad_data", f"cannot parse token={SECRET}")),
        (200, api_error("internal", f"remote read http://u:{SECRET}@thanos:10901 failed")),
        (200, b"not json api_key=" + SECRET.encode()),
        (200, {"status": f"weird secret={SECRET}"}),
        requests.ConnectionError(f"proxy http://user:{SECRET}@proxy:3128 refused"),
    ],
)
def test_server_text_in_errors_is_scrubbed_of_credentials(reply: Reply) -> None:
    """Credentials in error bodies, API errors and exception text never reach the error."""
    r = rig(always(reply), retries=1)
    with pytest.raises(errors.QueryError) as info:
        r.client.query("up", 1)
    assert SECRET not in str(info.value)
    assert "<secret>" in str(info.value)


def test_warnings_are_scrubbed_of_credentials() -> None:
    """A warning carrying a credential is returned with it masked (partial answers
    accepted, so the warning comes back with the result)."""
    r = rig(always((200, {**EMPTY_VECTOR, "warnings": [f"store token={SECRET} down"]})),
            partial_response=True)
    (warning,) = r.client.query("x", 1).warnings
    assert SECRET not in warning


def test_userinfo_never_appears_in_connection_errors() -> None:
    """A URL with user:password@ that cannot be reached yields an error without either."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client, _ = real_client(f"http://bob:{SECRET}@127.0.0.1:{port}", retries=1)
    with pytest.raises(errors.QueryConnectionError) as info:
        client.query("up", 1)
    assert SECRET not in str(info.value)
    assert "bob" not in info.value.endpoint


def test_ipv6_endpoint_keeps_its_brackets() -> None:
    """The public endpoint of an IPv6 URL stays a valid URL."""
    r = rig(always((500, b"")), url="http://[::1]:9090", retries=1)
    with pytest.raises(errors.QueryHTTPError) as info:
        r.client.query("x", 1)
    assert info.value.endpoint == "http://[::1]:9090/api/v1/query"


def test_a_refused_url_is_shown_without_its_password() -> None:
    """The constructor's error for a bad URL masks the password in it."""
    with pytest.raises(ValueError, match="must be absolute") as info:
        PrometheusClient(model.PrometheusConfig(url=f"ftp://bob:{SECRET}@prom:9090"))
    assert SECRET not in str(info.value)


def test_label_text_escapes_each_special_character_alone() -> None:
    """A value with only one of backslash, quote or newline is escaped all the same
    (one backslash before each), and a plain value is kept as it is."""
    assert label_text({"a": "x\\y"}) == '{a="x\\\\y"}'
    assert label_text({"a": 'x"y'}) == '{a="x\\"y"}'
    assert label_text({"a": "x\ny"}) == '{a="x\\ny"}'
    assert label_text({"a": "plain", "b": ""}) == '{a="plain",b=""}'
