"""Implausible counter data reaches the operator: logged, reported with the reason
``implausible``, never stored, and the cursor moves on."""

from __future__ import annotations

import threading

import structlog
from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.ingest import Ingestor, adopt_definitions
from slo_exporter.prometheus import Series
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW, SeriesSource

API = "api/availability"


class GlitchedSource(SeriesSource):
    """Prometheus answering a total counter that goes negative once; bad stays at 0."""

    reason = "selectors are read as raw samples"

    def __init__(self) -> None:
        super().__init__({
            "http_requests_total": [Series({"job": "api"}, (
                (NOW - 300, 10.0), (NOW - 240, -5.0), (NOW - 180, 12.0)))],
            'http_requests_total{code=~"5.."}': [Series({"job": "api"}, (
                (NOW - 300, 0.0), (NOW - 240, 0.0), (NOW - 180, 0.0)))],
        })


def test_a_negative_counter_is_logged_reported_as_implausible_and_never_stored(
        store: EventStore) -> None:
    """-5 between 10 and 12 is rejected: one series_rejected event naming the SLO, one
    error reported as "implausible", nothing negative stored, the cursor at the read's end."""
    config = parse_config(CONFIG, "t.yaml")
    adopt_definitions(store, config.slos, structlog.get_logger(), at=NOW)
    reported: list[str] = []
    ingestor = Ingestor(store, GlitchedSource(), config.prometheus, config.slos,
                        stop=threading.Event(), log=structlog.get_logger(),
                        on_error=reported.append)
    slo = next(s for s in config.slos if s.key == API)
    with capture_logs() as logs:
        assert ingestor.read(slo, NOW)

    rejected = [e for e in logs if e["event"] == "series_rejected"]
    assert [(e["service"], e["slo"], e["reason"]) for e in rejected] == [
        ("api", "availability", "negative counter value -5")]
    assert reported == ["implausible"]
    sums = store.sum(API, 0.0, NOW + 86400)
    assert sums.total >= 0
    assert sums.good >= 0
    assert store.cursor(API) == NOW
