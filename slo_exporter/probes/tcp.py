"""The tcp probe: connect, optionally over TLS, optionally send and expect.

Owns one probe of a ``model.TCPProbe``. ``send`` is written after connecting;
``expect`` is a regexp searched in the bytes received, read under the overall
deadline and at most ``MAX_EXPECT_BYTES``. It must not keep connections open.
"""

from __future__ import annotations

import re

from slo_exporter import model
from slo_exporter.probes import net
from slo_exporter.probes.env import ProbeEnv
from slo_exporter.probes.result import Deadline, ProbeFailed, Progress, classify_os_error

#: bytes searched for ``expect`` before giving up; banners are small
MAX_EXPECT_BYTES = 64 * 1024


def probe_tcp(
    target: model.TCPProbe, deadline: Deadline, progress: Progress, env: ProbeEnv
) -> None:
    """Probe ``target`` once; returns if it succeeded, raises ``ProbeFailed`` if not."""
    host, port = net.split_host_port(target.address)
    sock = net.connect(host, port, deadline)
    try:
        if target.tls:
            ctx = env.tls_context(target.tls_config)
            info = net.handshake(sock, ctx, target.tls_config.server_name or host, deadline)
            sock = info.sock
            progress.saw_cert(info.cert_not_after)
        _converse(target, net.Reader(sock, deadline))
    finally:
        sock.close()


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
