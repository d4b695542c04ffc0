"""One result envelope around every probe kind, and the rule that judges it.

Owns ``Prober`` (runs one probe of any kind and always returns a
``ProbeResult``), ``run_probe`` (the same, one-shot), ``is_good`` (the event
rule) and ``instance`` (the target as shown in labels and logs). The
envelope is the only place that turns exceptions into results: a probe
module raises ``ProbeFailed`` for a verdict; an exception that says the
daemon ran out of something becomes a ``resource_exhausted`` self error; any
other exception is a bug, logged once with its traceback as
``probe_crashed`` and reported as reason ``other``. It must not schedule,
record or export anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from slo_exporter import model
from slo_exporter.probes.dns import probe_dns
from slo_exporter.probes.env import ProbeEnv
from slo_exporter.probes.http import probe_http
from slo_exporter.probes.result import (
    OK,
    Clock,
    Deadline,
    ProbeFailed,
    ProbeResult,
    Progress,
    failed,
    self_error,
)
from slo_exporter.probes.tcp import probe_tcp
from slo_exporter.probes.tls import probe_tls
from slo_exporter.redact import redact_url

log = structlog.get_logger(__name__)

_Check = Callable[[model.ProbeTarget, Deadline, Progress, ProbeEnv], None]
_CHECKS: dict[type, _Check] = {
    model.HTTPProbe: probe_http,  # type: ignore[dict-item]  # each takes its own target type
    model.TCPProbe: probe_tcp,  # type: ignore[dict-item]
    model.TLSProbe: probe_tls,  # type: ignore[dict-item]
    model.DNSProbe: probe_dns,  # type: ignore[dict-item]
}


class Prober:
    """Runs probes of every kind with one ``ProbeEnv`` (TLS contexts, name server).

    A ``ProbeScheduler`` builds its own, so what the environment caches is
    read again after a config reload.
    """

    def __init__(self, env: ProbeEnv | None = None) -> None:
        self.env = env if env is not None else ProbeEnv()

    def run(self, sli: model.ProbeSLI, slo_key: str = "") -> ProbeResult:
        """Probe ``sli.target`` once within ``sli.timeout``; never raises.

        ``slo_key`` (``service/slo``) only names the SLO in a crash log.
        """
        check = _CHECKS.get(type(sli.target))
        if check is None:
            return failed(ProbeFailed("config_error", f"unknown probe kind {sli.module}"), 0.0)
        if not sli.timeout > 0:  # config validation should have caught it; never raise here
            bad = ProbeFailed("config_error", f"timeout must be positive: {sli.timeout}")
            return failed(bad, 0.0)
        deadline = Deadline(sli.timeout, self.env.clock)
        progress = Progress()
        try:
            check(sli.target, deadline, progress, self.env)
        except ProbeFailed as exc:
            return failed(exc, deadline.elapsed(), progress)
        except Exception as exc:  # the envelope: a bug costs one result, not a worker
            exhausted = self_error(exc)
            if exhausted is not None:
                return failed(exhausted, deadline.elapsed(), progress)
            log.exception(
                "probe_crashed", **model.SLOId.parse(slo_key).log_fields, module=sli.module,
                instance=instance(sli),
            )
            return failed(ProbeFailed("other", repr(exc)), deadline.elapsed(), progress)
        return ProbeResult(
            success=True,
            duration=deadline.elapsed(),
            reason=OK,
            status_code=progress.status_code,
            cert_not_after=progress.cert_not_after,
        )


def run_probe(
    sli: model.ProbeSLI, *, clock: Clock = time.monotonic, wall: Clock = time.time
) -> ProbeResult:
    """Probe once with a fresh environment (nothing cached); never raises."""
    return Prober(ProbeEnv(clock=clock, wall=wall)).run(sli)


def is_good(sli: model.ProbeSLI, result: ProbeResult) -> bool | None:
    """Good when the probe succeeded and was fast enough; None when not an event.

    None means the daemon itself failed (``result.self_error``): the probe
    says nothing about the target, so it must not be stored as an event.
    """
    if result.self_error:
        return None
    if not result.success:
        return False
    return sli.latency_threshold is None or result.duration <= sli.latency_threshold


def instance(sli: model.ProbeSLI) -> str:
    """The target as a label value and in logs: a URL loses any user info."""
    target = sli.target
    if isinstance(target, model.HTTPProbe):
        return strip_userinfo(target.url)
    return sli.instance


def strip_userinfo(url: str) -> str:
    """``url`` without ``user[:password]@``; the password is masked if it cannot be parsed."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return redact_url(url)
    authority_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:authority_end]
    if "@" not in authority:
        return url
    return f"{scheme}://{authority.rpartition('@')[2]}{rest[authority_end:]}"
