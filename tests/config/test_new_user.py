"""Mistakes a new user makes with objectives: said clearly, warned or refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slo_exporter import cli
from slo_exporter.config import ConfigWarning, load_config, parse_config
from slo_exporter.errors import ConfigError


def _config(objective: str) -> str:
    return (
        "services:\n"
        "  - name: api\n"
        "    slos:\n"
        "      - name: s\n"
        f"        objective: {objective}\n"
        "        window: 30d\n"
        "        sli: {ratio: {good: a, total: b}}\n"
    )


@pytest.mark.parametrize(
    ("objective", "meant"), [("0.99", "99"), ("0.999", "99.9"), ("0.5", "50"), ("0.9995", "99.95")]
)
def test_objective_under_one_percent_is_a_warning(objective: str, meant: str) -> None:
    """objective: 0.99 loads (it is valid) but warns that 99 was probably meant."""
    warnings: list[ConfigWarning] = []
    config = parse_config(_config(objective), "test.yaml", warnings)
    assert config.slos[0].objective == pytest.approx(float(objective) / 100)
    assert [str(w) for w in warnings] == [
        f"test.yaml:5: warning: services[0].slos[0].objective: {objective} means {objective} % "
        f"(objectives are percentages); did you mean {meant}?"
    ]


@pytest.mark.parametrize("objective", ["1", "99", "99.9", "1.5"])
def test_objective_of_one_percent_or_more_gives_no_warning(objective: str) -> None:
    """Objectives of 1 % and above are taken as written, without a warning."""
    warnings: list[ConfigWarning] = []
    parse_config(_config(objective), "test.yaml", warnings)
    assert warnings == []


def test_warnings_are_not_returned_for_an_invalid_file() -> None:
    """A file with errors raises; its warnings are not reported on their own."""
    warnings: list[ConfigWarning] = []
    with pytest.raises(ConfigError):
        parse_config(_config("0.99") + "bogus: 1\n", "test.yaml", warnings)
    assert warnings == []


@pytest.mark.parametrize("objective", ['"99"', "'99.9'", '" 99.5 "', "'1e1'"])
def test_quoted_objective_gets_a_hint_about_the_quotes(objective: str) -> None:
    """objective: "99" is refused with a hint to remove the quotes."""
    with pytest.raises(ConfigError) as info:
        parse_config(_config(objective), "test.yaml")
    [problem] = info.value.problems
    assert problem.path == "services[0].slos[0].objective"
    assert problem.reason.startswith("must be a number (a percentage such as 99.9), got '")
    assert problem.reason.endswith(": remove the quotes, a quoted value is text")


def test_check_prints_warnings_to_stderr_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """slo-exporter check prints warnings on stderr, OK on stdout, and exits 0."""
    path = tmp_path / "slos.yaml"
    path.write_text(_config("0.99"), encoding="utf-8")
    assert cli.main(["check", "--config.file", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: OK, 1 service(s), 1 SLO(s)\n"
    assert err == (
        f"{path}:5: warning: services[0].slos[0].objective: 0.99 means 0.99 % "
        "(objectives are percentages); did you mean 99?\n"
    )


def test_load_config_collects_warnings(tmp_path: Path) -> None:
    """load_config passes the warnings of the file to the caller's list."""
    path = tmp_path / "slos.yaml"
    path.write_text(_config("0.5"), encoding="utf-8")
    warnings: list[ConfigWarning] = []
    load_config(str(path), warnings)
    assert [(w.line, w.path) for w in warnings] == [(5, "services[0].slos[0].objective")]


def test_run_logs_each_warning_as_config_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """slo-exporter run logs config_warning for each warning (here before a storage error)."""
    path = tmp_path / "slos.yaml"
    path.write_text(_config("0.99"), encoding="utf-8")
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("", encoding="utf-8")
    argv = [
        "run",
        "--config.file",
        str(path),
        "--storage.path",
        str(blocked),
        "--web.listen-address",
        "127.0.0.1:0",
        "--log.format",
        "json",
    ]
    assert cli.main(argv) == 1
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [warning] = [e for e in events if e["event"] == "config_warning"]
    assert warning["path"] == "services[0].slos[0].objective"
    assert warning["line"] == 5
    assert "did you mean 99?" in warning["reason"]
