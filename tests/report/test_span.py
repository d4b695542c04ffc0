"""Report time arguments: period labels and dates in each SLO's zone, instants as given."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from slo_exporter.model import SLO, CalendarPeriod, RatioSLI, RollingPeriod, Selector
from slo_exporter.report.span import ReportArgumentError, Request, rfc3339

RATIO = RatioSLI(total=Selector("t_total"), good=Selector("g_total"))
BERLIN = SLO("checkout", "availability", 0.999, CalendarPeriod("month", "Europe/Berlin"), RATIO)
ROLLING = SLO("checkout", "latency", 0.99, RollingPeriod(30 * 86400.0), RATIO)
NOW = datetime(2026, 6, 1, tzinfo=UTC).timestamp()


def _local(zone: str, year: int, month: int, day: int) -> float:
    return datetime(year, month, day, tzinfo=ZoneInfo(zone)).timestamp()


def test_month_label_is_read_in_the_slos_calendar_zone() -> None:
    """2026-03 in Europe/Berlin: 00:00 +01:00 to 00:00 +02:00, 44,580 minutes."""
    span = Request.parse("2026-03", None, None, None).span(BERLIN, NOW)
    assert span.start == _local("Europe/Berlin", 2026, 3, 1)
    assert span.end == _local("Europe/Berlin", 2026, 4, 1)
    assert (span.end - span.start) / 60 == 44_580
    assert (span.label, span.time_zone, span.at) == ("2026-03", "Europe/Berlin", span.end)
    assert rfc3339(span.start, span.time_zone) == "2026-03-01T00:00:00+01:00"
    assert rfc3339(span.end, span.time_zone) == "2026-04-01T00:00:00+02:00"


def test_rolling_slo_reads_labels_in_utc() -> None:
    """A rolling SLO has no calendar, so 2026-Q1 is the UTC quarter: 90 days."""
    span = Request.parse("2026-Q1", None, None, None).span(ROLLING, NOW)
    assert (span.start, span.end) == (_local("UTC", 2026, 1, 1), _local("UTC", 2026, 4, 1))
    assert span.time_zone == "UTC"


def test_iso_week_label() -> None:
    """2026-W10 starts Monday 2026-03-02."""
    span = Request.parse("2026-W10", None, None, None).span(ROLLING, NOW)
    assert (span.start, span.end) == (_local("UTC", 2026, 3, 2), _local("UTC", 2026, 3, 9))


def test_dates_are_local_midnights_and_instants_are_absolute() -> None:
    """--from 2026-03-01 is Berlin midnight; --to with an offset is that instant."""
    span = Request.parse(None, "2026-03-01", "2026-03-10T12:00:00Z", None).span(BERLIN, NOW)
    assert span.start == _local("Europe/Berlin", 2026, 3, 1)
    assert span.end == datetime(2026, 3, 10, 12, tzinfo=UTC).timestamp()
    assert span.label == "2026-03-01/2026-03-10T12:00:00Z"


def test_at_inside_the_period_reports_to_date() -> None:
    """--at mid-month gives at < end: the figures are to date."""
    span = Request.parse("2026-03", None, None, "2026-03-15").span(BERLIN, NOW)
    assert span.at == _local("Europe/Berlin", 2026, 3, 15)
    assert span.start < span.at < span.end


def test_at_after_the_end_reports_the_whole_period() -> None:
    """--at (or now) after the end is the end."""
    span = Request.parse("2026-03", None, None, "2026-05-01T00:00:00+00:00").span(BERLIN, NOW)
    assert span.at == span.end


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2026-13", None, None, None), "unknown period '2026-13'"),
        (("2026-W54", None, None, None), "unknown period"),
        (("March", None, None, None), "expected a month (2026-03)"),
        ((None, None, None, None), "say what to report on"),
        ((None, "2026-03-01", None, None), "both --from and --to"),
        (("2026-03", "2026-03-01", "2026-03-02", None), "not both"),
        ((None, "2026-03-02", "2026-03-01", None), "must be before --to"),
        ((None, "2026-03-01T00:00:00", "2026-03-02", None), "has no UTC offset"),
        ((None, "2026-02-30", "2026-03-02", None), "--from '2026-02-30' is not a date"),
        ((None, "yesterday", "2026-03-02", None), "is not a date (2026-03-10)"),
        (("2026-03", None, None, "soon"), "--at 'soon' is not"),
    ],
)
def test_bad_arguments_say_what_is_accepted(args: tuple[str | None, ...], message: str) -> None:
    """Every bad label, date or time names the flag and the accepted forms."""
    with pytest.raises(ReportArgumentError) as caught:
        Request.parse(*args)
    assert message in str(caught.value)


def test_period_not_started_by_at_is_an_error() -> None:
    """Nothing to report before the period starts: an error, not an empty entry."""
    request = Request.parse("2026-07", None, None, None)
    with pytest.raises(ReportArgumentError, match="has not started by now"):
        request.span(BERLIN, NOW)


def test_at_in_the_future_is_an_error() -> None:
    """A report is as of a past instant: --at after now is refused, not read as now."""
    request = Request.parse("2026-03", None, None, "2026-06-02")
    with pytest.raises(ReportArgumentError, match="is in the future"):
        request.span(BERLIN, NOW)
