"""Prometheus duration text: parsing config values and formatting window labels."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_exporter.durations import DurationTooLong, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("300ms", 0.3),
        ("1s500ms", 1.5),
        ("30d", 2_592_000.0),
        ("2w", 1_209_600.0),
        ("1y", 31_536_000.0),
        ("1y2w3d4h5m6s7ms", 31_536_000 + 1_209_600 + 3 * 86400 + 4 * 3600 + 5 * 60 + 6.007),
        ("90m", 5400.0),
        ("  10s  ", 10.0),
    ],
)
def test_parse_accepts_prometheus_durations(text: str, seconds: float) -> None:
    """Prometheus duration text parses to the exact number of seconds."""
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid duration '': expected a number with a unit, such as '30s', '5m' or '1h30m'"),
        ("-5m", "invalid duration '-5m': durations cannot be negative"),
        ("30", "invalid duration '30': the number 30 has no unit (units are y, w, d, h, m, s, ms)"),
        (
            "1.5h",
            "invalid duration '1.5h': fractions are not allowed; "
            "combine whole units instead, such as '1h30m'",
        ),
        ("5x", "invalid duration '5x': unknown unit 'x' (units are y, w, d, h, m, s, ms)"),
        ("5M", "invalid duration '5M': unknown unit 'M' (units are y, w, d, h, m, s, ms)"),
        (
            "30m1h",
            "invalid duration '30m1h': units must go from largest to smallest "
            "(y, w, d, h, m, s, ms), each at most once",
        ),
        (
            "1m1m",
            "invalid duration '1m1m': units must go from largest to smallest "
            "(y, w, d, h, m, s, ms), each at most once",
        ),
        (
            "1h 30m",
            "invalid duration '1h 30m': expected a whole number followed by a unit "
            "(y, w, d, h, m, s, ms), such as '30s' or '1h30m'",
        ),
        (
            "h",
            "invalid duration 'h': expected a whole number followed by a unit "
            "(y, w, d, h, m, s, ms), such as '30s' or '1h30m'",
        ),
    ],
)
def test_parse_rejects_with_a_clear_message(text: str, message: str) -> None:
    """Invalid duration text raises ValueError naming the text and the fix."""
    with pytest.raises(ValueError, match=r"^invalid duration") as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (300, "5m"),
        (1800, "30m"),
        (3600, "1h"),
        (7200, "2h"),
        (21600, "6h"),
        (86400, "1d"),
        (259200, "3d"),
        (604800, "7d"),
        (2419200, "28d"),
        (2592000, "30d"),
        (31536000, "365d"),
        (5400, "1h30m"),
        (90061.001, "1d1h1m1s1ms"),
        (0.5, "500ms"),
        (0, "0s"),
    ],
)
def test_format_uses_largest_exact_units_up_to_days(seconds: float, text: str) -> None:
    """Window labels use the largest exact units, days at most (28d, never 4w)."""
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_format_rejects_negative_and_non_finite(seconds: float) -> None:
    """Values that have no duration text raise ValueError."""
    with pytest.raises(ValueError, match="cannot format"):
        format_duration(seconds)


def test_format_rounds_to_milliseconds() -> None:
    """Float noise below a millisecond does not leak into the text."""
    assert format_duration(0.1 + 0.2) == "300ms"


@given(st.integers(min_value=0, max_value=10 * 365 * 86_400_000))
def test_format_then_parse_round_trips(milliseconds: int) -> None:
    """Any whole number of milliseconds survives formatting and parsing."""
    seconds = milliseconds / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize(
    "text", ["9" * 400 + "s", "9" * 5000 + "ms", "10001y", "1" + "0" * 30 + "d"]
)
def test_huge_durations_are_a_value_error_not_an_overflow(text: str) -> None:
    """A 400-digit duration is refused with a short ValueError, never OverflowError."""
    with pytest.raises(ValueError, match="longer than 10000y") as info:
        parse_duration(text)
    assert len(str(info.value)) < 120


def test_longest_accepted_duration_is_10000_years() -> None:
    """10000y parses exactly; it is the limit, callers bound their settings tighter."""
    assert parse_duration("10000y") == 10_000 * 31_536_000.0


def test_long_bad_text_is_shortened_in_the_message() -> None:
    """The message quotes at most 40 characters of a long bad duration."""
    with pytest.raises(ValueError, match="unknown unit") as info:
        parse_duration("1x" + "a" * 1000)
    assert len(str(info.value)) < 150


def test_too_long_is_its_own_value_error() -> None:
    """DurationTooLong (a ValueError) lets callers say which bound was passed."""
    with pytest.raises(DurationTooLong):
        parse_duration("9" * 30 + "y")
