"""Hostile config input: whatever the bytes, the loader raises nothing but ConfigError.

Each case here crashed, hung or blocked the loader before it was bounded:
deep nesting, huge numbers, bad escapes, alias and merge bombs, FIFOs,
devices, directories, oversized and non-UTF-8 files.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from slo_exporter.config import load_config, parse_config
from slo_exporter.errors import ConfigError, ConfigProblem

_RATIO = "{ratio: {good: a, total: b}}"


def _config(objective: str = "99", window: str = "30d", sli: str = _RATIO, top: str = "") -> str:
    return (
        f"{top}services:\n"
        "  - name: api\n"
        "    slos:\n"
        "      - name: s\n"
        f"        objective: {objective}\n"
        f"        window: {window}\n"
        f"        sli: {sli}\n"
    )


def _problems(text: str) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    assert info.value.problems, "a ConfigError always names at least one problem"
    return info.value.problems


def _messages(text: str) -> list[str]:
    return [str(p) for p in _problems(text)]


# ----------------------------------------------------------------- structure


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1000 + "]" * 1000,
        "{a: " * 1000 + "1" + "}" * 1000,
        "".join(f"{' ' * i}- \n" for i in range(0, 2000, 2)),
        _config(top="x-deep: " + "[" * 1000 + "]" * 1000 + "\n"),
    ],
    ids=["flow-list", "flow-map", "block-list", "ignored-key"],
)
def test_deep_nesting_is_a_config_error(text: str) -> None:
    """1,000 levels of nesting are refused, not a RecursionError."""
    messages = _messages(text)
    assert any("nested deeper than 64 levels" in m for m in messages), messages


def test_alias_chains_count_as_nesting() -> None:
    """Aliases nesting one anchor in the next cannot get past the depth limit."""
    lines = ["x-0: &a0 [1]"] + [f"x-{i}: &a{i} [*a{i - 1}]" for i in range(1, 200)]
    messages = _messages("\n".join(lines) + "\n" + _config())
    assert any("deeper than 64 levels" in m for m in messages), messages


def _merge_bomb() -> str:
    """A small file whose << merges expand to 9**9 keys (it hung the loader)."""
    lines = ["x-0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}"]
    for level in range(1, 10):
        sources = ", ".join([f"*m{level - 1}"] * 9)
        lines.append(f"x-{level}: &m{level} {{<<: [{sources}], k{level}: 1}}")
    return "\n".join(lines) + "\n" + _config(sli="{<<: *m9}")


def test_merge_key_bomb_is_refused_quickly() -> None:
    """A sub-kilobyte << merge bomb is refused within a second, not expanded."""
    text = _merge_bomb()
    assert len(text) < 1200
    started = time.monotonic()
    messages = _messages(text)
    assert time.monotonic() - started < 1.0
    assert any("expands through YAML aliases to more than" in m for m in messages), messages


def test_alias_bomb_of_lists_is_refused() -> None:
    """Billion laughs with plain aliases (no merges) is refused as well."""
    lines = ["x-0: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    lines += [f"x-{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    messages = _messages("\n".join(lines) + "\n" + _config(objective="*l8"))
    assert any("expands through YAML aliases" in m for m in messages), messages


@pytest.mark.parametrize(
    "sli",
    ["&s [*s]", "&s {ratio: *s}", "&s {probe: {http: *s}}", "{ratio: &r {<<: *r, total: b}}"],
)
def test_self_referencing_aliases_are_config_errors(sli: str) -> None:
    """A node that contains an alias to itself gives a problem, never a hang or crash."""
    assert _problems(_config(sli=sli))


# ------------------------------------------------------------------- scalars


@pytest.mark.parametrize(
    "text",
    [
        'services: "\\U0011FFFF"\n',
        'services: "\\UFFFFFFFF"\n',
        'services: "\\x"\n',
        "services: [\x00]\n",
        "services: \ud800\n",
    ],
    ids=["U-out-of-range", "U-overflow", "bad-x", "nul", "surrogate"],
)
def test_bad_escapes_and_characters_are_config_errors(text: str) -> None:
    """Escapes Python cannot represent are a located YAML problem, not ValueError."""
    assert any("invalid YAML" in m for m in _messages(text))


HUGE = "9" * 400


@pytest.mark.parametrize(
    ("field", "config"),
    [
        ("objective", _config(objective=HUGE)),
        ("objective", _config(objective=HUGE + ".5")),
        ("objective", _config(objective="1" * 5000)),
        ("window", _config(window=HUGE + "d")),
        ("evaluation_interval", _config(top=f"evaluation_interval: {HUGE}ms\n")),
        ("retries", _config(top=f"prometheus: {{retries: {HUGE}}}\n")),
        ("retries", _config(top=f"prometheus: {{retries: {'1' * 5000}}}\n")),
        ("threshold", _config(sli=f"{{latency: {{histogram: h, threshold: {HUGE}}}}}")),
        ("buckets", _config(sli=f"{{latency: {{histogram: h, threshold: 1, buckets: [{HUGE}]}}}}")),
        (
            "body_size_limit",
            _config(sli=f"{{probe: {{http: {{url: 'http://a/', body_size_limit: {HUGE}}}}}}}"),
        ),
        (
            "body_size_limit",
            _config(sli=f"{{probe: {{http: {{url: 'http://a/', body_size_limit: '{HUGE}MB'}}}}}}"),
        ),
        (
            "valid_status_codes",
            _config(sli=f"{{probe: {{http: {{url: 'http://a/', valid_status_codes: [{HUGE}]}}}}}}"),
        ),
        ("max_response_size", _config(top=f"prometheus: {{max_response_size: {HUGE}}}\n")),
        ("max_counter_increase", _config(top=f"prometheus: {{max_counter_increase: {HUGE}e9}}\n")),
    ],
)
def test_huge_numbers_are_short_config_errors(field: str, config: str) -> None:
    """400-digit numbers and durations give a short message, never OverflowError."""
    messages = _messages(config)
    assert any(field in m for m in messages), messages
    assert all(len(m) < 400 for m in messages), messages


@pytest.mark.parametrize("pattern", ["(" * 1000 + ")" * 1000, "a{99999999999}", "(?P<a>x)(?P<a>y)"])
def test_hostile_regular_expressions_are_config_errors(pattern: str) -> None:
    """A regexp that crashes or overflows re.compile is a located problem."""
    sli = f"{{probe: {{http: {{url: 'http://a/', fail_if_body_matches_regexp: ['{pattern}']}}}}}}"
    assert any("invalid regular expression" in m for m in _messages(_config(sli=sli)))


# --------------------------------------------------------------------- files


def _load_in_thread(path: str) -> BaseException | None:
    """load_config(path) in a thread; fails the test if it does not return in 5 s."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            load_config(path)
            outcome.append(None)
        except BaseException as exc:  # the test inspects whatever was raised
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    assert outcome, f"load_config({path!r}) blocked"
    return outcome[0]


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """A named pipe is refused at once; opening it must not wait for a writer."""
    fifo = tmp_path / "slos.yaml"
    os.mkfifo(fifo)
    error = _load_in_thread(str(fifo))
    assert isinstance(error, ConfigError)
    assert "a FIFO (named pipe), not a regular file" in str(error)


@pytest.mark.parametrize(("path", "kind"), [("/dev/null", "a device"), ("/", "a directory")])
def test_devices_and_directories_are_refused(path: str, kind: str) -> None:
    """Only regular files are read: /dev/null or a directory is a clear problem."""
    error = _load_in_thread(path)
    assert isinstance(error, ConfigError)
    assert f"it is {kind}, not a regular file" in str(error)


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    """A file over 4 MiB is refused with the limit in the message, before it is parsed."""
    path = tmp_path / "slos.yaml"
    path.write_text(_config() + "#" * (4 << 20), encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        load_config(str(path))


def test_oversized_text_is_refused() -> None:
    """parse_config refuses text over the same limit."""
    with pytest.raises(ConfigError, match="longer than 4 MiB"):
        parse_config(_config() + "#" * (4 << 20), "big.yaml")


@pytest.mark.parametrize("data", [b"\xff\xfe", b"services: \xc3\x28\n", b"\x80" * 10])
def test_non_utf8_bytes_are_one_problem(tmp_path: Path, data: bytes) -> None:
    """Bytes that are not UTF-8 give one unlocated problem naming the byte."""
    path = tmp_path / "slos.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(str(path))


def test_nul_byte_in_the_path_is_a_config_error() -> None:
    """A path with a NUL byte is a problem, not the ValueError os.open raises."""
    with pytest.raises(ConfigError, match="the path holds a NUL byte"):
        load_config("slos\0.yaml")
