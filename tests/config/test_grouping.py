"""The native ``group_by``/``max_groups`` keys: what can be grouped, with located errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.config import parse_config
from slo_exporter.errors import ConfigError

RATIO = """\
sli:
  ratio:
    bad: 'http_requests_total{job="api",code=~"5.."}'
    total: 'http_requests_total{job="api"}'
"""


def _doc(extra: str, *, sli: str = RATIO, labels: str = "", more: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(extra).strip("\n") + "\n" + sli, " " * 8)
    return (
        "services:\n"
        "  - name: api\n"
        f"{labels}"
        "    slos:\n"
        "      - name: s\n"
        "        objective: 99\n"
        "        window: 30d\n"
        f"{body}{more}"
    )


def _slo(extra: str, **kw: str) -> model.SLO:
    return parse_config(_doc(extra, **kw), "test.yaml").slos[0]


def _errors(extra: str, **kw: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(_doc(extra, **kw), "test.yaml")
    return [str(p) for p in info.value.problems]


def test_group_by_and_max_groups_are_read() -> None:
    """group_by lists the labels in order; max_groups sets the cap."""
    slo = _slo("group_by: [route, method]\nmax_groups: 7\n")
    assert (slo.group_by, slo.max_groups, dict(slo.group)) == (("route", "method"), 7, {})


def test_max_groups_defaults_to_100() -> None:
    """Without max_groups a grouped SLO keeps at most 100 groups."""
    assert _slo("group_by: [route]\n").max_groups == 100


def test_ungrouped_slo_is_unchanged() -> None:
    """Without group_by the SLO is one SLO, as before."""
    slo = _slo("")
    assert (slo.group_by, slo.key) == ((), "api/s")


def test_latency_sli_can_be_grouped() -> None:
    """A latency SLI reads raw bucket samples, which carry the group labels."""
    sli = "sli:\n  latency:\n    histogram: 'rpc_seconds{job=\"api\"}'\n    threshold: 0.25\n"
    assert _slo("group_by: [route]\n", sli=sli).group_by == ("route",)


def test_template_sli_is_rejected_with_the_reason() -> None:
    """A {{.window}} template cannot be split by group: the error says why, at group_by."""
    sli = ("sli:\n  ratio:\n    bad: 'sum(increase(errors[{{.window}}]))'\n"
           "    total: 'sum(increase(total[{{.window}}]))'\n")
    (error,) = _errors("group_by: [route]\n", sli=sli)
    assert error.startswith("test.yaml:7: ")
    assert "services[0].slos[0].group_by" in error
    assert "template is evaluated by Prometheus" in error


def test_probe_sli_is_rejected() -> None:
    """A probe measures one target: grouping it is an error."""
    sli = "sli:\n  probe:\n    http:\n      url: http://127.0.0.1:1/\n"
    (error,) = _errors("group_by: [route]\n", sli=sli)
    assert "a probe SLI measures one target" in error


@pytest.mark.parametrize("label", ["le", "__name__"])
def test_le_and_prometheus_labels_are_rejected(label: str) -> None:
    """``le`` splits a histogram's buckets; __ names belong to Prometheus."""
    (error,) = _errors(f"group_by: [route, {label}]\n")
    assert "services[0].slos[0].group_by[1]" in error
    assert "cannot be a group label" in error


@pytest.mark.parametrize("label", ["service", "slo", "window", "severity", "result"])
def test_labels_the_exporter_sets_can_be_grouped_by(label: str) -> None:
    """A group label the exporter also sets (Pyrra groups by ``service``) is accepted."""
    assert _slo(f"group_by: [{label}, method]\n").group_by == (label, "method")


def test_a_label_and_its_exported_name_cannot_both_be_listed() -> None:
    """``service`` is exported as ``exported_service``: listing both is ambiguous."""
    (error,) = _errors("group_by: [service, exported_service]\n")
    assert error.endswith("group_by[1]: labels 'service' and 'exported_service' would both "
                          "be exported as 'exported_service'")


def test_exported_name_colliding_with_an_own_label_is_rejected() -> None:
    """A group label exported under a name the SLO's labels hold is rejected."""
    (error,) = _errors("group_by: [service]\n",
                       labels="    labels: {exported_service: x}\n")
    assert "exported as 'exported_service'" in error


def test_invalid_label_name_is_rejected() -> None:
    """A group label must be a valid Prometheus label name."""
    (error,) = _errors("group_by: [route-name]\n")
    assert "invalid label name 'route-name'" in error


def test_own_label_collision_is_rejected() -> None:
    """A group label the SLO (or its service) already sets would have two values."""
    (error,) = _errors("group_by: [team]\n", labels="    labels: {team: web}\n")
    assert "group_by[0]" in error
    assert "one of the SLO's own labels" in error


def test_duplicate_and_empty_lists_are_rejected() -> None:
    """A label listed twice, and an empty list, are errors."""
    assert "listed twice" in _errors("group_by: [route, route]\n")[0]
    assert "at least one label" in _errors("group_by: []\n")[0]


@pytest.mark.parametrize(("value", "text"), [("0", "at least 1"), ("10001", "at most 10000")])
def test_max_groups_bounds(value: str, text: str) -> None:
    """max_groups is between 1 and 10,000."""
    (error,) = _errors(f"group_by: [route]\nmax_groups: {value}\n")
    assert "max_groups" in error
    assert text in error


def test_max_groups_without_group_by_is_rejected() -> None:
    """A cap with nothing to cap is a mistake, not silently ignored."""
    (error,) = _errors("max_groups: 5\n")
    assert "group_by, which is not given" in error


def test_grouped_slo_cannot_be_a_composite_component() -> None:
    """A composite includes one SLO: including a grouped one is an error at its group_by."""
    composite = (
        "      - name: c\n"
        "        objective: 99\n"
        "        window: 30d\n"
        "        sli:\n"
        "          composite:\n"
        "            mode: weighted\n"
        "            components:\n"
        "              - slo: api/s\n"
    )
    (error,) = _errors("group_by: [route]\n", more=composite)
    assert "services[0].slos[0].group_by" in error
    assert "composite SLO 'api/c' includes 'api/s', which is grouped" in error


def test_readme_grouping_example_loads() -> None:
    """The README's Grouping example is a valid config with a grouped SLO."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Grouping", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    slo = parse_config(example, "README.md").slos[0]
    assert (slo.group_by, slo.max_groups) == (("route",), 100)


def test_every_grouping_problem_is_reported_together() -> None:
    """A bad label, a bad cap and an SLI that cannot be grouped: three located errors."""
    sli = "sli:\n  probe:\n    http:\n      url: http://127.0.0.1:1/\n"
    errors = _errors("group_by: [le]\nmax_groups: 0\n", sli=sli)
    assert [e.split(": ", 2)[1] for e in errors] == [
        "services[0].slos[0].group_by[0]", "services[0].slos[0].group_by",
        "services[0].slos[0].max_groups"]
