"""Time an SLO spent under its page and ticket conditions over a report's span.

Owns replaying the multiwindow burn-rate conditions the daemon alerts on
(``slomath.alert_pairs``, ``alert_factor``, ``burn_rate``) at the end of
every bucket of the span, from the events the report reads: a condition
holds when both its long and its short window burn faster than its factor,
the factor scaled to the length of the SLO's period at that instant (a
February is shorter than a March). Each bucket whose end finds a page
(ticket) condition holding adds one bucket width to the page (ticket) time.
Buckets that overlap maintenance drop out of every window, as in the
daemon, so a covered outage raises nothing.

The replay sees what the report reads: where its source starts at the
span's start (Prometheus history), the first days' long windows hold fewer
events than the daemon's did. It reads the buckets once and sums windows
from running totals. Must not read a clock or write anything.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from slo_exporter import slomath
from slo_exporter.exclusions import excluded_spans
from slo_exporter.model import ALERT_WINDOWS, SLO, CalendarPeriod, MaintenanceWindow

SEVERITIES: tuple[str, ...] = ("page", "ticket")


def alert_seconds(
    reader: Any,
    slo: SLO,
    *,
    start: float,
    at: float,
    maintenance: Sequence[MaintenanceWindow] = (),
) -> dict[str, float]:
    """Seconds of ``[start, at)`` under each severity's conditions (``page``, ``ticket``)."""
    res = float(reader.resolution)
    first = math.floor(start / res) * res
    steps = int((math.floor(at / res) * res - first) // res)
    out = dict.fromkeys(SEVERITIES, 0.0)
    if steps <= 0:
        return out
    reach = round(max(a.long for a in ALERT_WINDOWS) / res)
    lo = first - reach * res
    size = reach + steps
    good, total = [0.0] * size, [0.0] * size
    for b, g, t in reader.buckets(slo.key, lo, first + steps * res):
        i = int((b - lo) // res)
        if 0 <= i < size:
            good[i] += g
            total[i] += t
    for s, e in excluded_spans(maintenance, slo.id, lo, first + steps * res):
        for i in range(max(int((s - lo) // res), 0), min(math.ceil((e - lo) / res), size)):
            good[i] = total[i] = 0.0
    run_good = [0.0, *accumulate(good)]
    run_total = [0.0, *accumulate(total)]
    period = slo.period
    length = period.longest
    held = (math.inf, math.inf)  # the calendar period ``length`` belongs to; none yet
    for step in range(steps):
        end = reach + step + 1  # index just past the bucket that ends now
        instant = lo + (end - 1) * res  # inside the bucket that ends now
        if isinstance(period, CalendarPeriod) and not held[0] <= instant < held[1]:
            held = period.current(instant)
            length = held[1] - held[0]
        firing: set[str] = set()
        for pair in slomath.alert_pairs(length):
            if pair.severity in firing:
                continue
            factor = pair.threshold(length)
            if all(_burn(run_good, run_total, end, round(w / res), slo.objective) > factor
                   for w in pair.windows):
                firing.add(pair.severity)
        for severity in firing:
            out[severity] = out.get(severity, 0.0) + res
    return out


def _burn(run_good: list[float], run_total: list[float], end: int, width: int,
          objective: float) -> float:
    """Burn rate of the ``width`` buckets ending before index ``end``; 0 without events."""
    begin = max(end - width, 0)
    good, total = run_good[end] - run_good[begin], run_total[end] - run_total[begin]
    if total - good <= 0.0:  # nothing bad: no burn (most windows; skips the exact math)
        return 0.0
    rate = slomath.burn_rate(slomath.Counts(good, total), objective)
    return 0.0 if rate is None else rate
