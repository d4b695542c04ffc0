"""Rules of SLOs with alerting of their own: names, labels, annotations, holds, disabled
severities, single windows, checked and unit-tested with promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from slo_exporter import cli
from slo_exporter.config import load_config
from slo_exporter.notify.alerts import burn_rate
from slo_exporter.rules import SLO_ALERTS_GROUP, render_rules
from slo_exporter.snapshot import AlertState, SLOStatus

HERE = Path(__file__).parent
CONFIG = HERE / "slo_alerts.config.yml"
PROMTOOL_TESTS = HERE / "slo_alerts.promtool.yml"


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is required (Debian package 'prometheus')"
    return path


def _rule_file(tmp_path: Path) -> Path:
    rules = tmp_path / "slo_alerts.rules.yml"
    rules.write_text(render_rules(slos=load_config(str(CONFIG)).slos), "utf-8")
    return rules


def _own_rules(text: str) -> list[dict[str, object]]:
    groups = yaml.safe_load(text)["groups"]
    (group,) = [g for g in groups if g["name"] == SLO_ALERTS_GROUP]
    rules: list[dict[str, object]] = group["rules"]
    return rules


def test_promtool_checks_and_unit_tests_pass(tmp_path: Path) -> None:
    """The generated rules pass promtool check, and its unit tests (firing, pending, quiet)."""
    rules = _rule_file(tmp_path)
    check = subprocess.run([_promtool(), "check", "rules", str(rules)],
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    shutil.copy(PROMTOOL_TESTS, tmp_path / PROMTOOL_TESTS.name)
    test = subprocess.run([_promtool(), "test", "rules", str(tmp_path / PROMTOOL_TESTS.name)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert test.returncode == 0, test.stdout + test.stderr


def test_one_rule_per_enabled_window_of_a_custom_slo(tmp_path: Path) -> None:
    """checkout's two page windows get a rule each; its disabled ticket none; catalog none."""
    own = _own_rules(_rule_file(tmp_path).read_text("utf-8"))
    assert [(r["alert"], r.get("for")) for r in own] == [
        ("CheckoutPage", "2m"), ("CheckoutPage", None)]
    assert all('service="shop",slo="checkout"' in str(r["expr"]) for r in own)
    # the fixed factor is a number; the budget fraction scales with the period
    assert "> 10\n" in str(own[1]["expr"])
    assert "(0.02 * slo_period_seconds / 3600)" in str(own[0]["expr"])
    assert " and " not in str(own[1]["expr"])


def test_generic_burn_rate_rules_skip_custom_slos() -> None:
    """Every generic burn-rate rule joins only slo_info{alerting!="custom"}."""
    groups = yaml.safe_load(render_rules())["groups"]
    (burn,) = [g for g in groups if g["name"] == "slo-exporter-burn-rate"]
    assert all('slo_info{alerting!="custom"}' in r["expr"] for r in burn["rules"])


def test_without_custom_slos_there_is_no_extra_group() -> None:
    """Only default alerting: the rule file is the generic one, byte for byte."""
    slos = load_config(str(CONFIG)).slos[1:]
    assert render_rules(slos=slos) == render_rules()


def test_rules_command_reads_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`rules --config.file` prints the group; a bad config exits 1 with its problem."""
    assert cli.main(["rules", f"--config.file={CONFIG}"]) == 0
    assert [r["alert"] for r in _own_rules(capsys.readouterr().out)] == [
        "CheckoutPage", "CheckoutPage"]
    bad = tmp_path / "bad.yml"
    bad.write_text(CONFIG.read_text().replace("factor: 10", "factor: -1"), "utf-8")
    assert cli.main(["rules", f"--config.file={bad}"]) == 1
    assert "must be a burn rate above 0" in capsys.readouterr().err


def test_direct_alerts_equal_the_promtool_expectations() -> None:
    """Each CheckoutPage Prometheus fires in the promtool tests, rebuilt as a direct alert
    from the same burn rates (20 over 1h and 30 over 5m; 12 over 6h) and budget (75%),
    has the same name, labels and annotations."""
    slo = load_config(str(CONFIG)).slos[0]
    cases = yaml.safe_load(PROMTOOL_TESTS.read_text("utf-8"))["tests"]
    rates = [(slo.alerting.windows[0], 20.0, 30.0), (slo.alerting.windows[1], 12.0, 12.0)]
    expected = [alert for case in cases for test in case["alert_rule_test"]
                if test["alertname"] == "CheckoutPage" for alert in test["exp_alerts"]]
    assert len(expected) == len(rates)
    for want, (window, long_rate, short_rate) in zip(expected, rates, strict=True):
        state = AlertState(window.severity, window.long, window.short_or_long,
                           window.threshold(slo.period.longest), long_rate, short_rate, True,
                           window=window)
        status = SLOStatus(slo=slo, alerts=(state,), budget_remaining=0.75, up=True,
                           evaluated_at=0.0)
        alert = burn_rate(status, state)
        assert dict(alert.labels) == {"alertname": "CheckoutPage", **want["exp_labels"]}
        assert dict(alert.annotations) == want["exp_annotations"]
