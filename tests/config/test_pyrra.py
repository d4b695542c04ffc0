"""The Pyrra dialect: every Pyrra example loads, or is rejected for a stated reason,
and each ServiceLevelObjective field becomes what the README's table says.

Fixtures are Pyrra's own files (tests/fixtures/conformance/pyrra, see its
README for provenance); small specs written here attack one field each.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter import model
from slo_exporter.config import ConfigWarning, load_config, parse_config
from slo_exporter.config.pyrra import ALERT_NAME, pyrra_windows
from slo_exporter.durations import parse_duration
from slo_exporter.errors import ConfigError, ConfigProblem

PYRRA = Path(__file__).parent.parent / "fixtures" / "conformance" / "pyrra"
EXAMPLES = PYRRA / "examples"

LATENCY_NATIVE = "latencyNative is not supported: it reads a native histogram"

#: example files that are not SLO specs, and what they are
NOT_SPECS = {
    "docker-compose/prometheus/prometheus.yaml": "a Prometheus config (rule_files, scrape_configs)",
    "mimir/mimir-values.yaml": "Helm values for Mimir",
}
#: SLO spec examples that are rejected, and the reason
REJECTED = {"pyrra-connect-latency.yaml": LATENCY_NATIVE}


def _examples() -> list[str]:
    return sorted(
        str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*") if p.suffix in (".yaml", ".yml")
    )


SPECS = [name for name in _examples() if name not in NOT_SPECS]
LOADING = [name for name in SPECS if name not in REJECTED]


def _documents(name: str) -> list[dict[str, Any]]:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _problems_of(text: str, name: str = "slo.yaml") -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, name)
    return info.value.problems


def _spec(spec: str, metadata: str = "name: api-errors") -> str:
    """A Pyrra document with ``metadata`` and ``spec`` (both YAML, unindented)."""
    return (
        "apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\nmetadata:\n"
        + textwrap.indent(textwrap.dedent(metadata), "  ")
        + "\nspec:\n"
        + textwrap.indent(textwrap.dedent(spec), "  ")
    )


RATIO = """\
target: '99.5'
window: 4w
indicator:
  ratio:
    errors: {metric: 'http_requests_total{job="api",code=~"5.."}'}
    total: {metric: 'http_requests_total{job="api"}'}
"""


def _slo(text: str) -> model.SLO:
    (service,) = parse_config(text, "slo.yaml").services
    (slo,) = service.slos
    return slo


# ------------------------------------------------------------- the examples


def test_the_example_lists_cover_every_file() -> None:
    """Every YAML file under examples/ is a loading spec, a rejected spec or a stated non-spec."""
    assert set(_examples()) == set(LOADING) | set(REJECTED) | set(NOT_SPECS)
    assert len(LOADING) == 27
    for name in NOT_SPECS:
        assert all("apiVersion" not in d for d in _documents(name)), name
    for name in SPECS:
        assert all(d["kind"] == "ServiceLevelObjective" for d in _documents(name)), name


@pytest.mark.parametrize("name", LOADING)
def test_example_loads_as_it_is(name: str) -> None:
    """Each spec example loads unchanged: names, target, window, description and grouping kept."""
    config = load_config(str(EXAMPLES / name))
    documents = _documents(name)
    assert [s.name for s in config.services] == [d["metadata"]["name"] for d in documents]
    for service, document in zip(config.services, documents, strict=True):
        (slo,) = service.slos
        spec, metadata = document["spec"], document["metadata"]
        assert slo.name == metadata["name"]
        assert slo.objective == pytest.approx(float(spec["target"]) / 100)
        assert slo.period == model.RollingPeriod(parse_duration(spec["window"]))
        assert slo.description == (spec.get("description") or "")
        (indicator,) = spec["indicator"].values()
        assert slo.group_by == tuple(indicator.get("grouping", ()))
        labels = {
            k.removeprefix("pyrra.dev/"): v
            for k, v in metadata.get("labels", {}).items()
            if k.startswith("pyrra.dev/")
        }
        if "namespace" in metadata:
            labels["namespace"] = metadata["namespace"]
        assert dict(slo.labels) == labels


@pytest.mark.parametrize(("name", "reason"), sorted(REJECTED.items()))
def test_example_is_rejected_for_its_stated_reason(name: str, reason: str) -> None:
    """A rejected example names the file, the document and the field, with the reason."""
    with pytest.raises(ConfigError) as info:
        load_config(str(EXAMPLES / name))
    (problem,) = info.value.problems
    assert problem.file == str(EXAMPLES / name)
    assert problem.path == "documents[0].spec.indicator.latencyNative"
    assert problem.line == 15  # the latencyNative mapping
    assert reason in problem.reason
    assert "promtool cannot backfill them" in problem.reason


def test_kubernetes_manifests_load_together_through_include(tmp_path: Path) -> None:
    """The 14 kubernetes/ manifests (one namespace) load through one include glob."""
    main = tmp_path / "config.yml"
    slos = EXAMPLES / "kubernetes" / "manifests" / "slos"
    main.write_text(f"include: ['{slos}/*.yaml']\n")
    config = load_config(str(main))
    assert len(config.services) == 14
    assert {dict(slo.labels)["namespace"] for slo in config.slos} == {"monitoring"}


# ------------------------------------------------------------------ fields


def test_ratio_becomes_exact_selectors() -> None:
    """errors/total become plain selectors counted exactly (bad/total)."""
    slo = _slo(_spec(RATIO))
    assert slo.sli == model.RatioSLI(
        total=model.Selector('http_requests_total{job="api"}'),
        bad=model.Selector('http_requests_total{job="api",code=~"5.."}'),
    )
    assert (slo.service, slo.name, slo.objective) == ("api-errors", "api-errors", 0.995)
    assert slo.period == model.RollingPeriod(28 * 86400.0)


def test_latency_of_one_histogram_becomes_a_histogram_sli() -> None:
    """_bucket{le} and _count of one histogram with the same matchers become a latency SLI."""
    slo = _slo(_spec("""\
        target: '95'
        window: 7d
        indicator:
          latency:
            success: {metric: 'rt_seconds_bucket{job="api",le="0.25",code!~"5.."}'}
            total: {metric: 'rt_seconds_count{code!~"5..",job="api"}'}
    """))
    assert slo.sli == model.LatencySLI(
        histogram=model.Selector('rt_seconds{code!~"5..",job="api"}'), threshold=0.25
    )


def test_latency_of_other_selectors_becomes_an_exact_ratio() -> None:
    """Selectors that are not one histogram's bucket and count stay an exact good/total ratio."""
    slo = _slo(_spec("""\
        target: '95'
        window: 7d
        indicator:
          latency:
            success: {metric: 'rt_seconds_bucket{job="api",le="0.25"}'}
            total: {metric: 'rt_seconds_count{job="web"}'}
    """))
    assert slo.sli == model.RatioSLI(
        total=model.Selector('rt_seconds_count{job="web"}'),
        good=model.Selector('rt_seconds_bucket{job="api",le="0.25"}'),
    )


def test_latency_success_without_a_numeric_le_is_rejected() -> None:
    """A success metric without an le= number is rejected, as Pyrra does."""
    (problem,) = _problems_of(_spec("""\
        target: '95'
        window: 7d
        indicator:
          latency:
            success: {metric: 'rt_seconds_bucket{job="api",le=~"0.2.*"}'}
            total: {metric: 'rt_seconds_count{job="api"}'}
    """))
    assert problem.path == "documents[0].spec.indicator.latency.success"
    assert "equality matcher on le whose value is a number" in problem.reason


def test_bool_gauge_becomes_a_bool_gauge_sli_with_grouping() -> None:
    """bool_gauge becomes a bool gauge SLI; grouping becomes group_by."""
    slo = _slo((EXAMPLES / "prometheus-probe-success.yaml").read_text())
    assert slo.sli == model.BoolGaugeSLI(model.Selector("probe_success"))
    assert slo.group_by == ("target",)
    assert slo.remeasurable


def test_propagated_metadata_becomes_labels_and_annotations() -> None:
    """pyrra.dev/ labels become SLO labels and pyrra.dev/ annotations alert annotations;
    Kubernetes' own labels (prometheus: k8s) are not SLO labels, as in Pyrra."""
    slo = _slo(_spec(RATIO, """\
        name: api-errors
        namespace: shop
        labels: {prometheus: k8s, pyrra.dev/team: payments}
        annotations: {pyrra.dev/runbook: 'https://runbooks/api', kubectl.io/x: y}
    """))
    assert dict(slo.labels) == {"namespace": "shop", "team": "payments"}
    for severity in model.SEVERITIES:
        assert dict(slo.alerting.settings(severity).annotations) == {
            "runbook": "https://runbooks/api"
        }


def test_a_reserved_propagated_label_is_rejected() -> None:
    """A pyrra.dev/severity label would clash with the exporter's own label: rejected."""
    (problem,) = _problems_of(_spec(RATIO, "name: a\nlabels: {pyrra.dev/severity: x}"))
    assert problem.path == "documents[0].metadata.labels.pyrra.dev/severity"
    assert "reserved" in problem.reason


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("'100'", "strictly between 0 and 100"),
        ("'0'", "strictly between 0 and 100"),
        ("'ninety'", "must be a percentage such as '99.9'"),
        ("'NaN'", "must be a percentage such as '99.9'"),
        ("[99]", "must be a percentage such as '99.9'"),
    ],
)
def test_a_bad_target_is_rejected(target: str, reason: str) -> None:
    """spec.target must be a percentage strictly between 0 and 100."""
    text = _spec(RATIO.replace("'99.5'", target))
    (problem,) = _problems_of(text)
    assert problem.path == "documents[0].spec.target"
    assert reason in problem.reason


def test_a_fractional_target_loads_with_a_warning() -> None:
    """target '0.99' means 0.99 % (as in Pyrra, which warns too)."""
    warnings: list[ConfigWarning] = []
    config = parse_config(_spec(RATIO.replace("'99.5'", "'0.99'")), "slo.yaml", warnings)
    assert config.slos[0].objective == pytest.approx(0.0099)
    (warning,) = warnings
    assert "did you mean 99" in warning.reason


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        ("1d", "must be at least 2d19h12m"),
        ("30m", "must be between 1h and 365d"),
        ("2y", "must be between 1h and 365d"),
        ("soon", "invalid duration"),
    ],
)
def test_a_bad_window_is_rejected(window: str, reason: str) -> None:
    """spec.window is a duration long enough for Pyrra's alert windows (1d is not:
    86400s / 8064 = 10.7s rounds to a 0m fast-burn short window)."""
    (problem,) = _problems_of(_spec(RATIO.replace("4w", window)))
    assert problem.path == "documents[0].spec.window"
    assert reason in problem.reason


def test_windows_must_be_whole_storage_buckets(tmp_path: Path) -> None:
    """With a 5m resolution, the 3m short window of a 2w SLO cannot be kept: rejected."""
    (tmp_path / "slo.yaml").write_text(_spec(RATIO.replace("4w", "2w")))
    main = tmp_path / "config.yml"
    main.write_text("storage: {resolution: 5m}\ninclude: [slo.yaml]\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(main))
    (problem,) = info.value.problems
    assert problem.path == "documents[0].spec.window"
    assert "multiples of storage.resolution (5m); these are not: 3m" in problem.reason


@pytest.mark.parametrize(
    ("indicator", "reason"),
    [
        ("{}", "must have exactly one of ratio, latency, latencyNative, bool_gauge, got 0"),
        (
            "{bool_gauge: {metric: up}, ratio: {errors: {metric: a}, total: {metric: b}}}",
            "got 2: ratio, bool_gauge",
        ),
        ("{bool_gauge: {metric: 'sum(up)'}}", "is not a plain series selector"),
        ("{bool_gauge: {metric: up, grouping: [job, job]}}", "label 'job' is listed twice"),
        ("{bool_gauge: {metric: up, grouping: [__name__]}}",
         "label '__name__' cannot be a group label"),
        ("{bool_gauge: {metric: up, threshold: 1}}", "unknown key"),
    ],
)
def test_a_bad_indicator_is_rejected(indicator: str, reason: str) -> None:
    """The indicator is exactly one known kind of selectors; each mistake is located."""
    problems = _problems_of(_spec(f"target: '99'\nwindow: 4w\nindicator: {indicator}\n"))
    assert any(reason in p.reason for p in problems), problems
    assert all(p.path.startswith("documents[0].spec.indicator") for p in problems)


LATENCY_GROUPED = """\
target: '99'
window: 4w
indicator:
  latency:
    success: {metric: 'rt_seconds_bucket{job="api",le="0.5"}'}
    total: {metric: 'rt_seconds_count{job="api"}'}
    grouping: [GROUPING]
"""


@pytest.mark.parametrize(
    ("grouping", "metadata", "where", "reason"),
    [
        (
            "le", "name: api-latency", "[0]",
            "label 'le' cannot be a group label: 'le' splits a histogram's buckets",
        ),
        (
            "route, namespace", "name: api-latency\nnamespace: shop", "[1]",
            "label 'namespace' is one of the SLO's own labels (value 'shop'): a group "
            "label would give it a second value",
        ),
        (
            "team", "name: api-latency\nlabels: {pyrra.dev/team: payments}", "[0]",
            "label 'team' is one of the SLO's own labels (value 'payments')",
        ),
        (
            "service, exported_service", "name: api-latency", "[1]",
            "labels 'service' and 'exported_service' would both be exported as "
            "'exported_service'",
        ),
    ],
)
def test_grouping_is_checked_as_the_native_group_by(
    grouping: str, metadata: str, where: str, reason: str
) -> None:
    """A group label the native group_by refuses is refused in Pyrra's grouping too,
    located at its item: le (it splits the histogram), an SLO label of the spec
    (namespace, a pyrra.dev/ label), two labels exported under one name."""
    text = _spec(LATENCY_GROUPED.replace("GROUPING", grouping), metadata)
    (problem,) = _problems_of(text)
    assert problem.path == f"documents[0].spec.indicator.latency.grouping{where}"
    assert reason in problem.reason, problem.reason


def test_every_bad_group_label_is_reported_together() -> None:
    """Two bad labels of one grouping: two located problems, not only the first."""
    text = _spec(LATENCY_GROUPED.replace("GROUPING", "le, route, __x"))
    problems = _problems_of(text)
    assert [p.path.rsplit(".", 1)[1] for p in problems] == ["grouping[0]", "grouping[2]"]


def test_a_group_label_named_service_still_loads() -> None:
    """A label the exporter sets itself (service) is a group label exported under
    another name, as in the native config: Pyrra's connect-go example loads."""
    slo = _slo(_spec(LATENCY_GROUPED.replace("GROUPING", "service, method")))
    assert slo.group_by == ("service", "method")


def test_an_unknown_field_is_not_ignored() -> None:
    """A key Pyrra does not have is an error naming it, not silently dropped."""
    (problem,) = _problems_of(_spec(RATIO + "objective: 99\n"))
    assert problem.path == "documents[0].spec.objective"
    assert "unknown key" in problem.reason


def test_wrong_kind_and_version_are_named() -> None:
    """Another Pyrra apiVersion or kind is rejected with what was expected."""
    text = _spec(RATIO).replace("pyrra.dev/v1alpha1", "pyrra.dev/v2")
    (problem,) = _problems_of(text)
    assert problem.path == "documents[0].apiVersion"
    assert "must be 'pyrra.dev/v1alpha1'" in problem.reason
    (problem,) = _problems_of(_spec(RATIO).replace("ServiceLevelObjective", "SLO"))
    assert problem.path == "documents[0].kind"


def test_problems_of_several_documents_are_all_reported() -> None:
    """Each document's problems name its index; all are reported together."""
    bad_target = _spec(RATIO.replace("'99.5'", "'101'"))
    bad_window = _spec(RATIO.replace("4w", "1d"), "name: b")
    problems = _problems_of(f"{bad_target}---\n{bad_window}")
    assert [p.path for p in problems] == ["documents[0].spec.target", "documents[1].spec.window"]


@pytest.mark.parametrize(
    ("spec", "warning"),
    [
        ("performanceOverAccuracy: true", "no accuracy to trade"),
        ("partial_response_strategy: warn", "Thanos Ruler"),
        ("ruleOutput: {shortRulesLabels: {a: b}}", "PrometheusRule objects"),
        ("alerting: {absent: false}", "turns off no alert here"),
    ],
)
def test_rule_generation_fields_load_with_a_warning(spec: str, warning: str) -> None:
    """Fields that only shape Pyrra's own rules load, with a warning saying so."""
    warnings: list[ConfigWarning] = []
    parse_config(_spec(RATIO + spec + "\n"), "slo.yaml", warnings)
    (found,) = warnings
    assert warning in found.reason


# ---------------------------------------------------------------- alerting


def test_default_alerting_is_pyrras_four_windows_and_names() -> None:
    """Default alerting: Pyrra's windows (4w: 1h/5m x14 for 2m, 6h/30m x7 for 15m,
    1d/2h x2 for 1h, 4d/6h x1 for 3h),
    critical as page and warning as ticket, named ErrorBudgetBurn."""
    alerting = _slo(_spec(RATIO)).alerting
    period = 28 * 86400.0
    assert [(w.severity, w.long, w.short) for w in alerting.windows] == [
        ("page", 3600.0, 300.0),
        ("page", 6 * 3600.0, 1800.0),
        ("ticket", 86400.0, 2 * 3600.0),
        ("ticket", 4 * 86400.0, 6 * 3600.0),
    ]
    factors = [w.threshold(period) for w in alerting.windows]
    assert [w.hold for w in alerting.windows] == [120.0, 900.0, 3600.0, 3 * 3600.0]
    assert factors == pytest.approx([14, 7, 2, 1], rel=1e-12)
    assert alerting.page == model.AlertSettings(
        name=ALERT_NAME, labels=model.frozen_map({"severity": "critical"})
    )
    assert alerting.ticket == model.AlertSettings(
        name=ALERT_NAME, labels=model.frozen_map({"severity": "warning"})
    )


def test_pyrra_windows_round_like_pyrra() -> None:
    """2w: 1209600s / 8064 = 150s, a half minute, rounds up to 3m; / 2688 = 450s to 8m."""
    fast, medium, _, _ = pyrra_windows(14 * 86400.0)
    assert (fast.short, fast.long, fast.for_) == (180.0, 1800.0, 60.0)
    assert medium.for_ == 480.0


@pytest.mark.parametrize("alerting", ["{disabled: true}", "{burnrates: false}"])
def test_disabled_burn_rate_alerts(alerting: str) -> None:
    """disabled, or burnrates: false, turns both alerts off (conditions still evaluated)."""
    slo = _slo(_spec(RATIO + f"alerting: {alerting}\n"))
    assert slo.alerting.page.disabled
    assert slo.alerting.ticket.disabled
    assert len(slo.alerting.windows) == 4


def test_custom_name_and_severities() -> None:
    """alerting.name names both alerts; severities set each alert's severity label."""
    slo = _slo(_spec(RATIO + textwrap.dedent("""\
        alerting:
          name: ApiBudgetBurn
          severities: {fastBurn: sev1, mediumBurn: sev1, slowBurn: sev3, longTermBurn: sev3}
    """)))
    assert slo.alerting.page.name == slo.alerting.ticket.name == "ApiBudgetBurn"
    assert dict(slo.alerting.page.labels) == {"severity": "sev1"}
    assert dict(slo.alerting.ticket.labels) == {"severity": "sev3"}


@pytest.mark.parametrize(
    ("alerting", "path", "reason"),
    [
        (
            "{severities: {fastBurn: sev1}}",
            "alerting.severities",
            "fastBurn ('sev1') and mediumBurn ('critical') must be the same",
        ),
        ("{absentName: MetricGone}", "alerting.absentName", "SLODataMissing"),
        ("{severities: {absent: sev2}}", "alerting.severities.absent", "SLODataMissing"),
        ("{name: 'Budget burn'}", "alerting.name", "must be an alert name"),
        ("{disabled: 'no'}", "alerting.disabled", "must be true or false"),
    ],
)
def test_alert_settings_that_cannot_be_honoured_are_rejected(
    alerting: str, path: str, reason: str
) -> None:
    """Settings the exporter's alerts cannot carry are rejected with the reason."""
    (problem,) = _problems_of(_spec(RATIO + f"alerting: {alerting}\n"))
    assert problem.path == f"documents[0].spec.{path}"
    assert reason in problem.reason


# ------------------------------------------------------------------ hostile

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "4w", "99", "up", "le", 'x{le="1"}', "pyrra.dev/a", "0.5"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


FULL = yaml.safe_load(_spec(RATIO + textwrap.dedent("""\
    description: d
    alerting: {name: A, disabled: false, burnrates: true, absent: true,
               severities: {fastBurn: a, mediumBurn: a, slowBurn: b, longTermBurn: b}}
"""), "name: x\nnamespace: n\nlabels: {pyrra.dev/team: t}\nannotations: {pyrra.dev/r: u}"))
FULL_PATHS = _paths(FULL)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(FULL_PATHS), _VALUES)
def test_any_value_anywhere_loads_or_is_a_located_error(path: tuple[Any, ...], value: Any) -> None:
    """Replacing any value of a valid spec by anything gives a config or located problems,
    never a crash."""
    document = yaml.safe_load(yaml.safe_dump(FULL))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    text = yaml.safe_dump(document)
    try:
        config = parse_config(text, "slo.yaml")
    except ConfigError as exc:
        problems = exc.problems
    else:
        assert len(config.slos) == 1
        return
    assert problems
    assert all(p.file == "slo.yaml" for p in problems), problems
    assert all(p.path.startswith("documents[0]") for p in problems), problems
