"""Active probes: HTTP, TCP, TLS and DNS checks run by the exporter itself.

Each probe is one SLO event. The package is a library the daemon wires up:

- ``run_probe(sli) -> ProbeResult`` probes once, within ``sli.timeout``, and
  never raises; ``is_good(sli, result)`` turns a result into a good/bad event.
- ``ProbeScheduler(slis, on_result)`` fires every probe on its interval with
  jitter on a bounded worker pool.
- ``ProbeMetrics`` is the Collector for probe self-metrics.

Modules: ``result`` (result type, reasons, deadline), ``net`` (sockets and
TLS under a deadline), ``http``, ``tcp``, ``tls``, ``dns`` (one module per
probe kind), ``runner``, ``scheduler``, ``metrics``. Nothing here touches the
event store or the SLO math.
"""

from slo_exporter.probes.metrics import ProbeMetrics
from slo_exporter.probes.result import REASONS, ProbeResult
from slo_exporter.probes.runner import is_good, run_probe
from slo_exporter.probes.scheduler import ProbeScheduler, SchedulerStats

__all__ = [
    "REASONS",
    "ProbeMetrics",
    "ProbeResult",
    "ProbeScheduler",
    "SchedulerStats",
    "is_good",
    "run_probe",
]
