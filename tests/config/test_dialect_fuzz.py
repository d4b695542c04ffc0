"""Fuzzing the Sloth and OpenSLO loaders from their conformance examples.

Each example is changed at one place (a value replaced by anything, a key
removed, an unknown key added) and loaded as a file of its own: the result
is a config or ``ConfigError`` problems located in that file (a line inside
it, a ``documents[N]`` path), never another exception. Pyrra's loader has
its own fuzz in ``test_pyrra``, the native one in ``test_fuzz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_exporter.config import nodes, parse_config
from slo_exporter.config.dialects import detect
from slo_exporter.config.problems import Problems
from slo_exporter.errors import ConfigError

CONFORMANCE = Path(__file__).parent.parent / "fixtures" / "conformance"

#: examples that load as they are, or whose first problem is deep inside (so a
#: change anywhere is read past the header)
EXAMPLES = [
    "sloth/examples/getting-started.yml",
    "sloth/examples/k8s-home-wifi.yml",
    "sloth/examples/raw-home-wifi.yml",
    "sloth/examples/multifile.yml",
    "sloth/examples/no-alerts.yml",
    "openslo/go-sdk-v1/slos.yaml",
    "openslo/go-sdk-v1/alert_policies.yaml",
    "openslo/go-sdk-v1/slis.yaml",
    "openslo/go-sdk-v2alpha/slos.yaml",
    "openslo/spec-examples/budgeting-method__ratio-timeslices.yaml",
]
DOCUMENTS = {name: [d for d in yaml.safe_load_all((CONFORMANCE / name).read_text())
                    if d is not None] for name in EXAMPLES}

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "30d", "1M", "99.9", "{{.window}}", "sum(rate(x[{{.window}}]))",
                     "openslo/v1", "SLO", "Prometheus", "prometheus/v1", "{{.foo}}", "0"]),
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


def _mutated(name: str, choice: int, mutation: str, value: Any) -> str:
    """The example ``name`` changed at its ``choice``-th path (modulo their number)."""
    documents = yaml.safe_load(yaml.safe_dump(DOCUMENTS[name]))
    paths = _paths(documents)
    path = paths[choice % len(paths)]
    target = documents
    for key in path[:-1]:
        target = target[key]
    last = path[-1]
    if mutation == "replace":
        target[last] = value
    elif mutation == "remove":
        del target[last]
    elif isinstance(target[last], dict):  # add an unknown key beside the others
        target[last]["zzUnknown"] = value
    else:
        target[last] = value
    return yaml.safe_dump_all(documents, sort_keys=False)


def _check(text: str) -> None:
    lines = text.count("\n") + 1
    documents = nodes.compose(text, Problems("slo.yaml")) or []
    # a change to apiVersion/version/kind may leave a native-looking file, read as native
    dialect = any(detect(document) is not None for document in documents)
    try:
        parse_config(text, "slo.yaml")
    except ConfigError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    for problem in problems:
        assert problem.file == "slo.yaml", problem
        assert problem.line is None or 1 <= problem.line <= lines, problem
        assert not dialect or problem.path == "" or problem.path.startswith(
            "documents["), problem


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(EXAMPLES), st.integers(min_value=0, max_value=10_000),
       st.sampled_from(["replace", "remove", "add"]), _VALUES)
def test_a_changed_example_loads_or_gives_located_problems(
        name: str, choice: int, mutation: str, value: Any) -> None:
    """Any one change to a Sloth or OpenSLO example gives a config or problems in that file."""
    _check(_mutated(name, choice, mutation, value))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(EXAMPLES), min_size=2, max_size=4))
def test_examples_mixed_in_one_file_load_or_give_located_problems(names: list[str]) -> None:
    """Examples of different dialects in one multi-document file are each loaded by
    their own dialect; whatever the mix, the problems stay in that file."""
    documents = [document for name in names for document in DOCUMENTS[name]]
    _check(yaml.safe_dump_all(documents, sort_keys=False))
