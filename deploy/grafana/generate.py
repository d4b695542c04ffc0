"""Generate slo-exporter's Grafana dashboards from typed builders.

Owns the two dashboards shipped in ``dashboards/`` next to this file:

* ``slo-overview.json``: every SLO in one table (objective, SLI over the
  period, budget left, current burn rates, alert and data-source state,
  whether the period meets the objective, coverage, projected SLA credit),
  sorted by budget left, worst first, with a link to the detail dashboard.
* ``slo-detail.json``: one SLO picked with ``$service``/``$slo``: SLI and
  burn rate over time per window, the error-budget burn-down, event volume,
  alert state, the current period as service-level managers read it
  (objective met, coverage, maintenance excluded, when the budget runs out,
  projected SLA credit), and probe latency when the SLI is a probe.

The dashboards are built with grafana-foundation-sdk, Grafana's own typed
builders, never written by hand; the committed JSON is this script's output
and a unit test keeps the two equal. Only metric names from the exporter's
metric contract are used, and every selector that takes a template variable
uses ``=~`` so that the queries can be executed verbatim in tests with the
variables replaced by a regex (see ``dashboard_queries``).

Must not import slo_exporter: Grafana users regenerate dashboards without
installing the exporter.

Usage::

    python deploy/grafana/generate.py          # rewrite dashboards/*.json
    python deploy/grafana/generate.py --check  # exit 1 if the committed JSON is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as common_b
from grafana_foundation_sdk.builders import dashboard as dashboard_b
from grafana_foundation_sdk.builders import prometheus as prometheus_b
from grafana_foundation_sdk.builders import stat as stat_b
from grafana_foundation_sdk.builders import table as table_b
from grafana_foundation_sdk.builders import timeseries as timeseries_b
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common, dashboard, prometheus

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"

OVERVIEW_UID = "slo-exporter-overview"
DETAIL_UID = "slo-exporter-detail"
TAGS = ["slo", "slo-exporter"]

#: the data source every panel uses, chosen by the ``datasource`` variable
DATASOURCE = dashboard.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: burn-rate windows shown in the overview: the long and short alert windows
BURN_WINDOWS = ("5m", "1h", "6h", "1d", "3d")

#: probe metrics exported next to the SLO metrics for probe SLIs
PROBE_DURATION = "slo_probe_duration_seconds"
PROBE_LATENCY_BUCKET = "slo_probe_latency_seconds_bucket"

#: what ``dashboard_queries`` puts in place of a template variable: selectors
#: with variables use ``=~``, so any regex works; Grafana's interval variables
#: need a duration instead
PLACEHOLDER = ".+"
BUILTIN_PLACEHOLDERS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}

OVERVIEW_FILTER = 'service=~"$service"'
DETAIL_FILTER = 'service=~"$service", slo=~"$slo"'

RED, ORANGE, YELLOW, GREEN = "red", "orange", "yellow", "green"


# ------------------------------------------------------------------ helpers


def _query(expr: str, ref_id: str, legend: str = "", *, instant: bool = False) -> Any:
    query = prometheus_b.Dataquery().expr(expr).ref_id(ref_id).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query.range()


def _table_query(expr: str, ref_id: str) -> Any:
    # Table format keeps labels as columns, which the merge transformation joins on.
    return _query(expr, ref_id, instant=True).format(prometheus.PromQueryFormat.TABLE)


def _period_sli(matchers: str) -> str:
    # The period's window label ("30d", "28d") differs per SLO and cannot be
    # derived from slo_period_seconds in PromQL, but the budget is exactly
    # 1 - error ratio / (1 - objective) over the period, so the SLI follows
    # from it. "max by" drops scrape labels so replicas do not clash.
    budget = f"max by (service, slo) (slo_error_budget_remaining_ratio{{{matchers}}})"
    objective = f"max by (service, slo) (slo_objective_ratio{{{matchers}}})"
    return f"1 - (1 - {budget}) * on (service, slo) (1 - {objective})"


def _thresholds(*steps: tuple[float | None, str]) -> Any:
    return (
        dashboard_b.ThresholdsConfig()
        .mode(dashboard.ThresholdsMode.ABSOLUTE)
        .steps([dashboard.Threshold(value=value, color=color) for value, color in steps])
    )


#: budget left: red when spent, orange below a fifth, green otherwise
BUDGET_THRESHOLDS = ((None, RED), (0.0, ORANGE), (0.2, YELLOW), (0.5, GREEN))
#: coverage: measured share of the period's open time; unmeasured time is never counted good
COVERAGE_THRESHOLDS = ((None, RED), (0.9, ORANGE), (0.99, GREEN))
#: burn rate: 1 spends the budget exactly over the period; 6 and 14.4 page
BURN_THRESHOLDS = ((None, GREEN), (1.0, YELLOW), (6.0, ORANGE), (14.4, RED))


def _alert_mapping() -> list[dashboard.ValueMapping]:
    return [
        dashboard.ValueMap(
            options={
                "0": dashboard.ValueMappingResult(text="ok", color=GREEN, index=0),
                "1": dashboard.ValueMappingResult(text="FIRING", color=RED, index=1),
            }
        )
    ]


def _met_mapping() -> list[dashboard.ValueMapping]:
    return [
        dashboard.ValueMap(
            options={
                "0": dashboard.ValueMappingResult(text="missed", color=RED, index=0),
                "1": dashboard.ValueMappingResult(text="met", color=GREEN, index=1),
            }
        )
    ]


def _up_mapping() -> list[dashboard.ValueMapping]:
    return [
        dashboard.ValueMap(
            options={
                "0": dashboard.ValueMappingResult(text="down", color=RED, index=0),
                "1": dashboard.ValueMappingResult(text="up", color=GREEN, index=1),
            }
        )
    ]


def _prop(id_val: str, value: object) -> dashboard.DynamicConfigValue:
    return dashboard.DynamicConfigValue(id_val=id_val, value=value)


def _datasource_variable() -> Any:
    return dashboard_b.DatasourceVariable("datasource").label("Data source").type("prometheus")


def _query_variable(name: str, label: str, query: str, *, multi: bool) -> Any:
    variable = (
        dashboard_b.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard.VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        variable = variable.multi(True).include_all(True).all_value(".*")
    return variable


def _stat(title: str, expr: str, *, unit: str = "none", description: str = "") -> Any:
    return (
        stat_b.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(_query(expr, "A", instant=True))
        .unit(unit)
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        # without thresholds Grafana would colour values of 80 and more red
        .thresholds(_thresholds((None, "text")))
        .reduce_options(common_b.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .height(4)
        .span(4)
    )


def _timeseries(title: str, description: str, unit: str) -> Any:
    return (
        timeseries_b.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .legend(
            common_b.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.RIGHT)
            .show_legend(True)
            .calcs(["lastNotNull"])
        )
        .tooltip(common_b.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
        .height(9)
        .span(12)
    )


# ----------------------------------------------------------------- overview


def overview() -> dashboard_b.Dashboard:
    """Every SLO in one table, worst budget first."""
    f = OVERVIEW_FILTER
    table = (
        table_b.Panel()
        .title("SLOs")
        .description(
            "Every SLO, sorted by error budget left (worst first); click a column header to "
            "sort by it. SLI over the period is derived from the budget: "
            "1 - (1 - budget left) * (1 - objective). Empty cells mean no events in the window."
        )
        .datasource(DATASOURCE)
        .targets(
            [
                _table_query(f"max by (service, slo) (slo_objective_ratio{{{f}}})", "objective"),
                _table_query(_period_sli(f), "sli"),
                _table_query(
                    f"max by (service, slo) (slo_error_budget_remaining_ratio{{{f}}})", "budget"
                ),
                *(
                    _table_query(
                        f'max by (service, slo) (slo_burn_rate{{{f}, window="{w}"}})', f"burn_{w}"
                    )
                    for w in BURN_WINDOWS
                ),
                _table_query(
                    f'max by (service, slo) (slo_burn_rate_alert{{{f}, severity="page"}})', "page"
                ),
                _table_query(
                    f'max by (service, slo) (slo_burn_rate_alert{{{f}, severity="ticket"}})',
                    "ticket",
                ),
                _table_query(f"max by (service, slo) (slo_sli_up{{{f}}})", "up"),
                _table_query(f"max by (service, slo) (slo_period_objective_met{{{f}}})", "met"),
                _table_query(f"min by (service, slo) (slo_coverage_ratio{{{f}}})", "coverage"),
                _table_query(f"max by (service, slo) (slo_sla_credit_ratio{{{f}}})", "credit"),
            ]
        )
        .with_transformation(dashboard.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            dashboard.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "indexByName": _column_order(),
                    "renameByName": _column_names(),
                },
            )
        )
        .sort_by([common_b.TableSortByFieldState().display_name("Budget left").desc(False)])
        .cell_height(common.TableCellHeight.SM)
        .override_by_name("Objective", [_prop("unit", "percentunit"), _prop("decimals", 2)])
        .override_by_name("SLI (period)", [_prop("unit", "percentunit"), _prop("decimals", 3)])
        .override_by_name(
            "Budget left",
            [
                _prop("unit", "percentunit"),
                _prop("decimals", 1),
                _prop("min", 0),
                _prop("max", 1),
                _prop("thresholds", _thresholds(*BUDGET_THRESHOLDS).build()),
                _prop("custom.cellOptions", {"type": "gauge", "mode": "basic"}),
            ],
        )
        .override_by_regexp(
            "^Burn .*",
            [
                _prop("unit", "suffix:\u00d7"),
                _prop("decimals", 2),
                _prop("thresholds", _thresholds(*BURN_THRESHOLDS).build()),
                _prop("custom.cellOptions", {"type": "color-text"}),
            ],
        )
        .override_by_regexp(
            "^(Page|Ticket)$",
            [
                _prop("mappings", _alert_mapping()),
                _prop("custom.cellOptions", {"type": "color-background", "mode": "basic"}),
            ],
        )
        .override_by_name(
            "Data",
            [
                _prop("mappings", _up_mapping()),
                _prop("custom.cellOptions", {"type": "color-text"}),
            ],
        )
        .override_by_name(
            "Period",
            [
                _prop("mappings", _met_mapping()),
                _prop("custom.cellOptions", {"type": "color-text"}),
            ],
        )
        .override_by_name(
            "Coverage",
            [
                _prop("unit", "percentunit"),
                _prop("decimals", 2),
                _prop("thresholds", _thresholds(*COVERAGE_THRESHOLDS).build()),
                _prop("custom.cellOptions", {"type": "color-text"}),
            ],
        )
        .override_by_name(
            "SLA credit",
            [
                _prop("unit", "percentunit"),
                _prop("decimals", 0),
                _prop("thresholds", _thresholds((None, GREEN), (0.000001, RED)).build()),
                _prop("custom.cellOptions", {"type": "color-text"}),
            ],
        )
        .override_by_name(
            "SLO",
            [
                _prop(
                    "links",
                    [
                        {
                            "title": "Open SLO detail",
                            "url": f"/d/{DETAIL_UID}/slo-detail?var-datasource=${{datasource}}"
                            "&var-service=${__data.fields.service}&var-slo=${__value.raw}"
                            "&${__url_time_range}",
                        }
                    ],
                )
            ],
        )
        .height(16)
        .span(24)
    )
    return (
        dashboard_b.Dashboard("SLO overview")
        .uid(OVERVIEW_UID)
        .description("Every SLO measured by slo-exporter: budget left, burn rates, alerts.")
        .tags(TAGS)
        .editable()
        .refresh("1m")
        .time("now-6h", "now")
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
        .with_variable(_datasource_variable())
        .with_variable(
            _query_variable(
                "service", "Service", "label_values(slo_objective_ratio, service)", multi=True
            )
        )
        .with_panel(_stat("SLOs", f"count(slo_objective_ratio{{{f}}})"))
        .with_panel(
            _stat(
                "Paging",
                f'count(slo_burn_rate_alert{{{f}, severity="page"}} == 1) or vector(0)',
                description="SLOs whose page condition (fast burn) holds now.",
            )
            .thresholds(_thresholds((None, GREEN), (1, RED)))
            .span(5)
        )
        .with_panel(
            _stat(
                "Ticket",
                f'count(slo_burn_rate_alert{{{f}, severity="ticket"}} == 1) or vector(0)',
                description="SLOs whose ticket condition (slow burn) holds now.",
            )
            .thresholds(_thresholds((None, GREEN), (1, ORANGE)))
            .span(5)
        )
        .with_panel(
            _stat(
                "Budget exhausted",
                f"count(slo_error_budget_remaining_ratio{{{f}}} <= 0) or vector(0)",
                description="SLOs that have spent their whole error budget for the period.",
            )
            .thresholds(_thresholds((None, GREEN), (1, RED)))
            .span(5)
        )
        .with_panel(
            _stat(
                "Data sources down",
                f"count(slo_sli_up{{{f}}} == 0) or vector(0)",
                description="SLOs whose data source did not answer at the last evaluation.",
            )
            .thresholds(_thresholds((None, GREEN), (1, ORANGE)))
            .span(5)
        )
        .with_panel(table)
        .with_panel(
            _timeseries(
                "Error budget left",
                "Remaining error budget of every SLO over the period; below 0 is overspent.",
                "percentunit",
            )
            .with_target(
                _query(f"slo_error_budget_remaining_ratio{{{f}}}", "A", "{{service}} / {{slo}}")
            )
            .thresholds(_thresholds(*BUDGET_THRESHOLDS))
            .span(24)
        )
    )


#: query ref id -> column title; merge names value columns "Value #<refId>"
_COLUMNS = (
    ("service", "Service"),
    ("slo", "SLO"),
    ("Value #objective", "Objective"),
    ("Value #sli", "SLI (period)"),
    ("Value #budget", "Budget left"),
    *((f"Value #burn_{w}", f"Burn {w}") for w in BURN_WINDOWS),
    ("Value #page", "Page"),
    ("Value #ticket", "Ticket"),
    ("Value #up", "Data"),
    ("Value #met", "Period"),
    ("Value #coverage", "Coverage"),
    ("Value #credit", "SLA credit"),
)


def _column_order() -> dict[str, int]:
    return {name: index for index, (name, _) in enumerate(_COLUMNS)}


def _column_names() -> dict[str, str]:
    # "service" and "slo" keep their names: the SLO link reads the service field.
    return {name: title for name, title in _COLUMNS if name.startswith("Value #")}


# ------------------------------------------------------------------- detail


def detail() -> dashboard_b.Dashboard:
    """One SLO over time, chosen with the service and SLO variables."""
    f = DETAIL_FILTER
    return (
        dashboard_b.Dashboard("SLO detail")
        .uid(DETAIL_UID)
        .description("One SLO over time: SLI, burn rates, budget burn-down, events, probes.")
        .tags(TAGS)
        .editable()
        .refresh("1m")
        .time("now-24h", "now")
        .tooltip(dashboard.DashboardCursorSync.CROSSHAIR)
        .link(
            dashboard_b.DashboardLink("SLO overview")
            .type(dashboard.DashboardLinkType.LINK)
            .url(f"/d/{OVERVIEW_UID}/slo-overview")
            .keep_time(True)
            .include_vars(False)
        )
        .with_variable(_datasource_variable())
        .with_variable(
            _query_variable(
                "service", "Service", "label_values(slo_objective_ratio, service)", multi=False
            )
        )
        .with_variable(
            _query_variable(
                "slo",
                "SLO",
                'label_values(slo_objective_ratio{service=~"$service"}, slo)',
                multi=False,
            )
        )
        .with_panel(
            _stat("Objective", f"slo_objective_ratio{{{f}}}", unit="percentunit")
            .decimals(3)
            .color_mode(common.BigValueColorMode.NONE)
        )
        .with_panel(
            _stat(
                "SLI (period)",
                _period_sli(f),
                unit="percentunit",
                description="Good / total events over the whole SLO period.",
            )
            .decimals(3)
            .color_mode(common.BigValueColorMode.NONE)
        )
        .with_panel(
            _stat(
                "Budget left",
                f"slo_error_budget_remaining_ratio{{{f}}}",
                unit="percentunit",
                description="1 - error budget spent over the period; negative when overspent.",
            )
            .decimals(1)
            .thresholds(_thresholds(*BUDGET_THRESHOLDS))
        )
        .with_panel(
            _stat("Page", f'slo_burn_rate_alert{{{f}, severity="page"}}')
            .mappings(_alert_mapping())
            .span(3)
        )
        .with_panel(
            _stat("Ticket", f'slo_burn_rate_alert{{{f}, severity="ticket"}}')
            .mappings(_alert_mapping())
            .span(3)
        )
        .with_panel(
            _stat(
                "Data source",
                f"slo_sli_up{{{f}}}",
                description="Whether the data source answered at the last evaluation.",
            )
            .mappings(_up_mapping())
            .span(3)
        )
        .with_panel(
            _stat(
                "Last evaluation",
                f"time() - slo_last_evaluation_timestamp_seconds{{{f}}}",
                unit="s",
                description="Seconds since the instant the values describe.",
            )
            .color_mode(common.BigValueColorMode.NONE)
            .span(3)
        )
        .with_panel(
            _timeseries(
                "SLI by window",
                "Good / total events in each rolling window; gaps mean no events.",
                "percentunit",
            )
            .with_target(_query(f"slo_sli_ratio{{{f}}}", "A", "{{window}}"))
            .with_target(_query(f"slo_objective_ratio{{{f}}}", "B", "objective"))
            .override_by_name(
                "objective",
                [
                    _prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
                    _prop("color", {"mode": "fixed", "fixedColor": RED}),
                ],
            )
            .decimals(3)
        )
        .with_panel(
            _timeseries(
                "Burn rate by window",
                "Error ratio / (1 - objective). 1 spends the budget exactly over the period; "
                "the page alert needs 14.4 (1h and 5m) or 6 (6h and 30m) on a 30d SLO.",
                "suffix:\u00d7",
            )
            .with_target(_query(f"slo_burn_rate{{{f}}}", "A", "{{window}}"))
            .thresholds(_thresholds(*BURN_THRESHOLDS))
            .thresholds_style(
                common_b.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.DASHED)
            )
        )
        .with_panel(
            _timeseries(
                "Error budget burn-down",
                "Remaining error budget over the last 30 days; below 0 is overspent.",
                "percentunit",
            )
            .with_target(_query(f"slo_error_budget_remaining_ratio{{{f}}}", "A", "budget left"))
            .thresholds(_thresholds(*BUDGET_THRESHOLDS))
            .thresholds_style(
                common_b.GraphThresholdsStyleConfig().mode(
                    common.GraphTresholdsStyleMode.LINE_AND_AREA
                )
            )
            .time_from("30d")
        )
        .with_panel(
            _timeseries(
                "Events (last 5m)",
                "Good and bad events in the rolling 5-minute window.",
                "short",
            )
            .with_target(_query(f'slo_events{{{f}, window="5m"}}', "A", "{{result}}"))
            .draw_style(common.GraphDrawStyle.BARS)
            .fill_opacity(60)
            .stacking(common_b.StackingConfig().mode(common.StackingMode.NORMAL))
            .override_by_name("good", [_prop("color", {"mode": "fixed", "fixedColor": GREEN})])
            .override_by_name("bad", [_prop("color", {"mode": "fixed", "fixedColor": RED})])
        )
        .with_panel(
            _timeseries(
                "Alert conditions",
                "1 while a multiwindow multi-burn-rate condition of that severity holds.",
                "none",
            )
            .with_target(_query(f"slo_burn_rate_alert{{{f}}}", "A", "{{severity}}"))
            .line_interpolation(common.LineInterpolation.STEP_AFTER)
            .min(0)
            .max(1)
            .span(24)
            .height(6)
        )
        .with_row(dashboard_b.Row("Service level (current period)").collapsed(False))
        .with_panel(
            _stat(
                "Objective met",
                f"max by (service, slo) (slo_period_objective_met{{{f}}})",
                description="Whether the period to date meets the objective "
                "(excluded maintenance time left out); empty while nothing was measured.",
            )
            .mappings(_met_mapping())
            .span(4)
        )
        .with_panel(
            _stat(
                "Coverage",
                f"min by (service, slo) (slo_coverage_ratio{{{f}}})",
                unit="percentunit",
                description="Measured time / (elapsed - excluded time) in the period to date. "
                "Unmeasured time (source or exporter down) is never counted as good.",
            )
            .decimals(2)
            .thresholds(_thresholds(*COVERAGE_THRESHOLDS))
            .span(4)
        )
        .with_panel(
            _stat(
                "Maintenance excluded",
                f"max by (service, slo) (slo_excluded_seconds{{{f}}})",
                unit="s",
                description="Maintenance time left out of the period to date.",
            )
            .color_mode(common.BigValueColorMode.NONE)
            .span(4)
        )
        .with_panel(
            _stat(
                "Budget runs out",
                f"max by (service, slo) "
                f"(slo_error_budget_exhaustion_timestamp_seconds{{{f}}}) * 1000",
                unit="dateTimeAsIso",
                description="When the period's error budget runs out at the current burn; "
                "empty when it will not within the period.",
            )
            .no_value("not this period")
            .color_mode(common.BigValueColorMode.NONE)
            .span(4)
        )
        .with_panel(
            _stat(
                "SLA credit (projected)",
                f"max by (service, slo) (slo_sla_credit_ratio{{{f}}})",
                unit="percentunit",
                description="Service credit owed for the current SLA period at the level "
                "achieved so far; empty for an SLO without an SLA.",
            )
            .no_value("no SLA")
            .decimals(0)
            .thresholds(_thresholds((None, GREEN), (0.000001, RED)))
            .span(4)
        )
        .with_panel(
            _stat(
                "Period ends",
                f"max by (service, slo) (slo_period_end_timestamp_seconds{{{f}}}) * 1000",
                unit="dateTimeAsIso",
                description="End of the current period; now for a rolling window.",
            )
            .color_mode(common.BigValueColorMode.NONE)
            .span(4)
        )
        .with_panel(
            _timeseries(
                "Coverage over time",
                "Measured share of the period's open time; a dip is time the source or the "
                "exporter was down.",
                "percentunit",
            )
            .with_target(_query(f"slo_coverage_ratio{{{f}}}", "A", "{{window}}"))
            .decimals(3)
            .max(1)
            .span(24)
            .height(6)
        )
        # An expanded row lists no panels of its own in Grafana's model: the
        # panels that follow it on the grid belong to it.
        .with_row(dashboard_b.Row("Probe (probe SLIs only)").collapsed(False))
        .with_panel(
            _timeseries(
                "Probe duration",
                "Duration of the latest probe of this SLO's target.",
                "s",
            ).with_target(_query(f"{PROBE_DURATION}{{{f}}}", "A", "last probe"))
        )
        .with_panel(
            _timeseries(
                "Probe latency percentiles",
                "Percentiles of probe latency from the probe histogram.",
                "s",
            ).targets(
                [
                    _query(
                        f"histogram_quantile({q}, sum by (le) "
                        f"(rate({PROBE_LATENCY_BUCKET}{{{f}}}[$__rate_interval])))",
                        f"p{int(q * 100)}",
                        f"p{int(q * 100)}",
                    )
                    for q in (0.5, 0.9, 0.99)
                ]
            )
        )
    )


# ------------------------------------------------------------------ output


def dashboards() -> dict[str, dashboard_b.Dashboard]:
    """File name -> dashboard builder, for every dashboard shipped."""
    return {"slo-overview.json": overview(), "slo-detail.json": detail()}


def render(builder: dashboard_b.Dashboard) -> str:
    """The dashboard as stable, pretty JSON (sorted keys, trailing newline)."""
    model = builder.build()
    # Fixed panel ids keep links to a panel (viewPanel=N) stable across regenerations.
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def rendered() -> dict[str, str]:
    """File name -> JSON text, exactly as committed under ``dashboards/``."""
    return {name: render(builder) for name, builder in dashboards().items()}


def _walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels", []))


_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$", re.DOTALL)


def substitute_variables(expr: str) -> str:
    """Replace template variables with a regex (or, for interval variables, a duration)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return BUILTIN_PLACEHOLDERS.get(name, PLACEHOLDER)

    return _VARIABLE.sub(replace, expr)


def dashboard_queries() -> list[str]:
    """Every PromQL expression of every panel and query variable, variables substituted.

    ``label_values(expr, label)`` variable queries contribute ``expr``, the
    PromQL that Grafana runs for them.
    """
    queries: list[str] = []
    for text in rendered().values():
        model = json.loads(text)
        for variable in model.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable["query"]
            match = _LABEL_VALUES.match(query.strip()) if isinstance(query, str) else None
            if match is None:
                raise ValueError(f"unsupported variable query: {query!r}")
            queries.append(substitute_variables(match.group(1) or "up"))
        for panel in _walk_panels(model.get("panels", [])):
            for target in panel.get("targets", []):
                queries.append(substitute_variables(target["expr"]))
    return queries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a committed dashboard differs"
    )
    parser.add_argument("--out", type=Path, default=DASHBOARDS_DIR, help="output directory")
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
