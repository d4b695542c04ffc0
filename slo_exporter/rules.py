"""The Prometheus alerting rules shipped with slo-exporter.

Owns the rule file that ``slo-exporter rules`` prints and that
``deploy/prometheus/`` and the Kubernetes ``PrometheusRule`` embed. The rules
are generic over the ``service``/``slo`` labels of the exporter's gauges, so
adding an SLO to the config never needs a new rule.

The multiwindow multi-burn-rate conditions are written out in PromQL, one rule
per window pair, rather than alerting on ``slo_burn_rate_alert``: that way each
alert knows which pair fired and can say so in its labels and annotations. The
burn-rate threshold of each pair is scaled to the SLO period from
``slo_period_seconds`` (``factor = budget fraction * period / long window``,
14.4 for 1h of a 30d SLO), the same rule the exporter applies to its own
``slo_burn_rate_alert`` gauge.

Calendar SLOs need no rule of their own: the exporter sets their
``slo_period_seconds`` to the length of the period running now, so the
thresholds follow it at query time (14.88 for the 1h pair in a 31-day month,
13.44 in a 28-day one), never a length frozen when the rules were generated.
Composite SLOs are exported with the same ``slo_*`` series as any other
SLO, so the same rules page on a business service. Maintenance time is left
out of the exported burn rates, so the rules stay quiet through it.

Each burn-rate alert's name, rule labels and annotation templates are
defined once (``burn_rate_alert``): the rule file renders the templates as
Go templates, and direct notification (``slo_exporter.notify``) fills the
same templates with the daemon's own values, so both paths send the same
alerts.

SLOs with alerting of their own (a custom window catalogue, or names,
labels, annotations or a disabled severity) are exported with
``slo_info{alerting="custom"}``; the generic burn-rate rules join only
``slo_info{alerting!="custom"}``, so they never alert for such an SLO.
Given the config's SLOs, ``slo-exporter rules`` adds one rule per window of
each such SLO (group ``slo-exporter-slo-alerts``) with its own name,
labels, annotations and ``for:``; a disabled severity gets no rule.

Must not read configuration files or talk to Prometheus: it only renders
text (the SLOs are given).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from slo_exporter.durations import format_duration
from slo_exporter.model import ALERT_WINDOWS, SLO, AlertWindow

#: labels copied from ``slo_info`` onto every SLO alert, so Alertmanager can
#: route by team; a label an SLO does not set is simply absent on its alerts
DEFAULT_INFO_LABELS: tuple[str, ...] = ("owner", "tier")

#: how the exporter's own scrape job is recognised by ``SLOExporterDown``
DEFAULT_EXPORTER_JOB = 'job=~".*slo-exporter.*"'

#: the ``slo_info`` series the generic burn-rate rules alert for
GENERIC_INFO = 'slo_info{alerting!="custom"}'
#: the group of the per-SLO rules
SLO_ALERTS_GROUP = "slo-exporter-slo-alerts"

#: how long each non-burn-rate condition must hold before it alerts
BUDGET_EXHAUSTED_FOR = "5m"
DATA_MISSING_FOR = "10m"
NO_EVENTS_FOR = "5m"
NO_EVENTS_WINDOW = "1h"
SERIES_LOOKBACK = "1h"
EXPORTER_DOWN_FOR = "5m"


@dataclass(frozen=True)
class _Pair:
    """One alert condition with its windows as Prometheus duration text."""

    window: AlertWindow
    long: str
    short: str | None

    @property
    def severity(self) -> str:
        return self.window.severity

    @property
    def windows_text(self) -> str:
        """``1h/5m``, or ``1h`` for a single-window condition."""
        return self.long if self.short is None else f"{self.long}/{self.short}"

    @property
    def spending(self) -> str:
        """`` (spending 2% of the error budget in 1h)``, empty for a fixed factor."""
        fraction = self.window.budget_fraction
        if fraction is None:
            return ""
        return f" (spending {fraction * 100:g}% of the error budget in {self.long})"


def _pair(a: AlertWindow) -> _Pair:
    return _Pair(a, format_duration(a.long), None if a.short is None else format_duration(a.short))


def _pairs() -> tuple[_Pair, ...]:
    return tuple(_pair(a) for a in ALERT_WINDOWS)


# ------------------------------------------------------------ template bits
#
# Annotation templates look up other series of the same SLO with the `query`
# template function. `first` keeps them valid when two exporter replicas
# export the same SLO.


def _lookup(selector: str, render: str, missing: str) -> str:
    """A template that queries one series of this SLO and renders its value."""
    return (
        f'{{{{ with printf "{selector}" $labels.service $labels.slo | query }}}}'
        f"{{{{ . | first | value | {render} }}}}"
        f"{{{{ else }}}}{missing}{{{{ end }}}}"
    )


def _series(metric: str, extra: str = "") -> str:
    return metric + "{service=%q,slo=%q" + extra + "}"


_BUDGET_LEFT = _lookup(
    _series("slo_error_budget_remaining_ratio"), "humanizePercentage", "unknown")
_RUNBOOK = (
    f'{{{{ with printf "{_series("slo_info")}" $labels.service $labels.slo | query }}}}'
    "{{ with (. | first).Labels.runbook_url }}{{ . }}{{ end }}{{ end }}"
)
_SLO_NAME = "{{ $labels.service }}/{{ $labels.slo }}"


def _threshold(pair: _Pair) -> str:
    """The threshold as PromQL: a number, or scaled from ``slo_period_seconds``."""
    w = pair.window
    if w.budget_fraction is None:
        return f"{w.threshold(0.0):g}"
    return f"({w.budget_fraction:g} * slo_period_seconds / {w.long:g})"


def _with_info(expr: str, info_labels: Sequence[str], info: str = "slo_info") -> str:
    """Join the descriptive labels of ``slo_info`` onto every series of ``expr``.

    ``max by`` collapses replicas of the same exporter so the join stays
    one-to-many however many exporters serve the SLO.
    """
    labels = ", ".join(info_labels)
    return (
        f"(\n{expr}\n)\n"
        f"* on (service, slo) group_left ({labels})\n"
        f"  max by (service, slo, {labels}) ({info})"
    )


# ------------------------------------------------------------------ rules


# ------------------------------------------------- shared alert definitions
#
# One definition of each burn-rate alert serves both paths: the rule file
# renders its annotation templates as Go templates that look the values up
# at query time, and direct notification (``slo_exporter.notify``) renders
# them with the values of a snapshot. Templates use ``str.format`` fields:
#
# ``slo``          service/slo
# ``value``        the long window's burn rate (the rule's ``$value``)
# ``short_rate``   the short window's burn rate
# ``factor``       the pair's burn-rate threshold
# ``budget_left``  error budget remaining (a ratio, shown as a percentage)
# ``runbook_url``  the SLO's runbook, empty when it has none


@dataclass(frozen=True)
class AlertDefinition:
    """Name, rule labels and annotation templates of one burn-rate alert."""

    name: str
    labels: dict[str, str]
    annotations: dict[str, str]


def burn_rate_alert_name(severity: str) -> str:
    """The alert name of a window pair of this severity."""
    return "SLOBurnRatePage" if severity == "page" else "SLOBurnRateTicket"


def burn_rate_alert(window: AlertWindow) -> AlertDefinition:
    """The alert of one window pair, shared by the rule file and direct notification."""
    pair = _pair(window)
    rates = "SLO {slo}: the burn rate is {value:.2f} over the last " + pair.long
    if pair.short is not None:
        rates += " and {short_rate:.2f} over the last " + pair.short + ", both"
    else:
        rates += ","
    labels = {"severity": pair.severity, "long_window": pair.long}
    if pair.short is not None:
        labels["short_window"] = pair.short
    return AlertDefinition(
        name=burn_rate_alert_name(pair.severity),
        labels=labels,
        annotations={
            "summary": (
                "{slo} is burning its error budget {value:.1f}x too fast "
                f"({pair.windows_text} window{'' if pair.short is None else 's'})"
            ),
            "description": (
                rates + " above {factor:.3g}" + pair.spending + ". "
                "Error budget left: {budget_left}."
            ),
            "window_pair": pair.windows_text,
            "budget_remaining": "{budget_left}",
            "runbook_url": "{runbook_url}",
        },
    )


def _go_template(template: str, pair: _Pair) -> str:
    """An annotation template as the Go template a Prometheus rule evaluates."""
    out: list[str] = []
    for literal, name, spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        out.append(_go_field(name, spec or "", pair))
    return "".join(out)


def _go_field(name: str, spec: str, pair: _Pair) -> str:
    printf = f'printf "%{spec}"'
    if name == "slo":
        return _SLO_NAME
    if name == "value":
        return f"{{{{ $value | {printf} }}}}"
    if name == "short_rate":
        short = pair.long if pair.short is None else pair.short
        return _lookup(_series("slo_burn_rate", f",window='{short}'"), printf, "unknown")
    if name == "factor":
        w = pair.window
        if w.budget_fraction is None:  # a fixed number: no query needed
            return format(w.threshold(0.0), spec)
        return _lookup(
            f"{w.budget_fraction:g} * " + _series("slo_period_seconds") + f" / {w.long:g}",
            printf, "unknown")
    if name == "budget_left":
        return _BUDGET_LEFT
    if name == "runbook_url":
        return _RUNBOOK
    raise ValueError(f"unknown annotation field {name!r}")


# ------------------------------------------------------------------ rules


def _condition(pair: _Pair, selector: str = "") -> str:
    """The PromQL condition of one window pair, over ``slo_burn_rate{SELECTOR,window}``."""
    threshold = _threshold(pair)
    # `ignoring (window)` rather than `on (service, slo)` keeps job/instance in
    # the match, so two replicas of the exporter do not make it many-to-many;
    # a fixed threshold is a number and needs no matching.
    matching = "" if pair.window.budget_fraction is None else "ignoring (window) "
    prefix = f"{selector}," if selector else ""

    def above(window: str) -> str:
        return f'slo_burn_rate{{{prefix}window="{window}"}} > {matching}{threshold}'

    if pair.short is None:
        return f"  max without (window) (\n    {above(pair.long)}\n  )"
    return (
        f"  max without (window) (\n"
        f"    ({above(pair.long)})\n"
        f"    and ignoring (window)\n"
        f"    ({above(pair.short)})\n"
        f"  )"
    )


def _burn_rate_rule(pair: _Pair, info_labels: Sequence[str]) -> dict[str, Any]:
    alert = burn_rate_alert(pair.window)
    return {
        "alert": alert.name,
        "expr": _with_info(_condition(pair), info_labels, info=GENERIC_INFO),
        "labels": dict(alert.labels),
        "annotations": {k: _go_template(v, pair) for k, v in alert.annotations.items()},
    }


def _promql_string(text: str) -> str:
    """``text`` as a double-quoted PromQL string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def slo_alert(slo: SLO, window: AlertWindow) -> AlertDefinition:
    """The alert of one window of an SLO with alerting of its own: the shared
    definition with the SLO's name, and its labels and annotations on top."""
    base = burn_rate_alert(window)
    settings = slo.alerting.settings(window.severity)
    return AlertDefinition(
        name=settings.name or base.name,
        labels={**base.labels, **settings.labels},
        annotations={**base.annotations, **settings.annotations},
    )


def _slo_rule(slo: SLO, window: AlertWindow, info_labels: Sequence[str]) -> dict[str, Any]:
    pair = _pair(window)
    selector = f"service={_promql_string(slo.service)},slo={_promql_string(slo.name)}"
    alert = slo_alert(slo, window)
    own = slo.alerting.settings(window.severity).annotations
    rule: dict[str, Any] = {
        "alert": alert.name,
        "expr": _with_info(_condition(pair, selector), info_labels,
                           info=f"slo_info{{{selector}}}"),
    }
    if window.hold > 0.0:
        rule["for"] = format_duration(window.hold)
    rule["labels"] = dict(alert.labels)
    # the SLO's own annotations are Prometheus templates already: verbatim
    rule["annotations"] = {k: v if k in own else _go_template(v, pair)
                           for k, v in alert.annotations.items()}
    return rule


def slo_rules(
    slos: Sequence[SLO], *, info_labels: Sequence[str] = DEFAULT_INFO_LABELS
) -> list[dict[str, Any]]:
    """One rule per enabled window of each SLO with alerting of its own."""
    return [
        _slo_rule(slo, window, info_labels)
        for slo in slos if not slo.alerting.default
        for window in slo.alerting.windows
        if not slo.alerting.settings(window.severity).disabled
        and window.long <= slo.period.longest
    ]


def _budget_exhausted_rule(info_labels: Sequence[str]) -> dict[str, Any]:
    return {
        "alert": "SLOErrorBudgetExhausted",
        "expr": _with_info("  slo_error_budget_remaining_ratio <= 0", info_labels),
        "for": BUDGET_EXHAUSTED_FOR,
        "labels": {"severity": "ticket"},
        "annotations": {
            "summary": f"{_SLO_NAME} has used up its error budget",
            "description": (
                f"SLO {_SLO_NAME} has had no error budget left for more than "
                f"{BUDGET_EXHAUSTED_FOR}: {{{{ $value | humanizePercentage }}}} "
                "of the budget remains over the SLO period."
            ),
            "budget_remaining": "{{ $value | humanizePercentage }}",
            "runbook_url": _RUNBOOK,
        },
    }


def _data_missing_rules(info_labels: Sequence[str]) -> list[dict[str, Any]]:
    common = {"alert": "SLODataMissing"}
    return [
        {
            **common,
            "expr": _with_info("  slo_sli_up == 0", info_labels),
            "for": DATA_MISSING_FOR,
            "labels": {"severity": "ticket", "reason": "source_down"},
            "annotations": {
                "summary": f"{_SLO_NAME} has no data: its source is down",
                "description": (
                    f"The data source of SLO {_SLO_NAME} has not answered for more than "
                    f"{DATA_MISSING_FOR} (slo_sli_up is 0). Burn-rate alerts for this "
                    "SLO cannot fire while it has no data."
                ),
                "runbook_url": _RUNBOOK,
            },
        },
        {
            **common,
            "expr": _with_info(
                f'  sum without (result, window) (slo_events{{window="{NO_EVENTS_WINDOW}"}}) == 0',
                info_labels),
            "for": NO_EVENTS_FOR,
            "labels": {"severity": "ticket", "reason": "no_events"},
            "annotations": {
                "summary": f"{_SLO_NAME} has recorded no events",
                "description": (
                    f"SLO {_SLO_NAME} has counted no good or bad events in the last "
                    f"{NO_EVENTS_WINDOW}, and that has lasted more than {NO_EVENTS_FOR}. "
                    "No data is not zero errors: burn-rate alerts cannot fire."
                ),
                "runbook_url": _RUNBOOK,
            },
        },
        {
            **common,
            # An SLO whose series were present within the lookback but are
            # gone now: the exporter stopped exporting it (or is not scraped).
            "expr": _with_info(
                f"  max_over_time(slo_sli_up[{SERIES_LOOKBACK}])\n"
                "  unless on (service, slo) slo_sli_up",
                info_labels, info=f"max_over_time(slo_info[{SERIES_LOOKBACK}])"),
            "for": DATA_MISSING_FOR,
            "labels": {"severity": "ticket", "reason": "series_absent"},
            "annotations": {
                "summary": f"{_SLO_NAME} is no longer exported",
                "description": (
                    f"SLO {_SLO_NAME} was exported within the last {SERIES_LOOKBACK} "
                    f"but its series have been absent for more than {DATA_MISSING_FOR}. "
                    "Check that the exporter is scraped and still has this SLO configured."
                ),
            },
        },
    ]


def _exporter_down_rule(job: str) -> dict[str, Any]:
    # `absent` covers a target that vanished from service discovery, which
    # `up == 0` cannot see; it yields one series without labels.
    return {
        "alert": "SLOExporterDown",
        "expr": f"up{{{job}}} == 0\nor\nabsent(up{{{job}}})",
        "for": EXPORTER_DOWN_FOR,
        "labels": {"severity": "page"},
        "annotations": {
            "summary": "slo-exporter {{ with $labels.instance }}{{ . }} {{ end }}is down",
            "description": (
                "Prometheus has failed to scrape slo-exporter "
                "{{ with $labels.instance }}at {{ . }} {{ end }}"
                f"(or found no target matching {{{job}}}) for more than {EXPORTER_DOWN_FOR}. "
                "No SLO alert can fire while it is down."
            ),
        },
    }


def rule_groups(
    *,
    info_labels: Sequence[str] = DEFAULT_INFO_LABELS,
    exporter_job: str = DEFAULT_EXPORTER_JOB,
    slos: Sequence[SLO] = (),
) -> list[dict[str, Any]]:
    """The rule groups as plain data, in Prometheus rule file shape.

    With ``slos``, a group of rules for those with alerting of their own is added.
    """
    if not info_labels:
        raise ValueError("info_labels must name at least one slo_info label, e.g. 'owner'")
    pairs = _pairs()
    own = slo_rules(slos, info_labels=info_labels)
    extra = [{"name": SLO_ALERTS_GROUP, "rules": own}] if own else []
    return [
        {
            "name": "slo-exporter-burn-rate",
            "rules": [_burn_rate_rule(p, info_labels) for p in pairs],
        },
        {
            "name": "slo-exporter-budget",
            "rules": [
                _budget_exhausted_rule(info_labels),
                *_data_missing_rules(info_labels),
                _exporter_down_rule(exporter_job),
            ],
        },
        *extra,
    ]


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (PromQL) as literal blocks, so they stay readable."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)

_HEADER = (
    "# Generated by `slo-exporter rules`; do not edit by hand.\n"
    "# Generic over the service/slo labels: adding an SLO needs no new rule.\n"
)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=1000,
                     default_flow_style=False, allow_unicode=True)


def render_rules(
    *,
    info_labels: Sequence[str] = DEFAULT_INFO_LABELS,
    exporter_job: str = DEFAULT_EXPORTER_JOB,
    slos: Sequence[SLO] = (),
) -> str:
    """The Prometheus rule file (YAML) with every slo-exporter alert, plus the
    rules of those of ``slos`` that have alerting of their own."""
    groups = rule_groups(info_labels=info_labels, exporter_job=exporter_job, slos=slos)
    header = _HEADER if not any(not s.alerting.default for s in slos) else _HEADER + (
        f"# The {SLO_ALERTS_GROUP} group is generated from the config: regenerate it "
        "when SLOs change.\n")
    return header + _dump({"groups": groups})


def render_prometheus_rule(
    *,
    name: str = "slo-exporter",
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """The same rules as a Prometheus Operator ``PrometheusRule`` manifest.

    Without ``namespace`` the manifest names none, so kustomize (or kubectl -n) sets it.
    """
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = labels or {"app.kubernetes.io/name": "slo-exporter"}
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata,
        "spec": {"groups": rule_groups()},
    }
    header = (
        "# Generated from the same rules as `slo-exporter rules`; do not edit by hand.\n"
        "# Generic over the service/slo labels: adding an SLO needs no new rule.\n"
    )
    return header + _dump(manifest)
