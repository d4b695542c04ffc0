"""Grafana dashboards: committed JSON is current, queries follow the metric contract."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

GRAFANA_DIR = Path(__file__).resolve().parents[1] / "deploy" / "grafana"

#: the metric contract (PRODUCT.md: core and service-level management), the period
#: verdict the README documents, and the probe metrics of probe SLIs
CONTRACT_METRICS = {
    "slo_objective_ratio",
    "slo_period_seconds",
    "slo_sli_ratio",
    "slo_events",
    "slo_burn_rate",
    "slo_error_budget_remaining_ratio",
    "slo_burn_rate_alert",
    "slo_info",
    "slo_sli_up",
    "slo_last_evaluation_timestamp_seconds",
    "slo_period_start_timestamp_seconds",
    "slo_period_end_timestamp_seconds",
    "slo_coverage_ratio",
    "slo_excluded_seconds",
    "slo_error_budget_exhaustion_timestamp_seconds",
    "slo_sla_objective_ratio",
    "slo_sla_credit_ratio",
    "slo_period_objective_met",
    "slo_probe_duration_seconds",
    "slo_probe_latency_seconds_bucket",
}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA_DIR / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generator()


def _committed(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((GRAFANA_DIR / "dashboards" / name).read_text())
    return result


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in model["panels"] if p["type"] != "row"]


def _exprs(model: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in _panels(model) for t in p.get("targets", [])]


def test_committed_json_equals_generator_output() -> None:
    """The JSON in deploy/grafana/dashboards is exactly what generate.py produces now."""
    rendered = generate.rendered()
    on_disk = {p.name for p in (GRAFANA_DIR / "dashboards").glob("*.json")}
    assert on_disk == set(rendered)
    for name, text in rendered.items():
        assert (GRAFANA_DIR / "dashboards" / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python deploy/grafana/generate.py"
        )


def test_check_mode_reports_stale_output(tmp_path: Path) -> None:
    """--check exits 1 for a missing or edited dashboard and 0 once regenerated."""
    assert generate.main(["--check", "--out", str(tmp_path)]) == 1
    assert generate.main(["--out", str(tmp_path)]) == 0
    assert generate.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "slo-overview.json").write_text("{}")
    assert generate.main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", ["slo-overview.json", "slo-detail.json"])
def test_every_panel_uses_the_datasource_variable(name: str) -> None:
    """A prometheus-typed ${datasource} variable exists and every panel and query uses it."""
    model = _committed(name)
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ref = {"type": "prometheus", "uid": "${datasource}"}
    for panel in _panels(model):
        assert panel["datasource"] == ref, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == ref, panel["title"]


@pytest.mark.parametrize("name", ["slo-overview.json", "slo-detail.json"])
def test_queries_only_use_contract_metrics(name: str) -> None:
    """Every metric name in every expression is part of the exporter's metric contract."""
    model = _committed(name)
    used = set()
    for expr in _exprs(model):
        used |= set(re.findall(r"\b(slo_[a-z_]+)\b", expr))
    assert used
    assert used <= CONTRACT_METRICS


@pytest.mark.parametrize("name", ["slo-overview.json", "slo-detail.json"])
def test_template_variables_are_only_used_with_regex_matchers(name: str) -> None:
    """$service/$slo appear only in =~ matchers, so a regex placeholder keeps queries valid."""
    model = _committed(name)
    texts = _exprs(model) + [
        v["query"] for v in model["templating"]["list"] if v["type"] == "query"
    ]
    for text in texts:
        for match in re.finditer(r'(\w+)\s*(=~|!~|=|!=)\s*"\$(\w+)"', text):
            assert match.group(2) == "=~", text
    for query in generate.dashboard_queries():
        assert "$" not in query


def test_overview_table_merges_instant_queries_and_sorts_by_budget() -> None:
    """The overview table joins instant queries with merge/organize and sorts by budget left."""
    model = _committed("slo-overview.json")
    [table] = [p for p in model["panels"] if p["type"] == "table"]
    assert {t["format"] for t in table["targets"]} == {"table"}
    assert all(t["instant"] for t in table["targets"])
    assert [t["id"] for t in table["transformations"]] == ["merge", "organize"]
    renames = table["transformations"][1]["options"]["renameByName"]
    assert set(renames.values()) >= {
        "Objective",
        "SLI (period)",
        "Budget left",
        "Burn 5m",
        "Burn 1h",
        "Page",
        "Ticket",
    }
    # every renamed column comes from a query of the table
    ref_ids = {t["refId"] for t in table["targets"]}
    assert {name.removeprefix("Value #") for name in renames} == ref_ids
    assert table["options"]["sortBy"] == [{"displayName": "Budget left", "desc": False}]


def test_detail_covers_sli_burn_budget_events_and_probes() -> None:
    """The detail dashboard has service/slo variables and the panels the issue asks for."""
    model = _committed("slo-detail.json")
    variables = {v["name"] for v in model["templating"]["list"]}
    assert {"datasource", "service", "slo"} <= variables
    exprs = " ".join(_exprs(model))
    for metric in (
        "slo_sli_ratio",
        "slo_burn_rate{",
        "slo_error_budget_remaining_ratio",
        "slo_events",
        "slo_period_objective_met",
        "slo_coverage_ratio",
        "slo_excluded_seconds",
        "slo_error_budget_exhaustion_timestamp_seconds",
        "slo_sla_credit_ratio",
        "slo_period_end_timestamp_seconds",
        "slo_probe_duration_seconds",
        "slo_probe_latency_seconds_bucket",
    ):
        assert metric in exprs
    titles = {p["title"] for p in model["panels"]}
    assert {"SLI by window", "Burn rate by window", "Error budget burn-down"} <= titles
    assert {"Objective met", "Coverage", "SLA credit (projected)"} <= titles


def test_overview_table_shows_the_period_verdict_coverage_and_credit() -> None:
    """The overview table has the service-level columns, each from its contract metric."""
    model = _committed("slo-overview.json")
    table = next(p for p in model["panels"] if p["type"] == "table")
    by_ref = {t["refId"]: t["expr"] for t in table["targets"]}
    assert "slo_period_objective_met" in by_ref["met"]
    assert "slo_coverage_ratio" in by_ref["coverage"]
    assert "slo_sla_credit_ratio" in by_ref["credit"]
    organize = next(t for t in table["transformations"] if t["id"] == "organize")
    names = organize["options"]["renameByName"]
    assert names["Value #met"] == "Period"
    assert names["Value #coverage"] == "Coverage"
    assert names["Value #credit"] == "SLA credit"


@pytest.mark.parametrize("name", ["slo-overview.json", "slo-detail.json"])
def test_panels_have_unique_ids_and_do_not_overlap(name: str) -> None:
    """Panel ids are unique and no two panels share a grid cell within the 24-column grid."""
    model = _committed(name)
    ids = [p["id"] for p in model["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, panel["title"]
                cells.add((x, y))


def test_dashboard_queries_substitutes_variables() -> None:
    """dashboard_queries returns every panel and variable query with variables replaced."""
    queries = generate.dashboard_queries()
    panel_count = sum(len(_exprs(_committed(n))) for n in ("slo-overview.json", "slo-detail.json"))
    variable_count = sum(
        1
        for n in ("slo-overview.json", "slo-detail.json")
        for v in _committed(n)["templating"]["list"]
        if v["type"] == "query"
    )
    assert len(queries) == panel_count + variable_count
    assert 'slo_sli_ratio{service=~".+", slo=~".+"}' in queries
    assert any("[1m]" in q for q in queries)
    assert generate.substitute_variables('x{a=~"${service}"}[$__range]') == 'x{a=~".+"}[1h]'


def test_provisioning_points_at_prometheus_and_the_dashboards() -> None:
    """The provisioned data source is the stack's Prometheus; the provider loads the JSON."""
    provisioning = GRAFANA_DIR / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())
    [source] = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True
    providers = yaml.safe_load((provisioning / "dashboards" / "slo-exporter.yaml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/var/lib/grafana/dashboards")
