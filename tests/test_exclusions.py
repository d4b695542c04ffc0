"""Maintenance windows become excluded spans: one-off and recurring, scoped, bounded, validated."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from slo_exporter.exclusions import MAX_OCCURRENCES, excluded_spans, validate_rrule
from slo_exporter.model import MaintenanceWindow, SLOId

BERLIN = ZoneInfo("Europe/Berlin")
CHECKOUT = SLOId("checkout", "availability")
#: 2026-03-22T00:00:00Z: 2026-01-01T00:00Z is 1767225600, plus 80 days (31 + 28 + 21) of 86400 s
MAR22_UTC = 1_767_225_600 + 80 * 86_400


def one_off(start: float, end: float, **scope: object) -> MaintenanceWindow:
    return MaintenanceWindow(
        name="w",
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(end, UTC),
        **scope,  # type: ignore[arg-type]
    )


def sundays_2am(duration: float = 7200.0, rule: str = "FREQ=WEEKLY;BYDAY=SU") -> MaintenanceWindow:
    return MaintenanceWindow(
        name="sunday-patching",
        start=datetime(2026, 3, 1, 2, 0, tzinfo=BERLIN),
        time_zone="Europe/Berlin",
        duration=duration,
        rrule=rule,
    )


def test_one_off_windows_are_merged_sorted_and_clipped() -> None:
    """Overlapping and touching windows become one span; the span is cut to [start, end)."""
    windows = [one_off(500, 700), one_off(100, 300), one_off(250, 400), one_off(400, 450)]
    assert excluded_spans(windows, CHECKOUT, 200, 600) == [(200, 450), (500, 600)]


def test_a_window_outside_the_span_excludes_nothing() -> None:
    """A window ending exactly at the span's start leaves it whole (spans are half-open)."""
    assert excluded_spans([one_off(0, 100)], CHECKOUT, 100, 200) == []


def test_windows_apply_only_to_their_services_and_slos() -> None:
    """services narrows to those services; slos narrows further to those SLOs."""
    windows = [
        one_off(0, 10, services=("payments",)),
        one_off(20, 30, services=("checkout",)),
        one_off(40, 50, slos=(SLOId("checkout", "latency"),)),
        one_off(60, 70, slos=(CHECKOUT,)),
        one_off(80, 90),
    ]
    assert excluded_spans(windows, CHECKOUT, 0, 100) == [(20, 30), (60, 70), (80, 90)]


def test_weekly_window_stays_at_two_oclock_local_across_the_march_dst_change() -> None:
    """Sundays 02:00 Europe/Berlin for 2 h, 2026-03-22 .. 2026-04-05 (DST starts 03-29 02:00).

    03-22 02:00 CET (+1)  = 01:00Z = MAR22_UTC + 3600              -> [+3600, +10800)
    03-29 02:00 does not exist; read with the offset before the change (+1), it is
          01:00Z = MAR22_UTC + 7*86400 + 3600, when the clock jumps to 03:00 CEST
    04-05 02:00 CEST (+2) = 00:00Z = MAR22_UTC + 14*86400          (an hour earlier in UTC)
    """
    spans = excluded_spans([sundays_2am()], CHECKOUT, MAR22_UTC, MAR22_UTC + 15 * 86_400)
    assert spans == [
        (MAR22_UTC + 3600, MAR22_UTC + 10_800),
        (MAR22_UTC + 7 * 86_400 + 3600, MAR22_UTC + 7 * 86_400 + 10_800),
        (MAR22_UTC + 14 * 86_400, MAR22_UTC + 14 * 86_400 + 7200),
    ]


def test_an_occurrence_that_began_before_the_span_still_excludes_its_tail() -> None:
    """The 03-22 occurrence [01:00Z, 03:00Z) seen from 02:00Z excludes [02:00Z, 03:00Z)."""
    start = MAR22_UTC + 7200
    assert excluded_spans([sundays_2am()], CHECKOUT, start, start + 86_400) == [
        (start, MAR22_UTC + 10_800)
    ]


def test_a_local_until_is_wall_clock_time_in_the_windows_zone() -> None:
    """UNTIL=20260322T020000 (no Z) is 02:00 Berlin time: the 03-22 occurrence is the last."""
    window = sundays_2am(rule="FREQ=WEEKLY;BYDAY=SU;UNTIL=20260322T020000")
    spans = excluded_spans([window], CHECKOUT, MAR22_UTC, MAR22_UTC + 30 * 86_400)
    assert spans == [(MAR22_UTC + 3600, MAR22_UTC + 10_800)]


def test_a_rule_repeating_every_second_over_a_quarter_is_refused_not_expanded_forever() -> None:
    """FREQ=SECONDLY from 2026-03-01 over a quarter would be millions of spans: a ValueError."""
    window = sundays_2am(duration=1.0, rule="FREQ=SECONDLY")
    with pytest.raises(ValueError, match=f"more than {MAX_OCCURRENCES} times"):
        excluded_spans([window], CHECKOUT, MAR22_UTC, MAR22_UTC + 92 * 86_400)


def test_a_rule_is_expanded_only_up_to_the_end_of_the_span() -> None:
    """An endless weekly rule over one week yields one occurrence, not a loop to year 9999."""
    spans = excluded_spans([sundays_2am()], CHECKOUT, MAR22_UTC, MAR22_UTC + 86_400)
    assert spans == [(MAR22_UTC + 3600, MAR22_UTC + 10_800)]


START = datetime(2026, 3, 1, 2, 0, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("FREQ=FORTNIGHTLY", "not an RFC 5545 recurrence rule"),
        ("BYDAY=SU", "FREQ is missing"),
        ("FREQ=WEEKLY;BYDAY=XX", "not an RFC 5545 recurrence rule"),
        ("", "not an RFC 5545 recurrence rule"),
        ("FREQ=WEEKLY;COUNT=3;UNTIL=20260401T000000Z", "COUNT or UNTIL, not both"),
        ("FREQ=WEEKLY;COUNT=0", "COUNT must be a positive whole number"),
        ("FREQ=WEEKLY;UNTIL=20260201T000000Z", "no occurrence"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "no occurrence"),
        ("DTSTART:20260301T020000\nRRULE:FREQ=DAILY", "must not carry a DTSTART"),
    ],
)
def test_validate_rrule_gives_a_short_reason(rule: str, reason: str) -> None:
    """Bad syntax, COUNT with UNTIL, an empty COUNT and a rule without occurrence are refused."""
    with pytest.raises(ValueError, match=reason):
        validate_rrule(rule, START)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=SU",
        "RRULE:FREQ=MONTHLY;BYDAY=1SA",
        "FREQ=WEEKLY;UNTIL=20261231T000000Z",
        "FREQ=WEEKLY;UNTIL=20261231T000000",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=DAILY;COUNT=1",
    ],
)
def test_validate_rrule_accepts_usable_rules(rule: str) -> None:
    """Usual maintenance rules pass, with UNTIL in UTC or local time, and leap days."""
    validate_rrule(rule, START)


def test_validate_rrule_needs_an_aware_start() -> None:
    """A naive start has no zone to read the rule's wall-clock times in."""
    with pytest.raises(ValueError, match="time zone"):
        validate_rrule("FREQ=DAILY", datetime(2026, 3, 1))
