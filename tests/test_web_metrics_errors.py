"""A /metrics render that fails answers 500 and logs render_failed; the server lives on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.registry import Collector
from structlog.testing import capture_logs

from slo_exporter.snapshot import Snapshot
from slo_exporter.web import Limits, WebServer


class ExplodingCollector(Collector):
    """A collector that fails on every scrape after it was registered."""

    def __init__(self) -> None:
        self.armed = False

    def collect(self) -> Iterator[Metric]:
        if self.armed:
            raise RuntimeError("collector exploded")
        return iter(())


@pytest.fixture
def server() -> Iterator[tuple[WebServer, ExplodingCollector]]:
    registry = CollectorRegistry()
    collector = ExplodingCollector()
    registry.register(collector)
    collector.armed = True
    web = WebServer("127.0.0.1:0", registry, Snapshot,
                    limits=Limits(request_timeout=0.5, max_connections=20, workers=2))
    web.start()
    try:
        yield web, collector
    finally:
        web.stop()


def test_a_failing_metrics_render_answers_500_and_logs_it(
        server: tuple[WebServer, ExplodingCollector]) -> None:
    """A collector raising during /metrics gives a 500 and one render_failed event for
    /metrics; the next scrape, once the collector works again, answers 200."""
    web, collector = server
    url = f"http://127.0.0.1:{web.port}"
    with capture_logs() as logs:
        resp = requests.get(f"{url}/metrics", timeout=5)
    assert resp.status_code == 500
    failed = [e for e in logs if e["event"] == "render_failed"]
    assert [(e["path"], "collector exploded" in e["error"]) for e in failed] == [
        ("/metrics", True)]
    collector.armed = False
    assert requests.get(f"{url}/metrics", timeout=5).status_code == 200
