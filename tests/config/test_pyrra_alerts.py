"""Same alerts as Pyrra: for every objective of Pyrra's own rule tests, the alert
conditions the loader produces have the windows, factors, severities, names
and targets of the rules Pyrra is expected to generate.

The expected rules (test-fixtures/expected_TestObjective_Burnrates.yaml) are
parsed here, never copied into the test: each case's ``ErrorBudgetBurn``-style
alert is read back into (severity, short, long, factor, for, target), and the
``<metric>:burnrate<window>`` recording rules into the set of burn-rate windows.
The objectives are Pyrra's Go fixtures written as specs
(test-objectives/<objective_fixture>.yaml, see the fixtures' README).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_exporter.config import load_config
from slo_exporter.durations import parse_duration
from slo_exporter.errors import ConfigError

PYRRA = Path(__file__).parent.parent / "fixtures" / "conformance" / "pyrra"
EXPECTED = PYRRA / "test-fixtures" / "expected_TestObjective_Burnrates.yaml"
OBJECTIVES = PYRRA / "test-objectives"

#: `a:burnrate5m{...} > (14 * (1-0.99)) and a:burnrate1h{...} > (14 * (1-0.99))`
_CONDITION = re.compile(
    r"\S+:burnrate(?P<short>\w+)\{[^}]*\} > \((?P<factor>[\d.]+) \* \(1-(?P<target>[\d.]+)\)\)"
    r" and \S+:burnrate(?P<long>\w+)\{[^}]*\} > \((?P=factor) \* \(1-(?P=target)\)\)"
)
_RECORD = re.compile(r":burnrate(\w+)$")

#: Pyrra's severities and ours
SEVERITY = {"critical": "page", "warning": "ticket"}


@dataclass(frozen=True)
class ExpectedAlert:
    """One burn-rate alert rule Pyrra is expected to generate, read back."""

    name: str
    severity: str  # Pyrra's severity label
    short: float
    long: float
    factor: float
    for_: float
    target: float


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))
    return cases


def _alerts(case: dict[str, Any]) -> list[ExpectedAlert]:
    alerts = []
    for rule in case["rules"]:
        if "alert" not in rule:
            continue
        match = _CONDITION.fullmatch(rule["expr"])
        assert match, rule["expr"]
        labels = rule["labels"]
        short, long = parse_duration(match["short"]), parse_duration(match["long"])
        # the rule's own labels say the same windows as its expression
        assert (parse_duration(labels["short"]), parse_duration(labels["long"])) == (short, long)
        alerts.append(ExpectedAlert(
            name=rule["alert"],
            severity=labels["severity"],
            short=short,
            long=long,
            factor=float(match["factor"]),
            for_=parse_duration(rule["for"]),
            target=float(match["target"]),
        ))
    return alerts


def _burn_rate_windows(case: dict[str, Any]) -> set[float]:
    found = set()
    for rule in case["rules"]:
        match = _RECORD.search(rule.get("record", ""))
        if match:
            found.add(parse_duration(match[1]))
    return found


CASES = _cases()
NATIVE = "latencyNative is not supported"


def test_every_case_has_an_objective_spec() -> None:
    """Every objective the expected rules name is written as a spec, and no other."""
    named = {case["objective_fixture"] for case in CASES}
    written = {p.stem for p in OBJECTIVES.glob("*.yaml")}
    assert named <= written
    assert len(CASES) == 22


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_same_alerts_as_pyrra(case: dict[str, Any]) -> None:
    """The SLO's alert windows, factors, holds (Pyrra's for:), severities, name and target
    are those of Pyrra's expected rules; a latencyNative objective is rejected."""
    path = OBJECTIVES / f"{case['objective_fixture']}.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))["spec"]
    if "latencyNative" in spec["indicator"]:
        with pytest.raises(ConfigError) as info:
            load_config(str(path))
        (problem,) = info.value.problems
        assert NATIVE in problem.reason
        return
    (slo,) = load_config(str(path)).slos
    expected = _alerts(case)
    alerting = slo.alerting
    period = slo.period.longest

    # every burn-rate window Pyrra records is one of our alert windows, and back
    ours = {w.long for w in alerting.windows} | {w.short for w in alerting.windows}
    assert ours == _burn_rate_windows(case)

    if not expected:  # Pyrra generates no alert: ours are turned off, still evaluated
        assert alerting.page.disabled
        assert alerting.ticket.disabled
        assert len(alerting.windows) == 4
        return
    assert not alerting.page.disabled
    assert not alerting.ticket.disabled
    assert len(expected) == len(alerting.windows) == 4
    for alert, window in zip(expected, alerting.windows, strict=True):
        assert window.severity == SEVERITY[alert.severity]
        assert (window.short, window.long) == (alert.short, alert.long)
        assert window.threshold(period) == pytest.approx(alert.factor, rel=1e-12)
        assert window.hold == alert.for_
        settings = alerting.settings(window.severity)
        assert settings.name == alert.name
        assert dict(settings.labels) == {"severity": alert.severity}
        assert slo.objective == pytest.approx(alert.target, rel=1e-12)


def test_fast_window_spends_a_48th_of_the_budget() -> None:
    """4w: Pyrra's fast window (1h, factor 14) spends 14 x 1h / 672h = 1/48 of the budget,
    which our factor formula (fraction x period / long) turns back into 14."""
    (slo,) = load_config(str(OBJECTIVES / "objectiveHTTPRatio.yaml")).slos
    fast = slo.alerting.windows[0]
    assert fast.budget_fraction == pytest.approx(1 / 48, rel=1e-12)
    assert fast.threshold(slo.period.longest) == pytest.approx(14.0, rel=1e-12)
