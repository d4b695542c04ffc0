"""Every query error reason the code raises or reports is exported under its own label."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from slo_exporter import errors
from slo_exporter.exposition import SelfMetrics


def _reasons() -> list[str]:
    """The reason of every SourceError class, and the implausible-data reason of ingest."""
    found, todo = set(), [errors.SourceError]
    while todo:
        cls = todo.pop()
        found.add(cls.reason)
        todo += cls.__subclasses__()
    return sorted(found | {"implausible"})


@pytest.mark.parametrize("reason", _reasons())
def test_each_reason_is_counted_under_its_own_label(reason: str) -> None:
    """too_large, cancelled and implausible (README's self-metric table) are not 'internal'."""
    registry = CollectorRegistry()
    SelfMetrics(registry).query_error(reason)
    assert registry.get_sample_value("slo_exporter_query_errors_total", {"reason": reason}) == 1
