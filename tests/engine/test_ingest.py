"""Ingest: history belongs to the SLO's name, backfill is chunked, committed per chunk and
stoppable, and old buckets are pruned by age."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.testing import capture_logs

from slo_exporter.config import parse_config
from slo_exporter.errors import SourceError
from slo_exporter.ingest import BACKFILL_LEAD, PRUNE_EVERY, Ingestor, Pruner, adopt_definitions
from slo_exporter.model import CalendarPeriod
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW, ScriptedSource, ratio_config

API = "api/availability"
PROBE = "web/probe"
CHUNKED = CONFIG.replace("retries: 1}", "retries: 1, backfill_chunk: 6h}")


def _start(store: EventStore, text: str = CONFIG) -> list[MutableMapping[str, Any]]:
    """Adopt ``text``'s definitions as a start would; returns the log events."""
    config = parse_config(text, "t.yaml")
    with capture_logs() as logs:
        adopt_definitions(store, config.slos, structlog.get_logger(), at=NOW)
    return logs


def _total(store: EventStore, key: str) -> float:
    return store.sum(key, 0.0, NOW + 86400).total


def test_changed_prometheus_definition_reads_its_period_again(store: EventStore) -> None:
    """A changed Prometheus SLI drops its events and cursor, so the period is read again."""
    _start(store)
    store.commit(API, {NOW - 100: (1.0, 1.0)}, cursor=NOW - 50)
    logs = _start(store, CONFIG.replace('code=~"5.."', 'code=~"5..|429"'))
    assert store.cursor(API) is None
    assert _total(store, API) == 0.0
    assert [e["event"] for e in logs] == ["slo_definition_changed"]
    assert (logs[0]["service"], logs[0]["slo"]) == ("api", "availability")


def test_changed_probe_target_keeps_its_events_and_is_logged_once(store: EventStore) -> None:
    """Probe events cannot be measured again: a new target keeps them and logs the change."""
    _start(store)
    store.record(PROBE, NOW - 30, good=True)
    store.record(PROBE, NOW - 20, good=False)
    moved = CONFIG.replace('url: "http://127.0.0.1:1/"', 'url: "http://127.0.0.1:2/"')
    logs = _start(store, moved)
    assert [e["event"] for e in logs] == ["probe_target_changed"]
    assert (logs[0]["service"], logs[0]["slo"]) == ("web", "probe")
    assert store.sum(PROBE, NOW - 60, NOW).good == 1.0
    assert _total(store, PROBE) == 2.0
    assert _start(store, moved) == []  # the next start finds the new target recorded


def test_probe_interval_and_objective_changes_keep_events_silently(store: EventStore) -> None:
    """Changing how often a target is probed, or the objective, is no definition change."""
    _start(store)
    store.record(PROBE, NOW - 30, good=True)
    changed = CONFIG.replace("interval: 10s", "interval: 30s").replace(
        "objective: 90", "objective: 95")
    assert _start(store, changed) == []
    assert _total(store, PROBE) == 1.0


def test_removed_slo_keeps_its_events_and_gets_them_back_when_re_added(store: EventStore) -> None:
    """Removing an SLO keeps events and cursor until retention; adding it back restores them."""
    _start(store)
    store.commit(API, {NOW - 100: (3.0, 4.0)}, cursor=NOW - 50)
    without_api = CONFIG.replace(
        CONFIG[CONFIG.index("  - name: api"):CONFIG.index("  - name: web")], "")
    logs = _start(store, without_api)
    assert [(e["event"], e["service"], e["slo"]) for e in logs] == [
        ("slo_retired", "api", "availability")]
    assert [e["event"] for e in _start(store)] == ["slo_restored"]
    assert store.cursor(API) == NOW - 50
    assert _total(store, API) == 4.0


def _ingestor(store: EventStore, source: ScriptedSource, stop: threading.Event | None = None,
              text: str = CHUNKED) -> tuple[Ingestor, float]:
    config = parse_config(text, "t.yaml")
    _start(store, text)
    ingestor = Ingestor(store, source, config.prometheus, config.slos,
                        stop=stop or threading.Event(), log=structlog.get_logger())
    return ingestor, config.prometheus.backfill_chunk


def test_backfill_reads_one_query_per_selector_and_chunk(store: EventStore) -> None:
    """A one-day backfill in 6 h chunks is five chunks of two selector reads, no more."""
    source = ScriptedSource()
    ingestor, chunk = _ingestor(store, source)
    slo = next(s for s in parse_config(CHUNKED, "t.yaml").slos if s.key == API)
    with capture_logs() as logs:
        assert ingestor.read(slo, NOW)
    assert chunk == 6 * 3600
    assert len(source.reads) == 2 * 5
    assert store.cursor(API) == NOW
    assert [e["event"] for e in logs] == ["backfill_started", "backfill_done"]


def _chunked(bad: str, total: str) -> str:
    return ratio_config(bad, total, window="1d").replace("retries: 1}",
                                                         "retries: 1, backfill_chunk: 6h}")


def test_backfill_reads_one_query_per_chunk_when_bad_is_total_plus_equalities(
        store: EventStore) -> None:
    """bad ``m{job="a",code="500"}`` within total ``m{job="a"}``: a one-day backfill in
    6 h chunks asks only for total, five times, and picks bad's series from its answer."""
    text = _chunked('m{job="a",code="500"}', 'm{job="a"}')
    source = ScriptedSource()
    ingestor, _ = _ingestor(store, source, text=text)
    assert ingestor.read(parse_config(text, "t.yaml").slos[0], NOW)
    assert [selector for selector, *_ in source.reads] == ['m{job="a"}'] * 5


def test_backfill_reads_a_selector_outside_total_on_its_own(store: EventStore) -> None:
    """A bad selector over another metric, one that total's matchers do not all narrow,
    or one narrowed by a regex (left to Prometheus) is read with its own query in every
    chunk: 5 chunks x 2 selectors."""
    for bad, total in (('errors_total{job="a"}', 'requests_total{job="a"}'),
                       ('requests_total{code="500"}', 'requests_total{job="a"}'),
                       ('requests_total{job="a",code=~"5.."}', 'requests_total{job="a"}')):
        text = _chunked(bad, total)
        source = ScriptedSource()
        ingestor, _ = _ingestor(store, source, text=text)
        slo = parse_config(text, "t.yaml").slos[0]
        store.ensure_fingerprint(slo.key, "other", keep_events=False)  # a fresh backfill
        assert ingestor.read(slo, NOW)
        assert sorted(selector for selector, *_ in source.reads) == [bad] * 5 + [total] * 5


def test_a_failed_backfill_keeps_the_chunks_it_committed(store: EventStore) -> None:
    """A source that fails in the third chunk leaves the cursor at the end of the second.

    Chunks of a backfill end 1 ms before multiples of the chunk (6 h): ``since`` is
    1,799,913,060 (83,329 chunks and 6,660 s), so the second chunk ends at
    83,331 x 21,600 - 0.001 = 1,799,949,599.999."""
    def read(selector: str, start: float, end: float) -> None:
        if len(source.reads) > 4:
            raise SourceError("down")

    source = ScriptedSource(read)
    ingestor, chunk = _ingestor(store, source)
    slo = next(s for s in parse_config(CHUNKED, "t.yaml").slos if s.key == API)
    since = slo.period.bounds(NOW, 60.0)[0] - BACKFILL_LEAD
    try:
        ingestor.read(slo, NOW)
    except SourceError:
        pass
    else:
        raise AssertionError("the failure must reach the engine")
    assert since == 1_799_913_060.0
    assert chunk == 21_600.0
    assert store.cursor(API) == 1_799_949_599.999


def test_stop_ends_a_backfill_between_chunks(store: EventStore) -> None:
    """With stop set during the second chunk, no third chunk is read and the second is kept
    (it ends at 1,799,949,599.999, as in the test above)."""
    stop = threading.Event()

    def read(selector: str, start: float, end: float) -> None:
        if len(source.reads) == 4:
            stop.set()

    source = ScriptedSource(read)
    ingestor, chunk = _ingestor(store, source, stop)
    slo = next(s for s in parse_config(CHUNKED, "t.yaml").slos if s.key == API)
    since = slo.period.bounds(NOW, 60.0)[0] - BACKFILL_LEAD
    assert ingestor.read(slo, NOW) is False
    assert len(source.reads) == 4
    assert since == 1_799_913_060.0
    assert chunk == 21_600.0
    assert store.cursor(API) == 1_799_949_599.999


def test_pruner_deletes_old_buckets_at_most_once_an_hour(store: EventStore) -> None:
    """Buckets older than the period, margin and lead go; a second call within the hour waits."""
    config = parse_config(CONFIG, "t.yaml")
    keep = config.longest_window + config.storage.retention_margin + BACKFILL_LEAD
    store.record(PROBE, NOW - keep - 120, good=True)
    store.record("gone/slo", NOW - keep - 120, good=True)  # a retired SLO ages out too
    store.record(PROBE, NOW - 60, good=True)
    pruner = Pruner(store, config, structlog.get_logger())
    assert pruner.maybe_prune(NOW) == 2
    store.record(PROBE, NOW - keep - 60, good=True)
    assert pruner.maybe_prune(NOW + PRUNE_EVERY - 1) == 0
    assert pruner.maybe_prune(NOW + PRUNE_EVERY) == 1
    assert _total(store, PROBE) == 1.0


def test_a_calendar_slo_keeps_its_whole_previous_period(store: EventStore) -> None:
    """A monthly SLO keeps two longest months (2 * 32 d) plus margin and lead, not one.

    Keep = 2 * (31 + 1) d + 1 d margin + 600 s lead = 65 d + 600 s: a bucket 64 days
    old stays (last month's report needs it), one 66 days old goes.
    """
    config = parse_config(CONFIG, "t.yaml")
    monthly = dataclasses.replace(
        config.services[1],
        slos=(dataclasses.replace(config.slos[1], period=CalendarPeriod("month", "UTC")),))
    config = dataclasses.replace(config, services=(config.services[0], monthly))
    store.commit(PROBE, {NOW - 64 * 86400: (1.0, 1.0), NOW - 66 * 86400: (1.0, 1.0)})
    assert Pruner(store, config, structlog.get_logger()).maybe_prune(NOW) == 1
    assert store.first_bucket(PROBE) == NOW - 64 * 86400


def test_a_calendar_backfill_early_in_the_month_reaches_back_three_days(
    store: EventStore,
) -> None:
    """On the 1st at 06:00 a monthly SLO's cold start reads from 3 days (its longest
    rolling window) plus the 600 s lead and the 30 s read overlap before the bucket
    end, not from the 1st."""
    source = ScriptedSource()
    ingestor, _ = _ingestor(store, source)
    api = next(s for s in parse_config(CONFIG, "t.yaml").slos if s.key == API)
    monthly = dataclasses.replace(api, period=CalendarPeriod("month", "UTC"))
    until = 1_772_344_800.0  # 2026-03-01T06:00:00Z
    assert ingestor.read(monthly, until)
    first = min(start for _, start, _, _ in source.reads)
    assert first == until + 60 - 3 * 86400 - BACKFILL_LEAD - 30
