"""Which alerts a snapshot implies, labelled and annotated as the generated rules do.

Owns turning each SLO status's firing window pairs into ``Alert`` values:
the alert name, labels and annotation templates come from
``rules.burn_rate_alert`` (the one definition the rule file uses too); the
annotations are rendered here with the status's own values.

The labels are those Prometheus gives the rule's alert: ``alertname``,
``service``, ``slo``, the rule labels (``severity``, ``long_window``,
``short_window``) and the SLO's ``owner``/``tier`` (the info labels the
rules join from ``slo_info``), plus any extra labels configured. Prometheus
adds what this process cannot know: the ``job`` and ``instance`` of its
scrape and its external labels; to make both paths deduplicate, pass them
as extra labels.

Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slo_exporter.grouping import exported_labels
from slo_exporter.model import ALERT_WINDOWS, AlertWindow
from slo_exporter.rules import DEFAULT_INFO_LABELS, burn_rate_alert
from slo_exporter.snapshot import AlertState, SLOStatus, Snapshot

#: an alert's identity in Alertmanager: its sorted label pairs
AlertKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Alert:
    """One alert as Alertmanager identifies it (labels) and shows it (annotations)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]

    @property
    def key(self) -> AlertKey:
        return tuple(sorted(self.labels.items()))

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


def implied_alerts(
    snapshot: Snapshot,
    *,
    info_labels: Sequence[str] = DEFAULT_INFO_LABELS,
    extra_labels: Mapping[str, str] | None = None,
) -> dict[AlertKey, Alert]:
    """Every alert firing in ``snapshot``, by key."""
    out: dict[AlertKey, Alert] = {}
    for status in snapshot.slos:
        for state in status.alerts:
            if state.firing:
                alert = burn_rate(status, state, info_labels=info_labels,
                                  extra_labels=extra_labels or {})
                out[alert.key] = alert
    return out


def burn_rate(
    status: SLOStatus,
    state: AlertState,
    *,
    info_labels: Sequence[str] = DEFAULT_INFO_LABELS,
    extra_labels: Mapping[str, str] | None = None,
) -> Alert:
    """The alert of one window pair of one SLO, with the status's values."""
    slo = status.slo
    definition = burn_rate_alert(AlertWindow(
        state.severity, state.long_window, state.short_window,
        _budget_fraction(state, status)))
    # Extra labels first (an empty one is no label, as in Prometheus): the
    # SLO's own identity and the rule's labels win,
    # as the series' labels win over external labels in Prometheus.
    labels: dict[str, str] = {k: v for k, v in (extra_labels or {}).items() if v}
    labels.update({name: slo.labels[name] for name in info_labels
                   if slo.labels.get(name)})
    labels.update({"service": slo.service, "slo": slo.name,
                   **exported_labels(slo.group)})  # as on /metrics
    labels.update(definition.labels)
    labels["alertname"] = definition.name
    values = {
        "slo": f"{slo.service}/{slo.name}",
        "value": state.long_burn_rate,
        "short_rate": state.short_burn_rate,
        "factor": state.factor,
        "budget_left": (None if status.budget_remaining is None
                        else humanize_percentage(status.budget_remaining)),
        "runbook_url": slo.runbook_url or "",
    }
    annotations = {name: render(template, values)
                   for name, template in definition.annotations.items()}
    return Alert(labels=labels, annotations=annotations)


def _budget_fraction(state: AlertState, status: SLOStatus) -> float:
    """The pair's budget fraction, back from its factor (factor * long / period).

    Only the annotation text ("spending 2% of the error budget") needs it;
    the catalogue pair with the same windows gives it exactly.
    """
    for window in ALERT_WINDOWS:
        if (window.severity, window.long, window.short) == (
                state.severity, state.long_window, state.short_window):
            return window.budget_fraction
    length = status.slo.period.longest
    return min(max(state.factor * state.long_window / length, 1e-9), 1.0)


def render(template: str, values: Mapping[str, object]) -> str:
    """``template`` with its fields filled; a missing value reads ``unknown``."""
    out: list[str] = []
    for literal, name, spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        out.append("unknown" if value is None else format(value, spec or ""))
    return "".join(out)


def humanize_percentage(ratio: float) -> str:
    """A ratio as Prometheus' ``humanizePercentage`` shows it: 0.625 -> ``62.5%``."""
    return f"{ratio * 100:.4g}%"
