"""The tls probe: connect, handshake, report the leaf certificate's expiry.

Owns one probe of a ``model.TLSProbe``. The handshake verifies against the
CA of ``tls_config``; an expired certificate fails with ``cert_expired`` even
when ``insecure_skip_verify`` is set, because reporting expiry is the point
of this probe. It must not send application data.
"""

from __future__ import annotations

import dataclasses
import ssl

from slo_exporter import model
from slo_exporter.probes import net
from slo_exporter.probes.env import ProbeEnv
from slo_exporter.probes.result import Deadline, ProbeFailed, Progress


def probe_tls(
    target: model.TLSProbe, deadline: Deadline, progress: Progress, env: ProbeEnv
) -> None:
    """Handshake with ``target`` once; raises ``ProbeFailed`` if it fails."""
    cfg = target.tls_config
    host, port = net.split_host_port(target.address)
    server_name = cfg.server_name or host
    try:
        sock = net.connect(host, port, deadline)
        info = net.handshake(sock, env.tls_context(cfg), server_name, deadline)
    except ProbeFailed as exc:
        if exc.reason == "cert_expired":
            # Verification stops before the certificate is readable; one
            # unverified handshake reads when it expired, for the gauge.
            unverified = env.tls_context(dataclasses.replace(cfg, insecure_skip_verify=True))
            progress.saw_cert(_not_after(unverified, host, port, server_name, deadline))
        raise
    info.sock.close()
    progress.saw_cert(info.cert_not_after)
    not_after = info.cert_not_after
    if not_after is not None and not_after <= env.wall():
        raise ProbeFailed("cert_expired", f"certificate expired at {not_after:.0f}")


def _not_after(
    ctx: ssl.SSLContext, host: str, port: int, server_name: str, deadline: Deadline
) -> float | None:
    try:
        info = net.handshake(net.connect(host, port, deadline), ctx, server_name, deadline)
    except ProbeFailed:
        return None
    info.sock.close()
    return info.cert_not_after
