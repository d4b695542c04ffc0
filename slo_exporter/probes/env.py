"""What one prober keeps between probes: TLS contexts and the system name server.

Owns the caches that make probing cheap: an ``ssl.SSLContext`` per distinct
``TLSConfig`` (loading a CA store costs milliseconds) and the first name
server of the system resolver configuration (reading it costs more than a
DNS query). They belong to one ``ProbeEnv`` instance, never to the module:
each ``ProbeScheduler`` builds its own, so a config reload, which builds a
new scheduler, reads rotated CA files and a changed resolv.conf again.

It must not probe, and must not read any file before a probe asks for it.
"""

from __future__ import annotations

import ssl
import threading
import time

import dns.exception
import dns.resolver

from slo_exporter import model
from slo_exporter.probes.result import Clock, ProbeFailed, self_error

#: distinct TLS configs kept; a config holds far fewer
_MAX_CONTEXTS = 256


class ProbeEnv:
    """TLS contexts, the system name server and the clocks of one prober."""

    def __init__(self, *, clock: Clock = time.monotonic, wall: Clock = time.time) -> None:
        self.clock = clock
        self.wall = wall
        self._lock = threading.Lock()
        self._contexts: dict[model.TLSConfig, ssl.SSLContext] = {}
        self._nameserver: str | None = None

    def tls_context(self, cfg: model.TLSConfig) -> ssl.SSLContext:
        """The context for ``cfg``, built on first use and then reused."""
        with self._lock:
            ctx = self._contexts.get(cfg)
        if ctx is not None:
            return ctx
        ctx = _build_context(cfg)  # outside the lock: it reads files
        with self._lock:
            if len(self._contexts) >= _MAX_CONTEXTS:
                self._contexts.clear()
            return self._contexts.setdefault(cfg, ctx)

    def system_nameserver(self) -> str:
        """The first name server of the system configuration, read once."""
        if self._nameserver is None:
            try:
                servers = [str(s) for s in dns.resolver.Resolver(configure=True).nameservers]
            except OSError as exc:
                raise self_error(exc) or ProbeFailed("config_error", str(exc)) from exc
            except dns.exception.DNSException as exc:  # no usable resolv.conf
                raise ProbeFailed("config_error", f"system resolver: {exc}") from exc
            if not servers:
                raise ProbeFailed("config_error", "the system has no DNS name server configured")
            self._nameserver = servers[0]
        return self._nameserver


def _build_context(cfg: model.TLSConfig) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=cfg.ca_file)
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except OSError as exc:  # ssl.SSLError included
        raise self_error(exc) or ProbeFailed("config_error", f"loading TLS files: {exc}") from exc
    if cfg.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
