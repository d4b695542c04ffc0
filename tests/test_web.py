"""The HTTP endpoints serve the current snapshot without ever blocking on a source."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry

from slo_exporter.exposition import SnapshotCollector
from slo_exporter.snapshot import Snapshot
from slo_exporter.web import WebServer, json_page, parse_listen_address
from tests.support.helpers import ratio_slo, status


class Holder:
    """A swappable snapshot reference, as the engine keeps one."""

    def __init__(self) -> None:
        self.current = Snapshot()

    def __call__(self) -> Snapshot:
        return self.current


@pytest.fixture
def served() -> Iterator[tuple[str, Holder]]:
    holder = Holder()
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(holder))
    server = WebServer("127.0.0.1:0", reg, holder,
                       pages={"/api/v1/slos": json_page(lambda: {"n": len(holder().slos)})})
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", holder
    finally:
        server.stop()


def test_ready_only_after_first_evaluation(served: tuple[str, Holder]) -> None:
    """/-/ready is 503 until a complete snapshot is swapped in, /-/healthy is always 200."""
    base, holder = served
    assert requests.get(f"{base}/-/healthy", timeout=5).status_code == 200
    assert requests.get(f"{base}/-/ready", timeout=5).status_code == 503
    holder.current = Snapshot(complete=True)
    assert requests.get(f"{base}/-/ready", timeout=5).status_code == 200


def test_metrics_reflect_the_swapped_snapshot(served: tuple[str, Holder]) -> None:
    """/metrics renders whatever snapshot is current at scrape time."""
    base, holder = served
    holder.current = Snapshot(slos=(status(ratio_slo(), {3600.0: (3.0, 4.0)}),), complete=True)
    body = requests.get(f"{base}/metrics", timeout=5).text
    assert 'slo_sli_ratio{service="checkout",slo="availability",window="1h"} 0.75' in body


def test_metrics_are_gzipped_when_asked(served: tuple[str, Holder]) -> None:
    """Scrapers that accept gzip get a compressed body."""
    base, _ = served
    resp = requests.get(f"{base}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "slo_" in resp.text or resp.text == ""


def test_extra_pages_and_404(served: tuple[str, Holder]) -> None:
    """Registered pages are served as JSON; unknown paths are 404."""
    base, _ = served
    assert requests.get(f"{base}/api/v1/slos", timeout=5).json() == {"n": 0}
    assert requests.get(f"{base}/nope", timeout=5).status_code == 404


@pytest.mark.parametrize(("text", "expected"), [
    (":10950", ("0.0.0.0", 10950)),
    ("127.0.0.1:80", ("127.0.0.1", 80)),
    ("[::1]:9", ("::1", 9)),
])
def test_listen_address_parsing(text: str, expected: tuple[str, int]) -> None:
    """Listen addresses follow Prometheus's host:port convention."""
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text", ["10950", "host:", "host:99999", "host:http"])
def test_bad_listen_address_is_rejected(text: str) -> None:
    """A malformed listen address fails with a message naming the expected form."""
    with pytest.raises(ValueError, match="host:port"):
        parse_listen_address(text)
