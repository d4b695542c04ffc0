"""Report figures from a small store, and which source each SLO's entry comes from."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from slo_exporter.model import PrometheusConfig
from slo_exporter.prometheus import PrometheusClient
from slo_exporter.report import Report, Request, build_report
from slo_exporter.store import SQLiteStore
from tests.report import scenario as s
from tests.support.harness import free_port

WEEK = Request.parse("2026-W10", None, None, None)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    """The scenario's week read from its store, days included (built once: it is read-only)."""
    writer = s.fill(tmp_path_factory.mktemp("store"))
    yield _report(writer, days=True)
    writer.close()


def _report(store: SQLiteStore | None, **kwargs: object) -> Report:
    return build_report(s.config(), WEEK, store=store, prometheus=None, now=s.NOW,
                        log=structlog.get_logger(), **kwargs)  # type: ignore[arg-type]


def test_occurrences_figures_from_the_store(week: Report) -> None:
    """availability: 1,890 good of 2,000 counted = 94.5 %; the 100 in maintenance drop out.

    good = 990 + 900 = 1,890; bad = 10 + 100 = 110; budget = 1 % of 2,000 = 20
    events, spent 110 / 20 = 5.5; worst day Wed 900 / 1,000 = 0.9; SLA 94.5 %
    is under 95 and not under 90: credit 25 %.
    """
    f = week.entries[0].figures
    assert (f.good_events, f.bad_events, f.excluded_events) == (1890, 110, 100)
    assert f.achieved == pytest.approx(0.945, abs=1e-12)
    assert f.met is False
    assert f.budget_spent_ratio == pytest.approx(5.5)
    assert (f.coverage, f.excluded_seconds) == (1.0, 7200)
    assert f.worst_day is not None
    assert f.worst_day.date == "2026-03-04"
    assert f.worst_day.achieved == pytest.approx(0.9)
    assert f.sla is not None
    assert f.sla.met is False
    assert f.sla.credit_percent == Decimal(25)
    assert f.sla.label == "2026-W10"
    assert f.evidence is not None
    assert f.evidence.verdict == "missed"
    assert f.source == "store"


def test_timeslice_figures_from_the_store(week: Report) -> None:
    """uptime: 10,080 minutes - 120 excluded - 1 bad = 9,959 good; 95 of 100 is at the target.

    achieved = 9,959 / 9,960; budget = 0.1 % of 9,960 open slices, spent
    1 / 9.96; the worst day is Wednesday, 1,439 of 1,440 minutes.
    """
    f = week.entries[1].figures
    assert f.slices is not None
    assert (f.slices.good, f.slices.bad, f.slices.excluded) == (9959, 1, 120)
    assert (f.slices.unmeasured, f.slices.empty) == (0, 0)
    assert f.achieved == pytest.approx(9959 / 9960)
    assert f.met is True
    assert f.budget_spent_ratio == pytest.approx(1 / 9.96)
    assert f.worst_day is not None
    assert f.worst_day.date == "2026-03-04"
    assert f.worst_day.achieved == pytest.approx(1439 / 1440)


def test_probe_the_store_lacks_is_unmeasured(week: Report) -> None:
    """web/home has no stored events and cannot be re-measured: no achieved, coverage 0."""
    f = week.entries[2].figures
    assert (f.source, f.achieved, f.met, f.coverage) == ("unmeasured", None, None, 0.0)


def test_composite_is_read_from_its_components(week: Report) -> None:
    """journey (all_good): only Wednesday 12:00 is bad among 10,080 - 120 open minutes."""
    f = week.entries[3].figures
    assert (f.good_events, f.bad_events, f.excluded_events) == (9959, 1, 120)
    assert f.source == "store"


def test_days_follow_the_entry(week: Report) -> None:
    """Asked for days, each SLO gets one per local day; the worst matches worst_day."""
    entry = week.entries[0]
    assert [d.date for d in entry.days] == [f"2026-03-0{n}" for n in range(2, 9)]
    achieved = {d.date: d.achieved for d in entry.days}
    assert achieved["2026-03-03"] == pytest.approx(0.99)
    assert achieved["2026-03-04"] == pytest.approx(0.9)
    assert achieved["2026-03-05"] is None  # its only events were in maintenance
    assert [d.met for d in entry.days][1:3] == [True, False]


def test_without_a_store_a_failed_prometheus_read_is_reported(tmp_path: Path) -> None:
    """No store and Prometheus unreachable: Prometheus SLOs fall back to unmeasured, listed."""
    cfg = PrometheusConfig(url=f"http://127.0.0.1:{free_port()}", timeout=1.0, retries=1)
    clients: list[PrometheusClient] = []

    def client() -> PrometheusClient:
        clients.append(PrometheusClient(cfg))
        return clients[-1]

    with capture_logs() as logs:
        report = build_report(s.config(s.AVAILABILITY, s.HOME), WEEK, store=None,
                              prometheus=client, now=s.NOW, log=structlog.get_logger())
    for c in clients:
        c.close()
    assert len(clients) == 1  # one client, made only because an SLO needed it
    assert [e.figures.source for e in report.entries] == ["unmeasured", "unmeasured"]
    assert [f.split(":")[0] for f in report.failures] == ["checkout/availability"]
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["history_read_failed"]


def test_store_with_another_definition_is_not_used(tmp_path: Path) -> None:
    """Events stored under another SLI definition are not this SLO's: Prometheus is asked."""
    writer = s.fill(tmp_path / "data")
    writer.ensure_fingerprint(s.AVAILABILITY.key, "something else", keep_events=True)
    report = build_report(s.config(s.AVAILABILITY), WEEK, store=writer, prometheus=None,
                          now=s.NOW, log=structlog.get_logger())
    writer.close()
    assert report.failures == ("checkout/availability: Prometheus is not configured",)
    # it falls back to what the store holds rather than to nothing
    assert report.entries[0].figures.source == "store"


def test_store_that_starts_after_the_period_is_not_used(tmp_path: Path) -> None:
    """A store whose history starts mid-week does not reach back: Prometheus is asked.

    Prometheus failing, the entry keeps what the store measured: Wednesday
    12:00 to the end, less the 2 h of maintenance, over the open week.
    """
    writer = SQLiteStore(tmp_path / "data", s.RES)
    writer.ensure_fingerprint(s.AVAILABILITY.key, s.AVAILABILITY.source_fingerprint,
                              keep_events=False)
    writer.commit(s.AVAILABILITY.key, {s.WED_12: (1.0, 1.0)}, measured=(s.WED_12, s.END))
    report = build_report(s.config(s.AVAILABILITY), WEEK, store=writer, prometheus=None,
                          now=s.NOW, log=structlog.get_logger())
    writer.close()
    assert len(report.failures) == 1
    assert report.entries[0].figures.coverage == pytest.approx(
        (s.END - s.WED_12 - 7200) / (s.END - s.START - 7200))


def test_time_under_alert_conditions_is_replayed(week: Report) -> None:
    """availability: the page and ticket conditions replayed at every minute of the week.

    Factors for a 604,800 s week: page 1h/5m 3.36, page 6h/30m 1.4, ticket
    1d/2h 0.7, ticket 3d/6h 0.2333. Tuesday 10:00 burns 1.0 (1 % errors of
    a 1 % budget): only the tickets, for the 6 h its 6h short window holds
    it. Wednesday 12:00 burns 10: page for the 30 min of its 30m window,
    ticket for 6 h. Thursday's maintenance bucket raises nothing.
    page = 30 min = 1,800 s; ticket = 2 x 6 h = 43,200 s.
    """
    entry = week.entries[0]
    assert dict(entry.alert_seconds) == {"page": 1800.0, "ticket": 43200.0}


def test_maintenance_keeps_an_outage_from_alerting(tmp_path: Path) -> None:
    """Without the window, Thursday's 100 failed requests would page; inside it, nothing."""
    writer = s.fill(tmp_path / "data")
    bare, covered = (
        build_report(s.config(s.AVAILABILITY, maintenance=windows), WEEK, store=writer,
                     prometheus=None, now=s.NOW, log=structlog.get_logger())
        for windows in ((), (s.PATCHING,)))
    writer.close()
    assert bare.entries[0].alert_seconds["page"] > covered.entries[0].alert_seconds["page"]


def test_at_reports_the_period_to_date_with_its_forecast(tmp_path: Path) -> None:
    """--at Wednesday 13:00: Tuesday and Wednesday counted, the budget projected and spent.

    Events so far: 1,890 good of 2,000. Open time: elapsed 2 d 13 h = 219,600 s
    of the week's 597,600 s outside maintenance, so the projected total is
    2,000 x 597,600 / 219,600 = 5,442.6 events, the budget 1 % of it = 54.43,
    and 110 bad spend 2.021 of it: already exhausted, so exhaustion_at is --at.
    """
    writer = s.fill(tmp_path / "data")
    report = build_report(s.config(s.AVAILABILITY), Request.parse(
        "2026-W10", None, None, "2026-03-04T13:00:00Z"), store=writer, prometheus=None,
        now=s.NOW, log=structlog.get_logger(), days=True)
    writer.close()
    days = report.entries[0].days
    assert [d.elapsed for d in days] == [True] * 3 + [False] * 4  # the chart keeps the week
    assert days[2].achieved == pytest.approx(0.9)  # Wednesday up to 13:00
    f = report.entries[0].figures
    at = s.WED_12 + 3600
    assert (f.at, f.end) == (at, s.END)
    assert f.achieved == pytest.approx(0.945)
    assert f.budget_spent_ratio == pytest.approx(110 / (0.01 * 2000 * 597_600 / 219_600))
    assert f.exhaustion_at == at
    assert f.excluded_seconds == 0  # Thursday's window is still ahead
