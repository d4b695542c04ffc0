"""The native ``bool_gauge`` SLI kind: ``sli: {bool_gauge: {metric: SELECTOR}}``.

It is what a Pyrra ``bool_gauge`` indicator becomes, so a converted Pyrra
spec loads as the same SLI; every mistake is located at the user's key.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.config import parse_config
from slo_exporter.errors import ConfigError

PYRRA_EXAMPLES = Path(__file__).parent.parent / "fixtures" / "conformance" / "pyrra" / "examples"


def _config(sli: str, top: str = "") -> str:
    return top + textwrap.dedent(f"""\
        services:
          - name: web
            slos:
              - name: probe
                objective: 99
                window: 30d
                sli:
                  {sli}
        """)


def _messages(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    return [str(p) for p in info.value.problems]


def test_bool_gauge_is_a_bool_gauge_sli_with_a_canonical_selector() -> None:
    """The metric becomes the gauge's selector, spelled as every other selector is."""
    config = parse_config(_config("bool_gauge: {metric: 'probe_success{ job = \"bb\" }'}"), "t")
    assert config.slos[0].sli == model.BoolGaugeSLI(model.Selector('probe_success{job="bb"}'))


def test_a_pyrra_bool_gauge_and_its_native_spelling_are_the_same_sli() -> None:
    """Pyrra's probe-success example and the native key give one and the same SLI."""
    pyrra = parse_config((PYRRA_EXAMPLES / "prometheus-probe-success.yaml").read_text(), "p")
    native = parse_config(_config("bool_gauge: {metric: probe_success}"), "n")
    assert native.slos[0].sli == pyrra.slos[0].sli


@pytest.mark.parametrize(
    ("sli", "message"),
    [
        (
            "bool_gauge: {metric: 'avg(probe_success)'}",
            "test.yaml:8: services[0].slos[0].sli.bool_gauge.metric: 'avg(probe_success)' is "
            "not a plain series selector (unexpected '(' at position 4); give the 0/1 gauge "
            'with optional matchers, such as probe_success{job="blackbox"}: each raw sample '
            "is one event",
        ),
        (
            "bool_gauge: {}",
            "test.yaml:8: services[0].slos[0].sli.bool_gauge: missing required key 'metric'",
        ),
        (
            "bool_gauge: {metric: up, threshold: 1}",
            "test.yaml:8: services[0].slos[0].sli.bool_gauge.threshold: unknown key; "
            "allowed keys: metric",
        ),
        (
            "bool_gauge: probe_success",
            "test.yaml:8: services[0].slos[0].sli.bool_gauge: must be a mapping with keys "
            "metric, got 'probe_success'",
        ),
    ],
)
def test_a_bad_bool_gauge_is_located(sli: str, message: str) -> None:
    """A non-selector, a missing or unknown key and a bare string each name the key."""
    assert _messages(_config(sli)) == [message]


def test_a_bool_gauge_queries_prometheus_so_its_timeout_is_judged() -> None:
    """A bool gauge is read from Prometheus: a timeout above the interval is refused,
    as for ratio SLIs (it was let through as if no SLO queried Prometheus)."""
    text = _config("bool_gauge: {metric: probe_success}", top="evaluation_interval: 5s\n")
    assert _messages(text) == [
        "test.yaml:1: prometheus.timeout: must not be longer than evaluation_interval (5s), "
        "got 10s (the default)"
    ]
