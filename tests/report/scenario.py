"""A small week of stored events whose report figures are worked out by hand.

The week is ISO week 2026-W10 in UTC: Monday 2026-03-02 00:00 to Monday
2026-03-09 00:00, 10,080 one-minute buckets, all measured. One maintenance
window (every service) covers Thursday 2026-03-05 02:00 to 04:00: 7,200 s,
120 buckets.

* ``checkout/availability`` (occurrences, objective 99 %, SLA 99 % per week
  with credits 10 % below 99, 25 % below 95, 50 % below 90) has events in
  three buckets only: Tue 10:00 990 good of 1,000; Wed 12:00 900 of 1,000;
  Thu 03:00 (in maintenance) 0 of 100.
* ``checkout/uptime`` (timeslices: 1 min, target 95 %, objective 99.9 %)
  has 10 of 10 good in every minute, except Tue 10:00 with 95 of 100
  (exactly at the target: good) and Wed 12:00 with 94 of 100 (bad).
* ``web/home`` is a probe SLO the store holds nothing for.
* ``shop/journey`` is a composite (all_good) of the two checkout SLOs,
  objective 99 %.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from slo_exporter.model import (
    SLO,
    Budgeting,
    CalendarPeriod,
    CompositeComponent,
    CompositeSLI,
    Config,
    HTTPProbe,
    MaintenanceWindow,
    ProbeSLI,
    RatioSLI,
    Selector,
    Service,
    SLOId,
    Timeslices,
)
from slo_exporter.sla import SLA, CreditTier
from slo_exporter.store import SQLiteStore

RES = 60.0
START = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
END = datetime(2026, 3, 9, tzinfo=UTC).timestamp()
TUE_10 = datetime(2026, 3, 3, 10, tzinfo=UTC).timestamp()
WED_12 = datetime(2026, 3, 4, 12, tzinfo=UTC).timestamp()
THU_02 = datetime(2026, 3, 5, 2, tzinfo=UTC).timestamp()
THU_03 = datetime(2026, 3, 5, 3, tzinfo=UTC).timestamp()
THU_04 = datetime(2026, 3, 5, 4, tzinfo=UTC).timestamp()
#: after the week: the report covers it whole
NOW = datetime(2026, 3, 20, tzinfo=UTC).timestamp()

WEEK = CalendarPeriod("week", "UTC")
RATIO = RatioSLI(total=Selector("http_requests_total"),
                 bad=Selector('http_requests_total{code=~"5.."}'))

AVAILABILITY = SLO(
    service="checkout", name="availability", objective=0.99, period=WEEK, sli=RATIO,
    description="Orders <placed> & paid",
    sla=SLA(
        objective=Decimal("99"),
        tiers=(
            CreditTier(Decimal("99"), Decimal("10")),
            CreditTier(Decimal("95"), Decimal("25")),
            CreditTier(Decimal("90"), Decimal("50")),
        ),
        period="week",
    ),
)
UPTIME = SLO(
    service="checkout", name="uptime", objective=0.999, period=WEEK,
    sli=RatioSLI(total=Selector("up_requests_total"), bad=Selector("up_errors_total")),
    budgeting=Budgeting(Timeslices(slice=60.0, target=Decimal("0.95"))),
)
HOME = SLO(
    service="web", name="home", objective=0.99, period=WEEK,
    sli=ProbeSLI(HTTPProbe(url="http://127.0.0.1:9/")),
)
JOURNEY = SLO(
    service="shop", name="journey", objective=0.99, period=WEEK,
    sli=CompositeSLI("all_good", (
        CompositeComponent(SLOId("checkout", "availability")),
        CompositeComponent(SLOId("checkout", "uptime")),
    )),
)
PATCHING = MaintenanceWindow(
    name="patching",
    start=datetime(2026, 3, 5, 2, tzinfo=UTC),
    end=datetime(2026, 3, 5, 4, tzinfo=UTC),
    reason="OS <patching>",
)


def config(*slos: SLO, maintenance: tuple[MaintenanceWindow, ...] = (PATCHING,)) -> Config:
    """A config of ``slos`` (default: all four), grouped by service in order."""
    chosen = slos or (AVAILABILITY, UPTIME, HOME, JOURNEY)
    services: dict[str, list[SLO]] = {}
    for slo in chosen:
        services.setdefault(slo.service, []).append(slo)
    return Config(
        services=tuple(Service(name, tuple(s)) for name, s in services.items()),
        maintenance=maintenance,
    )


def fill(path: Path) -> SQLiteStore:
    """A writable store at ``path`` holding the week (left open: the caller closes it)."""
    store = SQLiteStore(path, RES)
    for slo in (AVAILABILITY, UPTIME):
        store.ensure_fingerprint(slo.key, slo.source_fingerprint, keep_events=False)
    store.commit(
        AVAILABILITY.key,
        {TUE_10: (990.0, 1000.0), WED_12: (900.0, 1000.0), THU_03: (0.0, 100.0)},
        measured=(START - 600, END + 600),
    )
    minutes = {START + i * RES: (10.0, 10.0) for i in range(int((END - START) / RES))}
    minutes[TUE_10] = (95.0, 100.0)
    minutes[WED_12] = (94.0, 100.0)
    store.commit(UPTIME.key, minutes, measured=(START - 600, END + 600))
    return store
