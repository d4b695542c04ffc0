"""The report as the JSON document of the contract (schema version 1).

Owns the shape below, which scripts rely on; fields are only ever added::

    {"schema_version": 1,
     "slos": [{                            # configuration order (a grouped SLO's
                                           # groups in label order, in its place)
       "service": "checkout", "slo": "availability",
       "group": {},                        # a group's label values ({"route": "/a"})
       "commitment": "sla",                # "sla" when the SLO carries an SLA, else "slo"
       "period": {"label": "2026-03",      # --period, or "<from>/<to>"
                  "start": "2026-03-01T00:00:00+01:00",   # RFC 3339, offset of the zone
                  "end": "2026-04-01T00:00:00+02:00",
                  "time_zone": "Europe/Berlin"},          # the calendar's zone; UTC if rolling
       "objective": 0.999,                 # ratios in [0, 1] throughout
       "budgeting": "timeslices",          # or "occurrences"
       "achieved": 0.9936766,              # null where nothing was measured
       "met": false,                       # null where nothing was measured
       "events": {"good": 0, "bad": 0, "excluded": 0},  # excluded: inside maintenance
       "slices": {"good": 44000, "bad": 280, "excluded": 300, "unmeasured": 0, "empty": 0},
                                           # null for occurrences budgeting
       "coverage": 1.0,                    # measured / (elapsed - excluded) time
       "excluded_seconds": 18000,
       "budget_spent_ratio": 6.3234,       # 1.0 = the whole budget
       "exhaustion_at": null,              # RFC 3339; null when it does not run out
       "worst_day": {"date": "2026-03-10", "achieved": 0.8055556},   # or null
       "evidence": {"confidence": 0.95, "lower": 0.9929, "upper": 0.9944,
                    "verdict": "missed"},  # met | missed | inconclusive; or null
       "sla": {"objective": 0.999, "met": false, "credit_percent": 10},  # or null
       "source": "prometheus",             # store | prometheus | unmeasured
       "alert_seconds": {"page": 3600, "ticket": 7200}}]}   # added to the contract: time
                                           # under the daemon's page/ticket conditions

Numbers keep their full precision (the other formats round for reading).
Ratios are always floats; counts, seconds and the credit are written
without a fraction when whole. A non-finite number is null.
Must not compute figures or read a clock.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from slo_exporter.figures import PeriodFigures
from slo_exporter.report.alerting import SEVERITIES
from slo_exporter.report.build import Entry, Report
from slo_exporter.report.span import rfc3339

SCHEMA_VERSION = 1

_HUNDRED = Decimal(100)


def document(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data."""
    return {"schema_version": SCHEMA_VERSION, "slos": [entry_document(e) for e in report.entries]}


def entry_document(entry: Entry) -> dict[str, Any]:
    """One SLO's entry of the document."""
    f = entry.figures
    zone = f.time_zone
    slices = f.slices
    return {
        "service": entry.slo.service,
        "slo": entry.slo.name,
        "group": dict(entry.slo.group),
        "commitment": entry.slo.commitment,
        "period": {
            "label": f.label,
            "start": rfc3339(f.start, zone),
            "end": rfc3339(f.end, zone),
            "time_zone": zone,
        },
        "objective": ratio(f.objective),
        "budgeting": f.budgeting,
        "achieved": ratio(f.achieved),
        "met": f.met,
        "events": {
            "good": number(f.good_events),
            "bad": number(f.bad_events),
            "excluded": number(f.excluded_events),
        },
        "slices": None if slices is None or f.budgeting != "timeslices" else {
            "good": slices.good,
            "bad": slices.bad,
            "excluded": slices.excluded,
            "unmeasured": slices.unmeasured,
            "empty": slices.empty,
        },
        "coverage": ratio(f.coverage),
        "excluded_seconds": number(f.excluded_seconds),
        "budget_spent_ratio": ratio(f.budget_spent_ratio),
        "exhaustion_at": None if f.exhaustion_at is None else rfc3339(f.exhaustion_at, zone),
        "worst_day": None if f.worst_day is None else {
            "date": f.worst_day.date,
            "achieved": ratio(f.worst_day.achieved),
        },
        "evidence": None if f.evidence is None else {
            "confidence": ratio(f.evidence.confidence),
            "lower": ratio(f.evidence.lower),
            "upper": ratio(f.evidence.upper),
            "verdict": f.evidence.verdict,
        },
        "sla": sla_document(f),
        "source": f.source,
        "alert_seconds": {severity: number(entry.alert_seconds.get(severity, 0.0))
                          for severity in SEVERITIES},
    }


def sla_document(f: PeriodFigures) -> dict[str, Any] | None:
    """The SLA's objective (a ratio), verdict and credit due in percent; None without an SLA."""
    if f.sla is None:
        return None
    return {
        "objective": ratio(f.sla.objective / _HUNDRED),
        "met": f.sla.met,
        "credit_percent": number(f.sla.credit_percent),
    }


def ratio(value: float | Decimal | None) -> float | None:
    """A ratio as a JSON float (1.0, not 1); non-finite as null."""
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def number(value: float | Decimal | None) -> int | float | None:
    """A JSON number: whole values as integers, non-finite values as null."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < 2**53 and not isinstance(value, bool):
        return int(value)
    return float(value)
