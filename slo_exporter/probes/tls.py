"""The tls probe: connect, handshake, report the leaf certificate's expiry.

Owns one probe of a ``model.TLSProbe``. The handshake verifies against the
CA of ``tls_config``; an expired certificate fails with ``cert_expired`` even
when ``insecure_skip_verify`` is set, because reporting expiry is the point
of this probe. It must not send application data.
"""

from __future__ import annotations

import dataclasses
import time

from slo_exporter import model
from slo_exporter.probes import net
from slo_exporter.probes.result import OK, Clock, Deadline, ProbeFailed, ProbeResult, failed


def probe_tls(
    target: model.TLSProbe,
    timeout: float,
    *,
    clock: Clock = time.monotonic,
    wall: Clock = time.time,
) -> ProbeResult:
    """Handshake with ``target`` once; the result is ready within ``timeout`` seconds."""
    deadline = Deadline(timeout, clock)
    not_after: float | None = None
    try:
        host, port = net.split_host_port(target.address)
        try:
            sock = net.connect(host, port, deadline)
            info = net.handshake(sock, target.tls_config, host, deadline)
        except ProbeFailed as exc:
            if exc.reason == "cert_expired":
                # Verification stops before the certificate is readable; one
                # unverified handshake reads when it expired, for the gauge.
                not_after = _unverified_not_after(target, host, port, deadline)
            raise
        info.sock.close()
        not_after = info.cert_not_after
        if not_after is not None and not_after <= wall():
            raise ProbeFailed("cert_expired", f"certificate expired at {not_after:.0f}")
    except ProbeFailed as exc:
        return failed(exc, deadline.elapsed(), not_after)
    except Exception as exc:  # a bug must cost one bad event, not the worker thread
        return failed(ProbeFailed("other", repr(exc)), deadline.elapsed(), not_after)
    return ProbeResult(True, deadline.elapsed(), OK, "", None, not_after)


def _unverified_not_after(
    target: model.TLSProbe, host: str, port: int, deadline: Deadline
) -> float | None:
    cfg = dataclasses.replace(target.tls_config, insecure_skip_verify=True)
    try:
        info = net.handshake(net.connect(host, port, deadline), cfg, host, deadline)
    except ProbeFailed:
        return None
    info.sock.close()
    return info.cert_not_after
