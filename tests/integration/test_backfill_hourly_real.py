"""The hour tier of a backfill against a real Prometheus: whole hours exact.

A history of request counters (32 days of a job with two counter resets
and daily error bursts, a job that appears five days before the end, a job
with a three-hour and a forty-minute gap, and a job whose counters have a
NaN and a negative sample or reset three times an hour) is turned into TSDB
blocks with promtool and served by a real ``prometheus``. Each SLO is backfilled twice through the
``Ingestor`` into a SQLite store: with the hour tier (``backfill_hourly_after:
3d``, the default) and sample by sample (``backfill_hourly_after`` as long
as the period). Every hour's (good, total) must be the same in both, the
hour tier must have stored each far hour in its first bucket, and the
30-day SLI of the hour tier must stay within 0.1 % of the exact one once
the window's oldest edge lies inside an hour read at hour resolution.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from slo_exporter.config import parse_config
from slo_exporter.ingest import Ingestor
from slo_exporter.model import SLO, Config
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.store import SQLiteStore
from tests.support.harness import PrometheusServer, backfilled_prometheus
from tests.support.synth import (
    DAY,
    JobHistory,
    Traffic,
    WindowSpec,
    expected_window,
    generate_job,
    write_openmetrics,
)

pytestmark = pytest.mark.integration

HOUR = 3600.0
#: the history ends on no whole hour, 2 days before the test runs
END = (time.time() // HOUR) * HOUR - 2 * DAY + 1234
#: the backfill reads up to 6 hours before the end; a steady read then goes on
UNTIL = math.floor((END - 6 * HOUR) / 60) * 60
LATER = UNTIL + 5 * HOUR + 1800  # the 30d window's oldest edge is mid-hour then
JOBS = ("api", "late", "gappy", "glitch")


def _gappy(history: JobHistory) -> JobHistory:
    """``history`` without 3 h of samples 7 days before its end and 40 min 4 days before."""
    end = history.end_ms / 1000

    def kept(ts_ms: int) -> bool:
        ts = ts_ms / 1000
        return not (end - 7 * DAY - 3 * HOUR < ts <= end - 7 * DAY
                    or end - 4 * DAY - 2400 < ts <= end - 4 * DAY)

    rows = [(ts, g, b) for ts, g, b in zip(history.timestamps, history.good_values,
                                            history.bad_values, strict=True) if kept(ts)]
    return dataclasses.replace(history, timestamps=tuple(r[0] for r in rows),
                               good_values=tuple(r[1] for r in rows),
                               bad_values=tuple(r[2] for r in rows))


def _glitch_lines() -> list[str]:
    """job="glitch" for 10 days: code="200" rises 3 per minute; 6 days before the end one
    sample is NaN and, 2 hours later, one is -3 (both implausible: the per-sample path
    drops them and starts again from the next sample). code="500" rises 5 per minute
    and resets every 20 minutes, so each hour ends on the value the hour before ended
    on while it counted 300 events."""
    lines = []
    first = int(END - 10 * DAY) // 60 * 60
    nan_at, negative_at = first + 4 * 86400 + 1800, first + 4 * 86400 + 9000
    for i, ts in enumerate(range(first, int(END), 60)):
        good = "NaN" if ts == nan_at else ("-3" if ts == negative_at else str(3 * i))
        lines.append(f'http_requests_total{{job="glitch",code="200"}} {good} {ts}')
        lines.append(f'http_requests_total{{job="glitch",code="500"}} {5 * (i % 20) + 5} {ts}')
    return lines


@pytest.fixture(scope="module")
def histories() -> dict[str, JobHistory]:
    traffic = Traffic(resets_before_end=(12 * DAY + 7 * 3600 + 1234, 5 * DAY + 95))
    return {
        "api": generate_job("api", end=END, days=32, step=30, traffic=traffic),
        "late": generate_job("late", end=END, days=5, step=15),
        "gappy": _gappy(generate_job("gappy", end=END, days=10, step=60, traffic=traffic)),
    }


@pytest.fixture(scope="module")
def prometheus(histories: dict[str, JobHistory],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    base = tmp_path_factory.mktemp("hourly")
    openmetrics = base / "history.om"
    write_openmetrics(openmetrics, histories.values())
    text = openmetrics.read_text().removesuffix("# EOF\n")
    openmetrics.write_text(text + "\n".join(_glitch_lines()) + "\n# EOF\n")
    with backfilled_prometheus(base, openmetrics) as server:
        yield server


def _config(url: str, hourly_after: str) -> Config:
    slos = "\n".join(f"""      - name: {job}
        objective: 99.9
        window: 30d
        sli:
          ratio:
            bad: http_requests_total{{job="{job}",code="500"}}
            total: http_requests_total{{job="{job}"}}""" for job in JOBS)
    return parse_config(f"""
prometheus: {{url: "{url}", timeout: 30s, backfill_hourly_after: {hourly_after}}}
services:
  - name: svc
    slos:
{slos}
""", "t.yaml")


class _Quiet:
    def __getattr__(self, name: str) -> object:
        return lambda *args, **kwargs: None


def _backfill(url: str, path: Path, hourly_after: str) -> tuple[SQLiteStore, dict[str, SLO]]:
    config = _config(url, hourly_after)
    store = SQLiteStore(path, config.storage.resolution)
    client = PrometheusClient(config.prometheus)
    ingestor = Ingestor(store, client, config.prometheus, config.slos,
                        stop=threading.Event(), log=_Quiet())
    for slo in config.slos:
        assert ingestor.read(slo, UNTIL)
        assert ingestor.read(slo, LATER)
    client.close()
    return store, {slo.name: slo for slo in config.slos}


@pytest.fixture(scope="module")
def stores(prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[SQLiteStore, SQLiteStore, dict[str, SLO]]]:
    """(hour tier, sample by sample, the SLOs by name), both backfilled to UNTIL and read
    on to LATER."""
    hourly, slos = _backfill(prometheus.url, tmp_path_factory.mktemp("h"), "3d")
    exact, _ = _backfill(prometheus.url, tmp_path_factory.mktemp("e"), "30d")
    yield hourly, exact, slos
    hourly.close()
    exact.close()


def _hours(store: SQLiteStore, key: str) -> dict[float, tuple[float, float]]:
    found: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for start, good, total in store.buckets(key, 0.0, LATER + DAY):
        hour = math.floor(start / HOUR) * HOUR
        found[hour][0] += good
        found[hour][1] += total
    return {h: (g, t) for h, (g, t) in found.items() if g or t}


@pytest.mark.parametrize("job", JOBS)
def test_every_hour_equals_the_per_sample_backfill(
        stores: tuple[SQLiteStore, SQLiteStore, dict[str, SLO]], job: str) -> None:
    """Over resets, gaps, a late series and implausible samples, each hour's (good, total)
    read by the hour tier equals the sample-by-sample backfill's."""
    hourly, exact, slos = stores
    key = slos[job].key
    got, want = _hours(hourly, key), _hours(exact, key)
    assert want, "the history has events"
    wrong = {h: (got.get(h), want.get(h)) for h in got.keys() | want.keys()
             if got.get(h) != want.get(h)}
    assert not wrong, f"{len(wrong)} hours differ, first {sorted(wrong.items())[:3]}"
    assert hourly.cursor(key) == exact.cursor(key) == LATER


def test_far_hours_are_stored_in_their_first_bucket(
        stores: tuple[SQLiteStore, SQLiteStore, dict[str, SLO]]) -> None:
    """History older than 3 days (and than the hour after the period's start) is one bucket
    per hour; the last 3 days keep their minute buckets."""
    hourly, _, slos = stores
    key = slos["api"].key
    far = [b for b, _, _ in hourly.buckets(key, UNTIL - 29 * DAY, UNTIL - 4 * DAY)]
    near = [b for b, _, _ in hourly.buckets(key, UNTIL - 2 * DAY, UNTIL)]
    assert far
    assert all(b % HOUR == 0 for b in far)
    assert len(near) == 2 * 24 * 60  # a 30 s scrape puts two samples in every minute


def test_30_day_sli_with_a_mid_hour_edge_is_within_a_tenth_of_a_percent(
        stores: tuple[SQLiteStore, SQLiteStore, dict[str, SLO]],
        histories: dict[str, JobHistory]) -> None:
    """Once the 30d window's oldest edge lies inside an hour read at hour resolution, its
    SLI is still within 0.1 % of the exact one (the whole hour counts at its first bucket)."""
    hourly, _, slos = stores
    history = histories["api"]
    spec = WindowSpec(LATER, 30 * DAY)
    assert spec.start % HOUR  # the edge is mid-hour
    want = expected_window(history.series(), spec, bad=history.bad_series())
    got = hourly.sum(slos["api"].key, spec.start, spec.end)
    assert want.sli is not None
    assert got.total > 0
    miss = abs(got.good / got.total - want.sli) / want.sli
    assert miss < 1e-3, f"SLI {got.good / got.total!r} vs exact {want.sli!r}"
    assert got.total != want.total  # the hour tier did answer this window


def test_the_scrape_step_is_learned_from_samples_not_from_hour_instants(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    """After an hour-tier backfill the fast path expects each job's real scrape step (api
    30 s, late 15 s, gappy and glitch 60 s): the gap from the hour tier's last instant to
    the first raw sample is no step (a step of a few milliseconds made every SLO due each
    second)."""
    config = _config(prometheus.url, "3d")
    store = SQLiteStore(tmp_path / "s", config.storage.resolution)
    client = PrometheusClient(config.prometheus)
    ingestor = Ingestor(store, client, config.prometheus, config.slos,
                        stop=threading.Event(), log=_Quiet())
    try:
        for slo in config.slos:
            assert ingestor.read(slo, UNTIL)
        steps = {slo.name: ingestor.scrape_step(slo.key) for slo in config.slos}
    finally:
        client.close()
        store.close()
    assert steps == {"api": 30.0, "late": 15.0, "gappy": 60.0, "glitch": 60.0}
