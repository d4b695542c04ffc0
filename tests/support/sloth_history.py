"""Synthetic history for Sloth's ``getting-started`` and ``home-wifi`` examples,
and what Sloth's rules and the exporter must compute from it.

Owns:

* generating 30 days and 3 hours of history ending at ``last`` (a sample
  instant ten seconds before a minute mark): the request counters
  ``http_request_duration_seconds_count`` of ``getting-started`` (traffic
  that varies 10x over the day, errors as a share of it, a daily incident at
  the quiet hour, one at a busy hour, and one running at the end) and the
  per-client gauges ``unifipoller_client_satisfaction_ratio`` of
  ``home-wifi`` (clients that come and go over the day, poor satisfaction
  mostly at night when few are connected). Counters are sampled every
  ``COARSE_STEP`` seconds, every ``FINE_STEP`` seconds over the last
  ``FINE_SPAN`` (every window up to 3d lies in it); gauges every minute, 30 s
  off the minute marks. The day is laid out relative to ``last``, so every
  run sees the same shape whatever the wall clock says;
* writing it as OpenMetrics for ``promtool tsdb create-blocks-from``;
* the oracle, from the generated samples alone: the exact events of a
  window, what an exporter window holds (buckets of ``RESOLUTION`` seconds
  with the current one partly filled, a ``{{.window}}`` template read once
  per bucket end ``e`` over ``(e - RESOLUTION, e]``), and what a Sloth rule
  evaluated at an instant gives under Prometheus 2's closed ranges
  (``[x - w, x]``, for range selectors and for subqueries aligned to the
  minute).

The counter oracle relies on the history's shape: every series shares the
sample instants and starts far from zero and never resets, so ``rate()``'s
extrapolation scales every series of a window by the same factor and
cancels in an error ratio; the ratio is the ratio of the increases between
the samples inside the range.

Must not import the daemon (the oracle is independent of the code under
test), read a clock, or touch anything but the file it is asked to write.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.synth import Sample, series_key

DAY = 86400
MINUTE = 60
FINE_STEP = 10
COARSE_STEP = 60
#: the last span sampled every FINE_STEP: the longest compared window (3d) and a margin
FINE_SPAN = 3 * DAY + 3600
#: the exporter's 30d backfill starts 10 minutes before the window, and Sloth's
#: 30d SLI at the end reads 5-minute ratios back to 30d 5m before it
SPAN = 30 * DAY + 3 * 3600
#: the exporter's bucket width (its default ``storage.resolution``)
RESOLUTION = 60
#: Prometheus' lookback for an instant selector (2.x: samples in [x - 5m, x])
LOOKBACK = 300

COUNTER = "http_request_duration_seconds_count"
COUNTER_FAMILY = "http_request_duration_seconds"
GAUGE = "unifipoller_client_satisfaction_ratio"

#: (job, code) of every counter series, with its value at the first sample
COUNTER_SERIES: tuple[tuple[str, str, float], ...] = (
    ("myservice", "200", 5_000_000.0),
    ("myservice", "429", 100_000.0),
    ("myservice", "500", 200_000.0),
    # another job with many errors: the examples' job="myservice" must leave it out
    ("checkout", "500", 100_000.0),
)
#: the home-wifi SLO thresholds: a client below it is a bad event
THRESHOLDS = {"good-wifi-client-satisfaction": 0.75, "risk-wifi-client-satisfaction": 0.5}


def _phase(ts: float, last: int) -> float:
    """Seconds since the quiet hour of ``ts``'s day (the quiet hour is 8h before ``last``)."""
    return (ts - (last - 8 * 3600)) % DAY


@dataclass(frozen=True)
class Traffic:
    """Requests per second and error shares of ``getting-started`` (job="myservice")."""

    last: int
    min_rps: float = 20.0
    max_rps: float = 200.0
    background_5xx: float = 0.0004
    background_429: float = 0.0002

    def rps(self, ts: float) -> float:
        swing = (1.0 - math.cos(2.0 * math.pi * _phase(ts, self.last) / DAY)) / 2.0
        return self.min_rps + (self.max_rps - self.min_rps) * swing

    def share_5xx(self, ts: float) -> float:
        """The share of 5xx answers: incidents at the quiet hour, one busy one, one at the end."""
        phase = _phase(ts, self.last)
        day = math.floor((ts - (self.last - 8 * 3600)) / DAY)
        if phase < 600 or phase >= DAY - 600:  # 20 minutes around the quiet hour, every day
            return 0.10 + 0.05 * (day % 5)
        if self.last - 10 * DAY + 3600 <= ts < self.last - 10 * DAY + 5400:
            return 0.02  # half an hour at a busy hour, ten days ago
        if ts > self.last - 240:
            return 0.05  # the incident running at the evaluation instant
        return self.background_5xx


@dataclass(frozen=True)
class Edge:
    """The events at a window's edge that one side counts and the other does not
    (or counts at another weight): their share of the window's other events,
    and their own error share."""

    share: float
    error_ratio: float

    def tolerance(self, window_error_ratio: float) -> float:
        """The largest relative difference of the two sides' error ratios.

        With ``s`` the edge's share and ``p`` its error share, the two ratios
        differ by ``s * |p - r|`` relative to ``r``, the window's: at most
        ``s * max(1, p / r)`` (both ratios are non-negative).
        """
        if window_error_ratio <= 0:
            return math.inf if self.error_ratio > 0 else self.share
        return self.share * max(1.0, self.error_ratio / window_error_ratio)


@dataclass(frozen=True)
class SlothHistory:
    """The generated samples: counters on one shared grid, gauges per client."""

    last: int  # seconds; the last counter sample, 10 s before a minute mark
    grid: tuple[int, ...]  # counter sample instants, seconds
    counters: Mapping[tuple[str, str], tuple[float, ...]]  # (job, code) -> values
    gauges: Mapping[str, tuple[Sample, ...]]  # client -> (ms, value)

    @property
    def start(self) -> int:
        return self.grid[0]

    # -- views --------------------------------------------------------------

    def counter_samples(
        self, *, job: str = "myservice", errors: bool = False
    ) -> dict[str, list[Sample]]:
        """Raw samples of the series the example's total (or error) query selects."""
        return {
            series_key({"job": j, "code": code}): [
                (ts * 1000, v) for ts, v in zip(self.grid, values, strict=True)
            ]
            for (j, code), values in self.counters.items()
            if j == job and (not errors or code.startswith("5") or code == "429")
        }

    # -- counters -----------------------------------------------------------

    def _increase(self, first: int, last: int, *, errors: bool) -> float:
        """Increase of the job's total (or error) series from grid index ``first`` to ``last``."""
        total = 0.0
        for (job, code), values in self.counters.items():
            if job != "myservice" or (errors and not (code.startswith("5") or code == "429")):
                continue
            total += values[last] - values[first]
        return total

    def counter_exporter(self, t: float, window: float) -> tuple[float, float]:
        """(errors, total) of an exporter window at ``t``: the increases of the
        samples in the buckets ``[end - window, end)`` seen by ``t``, each from
        the sample before it (``end`` = the end of ``t``'s bucket)."""
        end = math.floor(t / RESOLUTION) * RESOLUTION + RESOLUTION
        first = bisect.bisect_left(self.grid, end - window)
        last = bisect.bisect_right(self.grid, t) - 1
        if first < 1 or last < first:
            raise ValueError(f"window {window:g}s at {t} is outside the history")
        return (self._increase(first - 1, last, errors=True),
                self._increase(first - 1, last, errors=False))

    def counter_sloth(self, x: float, window: float) -> float | None:
        """``sum(rate(errors[w])) / sum(rate(total[w]))`` at ``x``: the increases
        between the samples in ``[x - w, x]`` (extrapolation cancels, see the module)."""
        first = bisect.bisect_left(self.grid, math.ceil(x - window))
        last = bisect.bisect_right(self.grid, x) - 1
        if last - first < 1:
            return None
        total = self._increase(first, last, errors=False)
        return None if total == 0 else self._increase(first, last, errors=True) / total

    def counter_edge(self, t: float, window: float) -> Edge:
        """What only the exporter's window at ``t`` counts: the increase into the
        first sample of Sloth's range, which ``rate()`` cannot see (it has no
        sample before the range)."""
        _, total = self.counter_exporter(t, window)
        first = bisect.bisect_left(self.grid, math.ceil(t - window))
        events = self._increase(first - 1, first, errors=False)
        errors = self._increase(first - 1, first, errors=True)
        return Edge(events / (total - events), errors / events if events else 0.0)

    # -- gauges -------------------------------------------------------------

    def _marks(self) -> range:
        first = (self.start // MINUTE + 1) * MINUTE
        return range(first, self.last + MINUTE, MINUTE)

    def client_points(self) -> dict[int, tuple[int, int, int]]:
        """Per minute mark: (clients, below 0.75, below 0.5) as an instant query
        sees them (each client's latest sample within the lookback)."""
        points: dict[int, list[int]] = {mark: [0, 0, 0] for mark in self._marks()}
        for samples in self.gauges.values():
            stamps = [ts // 1000 for ts, _ in samples]
            for mark, counts in points.items():
                i = bisect.bisect_right(stamps, mark) - 1
                if i < 0 or stamps[i] < mark - LOOKBACK:
                    continue
                value = samples[i][1]
                counts[0] += 1
                counts[1] += value < THRESHOLDS["good-wifi-client-satisfaction"]
                counts[2] += value < THRESHOLDS["risk-wifi-client-satisfaction"]
        return {mark: (c[0], c[1], c[2]) for mark, c in points.items()}


@dataclass(frozen=True)
class ClientPoints:
    """The per-minute client counts of home-wifi, with prefix sums for window sums."""

    marks: tuple[int, ...]
    clients: tuple[int, ...]
    bad: Mapping[str, tuple[int, ...]]  # SLO name -> clients below its threshold

    @classmethod
    def of(cls, history: SlothHistory) -> ClientPoints:
        points = history.client_points()
        marks = tuple(sorted(points))
        return cls(
            marks=marks,
            clients=_prefix(points[m][0] for m in marks),
            bad={
                "good-wifi-client-satisfaction": _prefix(points[m][1] for m in marks),
                "risk-wifi-client-satisfaction": _prefix(points[m][2] for m in marks),
            },
        )

    def _sum(self, prefix: tuple[int, ...], lo: float, hi: float) -> int:
        """Sum over the marks in ``[lo, hi]``."""
        i = bisect.bisect_left(self.marks, lo)
        j = bisect.bisect_right(self.marks, hi)
        return prefix[j] - prefix[i]

    def exact(self, slo: str, t: float, window: float) -> tuple[int, int]:
        """(bad, all) client points at the minute marks in ``(t - window, t]``, each once."""
        lo = math.floor(t - window) + 1
        return self._sum(self.bad[slo], lo, t), self._sum(self.clients, lo, t)

    def sloth(self, slo: str, x: float, window: float) -> float | None:
        """``sum_over_time(count(..)[w:])`` ratio at ``x``: the marks in ``[x - w, x]``."""
        total = self._sum(self.clients, x - window, x)
        return None if total == 0 else self._sum(self.bad[slo], x - window, x) / total

    def exporter(self, slo: str, t: float, window: float, *, lag: float) -> tuple[int, int]:
        """(bad, all) of an exporter window at ``t`` over a ``[{{.window}}:]`` template.

        Buckets ``[end - window, end)`` (``end`` = the end of ``t``'s bucket);
        a bucket's value is the template at its end ``e``, read once ``e`` is
        ``lag`` seconds past, with ``{{.window}}`` one bucket less a
        millisecond: the subquery holds the one mark of ``(e - 60 s, e]``,
        ``e`` itself. So the window counts each mark in ``(end - window,
        last_end]`` once (``last_end`` the newest bucket end read): the exact
        client-minutes of its complete buckets.
        """
        end = math.floor(t / RESOLUTION) * RESOLUTION + RESOLUTION
        last_end = min(end, math.floor((t - lag) / RESOLUTION) * RESOLUTION)
        first = end - window + 1  # marks are whole seconds: (end - window, ...] from here
        return self._sum(self.bad[slo], first, last_end), self._sum(self.clients, first, last_end)

    def edge(self, slo: str, t: float, window: float, *, lag: float) -> Edge:
        """What only Sloth's rule at ``t`` counts: the marks of ``[t - window, t]``
        outside the exporter's ``(end - window, last_end]``, which lies inside it
        (``end > t``, ``last_end <= t``). The exporter's window holds only
        complete buckets, not the one ``t`` is in, so at a ``t`` in the last
        seconds of a minute (``lag`` after its start) that is the oldest
        mark, ``end - window``."""
        bad, total = self.exporter(slo, t, window, lag=lag)
        events = self._sum(self.clients, t - window, t) - total
        errors = self._sum(self.bad[slo], t - window, t) - bad
        return Edge(events / total, errors / events if events else 0.0)


def _prefix(values: Iterable[int]) -> tuple[int, ...]:
    out = [0]
    for v in values:
        out.append(out[-1] + v)
    return tuple(out)


# ------------------------------------------------------------------ generating


def _grid(last: int) -> list[int]:
    start = last - SPAN
    fine_from = last - FINE_SPAN
    coarse = list(range(start - start % COARSE_STEP, fine_from, COARSE_STEP))
    return coarse + list(range(coarse[-1] + FINE_STEP, last + 1, FINE_STEP))


def generate(last: int) -> SlothHistory:
    """The history ending at ``last``, which must be 10 s before a minute mark."""
    if (last + FINE_STEP) % MINUTE:
        raise ValueError(f"last={last} must be {FINE_STEP}s before a minute mark")
    traffic = Traffic(last)
    grid = _grid(last)
    counters: dict[tuple[str, str], list[float]] = {
        (job, code): [initial] for job, code, initial in COUNTER_SERIES
    }
    # Whole requests per interval, carrying the fractions so totals stay smooth.
    carry = {"total": 0.0, "5xx": 0.0, "429": 0.0, "other": 0.0}
    for prev, ts in itertools.pairwise(grid):
        mid = (prev + ts) / 2.0
        requests = traffic.rps(mid) * (ts - prev)
        new = {}
        for key, amount in (
            ("total", requests),
            ("5xx", requests * traffic.share_5xx(mid)),
            ("429", requests * traffic.background_429),
            ("other", requests * 0.3),
        ):
            carry[key] += amount
            new[key] = math.floor(carry[key])
            carry[key] -= new[key]
        ok = new["total"] - new["5xx"] - new["429"]
        for series, amount in (
            (("myservice", "200"), ok),
            (("myservice", "500"), new["5xx"]),
            (("myservice", "429"), new["429"]),
            (("checkout", "500"), new["other"]),
        ):
            values = counters[series]
            values.append(values[-1] + amount)
    return SlothHistory(
        last=last,
        grid=tuple(grid),
        counters={k: tuple(v) for k, v in counters.items()},
        gauges=_clients(last),
    )


def _connected(client: int, phase: float) -> bool:
    """Two clients stay on; six come in the morning and leave at night, staggered."""
    if client < 2:
        return True
    arrive = 6 * 3600 + (client - 2) * 1200
    leave = 22 * 3600 - (client - 2) * 900
    return arrive <= phase < leave


def _satisfaction(client: int, ts: int, last: int) -> float:
    phase = _phase(ts, last)
    day = math.floor((ts - (last - 8 * 3600)) / DAY)
    if client == 2 and ts > last - 240:
        return 0.45  # the episode running at the evaluation instant
    if client == 0 and (phase < 1800 or phase >= DAY - 1800):
        return 0.6  # the TV is poorly served around the quiet hour, every night
    if client == 1 and day % 3 == 0 and phase < 1200:
        return 0.4  # the NAS drops to a risky level every third night
    if 3 <= client <= 5 and last - 6 * DAY + 14 * 3600 <= ts < last - 6 * DAY + 14 * 3600 + 2400:
        return 0.7  # a daytime interference episode six days ago
    return 0.9 + 0.05 * math.sin(ts / 3600.0 + client)


def _clients(last: int) -> dict[str, tuple[Sample, ...]]:
    first = (last - SPAN) // MINUTE * MINUTE + 30
    out: dict[str, tuple[Sample, ...]] = {}
    for client in range(8):
        out[f"client-{client}"] = tuple(
            (ts * 1000, round(_satisfaction(client, ts, last), 4))
            for ts in range(first, last + 1, MINUTE)
            if _connected(client, _phase(ts, last))
        )
    return out


def write_openmetrics(path: Path, history: SlothHistory) -> int:
    """Write the history as OpenMetrics (one family per metric); returns the sample count."""
    count = 0
    with path.open("w", encoding="ascii") as out:
        out.write(f"# TYPE {COUNTER_FAMILY} summary\n")
        for (job, code), values in history.counters.items():
            labels = f'{{code="{code}",job="{job}"}}'
            out.writelines(
                f"{COUNTER}{labels} {int(v)} {ts}\n" for ts, v in zip(history.grid, values,
                                                                      strict=True)
            )
            count += len(values)
        out.write(f"# TYPE {GAUGE} gauge\n")
        for client, samples in history.gauges.items():
            labels = f'{{job="unifipoller",name="{client}"}}'
            out.writelines(f"{GAUGE}{labels} {v!r} {ts // 1000}\n" for ts, v in samples)
            count += len(samples)
        out.write("# EOF\n")
    return count
