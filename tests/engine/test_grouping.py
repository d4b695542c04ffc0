"""Grouped SLOs: one definition, one SLO per group, one read per selector, a reported cap.

The source below answers raw-sample reads from per-selector series and
counts the reads. Per minute over the last hour, route /a serves 10
requests of which 1 fails, route /b 5 requests and no failure (its bad
selector has no series at all), and route /c 2 requests of which 2 fail.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import structlog
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from slo_exporter import matchers
from slo_exporter.accounting import fetch_grouped_events
from slo_exporter.api import render_slos
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.errors import QueryTimeout, StoreError
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.grouping import Groups
from slo_exporter.model import SLO, RatioSLI, Selector, SLOId, Template
from slo_exporter.notify.alerts import implied_alerts
from slo_exporter.probes import ProbeMetrics
from slo_exporter.prometheus import QueryResult, Series, label_text
from slo_exporter.runtime import Collaborators, Runtime
from slo_exporter.snapshot import Snapshot
from slo_exporter.statuspage import render_status_page
from slo_exporter.store import Commit, SQLiteStore
from slo_exporter.store.protocol import EventStore
from tests.engine.support import NOW, SeriesSource, within

BAD = 'http_requests_total{code="500"}'
TOTAL = "http_requests_total"
START = NOW - 3600.0
#: route -> (requests, failures) per minute
TRAFFIC = {"/a": (10, 1), "/b": (5, 0), "/c": (2, 2)}


def _counter(per_minute: int, until: float) -> tuple[tuple[float, float], ...]:
    """A counter sampled every minute from START up to ``until``, +``per_minute`` each."""
    samples = []
    ts, value = START, 0.0
    while ts <= until:
        samples.append((ts, value))
        ts, value = ts + 60.0, value + per_minute
    return tuple(samples)


class RouteSource(SeriesSource):
    """Each route's counters up to ``until`` (plus ``extra`` series), answered within
    ``(start, end]`` as Prometheus would: one set of series per metric, each read
    given every series its selector matches; reads are counted per selector.

    ``series`` holds them under the selector a test thinks of them by: a route's
    successes (``code="200"``, ``requests - failures`` per minute) under TOTAL,
    its failures (``code="500"``) under BAD, so TOTAL's selector sums both.
    """

    reason = "grouped SLIs read raw samples only"

    def __init__(self, routes: Mapping[str, tuple[int, int]], until: float = NOW,
                 extra: Sequence[Series] = ()) -> None:
        super().__init__({BAD: [], TOTAL: list(extra)})
        for route, (total, bad) in routes.items():
            if total > bad:
                self.series[TOTAL].append(
                    Series({"route": route, "code": "200"}, _counter(total - bad, until)))
            if bad:
                self.series[BAD].append(
                    Series({"route": route, "code": "500"}, _counter(bad, until)))

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        self.reads[selector] += 1
        wanted = matchers.parse(selector)
        found: dict[tuple[str, str], Series] = {}
        for key, series in self.series.items():
            metric = matchers.parse(key).metric
            for one in series:
                if wanted.matches({**one.labels, "__name__": metric}):
                    found.setdefault((metric, label_text(one.labels)), one)
        return within(list(found.values()), start, end)


RATIO_SLI = f"""\
ratio:
  bad: '{BAD}'
  total: {TOTAL}
"""


def _config(max_groups: int = 100, sli: str = RATIO_SLI) -> str:
    body = textwrap.indent(sli, " " * 10)
    return textwrap.dedent(f"""\
        prometheus: {{url: "http://127.0.0.1:1", timeout: 1s, retries: 1}}
        evaluation_interval: 10s
        services:
          - name: api
            slos:
              - name: availability
                objective: 99
                window: 1d
                group_by: [route]
                max_groups: {max_groups}
                sli:
        """) + body


def _engine(store: EventStore, source: RouteSource, *, max_groups: int = 100,
            now: float = NOW, clock: list[float] | None = None) -> Engine:
    """An engine on the grouped ratio SLO reading ``source``; its clock reads ``now``,
    or ``clock[0]`` when the test moves the clock."""
    config = parse_config(_config(max_groups), "test.yaml")
    return Engine(config, store, source, max_workers=1,
                  clock=(lambda: clock[0]) if clock is not None else (lambda: now))


def _evaluated(store: EventStore) -> Snapshot:
    """The snapshot of one cycle at NOW of an engine reading TRAFFIC."""
    engine = _engine(store, RouteSource(TRAFFIC))
    try:
        return engine.evaluate()
    finally:
        engine.close()


def _next_minute_of_a_and_b(source: RouteSource) -> None:
    """``source`` answers one more minute of routes /a and /b; /c's total stays as it was."""
    later = RouteSource({"/a": TRAFFIC["/a"], "/b": TRAFFIC["/b"]}, until=NOW + 60)
    source.series = later.series | {TOTAL: later.series[TOTAL] + [
        s for s in source.series[TOTAL] if s.labels["route"] == "/c"]}


def _day(engine: Engine) -> dict[str, tuple[float, float]]:
    """(good, total) of the 1d window per route."""
    out = {}
    for st in engine.snapshot.slos:
        day = st.window(86400.0)
        if day is not None:
            out[st.slo.group["route"]] = (day.good, day.total)
    return out


def _sample(collector: SnapshotCollector, name: str, **labels: str) -> float | None:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry.get_sample_value(name, labels)


# ------------------------------------------------------------------ identity


@pytest.mark.parametrize("group", [{"route": "/a"}, {"route": 'a"b\\c\nd', "code": ""},
                                   {"b": "2", "a": "1"}])
def test_group_key_round_trips(group: dict[str, str]) -> None:
    """A group instance's key parses back to the same identity, escapes included."""
    ident = SLOId.of("api", "availability", group)
    assert SLOId.parse(ident.key) == ident
    assert ident.definition == SLOId("api", "availability")


def test_group_key_format() -> None:
    """Labels sorted by name, values escaped as in PromQL, after the SLO name."""
    ident = SLOId.of("api", "avail", {"route": '/x"y', "code": "5"})
    assert ident.key == 'api/avail{code="5",route="/x\\"y"}'


def test_ungrouped_keys_are_unchanged() -> None:
    """An ungrouped key stays service/slo; text that is no canonical group stays in the name."""
    assert SLOId.parse("api/avail").key == "api/avail"
    odd = SLOId.parse("api/av{il}")
    assert (odd.name, odd.group) == ("av{il}", ())


# ------------------------------------------------------------------ splitting


def test_one_read_splits_exact_increases_by_group() -> None:
    """One read per selector gives every group its own exact events.

    /a: 60 increases of 10 total, 1 bad -> good 540, total 600; /b: 300 of
    300 (no bad series); /c: 0 of 120.
    """
    source = RouteSource(TRAFFIC)
    slo = parse_config(_config(), "t.yaml").slos[0]
    groups = Groups(slo)
    found = fetch_grouped_events(source, slo, since=START - 1, until=NOW, series_state={},
                                 resolution=60.0, overlap=0.0, chunk=86400.0,
                                 admit=groups.admit)
    sums = {g: tuple(sum(d[i] for d in b.deltas.values()) for i in (0, 1))
            for g, b in found.groups.items()}
    assert sums == {("/a",): (540.0, 600.0), ("/b",): (300.0, 300.0), ("/c",): (0.0, 120.0)}
    assert source.reads == {BAD: 1, TOTAL: 1}
    assert set(found.groups[("/a",)].series) == {
        'bad|{code="500",route="/a"}', 'total|{code="200",route="/a"}',
        'total|{code="500",route="/a"}'}


def test_series_without_the_label_go_to_the_empty_group() -> None:
    """A series lacking a group label counts in the group with that label empty, as `by` does.

    The unlabelled series adds 3 per minute: 60 x 3 = 180 total.
    """
    source = RouteSource({}, extra=[Series({}, _counter(3, NOW))])
    slo = parse_config(_config(), "t.yaml").slos[0]
    found = fetch_grouped_events(source, slo, since=START - 1, until=NOW, series_state={},
                                 resolution=60.0, overlap=0.0, chunk=86400.0,
                                 admit=Groups(slo).admit)
    assert list(found.groups) == [("",)]
    assert sum(d[1] for d in found.groups[("",)].deltas.values()) == 180.0


# ------------------------------------------------------------------ the engine


def test_engine_evaluates_one_slo_per_group_with_one_read_per_selector(
        store: EventStore) -> None:
    """Each route is its own SLO with exact values; a read asks each selector once.

    /a: good 540 of 600; /b: 300 of 300; /c: 0 of 120 (the 1d window). The
    backfill spans 1d plus a 10 min lead, so two 1d chunks: two reads per
    selector for all three groups, then one per cycle.
    """
    source = RouteSource(TRAFFIC)
    clock = [NOW]
    engine = _engine(store, source, clock=clock)
    try:
        engine.evaluate()
        assert source.reads == {BAD: 2, TOTAL: 2}
        clock[0] = NOW + 30
        engine.evaluate()
    finally:
        engine.close()
    assert _day(engine) == {"/a": (540.0, 600.0), "/b": (300.0, 300.0), "/c": (0.0, 120.0)}
    assert source.reads == {BAD: 3, TOTAL: 3}
    keys = {st.slo.key for st in engine.snapshot.slos}
    assert keys == {f'api/availability{{route="{r}"}}' for r in TRAFFIC}
    assert engine.snapshot.complete


def test_group_labels_are_on_every_series(store: EventStore) -> None:
    """/metrics names each group by its label; slo_groups counts them.

    /c: all 2 requests per minute fail, so the 1h SLI is 0.
    """
    snapshot = _evaluated(store)
    collector = SnapshotCollector(lambda: snapshot)
    assert _sample(collector, "slo_sli_ratio", service="api", slo="availability",
                   route="/c", window="1h") == 0.0
    assert _sample(collector, "slo_groups", service="api", slo="availability") == 3.0
    assert _sample(collector, "slo_groups_dropped", service="api", slo="availability") == 0.0


def test_cap_drops_groups_reports_them_and_stores_nothing_of_theirs(
        store: EventStore) -> None:
    """Over max_groups, further groups are not created, counted and logged once.

    Groups are admitted as the read first sees them: the bad selector
    first (/a, /c), so with max_groups 2 the total selector's /b is dropped.
    """
    source = RouteSource(TRAFFIC)
    engine = _engine(store, source, max_groups=2)
    try:
        with capture_logs() as logs:
            engine.evaluate()
            engine.evaluate()
    finally:
        engine.close()
    assert set(_day(engine)) == {"/a", "/c"}
    assert not any("/b" in key for key in store.slo_keys())
    collector = SnapshotCollector(lambda: engine.snapshot)
    assert _sample(collector, "slo_groups", service="api", slo="availability") == 2.0
    assert _sample(collector, "slo_groups_dropped", service="api", slo="availability") == 1.0
    assert _sample(collector, "slo_groups_max", service="api", slo="availability") == 2.0
    limits = [e for e in logs if e["event"].startswith("group_limit")]
    assert limits == [{
        "event": "group_limit_reached", "log_level": "warning", "service": "api",
        "slo": "availability", "groups": 2, "max_groups": 2, "dropped": 1,
        "examples": ['{route="/b"}'],
    }]


def test_cap_state_is_reminded_and_cleared() -> None:
    """A lasting limit is logged again after REMIND_EVERY; its end is logged once."""
    slo = parse_config(_config(1), "t.yaml").slos[0]
    with capture_logs() as logs:
        groups = Groups(slo, [("/a",)], log=structlog.get_logger())
        groups.note_read([("/b",)], 0.0)
        groups.note_read([("/b",)], 10.0)
        groups.note_read([("/b",)], 700.0)
        groups.note_read([], 710.0)
    assert [e["event"] for e in logs] == [
        "group_limit_reached", "group_limit_still_reached", "group_limit_cleared"]
    assert logs[-1]["limited_for"] == 710


def test_groups_come_back_from_the_store_with_their_history(tmp_path: Path) -> None:
    """After a restart each group exists before any read, with its stored events.

    Values as in the first test: /a 540 of 600 over the day.
    """
    with SQLiteStore(tmp_path, 60.0) as store:
        engine = _engine(store, RouteSource(TRAFFIC))
        engine.evaluate()
        engine.close()
    with SQLiteStore(tmp_path, 60.0) as store:
        silent = RouteSource({})
        engine = _engine(store, silent, now=NOW + 60)
        try:
            before = {st.slo.group["route"] for st in engine.snapshot.slos}
            engine.evaluate()
        finally:
            engine.close()
    assert before == set(TRAFFIC)
    assert _day(engine)["/a"] == (540.0, 600.0)
    assert silent.reads == {BAD: 1, TOTAL: 1}  # the cursor held: one short read


def test_fast_path_follows_new_samples_of_a_group(store: EventStore) -> None:
    """catch_up commits the new minute and recomputes only the groups that got events.

    One more minute: /a +10 total, +1 bad -> 549 of 610; /b +5 -> 305 of 305. The
    definition is due alone, and its two selectors read one metric: one query of
    the selector covering both (``http_requests_total``), not one per selector.
    """
    source = RouteSource(TRAFFIC)
    clock = [NOW]
    engine = _engine(store, source, clock=clock)
    try:
        engine.evaluate()
        before = {st.slo.key: st.evaluated_at for st in engine.snapshot.slos}
        _next_minute_of_a_and_b(source)
        clock[0] = NOW + 61
        source.reads.clear()
        engine.catch_up()
    finally:
        engine.close()
    assert source.reads == {TOTAL: 1}
    day = _day(engine)
    assert (day["/a"], day["/b"]) == ((549.0, 610.0), (305.0, 305.0))
    after = {st.slo.key: st.evaluated_at for st in engine.snapshot.slos}
    untouched = 'api/availability{route="/c"}'
    assert after[untouched] == before[untouched]


def test_a_fast_path_second_of_a_grouped_slo_is_one_transaction(tmp_path: Path) -> None:
    """The next minute reaches routes /a and /b: the fast path commits both groups in one
    store transaction (one BEGIN), and each window holds the minute once: /a 549 of 610,
    /b 305 of 305 (as test_fast_path_follows_new_samples_of_a_group works out)."""
    store = SQLiteStore(tmp_path, 60.0)
    source = RouteSource(TRAFFIC)
    clock = [NOW]
    engine = _engine(store, source, clock=clock)
    try:
        engine.evaluate()
        _next_minute_of_a_and_b(source)
        begins: list[str] = []
        conn = store._conn  # observation only: the transactions the fast path opens
        assert conn is not None
        conn.set_trace_callback(lambda s: begins.append(s) if s.startswith("BEGIN") else None)
        clock[0] = NOW + 61
        engine.catch_up()
        assert len(begins) == 1
        day = _day(engine)
        assert (day["/a"], day["/b"]) == ((549.0, 610.0), (305.0, 305.0))
    finally:
        engine.close()
        store.close()


class _FailingStore(SQLiteStore):
    """A real store whose commits of the keys in ``failing`` fail (as on a full disk)."""

    failing: frozenset[str] = frozenset()

    def commit_many(self, commits: Sequence[Commit]) -> None:
        if any(c.slo_key in self.failing for c in commits):
            raise StoreError(f"event store {self.path}: database or disk is full")
        super().commit_many(commits)


def test_a_failed_grouped_fast_path_commit_recomputes_no_group_and_loses_nothing(
        tmp_path: Path) -> None:
    """Route /b's commit of the fast path's batch fails: no group of the definition is
    recomputed, the failure is logged at debug level, and the next full cycle counts the
    minute once: /a 549 of 610, /b 305 of 305."""
    store = _FailingStore(tmp_path, 60.0)
    source = RouteSource(TRAFFIC)
    clock = [NOW]
    engine = _engine(store, source, clock=clock)
    try:
        engine.evaluate()
        before = {st.slo.key: st.evaluated_at for st in engine.snapshot.slos}
        _next_minute_of_a_and_b(source)
        store.failing = frozenset({'api/availability{route="/b"}'})
        clock[0] = NOW + 61
        with capture_logs() as logs:
            engine.catch_up()
        assert {st.slo.key: st.evaluated_at for st in engine.snapshot.slos} == before
        assert [e["event"] for e in logs if e["event"] == "catch_up_failed"] == [
            "catch_up_failed"]
        store.failing = frozenset()
        clock[0] = NOW + 70
        engine.evaluate()
        day = _day(engine)
        assert (day["/a"], day["/b"]) == ((549.0, 610.0), (305.0, 305.0))
    finally:
        engine.close()
        store.close()


def test_instances_are_the_definition_with_group_set() -> None:
    """A group's SLO is the definition with ``group``; maintenance naming it applies."""
    slo: SLO = parse_config(_config(), "t.yaml").slos[0]
    inst = Groups(slo, [("/a",)]).instances()[0]
    assert (inst.key, inst.objective, dict(inst.group)) == (
        'api/availability{route="/a"}', slo.objective, {"route": "/a"})
    assert inst.id.definition == slo.id


def test_api_and_status_page_show_each_group(store: EventStore) -> None:
    """/api/v1/slos lists every group with its labels, in order; the page names the group."""
    snapshot = _evaluated(store)
    doc = render_slos(snapshot)
    entries = cast("list[dict[str, Any]]", doc["slos"])
    assert [(e["slo"], e["group"]) for e in entries] == [
        ("availability", {"route": r}) for r in ("/a", "/b", "/c")]
    page = render_status_page(snapshot)
    assert page.count('<span class="group">{route=&quot;/') == 3


def test_direct_alerts_of_two_groups_stay_apart(store: EventStore) -> None:
    """Each group's firing alert carries its group label, so two groups are two alerts.

    Over a 1d period the 1h/5m page factor is 0.02 x 24 h / 1 h = 0.48: /c
    (every request fails, burn rate 100) and /a (1 in 10, burn rate 10)
    page, /b (no failure) does not.
    """
    snapshot = _evaluated(store)
    alerts = implied_alerts(snapshot)
    routes = {a.labels.get("route") for a in alerts.values()}
    assert routes == {"/a", "/c"}


class LatencySource(RouteSource):
    """Histogram series per route: every minute /a observes 4 requests, 3 of them fast."""

    def __init__(self) -> None:
        super().__init__({})
        fast = 'rpc_seconds_bucket{job="api", le="0.25"}'
        self.series = {
            fast: [Series({"job": "api", "route": "/a", "le": "0.25"}, _counter(3, NOW)),
                   Series({"job": "api", "route": "/b", "le": "0.25"}, _counter(1, NOW))],
            'rpc_seconds_count{job="api"}': [
                Series({"job": "api", "route": "/a"}, _counter(4, NOW)),
                Series({"job": "api", "route": "/b"}, _counter(1, NOW))],
        }

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        assert promql == 'count by (le) (rpc_seconds_bucket{job="api"})'
        return QueryResult(result_type="vector", series=(Series({"le": "0.25"}, ((at, 2.0),)),),
                           scalar=None, stats=None, query=promql)


def test_latency_sli_is_split_by_group(store: EventStore) -> None:
    """Bucket and count series both split by route: /a 180 fast of 240, /b 60 of 60."""
    sli = "latency:\n  histogram: 'rpc_seconds{job=\"api\"}'\n  threshold: 0.25\n"
    config = parse_config(_config(sli=sli), "test.yaml")
    engine = Engine(config, store, LatencySource(), clock=lambda: NOW, max_workers=1)
    try:
        engine.evaluate()
    finally:
        engine.close()
    assert _day(engine) == {"/a": (180.0, 240.0), "/b": (60.0, 60.0)}


def test_maintenance_naming_the_slo_applies_to_every_group() -> None:
    """A maintenance window naming api/availability excludes time from each of its groups."""
    text = _config() + textwrap.dedent("""
        maintenance:
          - name: patching
            start: "2026-03-29 00:00:00"
            end: "2026-03-29 06:00:00"
            slos: [api/availability]
        """)
    config = parse_config(text, "test.yaml")
    window = config.maintenance[0]
    groups = Groups(config.slos[0], [("/a",), ("/b",)])
    assert all(window.applies_to(inst.id) for inst in groups.instances())
    assert not window.applies_to(SLOId("api", "other"))


def test_failed_reload_reclaims_every_group(store: EventStore) -> None:
    """When a reload fails, the configuration that stays claims its groups back too.

    A reload to another selector resets the groups' fingerprints; reclaiming
    puts the running definition's back on the definition and on every group.
    """
    source = RouteSource(TRAFFIC)
    running = Runtime.build(parse_config(_config(), "test.yaml"), Collaborators(
        store=store, probe_metrics=ProbeMetrics(), on_error=lambda reason: None,
        clock=lambda: NOW, client_factory=lambda cfg, stop, budget: _Closable(source)))
    try:
        running.engine.evaluate()
        mine = {st.slo.key: store.fingerprint(st.slo.key) for st in running.engine.snapshot.slos}
        mine["api/availability"] = store.fingerprint("api/availability")
        assert len(mine) == 4
        reloaded = parse_config(_config().replace(f"total: {TOTAL}", "total: other_total"),
                                "t.yaml")
        Engine(reloaded, store, source, max_workers=1).close()  # the reload's build
        assert all(store.fingerprint(k) != f for k, f in mine.items())
        running.reclaim_store()
    finally:
        running.close()
    assert {k: store.fingerprint(k) for k in mine} == mine


class _Closable(RouteSource):
    def __init__(self, source: RouteSource) -> None:
        self.__dict__.update(source.__dict__)

    def close(self) -> None:
        pass


def test_failed_read_marks_every_group_down_and_logs_once(store: EventStore) -> None:
    """A read failure is one failure of the definition: each group is down, one log event."""
    source = RouteSource(TRAFFIC)
    clock = [NOW]
    engine = _engine(store, source, clock=clock)

    def broken(selector: str, start: float, end: float) -> list[Series]:
        raise QueryTimeout("prometheus did not answer", query=selector)

    try:
        engine.evaluate()
        source.raw_samples = broken  # type: ignore[method-assign]
        clock[0] = NOW + 30
        with capture_logs() as logs:
            engine.evaluate()
    finally:
        engine.close()
    statuses = engine.snapshot.slos
    assert len(statuses) == 3
    error = f"prometheus did not answer (query: {BAD})"
    assert [(st.up, st.error) for st in statuses] == [(False, error)] * 3
    assert _day(engine)["/a"] == (540.0, 600.0)  # the last values stay shown
    failed = [e for e in logs if e["event"] == "query_failed"]
    assert [(e["service"], e["slo"]) for e in failed] == [("api", "availability")]


def test_lowered_cap_keeps_the_first_groups_and_retires_the_rest(tmp_path: Path) -> None:
    """Restarted with max_groups 2, the first two groups in label order stay; /c is retired."""
    with SQLiteStore(tmp_path, 60.0) as store:
        engine = _engine(store, RouteSource(TRAFFIC))
        engine.evaluate()
        engine.close()
    with SQLiteStore(tmp_path, 60.0) as store:
        engine = _engine(store, RouteSource({}), max_groups=2)
        engine.close()
        retired = set(store.retired())
    assert {st.slo.group["route"] for st in engine.snapshot.slos} == {"/a", "/b"}
    assert retired == {'api/availability{route="/c"}'}


def test_reading_a_template_grouped_is_refused() -> None:
    """A grouped template SLI (which the config rejects) is refused by the reader too."""
    slo = dataclasses.replace(parse_config(_config(), "t.yaml").slos[0],
                              sli=RatioSLI(total=Template("sum(increase(t[{{.window}}]))"),
                                           bad=Selector(BAD)))
    with pytest.raises(ValueError, match="only ratio SLIs of plain selectors"):
        fetch_grouped_events(RouteSource({}), slo, since=START, until=NOW, series_state={},
                             resolution=60.0, overlap=0.0, chunk=86400.0,
                             admit=Groups(slo).admit)


def test_a_group_label_named_service_is_exported_as_exported_service(
        store: EventStore) -> None:
    """Grouped by ``service`` (as Pyrra's connect-go example is), the series keep the
    SLO's own ``service`` and carry the group's as ``exported_service``; the store key
    and the API keep the series' own label name (60 minutes x 5 requests, none
    failing: 300 good)."""
    source = RouteSource({})
    source.series = {BAD: [], TOTAL: [Series({"service": "cart.v1"}, _counter(5, NOW))]}
    text = _config().replace("group_by: [route]", "group_by: [service]")
    engine = Engine(parse_config(text, "test.yaml"), store, source, clock=lambda: NOW,
                    max_workers=1)
    try:
        engine.evaluate()
    finally:
        engine.close()
    (status,) = engine.snapshot.slos
    assert status.slo.key == 'api/availability{service="cart.v1"}'
    collector = SnapshotCollector(lambda: engine.snapshot)
    assert _sample(collector, "slo_events", service="api", slo="availability",
                   exported_service="cart.v1", window="1d", result="good") == 300.0
    entries = cast("list[dict[str, Any]]", render_slos(engine.snapshot)["slos"])
    assert entries[0]["group"] == {"service": "cart.v1"}
