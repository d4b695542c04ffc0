"""Grammar of the short texts a config holds: host:port, URLs, header and label names.

Each ``*_problem`` function returns why a text is not acceptable (or None), in
words a message can carry after the field path. What passes here can be put
on the wire as is: URLs are plain ASCII, header values are single-line
Latin-1, as HTTP/1.1 sends them.
``shorten`` cuts a long text to the length a message quotes.

Must not echo secrets: a reason never quotes a URL's password or a header
value. Must not know where in a config a text was found.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

#: labels the exporter sets on its own series; user labels must not clash
RESERVED_LABELS = ("alerting", "le", "result", "service", "severity", "slo", "window")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
#: an HTTP header field name (RFC 9110 token)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?")
#: the longest DNS name and label; the IDNA codec every connection passes a
#: host name through refuses longer ones, and empty labels
_MAX_NAME, _MAX_LABEL = 253, 63
#: bytes a header value must not hold: controls other than tab, and DEL
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: header names whose values are credentials: never shown in a message
CREDENTIAL_HEADERS = frozenset(
    ("authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token")
)


def shorten(text: str, most: int = 80) -> str:
    """``text`` as a message quotes it: at most ``most`` characters, cut ones ending in ``...``."""
    return text if len(text) <= most else text[:most - 3] + "..."


def host_port_problem(text: str, *, port_required: bool) -> str | None:
    """Why ``text`` is not ``host:port`` (or ``host`` when the port is optional)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            return "an IPv6 address needs a closing ']'"
        if not is_ip(host, version=6):
            return f"{host!r} is not an IPv6 address"
        if not rest and not port_required:
            return None
        if not rest.startswith(":"):
            return "the port is missing"
        port = rest[1:]
    elif text.count(":") > 1:
        if not port_required and is_ip(text, version=6):
            return None
        return "IPv6 addresses must be written in brackets, such as [::1]:53"
    else:
        host, sep, port = text.partition(":")
        if not sep:
            return "the port is missing" if port_required else host_problem(host)
        problem = host_problem(host)
        if problem:
            return problem
    if not (port.isascii() and port.isdigit()) or len(port) > 5 or not 1 <= int(port) <= 65535:
        return "the port must be a number from 1 to 65535"
    return None


def host_problem(host: str) -> str | None:
    if not host:
        return "the host is missing"
    if not _HOSTNAME.fullmatch(host):
        return f"{host!r} is not a host name or IP address"
    return _labels_problem(host)


def server_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be sent as a TLS server name (SNI): a host name or an IP address."""
    if is_ip(name, version=4) or is_ip(name, version=6):
        return None
    if not _HOSTNAME.fullmatch(name):
        return ("must be a host name or IP address (an international name in punycode, "
                "xn--...), without port or wildcard")
    return _labels_problem(name)


def _labels_problem(host: str) -> str | None:
    """Why DNS would refuse ``host`` (never quoted: it may be hundreds of characters)."""
    name = host.removesuffix(".")
    if len(name) > _MAX_NAME:
        return f"a host name must not be longer than {_MAX_NAME} characters"
    if any(not 1 <= len(label) <= _MAX_LABEL for label in name.split(".")):
        return f"a host name's labels (between dots) must be 1 to {_MAX_LABEL} characters long"
    return None


def is_ip(text: str, *, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False


def url_problem(text: str) -> str | None:
    """Why ``text`` is not an http(s) URL with a host that can be sent as is."""
    try:
        parts = urlsplit(text)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError for a port that is not 0-65535
    except ValueError:
        valid = False
    if not valid:
        return "must be an http:// or https:// URL with a host"
    if not text.isascii() or any(c.isspace() or not c.isprintable() for c in text):
        return (
            "must be plain ASCII without spaces: percent-encode other characters "
            "(%20 for a space) and write an international host name in punycode (xn--...)"
        )
    host = parts.hostname or ""
    return None if is_ip(host, version=4) or is_ip(host, version=6) else _labels_problem(host)


def has_password(url: str) -> bool:
    """Whether ``url`` carries user info (``user:password@``)."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False


def header_name_problem(name: str) -> str | None:
    if _HEADER_NAME.fullmatch(name):
        return None
    shown = shorten(name)
    return f"invalid HTTP header name {shown!r}"


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent as a header value; never quotes the value."""
    if "\n" in value or "\r" in value:
        return "header values must be a single line"
    if _HEADER_CONTROL.search(value):
        return "header values must not hold control characters"
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "header values must be Latin-1 (ISO-8859-1) text, as HTTP/1.1 sends them"
    return None


def label_name_problem(name: str) -> str | None:
    if not LABEL_NAME.fullmatch(name):
        shown = shorten(name)
        return f"invalid label name {shown!r}: must match [a-zA-Z_][a-zA-Z0-9_]*"
    if name in RESERVED_LABELS or name.startswith("__"):
        return (
            f"label name {name!r} is reserved: the exporter sets "
            f"{', '.join(RESERVED_LABELS[:-1])} and {RESERVED_LABELS[-1]} itself, "
            "and names starting with __ belong to Prometheus"
        )
    return None


def label_value_problem(value: str) -> str | None:
    return None if value else "label values must not be empty"
