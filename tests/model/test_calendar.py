"""Calendar periods: ISO weeks, months, quarters and years by wall-clock arithmetic in a zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slo_exporter.model import CALENDAR_UNITS, CalendarPeriod, CalendarUnit, parse_label
from slo_exporter.model.calendar import first_instant_at_or_after

DAY = 86400.0
HOUR = 3600.0

ZONES = (
    "UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
    "Pacific/Chatham", "America/Santiago", "Africa/Casablanca", "Asia/Tokyo", "America/St_Johns",
)
#: The shortest each unit can be: its fewest days less one DST hour.
SHORTEST = {
    "week": 7 * DAY - HOUR, "month": 28 * DAY - HOUR, "quarter": 90 * DAY - HOUR,
    "year": 365 * DAY - HOUR,
}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0
) -> float:
    """Epoch seconds of a UTC wall time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def local(zone: str, year: int, month: int, day: int, hour: int = 0) -> float:
    """Epoch seconds of a wall time in ``zone`` (its first reading where it repeats)."""
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone)).timestamp()


# --- construction -----------------------------------------------------------------------------


def test_label_is_the_unit() -> None:
    """The window label of a calendar period is its unit, as in slo_sli_ratio{window="month"}."""
    assert [CalendarPeriod(unit).label for unit in CALENDAR_UNITS] == [
        "week", "month", "quarter", "year"]


def test_time_zone_defaults_to_utc() -> None:
    """Without a zone, a calendar period is counted in UTC."""
    assert CalendarPeriod("month").current(utc(2026, 3, 15)) == (utc(2026, 3, 1), utc(2026, 4, 1))


def test_unknown_unit_is_refused_with_the_choices() -> None:
    """An unknown unit is a ValueError naming the allowed units."""
    with pytest.raises(ValueError, match=r"one of week, month, quarter, year, got 'decade'"):
        CalendarPeriod("decade")  # type: ignore[arg-type]


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "../etc/passwd", "", "europe/berlin "])
def test_unknown_time_zone_is_refused_with_an_example(zone: str) -> None:
    """An unknown or malformed IANA zone is a ValueError that says what a zone looks like."""
    with pytest.raises(ValueError, match=r"unknown time zone .*expected an IANA name"):
        CalendarPeriod("month", zone)


# --- hand-computed periods --------------------------------------------------------------------


def test_march_in_berlin_has_44580_minutes() -> None:
    """March in Europe/Berlin runs from 00:00 CET on the 1st to 00:00 CEST on April 1st."""
    march = CalendarPeriod("month", "Europe/Berlin")
    start, end = march.current(local("Europe/Berlin", 2026, 3, 20, 12))
    assert (start, end) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert (end - start) / 60 == 44_580


def test_october_in_berlin_has_an_extra_hour() -> None:
    """October in Europe/Berlin is 31 days and 1 hour: the clock goes back on its last Sunday."""
    assert CalendarPeriod("month", "Europe/Berlin").length(utc(2026, 10, 10)) == 31 * DAY + HOUR


@pytest.mark.parametrize(
    ("month", "length"),
    [(3, 31 * DAY - HOUR), (11, 30 * DAY + HOUR), (6, 30 * DAY)],
)
def test_new_york_months_across_dst(month: int, length: float) -> None:
    """In America/New_York March loses an hour, November gains one, June has none."""
    assert CalendarPeriod("month", "America/New_York").length(utc(2026, month, 10)) == length


@pytest.mark.parametrize(
    ("year", "days"), [(2024, 29), (2026, 28), (2000, 29), (2100, 28)]
)
def test_february_follows_leap_years(year: int, days: int) -> None:
    """February has 29 days in leap years, including 2000 and excluding 2100."""
    assert CalendarPeriod("month").length(utc(year, 2, 14)) == days * DAY


def test_iso_week_2026_w01_starts_in_december_2025() -> None:
    """ISO week 2026-W01 runs from Monday 2025-12-29 to Monday 2026-01-05 and is named so."""
    week = CalendarPeriod("week")
    assert week.current(utc(2026, 1, 1, 8)) == (utc(2025, 12, 29), utc(2026, 1, 5))
    assert week.label_of(utc(2025, 12, 29)) == "2026-W01"
    assert week.label_of(utc(2025, 12, 28, 23, 59, second=59)) == "2025-W52"


def test_iso_week_53() -> None:
    """A year with 53 ISO weeks names its last week W53, even days of January."""
    assert CalendarPeriod("week").label_of(utc(2021, 1, 3)) == "2020-W53"


def test_week_with_the_dst_change_in_new_york() -> None:
    """The New York week holding Sunday 2026-03-08 starts Monday 00:00 EST and lasts 7 d - 1 h."""
    week = CalendarPeriod("week", "America/New_York")
    start, end = week.current(local("America/New_York", 2026, 3, 8, 12))
    assert start == local("America/New_York", 2026, 3, 2)
    assert (datetime.fromtimestamp(start, ZoneInfo("America/New_York")).weekday(), end - start) == (
        0, 7 * DAY - HOUR
    )


@pytest.mark.parametrize(
    ("instant", "bounds", "label"),
    [
        (utc(2026, 2, 10), (utc(2026, 1, 1), utc(2026, 4, 1)), "2026-Q1"),
        (utc(2026, 4, 1), (utc(2026, 4, 1), utc(2026, 7, 1)), "2026-Q2"),
        (utc(2026, 9, 30, 23, 59, second=59), (utc(2026, 7, 1), utc(2026, 10, 1)), "2026-Q3"),
        (utc(2026, 12, 31), (utc(2026, 10, 1), utc(2027, 1, 1)), "2026-Q4"),
    ],
)
def test_quarters_start_in_january_april_july_october(
    instant: float, bounds: tuple[float, float], label: str
) -> None:
    """Quarters start on Jan, Apr, Jul and Oct 1st; a boundary instant belongs to the new one."""
    quarter = CalendarPeriod("quarter")
    assert (quarter.current(instant), quarter.label_of(instant)) == (bounds, label)


def test_quarter_lengths() -> None:
    """Q1 has 90 days (91 in a leap year), Q3 92; Q4 in New York gains the November hour."""
    assert CalendarPeriod("quarter").length(utc(2026, 2, 1)) == 90 * DAY
    assert CalendarPeriod("quarter").length(utc(2024, 2, 1)) == 91 * DAY
    assert CalendarPeriod("quarter").length(utc(2026, 8, 1)) == 92 * DAY
    assert CalendarPeriod("quarter", "America/New_York").length(utc(2026, 11, 1)) == (
        92 * DAY + HOUR
    )


def test_half_hour_dst_on_lord_howe() -> None:
    """Lord Howe Island moves its clock by 30 minutes, so its April has 30 days and 30 minutes."""
    assert CalendarPeriod("month", "Australia/Lord_Howe").length(utc(2026, 4, 15)) == (
        30 * DAY + HOUR / 2
    )


def test_month_labels() -> None:
    """A month is named YYYY-MM by its local date: 23:30 UTC on Jan 31 is February in Tokyo."""
    assert CalendarPeriod("month", "Asia/Tokyo").label_of(utc(2026, 1, 31, 23, 30)) == "2026-02"
    assert CalendarPeriod("month").label_of(utc(2026, 1, 31, 23, 30)) == "2026-01"


# --- midnights the clock skips or repeats -----------------------------------------------------


def test_skipped_midnight_starts_the_month_when_the_clock_jumps() -> None:
    """Havana skipped 2012-04-01 00:00 (to 01:00 CDT): April starts at the jump, 05:00 UTC."""
    month = CalendarPeriod("month", "America/Havana")
    start, _ = month.current(utc(2012, 4, 15))
    assert start == utc(2012, 4, 1, 5)
    assert datetime.fromtimestamp(start, ZoneInfo("America/Havana")).hour == 1
    assert month.label_of(start - 1) == "2012-03"


def test_midnight_inside_a_jump_starts_the_week_at_the_jump() -> None:
    """Toronto jumped from Sunday 23:30 to Monday 00:30 on 1919-03-31: the week starts at the jump.

    Neither reading of the skipped 00:00 is right here: with the offset
    before the jump it lands at 05:00 UTC, half an hour into the week.
    """
    week = CalendarPeriod("week", "America/Toronto")
    assert week.current(utc(1919, 4, 2))[0] == utc(1919, 3, 31, 4, 30)
    assert week.current(utc(1919, 3, 31, 4, 29))[1] == utc(1919, 3, 31, 4, 30)


def test_repeated_midnight_starts_the_month_at_its_first_occurrence() -> None:
    """Havana reads 00:00 twice on 2026-11-01: November starts at the first (04:00 UTC)."""
    month = CalendarPeriod("month", "America/Havana")
    assert month.current(utc(2026, 11, 1, 5, 30)) == month.current(utc(2026, 11, 20))
    assert month.current(utc(2026, 11, 20))[0] == utc(2026, 11, 1, 4)
    assert month.length(utc(2026, 11, 20)) == 30 * DAY + HOUR


def test_clock_going_back_across_midnight_keeps_the_repeated_evening_in_the_old_day() -> None:
    """Beirut went from 00:00 back to 23:00 on 2019-10-27: that day starts when 00:00 is read again.

    The clock read 23:00-23:59 of the 26th twice; the first instant reading
    the 27th's midnight or later is 22:00 UTC, an hour after the jump.
    """
    midnight = first_instant_at_or_after(datetime(2019, 10, 27), "Asia/Beirut")
    assert midnight == utc(2019, 10, 26, 22)


def test_clock_going_back_after_midnight_keeps_the_repeated_evening_in_the_new_month() -> None:
    """St. John's went from 00:01 NDT back to 23:01 NST on 2009-11-01: that hour is November's.

    November started at 00:00 NDT (02:30 UTC); at 02:31 UTC the clock read
    October 31st again, but periods tile time, so the instant stays in November.
    """
    month = CalendarPeriod("month", "America/St_Johns")
    repeated = utc(2009, 11, 1, 2, 31, second=30)
    assert datetime.fromtimestamp(repeated, ZoneInfo("America/St_Johns")).day == 31
    assert month.current(repeated) == (utc(2009, 11, 1, 2, 30), utc(2009, 12, 1, 3, 30))
    assert (month.label_of(repeated), month.current(utc(2009, 11, 1, 2, 29))[1]) == (
        "2009-11", utc(2009, 11, 1, 2, 30)
    )


def test_standard_offset_change_stays_within_longest() -> None:
    """Antarctica/Casey moved from +11 to +08 in March 2018: that month lasted 31 d 3 h."""
    month = CalendarPeriod("month", "Antarctica/Casey")
    assert month.length(utc(2018, 3, 15)) == 31 * DAY + 3 * HOUR <= month.longest


def test_two_hour_dst_change_stays_within_longest() -> None:
    """Antarctica/Troll goes back 2 hours in October; longest still bounds that month."""
    month = CalendarPeriod("month", "Antarctica/Troll")
    assert month.length(utc(2026, 10, 15)) == 31 * DAY + 2 * HOUR <= month.longest


# --- period labels ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "unit", "first"),
    [
        ("2026-03", "month", date(2026, 3, 1)),
        ("2026-Q1", "quarter", date(2026, 1, 1)),
        ("2026-Q4", "quarter", date(2026, 10, 1)),
        ("2026-W01", "week", date(2025, 12, 29)),
        ("2020-W53", "week", date(2020, 12, 28)),
        ("2026", "year", date(2026, 1, 1)),
    ],
)
def test_parse_label(label: str, unit: str, first: date) -> None:
    """A label names its unit and first day; ISO weeks by their week-year."""
    assert parse_label(label) == (unit, first)


@pytest.mark.parametrize(
    "label",
    ["2026-13", "2026-00", "2026-Q0", "2026-Q5", "2026-W00", "2025-W53", "2026-3", "26-03",
     "2026-03-01", "2026-q1", "march", "", "2026-\u0663\u0663", " 2026-03",
     "0000", "202", "20260"],
)
def test_parse_label_refuses_what_is_not_a_period(label: str) -> None:
    """A month 13, quarter 5, week 53 of a 52-week year or free text is refused with the forms."""
    with pytest.raises(ValueError, match=r"unknown period .*2026-03.*2026-Q1.*2026-W10.*2026\)"):
        parse_label(label)


def test_span_of_a_berlin_month() -> None:
    """span_of('2026-03') in Berlin is the 44,580-minute March."""
    assert CalendarPeriod("month", "Europe/Berlin").span_of("2026-03") == (
        utc(2026, 2, 28, 23), utc(2026, 3, 31, 22)
    )


def test_span_of_refuses_a_label_of_another_unit() -> None:
    """A quarter's label given to a monthly period is refused, naming both units."""
    with pytest.raises(ValueError, match=r"'2026-Q1' is a quarter, not a month"):
        CalendarPeriod("month").span_of("2026-Q1")


# --- neighbours and the engine's bounds -------------------------------------------------------


def test_previous_and_next_months() -> None:
    """previous() and next() give the periods around the one holding the instant."""
    month = CalendarPeriod("month", "Europe/Berlin")
    at = utc(2026, 3, 15)
    assert month.previous(at) == (utc(2026, 1, 31, 23), utc(2026, 2, 28, 23))
    assert month.next(at) == (utc(2026, 3, 31, 22), utc(2026, 4, 30, 22))


def test_previous_quarter_crosses_the_year() -> None:
    """The quarter before 2026-Q1 is 2025-Q4."""
    quarter = CalendarPeriod("quarter")
    start, _ = quarter.previous(utc(2026, 2, 1))
    assert (quarter.label_of(start), quarter.current(start)) == (
        "2025-Q4", (utc(2025, 10, 1), utc(2026, 1, 1))
    )


def test_bounds_run_from_the_period_start_to_the_end_of_the_current_bucket() -> None:
    """bounds() is the period to date: its start, to the end of the bucket holding the instant."""
    month = CalendarPeriod("month", "Europe/Berlin")
    assert month.bounds(utc(2026, 3, 10, 12, 0, second=30), 60.0) == (
        utc(2026, 2, 28, 23), utc(2026, 3, 10, 12, 1)
    )


def test_bounds_floor_an_off_grid_start_to_the_bucket_grid() -> None:
    """Midnight in Kolkata is 18:30 UTC: with hourly buckets the period reaches back to 18:00."""
    month = CalendarPeriod("month", "Asia/Kolkata")
    assert month.bounds(utc(2026, 3, 10, 12, 15), 3600.0) == (
        utc(2026, 2, 28, 18), utc(2026, 3, 10, 13)
    )


@pytest.mark.parametrize(("unit", "days"), [("week", 7), ("month", 31), ("quarter", 92)])
def test_longest(unit: CalendarUnit, days: int) -> None:
    """longest is the most calendar days plus a day, the largest offset change in tzdata."""
    assert CalendarPeriod(unit).longest == (days + 1) * DAY


# --- properties -------------------------------------------------------------------------------

instants = st.floats(min_value=utc(1990, 1, 1), max_value=utc(2100, 1, 1), allow_nan=False)
zones = st.sampled_from(ZONES)
units = st.sampled_from(CALENDAR_UNITS)


def first_day_holds(unit: str, day: datetime) -> bool:
    """Whether ``day`` is a first day of ``unit``: a Monday, a 1st, a quarter's 1st."""
    if unit == "week":
        return day.weekday() == 0
    return day.day == 1 and (unit == "month" or day.month in (1, 4, 7, 10))


@settings(max_examples=300, deadline=None)
@given(at=instants, zone=zones, unit=units)
def test_periods_tile_time(at: float, zone: str, unit: CalendarUnit) -> None:
    """The period holding an instant contains it, is its own, and the next starts at its end."""
    period = CalendarPeriod(unit, zone)
    start, end = period.current(at)
    assert start <= at < end
    assert period.current(start) == (start, end)
    assert period.current(end)[0] == end
    assert period.current(end - 0.001)[1] == end
    assert period.next(at) == period.current(end)
    assert period.previous(end) == (start, end)


@settings(max_examples=300, deadline=None)
@given(at=instants, zone=zones, unit=units)
def test_period_starts_at_its_first_midnight(at: float, zone: str, unit: CalendarUnit) -> None:
    """A period starts when its first day's midnight is first read, and has a bounded length."""
    period = CalendarPeriod(unit, zone)
    start, end = period.current(at)
    tz = ZoneInfo(zone)
    before = datetime.fromtimestamp(start - 1, tz).replace(tzinfo=None)
    midnight = datetime(before.year, before.month, before.day) + timedelta(days=1)
    assert before < midnight <= datetime.fromtimestamp(start, tz).replace(tzinfo=None)
    assert first_day_holds(unit, midnight)
    assert SHORTEST[unit] <= end - start == period.length(at) <= period.longest


@settings(max_examples=200, deadline=None)
@given(at=instants, zone=zones, unit=units)
def test_label_names_the_first_day(at: float, zone: str, unit: CalendarUnit) -> None:
    """A period's label is the same at every instant in it, and span_of maps it back."""
    period = CalendarPeriod(unit, zone)
    start, end = period.current(at)
    assert period.label_of(at) == period.label_of(start) == period.label_of(end - 0.001)
    assert period.label_of(end) != period.label_of(start)
    assert period.span_of(period.label_of(at)) == (start, end)


def test_an_instant_a_hair_before_a_boundary_belongs_to_the_earlier_period() -> None:
    """Local times are rounded to microseconds; the period is still the one holding the
    instant (found by the property test at 2035-01-01 minus half a microsecond)."""
    at = 2051222399.9999995  # Monday 2035-01-01 00:00 UTC is 2051222400
    for unit in ("week", "month", "quarter"):
        start, end = CalendarPeriod(unit, "UTC").current(at)
        assert start <= at < end == 2051222400.0, unit


def test_a_year_is_the_calendar_year_in_its_zone() -> None:
    """2024 in Berlin runs from local 2024-01-01 to 2025-01-01: 366 days, as a leap year has."""
    year = CalendarPeriod("year", "Europe/Berlin")
    start, end = year.current(utc(2024, 7, 1))
    assert (start, end) == (utc(2023, 12, 31, 23), utc(2024, 12, 31, 23))
    assert end - start == 366 * DAY
    assert year.label_of(utc(2024, 7, 1)) == "2024"
    assert year.span_of("2025") == year.next(utc(2024, 7, 1))
    assert year.previous(utc(2024, 7, 1)) == year.span_of("2023")
    assert year.longest == 367 * DAY
