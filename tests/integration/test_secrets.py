"""Secrets never leave the process: every output is searched for planted credentials.

A distinct secret sits in every secret-bearing field of a configuration:
Prometheus basic auth (inline and from a file), a bearer token file, a URL
password (one of these per run, as a Prometheus block takes one kind of
auth) and a credential header; HTTP probe headers, basic auth (inline and
from a file) and bearer token file.
Hostile peers then do their worst: the "Prometheus" answers every query
with an error that echoes the request's headers and the decoded basic-auth
password, and the probe target answers 500 with the same echo and redirects
to another origin. The daemon runs at debug level in both log formats; its
logs, ``/metrics``, ``/``, ``/api/v1/slos`` and ``check`` output (also for a
configuration that is refused) must hold none of the secrets, in plain text
or base64.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.harness import HOST, ExporterProcess, exporter_argv, running, wait_until

pytestmark = pytest.mark.integration

SECRETS = {
    "prometheus.basic_auth.password_file": "S1promPasswordFile9f2c",
    "prometheus.basic_auth.password": "S10promInlinePassword1d8e",
    "prometheus.bearer_token_file": "S11promBearerFile6a4c",
    "prometheus.url password": "S12promUrlPassword3f7b",
    "probe.basic_auth.password_file": "S7probePasswordFile0e5d",
    "prometheus.headers.X-Token": "S2promHeaderToken4b7e",
    "probe.headers.Authorization": "S3probeHeaderBearer8d1a",
    "probe.headers.X-Api-Key": "S4probeApiKey2c6f",
    "probe.basic_auth.password": "S5probeBasicPassword7a3d",
    "probe.bearer_token_file": "S6probeBearerFile5e9b",
}


def _echo(handler: BaseHTTPRequestHandler) -> str:
    """Everything a careless server would put in an error: headers and decoded auth."""
    headers = "; ".join(f"{k}: {v}" for k, v in handler.headers.items())
    decoded = ""
    auth = handler.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        decoded = base64.b64decode(auth[6:]).decode(errors="replace")
    return f"denied request {handler.path} with headers [{headers}] credentials {decoded}"


class _HostileServer(ThreadingHTTPServer):
    """A local server playing a hostile Prometheus or probe target."""

    def __init__(self, role: str) -> None:
        super().__init__((HOST, 0), _Hostile)
        self.role = role
        self.seen: list[dict[str, str]] = []  # headers of queries and of requests for a page
        self.redirect_to = ""


class _Hostile(BaseHTTPRequestHandler):
    """Answers every request with an echo of its credentials."""

    server: _HostileServer

    def do_GET(self) -> None:
        if self.server.role == "prometheus":
            self.server.seen.append(dict(self.headers.items()))
            body = json.dumps({"status": "error", "errorType": "bad_data",
                               "error": _echo(self)}).encode()
            self._send(400, body, "application/json")
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.server.seen.append(dict(self.headers.items()))
            self._send(500, _echo(self).encode(), "text/plain")

    do_POST = do_GET

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(role: str) -> _HostileServer:
    server = _HostileServer(role)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def hostile() -> Iterator[tuple[_HostileServer, _HostileServer, _HostileServer]]:
    prom, target, elsewhere = _serve("prometheus"), _serve("target"), _serve("target")
    target.redirect_to = f"http://{HOST}:{elsewhere.server_address[1]}/landing"
    try:
        yield prom, target, elsewhere
    finally:
        for server in (prom, target, elsewhere):
            server.shutdown()
            server.server_close()


#: the Prometheus block's one kind of auth, per run
PROM_AUTH = ("basic_auth.password_file", "basic_auth.password", "bearer_token_file", "url")


def _prometheus(tmp: Path, prom_port: int, auth: str) -> dict[str, Any]:
    """The Prometheus block with a credential header and the secret of ``auth``."""
    (tmp / "prom-password").write_text(SECRETS["prometheus.basic_auth.password_file"])
    (tmp / "prom-token").write_text(SECRETS["prometheus.bearer_token_file"])
    block: dict[str, Any] = {
        "url": f"http://{HOST}:{prom_port}",
        "timeout": "2s",
        "retries": 1,
        "headers": {"X-Token": SECRETS["prometheus.headers.X-Token"]},
    }
    if auth == "basic_auth.password_file":
        block["basic_auth"] = {"username": "prom-user",
                               "password_file": str(tmp / "prom-password")}
    elif auth == "basic_auth.password":
        block["basic_auth"] = {"username": "prom-user",
                               "password": SECRETS["prometheus.basic_auth.password"]}
    elif auth == "bearer_token_file":
        block["bearer_token_file"] = str(tmp / "prom-token")
    else:
        block["url"] = (f"http://prom-user:{SECRETS['prometheus.url password']}"
                        f"@{HOST}:{prom_port}")
    return block


def _config(tmp: Path, prom_port: int, target_port: int,
            prom_auth: str = PROM_AUTH[0]) -> dict[str, Any]:
    (tmp / "probe-token").write_text(SECRETS["probe.bearer_token_file"])
    (tmp / "probe-password").write_text(SECRETS["probe.basic_auth.password_file"])
    target = f"http://{HOST}:{target_port}"
    probe = {"interval": "1s", "timeout": "500ms"}
    return {
        "prometheus": _prometheus(tmp, prom_port, prom_auth),
        "evaluation_interval": "2s",
        "services": [
            {"name": "api", "slos": [{
                "name": "availability", "objective": 99.9, "window": "1d",
                "sli": {"ratio": {"bad": 'http_requests_total{code=~"5.."}',
                                  "total": "http_requests_total"}},
            }]},
            {"name": "api2", "slos": [{
                "name": "availability", "objective": 99.9, "window": "1d",
                "sli": {"ratio": {"bad": 'http_requests_total{code=~"5.."}',
                                  "total": "http_requests_total"}},
            }]},
            {"name": "web", "slos": [
                {"name": "headers", "objective": 99.0, "window": "1d", "sli": {"probe": {
                    **probe, "http": {"url": f"{target}/echo", "headers": {
                        "Authorization": f"Bearer {SECRETS['probe.headers.Authorization']}",
                        "X-Api-Key": SECRETS["probe.headers.X-Api-Key"]}}}}},
                {"name": "basic", "objective": 99.0, "window": "1d", "sli": {"probe": {
                    **probe, "http": {"url": f"{target}/redirect", "basic_auth": {
                        "username": "probe-user",
                        "password": SECRETS["probe.basic_auth.password"]}}}}},
                {"name": "basicfile", "objective": 99.0, "window": "1d", "sli": {"probe": {
                    **probe, "http": {"url": f"{target}/redirect", "basic_auth": {
                        "username": "probe-user",
                        "password_file": str(tmp / "probe-password")}}}}},
                {"name": "bearer", "objective": 99.0, "window": "1d", "sli": {"probe": {
                    **probe, "http": {"url": f"{target}/redirect",
                                      "bearer_token_file": str(tmp / "probe-token")}}}},
            ]},
        ],
    }


def _leaks(text: str) -> list[str]:
    found = []
    for field, secret in SECRETS.items():
        forms = {secret, base64.b64encode(secret.encode()).decode()}
        forms |= {base64.b64encode(f"{user}:{secret}".encode()).decode()
                  for user in ("prom-user", "probe-user")}
        found += [f"{field} ({form})" for form in forms if form in text]
    return found


@pytest.mark.parametrize(("log_format", "prom_auth"), [
    ("logfmt", PROM_AUTH[0]), ("json", PROM_AUTH[1]), ("logfmt", PROM_AUTH[2]),
    ("json", PROM_AUTH[3]),
])
def test_no_output_holds_a_secret(
    tmp_path: Path, hostile: tuple[_HostileServer, ...], log_format: str, prom_auth: str
) -> None:
    """Logs at debug level, /metrics, the pages, the JSON API and check never show a secret."""
    prom, target, elsewhere = hostile
    config = _config(tmp_path, prom.server_address[1], target.server_address[1], prom_auth)
    exporter = ExporterProcess(tmp_path / "run", config,
                               extra_args=["--log.level=debug", f"--log.format={log_format}"])
    outputs: dict[str, str] = {}
    with running(exporter):
        exporter.start(ready_timeout=60)
        # Wait until the hostile answers have been met: the ratio SLOs are
        # down with the echoed error and every probe has failed at least once.
        wait_until(lambda: True if target.seen and "query_failed" in
                   exporter.log_path.read_text(errors="replace") else None,
                   timeout=30, what="failed queries and probes", on_timeout=exporter.log_tail)
        for path in ("/metrics", "/", "/api/v1/slos", "/catalog", "/api/v1/services"):
            outputs[path] = requests.get(f"{exporter.url}{path}", timeout=10).text
        api = json.loads(outputs["/api/v1/slos"])
        assert any(s.get("error") for s in api["slos"]), "the hostile error text never arrived"
    outputs["log"] = exporter.log_path.read_text(errors="replace")

    check = subprocess.run([*exporter_argv(), "check", f"--config.file={exporter.config_path}"],
                           capture_output=True, text=True, timeout=30, check=False)
    outputs["check"] = check.stdout + check.stderr

    # The planted Prometheus credential was sent, so every error echoed it back.
    planted = "prometheus.url password" if prom_auth == "url" else f"prometheus.{prom_auth}"
    sent = [leak for h in prom.seen for leak in _leaks(json.dumps(h))]
    assert any(leak.startswith(f"{planted} (") for leak in sent), f"{planted} never sent"
    leaks = {name: _leaks(text) for name, text in outputs.items() if _leaks(text)}
    assert not leaks, f"secrets leaked: {leaks}"
    # The redirect left the origin: the other server must not have seen any credential.
    landed = [h for h in elsewhere.seen if _leaks(json.dumps(h))]
    assert not landed, f"credentials followed a redirect to another origin: {landed}"


def test_check_of_a_refused_config_holds_no_secret(tmp_path: Path) -> None:
    """A URL password and a bad header are refused without echoing either secret."""
    secret, header_secret = "S8urlPassword3c5a", "S9headerSecret6b2d"
    path = tmp_path / "bad.yaml"
    path.write_text(
        "prometheus:\n"
        f"  url: http://user:{secret}@{HOST}:9/\n"
        "services:\n"
        "  - name: web\n"
        "    slos:\n"
        "      - name: home\n"
        "        objective: 99\n"
        "        window: 1d\n"
        "        sli:\n"
        "          probe:\n"
        "            http:\n"
        f"              url: http://probe:{secret}@{HOST}:9/\n"
        f"              headers: {{Authorization: \"Bearer {header_secret}\\u2028\"}}\n"
    )
    result = subprocess.run([*exporter_argv(), "check", f"--config.file={path}"],
                            capture_output=True, text=True, timeout=30, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "basic_auth" in out, out  # the hint for user:pass@ in a probe URL
    assert secret not in out, out
    assert header_secret not in out, out
