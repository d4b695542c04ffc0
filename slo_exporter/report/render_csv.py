"""``--format=csv``: one row per SLO, one flat column per field of the JSON document.

Columns are the document's fields, nested names joined by ``_``
(``period_label``, ``slices_good``, ``sla_credit_percent``), in the order
of ``COLUMNS``. Empty cells are nulls (``slices_*`` for occurrences
budgeting, ``sla_*`` without an SLA); booleans are ``true``/``false``.
A cell a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``) gets a leading ``'`` when it is text from the configuration.

Must not round numbers or shape entries (``document`` does).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from slo_exporter.model.identity import group_text
from slo_exporter.report.build import Report
from slo_exporter.report.document import entry_document

COLUMNS: tuple[str, ...] = (
    "service", "slo", "commitment",
    "period_label", "period_start", "period_end", "period_time_zone",
    "objective", "budgeting", "achieved", "met",
    "events_good", "events_bad", "events_excluded",
    "slices_good", "slices_bad", "slices_excluded", "slices_unmeasured", "slices_empty",
    "coverage", "excluded_seconds", "budget_spent_ratio", "exhaustion_at",
    "worst_day_date", "worst_day_achieved",
    "evidence_confidence", "evidence_lower", "evidence_upper", "evidence_verdict",
    "sla_objective", "sla_met", "sla_credit_percent",
    "source", "alert_seconds_page", "alert_seconds_ticket",
    "group",  # a group's label values, {route="/a"}; last, so earlier columns keep their place
)

#: cells holding configured names, which could start with a formula character
_TEXT = frozenset({"service", "slo", "period_label", "group"})


def render(report: Report) -> str:
    """A header row and one row per SLO, RFC 4180 quoting, ``\\r\\n`` line ends."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for entry in report.entries:
        flat = _flatten(entry_document(entry))
        flat["group"] = group_text(entry.slo.group)
        writer.writerow(_cell(column, flat.get(column)) for column in COLUMNS)
    return out.getvalue()


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


def _cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if column in _TEXT and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text
