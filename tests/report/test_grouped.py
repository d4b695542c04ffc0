"""A grouped SLO in the report: one entry per group, as the daemon keeps it.

``checkout/availability`` is grouped by route over the scenario's week
(2026-W10, no maintenance here). Per hour of the week (168 hours), route /a
serves 100 requests of which 2 fail, route /b 50 of which none fails:
/a 16,464 good of 16,800 (98 %, missed against 99 %), /b 8,400 of 8,400.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import structlog
from structlog.testing import capture_logs

from slo_exporter.grouping import instance
from slo_exporter.ingest import stored_fingerprint
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.report import Report, Request, build_report, render
from slo_exporter.store import SQLiteStore
from tests.report import scenario as s

WEEK = Request.parse("2026-W10", None, None, None)
HOURS = 168
GROUPED = dataclasses.replace(s.AVAILABILITY, sla=None, group_by=("route",))
TOTAL = "http_requests_total"
BAD = 'http_requests_total{code=~"5.."}'
#: route -> (requests, failures) per hour
TRAFFIC = {"/a": (100, 2), "/b": (50, 0)}


def _counter(per_hour: int) -> tuple[tuple[float, float], ...]:
    """A counter sampled hourly from an hour before the week to its end, +per_hour each:
    the samples at START .. START + 167 h land in the week, 168 increases."""
    return tuple((s.START + (k - 1) * 3600.0, float(k * per_hour)) for k in range(HOURS + 2))


class RouteHistory:
    """Raw samples per selector within ``(start, end]``; reads are counted."""

    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()
        self.series: dict[str, list[Series]] = {TOTAL: [], BAD: []}
        for route, (total, bad) in TRAFFIC.items():
            self.series[TOTAL].append(Series({"route": route}, _counter(total)))
            if bad:
                self.series[BAD].append(Series({"route": route, "code": "500"}, _counter(bad)))

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        raise AssertionError("a grouped ratio reads raw samples only")

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise AssertionError("a grouped ratio reads raw samples only")

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.reads[selector] += 1
        out = []
        for series in self.series[selector]:
            seen = tuple((t, v) for t, v in series.samples if start < t <= end)
            if seen:
                out.append(Series(series.labels, seen))
        return out


def _store(path: Path, routes: tuple[str, ...] = ("/b", "/a")) -> SQLiteStore:
    """A store holding the week of each route's group, as the daemon writes it."""
    store = SQLiteStore(path, s.RES)
    for route in routes:
        group = instance(GROUPED, (route,))
        store.ensure_fingerprint(group.key, stored_fingerprint(GROUPED), keep_events=False)
        total, bad = TRAFFIC[route]
        hours = {s.START + h * 3600.0: (float(total - bad), float(total)) for h in range(HOURS)}
        store.commit(group.key, hours, measured=(s.START - 600, s.END + 600))
    return store


def _report(store: SQLiteStore | None, source: RouteHistory | None = None) -> Report:
    return build_report(s.config(GROUPED, maintenance=()), WEEK, store=store,
                        prometheus=(lambda: source) if source is not None else None,
                        now=s.NOW, log=structlog.get_logger())


def _rows(report: Report) -> list[tuple[str, dict[str, str], float | None, str]]:
    return [(e.slo.key, dict(e.slo.group), e.figures.achieved, e.figures.source)
            for e in report.entries]


def test_stored_groups_are_reported_one_entry_each_in_label_order(tmp_path: Path) -> None:
    """Each stored group is an entry of its own, from the store: /a 16,464 / 16,800 =
    98 %, /b 100 %; the definition, which holds no events, is not listed."""
    with _store(tmp_path / "data") as store:
        report = _report(store)
    assert _rows(report) == [
        ('checkout/availability{route="/a"}', {"route": "/a"}, 0.98, "store"),
        ('checkout/availability{route="/b"}', {"route": "/b"}, 1.0, "store"),
    ]
    assert [e.figures.met for e in report.entries] == [False, True]


def test_every_format_names_the_group(tmp_path: Path) -> None:
    """json carries the group labels, csv a group column, markdown (braces escaped) and
    html the labels after the SLO name."""
    with _store(tmp_path / "data") as store:
        report = _report(store)
    doc = json.loads(render(report, "json"))
    assert [e["group"] for e in doc["slos"]] == [{"route": "/a"}, {"route": "/b"}]
    rows = render(report, "csv").splitlines()
    assert rows[0].endswith(",group")
    assert rows[1].endswith(',"{route=""/a""}"')
    assert '| checkout | availability \\{route="/a"\\} |' in render(report, "markdown")
    assert "availability {route=&quot;/b&quot;}" in render(report, "html")


def test_a_group_retired_before_the_week_is_left_out(tmp_path: Path) -> None:
    """A group retired before the span started has nothing to report: only /a is listed."""
    with _store(tmp_path / "data") as store:
        store.retire([instance(GROUPED, ("/a",)).key], at=s.START - 86400.0)
        report = _report(store)
    assert [key for key, *_ in _rows(report)] == ['checkout/availability{route="/a"}']


def test_without_stored_groups_prometheus_is_read_once_for_all_groups() -> None:
    """No store: the week is read from Prometheus with one read per selector and chunk
    (7 one-day chunks plus the lead's), split by route, with the same figures as the
    store gives."""
    source = RouteHistory()
    with capture_logs() as logs:
        report = _report(None, source)
    assert _rows(report) == [
        ('checkout/availability{route="/a"}', {"route": "/a"}, 0.98, "prometheus"),
        ('checkout/availability{route="/b"}', {"route": "/b"}, 1.0, "prometheus"),
    ]
    assert [e.figures.coverage for e in report.entries] == [1.0, 1.0]
    assert source.reads == {TOTAL: 8, BAD: 8}
    read = [e for e in logs if e["event"] == "history_read"]
    assert [(e["slo"], e["groups"]) for e in read] == [("availability", 2)]


def test_stored_groups_that_start_mid_week_are_read_again_from_prometheus(
        tmp_path: Path) -> None:
    """A store whose groups start after the week began does not reach back: Prometheus
    is read for all groups (the same figures), as for an ungrouped SLO."""
    with SQLiteStore(tmp_path / "data", s.RES) as store:
        group = instance(GROUPED, ("/a",))
        store.ensure_fingerprint(group.key, stored_fingerprint(GROUPED), keep_events=False)
        store.commit(group.key, {s.WED_12: (1.0, 1.0)}, measured=(s.WED_12, s.END))
        report = _report(store, RouteHistory())
    assert [(key, source) for key, _, _, source in _rows(report)] == [
        ('checkout/availability{route="/a"}', "prometheus"),
        ('checkout/availability{route="/b"}', "prometheus"),
    ]


def test_a_grouped_slo_with_no_group_anywhere_is_listed_alone_and_unmeasured() -> None:
    """No store and no Prometheus: the definition is listed once, unmeasured, and the
    failed read is reported."""
    report = _report(None)
    assert _rows(report) == [("checkout/availability", {}, None, "unmeasured")]
    assert report.failures == ("checkout/availability: Prometheus is not configured",)
