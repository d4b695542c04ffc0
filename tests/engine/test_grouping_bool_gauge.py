"""Grouped bool gauges (Pyrra's ``prometheus-probe-success``: ``bool_gauge`` grouped
by ``target``): one read of the gauge, each target's samples its own events.

The source below holds ``probe_success`` for three targets, one sample a
minute over the last hour (61 samples, the first at START): target a fails
every 4th sample (i = 0, 4, ..., 60: 16 of them), b never fails, c fails
every sample.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from slo_exporter import model
from slo_exporter.accounting import fetch_grouped_events
from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.grouping import Groups
from slo_exporter.prometheus import QueryResult, Series
from slo_exporter.store.protocol import EventStore
from tests.engine.support import NOW

GAUGE = 'probe_success{job="blackbox"}'
START = NOW - 3600.0
#: target -> the indexes of its failed samples
FAILED = {"a": range(0, 61, 4), "b": range(0), "c": range(61)}
PYRRA = (Path(__file__).parent.parent / "fixtures" / "conformance" / "pyrra" / "examples"
         / "prometheus-probe-success.yaml")


class GaugeSource:
    """Raw samples of the gauge within ``(start, end]``; reads are counted."""

    def __init__(self) -> None:
        self.reads: Counter[str] = Counter()
        self.series = [
            Series({"job": "blackbox", "target": target},
                   tuple((START + 60.0 * i, 0.0 if i in failed else 1.0) for i in range(61)))
            for target, failed in FAILED.items()
        ]

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        raise AssertionError("a bool gauge reads raw samples only")

    def query_range(self, promql: str, start: float, end: float, step: float, *,
                    stats: bool = False) -> QueryResult:
        raise AssertionError("a bool gauge reads raw samples only")

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        assert selector == GAUGE
        self.reads[selector] += 1
        out = []
        for s in self.series:
            seen = tuple((t, v) for t, v in s.samples if start < t <= end)
            if seen:
                out.append(Series(s.labels, seen))
        return out


CONFIG = f"""\
prometheus: {{url: "http://127.0.0.1:1", timeout: 1s, retries: 1}}
evaluation_interval: 10s
services:
  - name: web
    slos:
      - name: probes
        objective: 99
        window: 1d
        group_by: [target]
        max_groups: 2
        sli:
          bool_gauge: {{metric: '{GAUGE}'}}
"""


def _slo() -> model.SLO:
    return parse_config(CONFIG, "test.yaml").slos[0]


def test_pyrra_probe_success_is_a_grouped_bool_gauge() -> None:
    """The Pyrra example loads as a bool gauge grouped by target, and the native
    spelling of the same is accepted by the grouping checks."""
    pyrra = parse_config(PYRRA.read_text(), "probe-success.yaml").slos[0]
    assert isinstance(pyrra.sli, model.BoolGaugeSLI)
    assert pyrra.group_by == ("target",)
    assert _slo().group_by == ("target",)


def test_one_read_splits_the_gauge_samples_by_target() -> None:
    """Each target gets its own samples as events: a 45 good of 61, b 61 of 61;
    c, the third group, is over the cap of 2 and counts nothing.

    Read (START - 1, NOW]: 61 samples per target; a fails at i = 0, 4, ..., 60,
    16 samples, so 61 - 16 = 45 good.
    """
    slo = _slo()
    source = GaugeSource()
    found = fetch_grouped_events(source, slo, since=START - 1, until=NOW, series_state={},
                                 resolution=60.0, overlap=0.0, chunk=86400.0,
                                 admit=Groups(slo).admit)
    sums = {g: tuple(sum(d[i] for d in b.deltas.values()) for i in (0, 1))
            for g, b in found.groups.items()}
    assert sums == {("a",): (45.0, 61.0), ("b",): (61.0, 61.0)}
    assert found.dropped == {("c",)}
    assert source.reads == {GAUGE: 1}
    assert set(found.groups[("a",)].series) == {'gauge|{job="blackbox",target="a"}'}
    assert found.groups[("a",)].series['gauge|{job="blackbox",target="a"}'] == (NOW, 0.0)
    assert found.step == 60.0


def test_a_second_read_continues_each_target_without_counting_twice() -> None:
    """Read up to NOW - 30 min, then on with the kept state and a 10 min overlap:
    the two reads add up to the one read of the test above (a 45 of 61, b 61 of 61)."""
    slo = _slo()
    source = GaugeSource()
    groups = Groups(slo)
    first = fetch_grouped_events(source, slo, since=START - 1, until=NOW - 1800,
                                 series_state={}, resolution=60.0, overlap=0.0,
                                 chunk=86400.0, admit=groups.admit)
    state = {g: b.series for g, b in first.groups.items()}
    second = fetch_grouped_events(source, slo, since=NOW - 1800, until=NOW,
                                  series_state=state, resolution=60.0, overlap=600.0,
                                  chunk=86400.0, admit=groups.admit)
    sums = {
        g: tuple(sum(d[i] for batch in (first, second) if g in batch.groups
                     for d in batch.groups[g].deltas.values()) for i in (0, 1))
        for g in first.groups.keys() | second.groups.keys()
    }
    assert sums == {("a",): (45.0, 61.0), ("b",): (61.0, 61.0)}


def test_the_engine_evaluates_one_slo_per_target(store: EventStore) -> None:
    """Evaluated by the engine, each kept target is its own SLO with its exact 1d
    events (a 45 of 61, b 61 of 61), where the read used to be refused."""
    config = parse_config(CONFIG, "test.yaml")
    engine = Engine(config, store, GaugeSource(), clock=lambda: NOW, max_workers=1)
    try:
        engine.evaluate()
    finally:
        engine.close()
    day = {st.slo.group["target"]: (w.good, w.total)
           for st in engine.snapshot.slos if (w := st.window(86400.0)) is not None}
    assert day == {"a": (45.0, 61.0), "b": (61.0, 61.0)}
    assert engine.snapshot.complete
