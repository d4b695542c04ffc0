"""What a probe returns, the closed set of failure reasons, and the deadline.

Owns ``ProbeResult``, the ``REASONS`` vocabulary (used as a metric label, so
it is closed and stable), the overall ``Deadline`` every probe module checks
before each blocking call, and the mapping from socket/TLS exceptions to a
reason. It must not do I/O.

Failure reasons:

=====================  =====================================================
``connection_refused`` the target actively refused the TCP connection
``connect_error``      any other connect failure (unreachable, reset, ...)
``resolve_error``      the host name did not resolve to an address
``timeout``            the probe's overall deadline passed
``tls_error``          TLS handshake failed (unknown CA, wrong host name, ...)
``cert_expired``       the peer certificate is past its notAfter
``connection_closed``  the peer closed or reset the connection mid-exchange
``invalid_response``   the bytes received are not a valid response
``body_too_large``     the HTTP body is longer than ``body_size_limit``
``status_code``        HTTP status not in ``valid_status_codes`` (2xx default)
``body_regexp``        a ``fail_if_body_*matches_regexp`` rule failed
``redirect_loop``      a redirect led back to a URL already visited
``too_many_redirects`` more than ``max_redirects`` redirects
``ssl``                ``fail_if_ssl`` is set and the final URL was https
``not_ssl``            ``fail_if_not_ssl`` is set and the final URL was http
``expect_mismatch``    TCP ``expect`` did not match the bytes received
``dns_nxdomain``       the DNS server answered NXDOMAIN (not in valid_rcodes)
``dns_rcode``          any other DNS rcode not in ``valid_rcodes``
``dns_no_match``       an ``expect`` regexp matched no DNS answer record
``config_error``       the probe could not be built (unreadable token file, ...)
``other``              anything unexpected (a bug: the detail says what)
=====================  =====================================================
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

OK = "ok"

#: Every value ``ProbeResult.reason`` can take; a metric label, so closed.
REASONS: tuple[str, ...] = (
    OK,
    "connection_refused",
    "connect_error",
    "resolve_error",
    "timeout",
    "tls_error",
    "cert_expired",
    "connection_closed",
    "invalid_response",
    "body_too_large",
    "status_code",
    "body_regexp",
    "redirect_loop",
    "too_many_redirects",
    "ssl",
    "not_ssl",
    "expect_mismatch",
    "dns_nxdomain",
    "dns_rcode",
    "dns_no_match",
    "config_error",
    "other",
)

# OpenSSL's X509_V_ERR_CERT_HAS_EXPIRED
_X509_CERT_HAS_EXPIRED = 10


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe: one good or bad event for its SLO."""

    success: bool
    duration: float  # seconds, from the start of the probe to its verdict
    reason: str  # "ok" or one of REASONS
    detail: str = ""  # human-readable context for logs; never a label
    status_code: int | None = None  # final HTTP status, when there was one
    cert_not_after: float | None = None  # leaf certificate expiry, epoch seconds


class ProbeFailed(Exception):
    """Raised inside a probe module to stop with ``reason``; never leaves the package.

    Probe modules catch it at their top level and return a failed
    ``ProbeResult``; callers of the package only ever see results.
    """

    def __init__(self, reason: str, detail: str = "", *, status_code: int | None = None) -> None:
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        self.status_code = status_code
        super().__init__(f"{reason}: {detail}")


class Deadline:
    """One overall deadline for a probe, checked before every blocking call.

    Socket timeouts alone reset on every byte; a server that trickles one byte
    per second would keep a probe alive forever. Each blocking call instead
    gets only the time left until this deadline.
    """

    __slots__ = ("_clock", "end", "start")

    def __init__(self, timeout: float, clock: Clock = time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError(f"probe timeout must be positive, got {timeout!r}")
        self._clock = clock
        self.start = clock()
        self.end = self.start + timeout

    def remaining(self) -> float:
        """Seconds left; raises ``ProbeFailed('timeout')`` when none are."""
        left = self.end - self._clock()
        if left <= 0:
            raise ProbeFailed("timeout", "deadline passed")
        return left

    def elapsed(self) -> float:
        return self._clock() - self.start


def classify_os_error(exc: OSError) -> ProbeFailed:
    """The reason a socket or TLS error stands for."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if exc.verify_code == _X509_CERT_HAS_EXPIRED:
            return ProbeFailed("cert_expired", exc.verify_message or str(exc))
        return ProbeFailed("tls_error", exc.verify_message or str(exc))
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ProbeFailed("connection_closed", str(exc))
    if isinstance(exc, ssl.SSLError):
        return ProbeFailed("tls_error", exc.reason or str(exc))
    if isinstance(exc, TimeoutError):  # socket.timeout is an alias since 3.10
        return ProbeFailed("timeout", str(exc) or "timed out")
    if isinstance(exc, socket.gaierror):
        return ProbeFailed("resolve_error", str(exc))
    if isinstance(exc, ConnectionRefusedError):
        return ProbeFailed("connection_refused", str(exc))
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return ProbeFailed("connection_closed", str(exc))
    return ProbeFailed("connect_error", str(exc))


def failed(exc: ProbeFailed, duration: float, cert_not_after: float | None = None) -> ProbeResult:
    return ProbeResult(
        success=False,
        duration=duration,
        reason=exc.reason,
        detail=exc.detail,
        status_code=exc.status_code,
        cert_not_after=cert_not_after,
    )
