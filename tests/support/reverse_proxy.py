"""A Mimir/Thanos-style front for a real Prometheus, on a loopback port, for tests.

Owns: a small threaded HTTP server that forwards requests under a path
prefix (``/prometheus/api/v1/query`` -> ``/api/v1/query``) to an upstream
Prometheus, as Mimir and Cortex serve the API; refuses a request without the
expected tenant header with 401 and one outside the prefix with 404, as
they do; records what each forwarded query asked (path, tenant,
``partial_response``); and, while ``partial`` is set, answers like a Thanos
querier that lost a store: it drops the series a ``drop`` label matcher
selects from the upstream answer and says so in ``warnings``, or, with
``honor_partial_response`` and ``partial_response=false`` asked, refuses the
query with the 422 execution error such a querier answers then.

Must not: depend on pytest, listen anywhere but 127.0.0.1, or change a
complete answer in any way (bodies pass through byte for byte).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.support.harness import LoopbackServer

#: what a Thanos querier says when one of its stores did not answer
PARTIAL_WARNING = (
    "receive series from Addr: 127.0.0.1:10901 LabelSets: {store=\"eu\"}: "
    "rpc error: code = Unavailable desc = connection refused"
)


@dataclass(frozen=True)
class Seen:
    """One request as the proxy received it."""

    path: str
    status: int
    tenant: str | None
    partial_response: str | None


class ReverseProxy(LoopbackServer):
    """Forwards ``prefix``-ed API calls carrying ``tenant`` to ``upstream``.

    ``tenant_header``/``tenant``: the header every request must carry with
    that value (401 otherwise). ``partial``: when true, query answers lose
    the series whose labels include every pair of ``drop`` and gain
    ``PARTIAL_WARNING``, whatever ``partial_response`` asked (a query
    frontend or an older querier that ignores it); with
    ``honor_partial_response`` a query asking ``partial_response=false`` is
    refused instead, as a Thanos querier does.
    """

    def __init__(
        self,
        upstream: str,
        *,
        prefix: str = "/prometheus",
        tenant_header: str = "X-Scope-OrgID",
        tenant: str = "team-a",
        drop: Mapping[str, str] | None = None,
        honor_partial_response: bool = False,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.prefix = prefix.rstrip("/")
        self.tenant_header = tenant_header
        self.tenant = tenant
        self.drop = dict(drop or {"code": "500"})
        self.partial = False
        self.honor_partial_response = honor_partial_response
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())  # ``url``: scheme, host and port, without the prefix
        self._server.daemon_threads = True

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    # ------------------------------------------------------------ serving

    def _note(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def _answer(self, path: str, headers: Mapping[str, str], body: bytes,
                query: str, partial_response: str | None) -> tuple[int, bytes, str]:
        """Status, body and content type for one request."""
        tenant = headers.get(self.tenant_header.lower())
        if not path.startswith(self.prefix + "/"):
            return 404, b"404 page not found\n", "text/plain"
        if tenant != self.tenant:
            return 401, b"no org id\n", "text/plain"
        if self.partial and self.honor_partial_response and partial_response == "false":
            refusal = {"status": "error", "errorType": "execution", "error": PARTIAL_WARNING}
            return 422, json.dumps(refusal).encode(), "application/json"
        url = self.upstream + path[len(self.prefix):] + (f"?{query}" if query else "")
        forward = {k: v for k, v in headers.items() if k in ("content-type", "accept")}
        try:
            resp = requests.request("POST" if body else "GET", url, data=body or None,
                                    headers=forward, timeout=30)
        except requests.RequestException as exc:
            return 502, f"upstream: {exc}\n".encode(), "text/plain"
        content = resp.content
        if self.partial and path.endswith(("/api/v1/query", "/api/v1/query_range")):
            content = self._partial(content)
        return resp.status_code, content, resp.headers.get("Content-Type", "application/json")

    def _partial(self, content: bytes) -> bytes:
        answer: dict[str, Any] = json.loads(content)
        if answer.get("status") != "success":
            return content
        data = answer["data"]
        if data.get("resultType") in ("vector", "matrix"):
            data["result"] = [
                item for item in data["result"]
                if not all(item["metric"].get(k) == v for k, v in self.drop.items())
            ]
        answer["warnings"] = [*answer.get("warnings", []), PARTIAL_WARNING]
        return json.dumps(answer).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                form = parse_qs(parts.query) | parse_qs(body.decode("latin-1"))
                partial_response = next(iter(form.get("partial_response", [])), None)
                status, content, kind = proxy._answer(parts.path, headers, body, parts.query,
                                                      partial_response)
                proxy._note(Seen(
                    path=parts.path, status=status,
                    tenant=headers.get(proxy.tenant_header.lower()),
                    partial_response=partial_response,
                ))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per query would drown the test output

        return Handler


@contextmanager
def reverse_proxy(upstream: str, **kwargs: Any) -> Iterator[ReverseProxy]:
    """A started ``ReverseProxy``, stopped on the way out."""
    with ReverseProxy(upstream, **kwargs) as proxy:
        yield proxy
