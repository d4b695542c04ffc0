"""``python -m slo_exporter`` is the same as the ``slo-exporter`` command."""

from slo_exporter.cli import entry

entry()
