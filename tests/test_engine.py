"""One evaluation cycle: failure isolation, probe freshness, store-backed history."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.store import EventStore, SQLiteStore

NOW = 1_800_000_000.0

CONFIG = """
prometheus: {url: "http://127.0.0.1:1", timeout: 1s, retries: 1}
evaluation_interval: 10s
services:
  - name: api
    slos:
      - name: availability
        objective: 99
        window: 1d
        sli:
          ratio:
            bad: http_requests_total{code=~"5.."}
            total: http_requests_total
  - name: web
    slos:
      - name: probe
        objective: 90
        window: 1d
        sli:
          probe:
            http: {url: "http://127.0.0.1:1/"}
            interval: 10s
            timeout: 1s
"""


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    s = SQLiteStore(tmp_path, 60.0)
    yield s  # type: ignore[misc]
    s.close()


def _engine(store: EventStore, seen: dict[str, float], errors: list[str],
            text: str = CONFIG) -> Engine:
    config = parse_config(text, "t.yaml")
    return Engine(config, store, PrometheusClient(config.prometheus, sleep=lambda s: None),
                  clock=lambda: NOW, on_error=errors.append, probe_last_seen=seen.get)


def test_unreachable_source_marks_only_its_slo_down(store: EventStore) -> None:
    """A refused connection is counted and makes that SLO down; the probe SLO stays up."""
    errors: list[str] = []
    store.record("web/probe", NOW - 30, good=True)
    store.record("web/probe", NOW - 20, good=False)
    snap = _engine(store, {"web/probe": NOW - 5}, errors).evaluate()
    by_key = {s.slo.key: s for s in snap.slos}
    assert snap.complete
    assert errors == ["connection"]
    assert not by_key["api/availability"].up
    assert "127.0.0.1:1" in (by_key["api/availability"].error or "")
    probe = by_key["web/probe"]
    assert probe.up
    w5m = probe.window(300.0)
    assert w5m is not None
    assert (w5m.good, w5m.total, w5m.sli) == (1.0, 2.0, 0.5)


def test_late_probes_mark_the_probe_slo_down(store: EventStore) -> None:
    """Without a probe result in two intervals plus the timeout, a probe SLO is down."""
    snap = _engine(store, {"web/probe": NOW - 25}, []).evaluate()
    probe = next(s for s in snap.slos if s.slo.key == "web/probe")
    assert not probe.up
    assert probe.error == "probes are late"


def test_budget_history_spans_stored_data(store: EventStore) -> None:
    """The budget history starts at the oldest stored bucket and follows the events."""
    for i in range(120):  # two hours of one probe a minute; the last hour all bad
        store.record("web/probe", NOW - 7200 + 60 * i, good=i < 60)
    engine = _engine(store, {"web/probe": NOW}, [])
    engine.evaluate()
    slo = next(s for s in parse_config(CONFIG, "t.yaml").slos if s.key == "web/probe")
    history = engine.budget_history(slo, points=10)
    assert len(history) >= 8
    assert history[0][1] == pytest.approx(1.0)  # before the bad hour: nothing spent
    assert history[-1][1] == pytest.approx(1 - 0.5 / 0.1)  # half bad on a 10% budget
    assert [t for t, _ in history] == sorted(t for t, _ in history)


def test_changed_definition_resets_stored_events(store: EventStore) -> None:
    """Changing an SLI's definition drops the events stored under the old one."""
    _engine(store, {}, [])
    store.record("web/probe", NOW - 30, good=True)
    changed = CONFIG.replace('url: "http://127.0.0.1:1/"', 'url: "http://127.0.0.1:2/"')
    snap = _engine(store, {"web/probe": NOW}, [], changed).evaluate()
    probe = next(s for s in snap.slos if s.slo.key == "web/probe")
    w = probe.window(86400.0)
    assert w is not None
    assert w.total == 0.0
    assert w.sli is None


def test_probe_refresh_updates_only_probe_slos(store: EventStore) -> None:
    """A probe refresh swaps in new probe values and keeps the last full-cycle statuses."""
    clock = [NOW]
    config = parse_config(CONFIG, "t.yaml")
    errors: list[str] = []
    engine = Engine(config, store, PrometheusClient(config.prometheus, sleep=lambda s: None),
                    clock=lambda: clock[0], on_error=errors.append,
                    probe_last_seen=lambda key: clock[0])
    assert not engine.refresh_probes().complete  # nothing to merge into before the first cycle
    first = engine.evaluate()
    store.record("web/probe", NOW + 1, good=False)
    clock[0] = NOW + 2
    refreshed = engine.refresh_probes()
    by_key = {s.slo.key: s for s in refreshed.slos}
    assert by_key["web/probe"].evaluated_at == NOW + 2
    w5m = by_key["web/probe"].window(300.0)
    assert w5m is not None
    assert w5m.total == 1.0
    kept = next(s for s in first.slos if s.slo.key == "api/availability")
    assert by_key["api/availability"] is kept
    assert errors == ["connection"]  # the refresh did not query Prometheus
