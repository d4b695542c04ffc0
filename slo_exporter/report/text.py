"""How the human formats (markdown, html) write a report's figures.

Owns the wording and rounding a reader sees: levels as percentages cut
down to four places exactly as the SLA compares them (so the credit a
reader works out from the page is the credit due), counts with thousands
separators, spans of time in days, hours and minutes, instants in the
period's own zone, and the verdict words. The JSON and CSV formats keep
full precision and do not use this module.

Must not compute figures or escape markup (each format escapes its own).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO
from slo_exporter.model.identity import group_text
from slo_exporter.sla import percent_from_ratio

NO_DATA = "no data"


def slo_name(slo: SLO) -> str:
    """The SLO's name, a group's label values after it: ``availability {route="/a"}``."""
    return f"{slo.name} {group_text(slo.group)}" if slo.group else slo.name


def percent(ratio: float | None) -> str:
    """``0.99367663`` -> ``99.3676 %`` (cut down, never rounded up); None -> no data."""
    if ratio is None:
        return NO_DATA
    level = percent_from_ratio(min(max(ratio, 0.0), 1.0))
    assert level is not None
    return f"{int(level)} %" if level == level.to_integral_value() else f"{level} %"


def objective(ratio: float) -> str:
    """An objective as written: ``0.999`` -> ``99.9 %``."""
    return f"{Decimal(repr(ratio)) * 100:f}".rstrip("0").rstrip(".") + " %"


def credit(percent_due: Decimal | None) -> str:
    """A credit in percent of the bill: ``10 %``, or ``-`` when unknown."""
    if percent_due is None:
        return "-"
    return f"{percent_due.normalize():f} %"


def budget(spent: float | None) -> str:
    """Budget spent as a percentage of the whole budget: ``632.3 %``."""
    if spent is None:
        return NO_DATA
    return f"{spent * 100:,.1f} %"


def count(value: float) -> str:
    """``44000`` -> ``44,000``; fractional counts keep two places."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def duration(seconds: float) -> str:
    """``18000`` -> ``5 h``; ``93784`` -> ``1 d 2 h 3 min``; under a minute in seconds."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts)


def when(at: float, time_zone: str) -> str:
    """An instant in the zone: ``2026-03-01 00:00 +01:00``."""
    local = datetime.fromtimestamp(at, ZoneInfo(time_zone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def verdict(met: bool | None) -> str:
    """``met``, ``missed`` or ``no data``."""
    if met is None:
        return NO_DATA
    return "met" if met else "missed"


def status(f: PeriodFigures) -> str:
    """``MET``, ``MISSED`` or ``NO DATA``, with ``so far`` while the period runs."""
    word = verdict(f.met).upper()
    return word if f.at >= f.end or f.met is None else f"{word} so far"


def coverage(f: PeriodFigures) -> str:
    return percent(f.coverage)


def events_line(f: PeriodFigures) -> str:
    """Good, bad and excluded events."""
    return (f"{count(f.good_events)} good, {count(f.bad_events)} bad, "
            f"{count(f.excluded_events)} in maintenance")


def slices_line(f: PeriodFigures) -> str:
    """The slice tally, or an empty string for occurrences budgeting."""
    s = f.slices
    if s is None or f.budgeting != "timeslices":
        return ""
    return (f"{count(s.good)} good, {count(s.bad)} bad, {count(s.excluded)} excluded, "
            f"{count(s.unmeasured)} unmeasured, {count(s.empty)} empty")


def evidence_line(f: PeriodFigures) -> str:
    """The confidence interval and its verdict, or ``no data``."""
    e = f.evidence
    if e is None and f.budgeting == "ratio_timeslices" and f.achieved is not None:
        return "none: a mean of slice ratios is no count of trials"
    if e is None:
        return NO_DATA
    return (f"{e.confidence * 100:g} % interval {percent(e.lower)} to {percent(e.upper)}: "
            f"{e.verdict}")


def sla_line(f: PeriodFigures) -> str:
    """The SLA's objective, verdict and credit due, or ``none``."""
    if f.sla is None:
        return "none"
    return (f"{f.sla.objective.normalize():f} % over {f.sla.label}: {verdict(f.sla.met)}, "
            f"credit due {credit(f.sla.credit_percent)}")


def exhaustion(f: PeriodFigures) -> str:
    if f.exhaustion_at is None:
        return "not within the period"
    if f.exhaustion_at <= f.at:
        return "already spent"
    return when(f.exhaustion_at, f.time_zone)


def worst_day(f: PeriodFigures) -> str:
    if f.worst_day is None:
        return NO_DATA
    return f"{f.worst_day.date} ({percent(f.worst_day.achieved)})"


def alerts_line(seconds: Mapping[str, float]) -> str:
    """Time under the page and ticket conditions: ``page 1 h, ticket 5 h 30 min``."""
    return ", ".join(f"{severity} {duration(seconds.get(severity, 0.0))}"
                     for severity in ("page", "ticket"))
