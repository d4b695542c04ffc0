"""The http/https probe: a minimal HTTP/1.1 client built for probing.

Owns one probe of a ``model.HTTPProbe``: a fresh connection per request
(``Connection: close``; keep-alive would hide connect and TLS failures), one
overall deadline over resolution, connect, TLS, sending, headers and body,
a body read of at most ``body_size_limit`` bytes (kept in memory only when a
regexp needs it; a larger body fails the probe, as in blackbox_exporter), and
redirects followed by hand with loop detection, and credentials (configured
auth and credential headers) sent only to the configured origin. It raises
``ProbeFailed`` on failure and leaves the result to the runner. It must not
retry or pool connections.

A general-purpose client (``requests``, ``http.client``) bounds only each
socket read, so a server trickling one byte at a time keeps it busy forever,
and it costs more CPU per probe than this client does.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from slo_exporter import model
from slo_exporter.probes import net
from slo_exporter.probes.env import ProbeEnv
from slo_exporter.probes.result import (
    Deadline,
    ProbeFailed,
    Progress,
    classify_os_error,
    self_error,
)
from slo_exporter.redact import is_secret_header, read_secret_file, redact_url

USER_AGENT = "slo-exporter-probe"
REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))
#: a status line plus headers larger than this is not a sane probe target
MAX_HEAD_BYTES = 64 * 1024
_CHUNK = 64 * 1024


@dataclass
class _Response:
    status: int
    location: str | None
    body: bytes | None  # None unless a regexp needs it


def probe_http(
    target: model.HTTPProbe, deadline: Deadline, progress: Progress, env: ProbeEnv
) -> None:
    """Probe ``target`` once; returns if it succeeded, raises ``ProbeFailed`` if not."""
    url = target.url
    method = target.method.upper()
    body = target.body.encode() if target.body is not None else None
    auth = _authorization(target)
    headers, send_auth = target.headers, auth
    keep_body = bool(target.fail_if_body_matches_regexp or target.fail_if_body_not_matches_regexp)
    seen = {url}
    while True:
        resp = _exchange(
            url, method, body, target,
            headers=headers, auth=send_auth,
            keep_body=keep_body, deadline=deadline, progress=progress, env=env,
        )
        if not (target.follow_redirects and resp.status in REDIRECT_CODES and resp.location):
            break
        next_url = urljoin(url, resp.location)
        if next_url in seen:
            raise ProbeFailed(
                "redirect_loop",
                f"{redact_url(url)} redirects to {redact_url(next_url)}, seen before",
            )
        if len(seen) > target.max_redirects:
            raise ProbeFailed("too_many_redirects", f"more than {target.max_redirects}")
        seen.add(next_url)
        if resp.status == 303 or (resp.status in (301, 302) and method == "POST"):
            method, body = "GET", None
        url = next_url
        # Credentials go only to the origin configured, as requests, browsers
        # and Go do: a redirect elsewhere (another host, port or scheme, https
        # to http included) must not receive a token meant for the first.
        if _origin(url) == _origin(target.url):
            headers, send_auth = target.headers, auth
        else:
            headers = {k: v for k, v in target.headers.items() if not is_secret_header(k)}
            send_auth = None

    valid = target.valid_status_codes
    if (resp.status not in valid) if valid else not 200 <= resp.status < 300:
        raise ProbeFailed("status_code", f"status {resp.status}")
    https = url.startswith("https:")
    if target.fail_if_ssl and https:
        raise ProbeFailed("ssl", f"{redact_url(url)} is https")
    if target.fail_if_not_ssl and not https:
        raise ProbeFailed("not_ssl", f"{redact_url(url)} is not https")
    if keep_body:
        _check_body(target, (resp.body or b"").decode("utf-8", "replace"))


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _authorization(target: model.HTTPProbe) -> str | None:
    """The Authorization header value; files are read on every probe so rotation works."""
    try:
        if target.bearer_token_file:
            return f"Bearer {read_secret_file(target.bearer_token_file)}"
        if target.basic_auth is not None:
            ba = target.basic_auth
            password = ba.password or ""
            if ba.password_file:
                password = read_secret_file(ba.password_file, lambda text: text.rstrip("\r\n"))
            token = base64.b64encode(f"{ba.username}:{password}".encode()).decode("ascii")
            return f"Basic {token}"
    except OSError as exc:
        failure = self_error(exc) or ProbeFailed("config_error", f"reading credentials: {exc}")
        raise failure from exc
    return None


def _check_body(target: model.HTTPProbe, text: str) -> None:
    try:
        for pattern in target.fail_if_body_matches_regexp:
            if re.search(pattern, text):
                raise ProbeFailed("body_regexp", f"body matches {pattern!r}")
        for pattern in target.fail_if_body_not_matches_regexp:
            if not re.search(pattern, text):
                raise ProbeFailed("body_regexp", f"body does not match {pattern!r}")
    except re.error as exc:
        raise ProbeFailed("config_error", f"bad regexp: {exc}") from exc


def _request_bytes(
    method: str,
    *,
    host_header: str,
    path: str,
    body: bytes | None,
    headers: Mapping[str, str],
    auth: str | None,
) -> bytes:
    fixed = {
        "host": ("Host", host_header),
        "user-agent": ("User-Agent", USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    if auth is not None:
        fixed["authorization"] = ("Authorization", auth)
    for name, value in headers.items():  # configured headers win over defaults
        fixed[name.lower()] = (name, value)
    fixed["connection"] = ("Connection", "close")
    if body is not None:
        fixed["content-length"] = ("Content-Length", str(len(body)))
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in fixed.values()]
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:  # the text itself may be a secret: never echo it
        raise ProbeFailed(
            "config_error", "the method, URL path or a header value is not latin-1 text"
        ) from exc
    return head + body if body else head


def _exchange(
    url: str,
    method: str,
    body: bytes | None,
    target: model.HTTPProbe,
    *,
    headers: Mapping[str, str],
    auth: str | None,
    keep_body: bool,
    deadline: Deadline,
    progress: Progress,
    env: ProbeEnv,
) -> _Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProbeFailed("config_error", f"not an http(s) URL: {redact_url(url)!r}")
    https = parts.scheme == "https"
    try:
        port = parts.port or (443 if https else 80)
    except ValueError as exc:
        raise ProbeFailed("config_error", f"bad port in {redact_url(url)!r}") from exc
    host = parts.hostname
    host_header = parts.netloc.rpartition("@")[2]
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    request = _request_bytes(
        method, host_header=host_header, path=path, body=body, headers=headers, auth=auth
    )

    sock = net.connect(host, port, deadline)
    try:
        if https:
            ctx = env.tls_context(target.tls)
            info = net.handshake(sock, ctx, target.tls.server_name or host, deadline)
            sock = info.sock
            progress.saw_cert(info.cert_not_after)
        try:
            sock.settimeout(deadline.remaining())
            sock.sendall(request)
        except OSError as exc:
            raise classify_os_error(exc) from exc
        reader = net.Reader(sock, deadline)
        status, response_headers = _read_head(reader)
        progress.status_code = status
        location = response_headers.get(b"location")
        if target.follow_redirects and status in REDIRECT_CODES and location:
            # The next hop is a new connection; this body is never needed.
            return _Response(status, location.decode("latin-1"), None)
        data = _read_body(
            reader, method, status, response_headers, limit=target.body_size_limit, keep=keep_body
        )
        return _Response(status, None, data)
    finally:
        sock.close()


def _read_head(reader: net.Reader) -> tuple[int, dict[bytes, bytes]]:
    """Status and the few headers a probe needs; 1xx interim responses are skipped."""
    while True:
        head = reader.read_until(b"\r\n\r\n", MAX_HEAD_BYTES)
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code = rest[:3]
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ProbeFailed("invalid_response", f"bad status line {lines[0][:80]!r}")
        status = int(code)
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ProbeFailed("invalid_response", f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        if not 100 <= status < 200 or status == 101:
            return status, headers


def _read_body(
    reader: net.Reader,
    method: str,
    status: int,
    headers: dict[bytes, bytes],
    *,
    limit: int,
    keep: bool,
) -> bytes | None:
    """The body if ``keep``; fails with ``body_too_large`` rather than read past ``limit``."""
    if method == "HEAD" or status in (204, 304):
        return b"" if keep else None
    parts: list[bytes] | None = [] if keep else None
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        _read_chunked(reader, limit, parts)
    elif b"content-length" in headers:
        try:
            length = int(headers[b"content-length"])
        except ValueError as exc:
            raise ProbeFailed("invalid_response", "bad Content-Length") from exc
        if length > limit:
            raise ProbeFailed("body_too_large", f"Content-Length {length} > limit {limit}")
        got = _read_n(reader, length, parts)
        if got < length:
            raise ProbeFailed("connection_closed", f"body ended after {got} of {length} bytes")
    # Otherwise the server closing the connection ends the body; one byte
    # past the limit tells "too large" from "exactly the limit".
    elif _read_n(reader, limit + 1, parts) > limit:
        raise ProbeFailed("body_too_large", f"body exceeds the limit of {limit} bytes")
    return b"".join(parts) if parts is not None else None


def _read_n(reader: net.Reader, n: int, keep: list[bytes] | None) -> int:
    """Read up to ``n`` bytes (fewer only at EOF); returns how many."""
    got = 0
    while got < n:
        if keep is None:
            step = reader.skip(min(n - got, _CHUNK))
        else:
            data = reader.read_some(min(n - got, _CHUNK))
            keep.append(data)
            step = len(data)
        if not step:
            break
        got += step
    return got


def _read_chunked(reader: net.Reader, limit: int, keep: list[bytes] | None) -> None:
    """Decode a chunked body; fails as soon as it grows past ``limit`` bytes."""
    total = 0
    while True:
        line = reader.read_until(b"\r\n", 4096)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise ProbeFailed("invalid_response", f"bad chunk size {line[:40]!r}") from exc
        if size == 0:
            return  # trailers are not needed; the connection is closed next
        if total + size > limit:
            raise ProbeFailed("body_too_large", f"body exceeds the limit of {limit} bytes")
        got = _read_n(reader, size, keep)
        total += got
        if got < size:
            raise ProbeFailed("connection_closed", "chunked body ended early")
        reader.read_until(b"\r\n", 2)
