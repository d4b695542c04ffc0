"""The ``GET /api/v1/slos`` JSON document, rendered from a snapshot.

Owns the schema below and nothing else: it turns an immutable
``snapshot.Snapshot`` (with the remaining-budget history each status
carries) into plain JSON-ready data. It must not read clocks, query
anything or write: the endpoint is read-only and the same snapshot always
gives the same document. Serving it (status code, ``Content-Type``) is the web
module's job.

Schema (version 1; fields are only ever added, never renamed)::

    {
      "schema_version": 1,
      "generated_at": 1732300000.0,     # unix seconds the snapshot was taken; null before the first
      "complete": true,                 # false until the first full evaluation has finished
      "slos": [                         # ordered by service, then SLO name
        {
          "service": "checkout",
          "slo": "availability",
          "objective": 0.999,           # a ratio, not a percentage
          "window": "30d",              # the SLO period, Prometheus duration text
          "labels": {"owner": "payments", "tier": "critical"},
          "description": "",
          "runbook_url": null,
          "sli":       {"5m": 0.9991, ..., "30d": 0.99953},  # good/total; null = no events
          "burn_rate": {"5m": 0.9, ..., "30d": 0.47},  # error ratio / (1 - objective)
          "events":    {"5m": {"good": 998.0, "bad": 1.0, "total": 999.0}, ...},
          "error_budget_remaining": 0.53,   # 1 - budget spent over the period; < 0 when overspent;
                                            # null when the period has no events yet
          "alerts": {"page": false, "ticket": false},   # a multiwindow condition holds now
          "alert_conditions": [         # every window pair behind "alerts"
            {"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4,
             "long_burn_rate": 0.9, "short_burn_rate": 0.9, "firing": false}
          ],
          "up": true,                   # the data source answered at the last evaluation
          "evaluated_at": 1732299970.0, # unix seconds the values describe; null if never evaluated
          "error": null,                # the last error, for humans; null when none
          "error_budget_history": [[1732299000.0, 0.531], ...]  # [unix seconds, remaining],
                                                                # oldest first; [] until known
        }
      ]
    }

Window keys are the Prometheus duration text also used in the ``window``
label on ``/metrics`` (``5m``, ``1h``, ``1d``, ``30d``). Numbers that are not
finite never appear: they are rendered as ``null``, the same as "no data".
A deploy gate can therefore check ``error_budget_remaining > 0`` and treat
``null`` as "unknown".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from slo_exporter import snapshot
from slo_exporter.durations import format_duration

#: bumped only for incompatible changes, which the changelog must announce
SCHEMA_VERSION = 1

History = Mapping[str, Sequence[tuple[float, float]]]


def render_slos(snap: snapshot.Snapshot, history: History | None = None) -> dict[str, object]:
    """The ``/api/v1/slos`` document for ``snap``.

    The budget history is the one each status carries; ``history`` (SLO key to
    ``(ts, remaining)`` pairs) replaces it for the SLOs it names.
    """
    statuses = sorted(snap.slos, key=lambda s: (s.slo.service, s.slo.name))
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": snap.taken_at if snap.taken_at > 0 else None,
        "complete": snap.complete,
        "slos": [_render_status(status, history_of(status, history)) for status in statuses],
    }


def history_of(
    status: snapshot.SLOStatus, history: History | None = None
) -> Sequence[tuple[float, float]]:
    """The budget history to show for ``status``: ``history``'s entry, else its own."""
    if history is not None and status.slo.key in history:
        return history[status.slo.key]
    return status.budget_history.points


def _render_status(
    status: snapshot.SLOStatus, history: Sequence[tuple[float, float]]
) -> dict[str, object]:
    slo = status.slo
    windows = sorted(status.windows, key=lambda w: w.window)
    return {
        "service": slo.service,
        "slo": slo.name,
        "objective": _number(slo.objective),
        "window": slo.period.label,
        "labels": dict(slo.labels),
        "description": slo.description,
        "runbook_url": slo.runbook_url,
        "sli": {format_duration(w.window): _number(w.sli) for w in windows},
        "burn_rate": {format_duration(w.window): _number(w.burn_rate) for w in windows},
        "events": {
            format_duration(w.window): {
                "good": _number(w.good),
                "bad": _number(w.bad),
                "total": _number(w.total),
            }
            for w in windows
        },
        "error_budget_remaining": _number(status.budget_remaining),
        "alerts": alert_summary(status),
        "alert_conditions": [
            {
                "severity": a.severity,
                "long_window": format_duration(a.long_window),
                "short_window": format_duration(a.short_window),
                "factor": _number(a.factor),
                "long_burn_rate": _number(a.long_burn_rate),
                "short_burn_rate": _number(a.short_burn_rate),
                "firing": a.firing,
            }
            for a in status.alerts
        ],
        "up": status.up,
        "evaluated_at": _number(status.evaluated_at),
        "error": status.error,
        "error_budget_history": [
            [ts, value] for ts, value in history if math.isfinite(ts) and math.isfinite(value)
        ],
    }


def alert_summary(status: snapshot.SLOStatus) -> dict[str, bool]:
    """Per severity, whether any of its window pairs fires; both keys are always present."""
    summary = {"page": False, "ticket": False}
    for alert in status.alerts:
        summary[alert.severity] = summary.get(alert.severity, False) or alert.firing
    return summary


def _number(value: float | None) -> float | None:
    # JSON has no NaN/Inf; a consumer must never have to special-case them.
    if value is None or not math.isfinite(value):
        return None
    return value
