"""The native writer: a model written as native YAML reads back as the same model.

Round trip for every config that loads (the conformance fixtures of every
dialect, the native configs in tests/configs/valid and config/): load, write,
read back gives equal SLOs field by field (the source file aside), and
writing what was read back gives the same bytes. Values the native format
cannot hold fail with the SLO's own file, document and field; secrets held
in files stay in their files.
"""

from __future__ import annotations

import dataclasses
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from slo_exporter import model
from slo_exporter.config import load_config, parse_config
from slo_exporter.config.writer import absolute_paths, carried_origins, config_data, convert
from slo_exporter.errors import ConfigError
from tests.config.openslo_docs import FAST_30M

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "conformance"
NATIVE = sorted([*(ROOT / "tests" / "configs" / "valid").glob("*.yaml"),
                 *(ROOT / "config").glob("*.yaml")])
CONFORMANCE = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".yaml", ".yml"))
#: the OpenSLO example directories, whose files refer to each other
OPENSLO_DIRECTORIES = sorted(p for p in (FIXTURES / "openslo").iterdir() if p.is_dir())


def write(config: model.Config) -> str:
    return convert(config, lambda text: parse_config(text, "converted.yaml"))


def assert_round_trip(config: model.Config) -> str:
    """Write, read back, compare field by field; write again and compare the bytes."""
    text = write(config)
    back = parse_config(text, "converted.yaml")
    given = absolute_paths(config)
    assert len(back.services) == len(given.services)
    for service, again in zip(given.services, back.services, strict=True):
        assert (service.name, service.labels, service.description, service.depends_on) == (
            again.name, again.labels, again.description, again.depends_on)
        assert len(service.slos) == len(again.slos)
        for slo, slo_back in zip(service.slos, again.slos, strict=True):
            for field in dataclasses.fields(slo):
                if field.compare:
                    assert getattr(slo_back, field.name) == getattr(slo, field.name), (
                        f"{slo.key}.{field.name}")
    for key in ("prometheus", "evaluation_interval", "storage", "maintenance", "grafana_url"):
        assert getattr(back, key) == getattr(given, key), key
    again_text = convert(back, lambda t: parse_config(t, "again.yaml"), carried_origins(text))
    assert again_text == text
    return text


def _load(path: Path) -> model.Config | None:
    try:
        return load_config(str(path))
    except ConfigError:
        return None


# ------------------------------------------------------------ round trips


@pytest.mark.parametrize("path", NATIVE, ids=lambda p: str(p.relative_to(ROOT)))
def test_native_config_round_trips(path: Path) -> None:
    """Every native config of the repository reads back equal and writes the same bytes."""
    assert_round_trip(load_config(str(path)))


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_conformance_fixture_round_trips_or_is_refused_by_the_reader(path: Path) -> None:
    """A fixture that loads round-trips (every value has a native form); one that does
    not load is refused by the reader (its reasons are the dialect tests' to state), so
    the writer never sees it."""
    config = _load(path)
    if config is None:
        with pytest.raises(ConfigError):
            load_config(str(path))
        return
    text = assert_round_trip(config)
    assert f"# from {path}" in text


def test_most_loadable_conformance_fixtures_round_trip() -> None:
    """Guard against a vacuous round trip: Sloth and Pyrra fixtures of each kind convert."""
    converted = set()
    for path in CONFORMANCE:
        config = _load(path)
        if config is None:
            continue
        try:
            write(config)
        except ConfigError:
            continue
        converted.add(str(path.relative_to(FIXTURES)))
    assert {"sloth/examples/getting-started.yml", "sloth/examples/raw-home-wifi.yml",
            "sloth/examples/k8s-multifile.yml", "pyrra/examples/nginx.yaml",
            "pyrra/examples/caddy-response-latency.yaml"} <= converted
    assert len(converted) >= 25


@pytest.mark.parametrize("directory", OPENSLO_DIRECTORIES, ids=lambda p: p.name)
def test_openslo_example_directory_round_trips_or_is_rejected(
    directory: Path, tmp_path: Path
) -> None:
    """The files of one OpenSLO example set, included together, round-trip if they load."""
    config_file = tmp_path / "slo.yaml"
    config_file.write_text(f"include: [{str(directory)!r}]\n")
    config = _load(config_file)
    if config is None:
        with pytest.raises(ConfigError):
            load_config(str(config_file))
        return
    assert_round_trip(config)


SLOTH_EXAMPLES = sorted((FIXTURES / "sloth" / "examples").glob("*.yml"))


def _without_alerting(text: str) -> str:
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    for document in documents:
        for slo in document.get("spec", document).get("slos", []):
            slo.pop("alerting", None)
    return yaml.safe_dump_all(documents)


@pytest.mark.parametrize("path", SLOTH_EXAMPLES, ids=lambda p: p.name)
def test_sloth_example_without_alert_settings_round_trips(path: Path, tmp_path: Path) -> None:
    """Each Sloth example, its alert settings removed, round-trips if it loads then."""
    copy = tmp_path / path.name
    copy.write_text(_without_alerting(path.read_text()))
    config = _load(copy)
    if config is None:
        with pytest.raises(ConfigError):
            load_config(str(copy))
        return
    assert_round_trip(config)


def test_sloth_examples_that_round_trip_are_most_of_them(tmp_path: Path) -> None:
    """Guard against a vacuous round trip: the events examples (all but plugins, raw
    SLIs and OpenSLO v1alpha) load without their alert settings and round-trip."""
    loaded = []
    for path in SLOTH_EXAMPLES:
        copy = tmp_path / path.name
        copy.write_text(_without_alerting(path.read_text()))
        if _load(copy) is not None:
            loaded.append(path.name)
    assert {"getting-started.yml", "home-wifi.yml", "k8s-multifile.yml",
            "kubernetes-apiserver.yml", "multifile.yml"} <= set(loaded)


# --------------------------------------------------------------- what is written


def _native(text: str, tmp_path: Path, name: str = "slo.yaml") -> model.Config:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return load_config(str(path))


def _api_a(tmp_path: Path, window: str = "1d") -> model.Config:
    """A native config whose one SLO is api/a: objective 99, a ratio of e over t."""
    return _native(f"""\
        services:
          - name: api
            slos:
              - {{name: a, objective: 99, window: {window}, sli: {{ratio: {{bad: e, total: t}}}}}}
        """, tmp_path)


def _only(config: model.Config, slo: model.SLO) -> model.Config:
    """``config`` with ``slo`` as the only SLO of its first service."""
    return dataclasses.replace(
        config, services=(dataclasses.replace(config.services[0], slos=(slo,)),))


def test_defaults_are_left_out_and_objectives_are_percent(tmp_path: Path) -> None:
    """A minimal config is written as given: no default settings but the Prometheus URL
    its SLOs read, objective 99.9 as 99.9."""
    config = _native("""\
        services:
          - name: api
            slos:
              - name: availability
                objective: 99.9
                window: 30d
                sli:
                  ratio: {bad: 'errors_total', total: requests_total}
        """, tmp_path)
    assert config_data(config) == {
        "prometheus": {"url": "http://127.0.0.1:9090"},
        "services": [{"name": "api", "slos": [{
        "name": "availability", "objective": Decimal("99.9"), "window": "30d",
        "sli": {"ratio": {"bad": "errors_total", "total": "requests_total"}}}]}]}
    assert "objective: 99.9\n" in write(config)


def test_service_labels_stay_on_the_service(tmp_path: Path) -> None:
    """Labels the SLO inherited are written once, on the service; its own (and overrides)
    on the SLO, so the merge reads back the same."""
    config = _native("""\
        services:
          - name: api
            labels: {owner: web, tier: "1"}
            slos:
              - name: a
                objective: 99
                window: 1d
                labels: {tier: "0", component: edge}
                sli: {ratio: {bad: e, total: t}}
        """, tmp_path)
    [service] = config_data(config)["services"]
    assert service["labels"] == {"owner": "web", "tier": "1"}
    assert service["slos"][0]["labels"] == {"component": "edge", "tier": "0"}
    assert_round_trip(config)


def test_each_slo_names_its_file_and_document(tmp_path: Path) -> None:
    """An OpenSLO SLO whose SLI is another document is named by its own document."""
    path = tmp_path / "openslo.yaml"
    path.write_text(textwrap.dedent("""\
        apiVersion: openslo/v1
        kind: SLI
        metadata: {name: shared}
        spec:
          ratioMetric:
            good: {metricSource: {type: Prometheus, spec: {query: ok_total}}}
            total: {metricSource: {type: Prometheus, spec: {query: all_total}}}
        ---
        apiVersion: openslo/v1
        kind: SLO
        metadata: {name: availability}
        spec:
          service: web
          indicatorRef: shared
          timeWindow: [{duration: 28d, isRolling: true}]
          budgetingMethod: Occurrences
          objectives: [{target: 0.995}]
        """))
    text = assert_round_trip(load_config(str(path)))
    assert f"      # from {path} (documents[1])\n      - name: availability\n" in text
    assert "objective: 99.5\n" in text


def test_included_native_file_names_its_document(tmp_path: Path) -> None:
    """SLOs of an included native file name that file and their document in it."""
    (tmp_path / "team.yaml").write_text(textwrap.dedent("""\
        services:
          - name: a
            slos: [{name: x, objective: 99, window: 1d, sli: {ratio: {bad: e, total: t}}}]
        ---
        services:
          - name: b
            slos: [{name: y, objective: 99, window: 1d, sli: {ratio: {bad: e, total: t}}}]
        """))
    config = _native("include: [team.yaml]\n", tmp_path)
    text = assert_round_trip(config)
    assert f"# from {tmp_path / 'team.yaml'} (documents[1])\n      - name: y\n" in text
    assert "\ninclude:" not in text


def test_a_file_name_cannot_break_out_of_its_comment(tmp_path: Path) -> None:
    """A newline in a source file name is escaped: the comment stays one line, the
    text stays the same config."""
    config = _api_a(tmp_path)
    slo = dataclasses.replace(config.slos[0], source_file="x.yaml\nservices: []\n#")
    hostile = _only(config, slo)
    text = write(hostile)
    assert "# from x.yaml\\x0aservices: []\\x0a# (documents[0])\n" in text
    assert parse_config(text, "c.yaml").slos == config.slos


def test_maintenance_start_in_a_repeated_hour_keeps_its_instant(tmp_path: Path) -> None:
    """A start in the second pass of a repeated hour (clocks go back) is written with
    its offset: the wall-clock text alone would mean the first pass, an hour earlier."""
    berlin = ZoneInfo("Europe/Berlin")
    second = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=berlin)
    config = _native("""\
        maintenance:
          - {name: w, start: "2026-10-25T02:30:00+01:00", end: "2026-10-25T05:00:00",
             time_zone: Europe/Berlin}
        services:
          - name: api
            slos: [{name: a, objective: 99, window: 1d, sli: {ratio: {bad: e, total: t}}}]
        """, tmp_path)
    assert config.maintenance[0].start == second
    text = assert_round_trip(config)
    back = parse_config(text, "c.yaml").maintenance[0]
    assert back.start.astimezone(UTC) == second.astimezone(UTC)
    assert "start: '2026-10-25T02:30:00+01:00'" in text
    assert "end: '2026-10-25 05:00:00'" in text


def test_every_probe_and_slm_field_round_trips() -> None:
    """The full and service-level management configs keep every value they set."""
    for name in ("full.yaml", "slm.yaml"):
        text = assert_round_trip(load_config(str(ROOT / "tests" / "configs" / "valid" / name)))
        assert "# from " in text


def test_multi_line_text_is_a_literal_block(tmp_path: Path) -> None:
    """A probe's send text with a newline is written as a literal block."""
    config = _native("""\
        services:
          - name: db
            slos:
              - name: tcp
                objective: 99
                window: 1d
                sli: {probe: {tcp: {address: "db:5432", send: "PING\\nQUIT\\n"}}}
        """, tmp_path)
    text = assert_round_trip(config)
    assert "send: |\n" in text


# ------------------------------------------------------------- what cannot be


def test_window_the_native_format_cannot_hold_names_the_source(tmp_path: Path) -> None:
    """An OpenSLO rolling 30m window loads but has no native form (windows are at least
    1h): the failure names the OpenSLO file, document, SLO and field, not the text."""
    path = tmp_path / "openslo.yaml"
    path.write_text(FAST_30M)
    config = load_config(str(path))
    with pytest.raises(ConfigError) as info:
        write(config)
    [problem] = info.value.problems
    assert (problem.file, problem.path) == (str(path), "documents[0] web/fast.window")
    assert problem.reason.startswith("the native format cannot hold this value: must be at least")
    assert "converted.yaml" not in str(info.value)


def test_one_group_of_a_grouped_slo_is_not_written_as_an_slo(tmp_path: Path) -> None:
    """A group instance (SLO.group set) has no native form: its definition has."""
    config = _api_a(tmp_path)
    grouped = dataclasses.replace(config.slos[0], group=model.frozen_map({"route": "/a"}))
    with pytest.raises(ConfigError) as info:
        config_data(_only(config, grouped))
    [problem] = info.value.problems
    # the group instance's key is the SLO's, with or without its group labels
    assert problem.path.startswith("documents[0] api/a")
    assert problem.path.endswith(".group")
    assert "route='/a'" in problem.reason


# ---------------------------------------------------------------- secrets


def test_secret_files_are_referenced_never_read(tmp_path: Path) -> None:
    """password_file and bearer_token_file are written as (absolute) paths; the secret
    in the file never reaches the output, and no password is put into a URL."""
    (tmp_path / "pw").write_text("s3cret-in-a-file")
    (tmp_path / "token").write_text("t0ken-in-a-file")
    config = _native("""\
        prometheus:
          url: https://prom.example.com/
          basic_auth: {username: slo, password_file: pw}
        services:
          - name: web
            slos:
              - name: home
                objective: 99
                window: 1d
                sli: {probe: {http: {url: "https://example.com/", bearer_token_file: token}}}
        """, tmp_path)
    text = assert_round_trip(config)
    assert "s3cret-in-a-file" not in text
    assert "t0ken-in-a-file" not in text
    assert f"password_file: {tmp_path / 'pw'}\n" in text
    assert f"bearer_token_file: {tmp_path / 'token'}\n" in text
    assert "url: https://prom.example.com/\n" in text


def test_a_password_in_a_url_is_written_only_as_given(tmp_path: Path) -> None:
    """A URL's user info is written exactly as the input spelled it: percent-encoded
    stays encoded (the decoded password is never printed)."""
    config = _native("""\
        prometheus: {url: "https://slo:p%40ss%3Aword@prom.example.com/"}
        services:
          - name: api
            slos: [{name: a, objective: 99, window: 1d, sli: {ratio: {bad: e, total: t}}}]
        """, tmp_path)
    text = assert_round_trip(config)
    assert "url: https://slo:p%40ss%3Aword@prom.example.com/\n" in text
    assert "p@ss:word" not in text


def test_a_failure_never_shows_a_url_password(tmp_path: Path) -> None:
    """A probe URL with user info (a model another dialect could build) cannot be written;
    the failure says why without the password."""
    config = _native("""\
        services:
          - name: web
            slos:
              - name: home
                objective: 99
                window: 1d
                sli: {probe: {http: {url: "https://example.com/"}}}
        """, tmp_path)
    slo = config.slos[0]
    assert isinstance(slo.sli, model.ProbeSLI)
    leaky = dataclasses.replace(slo, sli=dataclasses.replace(
        slo.sli, target=model.HTTPProbe(url="https://admin:hunter22@example.com/")))
    config = _only(config, leaky)
    with pytest.raises(ConfigError) as info:
        write(config)
    assert "hunter22" not in str(info.value)
    assert "sli.probe.http.url" in str(info.value)


# ----------------------------------------------------------- carried origins


def test_origin_comments_are_found_under_their_service_and_slo() -> None:
    """carried_origins reads the comment right above each SLO item, by service/slo."""
    text = textwrap.dedent("""\
        services:
          - name: api
            slos:
              # from sloth.yml (documents[3])
              - name: availability
                objective: 99
              - name: latency
                objective: 99
          - name: 'web'
            slos:
              # from a.yaml
              # from openslo.yaml (documents[0])
              - name: "home"
        """)
    assert carried_origins(text) == {
        model.SLOId("api", "availability"): "sloth.yml (documents[3])",
        model.SLOId("web", "home"): "openslo.yaml (documents[0])",
    }


#: every field of the model the writer writes (by class); a new field fails this
#: test until the writer (and this list) knows it. Read back, a field the writer
#: left out would differ and fail the conversion, never vanish.
WRITTEN = {
    model.Config: {"services", "prometheus", "evaluation_interval", "storage", "source_file",
                   "maintenance", "grafana_url"},
    model.Service: {"name", "slos", "labels", "description", "depends_on"},
    model.SLO: {"service", "name", "objective", "period", "sli", "description", "labels",
                "runbook_url", "budgeting", "sla", "alerting", "group_by", "max_groups",
                "group", "source_file", "source_document"},
    model.PrometheusConfig: {"url", "timeout", "headers", "basic_auth", "bearer_token_file",
                             "tls", "query_delay", "retries", "retry_backoff", "backfill_chunk",
                             "backfill_hourly_after", "max_response_size",
                             "max_counter_increase", "partial_response"},
    model.StorageConfig: {"resolution", "retention_margin"},
    model.Budgeting: {"timeslices", "ratio_timeslices"},
    model.RatioTimeslices: {"slice"},
    model.Timeslices: {"slice", "target", "empty"},
    model.Alerting: {"windows", "page", "ticket"},
    model.AlertWindow: {"severity", "long", "short", "budget_fraction", "factor", "hold"},
    model.AlertSettings: {"name", "labels", "annotations", "disabled"},
    model.RatioSLI: {"total", "good", "bad"},
    model.RawRatioSLI: {"query", "measures"},
    model.BoolGaugeSLI: {"gauge"},
    model.LatencySLI: {"histogram", "threshold", "buckets"},
    model.ProbeSLI: {"target", "interval", "timeout", "latency_threshold"},
    model.CompositeSLI: {"mode", "components"},
    model.MaintenanceWindow: {"name", "start", "time_zone", "end", "duration", "rrule",
                              "services", "slos", "reason"},
}


#: fields no configuration file holds: set at run time, never written or read back
RUN_TIME: dict[type, set[str]] = {
    model.Config: {"followed"},  # another shard's SLOs, from sharding.select
}


@pytest.mark.parametrize("cls", list(WRITTEN), ids=lambda c: c.__name__)
def test_the_writer_knows_every_model_field(cls: type) -> None:
    """Each model class has exactly the fields the writer writes, besides run-time ones."""
    assert {f.name for f in dataclasses.fields(cls)} == WRITTEN[cls] | RUN_TIME.get(cls, set())


# ------------------------------------------------------------- the new keys


def test_own_alerting_is_written_with_the_agreed_keys(tmp_path: Path) -> None:
    """Windows with budget_percent or factor, a single window, for:, and per-severity
    settings are written under the native alerting keys and read back equal."""
    config = _native("""\
        services:
          - name: api
            slos:
              - name: a
                objective: 99.9
                window: 30d
                alerting:
                  windows:
                    - {severity: page, long: 1h, short: 5m, budget_percent: 2, for: 2m}
                    - {severity: ticket, long: 1d, factor: 1.5}
                  page: {name: ApiPage, labels: {team: web}, annotations: {summary: "{{ $value }}"}}
                  ticket: {disabled: true}
                sli: {ratio: {bad: e, total: t}}
        """, tmp_path)
    [service] = config_data(config)["services"]
    assert service["slos"][0]["alerting"] == {
        "windows": [
            {"severity": "page", "long": "1h", "short": "5m", "budget_percent": Decimal(2),
             "for": "2m"},
            {"severity": "ticket", "long": "1d", "factor": Decimal("1.5")},
        ],
        "page": {"name": "ApiPage", "labels": {"team": "web"},
                 "annotations": {"summary": "{{ $value }}"}},
        "ticket": {"disabled": True},
    }
    assert_round_trip(config)


def test_a_budget_fraction_without_short_decimal_reads_back_exactly(tmp_path: Path) -> None:
    """Pyrra's 14x over 1h of 28d is a budget fraction of 1/48: written as
    2.0833333333333332 percent, it reads back as the same float (not 1 ulp off)."""
    config = _api_a(tmp_path, window="28d")
    window = model.AlertWindow("page", 3600.0, 300.0, 14 * 3600.0 / (28 * 86400.0))
    slo = dataclasses.replace(config.slos[0], alerting=model.Alerting(windows=(window,)))
    text = assert_round_trip(_only(config, slo))
    assert "budget_percent: 2.0833333333333332\n" in text


def test_sloth_alert_window_catalog_becomes_the_slos_windows(tmp_path: Path) -> None:
    """A Sloth SLO under an included AlertWindows catalog keeps the catalog's windows."""
    (tmp_path / "windows.yaml").write_text(
        (FIXTURES / "sloth" / "examples" / "windows" / "custom-30d.yaml").read_text())
    (tmp_path / "sloth.yml").write_text(
        (FIXTURES / "sloth" / "examples" / "getting-started.yml").read_text())
    config = _native("include: [windows.yaml, sloth.yml]\n", tmp_path)
    assert config.slos[0].alerting.windows != model.ALERT_WINDOWS
    text = assert_round_trip(config)
    assert "- severity: page\n              long: 30m\n              short: 2m\n" in text


def test_raw_ratio_timeslices_and_year_are_written(tmp_path: Path) -> None:
    """A raw error ratio SLI, ratio timeslice budgeting and a calendar year read back equal."""
    config = _native("""\
        services:
          - name: wifi
            slos:
              - name: satisfaction
                objective: 95
                calendar: {period: year, time_zone: Europe/Madrid}
                budgeting: {ratio_timeslices: {slice: 5m}}
                sli:
                  raw:
                    success_ratio: avg_over_time(wifi_ok[{{.window}}])
        """, tmp_path)
    [service] = config_data(config)["services"]
    assert {k: service["slos"][0][k] for k in ("calendar", "budgeting", "sli")} == {
        "calendar": {"period": "year", "time_zone": "Europe/Madrid"},
        "budgeting": {"ratio_timeslices": {"slice": "5m"}},
        "sli": {"raw": {"success_ratio": "avg_over_time(wifi_ok[{{.window}}])"}},
    }
    assert_round_trip(config)


def test_grouping_keys_are_written(tmp_path: Path) -> None:
    """group_by and a max_groups other than 100 are written under their agreed keys."""
    config = _api_a(tmp_path)
    grouped = dataclasses.replace(config.slos[0], group_by=("route", "method"), max_groups=5)
    [service] = config_data(_only(config, grouped))["services"]
    assert (service["slos"][0]["group_by"], service["slos"][0]["max_groups"]) == (
        ["route", "method"], 5)


def test_a_service_the_reader_refuses_is_named_at_its_first_slo(tmp_path: Path) -> None:
    """A problem of a whole service (a name the native reader refuses) is told at the
    file and document of the service's first SLO, with the service's name."""
    config = _api_a(tmp_path)
    renamed = dataclasses.replace(config.services[0], name="-bad")
    with pytest.raises(ConfigError) as info:
        write(dataclasses.replace(config, services=(renamed,)))
    [problem] = info.value.problems
    assert (problem.file, problem.path) == (
        str(tmp_path / "slo.yaml"), "documents[0] api/a.service -bad.name")
    assert problem.reason.startswith("the native format cannot hold this value: must start")


def test_bool_gauges_and_partial_responses_are_written(tmp_path: Path) -> None:
    """A bool gauge SLI and prometheus.partial_response read back as written."""
    config = _native("""\
        prometheus: {url: "http://thanos:10902", partial_response: true}
        services:
          - name: web
            slos:
              - name: up
                objective: 99
                window: 28d
                sli: {bool_gauge: {metric: 'probe_success{job="web"}'}}
        """, tmp_path)
    data = config_data(config)
    assert data["prometheus"]["partial_response"] is True
    assert data["services"][0]["slos"][0]["sli"] == {
        "bool_gauge": {"metric": 'probe_success{job="web"}'}}
    assert_round_trip(config)
