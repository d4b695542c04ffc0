"""Scrubbing of credentials from text that leaves the process.

Owns the one place that decides what looks like a secret in free text: the
password of a URL (``scheme://user:password@host``), ``Authorization``-style
header values, bearer tokens and ``key=value`` pairs whose key names a
credential. Error text that came from outside (a Prometheus answer, an
exception message) passes through ``scrub`` before it reaches a log line,
the API or a page.

Must not log, and must not be the only defence: secrets should not reach
text in the first place. This catches what slips through.
"""

from __future__ import annotations

import contextlib
import errno
import re
import threading
from collections.abc import Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from slo_exporter.model import BasicAuth, Config, HTTPProbe

#: what replaces a secret
MASK = "<secret>"

_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/\s:@]*):[^/\s@]*@")
_AUTH_HEADER = re.compile(
    r"(?i)\b(?P<name>authorization|proxy-authorization|x-api-key|api-key|x-auth-token|cookie"
    r"|set-cookie)(?P<sep>\"?\s*[:=]\s*\"?)(?P<value>[^\"\r\n,;}]+)"
)
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}")
_KEY_VALUE = re.compile(
    r"(?i)\b(?P<key>[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key"
    r"|credential)[A-Za-z0-9_.-]*)(?P<sep>\"?\s*[=:]\s*\"?)(?P<value>[^\s\"&,;}]+)"
)


#: secrets shorter than this are not searched for: masking every "ab" in a
#: log line would hide more than it protects
MIN_SECRET_LENGTH = 4
#: header names whose values are credentials: masked in text, and never sent
#: on by a probe whose redirect leaves the configured origin
_SECRET_HEADER = re.compile(r"(?i)auth|token|key|secret|cookie|session|passw|credential")



class _Known:
    """The secret values seen so far; replaced whole, so readers need no lock."""

    def __init__(self) -> None:
        self.values: tuple[str, ...] = ()  # longest first, so a secret inside another goes too
        self.lock = threading.Lock()


_KNOWN = _Known()


def remember(*secrets: str | None) -> None:
    """Add configured secret values to those ``scrub`` masks wherever they appear.

    Process-wide on purpose: a secret must stay masked in every log line and
    page, whichever part of the process wrote it. Values are never forgotten
    (a reload may remove a secret from the config while old text still holds it).
    """
    fresh = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
    if fresh.issubset(_KNOWN.values):  # the common case: a file read again, unchanged
        return
    with _KNOWN.lock:
        _KNOWN.values = tuple(sorted(set(_KNOWN.values) | fresh, key=len, reverse=True))


def is_secret_header(name: str) -> bool:
    """True for header names that carry credentials (Authorization, X-Api-Key, ...)."""
    return bool(_SECRET_HEADER.search(name))


def scrub(text: str) -> str:
    """``text`` with everything that looks like a credential replaced by ``<secret>``."""
    for secret in _KNOWN.values:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _AUTH_HEADER.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m['scheme']} {MASK}", text)
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)


def redact_url(url: str) -> str:
    """``url`` with the password of its user info (if any) replaced by ``<secret>``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{parts.username or ''}:{MASK}@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub_event(
    _logger: object, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: every string in a log event goes through ``scrub``."""
    return {key: _scrub_value(value) for key, value in event.items()}


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(v) for v in value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return scrub(str(value))
    return value


#: secret files are small; a larger one is not read into the mask list
_SECRET_FILE_LIMIT = 64 << 10


def remember_config(config: Config) -> None:
    """Remember every secret a configuration holds or points at (files read once here).

    Files are read again by the clients at each use (rotation); those reads
    remember the new value too.
    """
    prom = config.prometheus
    values: list[str | None] = [*_auth_secrets(prom.basic_auth, prom.bearer_token_file)]
    values += [v for k, v in prom.headers.items() if is_secret_header(k)]
    values.append(_userinfo_password(prom.url))
    for slo in config.slos:
        target = getattr(slo.sli, "target", None)
        if isinstance(target, HTTPProbe):
            values += _auth_secrets(target.basic_auth, target.bearer_token_file)
            values += [v for k, v in target.headers.items() if is_secret_header(k)]
            values.append(_userinfo_password(target.url))
    for value in list(values):
        if value and value.lower().startswith(("bearer ", "basic ")):
            values.append(value.split(None, 1)[1])
    remember(*values)


def read_secret_file(path: str, trim: Callable[[str], str] = str.strip) -> str:
    """The content of a secret file (a token, a password), trimmed and remembered
    for masking; the one reader of secret files, so every client reads them alike.

    Raises ``OSError`` with a readable ``strerror`` when the file cannot be read,
    is larger than 64 KiB (no credential is; a log or a device is) or is not UTF-8.
    """
    with open(path, "rb") as handle:
        raw = handle.read(_SECRET_FILE_LIMIT + 1)
    if len(raw) > _SECRET_FILE_LIMIT:
        raise OSError(errno.EFBIG, "larger than 64 KiB, not a secret file", path)
    try:
        value = trim(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise OSError(errno.EILSEQ, "not UTF-8 text", path) from None
    remember(value)
    return value


def _auth_secrets(auth: BasicAuth | None, bearer_file: str | None) -> list[str | None]:
    out: list[str | None] = []
    files = [bearer_file]
    if auth is not None:
        out.append(auth.password)
        files.append(auth.password_file)
    for path in files:
        # an unreadable file is reported by the client when it needs it
        if path:
            with contextlib.suppress(OSError):
                out.append(read_secret_file(path))
    return out


def _userinfo_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None
