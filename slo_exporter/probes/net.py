"""Socket plumbing shared by the probe modules, all under one overall deadline.

Owns name resolution with a deadline, connecting, TLS handshakes, reading
the leaf certificate's expiry, and a small buffered reader. Every blocking
call gets only the time left on the probe's ``Deadline``. It must not know
any protocol above TCP/TLS, and keeps no state: TLS contexts come from the
caller's ``ProbeEnv``.
"""

from __future__ import annotations

import calendar
import ipaddress
import os
import socket
import ssl
import threading
from dataclasses import dataclass

from slo_exporter.probes.result import Deadline, ProbeFailed, classify_os_error, self_error

Addr = tuple[socket.AddressFamily, tuple[str, int]]


def split_host_port(address: str, default_port: int | None = None) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or (with a default port) a bare host."""
    host, sep, port = address.rpartition(":")
    if address.startswith("[") and "]" in address:
        bracket = address.index("]")
        host = address[1:bracket]
        rest = address[bracket + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
        sep = ":" if port else ""
    elif not sep or ":" in host:  # no port, or a bare IPv6 address
        host, port = address, ""
    if not port:
        if default_port is None:
            raise ProbeFailed("config_error", f"address {address!r} has no port")
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ProbeFailed("config_error", f"address {address!r} has an invalid port")
    return host, int(port)


def resolve(host: str, port: int, deadline: Deadline) -> list[Addr]:
    """Addresses for ``host``; IP literals skip the resolver entirely.

    ``getaddrinfo`` takes no timeout, so a name is resolved on a short-lived
    daemon thread and abandoned if the deadline passes first.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [(family, (host, port))]
    box: list[list[Addr] | Exception] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            box.append([(fam, (str(sa[0]), int(sa[1]))) for fam, _, _, _, sa in infos])
        except (OSError, UnicodeError) as exc:  # IDNA rejects malformed names
            box.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="probe-resolve", daemon=True).start()
    if not done.wait(deadline.remaining()):
        raise ProbeFailed("timeout", f"resolving {host}")
    answer = box[0]
    if isinstance(answer, Exception):
        # Out of descriptors, glibc cannot read /etc/hosts and reports the
        # name unknown: a resolve error is only the target's when we could
        # have opened a file.
        raise (
            self_error(answer)
            or _out_of_descriptors()
            or ProbeFailed("resolve_error", f"{host}: {answer}")
        )
    if not answer:
        raise ProbeFailed("resolve_error", f"{host}: no addresses")
    return answer


def _out_of_descriptors() -> ProbeFailed | None:
    """``resource_exhausted`` if this process cannot open a file right now."""
    try:
        fd = os.open(os.devnull, os.O_RDONLY)
    except OSError as exc:
        return self_error(exc)
    os.close(fd)
    return None


def connect(host: str, port: int, deadline: Deadline) -> socket.socket:
    """A connected TCP socket to the first address of ``host`` that accepts."""
    last: ProbeFailed | None = None
    for family, sockaddr in resolve(host, port, deadline):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:  # e.g. an IPv6 address on a host without IPv6
            last = classify_os_error(exc)
            continue
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = classify_os_error(exc)
            continue
        except ProbeFailed:
            sock.close()
            raise
        return sock
    assert last is not None  # resolve() never returns an empty list
    raise last


@dataclass(frozen=True)
class TLSInfo:
    sock: ssl.SSLSocket
    cert_not_after: float | None


def handshake(
    sock: socket.socket, ctx: ssl.SSLContext, server_name: str, deadline: Deadline
) -> TLSInfo:
    """Wrap ``sock`` in TLS and finish the handshake before the deadline.

    CPython bounds one ``do_handshake`` call by the socket timeout as a whole,
    so setting it to the time left makes the handshake obey the deadline.
    """
    try:
        tls = ctx.wrap_socket(sock, server_hostname=server_name, do_handshake_on_connect=False)
    except (OSError, ValueError) as exc:
        sock.close()
        raise (self_error(exc) or ProbeFailed("tls_error", str(exc))) from exc
    try:
        tls.settimeout(deadline.remaining())
        tls.do_handshake()
    except OSError as exc:
        tls.close()
        raise classify_os_error(exc) from exc
    except ProbeFailed:
        tls.close()
        raise
    der = tls.getpeercert(binary_form=True)
    return TLSInfo(tls, cert_not_after(der) if der else None)


# ------------------------------------------------------- certificate expiry


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    head = 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos + 2 : pos + 2 + n], "big")
        head += n
    return tag, pos + head, pos + head + length


def cert_not_after(der: bytes) -> float | None:
    """The notAfter of a DER certificate, epoch seconds; None if unparsable.

    The stdlib decodes certificates only after verification succeeded; this
    reads the one field needed even when verification is off.
    """
    try:
        _, cert, _ = _tlv(der, 0)
        _, pos, _ = _tlv(der, cert)  # tbsCertificate
        if der[pos] == 0xA0:  # explicit [0] version
            pos = _tlv(der, pos)[2]
        for _ in range(3):  # serialNumber, signature, issuer
            pos = _tlv(der, pos)[2]
        _, validity, _ = _tlv(der, pos)
        not_before_end = _tlv(der, validity)[2]
        tag, start, end = _tlv(der, not_before_end)
        text = der[start:end].decode("ascii").rstrip("Z")
        if tag == 0x17:  # UTCTime, two-digit year (RFC 5280: 50-99 is 19xx)
            year = int(text[:2])
            text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
        elif tag != 0x18:  # GeneralizedTime
            return None
        parts = (text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])
        return float(calendar.timegm((*(int(p) for p in parts), 0, 0, 0)))
    except (IndexError, ValueError):
        return None


# -------------------------------------------------------------- reading


class Reader:
    """Buffered reads from a socket, each bounded by the deadline's time left."""

    __slots__ = ("buf", "deadline", "eof", "sock")

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buf = bytearray()
        self.eof = False

    def fill(self) -> bool:
        """Append what one read returns; False at end of stream."""
        if self.eof:
            return False
        self.sock.settimeout(self.deadline.remaining())
        try:
            data = self.sock.recv(65536)
        except OSError as exc:
            raise classify_os_error(exc) from exc
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, sep: bytes, limit: int) -> bytes:
        """Bytes before ``sep`` (consumed); fails past ``limit`` bytes or at EOF."""
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise ProbeFailed("invalid_response", f"no {sep!r} within {limit} bytes")
            start = max(0, len(self.buf) - len(sep) + 1)
            if not self.fill():
                raise ProbeFailed("connection_closed", "closed before the response was complete")

    def skip(self, n: int) -> int:
        """Consume and drop up to ``n`` bytes; 0 only at EOF."""
        if not self.buf and not self.fill():
            return 0
        taken = min(n, len(self.buf))
        del self.buf[:taken]
        return taken

    def read_some(self, n: int) -> bytes:
        """Up to ``n`` bytes (at least one unless at EOF)."""
        if not self.buf and not self.fill():
            return b""
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out
