"""Specification of the settings for Thanos, Mimir and Cortex as the source.

The tenant travels in ``prometheus.headers`` (``X-Scope-OrgID``), checked
at load time against what Mimir and Cortex accept; ``prometheus.partial_response``
is a boolean, false by default. The client side (the parameter sent, a
partial answer refused) is in ``test_prometheus.py``; the whole path
through a reverse proxy in ``tests/integration/test_backends_proxy.py``.
"""

from __future__ import annotations

import pytest

from slo_exporter import model
from slo_exporter.config import parse_config
from slo_exporter.errors import ConfigError

SLO = (
    "services:\n"
    "  - name: api\n"
    "    slos:\n"
    "      - name: s\n"
    "        objective: 99\n"
    "        window: 30d\n"
    "        sli: {ratio: {good: a, total: b}}\n"
)


def _prometheus(body: str) -> model.PrometheusConfig:
    return parse_config("prometheus:\n" + body + SLO, "test.yaml").prometheus


def _problems(body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _prometheus(body)
    return [str(p) for p in caught.value.problems]


def test_partial_response_defaults_to_false() -> None:
    """Without the key, partial answers are refused: the safe choice for exact counts."""
    assert _prometheus("  url: http://thanos:10902\n").partial_response is False


def test_partial_response_true_is_read() -> None:
    """partial_response: true is taken as written."""
    assert _prometheus("  partial_response: true\n").partial_response is True


def test_partial_response_must_be_a_boolean_with_its_line() -> None:
    """A non-boolean partial_response is a located error naming the field."""
    assert _problems("  url: http://thanos:10902\n  partial_response: warn\n") == [
        "test.yaml:3: prometheus.partial_response: must be true or false, got 'warn'"
    ]


def test_a_path_prefix_and_tenant_header_are_kept_as_written() -> None:
    """A Mimir URL keeps its /prometheus prefix and the tenant header its value."""
    cfg = _prometheus(
        "  url: http://mimir:8080/prometheus\n"
        "  headers: {X-Scope-OrgID: team-a}\n"
    )
    assert cfg.url == "http://mimir:8080/prometheus"
    assert dict(cfg.headers) == {"X-Scope-OrgID": "team-a"}


@pytest.mark.parametrize(
    "tenant",
    ["team-a", "a|b", "Team_1.prod", "x" * 150, "(ops)!*'"],
)
def test_tenant_ids_mimir_accepts_are_taken(tenant: str) -> None:
    """IDs of 1 to 150 allowed characters, several joined by '|', pass."""
    cfg = _prometheus(f'  headers: {{x-scope-orgid: "{tenant}"}}\n')
    assert dict(cfg.headers) == {"x-scope-orgid": tenant}


@pytest.mark.parametrize(
    ("tenant", "bad"),
    [
        ("team a", "team a"),
        ("a||b", ""),
        ("..", ".."),
        ("x" * 151, "x" * 151),
        ("ok|sl/ash", "sl/ash"),
    ],
)
def test_tenant_ids_mimir_refuses_are_located_errors(tenant: str, bad: str) -> None:
    """A tenant ID Mimir or Cortex would refuse is reported with its line and header path."""
    (problem,) = _problems(f'  url: http://mimir:8080/prometheus\n  headers:\n'
                           f'    X-Scope-OrgID: "{tenant}"\n')
    assert problem.startswith(
        f"test.yaml:4: prometheus.headers.X-Scope-OrgID: tenant ID {bad!r} is not one"
    )


def test_other_headers_are_not_held_to_the_tenant_rules() -> None:
    """Thanos' THANOS-TENANT and any other header keep the generic header rules only."""
    cfg = _prometheus('  headers: {THANOS-TENANT: "team a/b"}\n')
    assert dict(cfg.headers) == {"THANOS-TENANT": "team a/b"}
