"""What a user gets for a wrong dialect file: located problems, never a silent drop.

Each test writes the kind of mistake a user makes (a typo in a key, a wrong
type, a field that only applies elsewhere) and checks that ``load_config``
names the file, the line, the document index and the field, with the reason.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from slo_exporter import cli
from slo_exporter.config import dialects, load_config
from slo_exporter.errors import ConfigError

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: checkout}
spec:
  service: shop
  indicator:
    metadata: {name: checkout-ok}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: 'requests_total{code!~"5.."}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: requests_total}}}
  timeWindow: [{duration: 28d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
"""


def _problems(tmp_path: Path, text: str, name: str = "slos.yaml") -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    return [str(problem) for problem in err.value.problems]


def test_the_openslo_base_document_loads(tmp_path: Path) -> None:
    """The document the OpenSLO attacks below change is valid as written."""
    path = tmp_path / "slos.yaml"
    path.write_text(OPENSLO)
    assert [slo.key for slo in load_config(str(path)).slos] == ["shop/checkout"]


@pytest.mark.parametrize(("old", "new", "where"), [
    ("  service: shop\n", "  service: shop\n  sevice: shop\n",
     "6: documents[0].spec.sevice: unknown key (did you mean 'service'?)"),
    ("metadata: {name: checkout}", "metadata: {name: checkout, lables: {a: b}}",
     "3: documents[0].metadata.lables: unknown key (did you mean 'labels'?)"),
    ("isRolling: true}]", "isRolling: true, calender: {timeZone: UTC}}]",
     "13: documents[0].spec.timeWindow[0].calender: unknown key (did you mean 'calendar'?)"),
    ("[{target: 0.99}]", "[{target: 0.99, timeSliceTargt: 0.9}]",
     "15: documents[0].spec.objectives[0].timeSliceTargt: unknown key"),
    ("{query: requests_total}", "{query: requests_total, querry: x}",
     "12: documents[0].spec.indicator.spec.ratioMetric.total.metricSource.spec.querry: "
     "unknown key (did you mean 'query'?)"),
    ("        counter: true\n", "        counter: true\n        bda: {}\n",
     "11: documents[0].spec.indicator.spec.ratioMetric.bda: unknown key (did you mean 'bad'?)"),
    ("  objectives:", "  alertPolicy: [x]\n  objectives:",
     "15: documents[0].spec.alertPolicy: unknown key (did you mean 'alertPolicies'?)"),
    ("        good: {metricSource:", "        good: {extra: 1, metricSource:",
     "11: documents[0].spec.indicator.spec.ratioMetric.good.extra: unknown key"),
])
def test_an_unknown_openslo_key_is_located_never_ignored(
        tmp_path: Path, old: str, new: str, where: str) -> None:
    """A misspelt OpenSLO key is an error at its line, with a hint; it was dropped silently."""
    assert OPENSLO.count(old) == 1
    problems = _problems(tmp_path, OPENSLO.replace(old, new))
    assert any(p.startswith(f"{tmp_path / 'slos.yaml'}:{where}") for p in problems), problems


def test_unknown_keys_of_policies_conditions_and_targets_are_located(tmp_path: Path) -> None:
    """Keys of an alert policy, its condition and its notification target are checked too."""
    policy = """\
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: fast}
      spec:
        alertWhenBreaching: true
        alertOnBreach: true
        conditions:
          - kind: AlertCondition
            metadata: {name: c}
            spec:
              severity: page
              condition: {kind: burnrate, threshold: 14, lookbackWindow: 1h, lookback: 5m}
        notificationTargets:
          - {targetRef: pager, target: x}
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: pager}
spec: {target: pagerduty, targit: x}
"""
    problems = _problems(tmp_path, OPENSLO + policy)
    paths = [p.split(": ")[1] for p in problems]
    assert paths == [
        "documents[0].spec.alertPolicies[0].spec.alertOnBreach",
        "documents[0].spec.alertPolicies[0].spec.conditions[0].spec.condition.lookback",
        "documents[0].spec.alertPolicies[0].spec.notificationTargets[0].target",
        "documents[1].spec.targit",
    ], problems


def test_a_threshold_value_on_a_ratio_objective_is_rejected(tmp_path: Path) -> None:
    """``value`` only means something for a thresholdMetric; on a ratio it was ignored."""
    problems = _problems(tmp_path, OPENSLO.replace("[{target: 0.99}]",
                                                   "[{target: 0.99, value: 300}]"))
    assert problems == [f"{tmp_path / 'slos.yaml'}:15: documents[0].spec.objectives[0].value: "
                        "value is the threshold of a thresholdMetric; the objective of a "
                        "ratioMetric has only a target"]


@pytest.mark.parametrize("op", ["lt", "lte"])
def test_a_ratio_objective_below_its_target_is_rejected(tmp_path: Path, op: str) -> None:
    """``op: lt`` on a ratio would invert the SLO; only gt/gte (the ratio reaches it) map."""
    problems = _problems(tmp_path, OPENSLO.replace("[{target: 0.99}]",
                                                   f"[{{target: 0.99, op: {op}}}]"))
    assert len(problems) == 1
    assert f"documents[0].spec.objectives[0].op: op '{op}' cannot apply to a ratioMetric" \
        in problems[0]


def test_a_ratio_objective_with_op_gt_loads(tmp_path: Path) -> None:
    """``op: gt`` on a ratio objective (as the OpenSLO examples write it) is what we do."""
    path = tmp_path / "slos.yaml"
    path.write_text(OPENSLO.replace("[{target: 0.99}]", "[{target: 0.99, op: gt}]"))
    assert load_config(str(path)).slos[0].objective == pytest.approx(0.99)


def test_an_sli_with_both_ratio_and_threshold_metric_is_rejected(tmp_path: Path) -> None:
    """Both metrics in one SLI: the threshold metric was silently dropped."""
    text = OPENSLO.replace("      ratioMetric:\n", "      thresholdMetric: {metricSource: "
                           "{type: Prometheus, spec: {query: d_bucket}}}\n      ratioMetric:\n")
    problems = _problems(tmp_path, text)
    assert problems == [f"{tmp_path / 'slos.yaml'}:9: documents[0].spec.indicator.spec."
                        "thresholdMetric: give either ratioMetric or thresholdMetric, not both"]


# ------------------------------------------------------ Kubernetes lists

SLOTH_CRD = """\
apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: shop}
spec:
  service: shop
  slos:
    - name: requests
      objective: 99.9
      sli:
        events:
          errorQuery: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
          totalQuery: sum(rate(http_requests_total[{{.window}}]))
      alerting: {name: ShopRequests}
"""
PYRRA = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: api, namespace: web}
spec:
  target: '99.5'
  window: 4w
  indicator:
    ratio:
      errors: {metric: 'http_requests_total{code=~"5.."}'}
      total: {metric: http_requests_total}
"""


def _list(*objects: str) -> str:
    """``kubectl get ... -o yaml``: a v1 List whose items are the objects."""
    items = "".join("  - " + textwrap.indent(obj, "    ")[4:] for obj in objects)
    return f"apiVersion: v1\nkind: List\nmetadata: {{resourceVersion: ''}}\nitems:\n{items}"


def test_a_kubernetes_list_of_slo_objects_loads_each_item(tmp_path: Path) -> None:
    """A List of a Sloth CRD and a Pyrra objective (as kubectl exports them) loads both."""
    path = tmp_path / "slos.yaml"
    path.write_text(_list(SLOTH_CRD, PYRRA))
    config = load_config(str(path))
    assert [slo.key for slo in config.slos] == ["shop/requests", "api/api"]


def test_a_problem_in_a_list_item_names_the_item(tmp_path: Path) -> None:
    """A problem inside a List item is located by document and item index."""
    problems = _problems(tmp_path, _list(SLOTH_CRD, PYRRA.replace("'99.5'", "'abc'")))
    assert problems == [f"{tmp_path / 'slos.yaml'}:22: documents[0].items[1].spec.target: "
                        "must be a percentage such as '99.9', got 'abc'"]


def test_an_included_kubernetes_list_loads(tmp_path: Path) -> None:
    """An included file may be a List too."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "export.yaml").write_text(_list(PYRRA))
    (tmp_path / "slo.yaml").write_text("include: [slos/]\n")
    assert [slo.key for slo in load_config(str(tmp_path / "slo.yaml")).slos] == ["api/api"]


def test_an_empty_kubernetes_list_is_an_error(tmp_path: Path) -> None:
    """A List without items defines nothing, which is said as such."""
    problems = _problems(tmp_path, "apiVersion: v1\nkind: List\nitems: []\n")
    assert problems == [f"{tmp_path / 'slos.yaml'}:1: documents[0]: a Kubernetes List "
                        "must hold its SLO objects in a non-empty 'items' list"]


# ------------------------------------------------------ a missing dialect marker

SLOTH = """\
version: prometheus/v1
service: shop
slos:
  - name: requests
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting: {name: ShopRequests}
"""


def test_a_sloth_spec_without_its_version_is_told_so(tmp_path: Path) -> None:
    """Without ``version: prometheus/v1`` a Sloth spec reads as native; the user is told
    what is missing, not that service and slos are unknown native keys."""
    problems = _problems(tmp_path, SLOTH.replace("version: prometheus/v1\n", ""))
    assert problems == [f"{tmp_path / 'slos.yaml'}:1: this looks like a Sloth spec (service "
                        "and slos) without 'version: prometheus/v1': add that line, or write "
                        "a native config (a 'services' list)"]


def test_an_included_sloth_spec_without_its_version_is_told_so(tmp_path: Path) -> None:
    """The same hint for an included file, located in that file."""
    (tmp_path / "sloth.yml").write_text(SLOTH.replace("version: prometheus/v1\n", ""))
    (tmp_path / "slo.yaml").write_text("include: [sloth.yml]\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "slo.yaml"))
    assert [str(p) for p in err.value.problems] == [
        f"{tmp_path / 'sloth.yml'}:1: documents[0]: this looks like a Sloth spec (service and "
        "slos) without 'version: prometheus/v1': add that line, or write a native config "
        "(a 'services' list)"]


@pytest.mark.parametrize(("text", "api"), [
    (PYRRA, "pyrra.dev/v1alpha1"), (SLOTH_CRD, "sloth.slok.dev/v1"), (OPENSLO, "openslo/v1")])
def test_a_known_kind_without_its_api_version_names_the_one_to_add(
        tmp_path: Path, text: str, api: str) -> None:
    """A Pyrra, Sloth or OpenSLO kind without apiVersion names the apiVersion it needs."""
    problems = _problems(tmp_path, text.replace(f"apiVersion: {api}\n", ""))
    assert len(problems) == 1
    assert f"add 'apiVersion: {api}'" in problems[0], problems


# ------------------------------------------------ one service over several files


def _openslo_slo(name: str, service: str = "shop") -> str:
    return OPENSLO.replace("name: checkout}", f"name: {name}}}").replace(
        "name: checkout-ok}", f"name: {name}-ok}}").replace("service: shop", f"service: {service}")


def test_openslo_slos_of_one_service_in_several_files_make_one_service(tmp_path: Path) -> None:
    """One OpenSLO SLO per file, all of service shop (the usual layout): one service with
    every SLO; the second file was refused as a duplicate service."""
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "a.yaml").write_text(_openslo_slo("checkout"))
    (tmp_path / "slos" / "b.yaml").write_text(_openslo_slo("search"))
    (tmp_path / "slo.yaml").write_text("include: [slos/]\n")
    config = load_config(str(tmp_path / "slo.yaml"))
    assert [(s.name, [slo.name for slo in s.slos]) for s in config.services] == [
        ("shop", ["checkout", "search"])]


def test_sloth_documents_of_one_service_add_their_slos(tmp_path: Path) -> None:
    """Two Sloth specs of one service with different SLOs (Sloth's SLO ids differ) load as
    one service, in one file or in two."""
    other = SLOTH.replace("name: requests", "name: errors")
    path = tmp_path / "slos.yaml"
    path.write_text(SLOTH + "---\n" + other)
    assert [slo.key for slo in load_config(str(path)).slos] == ["shop/requests", "shop/errors"]
    (tmp_path / "a.yml").write_text(SLOTH)
    (tmp_path / "b.yml").write_text(other)
    (tmp_path / "slo.yaml").write_text("include: [a.yml, b.yml]\n")
    assert [slo.key for slo in load_config(str(tmp_path / "slo.yaml")).slos] == [
        "shop/requests", "shop/errors"]


def test_the_same_slo_of_one_service_in_two_files_is_located(tmp_path: Path) -> None:
    """The same service and SLO twice (Sloth's duplicate SLO id) names both places, the
    second by line, document and field."""
    (tmp_path / "a.yml").write_text(SLOTH)
    (tmp_path / "b.yml").write_text(SLOTH_CRD)
    (tmp_path / "slo.yaml").write_text("include: [a.yml, b.yml]\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "slo.yaml"))
    assert [str(p) for p in err.value.problems] == [
        f"{tmp_path / 'b.yml'}:5: documents[0].spec.service: duplicate SLO 'shop/requests': "
        f"also defined in {tmp_path / 'a.yml'}; an SLO name must be unique within its service"]


def test_a_native_service_named_again_by_a_dialect_file_is_located(tmp_path: Path) -> None:
    """A native service is defined in one place: a dialect file naming it is an error at
    the field that names it."""
    (tmp_path / "sloth.yml").write_text(SLOTH)
    (tmp_path / "slo.yaml").write_text(
        "include: [sloth.yml]\nservices:\n  - name: shop\n    slos:\n      - name: other\n"
        "        objective: 99\n        window: 30d\n"
        "        sli: {ratio: {bad: errors_total, total: requests_total}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "slo.yaml"))
    assert [str(p) for p in err.value.problems] == [
        f"{tmp_path / 'sloth.yml'}:2: documents[0].service: duplicate service name 'shop': "
        f"also defined in {tmp_path / 'slo.yaml'} (services); service names must be unique "
        "across the config and every included file"]


def test_dialect_documents_of_one_service_keep_their_own_labels_on_their_slos(
        tmp_path: Path) -> None:
    """Two Sloth specs of one service with different labels: each SLO keeps its spec's
    labels (as in Sloth), the service keeps those both agree on."""
    first = SLOTH.replace("service: shop\n", "service: shop\nlabels: {team: a, tier: '1'}\n")
    second = SLOTH.replace("service: shop\n", "service: shop\nlabels: {team: b, tier: '1'}\n"
                           ).replace("name: requests", "name: errors")
    path = tmp_path / "slos.yaml"
    path.write_text(first + "---\n" + second)
    [service] = load_config(str(path)).services
    assert [dict(slo.labels) for slo in service.slos] == [
        {"team": "a", "tier": "1"}, {"team": "b", "tier": "1"}]
    assert dict(service.labels) == {"tier": "1"}


# ------------------------------------------ objectives that a double cannot hold


@pytest.mark.parametrize(("target", "held"), [
    ("'99.99999999999999999999'", "100 %"), ("'1e-400'", "0 %")])
def test_a_pyrra_target_a_double_rounds_to_0_or_100_is_rejected(
        tmp_path: Path, target: str, held: str) -> None:
    """A Pyrra target with more digits than a double holds loaded as an objective of 1.0
    (no error budget: burn rates divide by 0) or 0.0; it is rejected with the reason."""
    problems = _problems(tmp_path, PYRRA.replace("'99.5'", target))
    assert len(problems) == 1
    assert f"documents[0].spec.target: {target.strip(chr(39))} is {held} once held as a " \
        "number" in problems[0], problems


@pytest.mark.parametrize(("target", "held"), [
    ("0.99999999999999999999", "1"), ("1e-400", "0")])
def test_an_openslo_target_a_double_rounds_to_0_or_1_is_rejected(
        tmp_path: Path, target: str, held: str) -> None:
    """The same for an OpenSLO target: 0.99999999999999999999 was an objective of 1.0."""
    problems = _problems(tmp_path, OPENSLO.replace("[{target: 0.99}]",
                                                   f"[{{target: {target}}}]"))
    assert len(problems) == 1
    assert f"documents[0].spec.objectives[0].target: {target} is {held} once held as a " \
        "number" in problems[0], problems


# ------------------------------------------------------------ slo-exporter check

CONFORMANCE = Path(__file__).parent.parent / "fixtures" / "conformance"


@pytest.mark.parametrize(("example", "services", "slos"), [
    ("sloth/examples/getting-started.yml", 1, 1),
    ("sloth/examples/k8s-multifile.yml", 2, 2),
    ("pyrra/examples/prometheus-probe-success.yaml", 1, 1),
])
def test_check_validates_a_file_of_any_dialect(
        example: str, services: int, slos: int, capsys: pytest.CaptureFixture[str]) -> None:
    """``slo-exporter check`` on an unchanged Sloth or Pyrra file says OK with its SLOs."""
    path = CONFORMANCE / example
    assert cli.main(["check", f"--config.file={path}"]) == 0
    assert capsys.readouterr().out == f"{path}: OK, {services} service(s), {slos} SLO(s)\n"


def test_check_lists_located_problems_of_a_mixed_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``check`` on a file mixing Sloth, Pyrra and OpenSLO documents prints each problem
    with file, line, document and field, and fails; no traceback."""
    path = tmp_path / "mixed.yaml"
    path.write_text(SLOTH.replace("99.9", "101") + "---\n" + PYRRA + "---\n"
                    + OPENSLO.replace("  service: shop\n", "  service: shop\n  sevice: x\n"))
    assert cli.main(["check", f"--config.file={path}"]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    printed = (out.out + out.err).splitlines()
    assert f"{path}:5: documents[0].slos[0].objective: must be a percentage strictly between " \
        "0 and 100, got 101" in printed
    line = path.read_text().splitlines().index("  sevice: x") + 1
    assert any(p.startswith(f"{path}:{line}: documents[2].spec.sevice: unknown key")
               for p in printed), printed


# ------------------------------------------- every OpenSLO problem at once


def test_every_independent_problem_of_an_openslo_slo_is_reported(tmp_path: Path) -> None:
    """Six mistakes in independent fields of one SLO give six problems; the first alone
    was reported, so fixing a file took one round per mistake."""
    text = (OPENSLO.replace("service: shop", "service: 'my shop'")
            .replace("duration: 28d", "duration: 28x")
            .replace("budgetingMethod: Occurrences", "budgetingMethod: Sometimes")
            .replace("[{target: 0.99}]", "[{target: 2}, {target: 0.9, compositeWeight: -1}]")
            .replace("query: requests_total}", "query: 'rate(requests_total[5m])'}"))
    problems = [p.split(": ", 1)[1] for p in _problems(tmp_path, text)]
    assert sorted(p.split(":")[0] for p in problems) == [
        "documents[0].spec.budgetingMethod",
        "documents[0].spec.indicator.spec.ratioMetric.total.metricSource.spec.query",
        "documents[0].spec.objectives[0].target",
        "documents[0].spec.objectives[1].compositeWeight",
        "documents[0].spec.service",
        "documents[0].spec.timeWindow[0].duration",
    ], problems


# ------------------------------------- OpenSLO conditions judged as native windows

POLICY = """\
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: fast}
      spec:
        conditions:
"""
CONDITION = """\
          - kind: AlertCondition
            metadata: {{name: c{index}}}
            spec: {{severity: page, condition: {{kind: burnrate, threshold: 14,
                                               lookbackWindow: {window}}}}}
"""


def test_an_openslo_lookback_window_must_be_whole_storage_buckets(tmp_path: Path) -> None:
    """A 7m lookbackWindow at 5m buckets loaded; a native window is refused for it."""
    (tmp_path / "slos.yaml").write_text(OPENSLO + POLICY + CONDITION.format(index=0, window="7m"))
    (tmp_path / "slo.yaml").write_text("storage: {resolution: 5m}\ninclude: [slos.yaml]\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "slo.yaml"))
    assert [str(p) for p in err.value.problems] == [
        f"{tmp_path / 'slos.yaml'}:24: documents[0].spec.alertPolicies[0].spec.conditions[0]."
        "spec.condition.lookbackWindow: must be a multiple of storage.resolution (5m), got '7m'"]


def test_an_openslo_slo_has_at_most_the_native_number_of_alert_windows(tmp_path: Path) -> None:
    """21 conditions are one more window than any SLO may have (20, as natively)."""
    conditions = "".join(CONDITION.format(index=i, window=f"{i + 1}h") for i in range(21))
    problems = _problems(tmp_path, OPENSLO + POLICY + conditions)
    assert problems == [f"{tmp_path / 'slos.yaml'}:17: documents[0].spec.alertPolicies: "
                        "the policies give 21 alert windows; an SLO has at most 20"]


def test_included_files_are_bounded_in_bytes_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each included file is bounded (4 MiB), and so are all of them together (64 MiB),
    so 1,000 files of 4 MiB cannot be read into memory at once; shown with a small bound:
    the file past it is refused, named, and not read."""
    monkeypatch.setattr(dialects, "MAX_INCLUDED_BYTES", 2 * len(PYRRA) + 10)
    (tmp_path / "slos").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "slos" / f"{name}.yaml").write_text(PYRRA.replace("name: api", f"name: {name}"))
    (tmp_path / "slo.yaml").write_text("include: [slos/]\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(tmp_path / "slo.yaml"))
    assert [str(p) for p in err.value.problems] == [
        f"{tmp_path / 'slos' / 'c.yaml'}: the included files hold more than "
        f"{2 * len(PYRRA) + 10} bytes together; include fewer or smaller files"]
