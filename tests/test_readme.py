"""The configuration examples in README.md are valid configs."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from slo_exporter.config import parse_config

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
SLI_SNIPPETS = [
    part for block in BLOCKS if block.startswith("sli:") for part in block.split("\n# or\n")
]


def test_readme_has_sli_examples() -> None:
    """Every SLI kind has an example in the README."""
    kinds = {re.search(r"^  (\w+):", s, flags=re.M).group(1) for s in SLI_SNIPPETS}  # type: ignore[union-attr]
    assert kinds == {"ratio", "latency", "probe", "raw", "bool_gauge"}


@pytest.mark.parametrize("snippet", SLI_SNIPPETS)
def test_sli_example_parses(snippet: str) -> None:
    """Each SLI example, placed in an SLO, passes validation."""
    text = "services:\n  - name: checkout\n    slos:\n      - name: example\n" \
        "        objective: 99.9\n        window: 30d\n" + textwrap.indent(snippet, " " * 8)
    config = parse_config(text, "README.md")
    assert len(config.slos) == 1


def test_reference_example_parses_once_completed() -> None:
    """The full reference example is valid once its SLI placeholder is filled in."""
    reference = next(b for b in BLOCKS if b.startswith("prometheus:"))
    ratio = next(s for s in SLI_SNIPPETS if "ratio:" in s)
    filled = reference.replace(
        "sli: {ratio: ...}", "sli:\n" + textwrap.indent(ratio.split("\n", 1)[1], " " * 10))
    config = parse_config(filled, "README.md")
    assert config.prometheus.headers["X-Scope-OrgID"] == "team-a"
