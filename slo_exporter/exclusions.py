"""Maintenance windows as excluded spans: which seconds of a span drop out for an SLO.

Owns turning the configured ``maintenance:`` windows into sorted, merged
``[start, end)`` spans in epoch seconds, and checking a recurrence rule
before it is accepted into a config.

* A one-off window is ``[start, end)``: two aware instants.
* A recurring window repeats ``start`` by its RFC 5545 rule (expanded by
  ``dateutil.rrule``, not by us). Occurrences are **wall-clock** times in the
  window's zone: a weekly Sunday 02:00 window stays at 02:00 local time on
  both sides of a DST change. Each lasts ``duration`` *elapsed* seconds, so a
  two-hour window is two hours even across the change. A wall time the
  clock skips (02:30 on the March change in Europe/Berlin) is read with the
  offset before the change, i.e. the window starts when the clock jumps to
  03:30 (Python's ``fold=0``); a wall time that occurs twice starts at its
  first occurrence.

Expansion is bounded: only occurrences that can overlap the asked span are
kept, and a rule that yields more than :data:`MAX_OCCURRENCES` occurrences
up to the end of the span (a ``FREQ=SECONDLY`` rule over a quarter) is a
``ValueError`` rather than a loop that never ends.

It must not read a clock, the store or config files: windows and a span go
in, spans come out. Reporting a bad rule as a located config error is the
config package's job; it calls :func:`validate_rrule`.
"""

from __future__ import annotations

import calendar
import re
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr

from slo_exporter.model.calendar import get_zone
from slo_exporter.model.identity import SLOId
from slo_exporter.model.slm import MaintenanceWindow
from slo_exporter.timeslices import merge_spans

if TYPE_CHECKING:
    from slo_exporter.store.protocol import Span

MAX_OCCURRENCES = 100_000
"""Most occurrences one expansion may walk through before giving up.

A daily window over ten years is about 3,650; only a rule repeating every
few minutes or seconds gets near this, and such a rule is not maintenance.
"""

_NO_DTSTART = "the rule must not carry a DTSTART: the window's start is its first occurrence"

#: How far past ``start`` validation looks for a first occurrence.
_FIRST_OCCURRENCE_YEARS = 10


def excluded_spans(
    windows: Sequence[MaintenanceWindow], slo: SLOId, start: float, end: float
) -> list[Span]:
    """The seconds of ``[start, end)`` that maintenance excludes from ``slo``.

    Only windows that apply to the SLO count. The result is sorted, merged
    (overlapping or touching spans become one) and clipped to ``[start,
    end)``. Raises ValueError for a rule that cannot be expanded (see the
    module doc).
    """
    if not end > start:
        return []
    spans: list[Span] = []
    for window in windows:
        if window.applies_to(slo):
            spans.extend(window_spans(window, start, end))
    return merge_spans(spans)


def window_spans(window: MaintenanceWindow, start: float, end: float) -> list[Span]:
    """The spans of one window that overlap ``[start, end)``, clipped to it, oldest first."""
    if window.rrule is None:
        if window.end is None:
            raise ValueError(f"maintenance window {window.name!r} has neither an end nor a rule")
        return _clipped([(window.start.timestamp(), window.end.timestamp())], start, end)
    if window.duration is None or not window.duration > 0:
        raise ValueError(
            f"recurring maintenance window {window.name!r} needs a positive duration"
        )
    duration = float(window.duration)
    zone = get_zone(window.time_zone)
    expansion = _expansion(window.rrule, window.start.astimezone(zone), window.time_zone)
    try:
        firsts = expansion.starts(start - duration, end)
    except _TooMany:
        raise ValueError(
            f"maintenance window {window.name!r}: its rule {window.rrule!r} repeats more "
            f"than {MAX_OCCURRENCES} times before the end of the span; "
            "use a coarser FREQ or a later start"
        ) from None
    return _clipped([(first, first + duration) for first in firsts], start, end)


def validate_rrule(text: str, start: datetime) -> None:
    """Raise ValueError with a short reason when ``text`` is not a usable recurrence rule.

    ``start`` is the window's aware start (its DTSTART). Rejected: syntax
    the RFC 5545 parser refuses, a DTSTART inside the rule (the window's
    ``start`` is it), FREQ=SECONDLY or MINUTELY (not maintenance, and it
    would run into :data:`MAX_OCCURRENCES` on every evaluation), COUNT
    together with UNTIL, COUNT below 1, and a rule with no occurrence within
    ten years of ``start`` (an UNTIL before the start, February 30th).
    """
    if start.tzinfo is None:
        raise ValueError("the window's start must carry its time zone")
    if "DTSTART" in text.upper():
        raise ValueError(_NO_DTSTART)
    parts = _rule_parts(text)
    if parts.get("FREQ", "").upper() in {"SECONDLY", "MINUTELY"}:
        raise ValueError(
            f"FREQ={parts['FREQ'].upper()} repeats too often for maintenance: "
            "use HOURLY or coarser"
        )
    if "COUNT" in parts and "UNTIL" in parts:
        raise ValueError("a rule may give COUNT or UNTIL, not both (RFC 5545)")
    if "COUNT" in parts:
        count = parts["COUNT"]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"COUNT must be a positive whole number, got {count!r}")
    _check_month_days(parts)
    zone = start.tzinfo
    rule = _parse(text, start)
    horizon = start + timedelta(days=366 * _FIRST_OCCURRENCE_YEARS)
    first = next(iter(rule), None)
    if first is None:
        raise ValueError("the rule has no occurrence (UNTIL before the start, or COUNT=0)")
    if _aware(first, zone) > horizon:
        raise ValueError(
            f"the rule has no occurrence within {_FIRST_OCCURRENCE_YEARS} years of the start"
        )


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    """The time in both ``a`` and ``b`` (each sorted and merged), sorted."""
    out: list[Span] = []
    i = j = 0
    while i < len(a) and j < len(b):
        s, e = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if s < e:
            out.append((s, e))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _clipped(spans: Iterable[Span], start: float, end: float) -> list[Span]:
    return [(max(s, start), min(e, end)) for s, e in spans if s < end and e > start and e > s]


class _TooMany(Exception):
    """The rule yields more than MAX_OCCURRENCES occurrences before the asked end."""


class _Expansion:
    """The occurrence starts of one rule in epoch seconds, expanded lazily and kept.

    dateutil always walks a rule from its DTSTART, and turning each wall-clock
    occurrence into an instant costs a zone lookup, so a daily window started
    three years ago would cost a thousand steps per SLO on every cycle; kept,
    each later question is a binary search.
    """

    def __init__(self, rule: rrule | rruleset, zone: ZoneInfo) -> None:
        self._occurrences = iter(rule)
        self._zone = zone
        self._starts = array("d")
        self._exhausted = False
        self._lock = threading.Lock()

    def starts(self, lo: float, hi: float) -> list[float]:
        """Occurrence starts in ``(lo, hi)``; raises _TooMany past MAX_OCCURRENCES."""
        with self._lock:
            while not self._exhausted and (not self._starts or self._starts[-1] < hi):
                if len(self._starts) >= MAX_OCCURRENCES:
                    raise _TooMany
                occurrence = next(self._occurrences, None)
                if occurrence is None:
                    self._exhausted = True
                else:
                    self._starts.append(_aware(occurrence, self._zone).timestamp())
            i, j = bisect_right(self._starts, lo), bisect_left(self._starts, hi)
            return list(self._starts[i:j])


@lru_cache(maxsize=64)
def _expansion(text: str, dtstart: datetime, time_zone: str) -> _Expansion:
    return _Expansion(_parse(text, dtstart), get_zone(time_zone))


def _aware(occurrence: datetime, zone: tzinfo) -> datetime:
    # A rule with a local UNTIL is expanded from a naive start (see _parse):
    # its occurrences are wall-clock readings in the window's zone.
    return occurrence if occurrence.tzinfo is not None else occurrence.replace(tzinfo=zone)


def _parse(text: str, dtstart: datetime) -> rrule | rruleset:
    """The rule of ``text`` starting at ``dtstart`` (aware, in its zone).

    RFC 5545 wants UNTIL in UTC when DTSTART has a zone; a local UNTIL (no
    ``Z``) is read as wall-clock time in the window's zone instead of being
    refused, by expanding from the naive wall-clock start. Not cached by
    itself: equal instants in different zones are equal keys, and a rule
    read in a fixed offset would not follow DST. Expansions are cached by
    :func:`_expansion`, whose key holds the zone's name too.
    """
    if "DTSTART" in text.upper():
        raise ValueError(_NO_DTSTART)
    try:
        try:
            return rrulestr(text, dtstart=dtstart)
        except ValueError as exc:
            if "UNTIL" not in str(exc):
                raise
            return rrulestr(text, dtstart=dtstart.replace(tzinfo=None))
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, TypeError) and "freq" in reason:
            reason = "FREQ is missing"
        raise ValueError(f"not an RFC 5545 recurrence rule ({reason}): {text!r}") from None


_PART = re.compile(r"([A-Za-z]+)=([^;]*)")


def _rule_parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:") :]
    return {m[1].upper(): m[2] for m in _PART.finditer(body)}


def _check_month_days(parts: dict[str, str]) -> None:
    """Refuse BYMONTH/BYMONTHDAY pairs that no year has (February 30th) without expanding.

    dateutil would walk day by day to the year 9999 looking for one, which
    takes seconds; this catches the usual mistake at once.
    """
    if "BYMONTH" not in parts or "BYMONTHDAY" not in parts:
        return
    try:
        months = [int(m) for m in parts["BYMONTH"].split(",")]
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
    except ValueError:
        return  # the parser reports the syntax
    longest = {m: 29 if m == 2 else calendar.monthrange(2001, m)[1] for m in range(1, 13)}
    if not any(1 <= m <= 12 and 0 < abs(d) <= longest[m] for m in months for d in days):
        raise ValueError(
            "the rule has no occurrence: no month in BYMONTH has a day in BYMONTHDAY"
        )
