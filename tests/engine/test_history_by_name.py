"""History belongs to the SLO's name: what does not define the counted events keeps them.

Issue-level contract: changing a probe's interval, timeout or TLS file, or an
SLO's description, labels or objective keeps its events, silently.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.ingest import adopt_definitions
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW

PROBE = "web/probe"
API = "api/availability"


def _adopt(store: EventStore, text: str, where: Path) -> list[str]:
    """Adopt ``text``'s definitions as a start or reload would; the log event names."""
    config = parse_config(text, str(where / "c.yaml"))
    with capture_logs() as logs:
        adopt_definitions(store, config.slos, structlog.get_logger(), at=NOW)
    return [str(e["event"]) for e in logs]


def _with_tls(text: str, ca: str) -> str:
    return text.replace('http: {url: "http://127.0.0.1:1/"}',
                        f'http: {{url: "http://127.0.0.1:1/", tls_config: {{ca_file: {ca}}}}}')


@pytest.mark.parametrize("change", [
    "probe timeout", "probe TLS file", "description", "labels",
])
def test_edits_that_do_not_define_the_events_keep_them_silently(
        store: EventStore, tmp_path: Path, change: str) -> None:
    """Each edit keeps the probe's 2 events and the ratio SLO's 4 events and cursor, with no log."""
    for name in ("ca-old.pem", "ca-new.pem"):
        (tmp_path / name).write_text("not read by the loader\n")
    before = _with_tls(CONFIG, "ca-old.pem")
    edits = {
        "probe timeout": before.replace("timeout: 1s\n", "timeout: 5s\n"),
        "probe TLS file": _with_tls(CONFIG, "ca-new.pem"),
        "description": before.replace(
            "      - name: probe\n",
            "      - name: probe\n        description: the home page answers\n").replace(
            "      - name: availability\n",
            "      - name: availability\n        description: no server errors\n"),
        "labels": before.replace(
            "      - name: probe\n", "      - name: probe\n        labels: {tier: '1'}\n").replace(
            "      - name: availability\n",
            "      - name: availability\n        labels: {tier: '0'}\n"),
    }
    after = edits[change]
    assert after != before, "the edit must change the configuration text"
    assert _adopt(store, before, tmp_path) == []
    store.record(PROBE, NOW - 30, good=True)
    store.record(PROBE, NOW - 20, good=False)
    store.commit(API, {NOW - 100: (3.0, 4.0)}, cursor=NOW - 50)

    assert _adopt(store, after, tmp_path) == []
    assert store.sum(PROBE, 0.0, NOW + 86400).total == 2.0
    assert store.sum(API, 0.0, NOW + 86400).total == 4.0
    assert store.cursor(API) == NOW - 50
