"""HTTP/HTTPS probe against real local servers: options, and hostile targets.

Every hostile case asserts the recorded reason and that the probe finished
within its timeout plus a small slack.
"""

from __future__ import annotations

import itertools
import ssl
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.probes import ProbeResult, run_probe
from slo_exporter.probes.result import Clock
from tests.support.probe_servers import (
    PKI,
    EndlessBody,
    Request,
    Response,
    TCPServer,
    closed_port,
    http_app,
    make_pki,
    never_answer,
    redirect_loop,
    slowloris,
)


def probe_http(target: model.HTTPProbe, timeout: float, **clocks: Clock) -> ProbeResult:
    """One probe of ``target`` through the result envelope, as the scheduler runs it."""
    return run_probe(model.ProbeSLI(target, timeout=timeout), **clocks)


TIMEOUT = 1.0
SLACK = 0.5


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def ok_app(request: Request) -> Response:
    return Response(200, b"hello world")


def timed(target: model.HTTPProbe, timeout: float = TIMEOUT) -> tuple[ProbeResult, float]:
    start = time.monotonic()
    result = probe_http(target, timeout)
    return result, time.monotonic() - start


def app_server(app: Callable[[Request], Response], seen: list[Request] | None = None) -> TCPServer:
    return TCPServer(http_app(app, seen))


# ------------------------------------------------------------------ success


def test_get_2xx_succeeds() -> None:
    """A plain GET answered 200 is a success with the status and a duration."""
    with app_server(ok_app) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url("/health")), TIMEOUT)
    assert (result.success, result.reason, result.status_code) == (True, "ok", 200)
    assert 0 < result.duration < TIMEOUT
    assert result.cert_not_after is None


def test_each_probe_opens_a_fresh_connection() -> None:
    """Three probes make three TCP connections: no keep-alive reuse."""
    with app_server(ok_app) as srv:
        for _ in range(3):
            assert probe_http(model.HTTPProbe(url=srv.url()), TIMEOUT).success
        assert srv.connections == 3


def test_host_name_is_resolved() -> None:
    """A URL with a host name (localhost) is resolved and probed."""
    with app_server(ok_app) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url(host="localhost")), TIMEOUT)
    assert result.reason == "ok"


def test_default_valid_codes_reject_404() -> None:
    """Without valid_status_codes, a 404 fails with reason status_code."""
    with app_server(lambda r: Response(404, b"nope")) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url()), TIMEOUT)
    assert (result.success, result.reason, result.status_code) == (False, "status_code", 404)


def test_valid_status_codes_accept_listed_code_only() -> None:
    """valid_status_codes replaces the 2xx default: 404 passes, 200 fails."""
    with app_server(lambda r: Response(404 if r.path == "/gone" else 200)) as srv:
        gone = probe_http(model.HTTPProbe(url=srv.url("/gone"), valid_status_codes=(404,)), 1)
        fine = probe_http(model.HTTPProbe(url=srv.url("/"), valid_status_codes=(404,)), 1)
    assert gone.reason == "ok"
    assert (fine.reason, fine.status_code) == ("status_code", 200)


def test_method_headers_and_body_are_sent() -> None:
    """Method, configured headers and body reach the server; headers override defaults."""
    seen: list[Request] = []
    target = model.HTTPProbe(
        url="",
        method="POST",
        headers=model.frozen_map({"X-Probe": "yes", "User-Agent": "custom-agent"}),
        body='{"ping": 1}',
    )
    with app_server(ok_app, seen) as srv:
        result = probe_http(
            model.HTTPProbe(**{**target.__dict__, "url": srv.url("/api?x=1")}), TIMEOUT
        )
    assert result.success
    req = seen[0]
    assert (req.method, req.path, req.body) == ("POST", "/api?x=1", b'{"ping": 1}')
    assert req.headers["x-probe"] == "yes"
    assert req.headers["user-agent"] == "custom-agent"
    assert req.headers["connection"] == "close"
    assert req.headers["host"] == f"127.0.0.1:{srv.port}"


def test_head_request_reads_no_body() -> None:
    """A HEAD probe succeeds although Content-Length announces a body that never comes."""
    with app_server(lambda r: Response(200, b"x" * 1000)) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url(), method="HEAD"), TIMEOUT)
    assert result.reason == "ok"


def test_basic_auth_with_password_and_password_file(tmp_path: Path) -> None:
    """Basic auth is sent from an inline password and from a password file."""
    seen: list[Request] = []
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    with app_server(ok_app, seen) as srv:
        probe_http(
            model.HTTPProbe(url=srv.url(), basic_auth=model.BasicAuth("alice", "pa:ss")), 1
        )
        bob = model.BasicAuth("bob", password_file=str(pw))
        probe_http(model.HTTPProbe(url=srv.url(), basic_auth=bob), 1)
    assert seen[0].headers["authorization"] == "Basic YWxpY2U6cGE6c3M="  # alice:pa:ss
    assert seen[1].headers["authorization"] == "Basic Ym9iOnMzY3JldA=="  # bob:s3cret


def test_bearer_token_file_is_read_on_every_probe(tmp_path: Path) -> None:
    """The bearer token file is re-read, so a rotated token is used at once."""
    seen: list[Request] = []
    token = tmp_path / "token"
    with app_server(ok_app, seen) as srv:
        target = model.HTTPProbe(url=srv.url(), bearer_token_file=str(token))
        token.write_text("first\n")
        probe_http(target, TIMEOUT)
        token.write_text("second\n")
        probe_http(target, TIMEOUT)
    assert [r.headers["authorization"] for r in seen] == ["Bearer first", "Bearer second"]


def test_missing_token_file_is_config_error(tmp_path: Path) -> None:
    """An unreadable bearer token file fails with config_error, not an exception."""
    result = probe_http(
        model.HTTPProbe(url="http://127.0.0.1:1/", bearer_token_file=str(tmp_path / "none")), 1
    )
    assert result.reason == "config_error"


@pytest.mark.parametrize("chunked", [False, True])
def test_body_regexps(chunked: bool) -> None:
    """fail_if_body_matches / not_matches judge the body, plain or chunked."""
    body = b"status: degraded; version 1.2"
    with app_server(lambda r: Response(200, body, chunked=chunked)) as srv:

        def probe(**opts: tuple[str, ...]) -> str:
            return probe_http(model.HTTPProbe(url=srv.url(), **opts), TIMEOUT).reason  # type: ignore[arg-type]

        assert probe(fail_if_body_matches_regexp=("degraded",)) == "body_regexp"
        assert probe(fail_if_body_matches_regexp=("outage",)) == "ok"
        assert probe(fail_if_body_not_matches_regexp=("version \\d",)) == "ok"
        assert probe(fail_if_body_not_matches_regexp=("healthy",)) == "body_regexp"


def test_body_exactly_at_limit_passes_one_more_byte_fails() -> None:
    """A body of body_size_limit bytes passes; one byte more fails with body_too_large."""
    for framing in ("close", "chunked", "length"):
        with TCPServer(EndlessBody(size=65536 * 2, framing=framing)) as srv:
            at = probe_http(model.HTTPProbe(url=srv.url(), body_size_limit=65536 * 2), 1)
            over = probe_http(model.HTTPProbe(url=srv.url(), body_size_limit=65536 * 2 - 1), 1)
        assert (framing, at.reason) == (framing, "ok")
        assert (framing, over.reason) == (framing, "body_too_large")


def test_redirect_is_followed() -> None:
    """A 301 to another path is followed and the final status judged."""
    seen: list[Request] = []

    def app(r: Request) -> Response:
        return Response(301, b"", {"Location": "/new"}) if r.path == "/old" else Response(200)

    with app_server(app, seen) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url("/old")), TIMEOUT)
    assert (result.reason, result.status_code) == ("ok", 200)
    assert [r.path for r in seen] == ["/old", "/new"]


def test_redirect_not_followed_when_disabled() -> None:
    """With follow_redirects off, the 3xx itself is judged (fails by default)."""
    with app_server(lambda r: Response(302, b"", {"Location": "/x"})) as srv:
        default = probe_http(model.HTTPProbe(url=srv.url(), follow_redirects=False), 1)
        allowed = probe_http(
            model.HTTPProbe(url=srv.url(), follow_redirects=False, valid_status_codes=(302,)), 1
        )
    assert (default.reason, default.status_code) == ("status_code", 302)
    assert allowed.reason == "ok"


def test_303_turns_post_into_get() -> None:
    """After a 303 the next request is a GET without body."""
    seen: list[Request] = []

    def app(r: Request) -> Response:
        return Response(303, b"", {"Location": "/done"}) if r.path == "/form" else Response()

    with app_server(app, seen) as srv:
        probe_http(model.HTTPProbe(url=srv.url("/form"), method="POST", body="a=1"), TIMEOUT)
    assert [(r.method, r.body) for r in seen] == [("POST", b"a=1"), ("GET", b"")]


def test_too_many_redirects() -> None:
    """A redirect chain longer than max_redirects fails with too_many_redirects."""

    def app(r: Request) -> Response:
        n = int(r.path.strip("/") or 0)
        return Response(302, b"", {"Location": f"/{n + 1}"})

    with app_server(app) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url("/0"), max_redirects=3), TIMEOUT)
    assert result.reason == "too_many_redirects"
    assert srv.connections == 4  # the first request plus three redirects


def test_fail_if_not_ssl_on_plain_http() -> None:
    """fail_if_not_ssl fails a plain-HTTP target with reason not_ssl."""
    with app_server(ok_app) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url(), fail_if_not_ssl=True), TIMEOUT)
    assert result.reason == "not_ssl"


# -------------------------------------------------------------------- HTTPS


def tls_server(pki: PKI, cert: Path) -> TCPServer:
    return TCPServer(http_app(ok_app), tls=pki.server_context(cert))


def test_https_with_ca_succeeds_and_reports_expiry(pki: PKI) -> None:
    """HTTPS verified against the configured CA succeeds and reports the cert's notAfter."""
    with tls_server(pki, pki.valid_cert) as srv:
        target = model.HTTPProbe(url=srv.url(), tls=model.TLSConfig(ca_file=str(pki.ca)))
        result = probe_http(target, TIMEOUT)
        by_name = probe_http(
            model.HTTPProbe(url=srv.url(host="localhost"), tls=target.tls), TIMEOUT
        )
    assert (result.reason, result.status_code) == ("ok", 200)
    assert result.cert_not_after == pki.valid_not_after
    assert by_name.reason == "ok"


def test_https_unknown_ca_is_tls_error(pki: PKI) -> None:
    """A certificate from a CA the probe does not trust fails with tls_error."""
    with tls_server(pki, pki.valid_cert) as srv:
        result, took = timed(model.HTTPProbe(url=srv.url()))
    assert (result.success, result.reason) == (False, "tls_error")
    assert took < TIMEOUT + SLACK


def test_https_hostname_mismatch_is_tls_error(pki: PKI) -> None:
    """A certificate for another host name fails with tls_error."""
    with tls_server(pki, pki.other_host_cert) as srv:
        result = probe_http(
            model.HTTPProbe(url=srv.url(), tls=model.TLSConfig(ca_file=str(pki.ca))), TIMEOUT
        )
    assert result.reason == "tls_error"
    assert "mismatch" in result.detail or "match" in result.detail


def test_https_server_name_overrides_verified_name(pki: PKI) -> None:
    """tls.server_name makes a cert for other.example valid when dialing 127.0.0.1."""
    with tls_server(pki, pki.other_host_cert) as srv:
        tls = model.TLSConfig(ca_file=str(pki.ca), server_name="other.example")
        result = probe_http(model.HTTPProbe(url=srv.url(), tls=tls), TIMEOUT)
    assert result.reason == "ok"


def test_https_expired_cert_is_cert_expired(pki: PKI) -> None:
    """An expired certificate fails with cert_expired within the timeout."""
    with tls_server(pki, pki.expired_cert) as srv:
        result, took = timed(
            model.HTTPProbe(url=srv.url(), tls=model.TLSConfig(ca_file=str(pki.ca)))
        )
    assert (result.success, result.reason) == (False, "cert_expired")
    assert took < TIMEOUT + SLACK


def test_https_insecure_skip_verify_accepts_anything(pki: PKI) -> None:
    """insecure_skip_verify accepts an expired, untrusted cert and still reports its expiry."""
    with tls_server(pki, pki.expired_cert) as srv:
        tls = model.TLSConfig(insecure_skip_verify=True)
        result = probe_http(model.HTTPProbe(url=srv.url(), tls=tls), TIMEOUT)
    assert result.reason == "ok"
    assert result.cert_not_after == pki.expired_not_after


def test_fail_if_ssl_on_https(pki: PKI) -> None:
    """fail_if_ssl fails an https target with reason ssl."""
    with tls_server(pki, pki.valid_cert) as srv:
        tls = model.TLSConfig(ca_file=str(pki.ca))
        result = probe_http(model.HTTPProbe(url=srv.url(), tls=tls, fail_if_ssl=True), 1)
    assert result.reason == "ssl"


# ------------------------------------------------------------ hostile targets


def test_connection_refused() -> None:
    """Nothing listening: connection_refused, at once."""
    result, took = timed(model.HTTPProbe(url=f"http://127.0.0.1:{closed_port()}/"))
    assert (result.success, result.reason) == (False, "connection_refused")
    assert took < TIMEOUT + SLACK


def test_accept_and_never_answer_times_out() -> None:
    """A server that accepts and never answers fails with timeout, within the timeout."""
    with TCPServer(never_answer) as srv:
        result, took = timed(model.HTTPProbe(url=srv.url()))
    assert (result.success, result.reason) == (False, "timeout")
    assert TIMEOUT - 0.05 <= took < TIMEOUT + SLACK


def test_https_handshake_never_answered_times_out() -> None:
    """A TLS port that never answers the ClientHello times out within the timeout."""
    with TCPServer(never_answer) as srv:
        result, took = timed(model.HTTPProbe(url=f"https://127.0.0.1:{srv.port}/"))
    assert result.reason == "timeout"
    assert took < TIMEOUT + SLACK


def test_slowloris_hits_the_overall_deadline() -> None:
    """Bytes trickled every 50 ms never reset the clock: timeout within the deadline."""
    with TCPServer(slowloris) as srv:
        result, took = timed(model.HTTPProbe(url=srv.url()))
    assert (result.success, result.reason) == (False, "timeout")
    assert took < TIMEOUT + SLACK


@pytest.mark.parametrize("framing", ["close", "chunked", "length"])
def test_one_gigabyte_body_is_cut_at_the_limit(framing: str) -> None:
    """A 1 GiB body fails with body_too_large quickly, with memory bounded by the limit."""
    limit = 1 << 20
    body = EndlessBody(size=1 << 30, framing=framing)
    with TCPServer(body) as srv:
        # A regexp forces the body to be kept: the worst case for memory.
        target = model.HTTPProbe(
            url=srv.url(), body_size_limit=limit, fail_if_body_matches_regexp=("never",)
        )
        tracemalloc.start()
        try:
            result, took = timed(target, timeout=5.0)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert (result.success, result.reason) == (False, "body_too_large")
    assert took < 5.0
    assert peak < 4 * limit
    assert body.sent < 64 << 20  # the server stopped long before 1 GiB


def test_redirect_loop_is_detected() -> None:
    """/a -> /b -> /a fails with redirect_loop after two requests."""
    with app_server(redirect_loop) as srv:
        result, took = timed(model.HTTPProbe(url=srv.url("/a")))
    assert (result.success, result.reason) == (False, "redirect_loop")
    assert srv.connections == 2
    assert took < TIMEOUT + SLACK


def test_garbage_response_is_invalid_response() -> None:
    """A server speaking something other than HTTP fails with invalid_response."""

    def garbage(conn: object, stop: object) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")  # type: ignore[attr-defined]

    with TCPServer(garbage) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url()), TIMEOUT)
    assert result.reason == "invalid_response"


def test_injected_clock_drives_the_deadline() -> None:
    """The deadline reads the injected clock: a clock jumping past it times out at once."""
    ticks = itertools.chain([0.0, 0.0], itertools.repeat(100.0))  # start, connect, then late
    with app_server(ok_app) as srv:
        result = probe_http(model.HTTPProbe(url=srv.url()), TIMEOUT, clock=lambda: next(ticks))
    assert result.reason == "timeout"
    assert result.duration == 100.0


def test_https_client_certificate(pki: PKI) -> None:
    """tls.cert_file/key_file present a client certificate; without it the server refuses."""
    ctx = pki.server_context(pki.valid_cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(pki.ca)
    with TCPServer(http_app(ok_app), tls=ctx) as srv:
        anonymous = model.TLSConfig(ca_file=str(pki.ca))
        with_cert = model.TLSConfig(
            ca_file=str(pki.ca), cert_file=str(pki.valid_cert), key_file=str(pki.key)
        )
        refused = probe_http(model.HTTPProbe(url=srv.url(), tls=anonymous), TIMEOUT)
        accepted = probe_http(model.HTTPProbe(url=srv.url(), tls=with_cert), TIMEOUT)
    assert refused.reason in ("tls_error", "connection_closed")
    assert accepted.reason == "ok"


def test_slowloris_over_tls_hits_the_overall_deadline(pki: PKI) -> None:
    """Trickled bytes inside TLS records also stop at the deadline."""
    with TCPServer(slowloris, tls=pki.server_context(pki.valid_cert)) as srv:
        result, took = timed(
            model.HTTPProbe(url=srv.url(), tls=model.TLSConfig(ca_file=str(pki.ca)))
        )
    assert result.reason == "timeout"
    assert result.cert_not_after == pki.valid_not_after
    assert took < TIMEOUT + SLACK


def test_unresolvable_host_is_resolve_error() -> None:
    """A host name that cannot resolve fails with resolve_error (rejected locally, no DNS)."""
    result, took = timed(model.HTTPProbe(url="http://bad..name/"))
    assert (result.success, result.reason) == (False, "resolve_error")
    assert took < TIMEOUT + SLACK


CREDENTIALS = {
    "Authorization": "Bearer configured-token",
    "Proxy-Authorization": "Basic cHJveHk6cHc=",
    "Cookie": "session=abc123",
    "X-Api-Key": "key-123",
    "X-Auth-Token": "tok-456",
}


@pytest.mark.parametrize("auth", ["headers", "bearer_token_file", "basic_auth"])
def test_credentials_are_not_forwarded_to_another_origin(auth: str, tmp_path: Path) -> None:
    """A redirect to another port drops every credential; plain headers still go."""
    token = tmp_path / "token"
    token.write_text("file-token\n")
    first: list[Request] = []
    second: list[Request] = []
    with app_server(ok_app, second) as other:
        def app(r: Request) -> Response:
            if r.path == "/start":
                return Response(302, b"", {"Location": "/same"})  # same origin: keeps them
            return Response(302, b"", {"Location": other.url("/landed")})

        with app_server(app, first) as srv:
            target = model.HTTPProbe(
                url=srv.url("/start"),
                headers=model.frozen_map(
                    {"X-Scope-OrgID": "team-a", **(CREDENTIALS if auth == "headers" else {})}
                ),
                bearer_token_file=str(token) if auth == "bearer_token_file" else None,
                basic_auth=model.BasicAuth("alice", "pw") if auth == "basic_auth" else None,
            )
            result = probe_http(target, TIMEOUT)
    assert result.reason == "ok"
    assert [r.path for r in first] == ["/start", "/same"]
    sent = {name.lower() for name in CREDENTIALS} if auth == "headers" else {"authorization"}
    for request in first:
        assert sent <= request.headers.keys()
    [landed] = second
    assert landed.path == "/landed"
    assert landed.headers["x-scope-orgid"] == "team-a"
    assert not {name.lower() for name in CREDENTIALS} & landed.headers.keys(), landed.headers


def test_credentials_are_not_forwarded_from_https_to_http_on_the_same_host(pki: PKI) -> None:
    """A downgrade to http on the same host is another origin: the token is not sent in clear."""
    plain: list[Request] = []
    with app_server(ok_app, plain) as other:
        tls = pki.server_context(pki.valid_cert)
        redirect = Response(302, b"", {"Location": other.url("/clear")})
        with TCPServer(http_app(lambda r: redirect), tls=tls) as srv:
            target = model.HTTPProbe(
                url=srv.url(), headers=model.frozen_map(CREDENTIALS),
                tls=model.TLSConfig(ca_file=str(pki.ca)),
            )
            assert probe_http(target, TIMEOUT).reason == "ok"
    assert not {name.lower() for name in CREDENTIALS} & plain[0].headers.keys()


def test_unencodable_header_is_config_error_without_its_value() -> None:
    """A header value that is not latin-1 fails as config_error; the detail does not echo it."""
    target = model.HTTPProbe(
        url="http://127.0.0.1:1/", headers=model.frozen_map({"Authorization": "Bearer t\u20ac"})
    )
    result = probe_http(target, TIMEOUT)
    assert result.reason == "config_error"
    assert "Bearer" not in result.detail
