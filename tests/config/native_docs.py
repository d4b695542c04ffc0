"""Native config texts shared by the config tests, and the problems a text is refused with.

Each builder writes service ``api`` with its SLOs at fixed lines, so that tests
can assert located messages (``test.yaml:12: services[0].slos[1]...``).
"""

from __future__ import annotations

import textwrap

import pytest

from slo_exporter.config import parse_config
from slo_exporter.errors import ConfigError


def api_slo(body: str, *, period: str = "window: 30d") -> str:
    """Service ``api`` with one SLO, ``s``: objective 99, ``period`` on line 6 and
    ``body`` (the rest of the SLO's keys, dedented) from line 7 on."""
    return (
        "services:\n"
        "  - name: api\n"
        "    slos:\n"
        "      - name: s\n"
        "        objective: 99\n"
        f"        {period}\n"
        + textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 8) + "\n"
    )


def under(key: str, body: str) -> str:
    """``key:`` with ``body`` (dedented) as its block."""
    return f"{key}:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ")


def ratio_and_probe(prometheus: str, probe: str) -> str:
    """``prometheus: {<prometheus>}`` on line 1, then service ``api`` with the ratio SLO
    ``s`` and the probe SLO ``p``, whose ``sli: {probe: {<probe>}}`` is line 12."""
    return (
        f"prometheus: {{{prometheus}}}\n"
        + api_slo("sli: {ratio: {good: a, total: b}}")
        + "      - name: p\n"
        "        objective: 99\n"
        "        window: 30d\n"
        f"        sli: {{probe: {{{probe}}}}}\n"
    )


def messages(text: str) -> list[str]:
    """The problems ``text`` (read as ``test.yaml``) is refused with, as printed."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yaml")
    return [str(p) for p in info.value.problems]
