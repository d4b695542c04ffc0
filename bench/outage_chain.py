"""Pieces of the detection-time bench's ratio chain: counters, history, Sloth-style rules, floor.

Owns: a scrape target whose request counters switch from healthy to a
total outage at a recorded instant, the OpenMetrics text of its healthy
history (for ``promtool tsdb create-blocks-from openmetrics``), the
Sloth-style recording and alerting rules for the same SLO, and the pure
arithmetic the report needs (the math floor of a window pair, medians).

Must not: start processes, wait, or touch any address other than 127.0.0.1
(``bench/detection_time.py`` drives the chain).
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.support.harness import ScrapeTarget

#: The counter family the target exposes (samples carry the ``_total`` suffix).
FAMILY = "http_requests"
JOB = "api"

#: Sloth's multiwindow pairs for a 30-day period: (short, long, burn factor).
SLOTH_PAGE_PAIRS = (("5m", "1h", 14.4), ("30m", "6h", 6.0))
SLOTH_TICKET_PAIRS = (("2h", "1d", 3.0), ("6h", "3d", 1.0))
SLOTH_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def floor_seconds(
    objective: float, factor: float, long_window: float, failure_share: float = 1.0
) -> float:
    """Seconds of failures until the long window's error ratio passes ``factor`` x budget.

    The long window's error ratio after ``t`` seconds of failing a share
    ``f`` of requests (healthy before) is ``f * t / long_window``; it passes
    ``factor * (1 - objective)`` at ``t = factor * (1 - objective) * long_window / f``.
    """
    if not 0.0 < failure_share <= 1.0:
        raise ValueError(f"failure share must be within (0, 1], got {failure_share!r}")
    return factor * (1.0 - objective) * long_window / failure_share


#: slo-exporter's page pairs on a 30-day period: (short, long seconds, burn factor).
PAGE_PAIRS = ((300.0, 3600.0, 14.4), (1800.0, 21600.0, 6.0))


def pair_name(short: float, long: float) -> str:
    """``1h/5m`` for (300, 3600): the long window first, as the alert labels give them."""
    def name(seconds: float) -> str:
        return f"{seconds / 3600:g}h" if seconds >= 3600 else f"{seconds / 60:g}m"

    return f"{name(long)}/{name(short)}"


def outage_floor(objective: float, history: float) -> tuple[float, str]:
    """Seconds of total outage until the first page pair holds, after ``history`` s of health.

    A window longer than the history holds only the history and the outage,
    so its error ratio after ``t`` s is ``t / (history + t)``: it passes
    ``b = factor * (1 - objective)`` at ``t = b * history / (1 - b)``. A full
    window passes at ``t = b * window``. The pair holds once both of its
    windows do; the earliest pair is the floor.
    """
    def crossing(window: float, b: float) -> float:
        full = b * window
        return full if history + full >= window else b * history / (1.0 - b)

    return min(
        (max(crossing(short, factor * (1.0 - objective)),
             crossing(long, factor * (1.0 - objective))), pair_name(short, long))
        for short, long, factor in PAGE_PAIRS
    )


def median(values: Sequence[float]) -> float | None:
    """The median of the measured values; None when there are none."""
    return statistics.median(values) if values else None


# ------------------------------------------------------------------ target


class OutageCounters(ScrapeTarget):
    """``/metrics`` with ``http_requests_total{job, code}``, healthy until ``outage()``.

    Counters are a function of time: before the outage every request
    (``rps`` per second) succeeds (code 200), after it every request fails
    (code 500). The same function gives the backfilled history, so the live
    counters continue it without a reset.
    """

    def __init__(self, *, rps: float, since: float, clock: Callable[[], float] = time.time):
        self.rps = rps
        self.since = since
        self._clock = clock
        self._lock = threading.Lock()
        self.onset: float | None = None
        super().__init__()

    def values(self, at: float) -> tuple[int, int]:
        """(good, bad) counter values at ``at``."""
        with self._lock:
            onset = self.onset
        healthy_until = at if onset is None else min(at, onset)
        failing = 0.0 if onset is None else max(at - onset, 0.0)
        good = math.floor(self.rps * max(healthy_until - self.since, 0.0))
        return good, math.floor(self.rps * failing)

    def exposition(self, at: float | None = None) -> str:
        good, bad = self.values(self._clock() if at is None else at)
        return (
            f"# TYPE {FAMILY}_total counter\n"
            f'{FAMILY}_total{{job="{JOB}",code="200"}} {good}\n'
            f'{FAMILY}_total{{job="{JOB}",code="500"}} {bad}\n'
        )

    def outage(self) -> float:
        """Every request fails from now on; returns the onset instant."""
        with self._lock:
            self.onset = self._clock()
            return self.onset

    def history(self, end: float, step: float) -> str:
        """OpenMetrics text of the healthy counters from ``since`` to ``end``, every ``step`` s."""
        lines = [f"# TYPE {FAMILY} counter\n"]
        samples = []
        at = self.since
        while at <= end:
            samples.append((at, math.floor(self.rps * (at - self.since))))
            at += step
        for code, healthy in (("200", True), ("500", False)):
            lines.extend(
                f'{FAMILY}_total{{job="{JOB}",code="{code}"}} {good if healthy else 0} {at:.3f}\n'
                for at, good in samples
            )
        lines.append("# EOF\n")
        return "".join(lines)


# ------------------------------------------------------ Sloth-style rules

SLOTH_ALERT = "SlothHighErrorRate"


def sloth_rules(*, service: str, slo: str, objective: float, owner: str) -> dict[str, Any]:
    """Sloth-style rules (as Sloth 0.16 generates them) for a 99.x% requests SLO on the target.

    Recording rules give the error ratio ``rate(errors[w]) / rate(total[w])``
    per window; the page alert fires when both windows of the 5m/1h pair
    exceed 14.4 x budget, or both of the 30m/6h pair exceed 6 x; the ticket
    alert likewise for 2h/1d at 3 x and 6h/3d at 1 x. No ``for:``, as Sloth.
    The alerts are named ``SlothHighErrorRate`` so the webhook tells them
    from slo-exporter's.
    """
    sloth_id = f"{service}-{slo}"
    ids = {"sloth_id": sloth_id, "sloth_service": service, "sloth_slo": slo}
    selector = ", ".join(f'{k}="{v}"' for k, v in ids.items())
    errors = f'{FAMILY}_total{{job="{JOB}",code=~"5.."}}'
    total = f'{FAMILY}_total{{job="{JOB}"}}'
    budget = repr(1.0 - objective)

    recordings: list[dict[str, Any]] = [
        {
            "record": f"slo:sli_error:ratio_rate{w}",
            "expr": f"(sum(rate({errors}[{w}])))\n/\n(sum(rate({total}[{w}])))\n",
            "labels": {**ids, "owner": owner, "sloth_window": w},
        }
        for w in SLOTH_WINDOWS
    ]
    recordings.append({
        "record": "slo:sli_error:ratio_rate30d",
        "expr": (
            f"sum_over_time(slo:sli_error:ratio_rate5m{{{selector}}}[30d])\n"
            "/ ignoring (sloth_window)\n"
            f"count_over_time(slo:sli_error:ratio_rate5m{{{selector}}}[30d])\n"
        ),
        "labels": {**ids, "owner": owner, "sloth_window": "30d"},
    })

    def condition(pairs: Sequence[tuple[str, str, float]]) -> str:
        def above(window: str, factor: float) -> str:
            return (f"max(slo:sli_error:ratio_rate{window}{{{selector}}} > "
                    f"({factor:g} * {budget})) without (sloth_window)")

        return "\nor\n".join(
            f"(\n    {above(short, factor)}\n    and\n    {above(long, factor)}\n)"
            for short, long, factor in pairs
        ) + "\n"

    def alert(severity: str, pairs: Sequence[tuple[str, str, float]]) -> dict[str, Any]:
        return {
            "alert": SLOTH_ALERT,
            "expr": condition(pairs),
            "labels": {"severity": severity, "sloth_severity": severity, "owner": owner},
            "annotations": {
                "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
                         "SLO error budget burn rate is too fast.",
            },
        }

    return {"groups": [
        {"name": f"sloth-slo-sli-recordings-{sloth_id}", "rules": recordings},
        {"name": f"sloth-slo-alerts-{sloth_id}", "rules": [
            alert("page", SLOTH_PAGE_PAIRS), alert("ticket", SLOTH_TICKET_PAIRS),
        ]},
    ]}
