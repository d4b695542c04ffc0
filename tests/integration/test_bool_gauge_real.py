"""A bool gauge SLI (Pyrra ``bool_gauge``) read exactly from a real Prometheus.

Two hours of ``probe_success`` for three targets, one sample every 15 s with
known outages and one sample of 0.5, are turned into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics`` and served by a real
``prometheus``. The SLO is loaded from a Pyrra spec; ``fetch_events``
through the real ``PrometheusClient`` must give, per bucket, exactly one
event per 0/1 sample and one good event per 1, whether read at once or
cycle by cycle with overlapping reads; the same spec grouped by ``target``
(as Pyrra's ``prometheus-probe-success`` example is) gives each target
exactly its own events from one read; and the daemon, given the Pyrra file
through ``include:``, exports the same 28-day figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from slo_exporter import model
from slo_exporter.accounting import EventBatch, bucket_start, fetch_events, fetch_grouped_events
from slo_exporter.config import parse_config
from slo_exporter.grouping import Groups
from slo_exporter.prometheus import PrometheusClient
from tests.support.harness import ExporterFactory, backfilled_prometheus
from tests.support.synth import ending_two_days_ago

pytestmark = pytest.mark.integration

STEP = 15
HOURS = 2
RES = 60.0
TARGETS = ("a", "b", "c")
SPEC = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: probes}
spec:
  target: '99'
  window: 4w
  indicator:
    bool_gauge:
      metric: probe_success{job="blackbox"}
"""


@dataclass
class History:
    start: float
    end: float = 0.0
    lines: list[str] = field(default_factory=list)
    #: (ts, value) of every 0/1 sample
    samples: list[tuple[float, float]] = field(default_factory=list)
    #: the same per target
    by_target: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: the timestamp of the one 0.5 sample
    odd: float = 0.0

    def expected(
        self, since: float, until: float, target: str | None = None
    ) -> dict[float, tuple[float, float]]:
        """One event per sample in (since, until] (of one target if given), good when 1,
        summed per bucket."""
        per_bucket: dict[float, tuple[float, float]] = {}
        for ts, value in self.samples if target is None else self.by_target[target]:
            if since < ts <= until:
                good, total = per_bucket.get(bucket_start(ts, RES), (0.0, 0.0))
                per_bucket[bucket_start(ts, RES)] = (good + value, total + 1)
        return per_bucket


def generate(start: float) -> History:
    """Target a fails 10 minutes in the first hour, b fails every 7th probe, c is up
    except one 0.5 sample (rejected, not counted)."""
    hist = History(start=start)
    lines = ["# HELP probe_success Whether the probe succeeded.", "# TYPE probe_success gauge"]
    for i in range(HOURS * 3600 // STEP + 1):
        ts = start + i * STEP
        for target in TARGETS:
            value = 1.0
            if target == "a" and 1200 <= i * STEP < 1800:
                value = 0.0
            if target == "b" and i % 7 == 0:
                value = 0.0
            if target == "c" and i == 100:
                value = 0.5
                hist.odd = ts
            else:
                hist.samples.append((ts, value))
                hist.by_target.setdefault(target, []).append((ts, value))
            lines.append(f'probe_success{{job="blackbox",target="{target}"}} {value:g} {ts:.0f}')
        hist.end = ts
    hist.lines = [*lines, "# EOF"]
    return hist


@pytest.fixture(scope="module")
def history() -> History:
    """Two hours ending two days ago, aligned to whole hours."""
    return generate(ending_two_days_ago(HOURS * 3600, time.time()))


@pytest.fixture(scope="module")
def prometheus(history: History, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus holding the history; the test fails if the binaries are missing."""
    workdir = tmp_path_factory.mktemp("bool-gauge-prometheus")
    with backfilled_prometheus(workdir, history.lines) as server:
        yield server.url


@pytest.fixture
def client(prometheus: str) -> Iterator[PrometheusClient]:
    c = PrometheusClient(model.PrometheusConfig(url=prometheus, timeout=30.0))
    yield c
    c.close()


def _slo() -> model.SLO:
    (slo,) = parse_config(SPEC, "probes.yaml").slos
    assert slo.sli == model.BoolGaugeSLI(model.Selector('probe_success{job="blackbox"}'))
    return slo


def _fetch(
    client: PrometheusClient,
    since: float,
    until: float,
    state: dict[str, tuple[float, float]],
    overlap: float,
) -> EventBatch:
    return fetch_events(
        client, _slo(), since=since, until=until, series_state=state,
        resolution=RES, overlap=overlap, chunk=3600.0,
    )


def test_bool_gauge_events_are_exact(client: PrometheusClient, history: History) -> None:
    """Read at once: every 0/1 sample is one event, good when 1; the 0.5 sample is rejected.

    Per target over 2 h at 15 s: 481 samples; a is down 40 of them (10 min),
    b every 7th (69), c never, and c's one 0.5 sample is left out: 1442 events,
    1442 - 40 - 69 = 1333 good.
    """
    batch = _fetch(client, history.start - 1, history.end, {}, overlap=0.0)
    assert batch.deltas == history.expected(history.start - 1, history.end)
    assert sum(t for _, t in batch.deltas.values()) == 3 * 481 - 1
    assert sum(g for g, _ in batch.deltas.values()) == 3 * 481 - 1 - 40 - 69
    (rejected,) = batch.rejected
    assert rejected.at == history.odd
    assert 'target="c"' in rejected.series
    assert batch.step == STEP


def test_cycle_by_cycle_reads_count_each_sample_once(
    client: PrometheusClient, history: History
) -> None:
    """Reads of 10 minutes that reach 2 minutes back give the same buckets as one read."""
    state: dict[str, tuple[float, float]] = {}
    total: dict[float, tuple[float, float]] = {}
    since = history.start - 1
    while since < history.end:
        until = min(since + 600, history.end)
        batch = _fetch(client, since, until, state, overlap=120.0)
        state = dict(batch.series)
        for bucket, (good, events) in batch.deltas.items():
            g, t = total.get(bucket, (0.0, 0.0))
            total[bucket] = (g + good, t + events)
        since = until
    assert total == history.expected(history.start - 1, history.end)


def test_grouped_by_target_each_target_gets_exactly_its_samples(
    client: PrometheusClient, history: History
) -> None:
    """Grouped by target, one read gives each target its own buckets, exact.

    Over 2 h at 15 s, 481 samples per target: a 481 - 40 = 441 good of 481,
    b 481 - 69 = 412 of 481, c 480 of 480 (its 0.5 sample rejected).
    """
    spec = SPEC.replace("      metric:", "      grouping: [target]\n      metric:")
    (slo,) = parse_config(spec, "probes.yaml").slos
    assert slo.group_by == ("target",)
    found = fetch_grouped_events(
        client, slo, since=history.start - 1, until=history.end, series_state={},
        resolution=RES, overlap=0.0, chunk=3600.0, admit=Groups(slo).admit,
    )
    assert set(found.groups) == {(t,) for t in TARGETS}
    for target in TARGETS:
        deltas = found.groups[(target,)].deltas
        assert deltas == history.expected(history.start - 1, history.end, target), target
    sums = {g: (sum(d[0] for d in b.deltas.values()), sum(d[1] for d in b.deltas.values()))
            for g, b in found.groups.items()}
    assert sums == {("a",): (441, 481), ("b",): (412, 481), ("c",): (480, 480)}
    (rejected,) = found.rejected
    assert rejected.at == history.odd


def test_the_daemon_exports_the_pyrra_bool_gauge_slo(
    prometheus: str, make_exporter: ExporterFactory, tmp_path: Path
) -> None:
    """A native config including the Pyrra spec: the daemon exports the exact 28d events
    (1442 probes, 1333 good: SLI 1333/1442) and burn rates for Pyrra's 4d alert window."""
    spec = tmp_path / "pyrra" / "probes.yaml"
    spec.parent.mkdir()
    spec.write_text(SPEC)
    config = {
        "prometheus": {"url": prometheus, "timeout": "10s"},
        "evaluation_interval": "30s",
        "include": [str(spec)],
    }
    exporter = make_exporter(config)
    exporter.start()
    labels = {"service": "probes", "slo": "probes", "window": "28d"}
    scrape = exporter.wait_for_scrape(
        lambda s: s.get("slo_sli_ratio", **labels) is not None,
        timeout=60, what="the 28d SLI of the Pyrra SLO",
    )
    assert scrape.value("slo_events", result="good", **labels) == 1333
    assert scrape.value("slo_events", result="bad", **labels) == 109
    assert scrape.value("slo_sli_ratio", **labels) == pytest.approx(1333 / 1442, rel=1e-12)
    assert scrape.find("slo_burn_rate", service="probes", window="4d")
