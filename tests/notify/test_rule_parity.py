"""Direct alerts equal what Prometheus sends for the generated rules, case by case.

Every burn-rate expectation of the promtool rule tests (tests/rules/*.test.yml:
the labels and rendered annotations Prometheus gives the rule's alert for the
input series) is rebuilt as a direct alert from the same values, passing the
series' ``job``/``instance`` as extra labels as the README advises: labels and
annotations must be identical, so Alertmanager deduplicates the two paths.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from slo_exporter.durations import parse_duration
from slo_exporter.model import ALERT_WINDOWS, RollingPeriod, frozen_map
from slo_exporter.notify.alerts import burn_rate
from slo_exporter.snapshot import AlertState, SLOStatus
from tests.support.helpers import ratio_slo

RULE_TESTS = Path(__file__).resolve().parents[1] / "rules"
_SERIES = re.compile(r"(?P<name>\w+)\{(?P<labels>[^}]*)\}")


def _labels(text: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


def _expand(values: str) -> list[float]:
    """promtool's series notation as used there: ``v`` and ``vxN`` (v, N more times)."""
    out: list[float] = []
    for part in values.split():
        value, _, times = part.partition("x")
        out += [float(value)] * (int(times) + 1 if times else 1)
    return out


def _cases() -> list[Any]:
    cases = []
    for path in sorted(RULE_TESTS.glob("*.test.yml")):
        for test in yaml.safe_load(path.read_text())["tests"]:
            step = parse_duration(test["interval"])
            series = []
            for item in test["input_series"]:
                m = _SERIES.fullmatch(item["series"])
                assert m is not None, item["series"]
                series.append((m["name"], _labels(m["labels"]), _expand(item["values"])))
            for check in test.get("alert_rule_test", []):
                if not check["alertname"].startswith("SLOBurnRate"):
                    continue
                at = int(parse_duration(check["eval_time"]) / step)
                for expected in check["exp_alerts"]:
                    cases.append(pytest.param(
                        series, at, check["alertname"], expected,
                        id=f"{path.stem}:{test['name']}:{expected['exp_labels']['slo']}"))
    return cases


def _value(series: list[Any], name: str, labels: dict[str, str], at: int) -> float | None:
    for metric, have, values in series:
        if metric == name and all(have.get(k) == v for k, v in labels.items()):
            return values[at] if at < len(values) else None
    return None


@pytest.mark.parametrize(("series", "at", "alertname", "expected"), _cases())
def test_a_direct_alert_is_the_rule_alert(series: list[Any], at: int, alertname: str,
                                          expected: dict[str, Any]) -> None:
    """Same labels (job/instance passed as extra labels) and the same annotation texts."""
    want = expected["exp_labels"]
    key = {"service": want["service"], "slo": want["slo"]}
    info = next(labels for name, labels, _ in series
                if name == "slo_info" and all(labels.get(k) == v for k, v in key.items()))
    period = _value(series, "slo_period_seconds", key, at)
    assert period is not None
    window = next(w for w in ALERT_WINDOWS if w.severity == want["severity"]
                  and w.long == parse_duration(want["long_window"]))
    slo = dataclasses.replace(
        ratio_slo(want["service"], want["slo"]), period=RollingPeriod(period),
        labels=frozen_map({k: info[k] for k in ("owner", "tier") if k in info}),
        runbook_url=info.get("runbook_url"))
    rates = {w: _value(series, "slo_burn_rate", {**key, "window": w}, at)
             for w in (want["long_window"], want["short_window"])}
    state = AlertState(window.severity, window.long, window.short_or_long,
                       window.threshold(period),
                       rates[want["long_window"]], rates[want["short_window"]], True)
    status = SLOStatus(slo=slo, alerts=(state,), up=True, evaluated_at=0.0,
                       budget_remaining=_value(series, "slo_error_budget_remaining_ratio",
                                               key, at))
    alert = burn_rate(status, state, extra_labels={
        k: want[k] for k in ("job", "instance") if k in want})
    assert dict(alert.labels) == {"alertname": alertname, **want}
    assert dict(alert.annotations) == expected["exp_annotations"]
