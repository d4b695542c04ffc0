"""``slo-exporter report``: what every SLO achieved over a calendar period or a span.

One module per step: ``span`` reads ``--period``/``--from``/``--to``/``--at``
and places them in each SLO's calendar; ``build`` picks each SLO's source
(the store, Prometheus history, or unmeasured) and gets its figures from
``compliance.period_figures``; ``document`` is the JSON contract;
``render_json``, ``render_csv``, ``render_markdown`` and ``render_html``
write the formats (``text`` holds the wording the human formats share).
"""

from __future__ import annotations

from collections.abc import Callable

from slo_exporter.report import render_csv, render_html, render_json, render_markdown
from slo_exporter.report.build import Day, Entry, Report, build_report
from slo_exporter.report.span import ReportArgumentError, Request

RENDERERS: dict[str, Callable[[Report], str]] = {
    "markdown": render_markdown.render,
    "csv": render_csv.render,
    "json": render_json.render,
    "html": render_html.render,
}
FORMATS: tuple[str, ...] = tuple(RENDERERS)
#: formats that draw a chart per day, so the report reads each day's figures too
CHARTED: frozenset[str] = frozenset({"html"})


def render(report: Report, fmt: str) -> str:
    """The report in ``fmt`` (one of FORMATS)."""
    return RENDERERS[fmt](report)


__all__ = [
    "CHARTED", "FORMATS", "Day", "Entry", "Report", "ReportArgumentError", "Request",
    "build_report", "render",
]
