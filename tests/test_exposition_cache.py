"""/metrics from the per-snapshot cache is byte for byte what the registry renders."""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.utils import floatToGoString

from slo_exporter import exposition, model
from slo_exporter.exposition import SelfMetrics, SnapshotCollector
from slo_exporter.probes.metrics import ProbeMetrics
from slo_exporter.probes.result import ProbeResult
from slo_exporter.snapshot import GroupCount, SLOStatus, Snapshot
from slo_exporter.web import WebServer
from tests.probes.test_metrics import probe_slo
from tests.support.helpers import ratio_slo, status
from tests.test_exposition_slm import MONTHLY, calendar_status, figures

AT = 1_700_000_000.0


def _fleet() -> Snapshot:
    """Every kind of series: windows, SLA, calendar, groups, awkward label values."""
    odd = ratio_slo("we\"ird", "a\\b", owner="line\nbreak", tier="é")
    grouped = dataclasses.replace(ratio_slo("shop", "latency"), group_by=("route",),
                                  group=model.frozen_map({"route": "/cart", "service": "x"}))
    statuses = (
        status(ratio_slo(), {300.0: (99.0, 100.0), 3600.0: (0.0, 0.0),
                             30 * 86400.0: (1e9, 1e9 + 3)}, at=AT, page=True),
        status(odd, {3600.0: (5.0, 10.0)}, up=False, at=AT),
        calendar_status(figures(sla=None), sla=MONTHLY),
        status(grouped, {3600.0: (1.0, 2.0)}, at=AT),
        SLOStatus(slo=ratio_slo("never", "evaluated")),
    )
    return Snapshot(slos=statuses, taken_at=AT, complete=True,
                    groups=(GroupCount("shop", "latency", 1, 2, 100),))


def test_cached_text_equals_generate_latest_of_collect() -> None:
    """exposition() renders exactly what prometheus_client renders from collect()."""
    snap = _fleet()
    collector = SnapshotCollector(lambda: snap)
    reg = CollectorRegistry()
    reg.register(collector)
    assert collector.exposition() == generate_latest(reg)
    assert gzip.decompress(collector.exposition(gzipped=True)) == generate_latest(reg)


def test_one_render_per_snapshot_and_unchanged_statuses_keep_their_lines(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrapes of one snapshot share each status's lines and one gzip member; a new
    snapshot re-renders only new statuses.

    Two statuses, three plain and two gzip scrapes of the first snapshot: 2
    renders, 1 gzip member. A second snapshot carries one status over and
    replaces the other: 1 more.
    """
    rendered: list[str] = []
    real = exposition._status_lines

    def counting(st: SLOStatus, text: exposition._SLOText) -> tuple[str, ...]:
        rendered.append(st.slo.key)
        return real(st, text)

    monkeypatch.setattr(exposition, "_status_lines", counting)
    a = status(ratio_slo("a", "x"), {3600.0: (9.0, 10.0)}, at=AT)
    b = status(ratio_slo("b", "x"), {3600.0: (9.0, 10.0)}, at=AT)
    holder = [Snapshot(slos=(a, b), taken_at=AT, complete=True)]
    collector = SnapshotCollector(lambda: holder[0])
    first = collector.exposition()
    assert collector.exposition() == first
    assert collector.exposition() == first
    zipped = collector.exposition(gzipped=True)
    assert collector.exposition(gzipped=True) is zipped
    assert gzip.decompress(zipped) == first
    assert sorted(rendered) == ["a/x", "b/x"]
    newer = status(ratio_slo("b", "x"), {3600.0: (8.0, 10.0)}, at=AT + 60)
    holder[0] = Snapshot(slos=(a, newer), taken_at=AT + 60, complete=True)
    second = collector.exposition()
    assert sorted(rendered) == ["a/x", "b/x", "b/x"]
    assert b'slo_events{result="bad",service="b",slo="x",window="1h"} 2.0' in second


def test_a_skipped_collector_yields_nothing_in_that_thread_only() -> None:
    """Inside skipped() the registry renders without the snapshot's families."""
    snap = _fleet()
    collector = SnapshotCollector(lambda: snap)
    reg = CollectorRegistry()
    reg.register(collector)
    with collector.skipped():
        assert generate_latest(reg) == b""
    assert b"slo_info" in generate_latest(reg)


@pytest.fixture
def served() -> Iterator[tuple[str, CollectorRegistry]]:
    snap = _fleet()
    reg = CollectorRegistry()
    collector = SnapshotCollector(lambda: snap)
    reg.register(collector)
    SelfMetrics(reg)
    server = WebServer("127.0.0.1:0", reg, lambda: snap, snapshot_metrics=collector)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}", reg
    finally:
        server.stop()


def test_served_metrics_hold_every_family_once(served: tuple[str, CollectorRegistry]) -> None:
    """/metrics is the cached families then the rest: the registry's text, nothing twice."""
    base, reg = served
    body = requests.get(f"{base}/metrics", timeout=5).content
    helps = [line for line in body.split(b"\n") if line.startswith(b"# HELP ")]
    assert len(helps) == len(set(helps))
    assert sorted(body.split(b"\n")) == sorted(generate_latest(reg).split(b"\n"))


def test_gzipped_metrics_decode_to_the_plain_text(served: tuple[str, CollectorRegistry]) -> None:
    """The two gzip members (cached snapshot part, fresh rest) decode as one text."""
    base, _ = served
    plain = requests.get(f"{base}/metrics", timeout=5)
    zipped = requests.get(f"{base}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert zipped.headers["Content-Encoding"] == "gzip"
    # the self metrics include counters whose value may move between the two scrapes
    assert zipped.text.split("slo_exporter_")[0] == plain.text.split("slo_exporter_")[0]
    assert "slo_exporter_build_info" in zipped.text


@pytest.mark.parametrize("value", [0.0, 1.0, -2.5, 999_999.9, 1e6, 2.592e6, 1e21, -3e7, 1e-9,
                                   float("inf"), float("-inf"), float("nan"), 7])
def test_numbers_are_printed_as_the_library_prints_them(value: float) -> None:
    """The fast number text matches floatToGoString, across Go's switch to exponents at 1e6."""
    assert exposition._number(value) == floatToGoString(value)  # type: ignore[no-untyped-call]


def test_fast_text_of_any_registry_equals_generate_latest() -> None:
    """render_families gives generate_latest's bytes for counters (with _created),
    histograms, info, gauges without labels and probe families with odd label values."""
    reg = CollectorRegistry()
    SelfMetrics(reg).query_error("timeout")
    probes = ProbeMetrics()
    reg.register(probes)
    odd = dataclasses.replace(probe_slo(), service='we"ird\\', name="line\nbreak")
    for slo in (probe_slo(), odd):
        for duration in (0.004, 0.3, 120.0):
            probes.observe(slo, ProbeResult(duration < 100, duration,
                                            "ok" if duration < 100 else "timeout"))
    assert exposition.render_families(reg.collect()) == generate_latest(reg)


@pytest.mark.parametrize("group", [
    {}, {"route": "/a"}, {"zone": "eu{1}"}, {"a": "x", "zz": "y"}, {"window": "w"},
    {"result": "r", "severity": "s"}, {"service": "inner", "slo": "inner"},
])
def test_fast_lines_equal_the_samples_whatever_the_group_labels(group: dict[str, str]) -> None:
    """Status text from per-SLO prefixes equals generate_latest's for group labels that sort
    before, between or after the window, result and severity labels, or share their names."""
    base = dataclasses.replace(ratio_slo("shop", "latency"), group_by=tuple(group),
                               group=model.frozen_map(group))
    statuses = (
        status(base, {300.0: (99.0, 100.0), 3600.0: (0.0, 0.0), 30 * 86400.0: (5e6, 5e6 + 7)},
               at=AT, page=True),
        dataclasses.replace(calendar_status(figures(sla=None), sla=MONTHLY),
                            slo=dataclasses.replace(base, period=model.CalendarPeriod(
                                "month", "UTC"), sla=MONTHLY)),
        SLOStatus(slo=base),
    )
    snap = Snapshot(slos=statuses, taken_at=AT, complete=True)
    collector = SnapshotCollector(lambda: snap)
    reg = CollectorRegistry()
    reg.register(collector)
    assert collector.exposition() == generate_latest(reg)
    again = Snapshot(slos=tuple(dataclasses.replace(s) for s in statuses), taken_at=AT)
    snap = again  # new status objects of the same definitions reuse the prefixes
    assert collector.exposition() == generate_latest(reg)
