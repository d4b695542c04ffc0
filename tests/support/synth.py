"""Synthetic request-counter history and the exact accounting it implies.

Owns: generating deterministic ``http_requests_total`` history (traffic that
varies 10x over the day, short error bursts at the quiet hour, counter
resets), writing it as OpenMetrics for ``promtool tsdb create-blocks-from``,
and the reference ("oracle") accounting the integration tests compare the
daemon against:

* ``increases`` turns raw counter samples into exact per-sample increases
  (``v_i - v_{i-1}``, or ``v_i`` after a reset; the first sample of a series
  is a baseline only), attributed to the later sample's timestamp;
* ``window_sum`` sums them over a window with the store's bucket convention:
  a window ``W`` evaluated at ``t`` covers the buckets whose start lies in
  ``[end - W, end)`` with ``end = floor(t / res) * res + res``, and only
  samples at or before ``t`` (the daemon cannot have seen later ones);
* ``sloth_error_ratio`` is the average of 5-minute error ratios, the way
  Sloth-generated rules compute a 30-day SLI, for contrast.

Must not: import the daemon (the oracle is independent of the code under
test), read clocks (``end`` is passed in), or cache anything on disk.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DAY = 86400
METRIC = "http_requests_total"
FAMILY = "http_requests"  # OpenMetrics family name of a counter drops `_total`

#: One raw sample: (timestamp in milliseconds, value), as Prometheus stores it.
Sample = tuple[int, float]


@dataclass(frozen=True)
class Traffic:
    """Shape of one job's synthetic traffic; the defaults are the test scenario."""

    min_rps: float = 1.0  # at the quiet hour
    max_rps: float = 10.0  # twelve hours later: 10x the quiet hour
    quiet_hour: float = 4.0  # UTC hour of least traffic, where the bursts happen
    burst_minutes: float = 15.0
    burst_error_range: tuple[float, float] = (0.4, 0.6)  # error share, drawn per day
    background_error: float = 0.0005
    #: counter resets (a restarted app) this many seconds before the end
    resets_before_end: tuple[int, ...] = (12 * DAY + 7 * 3600 + 1234, 20 * 3600 + 95)

    def rps(self, ts: float) -> float:
        hour = (ts % DAY) / 3600.0
        swing = (1.0 - math.cos(2.0 * math.pi * (hour - self.quiet_hour) / 24.0)) / 2.0
        return self.min_rps + (self.max_rps - self.min_rps) * swing

    def in_burst(self, ts: float) -> bool:
        seconds_into_day = ts % DAY
        start = self.quiet_hour * 3600.0
        return start <= seconds_into_day < start + self.burst_minutes * 60.0


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: exact (Knuth) for small means, normal approximation above."""
    if lam <= 0:
        return 0
    if lam >= 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass(frozen=True)
class JobHistory:
    """Raw samples of one job's good (code=200) and bad (code=500) counters."""

    job: str
    step: int  # seconds between samples
    timestamps: tuple[int, ...]  # milliseconds
    good_values: tuple[float, ...]
    bad_values: tuple[float, ...]

    def series(self) -> dict[str, list[Sample]]:
        """Raw samples keyed by the series' label text, e.g. ``{code="200",job="api"}``."""
        return {**self.good_series(), **self.bad_series()}

    def good_series(self) -> dict[str, list[Sample]]:
        key = series_key({"job": self.job, "code": "200"})
        return {key: list(zip(self.timestamps, self.good_values, strict=True))}

    def bad_series(self) -> dict[str, list[Sample]]:
        key = series_key({"job": self.job, "code": "500"})
        return {key: list(zip(self.timestamps, self.bad_values, strict=True))}

    @property
    def last_good(self) -> float:
        return self.good_values[-1]

    @property
    def last_bad(self) -> float:
        return self.bad_values[-1]

    @property
    def end_ms(self) -> int:
        return self.timestamps[-1]


def series_key(labels: Mapping[str, str]) -> str:
    """Canonical label text of a series (sorted, without ``__name__``)."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return "{" + inner + "}"


def ending_two_days_ago(span: float, now: float) -> float:
    """The start of a ``span``-second history ending on the whole hour two days before ``now``."""
    return (now // 3600) * 3600 - 2 * DAY - span


def generate_job(
    job: str,
    *,
    end: float,
    days: float = 32,
    step: int = 30,
    seed: int = 20261122,
    traffic: Traffic | None = None,
) -> JobHistory:
    """History of one job ending at the last multiple of ``step`` not after ``end``."""
    traffic = traffic or Traffic()
    rng = random.Random(f"{seed}/{job}")
    last = int(end) // step * step
    first = last - int(days * DAY) // step * step
    reset_at = {(last - r) // step * step for r in traffic.resets_before_end}
    burst_share: dict[int, float] = {}

    good, bad = float(rng.randint(1000, 5000)), float(rng.randint(0, 20))
    stamps, goods, bads = [first * 1000], [good], [bad]
    for ts in range(first + step, last + 1, step):
        mid = ts - step / 2.0  # rate and burst are judged at the interval's middle
        if traffic.in_burst(mid):
            day = int(mid // DAY)
            if day not in burst_share:
                burst_share[day] = rng.uniform(*traffic.burst_error_range)
            p_err = burst_share[day]
        else:
            p_err = traffic.background_error
        lam = traffic.rps(mid) * step
        new_good = _poisson(rng, lam * (1.0 - p_err))
        new_bad = _poisson(rng, lam * p_err)
        if ts in reset_at:
            # the app restarted during this interval: counters begin again at
            # zero, so the sample shows only the events since the restart
            good, bad = float(new_good), float(new_bad)
        else:
            good, bad = good + new_good, bad + new_bad
        stamps.append(ts * 1000)
        goods.append(good)
        bads.append(bad)
    return JobHistory(job, step, tuple(stamps), tuple(goods), tuple(bads))


# ------------------------------------------------------------------ OpenMetrics


def _format_value(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


def write_openmetrics(path: Path, histories: Iterable[JobHistory]) -> int:
    """Write histories as one OpenMetrics counter family; returns the sample count.

    Timestamps are in seconds (OpenMetrics), samples carry the ``_total``
    suffix under a ``# TYPE http_requests counter`` line, and the file ends
    with ``# EOF`` as promtool requires.
    """
    count = 0
    with path.open("w", encoding="ascii") as out:
        out.write(f"# HELP {FAMILY} Synthetic requests by status code.\n")
        out.write(f"# TYPE {FAMILY} counter\n")
        for history in histories:
            for labels, samples in history.series().items():
                lines = [
                    f"{METRIC}{labels} {_format_value(v)} {ts // 1000}\n" for ts, v in samples
                ]
                out.writelines(lines)
                count += len(lines)
        out.write("# EOF\n")
    return count


# ----------------------------------------------------------------- the oracle


def increases(samples: Sequence[Sample]) -> Iterator[Sample]:
    """Exact counter increases, each at the later sample's timestamp (ms).

    The first sample is a baseline only; a drop in value is a counter reset,
    after which the new value itself is the increase.
    """
    for (_, prev), (ts, value) in itertools.pairwise(samples):
        yield ts, (value if value < prev else value - prev)


@dataclass(frozen=True)
class WindowSpec:
    """Which samples count for window ``window`` evaluated at ``t`` (seconds)."""

    t: float
    window: float
    resolution: float = 60.0
    end: float = field(init=False)
    start: float = field(init=False)

    def __post_init__(self) -> None:
        end = math.floor(self.t / self.resolution) * self.resolution + self.resolution
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "start", end - self.window)

    # An increase at ts_ms counts when it is neither before nor after the window.

    def before(self, ts_ms: int) -> bool:
        """True when ``ts_ms`` lies in a bucket before the window's first."""
        return self._bucket(ts_ms) < self.start

    def after(self, ts_ms: int) -> bool:
        """True when ``ts_ms`` is later than t or lies in a bucket past the window's last."""
        return ts_ms > math.floor(self.t * 1000) or self._bucket(ts_ms) >= self.end

    def _bucket(self, ts_ms: int) -> float:
        return math.floor(ts_ms / 1000 / self.resolution) * self.resolution


def window_sum(series: Mapping[str, Sequence[Sample]], spec: WindowSpec) -> float:
    """Sum of exact increases over all series that fall in the window."""
    return sum(inc for samples in series.values() for _, inc in _covered(samples, spec))


def _covered(samples: Sequence[Sample], spec: WindowSpec) -> Iterator[Sample]:
    """The increases of one series that ``spec`` covers, in time order.

    Samples are in time order (as ``increases`` needs them): ``before`` holds
    for a first run of them and ``after`` for a last run, so the covered ones
    lie between the two and are found by bisection, rather than testing every
    sample of a 30-day series for every window. The increases are the same,
    in the same order, as testing each sample for neither ``before`` nor
    ``after``.
    """
    first = bisect.bisect_left(samples, True, key=lambda s: not spec.before(s[0]))
    stop = bisect.bisect_left(samples, True, key=lambda s: spec.after(s[0]))
    # an increase belongs to the later of two samples: the first has none
    return increases(samples[max(first, 1) - 1:stop])


@dataclass(frozen=True)
class Expected:
    """The exact values one window must show."""

    good: float
    total: float

    @property
    def bad(self) -> float:
        return self.total - self.good

    @property
    def sli(self) -> float | None:
        return self.good / self.total if self.total else None

    @property
    def error_ratio(self) -> float | None:
        return self.bad / self.total if self.total else None

    def burn_rate(self, objective: float) -> float | None:
        err = self.error_ratio
        return None if err is None else err / (1.0 - objective)


def expected_window(
    total: Mapping[str, Sequence[Sample]],
    spec: WindowSpec,
    *,
    good: Mapping[str, Sequence[Sample]] | None = None,
    bad: Mapping[str, Sequence[Sample]] | None = None,
) -> Expected:
    """Exact good/total for a window from the raw samples of an SLO's selectors.

    Give exactly one of ``good`` and ``bad``, as the SLO does.
    """
    if (good is None) == (bad is None):
        raise ValueError("give exactly one of good= and bad=")
    total_events = window_sum(total, spec)
    if good is not None:
        return Expected(good=window_sum(good, spec), total=total_events)
    assert bad is not None
    return Expected(good=total_events - window_sum(bad, spec), total=total_events)


def sloth_error_ratio(
    bad: Mapping[str, Sequence[Sample]],
    total: Mapping[str, Sequence[Sample]],
    *,
    t: float,
    window: float = 30 * DAY,
    slice_seconds: float = 300.0,
) -> float:
    """Average of per-5-minute error ratios over the window (Sloth's 30d SLI).

    Every 5-minute slice weighs the same whatever its traffic, so a burst at
    the quiet hour counts as much as a busy slice with 10x the requests.
    """
    def per_slice(series: Mapping[str, Sequence[Sample]]) -> dict[int, float]:
        out: dict[int, float] = {}
        for samples in series.values():
            for ts, inc in increases(samples):
                sec = ts / 1000
                if t - window < sec <= t:
                    key = int((t - sec) // slice_seconds)
                    out[key] = out.get(key, 0.0) + inc
        return out

    bad_slices, total_slices = per_slice(bad), per_slice(total)
    ratios = [bad_slices.get(k, 0.0) / n for k, n in total_slices.items() if n > 0]
    return sum(ratios) / len(ratios)


def relative_miss(value: float, exact: float) -> float:
    """|value - exact| / exact."""
    return abs(value - exact) / exact
