"""Prometheus duration text <-> float seconds.

Owns the one spelling of durations used everywhere a user or Prometheus sees
one: config values (``30s``, ``1h30m``, ``30d``) and ``window`` label values.
The syntax is Prometheus's: whole numbers, each followed by a unit, units from
largest to smallest and each at most once (``y`` is 365 days, ``w`` 7 days).

Must not know about configuration files or SLOs; callers add the context.
"""

from __future__ import annotations

import math
import re

#: unit -> milliseconds, in the order Prometheus requires them to appear
_UNITS_MS: dict[str, int] = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1_000,
    "ms": 1,
}
_UNIT_ORDER = tuple(_UNITS_MS)
_UNIT_LIST = ", ".join(_UNIT_ORDER)

#: longest duration parsed: far beyond any sane setting, yet exact as a float
#: of seconds (callers bound their own settings much tighter)
MAX_DURATION_MS = 10_000 * _UNITS_MS["y"]

#: one "<number><unit>" part; the unit is matched loosely so a bad unit can be named
_PART = re.compile(r"(\d+)([a-zA-Z]+)")

#: units used when formatting; weeks and years are left out on purpose so that
#: window labels read the way SLO periods are spoken of (``28d``, ``7d``)
_FORMAT_UNITS: tuple[tuple[str, int], ...] = (
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
)


class DurationTooLong(ValueError):
    """The text is a well-formed duration longer than any setting allows."""


def parse_duration(text: str) -> float:
    """Parse Prometheus duration text such as ``'1h30m'`` into seconds.

    ``'0'`` is accepted (as Prometheus does) and gives ``0.0``. Raises
    ``ValueError`` naming the text and what is wrong with it, also for
    durations over 10000y (a 400-digit number must not overflow a float).
    """
    raw = text.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    if not raw:
        raise ValueError(
            "invalid duration '': expected a number with a unit, such as '30s', '5m' or '1h30m'"
        )
    if raw == "0":
        return 0.0
    if raw.startswith("-"):
        raise ValueError(f"invalid duration {shown!r}: durations cannot be negative")

    total_ms = 0
    position = 0
    last_unit_index = -1
    for match in _PART.finditer(raw):
        if match.start() != position:
            break
        number, unit = match.groups()
        if unit not in _UNITS_MS:
            raise ValueError(
                f"invalid duration {shown!r}: unknown unit {unit[:10]!r} (units are {_UNIT_LIST})"
            )
        unit_index = _UNIT_ORDER.index(unit)
        if unit_index <= last_unit_index:
            raise ValueError(
                f"invalid duration {shown!r}: units must go from largest to smallest "
                f"({_UNIT_LIST}), each at most once"
            )
        last_unit_index = unit_index
        if len(number.lstrip("0")) > 20:  # int() of 4,300+ digits raises, of fewer is slow
            raise DurationTooLong(f"invalid duration {shown!r}: longer than 10000y")
        total_ms += int(number) * _UNITS_MS[unit]
        position = match.end()

    if position != len(raw):
        raise ValueError(f"invalid duration {shown!r}: {_explain_leftover(raw, position)}")
    if total_ms > MAX_DURATION_MS:
        raise DurationTooLong(f"invalid duration {shown!r}: longer than 10000y")
    return total_ms / 1000


def _explain_leftover(raw: str, position: int) -> str:
    """Say why the text stops parsing at ``position``."""
    rest = raw[position:]
    if re.fullmatch(r"\d+", rest):
        shown = rest if len(rest) <= 20 else rest[:17] + "..."
        return f"the number {shown} has no unit (units are {_UNIT_LIST})"
    if re.match(r"\d*\.\d", rest):
        return "fractions are not allowed; combine whole units instead, such as '1h30m'"
    return f"expected a whole number followed by a unit ({_UNIT_LIST}), such as '30s' or '1h30m'"


def format_duration(seconds: float) -> str:
    """Format seconds as Prometheus duration text with the largest exact units.

    Days are the largest unit (``2419200`` gives ``'28d'``, not ``'4w'``).
    Values are rounded to the millisecond, the finest unit Prometheus has.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot format {seconds!r} as a duration: expected a finite value >= 0")
    remaining = round(seconds * 1000)
    if remaining == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _FORMAT_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
