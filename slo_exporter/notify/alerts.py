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

An SLO with alerting of its own sends its alerts under its own name,
with its labels and annotations on top (``rules.slo_alert``, as its rules
do), and nothing for a disabled severity. Its annotations are Prometheus
templates: ``{{ $value }}`` and ``{{ $labels.NAME }}`` are filled in here,
anything else is sent as written.

Pure: no I/O, no clock reads.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from slo_exporter.model import ALERT_WINDOWS, AlertWindow
from slo_exporter.rules import DEFAULT_INFO_LABELS, slo_alert
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
            if state.firing and not status.slo.alerting.settings(state.severity).disabled:
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
    definition = slo_alert(slo, _window(state, status))
    own = slo.alerting.settings(state.severity).annotations
    # Extra labels first (an empty one is no label, as in Prometheus): the
    # SLO's own identity and the rule's labels win,
    # as the series' labels win over external labels in Prometheus.
    labels: dict[str, str] = {k: v for k, v in (extra_labels or {}).items() if v}
    labels.update({name: slo.labels[name] for name in info_labels
                   if slo.labels.get(name)})
    labels.update({"service": slo.service, "slo": slo.name})
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
    annotations = {
        name: (prometheus_template(template, labels, state.long_burn_rate) if name in own
               else render(template, values))
        for name, template in definition.annotations.items()}
    return Alert(labels=labels, annotations=annotations)


_VALUE = re.compile(r"\{\{-?\s*\$value\s*-?\}\}")
_VALUE_PRINTF = re.compile(
    r'\{\{-?\s*\$value\s*\|\s*printf\s+"(%[-+ 0#]*\d*(?:\.\d+)?[fFeEgG])"\s*-?\}\}')
_LABEL = re.compile(r"\{\{-?\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*-?\}\}")


def prometheus_template(text: str, labels: Mapping[str, str], value: float | None) -> str:
    """``{{ $value }}``, ``{{ $value | printf "%.2f" }}`` and ``{{ $labels.NAME }}`` of an
    annotation filled in (a missing label is empty, as in Prometheus); any other
    template text is kept."""
    shown = "unknown" if value is None else _go_float(value)
    text = _VALUE_PRINTF.sub(
        lambda m: "unknown" if value is None else m.group(1) % value, text)
    text = _VALUE.sub(lambda _m: shown, text)
    return _LABEL.sub(lambda m: labels.get(m.group(1), ""), text)


def _go_float(value: float) -> str:
    """A float as Go's ``%v`` shows it for the usual values: 20 rather than 20.0."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _window(state: AlertState, status: SLOStatus) -> AlertWindow:
    """The condition behind ``state``: its own, else the catalogue pair with its windows.

    A state built without its window (an older snapshot) gets the budget
    fraction back from its factor (factor * long / period); only the
    annotation text ("spending 2% of the error budget") needs it.
    """
    if state.window is not None:
        return state.window
    for window in ALERT_WINDOWS:
        if window.key == (state.severity, state.long_window, state.short_window):
            return window
    length = status.slo.period.longest
    fraction = min(max(state.factor * state.long_window / length, 1e-9), 1.0)
    return AlertWindow(state.severity, state.long_window, state.short_window, fraction)


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
