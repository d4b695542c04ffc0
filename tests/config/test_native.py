"""The native YAML config: valid files become frozen model objects, invalid ones
are rejected with every problem located by file, line and field path.

The corpus under tests/configs/invalid/ pairs each NAME.yaml with NAME.expected,
the exact text ``format_problems`` must give for it.
"""

from __future__ import annotations

import dataclasses
import os
import textwrap
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.config import format_problems, load_config, parse_config
from slo_exporter.errors import ConfigError, ConfigProblem
from tests.config.native_docs import api_slo, under

CONFIGS = Path(__file__).parent.parent / "configs"
INVALID = sorted((CONFIGS / "invalid").glob("*.yaml"))
VALID = sorted((CONFIGS / "valid").glob("*.yaml"))


def _problems(text: str) -> list[ConfigProblem]:
    """Parse ``text`` that must be invalid; return its problems."""
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "test.yaml")
    return info.value.problems


def _messages(text: str) -> list[str]:
    return [str(p) for p in _problems(text)]


def _one_slo(sli: str, *, window: str = "30d") -> str:
    """A config with one SLO whose ``sli:`` body is ``sli`` (indented 4 spaces)."""
    return api_slo(under("sli", sli), period=f"window: {window}")


def _sli(sli: str, *, window: str = "30d") -> model.SLI:
    return parse_config(_one_slo(sli, window=window), "test.yaml").slos[0].sli


# ------------------------------------------------------------ invalid corpus


def test_invalid_corpus_is_large_enough() -> None:
    """The corpus holds at least 25 invalid configs, each with its expected text."""
    assert len(INVALID) >= 25
    missing = [p.name for p in INVALID if not p.with_suffix(".expected").exists()]
    assert missing == []


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_config_gives_exact_messages(path: Path) -> None:
    """Each invalid config is rejected with exactly the expected located messages."""
    expected = path.with_suffix(".expected").read_text(encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        parse_config(path.read_text(encoding="utf-8"), path.name)
    assert format_problems(info.value) + "\n" == expected


def test_all_problems_of_a_file_are_reported_together() -> None:
    """One run reports every problem of a multi-error file, each at its own line."""
    path = CONFIGS / "invalid" / "multiple_problems.yaml"
    with pytest.raises(ConfigError) as info:
        parse_config(path.read_text(encoding="utf-8"), path.name)
    located = [(p.line, p.path) for p in info.value.problems]
    assert located == [
        (3, "prometheus.url"),
        (4, "prometheus.timeout"),
        (8, "services[0].labels.le"),
        (11, "services[0].slos[0].objective"),
        (15, "services[0].slos[0].sli.ratio.good"),
        (17, "services[0].slos[1].name"),
        (19, "services[0].slos[1].window"),
        (23, "services[0].slos[1].sli.latency.threshold"),
        (32, "services[1].slos[0].sli.probe.http.valid_status_codes[0]"),
        (34, "services[1].slos[0].sli.probe.timeout"),
    ]


def test_error_text_is_the_formatted_problems() -> None:
    """str(ConfigError), which the CLI prints, equals format_problems."""
    path = CONFIGS / "invalid" / "multiple_problems.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert str(info.value) == format_problems(info.value)
    assert str(info.value).startswith(f"{path}:3: prometheus.url: ")


# ------------------------------------------------------------- valid configs


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_valid_configs_load(path: Path) -> None:
    """Every config under tests/configs/valid loads and names its source file."""
    config = load_config(str(path))
    assert config.source_file == str(path)
    assert config.slos


def test_product_sketch_becomes_model_objects() -> None:
    """The PRODUCT.md sketch maps onto the frozen model as documented."""
    config = load_config(str(CONFIGS / "valid" / "product_sketch.yaml"))
    assert config.prometheus.url == "http://127.0.0.1:9090"
    assert config.prometheus.timeout == 10.0
    assert dict(config.prometheus.headers) == {"X-Scope-OrgID": "team-a"}
    assert config.evaluation_interval == 30.0
    (service,) = config.services
    assert service.name == "checkout"
    assert dict(service.labels) == {"owner": "payments", "tier": "critical"}
    availability, latency, homepage = service.slos
    assert availability == model.SLO(
        service="checkout",
        name="availability",
        objective=0.999,
        period=model.RollingPeriod(30 * 86400.0),
        sli=model.RatioSLI(
            good=model.Selector('http_requests_total{job="checkout",code!~"5.."}'),
            total=model.Selector('http_requests_total{job="checkout"}'),
        ),
        labels=model.frozen_map({"owner": "payments", "tier": "critical"}),
    )
    assert latency.period == model.RollingPeriod(28 * 86400.0)
    assert latency.sli == model.LatencySLI(
        histogram=model.Selector('http_request_duration_seconds{job="checkout"}'), threshold=0.3
    )
    assert homepage.sli == model.ProbeSLI(
        target=model.HTTPProbe(url="https://shop.example.com/healthz", valid_status_codes=(200,)),
        interval=15.0,
        timeout=5.0,
        latency_threshold=0.5,
    )


def test_minimal_config_takes_model_defaults() -> None:
    """Sections left out take the defaults declared in the model."""
    config = load_config(str(CONFIGS / "valid" / "minimal.yaml"))
    assert config.prometheus == model.PrometheusConfig()
    assert config.storage == model.StorageConfig()
    assert config.evaluation_interval == model.Config(services=()).evaluation_interval
    assert config.slos[0].sli == model.RatioSLI(
        bad=model.Selector('http_requests_total{code=~"5.."}'),
        total=model.Selector("http_requests_total"),
    )


def test_full_config_sets_every_option() -> None:
    """Every documented option reaches its model field; relative paths follow the file."""
    path = CONFIGS / "valid" / "full.yaml"
    config = load_config(str(path))
    here = str(path.parent)
    prometheus = config.prometheus
    assert prometheus == model.PrometheusConfig(
        url="https://mimir.example.com/prometheus",
        timeout=20.0,
        headers=model.frozen_map({"X-Scope-OrgID": "team-a"}),
        basic_auth=model.BasicAuth(
            username="slo", password_file=os.path.join(here, "secrets/prometheus-password")
        ),
        tls=model.TLSConfig(
            ca_file="/etc/ssl/ca.pem",
            cert_file=os.path.join(here, "certs/client.crt"),
            key_file=os.path.join(here, "certs/client.key"),
            insecure_skip_verify=True,
            server_name="mimir.internal",
        ),
        query_delay=60.0,
        retries=5,
        retry_backoff=0.25,
        backfill_chunk=43200.0,
    )
    assert config.evaluation_interval == 60.0
    assert config.storage == model.StorageConfig(resolution=300.0, retention_margin=172800.0)

    errors, latency, homepage, database, certificate, dns = config.slos
    assert errors.objective == 0.9995
    assert errors.period == model.RollingPeriod(28 * 86400.0)
    assert errors.description.startswith("Share of checkout requests")
    assert errors.runbook_url == "https://runbooks.example.com/checkout/errors"
    assert dict(errors.labels) == {"owner": "payments", "tier": "0", "component": "api"}
    assert errors.sli == model.RatioSLI(
        bad=model.Template(
            'sum(increase(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))'
        ),
        total=model.Template('sum(increase(http_requests_total{job="checkout"}[{{.window}}]))'),
    )
    assert latency.sli == model.LatencySLI(
        histogram=model.Selector("rpc_duration_seconds{service='checkout',method=~`Get.*`}"),
        threshold=0.25,
        buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    )
    assert dict(latency.labels) == {"owner": "payments", "tier": "1"}
    assert homepage.sli == model.ProbeSLI(
        target=model.HTTPProbe(
            url="https://shop.example.com/",
            method="POST",
            headers=model.frozen_map({"Accept": "text/html"}),
            body='{"ping": true}',
            valid_status_codes=(200, 301),
            fail_if_body_matches_regexp=("(?i)maintenance",),
            fail_if_body_not_matches_regexp=("<title>Shop</title>",),
            follow_redirects=False,
            max_redirects=3,
            bearer_token_file="/run/secrets/token",
            tls=model.TLSConfig(ca_file=os.path.join(here, "ca.pem"), server_name="shop.internal"),
            fail_if_not_ssl=True,
            body_size_limit=64 * 1024,
        ),
        interval=30.0,
        timeout=10.0,
        latency_threshold=0.75,
    )
    assert database.sli == model.ProbeSLI(
        target=model.TCPProbe(
            address="db.example.com:5432",
            send="PING\n",
            expect="^PONG",
            tls=True,
            tls_config=model.TLSConfig(insecure_skip_verify=True),
        )
    )
    assert certificate.sli == model.ProbeSLI(
        target=model.TLSProbe(
            address="[2001:db8::1]:443",
            tls_config=model.TLSConfig(server_name="shop.example.com"),
        ),
        interval=60.0,
    )
    assert dns.sli == model.ProbeSLI(
        target=model.DNSProbe(
            query_name="shop.example.com",
            server="192.0.2.53:5353",
            query_type="AAAA",
            transport="tcp",
            valid_rcodes=("NOERROR", "NXDOMAIN"),
            expect=(r"IN\s+AAAA\s+2001:db8::",),
        ),
        timeout=2.0,
    )


def test_config_objects_are_frozen() -> None:
    """The loaded config cannot be changed after loading."""
    config = load_config(str(CONFIGS / "valid" / "minimal.yaml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.slos[0].objective = 0.5  # type: ignore[misc]


# ------------------------------------------------------------------ details


@pytest.mark.parametrize(
    ("percent", "ratio"),
    [("99.9", 0.999), ("99.95", 0.9995), ("99", 0.99), ("0.1", 0.001), ("99.999", 0.99999)],
)
def test_objective_percent_becomes_exact_ratio(percent: str, ratio: float) -> None:
    """Objectives in percent become the ratio a user would write, without float noise."""
    text = _one_slo("ratio: {good: a, total: b}").replace("objective: 99", f"objective: {percent}")
    assert parse_config(text, "test.yaml").slos[0].objective == ratio


@pytest.mark.parametrize(
    "selector",
    [
        "http_requests_total",
        'http_requests_total{job="api"}',
        "http_requests_total{job='api', code!~\"5..\",}",
        "http_requests_total{ job = `api` }",
        '{__name__="http_requests_total",job="api"}',
        "namespace:requests:rate5m{}",
        r'http_requests_total{path=~"/api/\"v1\".*"}',
    ],
)
def test_plain_selectors_are_accepted(selector: str) -> None:
    """Metric names with any quoting style of matchers are plain selectors."""
    quoted = "'" + selector.replace("'", "''") + "'"
    sli = _sli("ratio: {good: PLACEHOLDER, total: x}".replace("PLACEHOLDER", quoted))
    assert isinstance(sli, model.RatioSLI)
    assert isinstance(sli.good, model.Selector)


def test_selector_text_is_canonical() -> None:
    """Selectors are stored without spaces or trailing commas, keeping their quotes."""
    sli = _sli("""
        ratio:
          good: "http_requests_total{ job = 'api' , code!~`5..`, }"
          total: "http_requests_total{}"
    """)
    assert sli == model.RatioSLI(
        good=model.Selector("http_requests_total{job='api',code!~`5..`}"),
        total=model.Selector("http_requests_total"),
    )


@pytest.mark.parametrize(
    ("selector", "why"),
    [
        ("rate(x[5m])", "unexpected '(' at position 5"),
        ("x[5m]", "unexpected '[' at position 2"),
        ("x offset 5m", "unexpected 'o' at position 3"),
        ('{job="api"}', "a selector needs a metric name or a __name__ matcher"),
        ('x{job="api"', "unexpected end of text, expected ',' or '}'"),
        ('x{job="api}', "unterminated string starting at position 7"),
        ('x{1job="api"}', "unexpected '1' at position 3, expected a label name"),
        ('x{job=="api"}', "unexpected '=' at position 7, expected a quoted value"),
    ],
)
def test_non_selectors_are_rejected_with_the_position(selector: str, why: str) -> None:
    """A query that is not a plain selector says where it stops being one."""
    text = _one_slo("ratio: {good: PLACEHOLDER, total: x}").replace(
        "PLACEHOLDER", "'" + selector.replace("'", "''") + "'"
    )
    (problem,) = _problems(text)
    assert problem.path == "services[0].slos[0].sli.ratio.good"
    assert problem.reason.startswith(f"{selector!r} is not a plain series selector ({why}); ")


def test_template_spacing_is_normalized() -> None:
    """``{{ .window }}`` is stored as ``{{.window}}`` so Template.render substitutes it."""
    sli = _sli("""
        ratio:
          good: sum(increase(ok_total[{{ .window }}]))
          total: sum(increase(all_total[{{.window}}]))
    """)
    assert isinstance(sli, model.RatioSLI)
    assert isinstance(sli.good, model.Template)
    assert sli.good.render("1m") == "sum(increase(ok_total[1m]))"


def test_unbalanced_template_is_rejected() -> None:
    """A template with an unclosed bracket is reported before it reaches Prometheus."""
    assert _messages(
        _one_slo("""
            ratio:
              good: sum(increase(ok_total[{{.window}}])
              total: sum(increase(all_total[{{.window}}]))
        """)
    ) == [
        "test.yaml:9: services[0].slos[0].sli.ratio.good: invalid PromQL template "
        "'sum(increase(ok_total[{{.window}}])': unclosed '('"
    ]


def test_latency_threshold_may_be_a_number_in_histogram_units() -> None:
    """A numeric threshold is taken as is, for histograms not measured in seconds."""
    sli = _sli("latency: {histogram: response_size_bytes, threshold: 1024, buckets: [512, 1024]}")
    assert sli == model.LatencySLI(
        histogram=model.Selector("response_size_bytes"), threshold=1024.0, buckets=(512.0, 1024.0)
    )


def test_latency_selector_must_not_match_le() -> None:
    """The histogram selector leaves the le label to the exporter."""
    assert _messages(_one_slo('latency: {histogram: "x{le=\\"0.5\\"}", threshold: 1s}')) == [
        "test.yaml:8: services[0].slos[0].sli.latency.histogram: "
        "the selector must not match on 'le'; the exporter sets it"
    ]


def test_slo_labels_override_service_labels() -> None:
    """SLO labels are the service's labels merged with the SLO's own, the SLO winning."""
    config = parse_config(
        textwrap.dedent("""
            services:
              - name: api
                labels: {owner: web, tier: "2"}
                slos:
                  - name: s
                    objective: 99
                    window: 30d
                    labels: {tier: "1", component: edge}
                    sli: {ratio: {good: a, total: b}}
        """),
        "test.yaml",
    )
    assert dict(config.slos[0].labels) == {"owner": "web", "tier": "1", "component": "edge"}
    assert dict(config.services[0].labels) == {"owner": "web", "tier": "2"}


def test_merge_keys_do_not_count_as_duplicates() -> None:
    """Keys merged with ``<<`` can be overridden without a duplicate-key error."""
    config = parse_config(
        textwrap.dedent("""
            x-defaults: &defaults {objective: 99, window: 30d}
            services:
              - name: api
                slos:
                  - <<: *defaults
                    name: s
                    window: 7d
                    sli: {ratio: {good: a, total: b}}
        """),
        "test.yaml",
    )
    assert config.slos[0].objective == 0.99
    assert config.slos[0].period == model.RollingPeriod(7 * 86400.0)


def test_probe_defaults() -> None:
    """A probe without interval and timeout probes every 15s with a 5s timeout."""
    sli = _sli("probe: {tcp: {address: 'localhost:22'}}")
    assert sli == model.ProbeSLI(target=model.TCPProbe(address="localhost:22"))
    assert (sli.interval, sli.timeout, sli.latency_threshold) == (15.0, 5.0, None)


def test_probe_timeout_must_be_below_the_default_interval() -> None:
    """A timeout over the default interval is caught even when the interval is not given."""
    assert _messages(_one_slo("probe: {tcp: {address: 'localhost:22'}, timeout: 20s}")) == [
        "test.yaml:8: services[0].slos[0].sli.probe.timeout: "
        "must be shorter than the interval (15s), got 20s"
    ]


def test_invalid_storage_resolution_does_not_cascade() -> None:
    """A bad storage.resolution is reported once, not again for every window."""
    text = "storage: {resolution: 1.5m}\n" + _one_slo("ratio: {good: a, total: b}")
    assert _messages(text) == [
        "test.yaml:1: storage.resolution: invalid duration '1.5m': fractions are not allowed; "
        "combine whole units instead, such as '1h30m'"
    ]


@pytest.mark.parametrize(
    ("server", "ok"),
    [
        ("192.0.2.53", True),
        ("192.0.2.53:53", True),
        ("ns1.example.com", True),
        ("[2001:db8::53]:53", True),
        ("2001:db8::53", True),
        ("ns1.example.com:0", False),
        ("[2001:db8::53", False),
    ],
)
def test_dns_server_is_host_with_optional_port(server: str, ok: bool) -> None:
    """DNS servers are a host or host:port, IPv6 in brackets when a port is given."""
    text = _one_slo(f"probe: {{dns: {{query_name: example.com, server: '{server}'}}}}")
    if ok:
        sli = parse_config(text, "test.yaml").slos[0].sli
        assert isinstance(sli, model.ProbeSLI)
        assert isinstance(sli.target, model.DNSProbe)
        assert sli.target.server == server
    else:
        (problem,) = _problems(text)
        assert problem.path == "services[0].slos[0].sli.probe.dns.server"


def test_null_optional_values_take_defaults() -> None:
    """An optional key left empty (null) takes its default, as in Prometheus configs."""
    config = parse_config(
        "prometheus:\n  timeout:\n  headers:\n" + _one_slo("ratio: {good: a, total: b}"),
        "test.yaml",
    )
    assert config.prometheus == model.PrometheusConfig()


def test_scalar_label_values_keep_their_spelling() -> None:
    """Label values written as numbers or booleans keep the text the user typed."""
    config = parse_config(
        _one_slo("ratio: {good: a, total: b}").replace(
            "    slos:\n", "    labels: {tier: 01, paging: yes}\n    slos:\n"
        ),
        "test.yaml",
    )
    assert dict(config.slos[0].labels) == {"tier": "01", "paging": "yes"}


# ---------------------------------------------------------- reading the file


def test_missing_file_is_one_unlocated_problem(tmp_path: Path) -> None:
    """A file that cannot be read gives a single problem naming the file."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert format_problems(info.value) == f"{path}: cannot read the file: No such file or directory"


def test_non_utf8_file_is_one_problem(tmp_path: Path) -> None:
    """A file that is not UTF-8 text is reported, not raised as a decode error."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"services: []\n# caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert format_problems(info.value) == f"{path}: the file is not UTF-8 text (byte 18)"


def test_load_config_reads_the_file(tmp_path: Path) -> None:
    """load_config parses the file at the path and records it as the source."""
    path = tmp_path / "slos.yaml"
    path.write_text(_one_slo("ratio: {good: a, total: b}"), encoding="utf-8")
    config = load_config(str(path))
    assert config.source_file == str(path)
    assert [slo.key for slo in config.slos] == ["api/s"]


def test_multiple_documents_are_rejected() -> None:
    """A file with two YAML documents is a syntax problem, located at the second."""
    assert _messages("services: []\n---\nservices: []\n") == [
        "test.yaml:2: invalid YAML: expected a single document in the stream on line 1, "
        "but found another document"
    ]


def test_unknown_yaml_tags_are_rejected() -> None:
    """Values with application tags are not silently taken as strings."""
    assert _messages(_one_slo("ratio: {good: !env GOOD, total: b}")) == [
        "test.yaml:8: services[0].slos[0].sli.ratio.good: must be a string, got a value tagged !env"
    ]


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:9090",
        "ftp://prometheus:9090",
        "http://",
        "http://prometheus:99999",
        "http://[::1",
    ],
)
def test_prometheus_url_must_be_http_with_a_host(url: str) -> None:
    """The Prometheus URL is an http(s) URL with a host and a valid port."""
    text = f"prometheus: {{url: '{url}'}}\n" + _one_slo("ratio: {good: a, total: b}")
    assert _messages(text) == [
        f"test.yaml:1: prometheus.url: must be an http:// or https:// URL with a host, got {url!r}"
    ]


def test_latency_threshold_takes_the_declared_bucket_value() -> None:
    """A threshold given as a duration is stored as the matching declared boundary."""
    sli = _sli("latency: {histogram: h, threshold: 100ms, buckets: [0.05, 0.1, 0.2]}")
    assert isinstance(sli, model.LatencySLI)
    assert sli.threshold == 0.1
    assert sli.buckets == (0.05, 0.1, 0.2)


_R = "ratio: {good: a, total: b}"

#: name -> (config text, exact messages): small mistakes not worth a fixture file each
_SNIPPETS: dict[str, tuple[str, list[str]]] = {
    "prometheus_not_mapping": (
        "prometheus: http://localhost:9090\n" + _one_slo(_R),
        [
            (
                "test.yaml:1: prometheus: must be a mapping with keys "
                "backfill_chunk, backfill_hourly_after, basic_auth, bearer_token_file, headers, "
                "max_counter_increase, max_response_size, partial_response, "
                "query_delay, retries, retry_backoff, timeout, tls, url, got "
                "'http://localhost:9090'"
            ),
        ],
    ),
    "retries_zero": (
        "prometheus: {retries: 0}\n" + _one_slo(_R),
        [
            ("test.yaml:1: prometheus.retries: must be at least 1, got 0"),
        ],
    ),
    "retries_float": (
        "prometheus: {retries: 2.5}\n" + _one_slo(_R),
        [
            ("test.yaml:1: prometheus.retries: must be a whole number, got 2.5"),
        ],
    ),
    "insecure_not_bool": (
        "prometheus: {tls: {insecure_skip_verify: 'yes please'}}\n" + _one_slo(_R),
        [
            (
                "test.yaml:1: prometheus.tls.insecure_skip_verify: must be true or "
                "false, got 'yes please'"
            ),
        ],
    ),
    "header_bad_name": (
        "prometheus: {headers: {'X Org': a}}\n" + _one_slo(_R),
        [
            ("test.yaml:1: prometheus.headers.X Org: invalid HTTP header name 'X Org'"),
        ],
    ),
    "header_multiline": (
        'prometheus: {headers: {X-Org: "a\\nb"}}\n' + _one_slo(_R),
        [
            ("test.yaml:1: prometheus.headers.X-Org: header values must be a single line"),
        ],
    ),
    "headers_list": (
        "prometheus: {headers: [a]}\n" + _one_slo(_R),
        [
            (
                "test.yaml:1: prometheus.headers: must be a mapping of header names "
                "to values, got a list"
            ),
        ],
    ),
    "backfill_uneven": (
        "prometheus: {backfill_chunk: 90s}\n" + _one_slo(_R),
        [
            (
                "test.yaml:1: prometheus.backfill_chunk: must be a multiple of "
                "storage.resolution (1m), got '90s'"
            ),
        ],
    ),
    "hourly_after_uneven": (
        "prometheus: {backfill_hourly_after: 90m}\n" + _one_slo(_R),
        ["test.yaml:1: prometheus.backfill_hourly_after: must be whole hours, got '90m'"],
    ),
    "hourly_after_short": (
        "prometheus: {backfill_hourly_after: 30m}\n" + _one_slo(_R),
        ["test.yaml:1: prometheus.backfill_hourly_after: must be at least 1h, got '30m'"],
    ),
    "basic_auth_no_user": (
        "prometheus: {basic_auth: {password: x}}\n" + _one_slo(_R),
        [
            ("test.yaml:1: prometheus.basic_auth: missing required key 'username'"),
        ],
    ),
    "resolution_sub_second": (
        "storage: {resolution: 500ms}\n" + _one_slo(_R),
        [
            (
                "test.yaml:1: storage.resolution: must be a whole number of seconds "
                "that divides 5m (the shortest alert window), such as 15s, 30s or "
                "1m, got '500ms'"
            ),
        ],
    ),
    "label_empty": (
        _one_slo(_R).replace("    slos:\n", "    labels: {team: ''}\n    slos:\n"),
        [
            ("test.yaml:3: services[0].labels.team: label values must not be empty"),
        ],
    ),
    "label_list": (
        _one_slo(_R).replace("    slos:\n", "    labels: {team: [a]}\n    slos:\n"),
        [
            ("test.yaml:3: services[0].labels.team: must be a string, got a list"),
        ],
    ),
    "label_dunder": (
        _one_slo(_R).replace("    slos:\n", "    labels: {__meta: a}\n    slos:\n"),
        [
            (
                "test.yaml:3: services[0].labels.__meta: label name '__meta' is "
                "reserved: the exporter sets alerting, le, result, service, severity, slo and "
                "window itself, and names starting with __ belong to Prometheus"
            ),
        ],
    ),
    "key_not_scalar": (
        _one_slo(_R).replace("    slos:\n", "    ? [a]\n    : b\n    slos:\n"),
        [
            ("test.yaml:3: services[0]: keys must be names, got a list"),
        ],
    ),
    "merge_list": (
        "services:\n  - <<: [a]\n    name: api\n    slos: []\n",
        [
            ("test.yaml:2: services[0]: '<<' can only merge mappings"),
            ("test.yaml:4: services[0].slos: must list at least one SLO"),
        ],
    ),
    "slos_empty": (
        "services:\n  - name: api\n    slos: []\n",
        [
            ("test.yaml:3: services[0].slos: must list at least one SLO"),
        ],
    ),
    "services_mapping": (
        "services: {api: {}}\n",
        [
            ("test.yaml:1: services: must be a list of services, got a mapping"),
        ],
    ),
    "slo_name_null": (
        _one_slo(_R).replace("name: s", "name:"),
        [
            ("test.yaml:4: services[0].slos[0].name: must be a string, got nothing (null)"),
        ],
    ),
    "description_list": (
        _one_slo(_R).replace("objective: 99", "objective: 99\n        description: [a]"),
        [
            ("test.yaml:6: services[0].slos[0].description: must be a string, got a list"),
        ],
    ),
    "runbook_not_url": (
        _one_slo(_R).replace("objective: 99", "objective: 99\n        runbook_url: wiki/runbook"),
        [
            (
                "test.yaml:6: services[0].slos[0].runbook_url: must be an http:// or "
                "https:// URL with a host, got 'wiki/runbook'"
            ),
        ],
    ),
    "window_number": (
        _one_slo(_R, window="30"),
        [
            (
                "test.yaml:6: services[0].slos[0].window: must be a duration such as "
                "'30s', '5m' or '1h30m', got 30 (add a unit)"
            ),
        ],
    ),
    "window_null": (
        _one_slo(_R, window=""),
        [
            (
                "test.yaml:6: services[0].slos[0].window: must be a duration such as "
                "'30s', '5m' or '1h30m', got nothing (null)"
            ),
        ],
    ),
    "sli_string": (
        _one_slo("ratio"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli: must be a mapping with one "
                "SLI kind (bool_gauge, composite, latency, probe, ratio, raw), got 'ratio'"
            ),
        ],
    ),
    "ratio_list": (
        _one_slo("ratio: [a, b]"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.ratio: must be a mapping with "
                "keys bad, good, total, got a list"
            ),
        ],
    ),
    "query_empty": (
        _one_slo("ratio: {good: '', total: b}"),
        [
            ("test.yaml:8: services[0].slos[0].sli.ratio.good: must not be empty"),
        ],
    ),
    "query_null_total": (
        _one_slo("ratio: {good: a, total: }"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.ratio.total: must be a string, "
                "got nothing (null)"
            ),
        ],
    ),
    "histogram_no_name": (
        _one_slo("latency: {histogram: '{__name__=\"h\"}', threshold: 1s}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.latency.histogram: "
                "'{__name__=\"h\"}' needs a metric name, such as "
                "http_request_duration_seconds"
            ),
        ],
    ),
    "histogram_count": (
        _one_slo("latency: {histogram: h_count, threshold: 1s}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.latency.histogram: give the "
                "histogram's base name 'h', without _count"
            ),
        ],
    ),
    "histogram_promql": (
        _one_slo("latency: {histogram: 'histogram_quantile(0.9, h)', threshold: 1s}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.latency.histogram: "
                "'histogram_quantile(0.9, h)' is not a histogram selector "
                "(unexpected '(' at position 19); give the histogram's base name "
                "with optional matchers, such as "
                'http_request_duration_seconds{job="api"}'
            ),
        ],
    ),
    "threshold_zero": (
        _one_slo("latency: {histogram: h, threshold: 0s}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.latency.threshold: must be "
                "greater than 0, got '0s'"
            ),
        ],
    ),
    "threshold_list": (
        _one_slo("latency: {histogram: h, threshold: [1]}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.latency.threshold: must be a "
                "duration such as '30s', '5m' or '1h30m', got a list"
            ),
        ],
    ),
    "buckets_empty": (
        _one_slo("latency: {histogram: h, threshold: 1s, buckets: []}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.latency.buckets: must list at "
                "least one bucket boundary"
            ),
        ],
    ),
    "buckets_string": (
        _one_slo("latency: {histogram: h, threshold: 1s, buckets: [0.5, fast]}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.latency.buckets[1]: must be a "
                "number, got 'fast'"
            ),
        ],
    ),
    "buckets_inf": (
        _one_slo("latency: {histogram: h, threshold: 1s, buckets: [1, .inf]}"),
        [
            ("test.yaml:8: services[0].slos[0].sli.latency.buckets[1]: must be a number, got .inf"),
        ],
    ),
    "probe_module_null": (
        _one_slo("probe: {http: }"),
        [
            ("test.yaml:8: services[0].slos[0].sli.probe.http: must not be empty"),
        ],
    ),
    "probe_interval_zero": (
        _one_slo("probe: {tcp: {address: 'a:1'}, interval: 0s}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.interval: must be longer "
                "than 0, got '0s'"
            ),
        ],
    ),
    "probe_not_mapping": (
        _one_slo("probe: http://example.com"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe: must be a mapping with "
                "keys dns, http, interval, latency_threshold, tcp, timeout, tls, got "
                "'http://example.com'"
            ),
        ],
    ),
    "http_method_bad": (
        _one_slo("probe: {http: {url: 'http://a', method: 'GET /'}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.http.method: must be an "
                "HTTP method such as GET or POST, got 'GET /'"
            ),
        ],
    ),
    "http_codes_not_list": (
        _one_slo("probe: {http: {url: 'http://a', valid_status_codes: 200}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.http.valid_status_codes: "
                "must be a list of HTTP status codes, got 200"
            ),
        ],
    ),
    "http_size_zero": (
        _one_slo("probe: {http: {url: 'http://a', body_size_limit: 0}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.http.body_size_limit: "
                "must be greater than 0, got 0"
            ),
        ],
    ),
    "http_size_bool": (
        _one_slo("probe: {http: {url: 'http://a', body_size_limit: true}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.http.body_size_limit: "
                "must be a size in bytes, such as 1048576 or '10MB' (KB = 1024 "
                "bytes), got true"
            ),
        ],
    ),
    "http_missing_url": (
        _one_slo("probe: {http: {method: GET}}"),
        [
            ("test.yaml:8: services[0].slos[0].sli.probe.http: missing required key 'url'"),
        ],
    ),
    "http_redirects_negative": (
        _one_slo("probe: {http: {url: 'http://a', max_redirects: -1}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.http.max_redirects: must "
                "be at least 0, got -1"
            ),
        ],
    ),
    "http_auth_conflict": (
        _one_slo(
            "probe: {http: {url: 'http://a', basic_auth: {username: u}, bearer_token_file: t}}"
        ),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.http: basic_auth and "
                "bearer_token_file are mutually exclusive; give one of them"
            ),
        ],
    ),
    "tcp_expect_bad": (
        _one_slo("probe: {tcp: {address: 'a:1', expect: '['}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.tcp.expect: invalid "
                "regular expression '[': unterminated character set at position 0"
            ),
        ],
    ),
    "tcp_ipv6_unbracketed": (
        _one_slo("probe: {tcp: {address: '::1:22'}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.tcp.address: must be "
                "host:port, got '::1:22' (IPv6 addresses must be written in "
                "brackets, such as [::1]:53)"
            ),
        ],
    ),
    "tcp_bad_host": (
        _one_slo("probe: {tcp: {address: 'a b:22'}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.tcp.address: must be "
                "host:port, got 'a b:22' ('a b' is not a host name or IP address)"
            ),
        ],
    ),
    "tcp_no_host": (
        _one_slo("probe: {tcp: {address: ':22'}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.tcp.address: must be "
                "host:port, got ':22' (the host is missing)"
            ),
        ],
    ),
    "tls_v6_no_port": (
        _one_slo("probe: {tls: {address: '[::1]'}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.tls.address: must be "
                "host:port, got '[::1]' (the port is missing)"
            ),
        ],
    ),
    "tls_not_v6": (
        _one_slo("probe: {tls: {address: '[example.com]:443'}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.tls.address: must be "
                "host:port, got '[example.com]:443' ('example.com' is not an IPv6 "
                "address)"
            ),
        ],
    ),
    "dns_rcode_bad": (
        _one_slo("probe: {dns: {query_name: a, valid_rcodes: [NOERROR, OK]}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.dns.valid_rcodes[1]: "
                "must be a DNS response code, one of NOERROR, FORMERR, SERVFAIL, "
                "NXDOMAIN, NOTIMP, REFUSED, YXDOMAIN, YXRRSET, NXRRSET, NOTAUTH, "
                "NOTZONE, got 'OK'"
            ),
        ],
    ),
    "dns_rcodes_empty": (
        _one_slo("probe: {dns: {query_name: a, valid_rcodes: []}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.dns.valid_rcodes: must "
                "list at least one response code"
            ),
        ],
    ),
    "dns_empty_name": (
        _one_slo("probe: {dns: {query_name: ' '}}"),
        [
            ("test.yaml:8: services[0].slos[0].sli.probe.dns.query_name: must not be empty"),
        ],
    ),
    "dns_server_bad": (
        _one_slo("probe: {dns: {query_name: a, server: 'ns1:dns'}}"),
        [
            (
                "test.yaml:8: services[0].slos[0].sli.probe.dns.server: must be host "
                "or host:port, got 'ns1:dns' (the port must be a number from 1 to "
                "65535)"
            ),
        ],
    ),
    "tab_indent": (
        "services:\n\t- name: api\n",
        [
            (
                "test.yaml:2: invalid YAML: while scanning for the next token, found "
                "character '\\t' that cannot start any token (indent with spaces; "
                "YAML does not allow tabs there)"
            ),
        ],
    ),
}


@pytest.mark.parametrize("name", list(_SNIPPETS))
def test_small_mistakes_give_exact_messages(name: str) -> None:
    """Each small mistake is reported with exactly the expected located message."""
    text, expected = _SNIPPETS[name]
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    assert [str(p) for p in info.value.problems] == expected
