"""Dialects: a document's dialect is recognised, dialect files are checked directly,
and a native config's ``include:`` mixes native and dialect files safely.

Include attacks are shown against the real file system in tmp_path: a glob
matching thousands of files, a symlink to /dev/zero, a huge file, an include
inside an included file.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.config import load_config
from slo_exporter.config.dialects import MAX_INCLUDED_FILES, detect
from slo_exporter.config.nodes import MAX_FILE_BYTES, compose
from slo_exporter.config.problems import Problems
from slo_exporter.errors import ConfigError, ConfigProblem

SLOTH = """\
version: prometheus/v1
service: {service}
slos:
  - name: avail
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{{code="5xx"}}[{{{{.window}}}}]))
        total_query: sum(rate(req_total[{{{{.window}}}}]))
"""

NATIVE_SERVICES = """\
services:
  - name: {service}
    slos:
      - name: avail
        objective: 99
        window: 30d
        sli: {{ratio: {{bad: 'x{{code="5"}}', total: x}}}}
"""


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _main(tmp_path: Path, include: str, services: str = "") -> Path:
    return _write(tmp_path / "config.yml", f"include: {include}\n{services}")


def _problems(path: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    return info.value.problems


def _detect(text: str) -> str | None:
    documents = compose(text, Problems("t.yml"))
    assert documents
    return detect(documents[0])


@pytest.mark.parametrize(
    ("text", "dialect"),
    [
        ("services: []\n", None),
        ("version: prometheus/v1\n", "sloth"),
        ("apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n", "sloth"),
        ("apiVersion: openslo/v1\nkind: SLO\n", "openslo"),
        ("apiVersion: openslo.com/v2alpha\nkind: SLO\n", "openslo"),
        ("apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n", "pyrra"),
        ("apiVersion: openslo/v1alpha\nkind: SLO\n", "unknown"),
        ("kind: Deployment\n", "unknown"),
    ],
)
def test_detect_names_the_dialect(text: str, dialect: str | None) -> None:
    """apiVersion/version/kind name the dialect; a document with none of them is native."""
    assert _detect(text) == dialect


def test_check_reads_a_sloth_file_directly(tmp_path: Path) -> None:
    """A Sloth file given as the config loads by itself, with default settings."""
    path = _write(tmp_path / "sloth.yml", SLOTH.format(service="api"))
    config = load_config(str(path))
    assert [s.name for s in config.services] == ["api"]
    assert config.storage == model.StorageConfig()
    assert config.source_file == str(path)


def test_unsupported_dialect_is_named(tmp_path: Path) -> None:
    """An OpenSLO v1alpha file is rejected naming its apiVersion and the supported dialects."""
    path = _write(tmp_path / "p.yml", "apiVersion: openslo/v1alpha\nkind: X\n")
    (problem,) = _problems(path)
    assert problem.path == "documents[0]"
    assert problem.reason.startswith("apiVersion 'openslo/v1alpha', kind 'X' is not a supported")


def test_include_mixes_native_and_sloth_files(tmp_path: Path) -> None:
    """Native services, a multi-document Sloth file and a native file all load together."""
    _write(
        tmp_path / "slos" / "a.yml", SLOTH.format(service="a") + "---\n" + SLOTH.format(service="b")
    )
    _write(tmp_path / "slos" / "c.yml", NATIVE_SERVICES.format(service="c"))
    main = _main(tmp_path, "[slos/*.yml]", NATIVE_SERVICES.format(service="main"))
    config = load_config(str(main))
    assert [s.name for s in config.services] == ["main", "a", "b", "c"]
    sloth = config.services[1].slos[0]
    assert sloth.sli == model.RatioSLI(
        total=model.Selector("req_total"), bad=model.Selector('req_total{code="5xx"}')
    )


def test_include_alone_is_enough(tmp_path: Path) -> None:
    """A config with only an include (no services of its own) is valid."""
    _write(tmp_path / "slos" / "a.yml", SLOTH.format(service="a"))
    assert [s.name for s in load_config(str(_main(tmp_path, "[slos/a.yml]"))).services] == ["a"]


def test_included_windows_are_judged_by_the_including_storage(tmp_path: Path) -> None:
    """An included native SLO's window must be whole buckets of the main config's resolution."""
    text = NATIVE_SERVICES.format(service="c").replace("window: 30d", "window: 3601s")
    _write(tmp_path / "slos" / "c.yml", text)
    (problem,) = _problems(_main(tmp_path, "[slos/c.yml]", "storage: {resolution: 1m}\n"))
    assert problem.file == str(tmp_path / "slos" / "c.yml")
    assert problem.path == "documents[0].services[0].slos[0].window"
    assert "multiple of storage.resolution (1m)" in problem.reason


def test_duplicate_service_across_files_names_both_places(tmp_path: Path) -> None:
    """The same service in the main config and an included file is an error naming both."""
    _write(tmp_path / "slos" / "a.yml", SLOTH.format(service="main"))
    main = _main(tmp_path, "[slos/a.yml]", NATIVE_SERVICES.format(service="main"))
    (problem,) = _problems(main)
    assert problem.file == str(tmp_path / "slos" / "a.yml")
    assert f"duplicate service name 'main': also defined in {main}" in problem.reason


def test_located_error_in_included_file_names_file_and_document(tmp_path: Path) -> None:
    """A problem in the second document of an included file names that file, line and index."""
    bad = SLOTH.format(service="b").replace("99.9", "100")
    included = _write(tmp_path / "s.yml", SLOTH.format(service="a") + "---\n" + bad)
    (problem,) = _problems(_main(tmp_path, "[s.yml]"))
    assert str(problem) == (
        f"{included}:15: documents[1].slos[0].objective: must be a percentage strictly "
        "between 0 and 100, got 100"
    )


def test_glob_matching_nothing_is_an_error(tmp_path: Path) -> None:
    """A glob that matches no file is a typo until shown otherwise: an error at the glob."""
    (problem,) = _problems(_main(tmp_path, "[slo/*.yml]", NATIVE_SERVICES.format(service="m")))
    assert problem.path == "include[0]"
    assert problem.reason == "'slo/*.yml' matches no file"


def test_glob_matching_too_many_files_is_capped(tmp_path: Path) -> None:
    """A glob over 10,000 files stops at the cap with an error instead of reading them all."""
    many = tmp_path / "many"
    many.mkdir()
    for index in range(10_000):
        (many / f"{index}.yml").touch()
    (problem,) = _problems(_main(tmp_path, "[many/*.yml]"))
    assert problem.path == "include[0]"
    assert f"match more than {MAX_INCLUDED_FILES} files" in problem.reason


def test_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    """An included symlink to /dev/zero is refused as a device, not read forever."""
    (tmp_path / "slos").mkdir()
    os.symlink("/dev/zero", tmp_path / "slos" / "zero.yml")
    (problem,) = _problems(_main(tmp_path, "[slos/*.yml]"))
    assert problem.file == str(tmp_path / "slos" / "zero.yml")
    assert "it is a device, not a regular file" in problem.reason


def test_huge_included_file_is_refused(tmp_path: Path) -> None:
    """An included file above the size limit is refused before it is read."""
    (tmp_path / "slos").mkdir()
    with open(tmp_path / "slos" / "big.yml", "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    (problem,) = _problems(_main(tmp_path, "[slos/*.yml]"))
    assert "the file is larger than 4 MiB" in problem.reason


def test_include_inside_an_included_file_is_an_error(tmp_path: Path) -> None:
    """Includes do not nest: an include in an included file is an error at that key."""
    _write(
        tmp_path / "slos" / "inner.yml",
        "include: [../config.yml]\n" + NATIVE_SERVICES.format(service="x"),
    )
    (problem,) = _problems(_main(tmp_path, "[slos/inner.yml]"))
    assert problem.path == "documents[0].include"
    assert "an included file cannot include other files" in problem.reason


def test_glob_matching_the_config_itself_skips_it(tmp_path: Path) -> None:
    """'*.yml' next to the config does not include the config a second time."""
    _write(tmp_path / "a.yml", SLOTH.format(service="a"))
    config = load_config(str(_main(tmp_path, "['*.yml']")))
    assert [s.name for s in config.services] == ["a"]


def test_native_document_cannot_be_mixed_into_a_dialect_file(tmp_path: Path) -> None:
    """A native document among Sloth documents of a top-level file is an error at its index."""
    text = SLOTH.format(service="a") + "---\n" + NATIVE_SERVICES.format(service="n")
    (problem,) = _problems(_write(tmp_path / "mixed.yml", text))
    assert problem.path == "documents[1]"
    assert "cannot be mixed with other dialects" in problem.reason


def test_reload_rereads_included_files(tmp_path: Path) -> None:
    """Loading again (what SIGHUP does) sees a changed included file."""
    included = _write(tmp_path / "slos" / "a.yml", SLOTH.format(service="a"))
    main = _main(tmp_path, "[slos/a.yml]")
    assert load_config(str(main)).services[0].name == "a"
    _write(included, SLOTH.format(service="renamed"))
    assert load_config(str(main)).services[0].name == "renamed"


def test_directory_stands_for_its_yaml_files(tmp_path: Path) -> None:
    """An included directory loads its *.yaml and *.yml files, not other files or subdirectories."""
    _write(tmp_path / "slos" / "a.yaml", SLOTH.format(service="a"))
    _write(tmp_path / "slos" / "b.yml", SLOTH.format(service="b"))
    _write(tmp_path / "slos" / "notes.txt", "not yaml: [")
    _write(tmp_path / "slos" / "sub" / "c.yml", SLOTH.format(service="c"))
    config = load_config(str(_main(tmp_path, "[slos]")))
    assert [s.name for s in config.services] == ["a", "b"]


def test_problems_are_grouped_by_file(tmp_path: Path) -> None:
    """Problems of the config come first, then each included file's, each in line order."""
    bad = SLOTH.format(service="b").replace("99.9", "100")
    _write(tmp_path / "slos" / "a.yml", bad)
    _write(tmp_path / "slos" / "b.yml", bad.replace("service: b", "service: c"))
    # the config's problem is on line 8, after the included files' ones (line 5)
    padding = "".join(f"x-{n}: {n}\n" for n in range(6))
    main = _main(tmp_path, "[slos/*.yml]", padding + "storage: {resolution: 7s}\n")
    files = [problem.file for problem in _problems(main)]
    assert files == [str(main), str(tmp_path / "slos" / "a.yml"), str(tmp_path / "slos" / "b.yml")]


def test_empty_included_file_is_an_error(tmp_path: Path) -> None:
    """An included file with no document is reported, not silently skipped."""
    _write(tmp_path / "slos" / "empty.yml", "# nothing yet\n")
    (problem,) = _problems(_main(tmp_path, "[slos/*.yml]"))
    assert problem.file == str(tmp_path / "slos" / "empty.yml")
    assert problem.reason == "the file is empty; expected SLO documents"


def test_native_document_cannot_be_mixed_into_an_included_dialect_file(tmp_path: Path) -> None:
    """In an included file too, a native document among Sloth documents is an error."""
    text = SLOTH.format(service="a") + "---\n" + NATIVE_SERVICES.format(service="n")
    _write(tmp_path / "slos" / "mixed.yml", text)
    (problem,) = _problems(_main(tmp_path, "[slos/*.yml]"))
    assert problem.path == "documents[1]"
    assert "cannot be mixed with other dialects" in problem.reason
