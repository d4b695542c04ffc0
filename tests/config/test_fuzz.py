"""Fuzzing the loader: random YAML, random bytes and mutated valid configs.

Whatever the input, ``parse_config`` and ``load_config`` return a config or
raise ``ConfigError`` with located, bounded messages, and a config they
return is one the Prometheus client accepts. Example counts are bounded so
the whole file runs in well under 20 seconds.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_exporter import model
from slo_exporter.config import load_config, parse_config
from slo_exporter.errors import ConfigError
from slo_exporter.prometheus import PrometheusClient

ROOT = Path(__file__).parent.parent.parent
VALID = sorted((ROOT / "tests" / "configs" / "valid").glob("*.yaml")) + sorted(
    (ROOT / "config").glob("*.yaml")
)
VALID_TEXTS = [path.read_text(encoding="utf-8") for path in VALID]

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: pieces of YAML and of our schema that random text is made of
TOKENS = [
    "\n", "  ", "- ", ": ", "{", "}", "[", "]", ",", "&a ", "*a", "<<: ", "!!str ", "!x ",
    "---\n", "...\n", "'", '"', "\\U0011FFFF", "\\x", "#", "|\n", ">\n", "? ", "%YAML 1.1\n",
    "services", "slos", "name", "objective", "window", "sli", "ratio", "good", "total",
    "latency", "histogram", "threshold", "buckets", "probe", "http", "url", "tcp", "dns",
    "address", "prometheus", "timeout", "retries", "storage", "resolution", "headers",
    "basic_auth", "evaluation_interval", "99.9", "0.99", "30d", "1ms", "9" * 400,
    "100000000y", "http://u:p@h/", ".inf", ".nan", "~", "null", "true", "0x1F", "1e400",
    '"\\U0011FFFF"', '"\\UFFFFFFFF"', "[" * 300, "{a: " * 300, "9" * 400 + "s",
    "(" * 500, "a{99999999999}",
]


def _check(text: str) -> None:
    """parse_config(text) gives a runnable config or a ConfigError, nothing else."""
    try:
        config = parse_config(text, "fuzz.yaml")
    except ConfigError as exc:
        _bounded(exc)
        return
    _runnable(config)


def _bounded(error: ConfigError) -> None:
    """A ConfigError names at least one problem, each in a bounded message."""
    assert error.problems
    assert all(len(str(problem)) < 1000 for problem in error.problems)


def _runnable(config: model.Config) -> None:
    """What check accepted, the Prometheus client accepts too (tls.server_name included)."""
    assert config.slos
    PrometheusClient(config.prometheus).close()


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=8), max_size=60))
def test_random_yaml_text_gives_only_config_errors(parts: list[str]) -> None:
    """Random text made of YAML syntax and our key names never raises anything else."""
    _check("".join(parts))


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(TOKENS)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(TOKENS) | st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@FUZZ
@given(_VALUES)
def test_random_yaml_documents_give_only_config_errors(value: Any) -> None:
    """Any well-formed YAML document is either a config or a ConfigError."""
    _check(yaml.safe_dump(value, allow_unicode=True))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_in_a_file_give_only_config_errors(data: bytes) -> None:
    """load_config on a file of random bytes never raises anything but ConfigError."""
    handle, name = tempfile.mkstemp(suffix=".yaml")
    try:
        os.write(handle, data)
        os.close(handle)
        try:
            _runnable(load_config(name))
        except ConfigError as exc:
            _bounded(exc)
    finally:
        os.unlink(name)


@st.composite
def _text_mutation(draw: st.DrawFn) -> str:
    """A valid config with a few characters, lines or tokens changed."""
    text = draw(st.sampled_from(VALID_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "line"]))
        at = draw(st.integers(0, len(text)))
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS) | st.text(max_size=4)) + text[at:]
        elif kind == "replace":
            text = text[:at] + draw(st.characters()) + text[at + 1 :]
        else:
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[index])
            text = "".join(lines)
    return text


@FUZZ
@given(_text_mutation())
def test_mutated_valid_configs_give_only_config_errors(text: str) -> None:
    """Valid configs with characters, tokens or lines changed never raise anything else."""
    _check(text)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def _tree_mutation(draw: st.DrawFn) -> str:
    """A valid config with one value somewhere replaced by a random one."""
    tree = yaml.safe_load(draw(st.sampled_from(VALID_TEXTS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(tree)[1:]))
        parent = tree
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = draw(_VALUES)
    return yaml.safe_dump(tree, allow_unicode=True)


@settings(FUZZ, max_examples=80)  # each example parses a whole valid config
@given(_tree_mutation())
def test_valid_configs_with_a_random_value_give_only_config_errors(text: str) -> None:
    """Replacing any value of a valid config by a random one never raises anything else."""
    _check(text)


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_configs_are_runnable(path: Path) -> None:
    """The seeds of the fuzzing are valid, runnable configs."""
    _runnable(load_config(str(path)))
