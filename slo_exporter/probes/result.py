"""What a probe returns, the closed set of failure reasons, and the deadline.

Owns ``ProbeResult``, the ``REASONS`` vocabulary (used as a metric label, so
it is closed and stable), the overall ``Deadline`` every probe module checks
before each blocking call, and the mapping from exceptions to a reason,
including the exceptions that say the daemon itself ran out of something.
It must not do I/O.

Two reasons are not the target's doing (``SELF_REASONS``): the probe says
nothing about the target, so it is not an event of the target's SLO.

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
``other``              anything unexpected (a bug: the detail says what; the
                       runner logs it as ``probe_crashed`` with a traceback)
``resource_exhausted`` self error: the daemon ran out of file descriptors,
                       memory, socket buffers or threads
``probe_late``         self error: the probe could only start more than its
                       interval (or timeout, if longer) after it was due (the
                       probe pool is saturated); it was not run
=====================  =====================================================
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from slo_exporter.redact import scrub

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
    "resource_exhausted",
    "probe_late",
)

#: Failures of the daemon itself: never an event of the target.
SELF_REASONS: frozenset[str] = frozenset(("resource_exhausted", "probe_late"))

# Local resources the kernel refuses us when the daemon is exhausted: they
# say nothing about the target (a peer cannot make our socket() fail).
_RESOURCE_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS))
_RESOURCE_GAI = frozenset(
    code for code in (getattr(socket, "EAI_MEMORY", None),) if code is not None
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

    @property
    def self_error(self) -> bool:
        """True when the daemon, not the target, made the probe fail."""
        return self.reason in SELF_REASONS


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


def self_error(exc: BaseException) -> ProbeFailed | None:
    """``resource_exhausted`` when ``exc`` says the daemon ran out of something, else None."""
    if isinstance(exc, MemoryError):
        return ProbeFailed("resource_exhausted", "out of memory")
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return ProbeFailed("resource_exhausted", f"cannot start a thread: {exc}")
    if isinstance(exc, ssl.SSLError):  # its errno is an SSL error code, not errno
        return None
    if isinstance(exc, socket.gaierror):
        if exc.errno in _RESOURCE_GAI:
            return ProbeFailed("resource_exhausted", f"resolver: {exc}")
        return None
    if isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS:
        return ProbeFailed("resource_exhausted", str(exc))
    return None


def classify_os_error(exc: OSError) -> ProbeFailed:
    """The reason a socket or TLS error stands for."""
    exhausted = self_error(exc)
    if exhausted is not None:
        return exhausted
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


@dataclass
class Progress:
    """What a probe learnt before its verdict; reported even when it fails."""

    cert_not_after: float | None = None  # the earliest leaf expiry seen
    status_code: int | None = None  # the last HTTP status seen

    def saw_cert(self, not_after: float | None) -> None:
        if not_after is not None and (
            self.cert_not_after is None or not_after < self.cert_not_after
        ):
            self.cert_not_after = not_after


def failed(exc: ProbeFailed, duration: float, progress: Progress | None = None) -> ProbeResult:
    """The result for ``exc``; its detail is scrubbed, since it ends up in logs."""
    progress = progress or Progress()
    return ProbeResult(
        success=False,
        duration=duration,
        reason=exc.reason,
        detail=scrub(exc.detail),
        status_code=exc.status_code if exc.status_code is not None else progress.status_code,
        cert_not_after=progress.cert_not_after,
    )
