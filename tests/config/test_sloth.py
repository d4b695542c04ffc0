"""The Sloth dialect: every Sloth example and validation spec loads or is rejected
for a stated reason, each problem located by file, document index and field.

Fixtures are Sloth v0.16.0's own files (tests/fixtures/conformance/sloth, see
its README for provenance). Every example sets alert names or labels, which the
exporter's fixed alerts cannot honour, so each example is also loaded with its
``alerting`` blocks removed to show that the rest of it maps to native SLOs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from slo_exporter import model
from slo_exporter.config import load_config, parse_config
from slo_exporter.config.sloth import PERIOD
from slo_exporter.errors import ConfigError, ConfigProblem

SLOTH = Path(__file__).parent.parent / "fixtures" / "conformance" / "sloth"
EXAMPLES = SLOTH / "examples"
VALIDATE = SLOTH / "test" / "integration" / "prometheus" / "testdata" / "validate"

ALERTING = "Sloth alert settings are not supported yet"
SLI_PLUGIN = "SLI plugins are not supported: they run Go code"
SLO_PLUGIN = "SLO plugins are not supported: they run Go code"
RAW = "raw error-ratio SLIs are not supported yet"
OPENSLO_V1ALPHA = "apiVersion 'openslo/v1alpha'"
UNKNOWN_KEY = "unknown key"

#: example -> the reasons it is rejected for (every problem has one of them)
EXAMPLE_REASONS = {
    "contrib-denominator-corrected.yaml": {SLO_PLUGIN, ALERTING},
    "contrib-slo-plugins.yml": {SLO_PLUGIN, ALERTING},
    "getting-started.yml": {ALERTING},
    "home-wifi.yml": {ALERTING},
    "k8s-getting-started.yml": {ALERTING},
    "k8s-home-wifi.yml": {ALERTING},
    "k8s-multifile.yml": {ALERTING},
    "kubernetes-apiserver.yml": {ALERTING},
    "multifile.yml": {ALERTING},
    "no-alerts.yml": {ALERTING},
    # Sloth reads OpenSLO v1alpha; the OpenSLO dialect here is v1 (and v2alpha)
    "openslo-getting-started.yml": {OPENSLO_V1ALPHA},
    "openslo-kubernetes-apiserver.yml": {OPENSLO_V1ALPHA},
    "plugin-getting-started.yml": {SLI_PLUGIN, ALERTING},
    # the CRD spells page_alert as pageAlert; Kubernetes would prune the snake_case keys
    "plugin-k8s-getting-started.yml": {SLI_PLUGIN, ALERTING, UNKNOWN_KEY},
    "raw-home-wifi.yml": {RAW, ALERTING},
    "slo-plugin-getting-started.yml": {SLO_PLUGIN, ALERTING},
    "slo-plugin-k8s-getting-started.yml": {SLO_PLUGIN, ALERTING},
    "victoria-metrics.yml": {SLO_PLUGIN, ALERTING},
}


def _problems_of(path: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    return info.value.problems


def _without_alerting(text: str) -> str:
    """The documents of ``text`` with every SLO's ``alerting`` block removed."""
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    for document in documents:
        spec = document.get("spec", document)
        for slo in spec["slos"]:
            slo.pop("alerting", None)
    return yaml.safe_dump_all(documents)


def test_every_example_is_covered() -> None:
    """The reason table names every example file Sloth ships, and nothing else."""
    shipped = {p.name for p in EXAMPLES.iterdir() if p.is_file()}
    assert shipped == set(EXAMPLE_REASONS)


@pytest.mark.parametrize("name", sorted(EXAMPLE_REASONS))
def test_example_is_rejected_for_its_stated_reasons(name: str) -> None:
    """Each example is rejected for exactly its stated reasons, each located in a document."""
    problems = _problems_of(EXAMPLES / name)
    found = set()
    for problem in problems:
        assert problem.file == str(EXAMPLES / name)
        assert problem.path.startswith("documents["), problem
        assert problem.line is not None
        reasons = [r for r in EXAMPLE_REASONS[name] if r in problem.reason]
        assert reasons, problem
        found.update(reasons)
    assert found == EXAMPLE_REASONS[name]


LOADS_WITHOUT_ALERTING = [
    name for name, reasons in EXAMPLE_REASONS.items() if reasons == {ALERTING}
]


@pytest.mark.parametrize("name", LOADS_WITHOUT_ALERTING)
def test_example_loads_once_its_alert_settings_are_removed(name: str) -> None:
    """Without the alert settings, every events example loads: 30d, objective and labels kept."""
    source = yaml.safe_load_all((EXAMPLES / name).read_text(encoding="utf-8"))
    specs = [d.get("spec", d) for d in source if d is not None]
    config = parse_config(_without_alerting((EXAMPLES / name).read_text()), name)
    assert [s.name for s in config.services] == [spec["service"] for spec in specs]
    for service, spec in zip(config.services, specs, strict=True):
        assert [slo.name for slo in service.slos] == [slo["name"] for slo in spec["slos"]]
        for slo, given in zip(service.slos, spec["slos"], strict=True):
            assert slo.period == model.RollingPeriod(PERIOD)
            assert slo.objective == pytest.approx(given["objective"] / 100)
            assert dict(slo.labels) == {**spec.get("labels", {}), **given.get("labels", {})}
            assert isinstance(slo.sli, model.RatioSLI)
            assert slo.sli.bad is not None
            assert slo.sli.good is None


def test_getting_started_becomes_exact_selectors() -> None:
    """sum(rate(SEL[{{.window}}])) on both queries becomes the plain selectors (exact path)."""
    text = _without_alerting((EXAMPLES / "getting-started.yml").read_text())
    slo = parse_config(text, "getting-started.yml").services[0].slos[0]
    assert slo.objective == pytest.approx(0.999)
    assert slo.sli == model.RatioSLI(
        total=model.Selector('http_request_duration_seconds_count{job="myservice"}'),
        bad=model.Selector(
            'http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}'
        ),
    )


def test_other_queries_stay_window_templates() -> None:
    """A query that is not exactly sum(rate(SEL[{{.window}}])) keeps both as templates."""
    text = _without_alerting((EXAMPLES / "kubernetes-apiserver.yml").read_text())
    slo = parse_config(text, "kubernetes-apiserver.yml").services[0].slos[1]
    assert isinstance(slo.sli, model.RatioSLI)
    assert isinstance(slo.sli.bad, model.Template)
    assert isinstance(slo.sli.total, model.Template)
    assert "{{.window}}" in slo.sli.total.text


def _spec(slo_body: str, *, extra: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(slo_body).strip("\n"), "    ")
    return (
        'version: "prometheus/v1"\nservice: svc\n'
        + extra
        + "slos:\n  - name: avail\n    objective: 99.5\n"
        + body
        + "\n"
    )


EVENTS = """\
sli:
  events:
    error_query: sum(rate(req_total{code="5xx"}[{{.window}}]))
    total_query: sum(rate(req_total[{{.window}}]))
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "spec.yml")
    return [str(p) for p in info.value.problems]


def test_one_reducible_query_and_one_other_give_two_templates() -> None:
    """Selectors and templates do not mix: if one query is not reducible, both stay templates."""
    text = _spec(
        """\
        sli:
          events:
            error_query: sum(rate(req_total{code="5xx"}[{{.window}}]))
            total_query: sum(rate(req_total[{{.window}}])) + sum(rate(other_total[{{.window}}]))
        """
    )
    sli = parse_config(text, "spec.yml").services[0].slos[0].sli
    assert isinstance(sli, model.RatioSLI)
    assert sli.bad == model.Template('sum(rate(req_total{code="5xx"}[{{.window}}]))')


def test_disabled_nothing_in_alerting_loads() -> None:
    """An alerting block that asks for nothing (disable: false, empty labels) is accepted."""
    text = _spec(EVENTS + "alerting:\n  labels: {}\n  page_alert:\n    disable: false\n")
    assert parse_config(text, "spec.yml").services[0].slos[0].name == "avail"


def test_page_disable_is_rejected_with_its_field() -> None:
    """Disabling the page alert cannot be honoured: the problem names the setting."""
    text = _spec(EVENTS + "alerting:\n  page_alert:\n    disable: true\n")
    (message,) = _errors(text)
    assert message.startswith("spec.yml:11: documents[0].slos[0].alerting: " + ALERTING)
    assert "(given: page_alert.disable)" in message


def test_sli_plugin_is_rejected_with_its_reason() -> None:
    """An SLI plugin runs Go code: rejected, located at the plugin."""
    text = _spec("sli:\n  plugin:\n    id: sloth-common/availability\n")
    (message,) = _errors(text)
    assert message.startswith("spec.yml:8: documents[0].slos[0].sli.plugin: " + SLI_PLUGIN)


def test_query_without_window_is_rejected() -> None:
    """A Sloth query must use {{.window}}: without it every window would give one number."""
    text = _spec(
        "sli:\n  events:\n    error_query: sum(x)\n    total_query: sum(rate(y[{{.window}}]))\n"
    )
    (message,) = _errors(text)
    assert "documents[0].slos[0].sli.events.error_query: must use {{.window}}" in message


def test_unknown_template_variable_is_rejected() -> None:
    """Only {{.window}} exists: another variable is an error naming it."""
    text = _spec(
        "sli:\n  events:\n    error_query: sum(rate(x[{{.range}}]))\n"
        "    total_query: sum(rate(y[{{.window}}]))\n"
    )
    (message,) = _errors(text)
    assert "unknown template variable {{.range}}" in message


def test_problem_in_second_document_names_its_index() -> None:
    """In a multi-document file the problem path starts with the document's index."""
    good = _spec(EVENTS)
    bad = good.replace("svc", "other").replace("99.5", "101")
    messages = _errors(good + "---\n" + bad)
    assert messages == [
        "spec.yml:15: documents[1].slos[0].objective: must be a percentage strictly "
        "between 0 and 100, got 101"
    ]


def test_duplicate_service_in_one_file_is_rejected() -> None:
    """Two documents of one file defining the same service are an error."""
    good = _spec(EVENTS)
    assert any("duplicate service name 'svc'" in m for m in _errors(good + "---\n" + good))


def test_crd_with_wrong_kind_is_rejected() -> None:
    """A sloth.slok.dev document of another kind names the kind it expected."""
    text = "apiVersion: sloth.slok.dev/v1\nkind: Other\nspec: {}\n"
    (message,) = _errors(text)
    assert "documents[0].kind: must be 'PrometheusServiceLevel', got 'Other'" in message


@pytest.mark.parametrize("name", ["7d.yaml", "custom-30d.yaml"])
def test_alert_window_catalogs_are_rejected(name: str) -> None:
    """A custom AlertWindows catalog is rejected: the exporter's alert windows are fixed."""
    (problem,) = _problems_of(EXAMPLES / "windows" / name)
    assert problem.path == "documents[0].kind"
    assert "custom AlertWindows catalogs are not supported" in problem.reason


BAD = sorted((VALIDATE / "bad").glob("*.yaml"))

#: what Sloth's own validation rejects each bad spec for, found by us too
BAD_DEFECTS = {
    "bad-aa.yaml": "documents[0].slos[1].objective: must be a percentage strictly between",
    "bad-ab.yaml": "documents[0].slos[1].objective: must be a percentage strictly between",
    "bad-ba.yaml": "documents[0].slos[1].objective: must be a percentage strictly between",
    "bad-k8s.yaml": "documents[0].spec.service: must not be empty",
    "bad-multi.yaml": "documents[1].slos[1].sli: must have exactly one of events, raw, plugin",
    "bad-openslo.yaml": OPENSLO_V1ALPHA,
}


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_sloth_bad_specs_are_rejected(path: Path) -> None:
    """Sloth's invalid specs are rejected, with the defect Sloth rejects them for when we see it."""
    messages = [f"{p.path}: {p.reason}" for p in _problems_of(path)]
    defect = BAD_DEFECTS.get(path.name)
    if defect is not None:
        assert any(defect in m for m in messages), messages


def test_bad_multi_k8s_defect_is_beyond_our_reading() -> None:
    """bad-multi-k8s differs from good-multi-k8s only in the raw SLI we reject anyway."""
    problems = _problems_of(VALIDATE / "bad" / "bad-multi-k8s.yaml")
    assert {p.reason.split(":")[0] for p in problems} == {
        ALERTING,
        RAW,
    }


def test_quoted_objective_gets_the_native_hint() -> None:
    """A Sloth objective is read as a native one: a quoted number is text, and it says so."""
    text = _spec(EVENTS).replace("objective: 99.5", 'objective: "99.5"')
    assert _errors(text) == [
        'spec.yml:5: documents[0].slos[0].objective: must be a number (a percentage such as '
        "99.9), got '99.5': remove the quotes, a quoted value is text"
    ]
