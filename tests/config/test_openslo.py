"""The OpenSLO dialect: v1 and v2alpha objects become native SLOs, references
resolve across every document loaded together, and whatever the native model
cannot hold exactly is a located error (file, line, document index, field
path, reason), never approximated or dropped.
"""

from __future__ import annotations

import re
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from slo_exporter import model
from slo_exporter.config import load_config, nodes
from slo_exporter.config.dialects import Context
from slo_exporter.config.fields import Reader
from slo_exporter.config.openslo import services
from slo_exporter.config.problems import Problems, ordered
from slo_exporter.errors import ConfigError
from slo_exporter.rules import slo_rules

CONFORMANCE = Path(__file__).parent.parent / "fixtures" / "conformance" / "openslo"
DAY = 86400.0


def _load(
    text: str, *, resolution: float = 60.0, file: str = "slos.yaml"
) -> tuple[list[model.Service], Problems]:
    problems = Problems(file)
    documents = nodes.compose(textwrap.dedent(text), problems)
    assert documents is not None, problems.errors
    found = services(documents, Reader(problems),
                     Context(file, model.StorageConfig(resolution=resolution)))
    return found, problems


def _ok(text: str, *, resolution: float = 60.0) -> list[model.Service]:
    found, problems = _load(text, resolution=resolution)
    assert not problems.errors, [str(p) for p in problems.errors]
    return found


def _errors(text: str, *, resolution: float = 60.0) -> list[str]:
    _found, problems = _load(text, resolution=resolution)
    assert problems.errors, "expected a problem"
    return [str(p) for p in problems.errors]


def _slo(spec: str = "", *, window: str = "", objectives: str = "", indicator: str = "",
         method: str = "Occurrences", head: str = "") -> str:
    """One v1 SLO document: web-shop/availability over good/total selectors,
    rolling 28d, one objective of 0.999, unless a part is given."""
    indicator = indicator or """\
    indicator:
      metadata: {name: availability-sli}
      spec:
        ratioMetric:
          counter: true
          good:
            metricSource: {type: Prometheus, spec: {query: 'http_requests_total{code!~"5.."}'}}
          total:
            metricSource: {type: Prometheus, spec: {query: http_requests_total}}
    """
    window = window or "timeWindow: [{duration: 28d, isRolling: true}]"
    objectives = objectives or "objectives: [{displayName: Good, target: 0.999}]"
    return (
        textwrap.dedent(head)
        + "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: availability\n"
        + "  labels: {team: [shop, web], env: prod}\n"
        + "spec:\n  service: web-shop\n"
        + textwrap.indent(textwrap.dedent(indicator).rstrip("\n") + "\n", "  ")
        + f"  {window}\n  budgetingMethod: {method}\n  {objectives}\n"
        + textwrap.indent(textwrap.dedent(spec), "  ")
    )


# ------------------------------------------------------------- conformance

#: Every example file of the OpenSLO repositories: the SLOs it gives, or the
#: reasons (field path and reason text) it is rejected for.
OUTCOMES: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "go-sdk-v1/alert_conditions.yaml": ([], [
        ("documents[0][0].spec.condition.op", "op 'lte' cannot map"),
    ]),
    "go-sdk-v1/alert_notification_targets.yaml": ([], []),
    "go-sdk-v1/alert_policies.yaml": ([], [
        ("documents[0][0].spec.conditions[0].conditionRef",
         "unknown AlertCondition 'cpu-usage-breach'"),
        ("documents[0][1].spec.notificationTargets[0].targetRef",
         "unknown AlertNotificationTarget 'on-call-pd-notification'"),
        ("documents[0][2].spec.conditions[0].conditionRef",
         "unknown AlertCondition 'cpu-usage-breach'"),
    ]),
    "go-sdk-v1/data_sources.yaml": ([], []),
    "go-sdk-v1/services.yaml": ([], [
        ("documents[0][1]", "duplicate Service 'example-service'"),
    ]),
    "go-sdk-v1/slis.yaml": ([], [
        ("documents[0][0].spec.ratioMetric.total.metricSource",
         "data source type 'Datadog' cannot be read"),
        ("documents[0][1].spec.ratioMetric.counter", "counter: false"),
        ("documents[0][3].spec.thresholdMetric.metricSource.spec.query",
         "an expression without a window cannot be turned into event counts"),
    ]),
    "go-sdk-v1/slos.yaml": ([], [
        ("documents[0][0].spec.timeWindow[0].calendar.startTime",
         "not the start of a calendar week: periods start at local midnight"),
        ("documents[0][0].spec.indicator.spec.ratioMetric.total.metricSource.spec.query",
         "an expression without a window cannot be turned into event counts"),
    ]),
    "go-sdk-v2alpha/alert_conditions.yaml": ([], [
        ("documents[0][0].spec.condition.op", "op 'lte' cannot map"),
    ]),
    "go-sdk-v2alpha/alert_notification_targets.yaml": ([], []),
    "go-sdk-v2alpha/alert_policies.yaml": ([], [
        ("documents[0][0].spec.conditions[0].conditionRef",
         "unknown AlertCondition 'cpu-usage-breach'"),
        ("documents[0][1].spec.notificationTargets[0].targetRef",
         "unknown AlertNotificationTarget 'on-call-pd-notification'"),
        ("documents[0][2].spec.conditions[0].conditionRef",
         "unknown AlertCondition 'cpu-usage-breach'"),
    ]),
    "go-sdk-v2alpha/data_sources.yaml": ([], []),
    "go-sdk-v2alpha/services.yaml": ([], [
        ("documents[0][1]", "duplicate Service 'example-service'"),
    ]),
    "go-sdk-v2alpha/slis.yaml": ([], [
        ("documents[0][0].spec.ratioMetric.total.dataSourceRef",
         "unknown DataSource 'my-datadog'"),
        ("documents[0][1].spec.ratioMetric.counter", "counter: false"),
        ("documents[0][2].spec.ratioMetric.raw.dataSourceRef",
         "unknown DataSource 'prometheus'"),
        ("documents[0][3].spec.thresholdMetric.dataSourceRef",
         "unknown DataSource 'my-prometheus'"),
        ("documents[0][4].spec.thresholdMetric.spec.query",
         "an expression without a window cannot be turned into event counts"),
    ]),
    "go-sdk-v2alpha/slos.yaml": ([], [
        ("documents[0][0].spec.timeWindow[0].calendar.startTime",
         "not the start of a calendar week: periods start at local midnight"),
        ("documents[0][0].spec.sli.spec.ratioMetric.total.dataSourceRef",
         "unknown DataSource 'my-prometheus'"),
    ]),
    "spec-examples/budgeting-method__occurences-slo.yaml": ([], [
        ("documents[0].spec.indicator.spec.thresholdMetric.metricSource",
         "data source type 'Any' cannot be read; only Prometheus is"),
    ]),
    "spec-examples/budgeting-method__ratio-timeslices.yaml": ([], [
        ("documents[0].spec.indicator.spec.ratioMetric.total.metricSource",
         "data source type 'Any' cannot be read; only Prometheus is"),
    ]),
    "spec-examples/budgeting-method__timeslices-slo.yaml": ([], [
        ("documents[0].spec.timeWindow[0].duration", "got '1m' (m is minutes, M months)"),
        ("documents[0].spec.indicator.spec.ratioMetric.total.metricSource",
         "data source type 'Any' cannot be read; only Prometheus is"),
    ]),
    "spec-examples/treat-low-traffic-as-equally-important__timeslices-slo.yaml": ([], [
        ("documents[0].spec.timeWindow[0].calendar.startTime",
         "not the start of a calendar week"),
        ("documents[0].spec.indicator.spec.ratioMetric.total.metricSource",
         "data source type 'Any' cannot be read; only Prometheus is"),
    ]),
}


def test_outcome_table_covers_every_example() -> None:
    """Every example file has an expected outcome, and every outcome a file."""
    files = {str(p.relative_to(CONFORMANCE)) for p in CONFORMANCE.rglob("*.yaml")}
    assert files == set(OUTCOMES)
    assert (CONFORMANCE / "SOURCES.txt").is_file()


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_conformance_example(name: str) -> None:
    """Each example loads into its SLOs or is rejected exactly for its stated reasons."""
    expected_slos, expected_problems = OUTCOMES[name]
    found, problems = _load((CONFORMANCE / name).read_text(), file=name)
    assert [slo.key for s in found for slo in s.slos] == expected_slos
    got = [(p.path, p.reason) for p in problems.errors]
    assert len(got) == len(expected_problems), got
    for (path, reason), (want_path, want_reason) in zip(got, expected_problems, strict=True):
        assert path == want_path
        assert want_reason in reason
    assert all(p.file == name and p.line is not None for p in problems.errors)


def test_examples_of_one_version_resolve_across_files() -> None:
    """Loaded together, the v1 policies find the condition defined in another
    file and are rejected for what it says (op lte) at the condition itself;
    the 1d warning condition maps (a ticket); what stays unknown is the target
    no example defines."""
    text = "\n---\n".join((CONFORMANCE / "go-sdk-v1" / f).read_text()
                          for f in ("alert_conditions.yaml", "alert_policies.yaml",
                                    "alert_notification_targets.yaml"))
    _found, problems = _load(text)
    assert [(p.path, p.reason.split(":")[0]) for p in ordered(problems.errors)] == [
        ("documents[0][0].spec.condition.op",
         "a burn-rate alert fires when the burn rate is above its threshold (gt); "
         "op 'lte' cannot map"),
        ("documents[1][1].spec.notificationTargets[0].targetRef",
         "unknown AlertNotificationTarget 'on-call-pd-notification'"),
    ]


def test_secret_of_an_inline_data_source_never_reaches_a_message() -> None:
    """The v2alpha example's inline accessToken is not echoed in any problem."""
    name = "go-sdk-v2alpha/slis.yaml"
    _found, problems = _load((CONFORMANCE / name).read_text(), file=name)
    assert not any("secretToken" in str(p) for p in problems.errors)


# ------------------------------------------------------------------ mapping


def test_ratio_metric_with_selectors_maps_to_exact_native_ratio() -> None:
    """good/total plain selectors become native Selectors (exact counter increase)."""
    [service] = _ok(_slo())
    [slo] = service.slos
    assert (service.name, slo.name, slo.objective) == ("web-shop", "availability", 0.999)
    assert slo.sli == model.RatioSLI(
        total=model.Selector("http_requests_total"),
        good=model.Selector('http_requests_total{code!~"5.."}'))
    assert slo.period == model.RollingPeriod(28 * DAY)
    assert slo.budgeting == model.Budgeting()


def test_bad_over_total_with_window_placeholder_maps_to_templates() -> None:
    """An expression with {{.window}} becomes a Template; bad/total stays bad/total."""
    indicator = """\
    indicator:
      metadata: {name: errors}
      spec:
        ratioMetric:
          bad:
            metricSource:
              type: prometheus
              spec: {query: 'sum(increase(errors_total[{{.window}}]))'}
          total:
            metricSource:
              type: Prometheus
              spec: {query: 'sum(increase(requests_total[{{.window}}]))'}
    """
    [service] = _ok(_slo(indicator=indicator))
    assert service.slos[0].sli == model.RatioSLI(
        total=model.Template("sum(increase(requests_total[{{.window}}]))"),
        bad=model.Template("sum(increase(errors_total[{{.window}}]))"))


def _raw_indicator(raw_type: str, query: str, extra: str = "") -> str:
    return f"""\
    indicator:
      metadata: {{name: satisfaction}}
      spec:
        ratioMetric:
          rawType: {raw_type}
          raw:
            metricSource: {{type: Prometheus, spec: {{query: '{query}'}}}}
    {extra}"""


@pytest.mark.parametrize(("raw_type", "measures"), [("success", "good"), ("failure", "bad")])
def test_raw_ratio_metric_maps_to_a_raw_ratio_sli(raw_type: str, measures: str) -> None:
    """rawType success is a success ratio, failure an error ratio, read over {{.window}}."""
    query = "avg_over_time(satisfaction_ratio[{{ .window }}])"
    [service] = _ok(_slo(indicator=_raw_indicator(raw_type, query)))
    assert service.slos[0].sli == model.RawRatioSLI(
        model.Template("avg_over_time(satisfaction_ratio[{{.window}}])"), measures)


@pytest.mark.parametrize(("raw_type", "query", "extra", "reason"), [
    ("success", "avg_over_time(satisfaction_ratio[5m])", "",
     "ratioMetric.raw.metricSource.spec.query: a raw ratio must contain {{.window}}"),
    ("neutral", "x[{{.window}}]", "", "ratioMetric.rawType: unknown rawType 'neutral'"),
    ("success", "x[{{.window}}]",
     "      total: {metricSource: {type: Prometheus, spec: {query: t}}}",
     "ratioMetric.total: a raw ratio metric has no event queries"),
])
def test_raw_ratio_metric_mistakes_are_located(
        raw_type: str, query: str, extra: str, reason: str) -> None:
    """No window placeholder, an unknown rawType or event queries beside raw are errors."""
    [error] = _errors(_slo(indicator=_raw_indicator(raw_type, query, extra)))
    assert reason in error


def test_expression_without_window_is_rejected_with_reason() -> None:
    """rate() over a fixed range cannot give the events of every window."""
    indicator = """\
    indicator:
      metadata: {name: errors}
      spec:
        ratioMetric:
          good:
            metricSource: {type: Prometheus, spec: {query: 'sum(rate(ok_total[5m]))'}}
          total:
            metricSource: {type: Prometheus, spec: {query: requests_total}}
    """
    [error] = _errors(_slo(indicator=indicator))
    assert "spec.indicator.spec.ratioMetric.good.metricSource.spec.query" in error
    assert "without a window" in error


def test_indicator_ref_and_metric_source_ref_resolve_across_documents() -> None:
    """indicatorRef names an SLI document and metricSourceRef a Prometheus DataSource."""
    text = """\
    apiVersion: openslo/v1
    kind: DataSource
    metadata: {name: prom}
    spec: {type: Prometheus, connectionDetails: [{url: "http://127.0.0.1:9090"}]}
    ---
    apiVersion: openslo/v1
    kind: SLI
    metadata: {name: shared}
    spec:
      ratioMetric:
        good: {metricSource: {metricSourceRef: prom, spec: {query: ok_total}}}
        total: {metricSource: {metricSourceRef: prom, spec: {query: all_total}}}
    ---
    """
    text = textwrap.dedent(text) + _slo(indicator="indicatorRef: shared")
    [service] = _ok(text)
    assert service.slos[0].sli == model.RatioSLI(
        total=model.Selector("all_total"), good=model.Selector("ok_total"))


def test_unknown_reference_is_a_located_error() -> None:
    """An indicatorRef no document defines names the file, line, document and field."""
    text = "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: web-shop}\n---\n" + _slo(
        indicator="indicatorRef: nowhere")
    _found, problems = _load(text)
    [problem] = problems.errors
    assert (problem.file, problem.line, problem.path) == (
        "slos.yaml", 12, "documents[1].spec.indicatorRef")
    assert problem.reason == "unknown SLI 'nowhere': no document defines it"


def test_service_document_gives_the_service_description() -> None:
    """A Service object's description becomes the native service's description."""
    text = ("apiVersion: openslo/v1\nkind: Service\nmetadata: {name: web-shop}\n"
            "spec: {description: The shop}\n---\n" + _slo())
    [service] = _ok(text)
    assert service.description == "The shop"


def test_labels_become_slo_labels_and_invalid_names_warn() -> None:
    """Valid label names are copied (a list joined by commas); others only warn."""
    [service] = _ok(_slo().replace("env: prod}", "env: prod, bad-name: x}"))
    assert dict(service.slos[0].labels) == {"env": "prod", "team": "shop,web"}
    _found, problems = _load(_slo().replace("env: prod}", "env: prod, bad-name: x}"))
    assert [w.path for w in problems.warnings] == ["documents[0].metadata.labels.bad-name"]


def test_threshold_metric_on_histogram_bucket_maps_to_latency() -> None:
    """A _bucket selector with op lte and a value maps to a latency SLI at that boundary."""
    indicator = """\
    indicator:
      metadata: {name: latency}
      spec:
        thresholdMetric:
          metricSource: {type: Prometheus, spec: {query: 'http_duration_seconds_bucket{job="api"}'}}
    """
    [service] = _ok(_slo(indicator=indicator,
                         objectives="objectives: [{op: lte, value: 0.25, target: 0.99}]"))
    assert service.slos[0].sli == model.LatencySLI(
        histogram=model.Selector('http_duration_seconds{job="api"}'), threshold=0.25)


@pytest.mark.parametrize(("query", "op", "reason"), [
    ("http_duration_seconds_bucket", "lt", "op 'lt' cannot be read from histogram buckets"),
    ("queue_lag", "lte", "maps only to a classic histogram"),
    ('http_duration_seconds_bucket{le="0.5"}', "lte", "without an le matcher"),
])
def test_threshold_metric_that_is_no_histogram_bound_is_rejected(
        query: str, op: str, reason: str) -> None:
    """A threshold metric maps only to observations at or under a histogram boundary."""
    indicator = f"""\
    indicator:
      metadata: {{name: latency}}
      spec:
        thresholdMetric:
          metricSource: {{type: Prometheus, spec: {{query: '{query}'}}}}
    """
    [error] = _errors(_slo(indicator=indicator,
                           objectives=f"objectives: [{{op: {op}, value: 0.25, target: 0.99}}]"))
    assert reason in error


def test_timeslices_budgeting_maps_slice_and_target() -> None:
    """Timeslices with timeSliceWindow 5m and timeSliceTarget 0.95 -> Timeslices(300 s, 0.95)."""
    [service] = _ok(_slo(method="Timeslices", objectives=(
        "objectives: [{target: 0.99, timeSliceTarget: 0.95, timeSliceWindow: 5m}]")))
    assert service.slos[0].budgeting == model.Budgeting(
        model.Timeslices(slice=300.0, target=Decimal("0.95")))


def test_timeslice_window_must_be_whole_storage_buckets() -> None:
    """A 90 s slice over 60 s buckets cannot be counted exactly."""
    [error] = _errors(_slo(method="Timeslices", objectives=(
        "objectives: [{target: 0.99, timeSliceTarget: 0.95, timeSliceWindow: 90m}]")),
        resolution=7 * 60.0)
    assert "timeSliceWindow: must be a whole number of storage buckets (420s)" in error


def test_ratio_timeslices_maps_to_the_mean_of_slice_ratios() -> None:
    """RatioTimeslices with timeSliceWindow 1m -> RatioTimeslices(60 s), not Timeslices."""
    [service] = _ok(_slo(method="RatioTimeslices", objectives=(
        "objectives: [{target: 0.99, timeSliceWindow: 1m}]")))
    assert service.slos[0].budgeting == model.Budgeting(
        ratio_timeslices=model.RatioTimeslices(slice=60.0))


@pytest.mark.parametrize(("objective", "reason"), [
    ("{target: 0.99, timeSliceWindow: 1m, timeSliceTarget: 0.9}",
     "objectives[0].timeSliceTarget: RatioTimeslices averages each slice's ratio, so a slice "
     "has no target"),
    ("{target: 0.99}", "objectives[0]: missing required key 'timeSliceWindow'"),
    ("{target: 0.99, timeSliceWindow: 2d}",
     "objectives[0].timeSliceWindow: must be at most a day and not longer than the time window"),
])
def test_ratio_timeslices_mistakes_are_located(objective: str, reason: str) -> None:
    """A slice target (meaningless for ratio slices), no slice, or one over a day is an error."""
    [error] = _errors(_slo(method="RatioTimeslices", objectives=f"objectives: [{objective}]"))
    assert reason in error


def test_timeslice_longer_than_a_rolling_window_is_rejected() -> None:
    """A 2 h slice of a 1 h rolling window has no whole slice to judge."""
    [error] = _errors(_slo(method="Timeslices", window="timeWindow: [{duration: 1h, "
                           "isRolling: true}]", objectives=(
        "objectives: [{target: 0.99, timeSliceTarget: 0.95, timeSliceWindow: 2h}]")))
    assert "not longer than the time window" in error


@pytest.mark.parametrize(("duration", "start", "period"), [
    ("1w", "2024-01-01 00:00:00", model.CalendarPeriod("week", "Europe/Berlin")),
    ("1M", "2024-02-01 00:00:00", model.CalendarPeriod("month", "Europe/Berlin")),
    ("1Q", "2024-04-01 00:00:00", model.CalendarPeriod("quarter", "Europe/Berlin")),
    ("1Y", "2024-01-01 00:00:00", model.CalendarPeriod("year", "Europe/Berlin")),
])
def test_calendar_window_maps_to_calendar_period(
        duration: str, start: str, period: model.CalendarPeriod) -> None:
    """1w/1M/1Q/1Y starting on a period boundary map to the calendar unit in the zone."""
    window = (f"timeWindow: [{{duration: {duration}, isRolling: false, "
              f"calendar: {{startTime: '{start}', timeZone: Europe/Berlin}}}}]")
    [service] = _ok(_slo(window=window))
    assert service.slos[0].period == period


@pytest.mark.parametrize(("window", "reason"), [
    ("{duration: 1Y, isRolling: false, calendar: {startTime: '2024-02-01 00:00:00', "
     "timeZone: UTC}}", "is not the start of a calendar year: years start on January 1st"),
    ("{duration: 2Y, isRolling: false, calendar: {startTime: '2024-01-01 00:00:00', "
     "timeZone: UTC}}", "a calendar window must be 1w, 1M, 1Q or 1Y, got '2Y'"),
    ("{duration: 1Y, isRolling: true}", "a rolling window of '1Y' has no fixed length"),
    ("{duration: 1M, isRolling: false, calendar: {startTime: '2024-01-02 00:00:00', "
     "timeZone: UTC}}", "is not the start of a calendar month: months start on the 1st"),
    ("{duration: 1Q, isRolling: false, calendar: {startTime: '2024-02-01 00:00:00', "
     "timeZone: UTC}}", "quarters start on January, April, July or October 1st"),
    ("{duration: 1w, isRolling: false, calendar: {startTime: '2024-01-02 00:00:00', "
     "timeZone: UTC}}", "ISO weeks start on Monday"),
    ("{duration: 2w, isRolling: false, calendar: {startTime: '2024-01-01 00:00:00', "
     "timeZone: UTC}}", "a calendar window must be 1w, 1M, 1Q or 1Y, got '2w'"),
    ("{duration: 1M, isRolling: false, calendar: {startTime: '2024-01-01 00:00:00', "
     "timeZone: Mars/Olympus}}", "timeZone"),
    ("{duration: 1M, isRolling: true}", "a rolling window of '1M' has no fixed length"),
    ("{duration: 1Q, isRolling: true}", "a rolling window of '1Q' has no fixed length"),
])
def test_time_windows_the_model_cannot_hold_are_rejected(window: str, reason: str) -> None:
    """Months, quarters and years are calendar units, never 30, 90 or 365 days."""
    [error] = _errors(_slo(window=f"timeWindow: [{window}]"))
    assert "documents[0].spec.timeWindow[0]" in error
    assert reason in error


def test_several_objectives_become_one_slo_each() -> None:
    """Names get the displayName as a slug, or the objective's index when it has none."""
    [service] = _ok(_slo(objectives=(
        "objectives: [{displayName: Internal Objective, target: 0.995}, {target: 0.99}]")))
    assert [(s.name, s.objective) for s in service.slos] == [
        ("availability-internal-objective", 0.995), ("availability-1", 0.99)]


def _sli_doc(name: str, metric: str) -> str:
    source = "{{metricSource: {{type: Prometheus, spec: {{query: {}}}}}}}"
    return (f"apiVersion: openslo/v1\nkind: SLI\nmetadata: {{name: {name}}}\nspec:\n"
            f"  ratioMetric:\n"
            f"    good: {source.format(metric + '_ok_total')}\n"
            f"    total: {source.format(metric + '_total')}\n"
            "---\n")


def _composite(objectives: str, *, method: str = "Occurrences", head: str = "") -> str:
    """SLO checkout over objectives with their own indicators (SLIs cart and pay defined)."""
    return (_sli_doc("cart", "cart") + _sli_doc("pay", "pay") + head
            + "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: checkout}\nspec:\n"
            + "  service: shop\n  timeWindow: [{duration: 28d, isRolling: true}]\n"
            + f"  budgetingMethod: {method}\n  objectives:\n"
            + textwrap.indent(textwrap.dedent(objectives), "    "))


def test_weighted_objectives_make_a_weighted_composite_slo() -> None:
    """Each objective is an SLO of its own indicator, named <slo>-<displayName> or
    <slo>-<index>; those with a compositeWeight make the composite <slo> over them."""
    [service] = _ok(_composite("""\
        - {displayName: Cart, indicatorRef: cart, target: 0.99, compositeWeight: 3}
        - {indicatorRef: pay, target: 0.99, compositeWeight: 1}
        - {displayName: Pay strict, indicatorRef: pay, target: 0.999}
        """))
    cart, pay, strict, checkout = service.slos
    assert [(s.name, s.objective) for s in service.slos] == [
        ("checkout-cart", 0.99), ("checkout-1", 0.99), ("checkout-pay-strict", 0.999),
        ("checkout", 0.99)]
    assert cart.sli == model.RatioSLI(total=model.Selector("cart_total"),
                                      good=model.Selector("cart_ok_total"))
    assert pay.sli == strict.sli != cart.sli
    assert checkout.sli == model.CompositeSLI("weighted", (
        model.CompositeComponent(model.SLOId("shop", "checkout-cart"), 3.0),
        model.CompositeComponent(model.SLOId("shop", "checkout-1"), 1.0)))
    assert checkout.period == cart.period == model.RollingPeriod(28 * DAY)


def test_a_composite_loads_as_a_config(tmp_path: Path) -> None:
    """The whole loader accepts the composite: its components are SLOs of the same file."""
    (tmp_path / "shop.yaml").write_text(_composite("""\
        - {indicatorRef: cart, target: 0.99, compositeWeight: 3}
        - {indicatorRef: pay, target: 0.99, compositeWeight: 1}
        """))
    config = load_config(str(tmp_path / "shop.yaml"))
    assert [s.key for s in config.slos] == ["shop/checkout-0", "shop/checkout-1", "shop/checkout"]


def test_a_single_weighted_objective_keeps_the_slo_name_for_the_composite() -> None:
    """One objective with a weight: the objective is checkout-0, the composite checkout."""
    [service] = _ok(_composite("- {indicatorRef: cart, target: 0.99, compositeWeight: 1}\n"))
    assert [s.name for s in service.slos] == ["checkout-0", "checkout"]


def test_objectives_with_own_indicators_but_no_weight_are_separate_slos() -> None:
    """Without compositeWeight there is no composite: one SLO per objective."""
    [service] = _ok(_composite("""\
        - {indicatorRef: cart, target: 0.99}
        - {indicatorRef: pay, target: 0.9}
        """))
    assert [s.name for s in service.slos] == ["checkout-0", "checkout-1"]


def test_composite_budgeting_follows_its_objectives() -> None:
    """Timeslices objectives that agree give the composite the same slices and target."""
    [service] = _ok(_composite("""\
        - {indicatorRef: cart, target: 0.99, compositeWeight: 2, timeSliceTarget: 0.9,
           timeSliceWindow: 5m}
        - {indicatorRef: pay, target: 0.99, compositeWeight: 1, timeSliceTarget: 0.9,
           timeSliceWindow: 5m}
        """, method="Timeslices"))
    assert service.slos[-1].budgeting == model.Budgeting(
        model.Timeslices(300.0, Decimal("0.9")))


@pytest.mark.parametrize(("objectives", "method", "reason"), [
    ("""\
     - {indicatorRef: cart, target: 0.99, compositeWeight: 2}
     - {indicatorRef: pay, target: 0.9, compositeWeight: 1}
     """, "Occurrences",
     "spec.objectives: the objectives with a compositeWeight have different targets: OpenSLO "
     "gives a composite no target of its own"),
    ("""\
     - {indicatorRef: cart, target: 0.99, compositeWeight: 2, timeSliceWindow: 5m}
     - {indicatorRef: pay, target: 0.99, compositeWeight: 1, timeSliceWindow: 1m}
     """, "RatioTimeslices",
     "spec.objectives: the objectives with a compositeWeight have different time slices"),
    ("""\
     - {indicatorRef: cart, target: 0.99, compositeWeight: 0}
     """, "Occurrences", "spec.objectives[0].compositeWeight: must be a number above 0"),
    ("""\
     - {indicatorRef: cart, target: 0.99, compositeWeight: 1}
     - {target: 0.99, compositeWeight: 1}
     """, "Occurrences",
     "spec.objectives[1]: missing required key 'indicator' or 'indicatorRef': in a composite "
     "SLO every objective has its own"),
    ("""\
     - {indicatorRef: nowhere, target: 0.99, compositeWeight: 1}
     """, "Occurrences",
     "spec.objectives[0].indicatorRef: unknown SLI 'nowhere'"),
])
def test_composites_we_cannot_hold_are_rejected_with_reason(
        objectives: str, method: str, reason: str) -> None:
    """Different targets or slices (no composite target to take), a weight of 0, an objective
    without its indicator, or an unknown indicator: a located error."""
    [error] = _errors(_composite(objectives, method=method))
    assert f"documents[2].{reason}" in error


def test_indicator_on_the_slo_and_on_objectives_is_rejected() -> None:
    """The SDK's rule: the indicator is on the SLO or on every objective, not both."""
    [error] = _errors(_slo(objectives="objectives: [{target: 0.99, indicatorRef: a}]"))
    assert "documents[0].spec.indicator: give the indicator either on the SLO or on every " \
        "objective" in error


def _policy(condition: str, target: str = "- targetRef: pager", *, severity: str = "page",
            name: str = "fast-burn", flags: str = "") -> str:
    return f"""\
    alertPolicies:
      - kind: AlertPolicy
        metadata: {{name: {name}}}
        spec:
          {flags or "alertWhenBreaching: true"}
          conditions:
            - kind: AlertCondition
              metadata: {{name: page}}
              spec:
                severity: {severity}
                condition: {condition}
          notificationTargets:
            {target}
    """


TARGET = ("apiVersion: openslo/v1\nkind: AlertNotificationTarget\nmetadata: {name: pager}\n"
          "spec: {target: pagerduty}\n---\n")
FAST = "{kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}"
SLOW = "{kind: burnrate, op: gt, threshold: 2, lookbackWindow: 1d}"


def test_a_burn_rate_condition_becomes_the_slos_alert_window() -> None:
    """threshold -> a fixed factor, lookbackWindow -> the (single) window, alertAfter -> hold;
    severity page is a page alert named after the policy, routed by its target's name."""
    [service] = _ok(TARGET + _slo(_policy(FAST)))
    [slo] = service.slos
    assert slo.alerting == model.Alerting(
        windows=(model.AlertWindow("page", 3600.0, None, factor=14.4, hold=300.0),),
        page=model.AlertSettings(name="fast_burn",
                                 labels=model.frozen_map({"notification_target": "pager"})))
    assert not slo.alerting.default


def test_the_mapped_condition_is_a_generated_rule() -> None:
    """The rule fires above 14.4 over 1h alone (no short window), for 5m, named after the
    policy, with the target's name for routing."""
    [service] = _ok(TARGET + _slo(_policy(FAST)))
    [rule] = slo_rules(service.slos)
    assert rule["alert"] == "fast_burn"
    assert rule["for"] == "5m"
    assert rule["labels"]["notification_target"] == "pager"
    assert rule["labels"]["severity"] == "page"
    assert '> 14.4' in rule["expr"]
    assert 'window="1h"' in rule["expr"]
    assert 'window="5m"' not in rule["expr"]


@pytest.mark.parametrize(("severity", "ours", "labels"), [
    ("page", "page", {}),
    ("critical", "page", {"severity": "critical"}),
    ("High", "page", {"severity": "High"}),
    ("warning", "ticket", {"severity": "warning"}),
    ("sev3", "ticket", {"severity": "sev3"}),
])
def test_severity_page_critical_or_high_pages_anything_else_is_a_ticket(
        severity: str, ours: str, labels: dict[str, str]) -> None:
    """Another word than ours is kept as the alert's severity label, for routing."""
    [service] = _ok(TARGET + _slo(_policy(SLOW, "[]", severity=severity)))
    alerting = service.slos[0].alerting
    assert [w.severity for w in alerting.windows] == [ours]
    assert alerting.settings(ours) == model.AlertSettings(
        name="fast_burn", labels=model.frozen_map(labels))


def test_several_policies_add_their_windows() -> None:
    """A page and a ticket policy give both windows, each severity its policy's name;
    alertWhenBreaching: false keeps the ticket evaluated and exported but sends nothing."""
    page = textwrap.dedent(_policy(FAST)).split("\n", 1)[1]
    ticket = textwrap.dedent(_policy(SLOW, "[]", severity="ticket", name="slow-burn",
                                     flags="alertWhenBreaching: false")).split("\n", 1)[1]
    [service] = _ok(TARGET + _slo("alertPolicies:\n" + page + ticket))
    alerting = service.slos[0].alerting
    assert [(w.severity, w.long, w.factor) for w in alerting.windows] == [
        ("page", 3600.0, 14.4), ("ticket", 86400.0, 2.0)]
    assert alerting.ticket == model.AlertSettings(name="slow_burn", disabled=True)
    assert alerting.page.name == "fast_burn"


@pytest.mark.parametrize(("condition", "reason"), [
    ("{kind: burnrate, op: gte, threshold: 2, lookbackWindow: 1h}", "op 'gte' cannot map"),
    ("{kind: burnrate, op: lt, threshold: 2, lookbackWindow: 1h}", "op 'lt' cannot map"),
    ("{kind: threshold, op: gt, threshold: 2, lookbackWindow: 1h}",
     "condition kind 'threshold' is not supported"),
    ("{kind: burnrate, op: gt, threshold: 0, lookbackWindow: 1h}", "must be a burn rate above 0"),
    ("{kind: burnrate, op: gt, threshold: 2, lookbackWindow: 29d}",
     "the window 29d is longer than the SLO period 28d"),
    ("{kind: burnrate, op: gt, threshold: 2, lookbackWindow: 1M}", "is a calendar duration"),
])
def test_burn_rate_conditions_that_cannot_map_are_rejected(condition: str, reason: str) -> None:
    """A condition that is no burn rate above a threshold over a window the SLO keeps is a
    located error, never dropped."""
    [error] = _errors(TARGET + _slo(_policy(condition)))
    assert "documents[1].spec.alertPolicies[0].spec.conditions[0].spec" in error
    assert reason in error


@pytest.mark.parametrize(("flags", "reason"), [
    ("alertWhenResolved: false", "alertWhenResolved: false cannot be honoured here: whether a "
     "resolved alert is announced is the Alertmanager receiver's send_resolved"),
    ("alertWhenNoData: false", "alertWhenNoData: false cannot be honoured: every SLO has the "
     "built-in no-data alert"),
])
def test_policy_switches_that_cannot_be_honoured_are_rejected(flags: str, reason: str) -> None:
    """alertWhenResolved and alertWhenNoData true are what happens anyway; false cannot be."""
    [error] = _errors(TARGET + _slo(_policy(SLOW, flags=flags)))
    assert reason in error
    [service] = _ok(TARGET + _slo(_policy(
        SLOW, flags=flags.replace("false", "true"))))
    assert len(service.slos[0].alerting.windows) == 1


def test_two_policies_of_one_severity_must_agree_on_name_and_labels() -> None:
    """An SLO's page alerts have one name: two page policies with different names conflict;
    the same window twice is a duplicate."""
    one = textwrap.dedent(_policy(FAST)).split("\n", 1)[1]
    other = textwrap.dedent(_policy(SLOW, name="other")).split("\n", 1)[1]
    [error] = _errors(TARGET + _slo("alertPolicies:\n" + one + other))
    assert "alertPolicies[1].spec.conditions[0]: maps to page alerts as" in error
    [error] = _errors(TARGET + _slo("alertPolicies:\n" + one + one))
    assert "alertPolicies[1].spec.conditions[0]: the same page alert window as" in error


def test_unknown_notification_target_and_policy_refs_are_errors() -> None:
    """targetRef and alertPolicyRef must name objects of the loaded documents."""
    [error] = _errors(_slo(_policy(FAST)))
    assert "notificationTargets[0].targetRef: unknown AlertNotificationTarget 'pager'" in error
    [error] = _errors(_slo("alertPolicies: [{alertPolicyRef: missing}]"))
    assert "spec.alertPolicies[0].alertPolicyRef: unknown AlertPolicy 'missing'" in error


def test_v2alpha_renames_map_like_v1() -> None:
    """serviceRef, sli and dataSourceRef (v2alpha) give the same SLO as v1's names."""
    text = """\
    apiVersion: openslo.com/v2alpha
    kind: DataSource
    metadata: {name: prom}
    spec: {type: Prometheus}
    ---
    apiVersion: openslo.com/v2alpha
    kind: SLO
    metadata: {name: availability, labels: {env: prod}}
    spec:
      serviceRef: web-shop
      sli:
        metadata: {name: availability-sli}
        spec:
          ratioMetric:
            good: {dataSourceRef: prom, spec: {query: ok_total}}
            total: {dataSourceSpec: {type: Prometheus}, spec: {query: all_total}}
      timeWindow: [{duration: 28d, isRolling: true}]
      budgetingMethod: Occurrences
      objectives: [{target: 0.999}]
    """
    [service] = _ok(text)
    [slo] = service.slos
    assert (service.name, slo.name, dict(slo.labels)) == ("web-shop", "availability",
                                                         {"env": "prod"})
    assert slo.sli == model.RatioSLI(total=model.Selector("all_total"),
                                     good=model.Selector("ok_total"))


@pytest.mark.parametrize(("head", "reason"), [
    ("apiVersion: openslo/v3\n", "unsupported apiVersion 'openslo/v3'"),
    ("kind: Thing\n", "unknown kind 'Thing'"),
])
def test_unknown_version_or_kind_is_located(head: str, reason: str) -> None:
    """A document of another version or kind is named, not skipped."""
    text = "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: x}\n"
    key = head.split(":", maxsplit=1)[0]
    text = "\n".join(line if not line.startswith(key) else head.strip()
                     for line in text.splitlines())
    [error] = _errors(text + "\n---\n" + _slo())
    assert error.startswith(f"slos.yaml:{1 if key == 'apiVersion' else 2}: documents[0].{key}")
    assert reason in error


HOSTILE = ("[]", "{}", "null", "'x'", "-1", "0", "[{}]", "true", "1M")


def _value_slots(node: Node) -> list[tuple[list[Any], int, int | None]]:
    """Every mapping value and list item under ``node``: (container, index, pair slot)."""
    slots: list[tuple[list[Any], int, int | None]] = []
    if isinstance(node, MappingNode):
        for index, (_key, value) in enumerate(node.value):
            slots.append((node.value, index, 1))
            slots.extend(_value_slots(value))
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            slots.append((node.value, index, None))
            slots.extend(_value_slots(item))
    return slots


def test_any_value_in_any_field_gives_problems_never_a_traceback() -> None:
    """Each value of a full SLO (with policy and target) replaced by each hostile
    value either loads or reports problems; the loader raises nothing."""
    text = TARGET + _slo(_policy(
        "{kind: burnrate, op: gt, threshold: 13.44, lookbackWindow: 1h, alertAfter: 5m}"),
        method="Timeslices",
        objectives="objectives: [{target: 0.99, timeSliceTarget: 0.95, timeSliceWindow: 5m}]")
    hostile = [yaml.compose(value) for value in HOSTILE]
    problems = Problems("slos.yaml")
    documents = nodes.compose(text, problems)
    assert documents is not None
    tried = 0
    for container, index, pair in [s for d in documents for s in _value_slots(d.root)]:
        original = container[index]
        for value in hostile:  # the loader never changes nodes, so one copy serves
            container[index] = value if pair is None else (original[0], value)
            services(documents, Reader(Problems("slos.yaml")),
                     Context("slos.yaml", model.StorageConfig()))
            tried += 1
        container[index] = original
    assert tried > 500  # every slot of the SLO, policy and target, nine values each


# ------------------------------------------------------ through the config


def test_an_openslo_file_loads_as_a_config(tmp_path: Path) -> None:
    """``check slos.yaml`` on an OpenSLO file gives its services with default settings."""
    path = tmp_path / "slos.yaml"
    path.write_text(_slo())
    config = load_config(str(path))
    assert [slo.key for slo in config.slos] == ["web-shop/availability"]


def test_a_native_config_includes_openslo_files(tmp_path: Path) -> None:
    """An included OpenSLO file is judged by the including storage: a 90 s
    slice fits 30 s buckets (90 = 3 * 30) and is mapped."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "shop.yaml").write_text(_slo(method="Timeslices", objectives=(
        "objectives: [{target: 0.99, timeSliceTarget: 0.95, timeSliceWindow: 90m}]")))
    main = tmp_path / "config.yaml"
    main.write_text("storage: {resolution: 30s}\ninclude: ['slos/*.yaml']\n")
    config = load_config(str(main))
    [slo] = config.slos
    assert slo.budgeting.timeslices == model.Timeslices(5400.0, Decimal("0.95"))


def test_a_problem_in_an_included_openslo_file_names_that_file(tmp_path: Path) -> None:
    """The error names the included file, its line, the document and the field."""
    (tmp_path / "shop.yaml").write_text(_slo(method="Fortnightly"))
    main = tmp_path / "config.yaml"
    main.write_text("include: ['shop.yaml']\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(main))
    [problem] = err.value.problems
    assert (problem.file, problem.line, problem.path) == (
        str(tmp_path / "shop.yaml"), 18, "documents[0].spec.budgetingMethod")


def test_readme_openslo_example_loads() -> None:
    """The README's OpenSLO example maps to a monthly SLO with 5-minute slices."""
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text()
    block = re.findall(r"```yaml\n(apiVersion: openslo/v1\n.*?)```", readme, flags=re.S)
    [service] = _ok(block[0])
    [slo] = service.slos
    assert slo.period == model.CalendarPeriod("month", "Europe/Berlin")
    assert slo.budgeting.timeslices == model.Timeslices(300.0, Decimal("0.95"))


def test_policy_that_never_alerts_on_breaching_is_evaluated_but_sends_nothing() -> None:
    """alertWhenBreaching: false is a disabled severity: evaluated and exported, no rule, no
    notification."""
    [service] = _ok(TARGET + _slo(_policy(FAST, flags="alertWhenBreaching: false")))
    assert service.slos[0].alerting.page.disabled


@pytest.mark.parametrize(("query", "result"), [
    ("sum(increase(ok_total[{{ .window }}]))", "sum(increase(ok_total[{{.window}}]))"),
    ("sum(increase(ok_total[{{.range}}]))", "unknown template variable {{.range}}"),
    ("sum(increase(ok_total[{{.window}}])", "invalid PromQL template"),
])
def test_window_templates_follow_the_native_rules(query: str, result: str) -> None:
    """{{ .window }} is one spelling of {{.window}}; other variables and unbalanced PromQL fail."""
    indicator = f"""\
    indicator:
      metadata: {{name: ok}}
      spec:
        ratioMetric:
          good: {{metricSource: {{type: Prometheus, spec: {{query: '{query}'}}}}}}
          total: {{metricSource: {{type: Prometheus, spec: {{query: all_total}}}}}}
    """
    found, problems = _load(_slo(indicator=indicator))
    if found:
        sli = found[0].slos[0].sli
        assert isinstance(sli, model.RatioSLI)
        assert sli.good == model.Template(result)
    else:
        [problem] = problems.errors
        assert problem.path == "documents[0].spec.indicator.spec.ratioMetric.good.metricSource" \
            ".spec.query"
        assert result in problem.reason


# ------------------------------------------------ references across included files

SHARED = """\
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prom}
spec: {type: Prometheus}
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: shared}
spec:
  ratioMetric:
    good: {metricSource: {metricSourceRef: prom, spec: {query: ok_total}}}
    total: {metricSource: {metricSourceRef: prom, spec: {query: all_total}}}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: fast-burn}
spec:
  conditions: [{conditionRef: page}]
  notificationTargets: [{targetRef: pager}]
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: pager}
spec: {target: pagerduty}
"""

CONDITION = """\
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: page}
spec:
  severity: page
  condition: {kind: burnrate, op: gt, threshold: 13.44, lookbackWindow: 1h, alertAfter: 5m}
---
"""


def _two_files(tmp_path: Path, shop: str, shared: str = SHARED) -> str:
    """config.yaml including a-shop.yaml and b-shared.yaml; returns the config path."""
    (tmp_path / "a-shop.yaml").write_text(shop)
    (tmp_path / "b-shared.yaml").write_text(shared)
    (tmp_path / "config.yaml").write_text("include: ['a-shop.yaml', 'b-shared.yaml']\n")
    return str(tmp_path / "config.yaml")


def _shop(**refs: str) -> str:
    indicator = refs.get("indicator", "indicatorRef: shared")
    policy = refs.get("policy", "fast-burn")
    spec = f"alertPolicies: [{{alertPolicyRef: {policy}}}]\n"
    return CONDITION + _slo(indicator=indicator, spec=spec)


def test_references_resolve_across_included_files(tmp_path: Path) -> None:
    """indicatorRef, metricSourceRef, alertPolicyRef, conditionRef and targetRef each name an
    object of the other included file (the condition is in the SLO's file, the policy not)."""
    config = load_config(_two_files(tmp_path, _shop()))
    [slo] = config.slos
    assert slo.sli == model.RatioSLI(total=model.Selector("all_total"),
                                     good=model.Selector("ok_total"))


@pytest.mark.parametrize(("refs", "line", "path", "reason"), [
    ({"indicator": "indicatorRef: nowhere"}, 15, "documents[1].spec.indicatorRef",
     "unknown SLI 'nowhere': no document defines it"),
    ({"policy": "slow-burn"}, 19, "documents[1].spec.alertPolicies[0].alertPolicyRef",
     "unknown AlertPolicy 'slow-burn': no document defines it"),
])
def test_a_missing_name_is_an_error_at_the_reference(
        tmp_path: Path, refs: dict[str, str], line: int, path: str, reason: str) -> None:
    """A name no document of any included file defines is reported where it is used."""
    with pytest.raises(ConfigError) as err:
        load_config(_two_files(tmp_path, _shop(**refs)))
    [problem] = err.value.problems
    assert (problem.file, problem.line, problem.path, problem.reason) == (
        str(tmp_path / "a-shop.yaml"), line, path, reason)


def test_a_name_defined_in_two_files_is_a_duplicate_naming_the_first(tmp_path: Path) -> None:
    """The second definition (in file order) is the error, and says where the first is."""
    with pytest.raises(ConfigError) as err:
        load_config(_two_files(tmp_path, _shop(), SHARED + "---\n" + CONDITION.rstrip("-\n")))
    [problem] = err.value.problems
    assert (problem.file, problem.path) == (str(tmp_path / "b-shared.yaml"), "documents[4]")
    assert problem.reason == (
        f"duplicate AlertCondition 'page' (first defined at {tmp_path / 'a-shop.yaml'}, "
        "documents[0], line 1)")


def test_a_problem_in_a_referenced_object_belongs_to_its_file(tmp_path: Path) -> None:
    """A Datadog source in the shared SLI is reported once, in b-shared.yaml, at its line
    (total is read first)."""
    shared = SHARED.replace("spec: {type: Prometheus}", "spec: {type: Datadog}")
    with pytest.raises(ConfigError) as err:
        load_config(_two_files(tmp_path, _shop(), shared))
    assert [(p.file, p.line, p.path) for p in err.value.problems] == [
        (str(tmp_path / "b-shared.yaml"), 12,
         "documents[1].spec.ratioMetric.total.metricSource")]
    assert "data source type 'Datadog' cannot be read" in err.value.problems[0].reason


# ------------------------------------------------ what the fixtures' mappable objects become

FIXTURE_SLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: wifi}
spec:
  service: home
  indicatorRef: wifi-client-satisfaction
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.95}]
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: warn-slow}
      spec:
        conditions: [{conditionRef: latency-too-high}]
        notificationTargets: [{targetRef: devs-email-notification}]
"""


def test_the_fixtures_raw_sli_and_warning_condition_become_a_raw_slo_with_a_ticket(
        tmp_path: Path) -> None:
    """The Go SDK's v1 files (YAML lists of objects), included unchanged beside one SLO using
    their objects: the raw wifi SLI (rawType success) is a success-ratio raw SLI, and the
    'warning' condition (burnrate gt 200 over 1d, alertAfter 30m) a ticket window keeping
    severity=warning; the files' own problems stay in their files."""
    v1 = CONFORMANCE / "go-sdk-v1"
    names = ("slis.yaml", "data_sources.yaml", "alert_conditions.yaml",
             "alert_notification_targets.yaml")
    for name in names:
        (tmp_path / name).write_text((v1 / name).read_text())
    (tmp_path / "wifi.yaml").write_text(FIXTURE_SLO)
    (tmp_path / "config.yaml").write_text(f"include: {[*names, 'wifi.yaml']}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "config.yaml"))
    # the fixtures' own problems, each in its file; nothing about wifi.yaml
    assert {Path(p.file).name for p in err.value.problems} == {
        "slis.yaml", "alert_conditions.yaml"}
    found, problems = _load("\n---\n".join(
        [(v1 / "slis.yaml").read_text(), (v1 / "data_sources.yaml").read_text(),
         (v1 / "alert_conditions.yaml").read_text(),
         (v1 / "alert_notification_targets.yaml").read_text(), FIXTURE_SLO]))
    [service] = found
    [slo] = service.slos
    assert isinstance(slo.sli, model.RawRatioSLI)
    assert slo.sli.measures == "good"
    assert "poller_client_satisfaction_ratio[{{.window}}]" in slo.sli.query.text
    assert slo.alerting == model.Alerting(
        windows=(model.AlertWindow("ticket", 86400.0, None, factor=200.0, hold=1800.0),),
        ticket=model.AlertSettings(name="warn_slow", labels=model.frozen_map(
            {"severity": "warning", "notification_target": "devs-email-notification"})))
    assert {p.path.split(".")[0] for p in problems.errors} == {
        "documents[0][0]", "documents[0][1]", "documents[0][3]", "documents[2][0]"}


def test_the_spec_ratio_timeslices_example_maps_once_its_source_is_prometheus() -> None:
    """budgeting-method__ratio-timeslices.yaml with 'Any' sources made Prometheus selectors:
    a rolling 2w SLO of 0.99 by ratio timeslices of 1 minute."""
    text = (CONFORMANCE / "spec-examples" / "budgeting-method__ratio-timeslices.yaml").read_text()
    text = text.replace("type: Any", "type: Prometheus").replace("query: Any", "query: x_total")
    [service] = _ok(text)
    [slo] = service.slos
    assert (slo.key, slo.objective, slo.period) == (
        "web-shop/main-page", 0.99, model.RollingPeriod(14 * DAY))
    assert slo.budgeting == model.Budgeting(ratio_timeslices=model.RatioTimeslices(60.0))
