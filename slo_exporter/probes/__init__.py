"""Active probes: HTTP, TCP, TLS and DNS checks run by the exporter itself.

Each probe is one SLO event. The package is a library the daemon wires up:

- ``run_probe(sli) -> ProbeResult`` probes once, within ``sli.timeout``, and
  never raises; ``Prober`` does the same with cached TLS contexts.
- ``is_good(sli, result) -> bool | None`` turns a result into a good (True)
  or bad (False) event, or None when the daemon itself failed
  (``result.self_error``: out of file descriptors, memory or threads, or the
  probe started too late): such a result is not an event of the target and
  must not be stored.
- ``ProbeScheduler(slis, on_result)`` fires every probe on its interval with
  jitter on a bounded worker pool.
- ``ProbeMetrics`` is the Collector for probe self-metrics.
- ``instance(sli)`` is the target without credentials, for labels and logs.

Modules: ``result`` (result type, reasons, deadline), ``net`` (sockets and
TLS under a deadline), ``env`` (TLS contexts and name server of one
prober), ``http``, ``tcp``, ``tls``, ``dns`` (one module per probe kind),
``runner`` (the result envelope), ``scheduler``, ``metrics``. Nothing here
touches the event store or the SLO math.
"""

from slo_exporter.probes.metrics import ProbeMetrics
from slo_exporter.probes.result import REASONS, SELF_REASONS, ProbeResult
from slo_exporter.probes.runner import Prober, instance, is_good, run_probe
from slo_exporter.probes.scheduler import ProbeScheduler, SchedulerStats

__all__ = [
    "REASONS",
    "SELF_REASONS",
    "ProbeMetrics",
    "ProbeResult",
    "ProbeScheduler",
    "Prober",
    "SchedulerStats",
    "instance",
    "is_good",
    "run_probe",
]
