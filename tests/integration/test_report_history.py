"""``slo-exporter report`` against a real Prometheus holding a whole month of history.

March 2026 in Europe/Berlin: 00:00 +01:00 on the 1st to 00:00 +02:00 on
April 1st, 44,580 minutes (the clock skips 02:00-03:00 on the 29th). One
request counter per status code is written with one sample a minute (at
half past each minute, so a sample's increase is its own minute's traffic),
turned into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``
and served by a real ``prometheus`` with a long retention. The month holds:

* a partial degradation exactly at the slice target: on the 10th from 10:00
  to 12:00, 2 of 40 requests fail each minute (38 / 40 = 95 %, good),
  except 10:30-10:40 with 3 of 40 (92.5 %, bad);
* a full outage: on the 17th from 14:00 to 15:00 every request fails;
* a scrape gap: on the 20th from 08:00 to 08:30 no samples and no traffic
  (empty slices, skipped);
* a second outage, 01:30 to 03:30 local on the 29th (one hour: the clock
  jumps from 02:00 to 03:00), inside the maintenance window 01:00 to 04:00
  local, which lasts two hours for the same reason.

No store exists, so the report reads Prometheus history. Every expected
number is computed here from the generated events, not from the code
under test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from slo_exporter import cli
from tests.support.harness import backfilled_prometheus

pytestmark = pytest.mark.integration

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = 60
START = datetime(2026, 3, 1, tzinfo=BERLIN).timestamp()
END = datetime(2026, 4, 1, tzinfo=BERLIN).timestamp()
#: samples start this long before the month (baselines) and end this long after it
MARGIN = 3600

CONFIG = """\
prometheus: {{url: "{url}", timeout: 10s, retries: 1}}
storage: {{resolution: 60s}}
maintenance:
  - name: march-patching
    start: "2026-03-29 01:00:00"
    end: "2026-03-29 04:00:00"
    time_zone: Europe/Berlin
    services: [checkout]
    reason: OS patching
services:
  - name: checkout
    slos:
      - name: availability
        objective: 99.9
        calendar: {{period: month, time_zone: Europe/Berlin}}
        budgeting:
          timeslices: {{slice: 1m, target: 95}}
        sla:
          objective: 99.9
          credits:
            - {{below: 99.9, credit: 10}}
            - {{below: 99.0, credit: 25}}
            - {{below: 95.0, credit: 100}}
        sli:
          ratio:
            good: http_requests_total{{code="200"}}
            total: http_requests_total
      - name: requests
        objective: 99.5
        calendar: {{period: month, time_zone: Europe/Berlin}}
        sli:
          ratio:
            good: http_requests_total{{code="200"}}
            total: http_requests_total
"""


def _local(day: int, hour: int, minute: int = 0) -> float:
    """An instant of March 2026 by Berlin wall clock (never inside the skipped hour)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).timestamp()


DEGRADED = (_local(10, 10), _local(10, 12))
DEGRADED_BAD = (_local(10, 10, 30), _local(10, 10, 40))
OUTAGE = (_local(17, 14), _local(17, 15))
GAP = (_local(20, 8), _local(20, 8, 30))
SECOND_OUTAGE = (_local(29, 1, 30), _local(29, 3, 30))
MAINTENANCE = (_local(29, 1), _local(29, 4))


def _inside(t: float, span: tuple[float, float]) -> bool:
    return span[0] <= t < span[1]


@dataclass
class Month:
    """The generated minutes: ``(minute start, good, total)``, and the OpenMetrics lines."""

    minutes: list[tuple[float, int, int]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def generate() -> Month:
    """One sample a minute per counter, from an hour before March to an hour after it."""
    month = Month()
    ok = failed = 0
    first = START - MARGIN
    for i in range(int((END + MARGIN - first) // MINUTE)):
        minute = first + i * MINUTE
        if _inside(minute, GAP):
            month.minutes.append((minute, 0, 0))
            continue  # nothing scraped and nothing served
        total = 20 + i % 7  # some variation, never zero
        bad = 0
        if _inside(minute, DEGRADED):
            total, bad = 40, 3 if _inside(minute, DEGRADED_BAD) else 2
        if _inside(minute, OUTAGE) or _inside(minute, SECOND_OUTAGE):
            bad = total
        ok += total - bad
        failed += bad
        month.minutes.append((minute, total - bad, total))
        at = minute + 30
        month.lines.append(f'http_requests_total{{code="200"}} {ok} {at:.0f}')
        month.lines.append(f'http_requests_total{{code="500"}} {failed} {at:.0f}')
    month.lines = [
        "# HELP http_requests Requests served.",
        "# TYPE http_requests counter",
        *month.lines,
        "# EOF",
    ]
    return month


@dataclass(frozen=True)
class Expected:
    """The month's figures, worked out from the generated minutes."""

    good_slices: int
    bad_slices: int
    excluded_slices: int
    empty_slices: int
    good_events: int
    bad_events: int
    excluded_events: int
    worst_date: str
    worst_achieved: float


def expected(month: Month) -> Expected:
    """Judge every minute of March as the contract says, independently of the exporter."""
    slices = {"good": 0, "bad": 0, "excluded": 0, "empty": 0}
    events = {"good": 0, "bad": 0, "excluded": 0}
    per_day: dict[str, list[int]] = {}
    for minute, good, total in month.minutes:
        if not START <= minute < END:
            continue
        if MAINTENANCE[0] < minute + MINUTE and minute < MAINTENANCE[1]:
            slices["excluded"] += 1
            events["excluded"] += total
            continue
        events["good"] += good
        events["bad"] += total - good
        if total == 0:
            slices["empty"] += 1
            continue
        verdict = "good" if Fraction(good, total) >= Fraction(95, 100) else "bad"
        slices[verdict] += 1
        day = datetime.fromtimestamp(minute, BERLIN).date().isoformat()
        tally = per_day.setdefault(day, [0, 0])
        tally[0 if verdict == "good" else 1] += 1
    worst = min(per_day.items(), key=lambda kv: (kv[1][0] / sum(kv[1]), kv[0]))
    return Expected(
        good_slices=slices["good"], bad_slices=slices["bad"],
        excluded_slices=slices["excluded"], empty_slices=slices["empty"],
        good_events=events["good"], bad_events=events["bad"],
        excluded_events=events["excluded"],
        worst_date=worst[0], worst_achieved=worst[1][0] / sum(worst[1]),
    )


@pytest.fixture(scope="module")
def month() -> Month:
    return generate()


@pytest.fixture(scope="module")
def prometheus(month: Month, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus holding the month, with a retention that keeps it."""
    with backfilled_prometheus(tmp_path_factory.mktemp("march"), month.lines) as server:
        yield server.url


@pytest.fixture(scope="module")
def report(prometheus: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``slo-exporter report --period 2026-03 --format json`` with no store."""
    base = tmp_path_factory.mktemp("report")
    config = base / "slo.yaml"
    config.write_text(CONFIG.format(url=prometheus))
    out = base / "report.json"
    code = cli.main(["report", f"--config.file={config}",
                     f"--storage.path={base / 'no-store'}", "--period", "2026-03",
                     "--format", "json", f"--output={out}"])
    assert code == 0
    doc: dict[str, Any] = json.loads(out.read_text())
    return doc


def test_the_month_is_44580_minutes_across_the_dst_change() -> None:
    """The generated month is the calendar month of the contract."""
    assert (END - START) / MINUTE == 44_580
    assert MAINTENANCE[1] - MAINTENANCE[0] == 2 * 3600  # 01:00 to 04:00 local skips an hour
    assert SECOND_OUTAGE[1] - SECOND_OUTAGE[0] == 3600


def test_timeslices_from_prometheus_history(report: dict[str, Any], month: Month) -> None:
    """Slices, achieved, coverage, excluded time, worst day and credit tier of the month.

    Slices: 44,580 minutes - 120 in maintenance - 30 empty (scrape gap)
    = 44,430 judged; bad = 10 (92.5 % on the 10th) + 60 (outage on the
    17th) = 70; the 110 minutes at exactly 95 % are good. Achieved
    44,360 / 44,430 = 99.8424 %: under 99.9, not under 99.0, so the 10 %
    credit. Worst day: the 17th, 1,380 of 1,440 minutes. Budget: 0.1 % of
    the 44,460 slices outside maintenance, spent 70 / 44.46.
    """
    want = expected(month)
    assert (want.good_slices, want.bad_slices) == (44_360, 70)
    assert (want.excluded_slices, want.empty_slices) == (120, 30)
    entry = report["slos"][0]
    assert (entry["service"], entry["slo"], entry["commitment"]) == (
        "checkout", "availability", "sla")
    assert entry["period"] == {
        "label": "2026-03", "start": "2026-03-01T00:00:00+01:00",
        "end": "2026-04-01T00:00:00+02:00", "time_zone": "Europe/Berlin",
    }
    assert entry["source"] == "prometheus"
    assert entry["budgeting"] == "timeslices"
    assert entry["slices"] == {
        "good": want.good_slices, "bad": want.bad_slices, "excluded": want.excluded_slices,
        "unmeasured": 0, "empty": want.empty_slices,
    }
    achieved = want.good_slices / (want.good_slices + want.bad_slices)
    assert entry["achieved"] == pytest.approx(achieved, rel=1e-12)
    assert entry["met"] is False
    assert entry["coverage"] == 1.0
    assert entry["excluded_seconds"] == 7200
    assert entry["budget_spent_ratio"] == pytest.approx(70 / (0.001 * 44_460), rel=1e-9)
    assert entry["worst_day"]["date"] == want.worst_date == "2026-03-17"
    assert entry["worst_day"]["achieved"] == pytest.approx(want.worst_achieved, rel=1e-12)
    assert entry["worst_day"]["achieved"] == pytest.approx(1380 / 1440, rel=1e-12)
    assert entry["sla"] == {"objective": 0.999, "met": False, "credit_percent": 10}
    assert entry["evidence"]["verdict"] in {"missed", "inconclusive"}
    assert entry["exhaustion_at"] is None  # the month is over


def test_occurrences_from_prometheus_history(report: dict[str, Any], month: Month) -> None:
    """The events SLO over the same counters: every event counted once, maintenance apart."""
    want = expected(month)
    entry = report["slos"][1]
    assert entry["events"] == {
        "good": want.good_events, "bad": want.bad_events, "excluded": want.excluded_events,
    }
    assert entry["slices"] is None
    achieved = want.good_events / (want.good_events + want.bad_events)
    assert entry["achieved"] == pytest.approx(achieved, rel=1e-12)
    assert entry["met"] is (achieved >= 0.995)
    assert entry["source"] == "prometheus"
    assert entry["excluded_seconds"] == 7200
    assert math.isclose(entry["coverage"], 1.0)

