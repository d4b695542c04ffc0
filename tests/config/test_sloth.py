"""The Sloth dialect: every Sloth example and validation spec loads or is rejected
for a stated reason, each problem located by file, document index and field.

Fixtures are Sloth v0.16.0's own files (tests/fixtures/conformance/sloth, see
its README for provenance). Every example without a plugin loads, its alert
settings becoming the SLO's ``alerting`` the way Sloth's generated rules
combine them; ``AlertWindows`` catalogs replace the alert windows of the
SLOs of their period.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from slo_exporter import model
from slo_exporter.config import ConfigWarning, load_config, parse_config
from slo_exporter.config.sloth import PERIOD
from slo_exporter.errors import ConfigError, ConfigProblem

SLOTH = Path(__file__).parent.parent / "fixtures" / "conformance" / "sloth"
EXAMPLES = SLOTH / "examples"
VALIDATE = SLOTH / "test" / "integration" / "prometheus" / "testdata" / "validate"

SLI_PLUGIN = "SLI plugins are not supported: they run Go code"
SLO_PLUGIN = "SLO plugins are not supported: they run Go code"
#: vmalert accepts any alert name; Prometheus only metric-name characters
ALERT_NAME = "invalid alert name"
NO_NAME = "must name the alerts (Sloth requires a name"
OPENSLO_V1ALPHA = "apiVersion 'openslo/v1alpha'"
UNKNOWN_KEY = "unknown key"

#: example -> the reasons it is rejected for (every problem has one of them)
EXAMPLE_REASONS = {
    "contrib-denominator-corrected.yaml": {SLO_PLUGIN},
    "contrib-slo-plugins.yml": {SLO_PLUGIN},
    # Sloth reads OpenSLO v1alpha; the OpenSLO dialect here is v1 (and v2alpha)
    "openslo-getting-started.yml": {OPENSLO_V1ALPHA},
    "openslo-kubernetes-apiserver.yml": {OPENSLO_V1ALPHA},
    "plugin-getting-started.yml": {SLI_PLUGIN},
    # the CRD spells page_alert as pageAlert; Kubernetes would prune the snake_case keys
    "plugin-k8s-getting-started.yml": {SLI_PLUGIN, UNKNOWN_KEY},
    "slo-plugin-getting-started.yml": {SLO_PLUGIN},
    "slo-plugin-k8s-getting-started.yml": {SLO_PLUGIN},
    "victoria-metrics.yml": {SLO_PLUGIN, ALERT_NAME},
}
#: the examples that load
LOADS = [
    "getting-started.yml", "home-wifi.yml", "k8s-getting-started.yml", "k8s-home-wifi.yml",
    "k8s-multifile.yml", "kubernetes-apiserver.yml", "multifile.yml", "no-alerts.yml",
    "raw-home-wifi.yml",
]


def _problems_of(path: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    return info.value.problems


def test_every_example_is_covered() -> None:
    """The reason table names every example file Sloth ships, and nothing else."""
    shipped = {p.name for p in EXAMPLES.iterdir() if p.is_file()}
    assert shipped == set(EXAMPLE_REASONS) | set(LOADS)
    assert not set(EXAMPLE_REASONS) & set(LOADS)


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


def _expected_settings(alerting: dict[str, object], key: str, crd: bool) -> model.AlertSettings:
    """What one severity of a Sloth ``alerting`` block becomes (written independently)."""
    own = alerting.get(("pageAlert" if key == "page" else "ticketAlert") if crd
                       else f"{key}_alert") or {}
    assert isinstance(own, dict)
    common_labels = alerting.get("labels") or {}
    common_annotations = alerting.get("annotations") or {}
    assert isinstance(common_labels, dict)
    assert isinstance(common_annotations, dict)
    return model.AlertSettings(
        name=str(alerting["name"]) if alerting.get("name") else None,
        labels=model.frozen_map({**common_labels, **(own.get("labels") or {})}),
        annotations=model.frozen_map({**common_annotations, **(own.get("annotations") or {})}),
        disabled=bool(own.get("disable", False)),
    )


@pytest.mark.parametrize("name", LOADS)
def test_example_loads_with_its_alert_settings(name: str) -> None:
    """Every plugin-free example loads: 30d, objective, labels, and each alert setting kept."""
    source = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text("utf-8")) if d]
    specs = [(d.get("spec", d), "spec" in d) for d in source]
    config = load_config(str(EXAMPLES / name))
    assert [s.name for s in config.services] == [spec["service"] for spec, _ in specs]
    for service, (spec, crd) in zip(config.services, specs, strict=True):
        assert [slo.name for slo in service.slos] == [slo["name"] for slo in spec["slos"]]
        for slo, given in zip(service.slos, spec["slos"], strict=True):
            assert slo.period == model.RollingPeriod(PERIOD)
            assert slo.objective == pytest.approx(given["objective"] / 100)
            assert dict(slo.labels) == {**spec.get("labels", {}), **given.get("labels", {})}
            assert slo.alerting.windows == model.ALERT_WINDOWS
            alerting = given.get("alerting", {})
            assert slo.alerting.page == _expected_settings(alerting, "page", crd)
            assert slo.alerting.ticket == _expected_settings(alerting, "ticket", crd)


def test_getting_started_alert_settings_field_by_field() -> None:
    """Sloth's rules for getting-started name both alerts MyServiceHighErrorRate, with the
    common category label and summary, and the page/ticket labels on top (see _gen)."""
    slo = load_config(str(EXAMPLES / "getting-started.yml")).slos[0]
    page, ticket = slo.alerting.page, slo.alerting.ticket
    assert (page.name, ticket.name) == ("MyServiceHighErrorRate", "MyServiceHighErrorRate")
    assert dict(page.labels) == {
        "category": "availability", "severity": "pageteam", "routing_key": "myteam"}
    assert dict(ticket.labels) == {
        "category": "availability", "severity": "slack", "slack_channel": "#alerts-myteam"}
    summary = {"summary": "High error rate on 'myservice' requests responses"}
    assert dict(page.annotations) == dict(ticket.annotations) == summary
    assert (page.disabled, ticket.disabled) == (False, False)
    assert not slo.alerting.default


def test_no_alerts_disables_both_severities() -> None:
    """no-alerts.yml disables page and ticket: both disabled, no name needed."""
    slo = load_config(str(EXAMPLES / "no-alerts.yml")).slos[0]
    assert (slo.alerting.page.disabled, slo.alerting.ticket.disabled) == (True, True)
    assert slo.alerting.page.name is None


def test_raw_sli_becomes_a_raw_error_ratio() -> None:
    """raw-home-wifi's error_ratio_query becomes a raw ratio SLI measuring the bad share."""
    slo = load_config(str(EXAMPLES / "raw-home-wifi.yml")).slos[0]
    assert isinstance(slo.sli, model.RawRatioSLI)
    assert slo.sli.measures == "bad"
    assert "{{.window}}" in slo.sli.query.text


def test_getting_started_becomes_exact_selectors() -> None:
    """sum(rate(SEL[{{.window}}])) on both queries becomes the plain selectors (exact path)."""
    slo = load_config(str(EXAMPLES / "getting-started.yml")).slos[0]
    assert slo.objective == pytest.approx(0.999)
    assert slo.sli == model.RatioSLI(
        total=model.Selector('http_request_duration_seconds_count{job="myservice"}'),
        bad=model.Selector(
            'http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}'
        ),
    )


def test_other_queries_stay_window_templates() -> None:
    """A query that is not exactly sum(rate(SEL[{{.window}}])) keeps both as templates."""
    slo = load_config(str(EXAMPLES / "kubernetes-apiserver.yml")).services[0].slos[1]
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
    """A named alerting block that asks for nothing more (disable: false, empty labels)
    gives the default settings under that name."""
    text = _spec(EVENTS + "alerting:\n  name: Avail\n  labels: {}\n"
                 "  page_alert:\n    disable: false\n")
    alerting = parse_config(text, "spec.yml").services[0].slos[0].alerting
    assert alerting.page == alerting.ticket == model.AlertSettings(name="Avail")


def test_page_disable_disables_only_the_page() -> None:
    """page_alert.disable: the page is disabled, the ticket keeps its name and labels."""
    text = _spec(EVENTS + "alerting:\n  name: Avail\n  labels: {team: a}\n"
                 "  page_alert:\n    disable: true\n")
    alerting = parse_config(text, "spec.yml").services[0].slos[0].alerting
    assert alerting.page.disabled
    team = model.frozen_map({"team": "a"})
    assert alerting.ticket == model.AlertSettings(name="Avail", labels=team)


def test_severity_labels_override_common_ones() -> None:
    """A label in page_alert wins over the same label in alerting.labels (as Sloth's rules)."""
    text = _spec(EVENTS + "alerting:\n  name: Avail\n  labels: {team: a, tier: x}\n"
                 "  page_alert:\n    labels: {team: b}\n    annotations: {summary: s}\n")
    alerting = parse_config(text, "spec.yml").services[0].slos[0].alerting
    assert dict(alerting.page.labels) == {"team": "b", "tier": "x"}
    assert dict(alerting.page.annotations) == {"summary": "s"}
    assert dict(alerting.ticket.labels) == {"team": "a", "tier": "x"}


def test_enabled_alerts_without_a_name_are_rejected() -> None:
    """Sloth requires alerting.name while an alert is enabled; we say so at the field."""
    text = _spec(EVENTS + "alerting:\n  name: ''\n  page_alert:\n    disable: true\n")
    (message,) = _errors(text)
    assert message.startswith("spec.yml:11: documents[0].slos[0].alerting.name: " + NO_NAME)


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ("  name: my-alert\n", "alerting.name: invalid alert name 'my-alert'"),
        ("  name: A\n  labels: {slo: x}\n", "alerting.labels.slo: label 'slo' cannot be set"),
        ("  name: A\n  page_alert:\n    annotations: {bad-name: x}\n",
         "alerting.page_alert.annotations.bad-name: invalid annotation name"),
        ("  name: A\n  ticket_alert:\n    disable: maybe\n",
         "alerting.ticket_alert.disable: must be"),
    ],
)
def test_bad_alert_settings_are_located(setting: str, reason: str) -> None:
    """Each bad alert setting is one problem naming its field and reason."""
    messages = _errors(_spec(EVENTS + "alerting:\n" + setting))
    assert len(messages) == 1
    assert f"documents[0].slos[0].{reason}" in messages[0]


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


def test_duplicate_slo_in_one_file_is_rejected() -> None:
    """Two documents of one file defining the same SLO of a service (Sloth's duplicate SLO
    id) are an error at the second document's service."""
    good = _spec(EVENTS)
    assert _errors(good + "---\n" + good) == [
        "spec.yml:12: documents[1].service: duplicate SLO 'svc/avail': also defined in "
        "spec.yml; an SLO name must be unique within its service"]


def test_crd_with_wrong_kind_is_rejected() -> None:
    """A sloth.slok.dev document of another kind names the kind it expected."""
    text = "apiVersion: sloth.slok.dev/v1\nkind: Other\nspec: {}\n"
    (message,) = _errors(text)
    assert "documents[0].kind: must be 'PrometheusServiceLevel', got 'Other'" in message


@pytest.mark.parametrize("name", ["7d.yaml", "custom-30d.yaml"])
def test_alert_window_catalog_alone_defines_no_slo(name: str) -> None:
    """A catalog file read on its own is valid but holds no SLO: it says to include it."""
    (problem,) = _problems_of(EXAMPLES / "windows" / name)
    assert "the file defines no SLO" in problem.reason


def _including(tmp_path: Path, *files: Path) -> Path:
    """A native config including ``files`` (copied next to it)."""
    for file in files:
        (tmp_path / file.name).write_text(file.read_text("utf-8"), "utf-8")
    config = tmp_path / "slo-exporter.yml"
    config.write_text("include: [" + ", ".join(f.name for f in files) + "]\n", "utf-8")
    return config


def test_custom_30d_catalog_from_another_file_replaces_the_windows(tmp_path: Path) -> None:
    """custom-30d (included after the spec, by name order) gives every 30d Sloth SLO its
    windows: page 30m/2m at 1%, 3h/15m at 2%; ticket 12h/1h at 5%, 36h/3h at 5%."""
    config = load_config(str(_including(
        tmp_path, EXAMPLES / "getting-started.yml", EXAMPLES / "windows" / "custom-30d.yaml")))
    hour = 3600.0
    assert config.slos[0].alerting.windows == (
        model.AlertWindow("page", 0.5 * hour, 120.0, 0.01),
        model.AlertWindow("page", 3 * hour, 900.0, 0.02),
        model.AlertWindow("ticket", 12 * hour, hour, 0.05),
        model.AlertWindow("ticket", 36 * hour, 3 * hour, 0.05),
    )
    assert config.slos[0].alerting.page.name == "MyServiceHighErrorRate"


def test_catalog_in_the_same_file_applies(tmp_path: Path) -> None:
    """A catalog document next to the spec in one file applies to its SLOs."""
    text = (EXAMPLES / "windows" / "custom-30d.yaml").read_text() + "---\n" + _spec(EVENTS)
    slo = parse_config(text, "spec.yml").slos[0]
    assert slo.alerting.windows[0] == model.AlertWindow("page", 1800.0, 120.0, 0.01)


def test_no_catalog_for_the_slo_period_is_an_error(tmp_path: Path) -> None:
    """With only the 7d catalog, a 30d Sloth SLO has no windows: the problem names the
    SLO's file and field, and where the catalog given is."""
    problems = _problems_of(_including(
        tmp_path, EXAMPLES / "getting-started.yml", EXAMPLES / "windows" / "7d.yaml"))
    (problem,) = problems
    assert problem.file == str(tmp_path / "getting-started.yml")
    assert problem.path == "documents[0].slos[0]"
    assert "no AlertWindows catalog for this SLO's period 30d" in problem.reason
    assert f"7d at {tmp_path / '7d.yaml'}:4 (documents[0].spec.sloPeriod)" in problem.reason


def test_two_catalogs_for_one_period_are_an_error() -> None:
    """Two catalogs for 30d: the second is reported with where the first is."""
    catalog = (EXAMPLES / "windows" / "custom-30d.yaml").read_text()
    messages = _errors(catalog + "---\n" + catalog + "---\n" + _spec(EVENTS))
    assert any("documents[1].spec.sloPeriod: a second AlertWindows catalog for the SLO "
               "period 30d: the first is at spec.yml:4" in m for m in messages), messages


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("shortWindow: 2m", "shortWindow: 1h"),
         "documents[0].spec.page.quick.shortWindow: must be shorter than longWindow (30m)"),
        (("errorBudgetPercent: 1\n", "errorBudgetPercent: 0\n"),
         "documents[0].spec.page.quick.errorBudgetPercent: must be a percentage above 0"),
        (("longWindow: 36h", "longWindow: 40d"),
         "documents[0].spec.ticket.slow: the long window 40d is longer than the SLO period 30d"),
        (("  ticket:\n", "  tickets:\n"), "documents[0].spec.tickets: unknown key"),
        (("shortWindow: 2m", "shortWindow: 90s"),
         "documents[0].spec.page.quick.shortWindow: must be a multiple of storage.resolution "
         "(1m), got '90s'"),
    ],
)
def test_bad_catalogs_are_located(change: tuple[str, str], reason: str) -> None:
    """Each defect of a catalog is reported at its field."""
    catalog = (EXAMPLES / "windows" / "custom-30d.yaml").read_text()
    assert change[0] in catalog
    messages = _errors(catalog.replace(change[0], change[1], 1) + "---\n" + _spec(EVENTS))
    assert any(reason in m for m in messages), messages


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


def test_bad_multi_k8s_is_rejected_for_its_empty_alert_name() -> None:
    """bad-multi-k8s differs from good-multi-k8s only in an empty alert name: rejected there."""
    (problem,) = _problems_of(VALIDATE / "bad" / "bad-multi-k8s.yaml")
    assert problem.path == "documents[0].spec.slos[0].alerting.name"
    assert problem.reason.startswith(NO_NAME)
    load_config(str(VALIDATE / "good" / "good-multi-k8s.yaml"))


def test_quoted_objective_gets_the_native_hint() -> None:
    """A Sloth objective is read as a native one: a quoted number is text, and it says so."""
    text = _spec(EVENTS).replace("objective: 99.5", 'objective: "99.5"')
    assert _errors(text) == [
        'spec.yml:5: documents[0].slos[0].objective: must be a number (a percentage such as '
        "99.9), got '99.5': remove the quotes, a quoted value is text"
    ]


def test_empty_severity_block_is_no_setting() -> None:
    """``page_alert:`` with nothing under it (null) sets nothing, as in Sloth."""
    text = _spec(EVENTS + "alerting:\n  name: Avail\n  page_alert:\n")
    alerting = parse_config(text, "spec.yml").services[0].slos[0].alerting
    assert alerting.page == model.AlertSettings(name="Avail")


def test_an_slo_without_alerting_keeps_the_built_in_alerts() -> None:
    """No ``alerting`` block (which Sloth would require): the built-in alerts, as README says."""
    slo = parse_config(_spec(EVENTS), "spec.yml").services[0].slos[0]
    assert slo.alerting == model.Alerting()
    assert slo.alerting.default


def test_service_labels_reach_the_slo_and_slo_labels_win() -> None:
    """``labels`` of the service and of the SLO are merged, the SLO's winning a clash."""
    text = _spec(EVENTS + "labels: {tier: '1', team: slo}\n",
                 extra="labels: {team: service, owner: a}\n")
    slo = parse_config(text, "spec.yml").services[0].slos[0]
    assert dict(slo.labels) == {"team": "slo", "owner": "a", "tier": "1"}


def test_a_catalog_for_another_period_than_30d_warns_that_it_applies_to_nothing(
        tmp_path: Path) -> None:
    """Beside a 30d catalog, Sloth's 7d one (for --default-slo-period=7d) loads but serves
    no SLO, since every Sloth SLO is read as 30d: a warning at its sloPeriod says so."""
    catalog_30d = (EXAMPLES / "windows" / "custom-30d.yaml").read_text()
    (tmp_path / "30d.yaml").write_text(catalog_30d)
    config = _including(tmp_path, EXAMPLES / "getting-started.yml",
                        EXAMPLES / "windows" / "7d.yaml")
    config.write_text("include: [getting-started.yml, 7d.yaml, 30d.yaml]\n")
    warnings: list[ConfigWarning] = []
    load_config(str(config), warnings)
    assert [(w.file, w.line, w.path) for w in warnings] == [
        (str(tmp_path / "7d.yaml"), 4, "documents[0].spec.sloPeriod")]
    assert "serves no SLO: Sloth specs are read with Sloth's default period 30d" \
        in warnings[0].reason
