"""Period figures against numbers worked out by hand: slices, projection, forecast, credits, DST."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from slo_exporter.compliance import current_figures, evidence, period_figures
from slo_exporter.model import (
    SLO,
    Budgeting,
    CalendarPeriod,
    MaintenanceWindow,
    Period,
    RatioSLI,
    RollingPeriod,
    Selector,
    Timeslices,
)
from slo_exporter.sla import SLA, CreditTier
from slo_exporter.store import SQLiteStore
from slo_exporter.timeslices import SliceCounts

KEY = "checkout/availability"
#: Monday 2026-03-02T00:00Z (2026-01-01T00:00Z = 1767225600, plus 60 days), ISO week 2026-W10
W10 = 1_767_225_600 + 60 * 86_400
#: 2026-04-01T00:00Z: 2026-01-01 plus 90 days (31 + 28 + 31)
APRIL = 1_767_225_600 + 90 * 86_400
#: March 2026 in Europe/Berlin: 03-01 00:00 CET (+1) to 04-01 00:00 CEST (+2)
MARCH_BERLIN = (APRIL - 31 * 86_400 - 3600, APRIL - 7200)
HOUR, DAY = 3600.0, 86_400.0
TIERS = (
    CreditTier(Decimal("99.9"), Decimal("10")),
    CreditTier(Decimal("99.0"), Decimal("25")),
    CreditTier(Decimal("95.0"), Decimal("100")),
)


def make_slo(
    period: Period,
    objective: float = 0.99,
    *,
    timeslices: Timeslices | None = None,
    sla: SLA | None = None,
) -> SLO:
    return SLO(
        service="checkout",
        name="availability",
        objective=objective,
        period=period,
        sli=RatioSLI(total=Selector("requests_total"), good=Selector("requests_ok_total")),
        budgeting=Budgeting(timeslices),
        sla=sla,
    )


def utc_window(start: float, end: float) -> MaintenanceWindow:
    return MaintenanceWindow(
        name="patching",
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(end, UTC),
    )


@pytest.fixture
def hourly(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path, HOUR) as store:
        yield store


@pytest.fixture
def minutely(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path, 60.0) as store:
        yield store


# ------------------------------------------------------------------ timeslices


def fill_week(store: SQLiteStore) -> None:
    """100 requests an hour over 2026-W10; hours 100-103 are neither measured nor stored.

    Hour 10 has 95 good (exactly the 95 % target: good), hour 11 has 94 (bad),
    hours 20-22 have none good (bad).
    """
    good = {10: 95.0, 11: 94.0, 20: 0.0, 21: 0.0, 22: 0.0}
    deltas = {W10 + h * HOUR: (good.get(h, 100.0), 100.0) for h in range(168) if not 100 <= h < 104}
    store.commit(KEY, deltas, measured=(W10, W10 + 100 * HOUR))
    store.commit(KEY, {}, measured=(W10 + 104 * HOUR, W10 + 168 * HOUR))


def test_a_closed_timeslice_week_matches_the_hand_count(hourly: SQLiteStore) -> None:
    """2026-W10, 1 h slices at 95 %, objective 99 %, maintenance Tue 02:30-04:00Z.

    168 slices: excluded 2 (hours 26 and 27; 02:30 touches the 02:00 slice),
    unmeasured 4 (100-103), bad 4 (11, 20, 21, 22), good 168 - 2 - 4 - 4 = 158.
    achieved = 158 / 162 = 0.97530864; budget = 4 / (0.01 * (168 - 2)) = 2.40963855.
    excluded seconds = 5400; measured = 604800 - 4*3600 - 5400 = 585000 of
    604800 - 5400 = 599400: coverage 0.97597598.
    events: 162 hours outside maintenance hold 16200, of which 5 + 6 + 300 = 311
    bad; the 2 excluded hours hold 200. Worst day Monday: 20 of 24 slices.
    SLA 158/162 = 97.5308 % is under 99.0 (not under 95.0): credit 25.
    """
    fill_week(hourly)
    slo = make_slo(
        CalendarPeriod("week"), timeslices=Timeslices(HOUR, Decimal("0.95")),
        sla=SLA(Decimal("99.9"), TIERS, period="week"),
    )
    f = period_figures(
        hourly, slo, start=W10, end=W10 + 7 * DAY, at=W10 + 7 * DAY, label="2026-W10",
        time_zone="UTC", maintenance=[utc_window(W10 + DAY + 9000, W10 + DAY + 14_400)],
    )
    assert f.slices == SliceCounts(good=158, bad=4, empty=0, excluded=2, unmeasured=4)
    assert f.achieved == pytest.approx(158 / 162)
    assert f.met is False
    assert f.budget_spent_ratio == pytest.approx(4 / (0.01 * 166))
    assert f.excluded_seconds == 5400
    assert f.measured_seconds == 585_000
    assert f.coverage == pytest.approx(585_000 / 599_400)
    assert (f.good_events, f.bad_events, f.excluded_events) == (15_889, 311, 200)
    assert f.worst_day is not None
    assert f.worst_day.date == "2026-03-02"
    assert f.worst_day.achieved == pytest.approx(20 / 24)
    assert f.exhaustion_at is None  # the week is over
    assert f.sla is not None
    assert (f.sla.label, f.sla.achieved_percent) == ("2026-W10", Decimal("97.5308"))
    assert (f.sla.met, f.sla.credit_percent) == (False, Decimal(25))


def test_the_timeslice_budget_counts_the_whole_periods_slices(hourly: SQLiteStore) -> None:
    """Tuesday 00:00 of the same week: 24 slices judged, 4 bad; the budget is the week's.

    The 2 slices maintenance excludes later that day are known in advance:
    spent = 4 / (0.01 * (168 - 2)) = 2.40963855, already over, so the
    forecast says now.
    """
    fill_week(hourly)
    slo = make_slo(CalendarPeriod("week"), timeslices=Timeslices(HOUR, Decimal("0.95")))
    at = W10 + DAY
    f = current_figures(hourly, slo, at, [utc_window(W10 + DAY + 9000, W10 + DAY + 14_400)])
    assert f.label == "2026-W10"
    assert f.slices == SliceCounts(good=20, bad=4)
    assert f.budget_spent_ratio == pytest.approx(4 / 1.66)
    assert f.exhaustion_at == at
    assert f.excluded_seconds == 0


def test_a_timeslice_forecast_walks_over_future_maintenance(hourly: SQLiteStore) -> None:
    """Hours 0-47 of W10 judged, hours 11-20 bad; a window excludes hours 60-71 (Wednesday).

    budget = (1 - 0.9) * (168 - 12) = 15.6 slices; spent = 10 / 15.6 after 48
    open hours, so at this pace it runs out after 48 * 15.6 / 10 = 74.88 open
    hours, which lies past the window's start at hour 60: W10 + (74.88 + 12) h.
    """
    bad = set(range(11, 21))
    hourly.commit(
        KEY, {W10 + h * HOUR: (0.0 if h in bad else 1.0, 1.0) for h in range(48)},
        measured=(W10, W10 + 48 * HOUR),
    )
    slo = make_slo(CalendarPeriod("week"), 0.9, timeslices=Timeslices(HOUR, Decimal("0.95")))
    window = utc_window(W10 + 60 * HOUR, W10 + 72 * HOUR)
    f = current_figures(hourly, slo, W10 + 48 * HOUR, [window])
    assert f.slices == SliceCounts(good=38, bad=10)
    assert f.budget_spent_ratio == pytest.approx(10 / 15.6)
    assert f.exhaustion_at == pytest.approx(W10 + (74.88 + 12) * HOUR)


# ----------------------------------------------------------------- occurrences


def fill_april(store: SQLiteStore, first: tuple[float, float] = (990, 1000)) -> None:
    """1000 requests on April 1st (10 bad) and 2000 on the 3rd (10 bad), all three days measured."""
    store.commit(KEY, {APRIL: first, APRIL + 2 * DAY: (1990.0, 2000.0)},
                 measured=(APRIL, APRIL + 3 * DAY))


def test_a_running_month_projects_its_events_to_the_whole_month(minutely: SQLiteStore) -> None:
    """April (30 days, UTC) after 3 days: 3000 events, 20 bad, objective 99.9 %.

    projected = 3000 * 30 / 3 = 30000 events; budget = 0.001 * 30000 = 30 bad;
    spent = 20 / 30 = 0.6667. At that pace the budget lasts 3 / 0.6667 = 4.5
    days: exhaustion at April 1st + 4.5 days. Worst day April 1st: 990/1000.
    """
    fill_april(minutely)
    f = current_figures(minutely, make_slo(CalendarPeriod("month"), 0.999), APRIL + 3 * DAY)
    assert (f.label, f.start, f.end) == ("2026-04", APRIL, APRIL + 30 * DAY)
    assert (f.good_events, f.bad_events) == (2980, 20)
    assert f.achieved == pytest.approx(2980 / 3000)
    assert f.met is False
    assert f.budget_spent_ratio == pytest.approx(20 / 30)
    assert f.exhaustion_at == pytest.approx(APRIL + 4.5 * DAY)
    assert f.coverage == 1.0
    assert f.worst_day is not None
    assert f.worst_day.date == "2026-04-01"
    assert f.worst_day.achieved == pytest.approx(0.99)


def test_future_maintenance_shrinks_the_projection_and_delays_the_forecast(
    minutely: SQLiteStore,
) -> None:
    """As above with a window over April 5th (future): 29 open days.

    projected = 3000 * 29 / 3 = 29000; spent = 20 / 29 = 0.68966; the budget
    lasts 3 * 29 / 20 = 4.35 open days, i.e. to April 5th 08:24, which the
    window pushes one day on: April 1st + 5.35 days.
    """
    fill_april(minutely)
    window = utc_window(APRIL + 4 * DAY, APRIL + 5 * DAY)
    f = current_figures(minutely, make_slo(CalendarPeriod("month"), 0.999), APRIL + 3 * DAY,
                        [window])
    assert f.budget_spent_ratio == pytest.approx(20 / 29)
    assert f.exhaustion_at == pytest.approx(APRIL + 5.35 * DAY)
    assert f.excluded_seconds == 0  # not elapsed yet


def test_a_closed_month_uses_its_plain_total(minutely: SQLiteStore) -> None:
    """April, over, with the same events: spent = 20 / (0.001 * 3000) = 6.6667, no forecast.

    Coverage is 3 measured days of 30: 0.1; achieved is judged on them only.
    """
    fill_april(minutely)
    f = period_figures(
        minutely, make_slo(CalendarPeriod("month"), 0.999), start=APRIL, end=APRIL + 30 * DAY,
        at=APRIL + 30 * DAY, label="2026-04", time_zone="UTC",
    )
    assert f.budget_spent_ratio == pytest.approx(20 / 3)
    assert f.exhaustion_at is None
    assert f.coverage == pytest.approx(0.1)
    assert f.achieved == pytest.approx(2980 / 3000)


def test_a_rolling_window_is_whole_and_forecasts_only_an_overspent_budget(
    minutely: SQLiteStore,
) -> None:
    """A 3-day window holding the same days: spent = 20 / (0.001 * 3000) = 6.67: out now."""
    fill_april(minutely)
    at = APRIL + 3 * DAY - 30
    f = current_figures(minutely, make_slo(RollingPeriod(3 * DAY), 0.999), at)
    assert (f.label, f.start, f.end, f.time_zone) == ("3d", APRIL, APRIL + 3 * DAY, "UTC")
    assert f.budget_spent_ratio == pytest.approx(20 / 3)
    assert f.exhaustion_at == at
    relaxed = current_figures(minutely, make_slo(RollingPeriod(3 * DAY), 0.99), at)
    assert relaxed.budget_spent_ratio == pytest.approx(20 / 30)
    assert relaxed.exhaustion_at is None


def test_events_in_buckets_touched_by_maintenance_are_excluded(minutely: SQLiteStore) -> None:
    """A window 00:00:30-00:01:00 on April 1st touches the first bucket: its 1000 events drop out.

    Left: 2000 events, 10 bad: achieved 0.995; excluded seconds 30.
    """
    fill_april(minutely)
    f = current_figures(minutely, make_slo(CalendarPeriod("month"), 0.999), APRIL + 3 * DAY,
                        [utc_window(APRIL + 30, APRIL + 60)])
    assert (f.good_events, f.bad_events, f.excluded_events) == (1990, 10, 1000)
    assert f.achieved == pytest.approx(0.995)
    assert f.excluded_seconds == 30


def test_nothing_elapsed_means_nothing_measured(minutely: SQLiteStore) -> None:
    """Before the period starts, coverage, achieved, met and the budget are None."""
    f = period_figures(
        minutely, make_slo(CalendarPeriod("month")), start=APRIL, end=APRIL + 30 * DAY,
        at=APRIL - 1, label="2026-04", time_zone="UTC",
    )
    assert (f.coverage, f.achieved, f.met, f.budget_spent_ratio) == (None, None, None, None)
    assert (f.worst_day, f.evidence, f.exhaustion_at) == (None, None, None)


# --------------------------------------------------------------------- credits


@pytest.mark.parametrize(
    ("good", "percent", "credit"),
    [(9900, "99.0000", 10), (9899, "98.9900", 25), (9990, "99.9000", 0), (9500, "95.0000", 25)],
)
def test_credit_exactly_on_a_tier_boundary_is_not_below_it(
    minutely: SQLiteStore, good: float, percent: str, credit: int
) -> None:
    """9900 of 10000 is 99.0000 %, not below 99.0: the 'below 99.9' row (10 %), not 25 %.

    9899 -> 98.9900 is below 99.0 (25 %); 9990 -> 99.9000 meets 99.9 (0 %);
    9500 -> 95.0000 is not below 95.0 (25 %, not 100 %).
    """
    minutely.commit(KEY, {APRIL: (float(good), 10_000.0)}, measured=(APRIL, APRIL + 30 * DAY))
    slo = make_slo(CalendarPeriod("month"), 0.999, sla=SLA(Decimal("99.9"), TIERS))
    f = period_figures(minutely, slo, start=APRIL, end=APRIL + 30 * DAY, at=APRIL + 30 * DAY,
                       label="2026-04", time_zone="UTC")
    assert f.sla is not None
    assert (f.sla.label, f.sla.start, f.sla.end) == ("2026-04", APRIL, APRIL + 30 * DAY)
    assert f.sla.achieved_percent == Decimal(percent)
    assert f.sla.credit_percent == Decimal(credit)
    assert f.sla.met is (credit == 0)


# ------------------------------------------------------------------ DST month


def fill_march_berlin(store: SQLiteStore) -> MaintenanceWindow:
    """One good request a minute from March 2nd (Berlin) on; March 1st unmeasured.

    Maintenance 2026-03-29 01:00-04:00 Berlin wall time, across the DST jump.
    """
    start, end = MARCH_BERLIN
    first = start + DAY
    store.commit(KEY, dict.fromkeys(range(int(first), int(end), 60), (1.0, 1.0)),
                 measured=(first, end))
    berlin = ZoneInfo("Europe/Berlin")
    return MaintenanceWindow(
        name="march-patching", time_zone="Europe/Berlin",
        start=datetime(2026, 3, 29, 1, 0, tzinfo=berlin),
        end=datetime(2026, 3, 29, 4, 0, tzinfo=berlin),
    )


def test_a_berlin_march_counts_dst_in_coverage_and_excluded_seconds(minutely: SQLiteStore) -> None:
    """March 2026, Europe/Berlin: 44,580 one-minute slices (2,674,800 s).

    01:00 CET to 04:00 CEST is 00:00Z to 02:00Z: 7200 s, 120 slices excluded.
    Unmeasured: March 1st, 1440 slices. Good: 44580 - 120 - 1440 = 43020.
    coverage = (2674800 - 86400 - 7200) / (2674800 - 7200) = 2581200 / 2667600.
    """
    window = fill_march_berlin(minutely)
    slo = make_slo(CalendarPeriod("month", "Europe/Berlin"), 0.999,
                   timeslices=Timeslices(60.0, Decimal("0.95")))
    start, end = MARCH_BERLIN
    f = current_figures(minutely, slo, end - 1, [window])
    assert (f.label, f.start, f.end, f.time_zone) == ("2026-03", start, end, "Europe/Berlin")
    f = period_figures(minutely, slo, start=start, end=end, at=end, label="2026-03",
                       time_zone="Europe/Berlin", maintenance=[window])
    assert f.slices == SliceCounts(good=43_020, bad=0, empty=0, excluded=120, unmeasured=1440)
    assert f.excluded_seconds == 7200
    assert f.coverage == pytest.approx(2_581_200 / 2_667_600)
    assert (f.achieved, f.met, f.budget_spent_ratio) == (1.0, True, 0.0)


@pytest.mark.parametrize(("policy", "percent", "credit"),
                         [("excluded", "100.0000", 0), ("counted", "99.7218", 10)])
def test_sla_maintenance_counted_makes_excluded_slices_downtime(
    minutely: SQLiteStore, policy: str, percent: str, credit: int
) -> None:
    """Same month: counted, the 120 excluded slices are bad for the SLA only.

    43020 / (43020 + 120) = 0.99721836 -> 99.7218 %, under 99.9: credit 10.
    The SLO's own achieved stays 1.0.
    """
    window = fill_march_berlin(minutely)
    sla = SLA(Decimal("99.9"), TIERS, maintenance=policy)  # type: ignore[arg-type]
    slo = make_slo(CalendarPeriod("month", "Europe/Berlin"), 0.999,
                   timeslices=Timeslices(60.0, Decimal("0.95")), sla=sla)
    start, end = MARCH_BERLIN
    f = period_figures(minutely, slo, start=start, end=end, at=end, label="2026-03",
                       time_zone="Europe/Berlin", maintenance=[window])
    assert f.achieved == 1.0
    assert f.sla is not None
    assert (f.sla.achieved_percent, f.sla.credit_percent) == (Decimal(percent), Decimal(credit))


def test_a_changed_day_is_judged_again_not_served_from_the_cache(minutely: SQLiteStore) -> None:
    """A late bad minute on March 10th changes that closed day's sums: the tally follows."""
    window = fill_march_berlin(minutely)
    slo = make_slo(CalendarPeriod("month", "Europe/Berlin"), 0.999,
                   timeslices=Timeslices(60.0, Decimal("0.95")))
    start, end = MARCH_BERLIN
    before = current_figures(minutely, slo, end - 1, [window])
    minutely.commit(KEY, {start + 9 * DAY: (0.0, 5.0)})
    after = current_figures(minutely, slo, end - 1, [window])
    assert before.slices is not None
    assert after.slices is not None
    assert (after.slices.good, after.slices.bad) == (before.slices.good - 1, 1)


# -------------------------------------------------------------------- evidence


def test_wilson_interval_for_90_of_100_matches_the_hand_computation() -> None:
    """z = 1.959964, z^2/n = 0.0384146, denominator 1.0384146.

    centre = (0.9 + 0.0192073) / 1.0384146 = 0.8852023
    half   = 1.959964 / 1.0384146 * sqrt(0.09/100 + 3.841459/40000) = 0.0595681
    interval [0.8256342, 0.9447704]
    """
    e = evidence(90, 100, 0.8)
    assert e is not None
    assert e.lower == pytest.approx(0.8256342, abs=1e-6)
    assert e.upper == pytest.approx(0.9447704, abs=1e-6)
    assert (e.confidence, e.verdict) == (0.95, "met")
    assert evidence(90, 100, 0.95).verdict == "missed"  # type: ignore[union-attr]
    assert evidence(90, 100, 0.9).verdict == "inconclusive"  # type: ignore[union-attr]


def test_ten_good_requests_do_not_prove_three_nines() -> None:
    """10 of 10: Wilson lower = 1 / (1 + z^2/10) = 1 / 1.3841459 = 0.7224672: inconclusive."""
    e = evidence(10, 10, 0.999)
    assert e is not None
    assert e.lower == pytest.approx(1 / (1 + 1.959964**2 / 10), abs=1e-6)
    assert e.upper == 1.0
    assert e.verdict == "inconclusive"


def test_no_events_is_no_evidence() -> None:
    """Without events there is no interval."""
    assert evidence(0, 0, 0.99) is None
    assert evidence(math.nan, 10, 0.99) is None


def test_two_stores_with_equal_day_sums_are_not_confused(tmp_path: Path) -> None:
    """Day sums (2 of 4) in both: 2/2 + 0/2 is one good and one bad slice, 1/2 + 1/2 two bad."""
    slo = make_slo(CalendarPeriod("week"), timeslices=Timeslices(HOUR, Decimal("0.95")))
    seen = []
    for name, first, second in (("a", (2.0, 2.0), (0.0, 2.0)), ("b", (1.0, 2.0), (1.0, 2.0))):
        with SQLiteStore(tmp_path / name, HOUR) as store:
            store.commit(KEY, {W10: first, W10 + HOUR: second}, measured=(W10, W10 + 2 * DAY))
            seen.append(current_figures(store, slo, W10 + 2 * DAY - 1).slices)
    assert seen == [SliceCounts(good=1, bad=1, empty=45), SliceCounts(good=0, bad=2, empty=45)]
