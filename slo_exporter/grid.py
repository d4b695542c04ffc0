"""Evaluation instants on a grid of the epoch, so replicas describe the same instants.

Two replicas (an HA pair) started at different times, reading the same
Prometheus, export the same values only if they evaluate the same instants.
A full cycle describes the last multiple of ``evaluation_interval`` since the
Unix epoch at or before now less ``query_delay``, and the daemon fires cycles
at those instants plus ``query_delay``, so nothing depends on when a process
started. (The fast path between cycles follows samples as they land, at the
instant it reads; the next grid instant brings a pair together again.)

Pure functions of the time given: no clock reads, no scheduling.
"""

from __future__ import annotations

import math


def instant(t: float, step: float) -> float:
    """The last multiple of ``step`` (seconds since the epoch) at or before ``t``."""
    if not step > 0:
        raise ValueError(f"a grid step must be > 0 seconds, got {step!r}")
    return math.floor(t / step) * step


def first_fire(now: float, step: float, offset: float = 0.0) -> float:
    """The first wall time at or after ``now`` that is a multiple of ``step`` plus ``offset``.

    A cycle fired then, evaluating ``instant(fire - offset, step)``, describes
    exactly that multiple.
    """
    start = instant(now - offset, step) + offset
    return start if start >= now else start + step
