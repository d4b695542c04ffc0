"""``--format=json``: the report document of the contract, one JSON object.

Must not shape the document (that is ``document``) or round numbers.
"""

from __future__ import annotations

import json

from slo_exporter.report.build import Report
from slo_exporter.report.document import document


def render(report: Report) -> str:
    """The document as indented JSON with a final newline."""
    return json.dumps(document(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
