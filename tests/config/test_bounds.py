"""Every duration, count and size has sane bounds: check accepts nothing run cannot run."""

from __future__ import annotations

import pytest

from slo_exporter import model
from slo_exporter.config import parse_config
from slo_exporter.errors import ConfigError
from slo_exporter.prometheus import PrometheusClient

_RATIO = "{ratio: {good: a, total: b}}"


def _config(*, top: str = "", window: str = "30d", sli: str = _RATIO) -> str:
    return (
        f"{top}services:\n"
        "  - name: api\n"
        "    slos:\n"
        "      - name: s\n"
        "        objective: 99\n"
        f"        window: {window}\n"
        f"        sli: {sli}\n"
    )


def _probe(options: str, http: str = "url: 'http://a/'") -> str:
    return _config(sli=f"{{probe: {{{options}http: {{{http}}}}}}}")


def _messages(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_config(top="evaluation_interval: 1ms\n"), "evaluation_interval: must be at least 1s"),
        (_config(top="evaluation_interval: 2h\n"), "evaluation_interval: must be at most 1h"),
        (_config(window="100000000y"), "window: must be at most 365d, got '100000000y'"),
        (_config(window="2y"), "window: must be at most 365d, got '2y'"),
        (_config(top="prometheus: {timeout: 1ms}\n"), "prometheus.timeout: must be at least 10ms"),
        (_config(top="prometheus: {timeout: 10m}\n"), "prometheus.timeout: must be at most 5m"),
        (_config(top="prometheus: {retries: 11}\n"), "prometheus.retries: must be at most 10"),
        (_config(top="prometheus: {retries: 0}\n"), "prometheus.retries: must be at least 1"),
        (_config(top="prometheus: {retry_backoff: 2m}\n"), "retry_backoff: must be at most 1m"),
        (_config(top="prometheus: {query_delay: 2h}\n"), "query_delay: must be at most 1h"),
        (_config(top="prometheus: {backfill_chunk: 60d}\n"), "backfill_chunk: must be at most 30d"),
        (_config(top="storage: {retention_margin: 2y}\n"), "retention_margin: must be at most"),
        (
            _config(top="prometheus: {max_response_size: 512KiB}\n"),
            "max_response_size: must be from 1MiB to 4GiB, got '512KiB'",
        ),
        (
            _config(top="prometheus: {max_response_size: 8GiB}\n"),
            "max_response_size: must be from 1MiB to 4GiB, got '8GiB'",
        ),
        (
            _config(top="prometheus: {max_counter_increase: 0}\n"),
            "max_counter_increase: must be a number above 0, such as 1e12, got 0",
        ),
        (_config(top="prometheus: {max_counter_increase: -1.5}\n"), "must be a number above 0"),
        (_config(top="prometheus: {max_counter_increase: .inf}\n"), "must be a number above 0"),
        (_config(top="prometheus: {max_counter_increase: 'lots'}\n"), "must be a number above 0"),
        (_probe("interval: 100ms, "), "probe.interval: must be at least 1s"),
        (_probe("interval: 2h, "), "probe.interval: must be at most 1h"),
        (_probe("timeout: 1ms, "), "probe.timeout: must be at least 10ms"),
        (_probe("", "url: 'http://a/', max_redirects: 1000"), "max_redirects: must be at most 100"),
        (
            _probe("", "url: 'http://a/', body_size_limit: 2GB"),
            "body_size_limit: must be from 1B to 1GiB, got '2GB'",
        ),
    ],
)
def test_values_out_of_bounds_are_refused(text: str, message: str) -> None:
    """A value outside its bounds is refused with the bound in the message."""
    messages = _messages(text)
    assert any(message in m for m in messages), messages


def test_prometheus_timeout_must_fit_in_the_evaluation_interval() -> None:
    """As Prometheus refuses scrape_timeout > scrape_interval, a query timeout must
    not be longer than evaluation_interval."""
    text = _config(top="prometheus: {timeout: 20s}\nevaluation_interval: 15s\n")
    assert _messages(text) == [
        "test.yaml:1: prometheus.timeout: must not be longer than evaluation_interval (15s), "
        "got 20s"
    ]


def test_default_prometheus_timeout_is_named_as_the_default() -> None:
    """A short evaluation_interval against the default 10s timeout says it is the default."""
    assert _messages(_config(top="evaluation_interval: 5s\n")) == [
        "test.yaml:1: prometheus.timeout: must not be longer than evaluation_interval (5s), "
        "got 10s (the default)"
    ]


def test_probe_only_configs_do_not_judge_the_prometheus_timeout() -> None:
    """Without ratio or latency SLOs, Prometheus is not queried: its timeout does not matter."""
    config = parse_config(
        _probe("").replace("services:", "evaluation_interval: 5s\nservices:"), "t"
    )
    assert config.evaluation_interval == 5.0


def test_prometheus_timeout_is_judged_against_the_default_interval() -> None:
    """Without evaluation_interval, the timeout is held against its default of 30s."""
    assert _messages(_config(top="prometheus: {timeout: 1m}\n")) == [
        "test.yaml:1: prometheus.timeout: must not be longer than evaluation_interval (30s), got 1m"
    ]


@pytest.mark.parametrize(
    "top",
    [
        "evaluation_interval: 1s\nprometheus: {timeout: 1s, retries: 1}\n",
        "evaluation_interval: 1h\nprometheus: {timeout: 5m, retries: 10, retry_backoff: 1m}\n",
        "prometheus: {timeout: 10ms, query_delay: 0s, retry_backoff: 0s, backfill_chunk: 30d}\n",
        "prometheus: {max_response_size: 1MiB, max_counter_increase: 1e12}\n",
        "prometheus: {max_response_size: 4GiB, max_counter_increase: 1.0e+300}\n",
        "prometheus: {max_response_size: 67108864, max_counter_increase: 5}\n",
        "storage: {retention_margin: 365d}\n",
    ],
)
def test_values_at_the_bounds_are_accepted_and_run(top: str) -> None:
    """Values at the bounds pass check, and the Prometheus client accepts them."""
    config = parse_config(_config(top=top), "test.yaml")
    PrometheusClient(config.prometheus).close()


def test_new_prometheus_keys_reach_the_model() -> None:
    """max_response_size takes a byte size, max_counter_increase a number (1e12 too)."""
    config = parse_config(
        _config(top="prometheus: {max_response_size: 64MiB, max_counter_increase: 1e9}\n"),
        "test.yaml",
    )
    assert config.prometheus.max_response_size == 64 << 20
    assert config.prometheus.max_counter_increase == 1e9
    defaults = parse_config(_config(), "test.yaml").prometheus
    assert defaults.max_response_size == model.PrometheusConfig().max_response_size
    assert defaults.max_counter_increase == model.PrometheusConfig().max_counter_increase


def test_window_bounds_are_inclusive() -> None:
    """1h and 365d windows are accepted."""
    assert parse_config(_config(window="1h"), "t.yaml").slos[0].period.longest == 3600.0
    assert parse_config(_config(window="365d"), "t.yaml").slos[0].period.longest == 365 * 86400.0


def test_probe_bounds_are_inclusive() -> None:
    """A probe every 1s with a 10ms timeout, and one every hour, are accepted."""
    fast = parse_config(_probe("interval: 1s, timeout: 10ms, "), "t.yaml").slos[0].sli
    slow = parse_config(_probe("interval: 1h, timeout: 59m, "), "t.yaml").slos[0].sli
    assert isinstance(fast, model.ProbeSLI)
    assert (fast.interval, fast.timeout) == (1.0, 0.01)
    assert isinstance(slow, model.ProbeSLI)
    assert slow.interval == 3600.0


@pytest.mark.parametrize(
    "block",
    [
        'tls: {ca_file: "ca\\0.pem"}',
        'bearer_token_file: "tok\\nen"',
        'basic_auth: {username: u, password_file: "p\\x07w"}',
    ],
)
def test_file_paths_with_control_characters_are_refused(block: str) -> None:
    """A NUL or other control character in a file path is refused by check, not by open()."""
    messages = _messages(_config(top=f"prometheus: {{{block}}}\n"))
    assert any("must be a file path without control characters" in m for m in messages)
