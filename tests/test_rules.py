"""The generated Prometheus rule file: kept in sync, valid, unit-tested with promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slo_exporter.durations import format_duration
from slo_exporter.model import ALERT_WINDOWS
from slo_exporter.rules import render_prometheus_rule, render_rules, rule_groups

ROOT = Path(__file__).resolve().parent.parent
RULE_FILE = ROOT / "deploy" / "prometheus" / "slo-exporter-rules.yml"
RULE_TESTS = sorted((ROOT / "tests" / "rules").glob("*.test.yml"))


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is required (Debian package 'prometheus'); run `make system-deps`"
    return path


def _alerts(text: str) -> list[dict[str, object]]:
    return [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


def test_committed_rule_file_is_the_generated_one() -> None:
    """deploy/prometheus/slo-exporter-rules.yml equals render_rules() byte for byte."""
    assert RULE_FILE.read_text() == render_rules(), (
        "regenerate with: slo-exporter rules > deploy/prometheus/slo-exporter-rules.yml")


def test_promtool_check_rules_accepts_the_generated_rules(tmp_path: Path) -> None:
    """promtool check rules passes on the generated rule file (syntax, templates, lint)."""
    rules = tmp_path / "rules.yml"
    rules.write_text(render_rules())
    result = subprocess.run([_promtool(), "check", "rules", str(rules)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    """Every promtool unit test under tests/rules passes (firing and not firing per alert)."""
    assert RULE_TESTS, "no promtool unit tests found under tests/rules"
    result = subprocess.run([_promtool(), "test", "rules", *map(str, RULE_TESTS)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_cover_every_alert() -> None:
    """Each alert name in the rule file is expected to fire and not to fire in some unit test."""
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {str(rule["alert"]) for rule in _alerts(render_rules())}
    assert names == {"SLOBurnRatePage", "SLOBurnRateTicket", "SLOErrorBudgetExhausted",
                     "SLODataMissing", "SLOExporterDown"}
    assert names <= firing
    assert names <= silent


def test_one_burn_rate_alert_per_window_pair() -> None:
    """Each default window pair has its own rule, labelled with severity and both windows."""
    burn = [r for r in _alerts(render_rules()) if str(r["alert"]).startswith("SLOBurnRate")]
    got = {(r["labels"]["severity"], r["labels"]["long_window"], r["labels"]["short_window"])  # type: ignore[index]
           for r in burn}
    want = {(sev, format_duration(long), format_duration(short))
            for sev, long, short in ((a.severity, a.long, a.short_or_long) for a in ALERT_WINDOWS)}
    assert got == want
    assert len(burn) == len(ALERT_WINDOWS)


def test_rules_name_no_particular_slo() -> None:
    """The rules match on labels only: no service or SLO name is written into them."""
    text = render_rules()
    assert "service=" not in text.replace("service=%q", "")
    assert "slo=" not in text.replace("slo=%q", "")


def test_info_labels_are_configurable() -> None:
    """Extra slo_info labels can be copied onto SLO alerts for routing."""
    text = render_rules(info_labels=("owner", "tier", "team"))
    assert "group_left (owner, tier, team)" in text


def test_empty_info_labels_are_rejected() -> None:
    """An empty info label list fails at once with a message saying what to pass."""
    with pytest.raises(ValueError, match="info_labels must name at least one"):
        rule_groups(info_labels=())


def test_prometheus_rule_manifest_embeds_the_same_groups() -> None:
    """The PrometheusRule manifest carries exactly the groups of the rule file."""
    manifest = yaml.safe_load(render_prometheus_rule(namespace="observability"))
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["metadata"]["namespace"] == "observability"
    assert manifest["spec"]["groups"] == yaml.safe_load(render_rules())["groups"]
