"""Cold-start progress: the backfill tracker, the engine's snapshot while it runs,
the gauges, ``/-/ready`` and the status page banner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import structlog
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import SourceError
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.ingest import Backfill, BackfillProgress
from slo_exporter.snapshot import Snapshot
from slo_exporter.statuspage import render_status_page
from slo_exporter.store import EventStore
from slo_exporter.web import WebServer
from tests.engine.support import CONFIG, NOW, ScriptedSource

DAY = 86400.0


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_counts_slos_seconds_and_samples() -> None:
    """Two SLOs of 2 days each: after 1 day of one in 10 s, 1/4 is read and the
    ETA is (4 - 1) days / (1 day / 10 s) = 30 s."""
    clock = Clock()
    tracker = Backfill(None, every=1e9, clock=clock)
    tracker.plan("a/x", 0.0, 2 * DAY)
    tracker.plan("b/y", 0.0, 2 * DAY)
    clock.now += 10.0
    tracker.chunk("a/x", DAY, samples=1440)
    found = tracker.progress()
    assert found == BackfillProgress(slos_total=2, slos_done=0, seconds_total=4 * DAY,
                                     seconds_done=DAY, samples=1440, elapsed=10.0)
    assert found.fraction == pytest.approx(0.25)
    assert found.eta == pytest.approx(30.0)
    assert found.slos_remaining == 2


def test_progress_is_logged_at_most_every_interval_and_finish_once() -> None:
    """Chunks 4 s apart with a 10 s interval log progress at 12 s and 24 s only
    (the run started at 0 s); the last SLO done logs backfill_finished with the
    run's duration (30 s) and the run is forgotten."""
    clock = Clock()
    start = clock.now
    with capture_logs() as logs:
        tracker = Backfill(structlog.get_logger(), every=10.0, clock=clock)
        tracker.plan("a/x", 0.0, 8 * DAY)
        for _ in range(7):
            clock.now += 4.0
            tracker.chunk("a/x", DAY, samples=10)
        clock.now = start + 30.0
        tracker.finished("a/x")
    progress = [e for e in logs if e["event"] == "backfill_progress"]
    assert [(e["seconds_done"], e["samples"]) for e in progress] == [
        (3 * DAY, 30), (6 * DAY, 60)]
    assert progress[0]["slos_done"] == 0
    assert progress[0]["slos_total"] == 1
    assert progress[0]["percent"] == 37.5  # 3 of 8 days
    assert progress[0]["eta_seconds"] == 20  # 5 days left at 1 day per 4 s
    finished = [e for e in logs if e["event"] == "backfill_finished"]
    assert finished == [{"event": "backfill_finished", "log_level": "info", "slos": 1,
                         "seconds": 30.0, "history_seconds": 8 * DAY, "samples": 70}]
    assert tracker.progress() is None


def test_a_planned_slo_whose_read_failed_stays_backfilling() -> None:
    """An SLO planned again (its read failed) keeps what it read: 1 of 3 days read,
    planned again from day 1 to day 3, still counts 3 days in all."""
    tracker = Backfill(None, every=1e9, clock=Clock())
    tracker.plan("a/x", 0.0, 3 * DAY)
    tracker.chunk("a/x", DAY, samples=5)
    tracker.plan("a/x", DAY, 3 * DAY)
    found = tracker.progress()
    assert found is not None
    assert (found.seconds_total, found.seconds_done) == (3 * DAY, DAY)


def test_engine_snapshot_carries_progress_while_the_first_cycle_backfills(
        store: EventStore) -> None:
    """During the cold start the snapshot says 0 of 1 SLOs backfilled (the probe SLO
    reads nothing); afterwards the snapshot is complete and carries no backfill."""
    seen: list[BackfillProgress | None] = []
    holder: list[Engine] = []

    def on_read(selector: str, start: float, end: float) -> None:
        seen.append(holder[0].snapshot.backfill)

    config = parse_config(CONFIG, "t.yaml")
    engine = Engine(config, store, ScriptedSource(on_read), clock=lambda: NOW, max_workers=1)
    holder.append(engine)
    try:
        with capture_logs() as logs:
            snap = engine.evaluate()
    finally:
        engine.close()
    assert seen
    assert all(p is not None and (p.slos_done, p.slos_total) == (0, 1) for p in seen)
    fractions = [p.fraction for p in seen if p is not None]
    assert fractions == sorted(fractions)
    assert fractions[-1] < 1.0
    assert snap.complete
    assert engine.snapshot.backfill is None
    assert [e["event"] for e in logs if e["event"] == "backfill_finished"] == [
        "backfill_finished"]


def test_engine_keeps_a_failed_backfill_in_progress(store: EventStore) -> None:
    """A backfill whose reads fail is still backfilling after the cycle: 0 of 1 done."""
    def fail(selector: str, start: float, end: float) -> None:
        raise SourceError("Prometheus is down")

    config = parse_config(CONFIG, "t.yaml")
    engine = Engine(config, store, ScriptedSource(fail), clock=lambda: NOW, max_workers=1)
    try:
        engine.evaluate()
        found = engine.snapshot.backfill
    finally:
        engine.close()
    assert found is not None
    assert (found.slos_done, found.slos_total) == (0, 1)


def _progress(done: int, total: int) -> BackfillProgress:
    return BackfillProgress(slos_total=total, slos_done=done, seconds_total=4 * DAY,
                            seconds_done=DAY, samples=7, elapsed=10.0)


@pytest.fixture
def served() -> Iterator[tuple[str, list[Snapshot]]]:
    current = [Snapshot()]
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: current[0]))
    server = WebServer("127.0.0.1:0", registry, lambda: current[0])
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", current
    finally:
        server.stop()


def test_ready_says_backfilling_until_the_first_cycle_and_then_never_flaps(
        served: tuple[str, list[Snapshot]]) -> None:
    """/-/ready: 503 "backfilling: 1 of 3 SLOs" during the cold start; 200 once the
    first cycle is complete, even while a later backfill (a gap) runs."""
    base, current = served
    current[0] = Snapshot(backfill=_progress(1, 3))
    answer = requests.get(f"{base}/-/ready", timeout=5)
    assert answer.status_code == 503
    assert answer.text == "slo-exporter is not ready: backfilling: 1 of 3 SLOs.\n"
    current[0] = Snapshot(complete=True, backfill=_progress(2, 3))
    assert requests.get(f"{base}/-/ready", timeout=5).status_code == 200


def test_gauges_show_progress_and_rest_values(served: tuple[str, list[Snapshot]]) -> None:
    """Gauges: 2 of 3 SLOs left, 1 of 4 days read (0.25), ETA 30 s; with no backfill
    running 0 SLOs left, ratio 1, ETA 0."""
    base, current = served
    current[0] = Snapshot(backfill=_progress(1, 3))
    text = requests.get(f"{base}/metrics", timeout=5).text
    assert "slo_exporter_backfill_remaining_slos 2.0" in text
    assert "slo_exporter_backfill_progress_ratio 0.25" in text
    assert "slo_exporter_backfill_eta_seconds 30.0" in text
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: Snapshot(complete=True)))
    idle = generate_latest(registry).decode()
    assert "slo_exporter_backfill_remaining_slos 0.0" in idle
    assert "slo_exporter_backfill_progress_ratio 1.0" in idle
    assert "slo_exporter_backfill_eta_seconds 0.0" in idle


def test_status_page_banner_while_backfilling() -> None:
    """The status page says 1 of 3 SLOs and 25% read while backfilling, nothing after."""
    page = render_status_page(Snapshot(backfill=_progress(1, 3)))
    assert 'id="backfilling"' in page
    assert "1 of 3 SLOs, 25% read" in page
    assert 'id="backfilling"' not in render_status_page(Snapshot(complete=True))


def test_plan_counts_only_reads_that_backfill(store: EventStore) -> None:
    """Of one Prometheus SLO: no cursor -> backfill of its 1 d window, which ends with
    the bucket holding now (starts at now + 60 s - 86,400 s), plus the 600 s lead:
    86,940 s; read up to now, a cycle 30 s later is steady (nothing planned); a gap
    of 2 d, more than the 1 d chunk, backfills the window again: 86,940 s."""
    config = parse_config(CONFIG, "t.yaml")
    engine = Engine(config, store, ScriptedSource(), clock=lambda: NOW, max_workers=1)
    ingestor = engine._ingestor
    try:
        ingestor.plan_backfill(config.slos, NOW)
        found = ingestor.backfill.progress()
        assert found is not None
        assert (found.slos_total, found.seconds_total) == (1, 86_940.0)
        engine.evaluate()
        assert ingestor.backfill.progress() is None
        ingestor.plan_backfill(config.slos, NOW + 30)
        assert ingestor.backfill.progress() is None
        ingestor.plan_backfill(config.slos, NOW + 2 * DAY)
        found = ingestor.backfill.progress()
        assert found is not None
        assert (found.slos_total, found.seconds_total) == (1, 86_940.0)
    finally:
        engine.close()
