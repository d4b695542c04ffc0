"""The ``GET /api/v1/slos`` and ``GET /api/v1/services`` JSON documents.

Owns the two schemas below and nothing else: it turns an immutable
``snapshot.Snapshot`` (with the remaining-budget history and the current
period's figures each status carries) and the configured services into
plain JSON-ready data. It must not read clocks, query
anything or write: the endpoint is read-only and the same snapshot always
gives the same document. Serving it (status code, ``Content-Type``) is the web
module's job.

Schema (version 1; fields are only ever added, never renamed)::

    {
      "schema_version": 1,
      "generated_at": 1732300000.0,     # unix seconds the snapshot was taken; null before the first
      "complete": true,                 # false until the first full evaluation has finished
      "paging": {"total": 1234,         # SLOs matching ?service= and ?owner= (all without them)
                 "page": 1, "pages": 3, # ?page= (1-based) of how many
                 "limit": 500,          # ?limit=: at most this many entries in "slos"
                 "next": "?page=2"},    # the query of the next page; null on the last
      "slos": [                         # ordered by service, then SLO name; one page of them
        {
          "service": "checkout",
          "slo": "availability",
          "objective": 0.999,           # a ratio, not a percentage
          "window": "30d",              # the SLO period, Prometheus duration text
          "labels": {"owner": "payments", "tier": "critical"},
          "description": "",
          "runbook_url": null,
          "sli":       {"5m": 0.9991, ..., "30d": 0.99953},  # good/total; null = no events
                                        # the period's own key is "window" ("month" to date)
          "burn_rate": {"5m": 0.9, ..., "30d": 0.47},  # error ratio / (1 - objective)
          "events":    {"5m": {"good": 998.0, "bad": 1.0, "total": 999.0}, ...},
          "error_budget_remaining": 0.53,   # 1 - budget spent over the period; < 0 when overspent;
                                            # null when the period has no events yet
          "alerts": {"page": false, "ticket": false},   # a multiwindow condition holds now
          "alert_conditions": [         # every window pair behind "alerts"
            {"severity": "page", "long_window": "1h", "short_window": "5m", "factor": 14.4,
             "for": null,               # how long it must hold before firing; null = at once
             "long_burn_rate": 0.9, "short_burn_rate": 0.9, "firing": false}
                                        # a single-window condition (OpenSLO): short_window
                                        # and short_burn_rate are null
          ],
          "up": true,                   # the data source answered at the last evaluation
          "evaluated_at": 1732299970.0, # unix seconds the values describe; null if never evaluated
          "error": null,                # the last error, for humans; null when none
          "error_budget_history": [[1732299000.0, 0.531], ...], # [unix seconds, remaining],
                                                                # oldest first; [] until known
          # --- the current period to date (null until first computed) ---
          "commitment": "sla",          # "sla" when the SLO carries an SLA, else "slo"
          "budgeting": "occurrences",   # or "timeslices"
          "period": {"label": "2026-03",  # calendar label, or the rolling window ("30d")
                     "start": "2026-03-01T00:00:00+01:00",  # RFC 3339 in the period's zone;
                     "end": "2026-04-01T00:00:00+02:00",    # null until computed
                     "time_zone": "Europe/Berlin"},          # "UTC" for rolling windows
          "achieved": 0.99937,          # to date, a ratio; null where nothing was measured
          "met": true,                  # achieved >= objective so far; null = unknown
          "coverage": 0.998,            # measured / (elapsed - excluded) time
          "excluded_seconds": 7200.0,   # maintenance time in the period so far
          "budget_spent_ratio": 0.63,   # 1.0 = the whole period's budget spent
          "exhaustion_at": 1743200000.0,  # unix seconds the budget runs out at the current
                                          # burn (slo_error_budget_exhaustion_timestamp_seconds);
                                          # null when it lasts the period
          "sla": {"objective": 0.999,   # the committed level as a ratio
                  "credit_percent": 10, # projected credit for the SLA period (10 = 10 %)
                  "met": false},        # null (the whole field) for an SLO without an SLA
          "evidence": {"confidence": 0.95, "lower": 0.9991, "upper": 0.9996,
                       "verdict": "met"}  # met | missed | inconclusive; null until known
        }
      ]
    }

``/api/v1/services`` (version 1) is the service catalog::

    {
      "schema_version": 1,
      "generated_at": 1732300000.0,
      "complete": true,
      "services": [                     # ordered by name
        {
          "name": "checkout",
          "description": "Online checkout",
          "labels": {"owner": "payments"},
          "owner": "payments",          # labels.owner, null when unset
          "depends_on": ["payments-vendor"],   # as configured, vendors included
          "commitment": "sla",          # "sla" when any of its SLOs carries an SLA
          "summary": {"slos": 2, "met": 1, "missed": 1, "unknown": 0,
                      "credit_percent": 10},   # largest projected credit; null without SLA
          "slos": [                     # ordered by SLO name, then group
            {"service": "checkout", "slo": "availability", "group": {},
             "commitment": "sla",
             "objective": 0.999, "period": "2026-03", "achieved": 0.9936, "met": false,
             "coverage": 1.0, "credit_percent": 10, "up": true}
          ]                             # a grouped SLO: one entry per group in the
                                        # snapshot ("group": {"route": "/cart"}); the
                                        # definition alone until its first group is seen
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

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slo_exporter import snapshot
from slo_exporter.durations import format_duration
from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO, Service, SLOId

#: bumped only for incompatible changes, which the changelog must announce
SCHEMA_VERSION = 1

History = Mapping[str, Sequence[tuple[float, float]]]


def render_slos(
    snap: snapshot.Snapshot, history: History | None = None, *,
    query: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The ``/api/v1/slos`` document for ``snap``: the page of it ``query`` selects.

    ``query`` holds ``service``, ``owner``, ``limit`` and ``page`` (see
    ``snapshot.Selection``; ``SelectionError`` when one is bad); without it,
    the first ``DEFAULT_LIMIT`` SLOs. The budget history is the one each
    status carries; ``history`` (SLO key to ``(ts, remaining)`` pairs)
    replaces it for the SLOs it names.
    """
    page = snapshot.Selection.parse(query or {}).of(snap)
    return {
        **_head(snap, page),
        "slos": [_render_status(status, history_of(status, history)) for status in page.rows],
    }


def _head(snap: snapshot.Snapshot, page: snapshot.Page) -> dict[str, object]:
    """The fields before ``slos``, in the order the document shows them."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": snap.taken_at if snap.taken_at > 0 else None,
        "complete": snap.complete,
        "paging": paging(page),
    }


def paging(page: snapshot.Page) -> dict[str, object]:
    """Where ``page`` lies among the matches, with the query of the next page."""
    selection = page.selection
    last = selection.page >= page.pages
    return {
        "total": page.total,
        "page": selection.page,
        "pages": page.pages,
        "limit": selection.limit,
        "next": None if last else "?" + urlencode(selection.query(page=selection.page + 1)),
    }


#: each status's ``/api/v1/slos`` entry, JSON-encoded at the depth the document puts it;
#: about 7.5 KB each, so only the largest page's worth is kept, not the whole fleet's
_ENTRIES: snapshot.PerStatus[str] = snapshot.PerStatus(
    lambda status: textwrap.indent(
        json.dumps(_render_status(status, status.budget_history.points), indent=2), "    "),
    most=snapshot.MAX_LIMIT)

#: stands in for the entries in the encoded head; JSON escapes the NULs, so no value matches
_SLOT = "\0slos\0"


def encode_slos(snap: snapshot.Snapshot, query: Mapping[str, str] | None = None) -> str:
    """``json.dumps(render_slos(snap, query=query), indent=2)``, from cached entries.

    An entry is encoded once per status object, so a request costs the
    entries of its page that changed since they were last served, plus a join.
    """
    page = snapshot.Selection.parse(query or {}).of(snap)
    head = json.dumps({**_head(snap, page), "slos": _SLOT}, indent=2)
    before, after = head.split(json.dumps(_SLOT), 1)
    entries = _ENTRIES.all(snap, page.rows)
    if not entries:
        return f"{before}[]{after}"
    # one join of every piece: the document is made once, not joined and then copied
    parts = [before, "[\n"]
    for entry in entries:
        parts += (entry, ",\n")
    parts[-1] = "\n  ]"
    parts.append(after)
    return "".join(parts)


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
        "group": dict(slo.group),
        "description": slo.description,
        "runbook_url": slo.runbook_url,
        "sli": {slo.window_label(w.window): _number(w.sli) for w in windows},
        "burn_rate": {slo.window_label(w.window): _number(w.burn_rate) for w in windows},
        "events": {
            slo.window_label(w.window): {
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
                "short_window": None if a.single else format_duration(a.short_window),
                "factor": _number(a.factor),
                "for": format_duration(a.hold) if a.hold > 0 else None,
                "long_burn_rate": _number(a.long_burn_rate),
                "short_burn_rate": None if a.single else _number(a.short_burn_rate),
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
        **period_fields(status),
    }


def period_fields(status: snapshot.SLOStatus) -> dict[str, object]:
    """The current period's figures of ``status``, as the ``/api/v1/slos`` fields."""
    slo, figures = status.slo, status.period
    zone = period_zone(slo, figures)
    evidence = figures.evidence if figures is not None else None
    return {
        "commitment": slo.commitment,
        "budgeting": slo.budgeting.method,
        "period": {
            "label": figures.label if figures is not None else slo.period.label,
            "start": iso_time(figures.start, zone) if figures is not None else None,
            "end": iso_time(figures.end, zone) if figures is not None else None,
            "time_zone": zone,
        },
        "achieved": _number(figures.achieved) if figures is not None else None,
        "met": figures.met if figures is not None else None,
        "coverage": _number(figures.coverage) if figures is not None else None,
        "excluded_seconds": _number(figures.excluded_seconds) if figures is not None else None,
        "budget_spent_ratio": _number(figures.budget_spent_ratio) if figures is not None else None,
        "exhaustion_at": _number(figures.exhaustion_at) if figures is not None else None,
        "sla": _sla(slo, figures),
        "evidence": None if evidence is None else {
            "confidence": _number(evidence.confidence),
            "lower": _number(evidence.lower),
            "upper": _number(evidence.upper),
            "verdict": evidence.verdict,
        },
    }


def _sla(slo: SLO, figures: PeriodFigures | None) -> dict[str, object] | None:
    if slo.sla is None:
        return None
    outcome = figures.sla if figures is not None else None
    return {
        "objective": decimal_number(slo.sla.objective / 100),
        "credit_percent": decimal_number(outcome.credit_percent) if outcome else None,
        "met": outcome.met if outcome else None,
    }


def render_services(
    services: Sequence[Service], snap: snapshot.Snapshot
) -> dict[str, object]:
    """The ``/api/v1/services`` document: the configured services with their SLOs' standing."""
    statuses = catalog_statuses(snap)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": snap.taken_at if snap.taken_at > 0 else None,
        "complete": snap.complete,
        "services": [
            _render_service(service, statuses)
            for service in sorted(services, key=lambda s: s.name)
        ],
    }


def catalog_statuses(snap: snapshot.Snapshot) -> dict[SLOId, list[snapshot.SLOStatus]]:
    """The statuses of ``snap`` by the SLO definition they belong to, a grouped
    definition's groups in label order (see ``catalog_slos``)."""
    by_definition: dict[SLOId, list[snapshot.SLOStatus]] = {}
    for status in snap.ordered:
        by_definition.setdefault(status.slo.id.definition, []).append(status)
    return by_definition


def catalog_slos(
    service: Service, statuses: Mapping[SLOId, Sequence[snapshot.SLOStatus]]
) -> list[tuple[SLO, snapshot.SLOStatus | None]]:
    """What a catalog lists of ``service``, by SLO name: each ungrouped SLO with its
    status, and each group of a grouped one (its definition has no events of its
    own); a grouped definition with no group in the snapshot yet is listed alone."""
    listed: list[tuple[SLO, snapshot.SLOStatus | None]] = []
    for slo in sorted(service.slos, key=lambda s: s.name):
        found = statuses.get(slo.id, ())
        groups = [status for status in found if status.slo.group] if slo.group_by else []
        if groups:
            listed.extend((status.slo, status) for status in groups)
        else:
            own = [status for status in found if status.slo.id == slo.id]
            listed.append((slo, own[0] if own else None))
    return listed


def _render_service(
    service: Service, statuses: Mapping[SLOId, Sequence[snapshot.SLOStatus]]
) -> dict[str, object]:
    slos = [_catalog_entry(slo, status) for slo, status in catalog_slos(service, statuses)]
    credits = [e["credit_percent"] for e in slos if isinstance(e["credit_percent"], int | float)]
    return {
        "name": service.name,
        "description": service.description,
        "labels": dict(service.labels),
        "owner": service.labels.get("owner"),
        "depends_on": list(service.depends_on),
        "commitment": "sla" if any(s.sla is not None for s in service.slos) else "slo",
        "summary": {
            "slos": len(slos),
            "met": sum(e["met"] is True for e in slos),
            "missed": sum(e["met"] is False for e in slos),
            "unknown": sum(e["met"] is None for e in slos),
            "credit_percent": max(credits) if credits else None,
        },
        "slos": slos,
    }


def _catalog_entry(slo: SLO, status: snapshot.SLOStatus | None) -> dict[str, object]:
    figures = status.period if status is not None else None
    outcome = figures.sla if figures is not None else None
    return {
        "service": slo.service,
        "slo": slo.name,
        "group": dict(slo.group),
        "commitment": slo.commitment,
        "objective": _number(slo.objective),
        "period": figures.label if figures is not None else slo.period.label,
        "achieved": _number(figures.achieved) if figures is not None else None,
        "met": figures.met if figures is not None else None,
        "coverage": _number(figures.coverage) if figures is not None else None,
        "credit_percent": (
            decimal_number(outcome.credit_percent) if outcome is not None else None
        ),
        "up": status.up if status is not None else False,
    }


def period_zone(slo: SLO, figures: PeriodFigures | None) -> str:
    """The time zone the period is counted in: the figures', else the calendar's, else UTC."""
    if figures is not None and figures.time_zone:
        return figures.time_zone
    return str(getattr(slo.period, "time_zone", "UTC"))


def iso_time(ts: float, zone: str) -> str | None:
    """``ts`` as RFC 3339 local to ``zone`` (UTC if the zone is unknown); None if not finite."""
    if not math.isfinite(ts):
        return None
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return datetime.fromtimestamp(ts, tz).isoformat()


def decimal_number(value: Decimal | None) -> int | float | None:
    """An exact decimal as JSON: an integer when whole (credit 10, not 10.0), else a float."""
    if value is None or not value.is_finite():
        return None
    return int(value) if value == value.to_integral_value() else float(value)


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
