"""The tcp probe: connect, optionally over TLS, optionally send and expect.

Owns one probe of a ``model.TCPProbe``. ``send`` is written after connecting;
``expect`` is a regexp searched in the bytes received, read under the overall
deadline and at most ``MAX_EXPECT_BYTES``. It must not keep connections open.
"""

from __future__ import annotations

import re
import time

from slo_exporter import model
from slo_exporter.probes import net
from slo_exporter.probes.result import (
    OK,
    Clock,
    Deadline,
    ProbeFailed,
    ProbeResult,
    classify_os_error,
    failed,
)

#: bytes searched for ``expect`` before giving up; banners are small
MAX_EXPECT_BYTES = 64 * 1024


def probe_tcp(
    target: model.TCPProbe,
    timeout: float,
    *,
    clock: Clock = time.monotonic,
    wall: Clock = time.time,
) -> ProbeResult:
    """Probe ``target`` once; the result is ready within ``timeout`` seconds."""
    del wall  # certificate expiry fails only the tls probe
    deadline = Deadline(timeout, clock)
    not_after: float | None = None
    try:
        host, port = net.split_host_port(target.address)
        sock = net.connect(host, port, deadline)
        try:
            if target.tls:
                info = net.handshake(sock, target.tls_config, host, deadline)
                sock, not_after = info.sock, info.cert_not_after
            _converse(target, net.Reader(sock, deadline))
        finally:
            sock.close()
    except ProbeFailed as exc:
        return failed(exc, deadline.elapsed(), not_after)
    except Exception as exc:  # a bug must cost one bad event, not the worker thread
        return failed(ProbeFailed("other", repr(exc)), deadline.elapsed(), not_after)
    return ProbeResult(True, deadline.elapsed(), OK, "", None, not_after)


def _converse(target: model.TCPProbe, reader: net.Reader) -> None:
    if target.send is not None:
        try:
            reader.sock.settimeout(reader.deadline.remaining())
            reader.sock.sendall(target.send.encode())
        except OSError as exc:
            raise classify_os_error(exc) from exc
    if target.expect is None:
        return
    try:
        pattern = re.compile(target.expect.encode())
    except re.error as exc:
        raise ProbeFailed("config_error", f"bad expect regexp: {exc}") from exc
    while not pattern.search(reader.buf):
        if len(reader.buf) >= MAX_EXPECT_BYTES:
            raise ProbeFailed("expect_mismatch", f"no match in {MAX_EXPECT_BYTES} bytes")
        if not reader.fill():
            raise ProbeFailed(
                "expect_mismatch", f"closed after {len(reader.buf)} bytes without a match"
            )
