"""``{{.window}}`` templates count a point on a bucket boundary once, on a real Prometheus.

The exporter evaluates a template once per bucket end ``t`` and stores the
value in the bucket ``[t - 60 s, t)``. Prometheus 2 ranges are closed: with
``{{.window}}`` = ``60s`` a subquery at a minute mark holds both marks of its
minute, and a range selector holds a sample lying on ``t - 60 s``, so two
adjacent buckets both counted it (Sloth's home-wifi queries showed twice
the client-minutes). The window is ``59999ms``, so each bucket reads
``(t - 60 s, t]``.

One hour of gauges and counters sampled on the minute marks (every 15 s,
and every 60 s) is backfilled with ``promtool`` into a real ``prometheus``
whose evaluation interval (the default subquery step) is 1m; templates are
read through the real ``PrometheusClient``. Sample ``k`` (at ``start + 15 k``)
belongs to bucket ``j = (k - 1) // 4``, the bucket ``[start + 60 j, start +
60 j + 60)``; every fourth bucket (``j % 4 == 0``) is bad.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from slo_exporter import model
from slo_exporter.accounting import EventBatch, fetch_events
from slo_exporter.prometheus import PrometheusClient
from tests.support.harness import backfilled_prometheus

pytestmark = pytest.mark.integration

STEP = 15
RES = 60.0
MINUTES = 60
#: the buckets read: start + 10 min .. start + 30 min
FIRST, LAST = 10, 30


def bad(bucket: int) -> bool:
    """Every fourth bucket is bad: 0, 4, 8, ..."""
    return bucket % 4 == 0


@pytest.fixture(scope="module")
def start() -> float:
    """An hour of history ending a day ago, from a whole hour."""
    return (time.time() // 3600) * 3600 - 86400 - MINUTES * 60


@pytest.fixture(scope="module")
def client(start: float, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusClient]:
    """A real Prometheus holding the samples, every one of them on the 15 s grid of ``start``.

    ``satisfaction``: 0.4 in a bad bucket, else 0.9; ``low``: 1 in a bad
    bucket, else 0 (both every 15 s). ``requests_total`` rises by 15 every
    15 s; ``slow_total`` by 60 every 60 s, on the minute marks, and
    ``offset_total`` likewise 20 s after them.
    """
    workdir = tmp_path_factory.mktemp("template-buckets")
    lines = ["# TYPE satisfaction gauge", "# TYPE low gauge", "# TYPE requests counter",
             "# TYPE slow counter", "# TYPE offset counter"]
    for k in range(MINUTES * 60 // STEP + 1):
        ts = start + k * STEP
        is_bad = bad((k - 1) // 4)
        lines.append(f"satisfaction {0.4 if is_bad else 0.9} {ts:.0f}")
        lines.append(f"low {1 if is_bad else 0} {ts:.0f}")
        lines.append(f"requests_total {1000 + 15 * k} {ts:.0f}")
        if k % 4 == 0:
            lines.append(f"slow_total {1000 + 15 * k} {ts:.0f}")
            lines.append(f"offset_total {1000 + 15 * k} {ts + 20:.0f}")
    with backfilled_prometheus(workdir, [*sorted_families(lines), "# EOF"],
                               scrape_interval="1m") as server:
        prometheus = PrometheusClient(model.PrometheusConfig(url=server.url, timeout=30.0))
        try:
            yield prometheus
        finally:
            prometheus.close()


def sorted_families(lines: list[str]) -> list[str]:
    """OpenMetrics wants each family's samples together, after its TYPE line."""
    types = [line for line in lines if line.startswith("# TYPE")]
    samples = [line for line in lines if not line.startswith("#")]
    out: list[str] = []
    for type_line in types:
        family = type_line.split()[2]
        out.append(type_line)
        out.extend(s for s in samples if s.split()[0].split("{")[0] in (family, f"{family}_total"))
    return out


def fetch(client: PrometheusClient, sli: model.SLI, start: float) -> EventBatch:
    """The buckets FIRST..LAST - 1 of ``sli``, read in one call."""
    slo = model.SLO(service="wifi", name="s", objective=0.99,
                    period=model.RollingPeriod(86400.0), sli=sli)
    return fetch_events(client, slo, since=start + FIRST * RES, until=start + LAST * RES,
                        series_state={}, resolution=RES, overlap=0.0, chunk=86400.0)


def per_bucket(batch: EventBatch, start: float) -> dict[int, tuple[float, float]]:
    return {round((b - start) / RES): v for b, v in batch.deltas.items()}


def test_a_subquery_template_counts_each_minute_mark_once(
    client: PrometheusClient, start: float
) -> None:
    """home-wifi's form: each bucket holds the one mark at its end, so 20 buckets count
    20 client-minutes (not 2 x 20 - 1 = 39), 5 of them bad (buckets 12, 16, ..., 28)."""
    sli = model.RatioSLI(
        bad=model.Template("sum_over_time(count(satisfaction < 0.5)[{{.window}}:])"),
        total=model.Template("sum_over_time(count(satisfaction)[{{.window}}:])"),
    )
    got = per_bucket(fetch(client, sli, start), start)
    assert got == {j: (0.0 if bad(j) else 1.0, 1.0) for j in range(FIRST, LAST)}
    assert sum(total for _, total in got.values()) == 20


def test_a_range_template_counts_each_sample_once(
    client: PrometheusClient, start: float
) -> None:
    """A range selector holds the 4 samples of (t - 60 s, t], not the 5 of [t - 60 s, t]:
    a bad bucket is 4 of 4 bad, the bucket after it 0 of 4 (not 1 of 5)."""
    sli = model.RatioSLI(
        bad=model.Template("sum(sum_over_time(low[{{.window}}]))"),
        total=model.Template("sum(count_over_time(low[{{.window}}]))"),
    )
    got = per_bucket(fetch(client, sli, start), start)
    assert got == {j: (0.0 if bad(j) else 4.0, 4.0) for j in range(FIRST, LAST)}


def test_a_raw_ratio_is_the_ratio_of_its_own_bucket(
    client: PrometheusClient, start: float
) -> None:
    """Each bucket's error ratio is 1 (bad) or 0, never 1/5 from its neighbour's sample:
    5 of the 20 buckets are bad, the window SLI is (20 - 5) / 20 = 0.75."""
    sli = model.RawRatioSLI(model.Template(
        "sum(sum_over_time(low[{{.window}}])) / sum(count_over_time(low[{{.window}}]))"), "bad")
    got = per_bucket(fetch(client, sli, start), start)
    assert got == {j: (0.0 if bad(j) else 1.0, 1.0) for j in range(FIRST, LAST)}
    assert sum(good for good, _ in got.values()) / len(got) == 0.75


def test_increase_over_a_15s_scrape_extrapolates_four_samples(
    client: PrometheusClient, start: float
) -> None:
    """increase() sees 4 samples 45 s apart (45 requests) and extrapolates them to the
    59.999 s range: 45 x 59.999 / 45 = 59.999 of each minute's 60 requests."""
    sli = model.RatioSLI(
        good=model.Template("sum(increase(requests_total[{{.window}}]))"),
        total=model.Template("sum(increase(requests_total[{{.window}}]))"),
    )
    got = per_bucket(fetch(client, sli, start), start)
    assert sorted(got) == list(range(FIRST, LAST))
    assert all(v == pytest.approx((59.999, 59.999), rel=1e-9) for v in got.values())


def test_increase_over_a_60s_scrape_has_no_value_on_or_off_the_marks(
    client: PrometheusClient, start: float
) -> None:
    """With one sample a minute each bucket holds one sample, whether the samples lie on
    the minute marks or 20 s after them: increase() needs two, so nothing is counted."""
    for counter in ("slow_total", "offset_total"):
        sli = model.RatioSLI(
            good=model.Template(f"sum(increase({counter}[{{{{.window}}}}]))"),
            total=model.Template(f"sum(increase({counter}[{{{{.window}}}}]))"),
        )
        batch = fetch(client, sli, start)
        assert batch.deltas == {}, counter
        assert batch.rejected == ()
