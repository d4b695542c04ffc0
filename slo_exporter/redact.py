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

import re
from urllib.parse import urlsplit, urlunsplit

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


def scrub(text: str) -> str:
    """``text`` with everything that looks like a credential replaced by ``<secret>``."""
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
