"""Which SLOs a backfill may read at hour resolution, and which selectors one SLO's
backfill may answer from another's: pure decisions, from parsed configs."""

from __future__ import annotations

import pytest

from slo_exporter import accounting, ingest
from slo_exporter.config import parse_config
from slo_exporter.model import SLO


def _slo(sli: str, extra: str = "") -> SLO:
    text = f"""
prometheus: {{url: "http://127.0.0.1:1"}}
services:
  - name: api
    slos:
      - name: s
        objective: 99.9
        window: 30d
{extra}        sli:
{sli}
"""
    return parse_config(text, "t.yaml").slos[0]


RATIO = """          ratio:
            bad: http_requests_total{job="a",code="500"}
            total: http_requests_total{job="a"}
"""


@pytest.mark.parametrize(("sli", "extra", "readable"), [
    (RATIO, "", True),
    ("""          latency:
            histogram: latency_seconds{job="a"}
            threshold: 0.3
""", "", True),
    (RATIO, "        budgeting:\n          timeslices: {slice: 1m, target: 95}\n", False),
    (RATIO, "        group_by: [route]\n", False),
    ("""          ratio:
            bad: 'sum(increase(errors_total[{{.window}}]))'
            total: 'sum(increase(requests_total[{{.window}}]))'
""", "", False),
    ("""          ratio:
            bad: '{__name__=~"errors_total|failures_total"}'
            total: requests_total
""", "", False),
    ("""          bool_gauge:
            metric: probe_success{job="a"}
""", "", False),
], ids=["ratio", "latency", "timeslices", "grouped", "template", "name-regex", "bool-gauge"])
def test_only_ungrouped_counter_slis_of_plain_selectors_budgeted_by_events_go_hourly(
        sli: str, extra: str, readable: bool) -> None:
    """Hour resolution keeps whole-hour sums exact only for counters read from plain
    selectors of one metric; timeslices need every bucket, templates and gauges count
    otherwise, a grouped SLO reads its groups together."""
    assert accounting.hourly_readable(_slo(sli, extra)) is readable


@pytest.mark.parametrize(("narrow", "wide", "within"), [
    ('m{job="a",code="500"}', 'm{job="a"}', True),
    ('m{code="500"}', "m", True),
    ('m{job="a",code=~"5.."}', 'm{job="a"}', False),  # a regex is left to Prometheus
    ('m{code="500"}', 'm{job="a"}', False),  # total's job="a" is not among bad's
    ('n{job="a",code="500"}', 'm{job="a"}', False),  # another metric
    ('m{job="a"}', 'm{job="a"}', False),  # the same selector reads once anyway
])
def test_a_selector_is_picked_from_another_only_when_it_adds_label_equalities(
        narrow: str, wide: str, within: bool) -> None:
    """``narrower_within``: every series of the narrower is one of the wider's, and a
    plain string comparison picks them."""
    assert (accounting.narrower_within(narrow, wide) is not None) is within


def test_a_backfill_cuts_its_sample_reads_on_utc_midnights() -> None:
    """Chunks of a span longer than one day end 1 ms before each UTC midnight, so
    each day's block is written once: (1,000, 3 d + 5 s] with 1 d chunks reads
    (1,000, 86,399.999], then whole days, then the last 5 s + 1 ms; the hours read
    by hour keep their edges, and a span of one chunk or less stays one read."""
    day = 86_400.0
    assert ingest._segments(1_000.0, 3 * day + 5.0, None, day) == [
        (1_000.0, day - 0.001, False), (day - 0.001, 2 * day - 0.001, False),
        (2 * day - 0.001, 3 * day - 0.001, False), (3 * day - 0.001, 3 * day + 5.0, False)]
    hourly = (7_200.0, 2 * day)
    assert ingest._segments(1_000.0, 3 * day + 5.0, hourly, day) == [
        (1_000.0, 7_199.999, False), (7_199.999, 2 * day - 0.001, True),
        (2 * day - 0.001, 3 * day - 0.001, False), (3 * day - 0.001, 3 * day + 5.0, False)]
    assert ingest._segments(1_000.0, day + 1_000.0, None, day) == [
        (1_000.0, day + 1_000.0, False)]
