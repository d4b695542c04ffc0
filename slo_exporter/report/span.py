"""What span a report covers, per SLO: ``--period``, ``--from``/``--to`` and ``--at``.

Owns reading the report's time arguments and placing them in each SLO's
calendar. A period label (``2026-03``, ``2026-Q1``, ``2026-W10``) and a bare
date (``2026-03-10``) are wall-clock names: each SLO reads them in its own
calendar's time zone, and an SLO with a rolling window reads them in UTC.
An RFC 3339 time with an offset (``2026-03-10T12:00:00+01:00``, ``...Z``) is
one instant for every SLO.

Every bad argument is a ``ReportArgumentError`` whose message says which
forms are accepted. Must not read a clock (``now`` is passed in) or know
anything about stores, sources or formats.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from slo_exporter.model import SLO
from slo_exporter.model.calendar import CalendarPeriod, parse_label

# A day starts where its calendar period would: at the first instant at or
# after local midnight, also where the clock skips midnight. One rule for
# both, so --from 2026-03-01 and --period 2026-03 start at the same instant.
from slo_exporter.model.calendar import (  # isort: skip
    first_instant_at_or_after as _local_midnight,
)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_FORMS = "a date (2026-03-10) or an RFC 3339 time with an offset (2026-03-10T12:00:00+01:00)"


class ReportArgumentError(ValueError):
    """A report's period, ``--from``, ``--to`` or ``--at`` cannot be used."""


@dataclass(frozen=True)
class Moment:
    """An instant (``instant``) or a calendar date read in each SLO's zone (``day``)."""

    text: str
    instant: float | None = None
    day: date | None = None

    def resolve(self, time_zone: str) -> float:
        """Epoch seconds: the instant, or the first instant of ``day`` in ``time_zone``."""
        if self.day is None:
            assert self.instant is not None  # parse_moment sets exactly one
            return self.instant
        return local_midnight(self.day, time_zone)


def parse_moment(text: str, flag: str) -> Moment:
    """``text`` as a Moment, or a ReportArgumentError naming ``flag`` and the accepted forms."""
    value = text.strip()
    if _DATE.fullmatch(value):
        try:
            return Moment(value, day=date.fromisoformat(value))
        except ValueError:
            pass
    else:
        try:
            # RFC 3339 spells UTC as Z, which fromisoformat reads since 3.11.
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and "T" in value.upper() and parsed.tzinfo is not None:
            instant = parsed.timestamp()
            if math.isfinite(instant):
                return Moment(value, instant=instant)
        if parsed is not None and parsed.tzinfo is None:
            raise ReportArgumentError(
                f"{flag} {text!r} has no UTC offset: add one (Z, +01:00) or give a date"
            )
    raise ReportArgumentError(f"{flag} {text!r} is not {_FORMS}")


@dataclass(frozen=True)
class Span:
    """The part of time one SLO's report entry covers."""

    label: str
    start: float
    end: float
    at: float  # the report is as of this instant: start < at <= end
    time_zone: str


@dataclass(frozen=True)
class Request:
    """The report's time arguments, checked; ``span`` places them per SLO."""

    label: str | None = None
    since: Moment | None = None
    until: Moment | None = None
    at: Moment | None = None

    @classmethod
    def parse(cls, period: str | None, since: str | None, until: str | None,
              at: str | None) -> Request:
        """Check the arguments: a period label, or both ``--from`` and ``--to``."""
        if period is not None and (since is not None or until is not None):
            raise ReportArgumentError("give either --period or --from/--to, not both")
        if period is None and (since is None or until is None):
            raise ReportArgumentError(
                "say what to report on: --period (2026-03, 2026-Q1, 2026-W10) "
                "or both --from and --to"
            )
        at_moment = None if at is None else parse_moment(at, "--at")
        if period is not None:
            try:
                parse_label(period.strip())
            except ValueError as exc:
                raise ReportArgumentError(f"--period: {exc}") from None
            return cls(label=period.strip(), at=at_moment)
        assert since is not None
        assert until is not None
        first, last = parse_moment(since, "--from"), parse_moment(until, "--to")
        if first.day is not None and last.day is not None and first.day >= last.day:
            raise ReportArgumentError(f"--from {since!r} must be before --to {until!r}")
        if (first.instant is not None and last.instant is not None
                and first.instant >= last.instant):
            raise ReportArgumentError(f"--from {since!r} must be before --to {until!r}")
        return cls(since=first, until=last, at=at_moment)

    def span(self, slo: SLO, now: float) -> Span:
        """Where the request lies for ``slo``, as of ``--at`` (default ``now``).

        ``at`` later than the end is the end: a past period is reported
        whole. Raises ReportArgumentError when ``--at`` is after ``now``, when
        the span has not started by ``at``, or (mixing a date and an
        instant) when it ends before it starts.
        """
        zone = time_zone_of(slo)
        if self.label is not None:
            unit, _ = parse_label(self.label)
            start, end = CalendarPeriod(unit, zone).span_of(self.label)
            label = self.label
        else:
            assert self.since is not None
            assert self.until is not None
            start, end = self.since.resolve(zone), self.until.resolve(zone)
            label = f"{self.since.text}/{self.until.text}"
            if start >= end:
                raise ReportArgumentError(
                    f"--from {self.since.text!r} is not before --to {self.until.text!r} "
                    f"in {zone}"
                )
        at = now if self.at is None else self.at.resolve(zone)
        if at > now:
            assert self.at is not None
            raise ReportArgumentError(
                f"--at {self.at.text!r} is in the future: a report is as of a past instant")
        if at <= start:
            when = "now" if self.at is None else f"--at {self.at.text!r}"
            raise ReportArgumentError(
                f"{label} has not started by {when} for {slo.key} "
                f"(it starts {rfc3339(start, zone)})"
            )
        return Span(label, start, end, min(at, end), zone)


def local_midnight(day: date, time_zone: str) -> float:
    """Epoch seconds at which ``day`` starts in ``time_zone``."""
    return _local_midnight(datetime(day.year, day.month, day.day), time_zone)


def time_zone_of(slo: SLO) -> str:
    """The zone an SLO's report is read in: its calendar's, else UTC."""
    return slo.period.time_zone if isinstance(slo.period, CalendarPeriod) else "UTC"


def rfc3339(at: float, time_zone: str) -> str:
    """``at`` as RFC 3339 with the zone's offset at that instant, to the second."""
    return datetime.fromtimestamp(round(at), ZoneInfo(time_zone)).isoformat()
