"""slo-exporter: exact, restart-proof SLOs from Prometheus metrics and active probes."""

__version__ = "0.1.0"
