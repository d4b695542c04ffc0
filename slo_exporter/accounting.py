"""Event accounting: Prometheus data in, per-bucket (good, total) deltas out.

Owns the exact arithmetic of one SLO's events between two instants:

* plain selectors: raw samples per series, counter increase computed here
  (``v - prev``, or ``v`` after a reset), attributed to the bucket of the
  later sample, continuing from the last sample kept per series, so nothing
  is counted twice or extrapolated, across cycles, restarts and outages;
* latency SLIs: the ``le`` bucket equal to the threshold and ``_count``,
  both as plain selectors;
* bool gauges (``probe_success``): every raw sample is one event, good
  when 1 (``fetch_bool_gauge``);
* templated PromQL (``{{.window}}``): evaluated once per bucket end with a
  range query whose step is the bucket width, ``template_lag`` seconds
  behind the read (a template keeps no per-series state, so it must wait
  until the samples at a bucket's end have landed);
* raw ratios (``RawRatioSLI``, :func:`raw_ratio_events`): the ratio template
  evaluated the same way, each bucket stored as one weighted unit (good =
  the success ratio, total = 1);
* where a read must start (``read_start``): far enough back that no live
  series skips a sample, so each series is read up to its newest sample
  whatever instant the read ends at, and a sample that lands late is still
  counted once, in its own bucket.

Grouped SLOs (``fetch_grouped_events``) are read the same way, once per
selector for all groups; each series' increases (a bool gauge's samples)
go to the buckets of its group (its values of ``group_by``), and groups
over the cap are dropped before anything of theirs is counted.

Implausible data is rejected per series, never stored: a negative or
non-finite counter value, or an increase above ``max_increase``
(``prometheus.max_counter_increase``). The batch still carries every other
series' events and the full span, so the cursor moves past the bad
samples; the rejected series is listed in ``EventBatch.rejected`` and
starts again from a baseline at its next plausible sample (its state holds
the rejected timestamp with the value ``REBASELINE``).

An answer too large for the client (``QueryTooLarge``, or Prometheus'
"too many samples") makes a backfill read split its span in halves, down to
``MIN_SPLIT_SPAN`` seconds (one step for templates), before giving up.

It must not touch the event store or read a clock: time spans, the previous
series state and the Prometheus client are passed in, and an ``EventBatch``
comes out for the caller to persist in one transaction.

Known limits, by design of counter semantics:

* a series seen for the first time gives a baseline only; events counted in
  its first sample are not attributed (a counter that appears at 1 loses
  that 1, as ``increase()`` would);
* with ``bad`` given, ``good = total - bad`` per bucket; when the two
  counters are scraped at different instants a bucket can show a negative
  good delta that the neighbouring bucket makes up. Sums over windows of
  whole buckets are exact; single buckets are not clamped, since clamping
  would break those sums;
* a template mixed with selectors in one SLI is allowed: template events
  land in the bucket that ends at the evaluation instant, selector events in
  the bucket of their sample, so the two can disagree by one bucket at the
  edges.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from slo_exporter import errors, matchers, model
from slo_exporter.prometheus import QueryResult, Series, label_text

#: Prometheus refuses range queries of more than 11,000 points; stay below.
MAX_RANGE_STEPS = 10_000

#: how far a raw ratio may stray outside [0, 1] by float rounding before it is implausible
RATIO_SLACK = 1e-9
#: shortest span a raw-sample read is split down to when an answer is too large
MIN_SPLIT_SPAN = 60.0

#: default sanity bound on one counter increase (``max_counter_increase``)
DEFAULT_MAX_INCREASE = model.PrometheusConfig.max_counter_increase

#: stored in place of a value after a rejected sample: counters are never
#: negative, so it cannot be mistaken for one; the next plausible sample is
#: then a baseline
REBASELINE = -1.0

#: Prometheus timestamps are whole milliseconds: a read starting this long
#: after a sample leaves that sample out, on either edge semantics
SAME_SAMPLE = 0.001

Sample = tuple[float, float]

#: one group of a grouped SLO: its values of ``group_by``, in that order
GroupKey = tuple[str, ...]
#: whether a group is kept (True) or dropped over the SLO's cap (False)
Admit = Callable[[GroupKey], bool]


class Source(Protocol):
    """The part of ``prometheus.PrometheusClient`` that accounting uses."""

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult: ...

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult: ...

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]: ...


class SourceProxy:
    """A ``Source`` that hands every call to ``source``; a subclass changes
    the calls it must (counts samples, answers from elsewhere)."""

    def __init__(self, source: Source) -> None:
        self._source = source

    def query(self, promql: str, at: float, *, stats: bool = False) -> QueryResult:
        return self._source.query(promql, at, stats=stats)

    def query_range(
        self, promql: str, start: float, end: float, step: float, *, stats: bool = False
    ) -> QueryResult:
        return self._source.query_range(promql, start, end, step, stats=stats)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        return self._source.raw_samples(selector, start, end)


@dataclass(frozen=True)
class Rejection:
    """One series whose data was implausible in one fetch.

    ``series`` is the series key (``role|{labels}``), ``at`` the timestamp
    of its first rejected sample, ``reason`` says why, ``samples`` counts
    the samples (or template points) rejected in this fetch.
    """

    series: str
    at: float
    reason: str
    samples: int = 1


@dataclass(frozen=True)
class EventBatch:
    """What one fetch found for one SLO.

    ``deltas`` maps bucket start -> (good, total) events to add to the store;
    a bucket may lie before the fetch's ``since`` when a late sample landed
    in the overlap. ``series`` is the complete per-series state to keep
    (last ``(ts, value)`` per series key, old entries included).
    ``rejected`` lists the series whose implausible samples were left out;
    the batch is still complete for everything else, up to ``covered_until``.
    ``step`` is the shortest gap between two consecutive samples of one
    series read (the previous state's included), None when no series had two.
    """

    deltas: Mapping[float, tuple[float, float]]
    series: Mapping[str, Sample]
    covered_until: float
    rejected: tuple[Rejection, ...] = ()
    step: float | None = None


@dataclass(frozen=True)
class GroupedBatch:
    """What one fetch found for a grouped SLO.

    ``groups`` holds an ``EventBatch`` per kept group that had events or
    series state (its ``series`` is that group's complete state);
    ``dropped`` the groups seen but not admitted (over the cap). The read
    covered every group up to ``covered_until``.
    """

    groups: Mapping[GroupKey, EventBatch]
    dropped: frozenset[GroupKey] = frozenset()
    covered_until: float = 0.0
    rejected: tuple[Rejection, ...] = ()
    step: float | None = None


# ------------------------------------------------------------------ pure core


def counter_increases(
    samples: Sequence[Sample],
    prev: Sample | None,
    max_increase: float = DEFAULT_MAX_INCREASE,
) -> list[Sample]:
    """Exact increases of one counter series, as ``(ts, increase)`` per sample.

    ``prev`` is the last sample seen before these (``None`` for a new
    series, whose first sample is a baseline only). A value lower than the
    one before is a reset: the counter restarted from zero, so the increase
    is the value itself. Samples not after the last known timestamp
    (duplicates from an overlapping read, out-of-order) are skipped.
    Implausible samples count nothing and the next plausible one is a new
    baseline (see ``advance``).
    """
    return advance(samples, prev, max_increase).increases


@dataclass(frozen=True)
class Advance:
    """One series read forward: increases, the state to keep, what was rejected."""

    increases: list[Sample]
    last: Sample | None
    rejected: list[tuple[float, str]]
    #: shortest gap between two consecutive samples read, None with fewer than two
    step: float | None = None


def advance(samples: Sequence[Sample], prev: Sample | None, max_increase: float) -> Advance:
    """``counter_increases`` with the new state and the rejected samples.

    A negative or non-finite value, or an increase above ``max_increase``,
    is rejected with a reason; the state then becomes ``(ts, REBASELINE)``
    so that a later read (even an overlapping one) never counts across it.
    """
    fast = _advance_plain(samples, prev, max_increase)
    return fast if fast is not None else _advance_loop(samples, prev, max_increase)


def _advance_loop(samples: Sequence[Sample], prev: Sample | None,
                  max_increase: float) -> Advance:
    """``advance`` one sample at a time: the definition ``_advance_plain`` must match."""
    increases: list[Sample] = []
    rejected: list[tuple[float, str]] = []
    step = math.inf
    last = prev
    for ts, value in samples:
        if last is not None and ts <= last[0]:
            continue
        if last is not None:
            step = min(step, ts - last[0])
        problem = _implausible(value)
        baseline = last is None or last[1] < 0
        increase = 0.0
        if problem is None and not baseline:
            assert last is not None  # for the type checker: baseline is False
            increase = value if value < last[1] else value - last[1]
            if increase > max_increase:
                problem = f"increase {increase:g} above max_counter_increase {max_increase:g}"
        if problem is not None:
            rejected.append((ts, problem))
            last = (ts, REBASELINE)
            continue
        if not baseline:
            increases.append((ts, increase))
        last = (ts, value)
    return Advance(increases, last, rejected, None if step == math.inf else step)


def _advance_plain(samples: Sequence[Sample], prev: Sample | None,
                   max_increase: float) -> Advance | None:
    """``advance`` of the common case, a list at a time; None when the case is not plain.

    Plain: the timestamps after ``prev``'s rise strictly, every value is
    finite and not negative, ``prev`` is not a rebaseline and no increase is
    above ``max_increase``. Then nothing is rejected and the loop in
    ``advance`` gives exactly these increases (a value below the one before
    is a reset: the value itself), last sample and step.
    """
    if not samples:
        return Advance([], prev, [], None)
    if prev is not None and prev[1] < 0:
        return None
    if len(samples) == 1 and prev is not None:  # a steady read: one new sample
        ts, value = samples[0]
        if ts <= prev[0]:
            return Advance([], prev, [], None)  # read again by an overlapping read
        if not math.isfinite(value) or value < 0:
            return None
        increase = value if value < prev[1] else value - prev[1]
        if increase > max_increase:
            return None
        return Advance([(ts, increase)], (ts, value), [], ts - prev[0])
    times = [ts for ts, _ in samples]
    if not all(map(operator.lt, times, times[1:])):
        return None  # out of order or repeated: the loop skips what it must
    first = 0
    if prev is not None:
        first = bisect.bisect_right(times, prev[0])  # read again by an overlapping read
        if first:
            times = times[first:]
            if not times:
                return Advance([], prev, [], None)
    values = [value for _, value in samples[first:]]
    # a NaN or infinity makes the sum so (an overflow only sends it to the loop)
    if not math.isfinite(sum(values)) or min(values) < 0:
        return None  # implausible values: the loop rejects them one by one
    if prev is not None:
        times.insert(0, prev[0])
        values.insert(0, prev[1])
    before, after = values[:-1], values[1:]
    increases = [v if v < p else v - p for v, p in zip(after, before, strict=True)]
    if increases and max(increases) > max_increase:
        return None
    step = min(map(operator.sub, times[1:], times[:-1]), default=None)
    return Advance(list(zip(times[1:], increases, strict=True)), (times[-1], values[-1]), [],
                   step)


def _implausible(value: float) -> str | None:
    if not math.isfinite(value):
        return f"non-finite counter value {value!r}"
    if value < 0:
        return f"negative counter value {value:g}"
    return None


def bucket_start(ts: float, resolution: float) -> float:
    """Start of the bucket holding ``ts``: ``floor(ts / res) * res``."""
    return math.floor(ts / resolution) * resolution


def series_key(role: str, labels: Mapping[str, str]) -> str:
    """Identity of one series of one role (``good``, ``bad``, ``total``) in the store."""
    return f"{role}|{label_text(labels)}"


def window_text(resolution: float) -> str:
    """``{{.window}}`` of one bucket: its width less a millisecond (``59999ms`` for 60 s).

    Evaluated at bucket end ``t``, the range is then ``(t - res, t]`` on
    Prometheus 2, whose ranges are closed (``[t - 60s, t]`` would hold a
    sample or subquery step lying on ``t - 60s``, which the previous bucket
    holds too), and ``(t - res + 1ms, t]`` on Prometheus 3 (left-open), so a
    point falls in at most one bucket on both.
    """
    return f"{round(resolution * 1000) - 1}ms"


def read_start(
    series_state: Mapping[str, Sample], since: float, *, overlap: float, late_limit: float,
) -> float:
    """Where a read that goes on from ``since`` (the previous read's end) starts
    so that no live series skips a sample.

    Samples of one series reach Prometheus in timestamp order, but each
    series lands on its own schedule (scrape phase, scrape duration,
    federation or remote write lag). A read sees every series up to its
    newest landed sample, so the next read must reach back to the oldest
    last sample of the series still being scraped: a sample that landed
    after the previous read is then counted in its own bucket. It starts
    ``SAME_SAMPLE`` after that sample, which is known already: Prometheus
    2.x would otherwise read it again at the left edge (a series' next
    sample is never within a millisecond of its last). Series whose last
    sample is more than ``late_limit`` before ``since`` count as gone and
    hold nothing back. ``overlap`` is the least reach, for series not seen
    yet (their first sample is the baseline). The per-series state keeps
    what is read twice from counting twice.
    """
    live = [ts + SAME_SAMPLE for ts, _ in series_state.values() if ts >= since - late_limit]
    return min([since - overlap, *live])


def chunk_bounds(start: float, end: float, chunk: float) -> list[tuple[float, float]]:
    """Split ``(start, end]`` into consecutive spans of at most ``chunk`` seconds."""
    if end <= start:
        return []
    count = math.ceil((end - start) / chunk)
    edges = [start + i * chunk for i in range(count)] + [end]
    return list(itertools.pairwise(edges))


# ------------------------------------------------------------------- fetching


def fetch_events(
    client: Source,
    slo: model.SLO,
    *,
    since: float,
    until: float,
    series_state: Mapping[str, Sample],
    resolution: float,
    overlap: float,
    chunk: float,
    le_cache: MutableMapping[str, str] | None = None,
    max_increase: float = DEFAULT_MAX_INCREASE,
    template_lag: float = 0.0,
) -> EventBatch:
    """Events of ``slo`` in ``(since, until]`` as per-bucket deltas.

    Selectors are read over ``(since - overlap, until]`` so that samples which
    landed in Prometheus after the previous read (scrape lag) are still
    counted in their own bucket; the per-series state keeps anything from
    being counted twice. The span is read in pieces of at most ``chunk``
    seconds, so a backfill is many bounded queries and a steady-state cycle
    is one small one. ``le_cache`` remembers the discovered ``le`` matcher
    of latency SLIs between calls. ``max_increase`` is the sanity bound on
    one counter increase; implausible series are listed in the batch's
    ``rejected``, not raised. Templates are evaluated over ``(since -
    template_lag, until - template_lag]``: consecutive reads still tile.

    Raises ``ValueError`` for probe SLIs (probes record events themselves)
    and bad arguments, ``HistogramBucketError`` when the latency threshold
    is no bucket, and ``QueryError`` when Prometheus fails.
    """
    sli = slo.sli
    if isinstance(sli, model.ProbeSLI):
        raise ValueError(f"SLO {slo.key} is a probe SLI: probes record their own events")
    # checks every argument (``ValueError``) before anything is asked
    span = _Span(since, until, resolution, overlap, chunk, max_increase, template_lag)
    if isinstance(sli, model.BoolGaugeSLI):
        return fetch_bool_gauge(client, sli.gauge.text, span, series_state)

    good_role: str
    good_query: model.Query | None
    total_query: model.Query
    if isinstance(sli, model.LatencySLI):
        good_role, good_query, total_query = _latency_queries(client, sli, until, le_cache)
    elif isinstance(sli, model.CompositeSLI):
        raise ValueError(f"SLO {slo.key}: a composite SLI is not read from Prometheus")
    elif isinstance(sli, model.RawRatioSLI):
        return raw_ratio_events(client, sli, span, series_state)
    else:
        good_role = "good" if sli.good is not None else "bad"
        good_query = sli.good if sli.good is not None else sli.bad
        total_query = sli.total
    if good_query is None:
        raise ValueError(f"SLO {slo.key}: a ratio SLI needs good or bad")

    books = _Books(dict(series_state))
    good_events = _events(client, good_role, good_query, span, books)
    total_events = _events(client, "total", total_query, span, books)
    return books.batch(_deltas(good_role, good_events, total_events), until)



def plain_reads(slo: model.SLO, le_cache: Mapping[str, str] | None
                ) -> tuple[tuple[str, str], tuple[str, str]] | None:
    """The ``(role, selector)`` raw-sample reads ``fetch_events`` makes of a ratio SLI
    of plain selectors, or of a latency SLI whose ``le`` is in ``le_cache``, the
    marked (good or bad) first; None for any other SLI (or an ``le`` not found yet)."""
    sli = slo.sli
    if isinstance(sli, model.LatencySLI):
        le_matcher = None if le_cache is None else le_cache.get(_le_key(sli))
        if le_matcher is None:
            return None
        return (("good", _selector(f"{sli.metric}_bucket", sli.matchers, le_matcher)),
                ("total", _selector(f"{sli.metric}_count", sli.matchers)))
    if not isinstance(sli, model.RatioSLI) or not isinstance(sli.total, model.Selector):
        return None
    role, marked = ("good", sli.good) if sli.good is not None else ("bad", sli.bad)
    if not isinstance(marked, model.Selector):
        return None
    return (role, marked.text), ("total", sli.total.text)


def nothing_new(found: Iterable[tuple[str, Sequence[Series]]],
                series_state: Mapping[str, Sample]) -> bool:
    """True when counting ``found`` (each role and the series its raw-sample read
    returns) from ``series_state`` moves nothing: no sample lies after its series'
    last known one. ``fetch_events`` over those reads then gives no deltas, the
    state as it was, no step and no rejection (every such sample is skipped as
    read before), so a caller may leave the count out.

    A series not in the state with a sample is new (its baseline moves the state).
    """
    get = series_state.get
    for role, series in found:
        prefix = role + "|"
        for one in series:
            samples = one.samples
            if not samples:
                continue
            prev = get(prefix + one.label_text())
            if prev is None:
                return False
            last = prev[0]
            if samples[-1][0] > last if len(samples) == 1 else any(
                    ts > last for ts, _ in samples):
                return False
    return True


def fetch_grouped_events(
    client: Source,
    slo: model.SLO,
    *,
    since: float,
    until: float,
    series_state: Mapping[GroupKey, Mapping[str, Sample]],
    resolution: float,
    overlap: float,
    chunk: float,
    admit: Admit,
    le_cache: MutableMapping[str, str] | None = None,
    max_increase: float = DEFAULT_MAX_INCREASE,
) -> GroupedBatch:
    """``fetch_events`` for a grouped SLO: one read per selector, split by group.

    Each series belongs to the group of its values of ``slo.group_by``
    (``""`` for a label it lacks, as PromQL's ``by`` does), so its exact
    increases go to that group's buckets and its state to that group's
    batch. ``series_state`` holds each known group's series state. A group
    seen for the first time is kept only when ``admit`` says so; a dropped
    group's series leave no events and no state, and the group is listed
    in ``dropped``. Only ratio SLIs of plain selectors, latency SLIs and
    bool gauges can be grouped (``ValueError`` for any other).
    """
    if not slo.group_by:
        raise ValueError(f"SLO {slo.key} has no group_by")
    span = _Span(since, until, resolution, overlap, chunk, max_increase)
    sli = slo.sli
    roles = None if isinstance(sli, model.BoolGaugeSLI) else _grouped_roles(
        client, slo, until, le_cache)
    state: dict[str, Sample] = {}
    owner: dict[str, GroupKey] = {}
    for group, series in series_state.items():
        for key, sample in series.items():
            state[key] = sample
            owner[key] = group
    dropped: set[GroupKey] = set()
    group_by = slo.group_by

    def group_of(labels: Mapping[str, str]) -> GroupKey | None:
        group = group_values(labels, group_by)
        if admit(group):
            return group
        dropped.add(group)
        return None

    books = _Books(state, group_of=group_of, owner=owner)
    deltas: dict[GroupKey, dict[float, tuple[float, float]]]
    if roles is None:
        assert isinstance(sli, model.BoolGaugeSLI)  # for the type checker: no roles
        deltas = _split_gauge_events(client, sli.gauge.text, span, books)
    else:
        good_role, good_query, total_query = roles
        good = _split_selector_events(client, good_role, good_query.text, span, books)
        total = _split_selector_events(client, "total", total_query.text, span, books)
        deltas = {group: _deltas(good_role, good.get(group, {}), total.get(group, {}))
                  for group in good.keys() | total.keys()}
    by_group: dict[GroupKey, dict[str, Sample]] = {}
    for key, sample in state.items():
        by_group.setdefault(owner[key], {})[key] = sample
    step = min(books.steps, default=None)
    groups = {
        group: EventBatch(deltas=deltas.get(group, {}), series=by_group.get(group, {}),
                          covered_until=until, step=step)
        for group in sorted(deltas.keys() | by_group.keys())
    }
    return GroupedBatch(groups=groups, dropped=frozenset(dropped), covered_until=until,
                        rejected=tuple(books.rejected.values()), step=step)


def group_values(labels: Mapping[str, str], group_by: Sequence[str]) -> GroupKey:
    """A series' group: its values of ``group_by`` in that order, '' where it lacks one."""
    return tuple(labels.get(name, "") for name in group_by)


def _grouped_roles(
    client: Source, slo: model.SLO, until: float, le_cache: MutableMapping[str, str] | None,
) -> tuple[str, model.Selector, model.Selector]:
    """The role of the marked events (``good`` or ``bad``) and the selectors of a
    grouped SLI: only plain selectors carry the series labels to split by."""
    sli = slo.sli
    if isinstance(sli, model.LatencySLI):
        return _latency_queries(client, sli, until, le_cache)
    if isinstance(sli, model.RatioSLI):
        role, marked = ("good", sli.good) if sli.good is not None else ("bad", sli.bad)
        if isinstance(marked, model.Selector) and isinstance(sli.total, model.Selector):
            return role, marked, sli.total
    raise ValueError(f"SLO {slo.key}: only ratio SLIs of plain selectors, latency SLIs and "
                     "bool gauges can be grouped")


def _deltas(good_role: str, marked_events: Mapping[float, float],
            total_events: Mapping[float, float]) -> dict[float, tuple[float, float]]:
    """(good, total) per bucket from the marked (good or bad) and total events."""
    if len(total_events) <= 1 and len(marked_events) <= 1 and (
            marked_events.keys() <= total_events.keys()):
        # a steady read: one bucket or none, the lists below without building them
        if not total_events:
            return {}
        ((bucket, all_events),) = total_events.items()
        marked_here = marked_events.get(bucket, 0.0)
        return {bucket: (marked_here if good_role == "good" else all_events - marked_here,
                         all_events)}
    buckets = sorted(marked_events.keys() | total_events.keys())
    totals = list(map(total_events.get, buckets, itertools.repeat(0.0)))
    marked = list(map(marked_events.get, buckets, itertools.repeat(0.0)))
    good = marked if good_role == "good" else list(map(operator.sub, totals, marked))
    return dict(zip(buckets, zip(good, totals, strict=True), strict=True))


@dataclass(frozen=True)
class _Span:
    since: float
    until: float
    resolution: float
    overlap: float
    chunk: float
    max_increase: float
    template_lag: float = 0.0

    def __post_init__(self) -> None:
        """``ValueError`` for arguments no read can use, before anything is asked."""
        if not self.resolution > 0:
            raise ValueError(f"resolution must be > 0 seconds, got {self.resolution!r}")
        if not self.chunk > 0:
            raise ValueError(f"chunk must be > 0 seconds, got {self.chunk!r}")
        if self.overlap < 0:
            raise ValueError(f"overlap must be >= 0 seconds, got {self.overlap!r}")
        if self.template_lag < 0:
            raise ValueError(f"template_lag must be >= 0 seconds, got {self.template_lag!r}")
        if self.until < self.since:
            raise ValueError(f"until {self.until!r} is before since {self.since!r}")
        if not self.max_increase > 0:
            raise ValueError(f"max_increase must be > 0, got {self.max_increase!r}")


def _one_group(labels: Mapping[str, str]) -> GroupKey | None:
    return ()


@dataclass
class _Books:
    """What one fetch learns across its series reads.

    ``state`` holds each series' last sample (the next read goes on from
    it), ``rejected`` what was rejected, ``steps`` each series' shortest gap
    between samples. ``group_of`` puts a series seen for the first time in
    its group (None: a dropped group) and ``owner`` remembers the group of
    each series key; an ungrouped fetch has the one group ``()``.
    """

    state: dict[str, Sample]
    rejected: dict[str, Rejection] = field(default_factory=dict)
    steps: list[float] = field(default_factory=list)
    group_of: Callable[[Mapping[str, str]], GroupKey | None] = _one_group
    owner: dict[str, GroupKey] = field(default_factory=dict)

    def batch(self, deltas: Mapping[float, tuple[float, float]], until: float) -> EventBatch:
        """An ungrouped fetch's result: ``deltas`` and what the books learned."""
        return EventBatch(deltas=deltas, series=self.state, covered_until=until,
                          rejected=tuple(self.rejected.values()),
                          step=min(self.steps, default=None))


def _reject(
    rejected: dict[str, Rejection], key: str, found: Sequence[tuple[float, str]]
) -> None:
    if not found:
        return
    seen = rejected.get(key)
    if seen is None:
        ts, reason = found[0]
        rejected[key] = Rejection(key, ts, reason, len(found))
    else:
        rejected[key] = Rejection(key, seen.at, seen.reason, seen.samples + len(found))


def _too_large(exc: errors.QueryError) -> bool:
    """An answer that a narrower query could fit: ours, or Prometheus' sample limit."""
    if isinstance(exc, errors.QueryTooLarge):
        return True
    return isinstance(exc, errors.QueryAPIError) and "too many samples" in str(exc)


def _events(
    client: Source, role: str, query: model.Query, span: _Span, books: _Books
) -> dict[float, float]:
    if isinstance(query, model.Template):
        return _template_events(client, role, query, span, books.rejected)
    return _split_selector_events(client, role, query.text, span, books).get((), {})


def _split_selector_events(
    client: Source, role: str, selector: str, span: _Span, books: _Books
) -> dict[GroupKey, dict[float, float]]:
    """Exact increases of every series of ``selector``, per group: ``_series_reads``
    with ``advance``, each series' increases added to its group's buckets.

    The steady read, one new sample of a series with a plausible state, is
    counted in place (``_advance_plain``'s first case, without the objects
    of a read); any other read of a series goes through ``advance``.
    """
    events: dict[GroupKey, dict[float, float]] = {}
    res, max_increase = span.resolution, span.max_increase
    state, steps = books.state, books.steps
    for key, group, samples in _owned_series(client, role, selector, span, books):
        buckets = events.setdefault(group, {})
        prev = state.get(key)
        if len(samples) == 1 and prev is not None and prev[1] >= 0:
            ts, value = samples[0]
            if ts <= prev[0]:
                continue  # read again by an overlapping read: nothing moves
            if math.isfinite(value) and value >= 0:
                increase = value if value < prev[1] else value - prev[1]
                if increase <= max_increase:
                    state[key] = (ts, value)
                    steps.append(ts - prev[0])
                    start = math.floor(ts / res) * res
                    buckets[start] = buckets.get(start, 0.0) + increase
                    continue
        step = advance(samples, prev, max_increase)
        _note(books, key, step)
        add_to_buckets(buckets, step.increases, res)
    return events


def add_to_buckets(buckets: dict[float, float], increases: Sequence[Sample],
                   resolution: float) -> None:
    """Add each ``(ts, increase)`` to ``buckets`` at ``bucket_start(ts)``.

    A list at a time (C loops, no Python call per sample) when no two of the
    samples share a bucket, the usual case of a backfill with one sample per
    bucket or fewer; one sample at a time otherwise. Either way each bucket
    gets ``buckets.get(start, 0.0) + increase`` per sample, in order.
    """
    if not increases:
        return
    if len(increases) == 1:  # a steady read: one new sample
        ts, value = increases[0]
        start = math.floor(ts / resolution) * resolution
        buckets[start] = buckets.get(start, 0.0) + value
        return
    times, values = zip(*increases, strict=True)
    starts = list(map(operator.mul, map(math.floor, map(operator.truediv, times,
                                                        itertools.repeat(resolution))),
                      itertools.repeat(resolution)))
    if len(set(starts)) < len(starts):
        for start, value in zip(starts, values, strict=True):
            buckets[start] = buckets.get(start, 0.0) + value
        return
    # every start differs, so no get below sees a value this update wrote
    found = map(buckets.get, starts, itertools.repeat(0.0))
    buckets.update(zip(starts, map(operator.add, found, values), strict=True))


def _series_reads(
    client: Source,
    role: str,
    selector: str,
    span: _Span,
    books: _Books,
    *,
    read: Callable[[Sequence[Sample], Sample | None], Advance],
) -> Iterator[tuple[GroupKey, Advance]]:
    """Every raw series of ``selector`` in ``span``, read forward from its state by
    ``read``, with its group; ``books`` learn what each read found.

    A series of a dropped group (``group_of`` gives None) is skipped: no
    events, no state.
    """
    state = books.state
    for key, group, samples in _owned_series(client, role, selector, span, books):
        step = read(samples, state.get(key))
        _note(books, key, step)
        yield group, step


def _owned_series(
    client: Source, role: str, selector: str, span: _Span, books: _Books
) -> Iterator[tuple[str, GroupKey, Sequence[Sample]]]:
    """Every raw series of ``selector`` in ``span`` that a kept group owns: its
    series key, its group (remembered in ``books.owner``) and its samples. A
    series of a dropped group (``group_of`` gives None) is skipped."""
    owner = books.owner
    prefix = f"{role}|"  # series_key, with the label text a shared answer made once
    for lo, hi in _bounds(span):
        for piece in _raw_pieces(client, selector, lo, hi):
            for series in piece:
                key = prefix + series.label_text()
                group = owner.get(key)
                if group is None:
                    group = books.group_of(series.labels)
                    if group is None:
                        continue
                    owner[key] = group
                yield key, group, series.samples


def _bounds(span: _Span) -> list[tuple[float, float]]:
    """The chunks a read of ``span`` asks for, from ``since - overlap``."""
    start = span.since - span.overlap
    # a steady read is one chunk: chunk_bounds' answer without building it
    if 0 < span.until - start <= span.chunk:
        return [(start, span.until)]
    return chunk_bounds(start, span.until, span.chunk)


def _note(books: _Books, key: str, step: Advance) -> None:
    """``books`` learn what one read of series ``key`` found."""
    if step.last is not None:
        books.state[key] = step.last
    if step.step is not None:
        books.steps.append(step.step)
    if step.rejected:
        _reject(books.rejected, key, step.rejected)


def _raw_pieces(client: Source, selector: str, lo: float, hi: float) -> Iterator[list[Series]]:
    """Raw samples of ``(lo, hi]`` in time order, halving the span while answers are too large."""
    try:
        yield client.raw_samples(selector, lo, hi)
    except errors.QueryError as exc:
        if not _too_large(exc) or hi - lo <= MIN_SPLIT_SPAN:
            raise
        mid = lo + (hi - lo) / 2
        yield from _raw_pieces(client, selector, lo, mid)
        yield from _raw_pieces(client, selector, mid, hi)


def _template_events(
    client: Source,
    role: str,
    query: model.Template,
    span: _Span,
    rejected: dict[str, Rejection],
) -> dict[float, float]:
    """Evaluate a ``{{.window}}`` template once per bucket end in ``(since - lag,
    until - lag]``.

    The value at bucket end ``t`` is the events of ``(t - res, t]`` (see
    :func:`window_text`), stored in the bucket ``[t - res, t)``;
    a bucket whose end is not reached yet is left for a later call, which
    starts after this call's ``until - lag``. No series state: the query itself
    does the counting. A NaN point (no data) counts nothing; an infinite or
    negative point, or one above ``max_increase``, is rejected.
    """
    events: dict[float, float] = defaultdict(float)
    for _, series, points in _template_points(client, query, span):
        found: list[tuple[float, str]] = []
        for start, ts, value in points:
            problem = _implausible(value)
            if problem is None and value > span.max_increase:
                problem = f"{value:g} events above max_counter_increase"
            if problem is not None:
                found.append((ts, problem.replace("counter value", "template value")))
                continue
            events[start] += value
        _reject(rejected, series_key(role, series.labels), found)
    return dict(events)


def _template_points(
    client: Source, query: model.Template, span: _Span
) -> Iterator[tuple[int, Series, list[tuple[float, float, float]]]]:
    """``query`` with a one-bucket ``{{.window}}``, evaluated at each bucket end in
    ``(since - lag, until - lag]``, as range queries of at most ``MAX_RANGE_STEPS``.

    Yields each series of each answer with how many series that answer held,
    and its points as ``(bucket start, ts, value)``: the value at bucket end
    ``t`` belongs to the bucket ``[t - res, t)``. NaN points (no data) and
    points outside the piece asked for are left out.
    """
    res = span.resolution
    promql = query.render(window_text(res))
    # bucket-end indexes, end = index * res
    first = math.floor((span.since - span.template_lag) / res) + 1
    last = math.floor((span.until - span.template_lag) / res)
    for group in range(first, last + 1, MAX_RANGE_STEPS):
        group_last = min(group + MAX_RANGE_STEPS - 1, last)
        for lo, hi, result in _range_pieces(client, promql, group, group_last, res):
            for series in result.series:
                points = []
                for ts, value in series.samples:
                    index = round(ts / res)
                    if lo <= index <= hi and not math.isnan(value):
                        points.append(((index - 1) * res, ts, value))
                yield len(result.series), series, points


def raw_ratio_events(
    client: Source, sli: model.RawRatioSLI, span: _Span, series_state: Mapping[str, Sample]
) -> EventBatch:
    """A raw ratio (``model.RawRatioSLI``) as one weighted unit per bucket.

    The ``{{.window}}`` template is evaluated once per bucket end, as
    :func:`_template_events` does for event templates, with the window one
    bucket long; the value at bucket end ``t`` is the ratio of ``(t - res, t]``.
    Each bucket with a value stores good = its success ratio (1 - the error
    ratio), total = 1, so the SLI of a window is the time-weighted mean of
    its buckets' ratios, not the exact event ratio. A NaN point (no data)
    stores nothing. A point outside [0, 1] (beyond float rounding) is
    implausible and rejected, as is every point of a query that returns more
    than one series: ratios of several series do not add up to one ratio.
    """
    deltas: dict[float, tuple[float, float]] = {}
    rejected: dict[str, Rejection] = {}
    for count, series, points in _template_points(client, sli.query, span):
        found: list[tuple[float, str]] = []
        for start, ts, value in points:
            if count > 1:
                found.append((ts, f"the raw ratio returned {count} series; "
                                  "aggregate it to one (sum(...) / sum(...))"))
            elif not -RATIO_SLACK <= value <= 1.0 + RATIO_SLACK:
                found.append((ts, f"ratio {value:g} outside [0, 1]"))
            else:
                ratio = min(max(value, 0.0), 1.0)
                good = 1.0 - ratio if sli.measures == "bad" else ratio
                deltas[start] = (good, 1.0)
        _reject(rejected, series_key("ratio", series.labels), found)
    return EventBatch(deltas=deltas, series=dict(series_state), covered_until=span.until,
                      rejected=tuple(rejected.values()))


def _range_pieces(
    client: Source, promql: str, lo: int, hi: int, res: float
) -> Iterator[tuple[int, int, QueryResult]]:
    """Range query over bucket-end indexes ``lo..hi``, halved while answers are too large."""
    try:
        yield lo, hi, client.query_range(promql, lo * res, hi * res, res)
    except errors.QueryError as exc:
        if not _too_large(exc) or hi <= lo:
            raise
        mid = (lo + hi) // 2
        yield from _range_pieces(client, promql, lo, mid, res)
        yield from _range_pieces(client, promql, mid + 1, hi, res)


# ----------------------------------------------------------------- hour tier

#: width of one hour of the hour tier
HOUR = 3600.0
#: a plain selector of one metric (its name first, no ``__name__`` matcher): the
#: hour tier's range functions drop the name, which it then puts back
_ONE_METRIC = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{.*\})?\s*", re.DOTALL)


def hourly_readable(slo: model.SLO) -> bool:
    """Whether ``slo``'s far history can be read at hour resolution
    (``fetch_hourly_events``): an ungrouped counter SLI of plain selectors of
    one metric each (ratio or latency), budgeted by occurrences (timeslices
    need every bucket)."""
    sli = slo.sli
    if slo.group_by or slo.budgeting.method != "occurrences":
        return False
    if isinstance(sli, model.LatencySLI):
        texts = [sli.histogram.text]
    elif isinstance(sli, model.RatioSLI):
        queries = [q for q in (sli.good, sli.bad, sli.total) if q is not None]
        if not all(isinstance(q, model.Selector) for q in queries):
            return False
        texts = [q.text for q in queries]
    else:
        return False
    return all(_metric_of(text) is not None for text in texts)


def _metric_of(selector: str) -> str | None:
    found = _ONE_METRIC.fullmatch(selector)
    if found is None or "__name__" in selector:
        return None
    return found.group(1)


def fetch_hourly_events(
    client: Source,
    slo: model.SLO,
    *,
    start: float,
    end: float,
    series_state: Mapping[str, Sample],
    le_cache: MutableMapping[str, str] | None = None,
    max_increase: float = DEFAULT_MAX_INCREASE,
    shared: Mapping[str, HourlyAnswer] | None = None,
) -> EventBatch:
    """Events of ``slo`` in ``[start, end)`` (both on whole hours) one hour at a time.

    The exact increase of an hour is the sum of its samples' increases; the
    events of hour ``[h, h + 1h)`` all land in its first bucket, ``h``. Per
    series and hour the counter's last value before the hour's end is asked
    (``last_over_time(sel[1h])`` evaluated 1 ms before each hour boundary, a
    range query with a one-hour step) beside a check over the hour and the
    one before it (``resets(sel[2h])``, plus ``0 * sum_over_time(sel[1h])``
    so that a NaN or infinite sample in the hour shows as NaN; one in the hour
    before made that hour's own check NaN or its last value not finite), in
    one query per selector. When the series' state
    is the last sample of the hour before (its value equals that hour's last
    value) and the check is 0, the samples from that one through the hour's
    last rise without a reset, so the hour's increase is exactly the
    difference of the two last values: what adding up the raw increases
    gives. Any other hour of a series with samples (a reset or NaN in the
    check, a value that fell, a series seen for the first time or after an
    hour without samples, an increase above ``max_increase``) is read from
    raw samples with ``advance``, one raw read per hour for all series that
    need it (a run of such hours in one), so sums over whole hours equal the
    per-sample path's. An hour
    without samples counts nothing. The state after each hour is its last
    sample; for an hour counted by difference, its value with the hour's
    last millisecond as the time (the next read starts after it).

    ``covered_until`` is ``end`` less a millisecond: a sample at ``end``
    belongs to the next read. Prometheus 2 ranges include their left edge,
    so a range may hold one extra sample 1 ms before the hour; it is the
    hour before's last sample, which changes neither a last value nor the
    check's verdict on the hours it guards.

    ``shared`` holds answers of the same hours asked once for several SLOs
    (``shared_hourly_answers``), by selector; a selector it lacks is asked
    here.
    """
    if not hourly_readable(slo):
        raise ValueError(f"SLO {slo.key} cannot be read at hour resolution")
    if start % HOUR or end % HOUR or end <= start:
        raise ValueError(f"an hourly read needs whole hours, got [{start!r}, {end!r})")
    if not max_increase > 0:
        raise ValueError(f"max_increase must be > 0, got {max_increase!r}")
    sli = slo.sli
    good_role: str
    marked: model.Query | None
    total: model.Query
    if isinstance(sli, model.LatencySLI):
        good_role, marked, total = _latency_queries(client, sli, end, le_cache)
    else:
        assert isinstance(sli, model.RatioSLI)  # for the type checker: hourly_readable
        good_role = "good" if sli.good is not None else "bad"
        marked = sli.good if sli.good is not None else sli.bad
        total = sli.total
    assert marked is not None  # a ratio SLI has good or bad
    books = _Books(dict(series_state))
    hours = round((end - start) / HOUR)
    first = start - SAME_SAMPLE  # instant k is first + k hours: the end of hour k - 1
    shared = shared or {}
    total_answer = shared.get(total.text)
    if total_answer is None:
        total_answer = _hourly_answer(client, total.text, first, hours)
    marked_answer = _narrowed(total_answer, marked.text, total.text)
    if marked_answer is None:
        marked_answer = shared.get(marked.text)
    if marked_answer is None:
        marked_answer = _hourly_answer(client, marked.text, first, hours)
    good = _hourly_events(client, good_role, marked.text, marked_answer, start=start,
                          hours=hours, books=books, max_increase=max_increase)
    totals = _hourly_events(client, "total", total.text, total_answer, start=start,
                            hours=hours, books=books, max_increase=max_increase)
    batch = books.batch(_deltas(good_role, good, totals), end - SAME_SAMPLE)
    return EventBatch(deltas=batch.deltas, series=batch.series,
                      covered_until=batch.covered_until, rejected=batch.rejected)


#: per series of an hourly answer (its labels, sorted, without the name): the last
#: value and the check, each by hour instant k (``fetch_hourly_events``)
HourlyAnswer = dict[tuple[tuple[str, str], ...], tuple[dict[int, float], dict[int, float]]]
#: the label that tells the two halves of the one hourly query apart
_PART = "slo_exporter_hour_part"


def _hourly_answer(client: Source, selector: str, first: float, hours: int) -> HourlyAnswer:
    """The last value and the check of ``selector``'s series at ``first + k`` hours for
    k = 0 .. ``hours``, in one range query (the two halves told apart by a label)."""
    promql = (f'label_replace(last_over_time({selector}[1h]), "{_PART}", "last", "", "")'
              f' or label_replace(resets({selector}[2h]) + 0 * sum_over_time({selector}[1h]),'
              f' "{_PART}", "check", "", "")')
    found: HourlyAnswer = {}
    for result in _hour_pieces(client, promql, first, 0, hours):
        for series in result.series:
            part = series.labels.get(_PART)
            # some Prometheus versions keep the name on last_over_time: match without it
            labels = tuple(sorted((k, v) for k, v in series.labels.items()
                                  if k not in ("__name__", _PART)))
            last, check = found.setdefault(labels, ({}, {}))
            times, values = zip(*series.samples, strict=True) if series.samples else ((), ())
            ks = map(round, map(operator.truediv, map(operator.sub, times,
                                                      itertools.repeat(first)),
                                itertools.repeat(HOUR)))
            (last if part == "last" else check).update(zip(ks, values, strict=True))
    return found


def shared_hourly_answers(client: Source, selectors: Sequence[str], *, start: float,
                          end: float) -> dict[str, HourlyAnswer]:
    """The hourly answers (``fetch_hourly_events``) of ``selectors`` over ``[start, end)``,
    one query per metric that several of them read: a selector covering them all
    (``matchers.covering``) is asked, and each series it returns goes to every
    selector that selects it, matched locally with Prometheus' rules, so each
    answer holds exactly the series its own query would. A selector read
    alone anyway (the only one of its metric), or one ``matchers`` refuses or
    finds ambiguous on a series, is left out: its SLO asks on its own."""
    if start % HOUR or end % HOUR or end <= start:
        raise ValueError(f"an hourly read needs whole hours, got [{start!r}, {end!r})")
    by_metric: dict[str, dict[str, matchers.Selector]] = {}
    for text in selectors:
        metric = _metric_of(text)
        if metric is None:
            continue
        try:
            by_metric.setdefault(metric, {})[text] = matchers.parse(text)
        except matchers.Unsupported:
            continue
    hours = round((end - start) / HOUR)
    found: dict[str, HourlyAnswer] = {}
    for metric, parsed in by_metric.items():
        if len(parsed) < 2:
            continue
        answer = _hourly_answer(client, matchers.covering(list(parsed.values())),
                                start - SAME_SAMPLE, hours)
        named = [(labels, {**dict(labels), "__name__": metric}) for labels in answer]
        for text, selector in parsed.items():
            try:
                found[text] = {labels: answer[labels] for labels, full in named
                               if selector.matches(full)}
            except matchers.Ambiguous:
                continue
    return found


def _narrowed(answer: HourlyAnswer, narrow: str, wide: str) -> HourlyAnswer | None:
    """The part of ``wide``'s answer that is ``narrow``'s, when ``narrow``'s series are
    among ``wide``'s (same metric, every matcher of ``wide`` in ``narrow``); else None."""
    pair = narrower_within(narrow, wide)
    if pair is None:
        return None
    metric, selector = pair
    try:
        return {labels: found for labels, found in answer.items()
                if selector.matches({**dict(labels), "__name__": metric})}
    except matchers.Ambiguous:
        return None


def narrower_within(narrow: str, wide: str) -> tuple[str, matchers.Selector] | None:
    """``narrow`` parsed with its metric when it is ``wide`` plus label equalities
    (``m{job="a",code="500"}`` within ``m{job="a"}``): each series it selects is one
    ``wide`` selects, picked from ``wide``'s answer by plain string comparison (a
    regex is left to Prometheus). None otherwise."""
    if narrow == wide:
        return None
    try:
        small, large = matchers.parse(narrow), matchers.parse(wide)
    except matchers.Unsupported:
        return None
    extra = set(small.matchers) - set(large.matchers)
    if (small.metric != large.metric or not set(large.matchers) <= set(small.matchers)
            or any(m.op != "=" for m in extra)):
        return None
    return small.metric, small


def _hourly_events(
    client: Source, role: str, selector: str, answer: HourlyAnswer, *, start: float,
    hours: int, books: _Books, max_increase: float,
) -> dict[float, float]:
    """Events of ``selector``'s series per hour-first bucket (``fetch_hourly_events``).

    The hours that some series reads raw (known from the answers) are visited
    in order; before each, every series counts its hours up to it, runs of
    rising hours by differences a list at a time; then the series that need
    it read that hour raw, all from one query for the run of such hours.
    """
    metric = _metric_of(selector)
    assert metric is not None  # hourly_readable checked every selector
    hour = _Hour(start - SAME_SAMPLE, start, books, max_increase)
    series = [(series_key(role, {**dict(labels), "__name__": metric}), last, check)
              for labels, (last, check) in answer.items()]
    rising = {key: _rising(last, check, hours, max_increase) for key, last, check in series}
    expected = {k for key, last, _ in series for k in last if k and k not in rising[key]}
    raw = _RawHours(client, role, selector, hour.first, expected)
    events: dict[float, float] = {}
    done = dict.fromkeys(rising, 0)  # per series: the hours counted so far
    for k in [*sorted(expected), hours + 1]:
        for key, last, _ in series:
            done[key] = hour.count(key, last, rising[key], lo=done[key] + 1, hi=k - 1, raw=raw,
                                   events=events)
            if k <= hours and k in last and k not in rising[key]:
                hour.raw(key, k, raw, events)
                done[key] = k
    return events


@dataclass(frozen=True)
class _Hour:
    """Counting one selector's series hour by hour (``_hourly_events``)."""

    first: float  # instant k is first + k hours: the end of hour k - 1
    start: float  # the first hour's start (its bucket)
    books: _Books
    max_increase: float

    def count(self, key: str, last: Mapping[int, float], rising: set[int], *, lo: int,
              hi: int, raw: _RawHours, events: dict[float, float]) -> int:
        """Count hours ``lo .. hi`` of series ``key``; returns ``hi``. A rising hour whose
        hour before did not end where the state says (a rejected sample) is read raw."""
        state = self.books.state
        k = lo
        while k <= hi:
            if k not in last:
                k += 1  # no sample in this hour
                continue
            prev = state.get(key)
            if (k in rising and prev is not None and prev[1] == last[k - 1]
                    and prev[0] > self.first + (k - 2) * HOUR):
                j = k
                while j + 1 in rising and j + 1 <= hi:
                    j += 1
                values = [last[i] for i in range(k - 1, j + 1)]
                add_to_buckets(events, list(zip(
                    [self.start + (i - 1) * HOUR for i in range(k, j + 1)],
                    map(operator.sub, values[1:], values[:-1]), strict=True)), HOUR)
                state[key] = (self.first + j * HOUR, values[-1])
                k = j + 1
                continue
            self.raw(key, k, raw, events)
            k += 1
        return hi

    def raw(self, key: str, k: int, raw: _RawHours, events: dict[float, float]) -> None:
        """Count hour ``k`` of series ``key`` from its raw samples, as the per-sample
        path would."""
        state = self.books.state
        step = advance(raw.samples(k, key), state.get(key), self.max_increase)
        if step.last is not None:
            state[key] = step.last
        _reject(self.books.rejected, key, step.rejected)
        bucket = self.start + (k - 1) * HOUR
        events[bucket] = events.get(bucket, 0.0) + math.fsum(i for _, i in step.increases)


def _rising(last: Mapping[int, float], check: Mapping[int, float], hours: int,
            max_increase: float) -> set[int]:
    """The hours k (1 .. ``hours``) whose samples, from hour k - 1's last through hour
    k's, rise without a reset: both last values known and finite, not negative, no
    reset and no NaN in the check, an increase of at most ``max_increase``."""
    return {k for k, value in last.items()
            if 0 < k <= hours and (before := last.get(k - 1)) is not None
            and check.get(k) == 0 and 0 <= before <= value <= before + max_increase
            and math.isfinite(value)}


class _RawHours:
    """Raw samples of one selector's series by hour, read once per run of hours
    (``fetch_hourly_events`` reads an hour raw where a series reset, started or has
    an implausible sample; a reset makes two hours in a row)."""

    #: the longest run of hours one raw read covers
    MAX_RUN = 24

    def __init__(self, client: Source, role: str, selector: str, first: float,
                 expected: set[int]) -> None:
        self._client = client
        self._role = role
        self._selector = selector
        self._first = first
        self._expected = expected
        self._hours: dict[int, dict[str, list[Sample]]] = {}

    def samples(self, k: int, key: str) -> list[Sample]:
        """The samples of series ``key`` in hour ``k``, ``(first + (k-1)h, first + kh]``.

        Hours are asked in order: asking one not read yet forgets those before.
        """
        if k not in self._hours:
            self._read(k)
        return self._hours[k].get(key, [])

    def _read(self, k: int) -> None:
        last = k
        while last + 1 in self._expected and last + 1 - k < self.MAX_RUN:
            last += 1
        for hour in [h for h in self._hours if h < k]:
            del self._hours[hour]
        for hour in range(k, last + 1):
            self._hours[hour] = {}
        edges = [round((self._first + h * HOUR) * 1000) for h in range(k - 1, last + 1)]
        lo, hi = self._first + (k - 1) * HOUR, self._first + last * HOUR
        for piece in _raw_pieces(self._client, self._selector, lo, hi):
            for series in piece:
                key = series_key(self._role, series.labels)
                stamps = [round(ts * 1000) for ts, _ in series.samples]
                cuts = [bisect.bisect_right(stamps, edge) for edge in edges]
                for hour, (a, b) in zip(range(k, last + 1), itertools.pairwise(cuts),
                                        strict=True):
                    if a < b:
                        self._hours[hour].setdefault(key, []).extend(series.samples[a:b])


def _hour_pieces(
    client: Source, promql: str, first: float, lo: int, hi: int
) -> Iterator[QueryResult]:
    """Range queries over the instants ``lo..hi`` (in hours after ``first``), at most
    ``MAX_RANGE_STEPS`` each, halved while answers are too large."""
    if hi - lo >= MAX_RANGE_STEPS:
        mid = lo + MAX_RANGE_STEPS - 1
        yield from _hour_pieces(client, promql, first, lo, mid)
        yield from _hour_pieces(client, promql, first, mid + 1, hi)
        return
    try:
        yield client.query_range(promql, first + lo * HOUR, first + hi * HOUR, HOUR)
    except errors.QueryError as exc:
        if not _too_large(exc) or hi <= lo:
            raise
        mid = (lo + hi) // 2
        yield from _hour_pieces(client, promql, first, lo, mid)
        yield from _hour_pieces(client, promql, first, mid + 1, hi)


# ---------------------------------------------------------------- bool gauge


def bool_gauge_events(samples: Sequence[Sample], prev: Sample | None) -> Advance:
    """One 0/1 gauge series read forward: ``increases`` holds ``(ts, good)``
    per sample, each sample being one event.

    Unlike a counter, a gauge sample is an event by itself, so a new series'
    first sample counts. Samples not after ``prev`` (read before) are skipped;
    a value other than 0 or 1 is rejected, not guessed at.
    """
    events: list[Sample] = []
    rejected: list[tuple[float, str]] = []
    step = math.inf
    last = prev
    for ts, value in samples:
        if last is not None and ts <= last[0]:
            continue
        if last is not None:
            step = min(step, ts - last[0])
        if value in (0.0, 1.0):
            events.append((ts, value))
            last = (ts, value)
        else:
            # the state keeps only where reading goes on from, never a NaN
            rejected.append((ts, f"bool gauge value {value!r} is neither 0 nor 1"))
            last = (ts, REBASELINE)
    return Advance(events, last, rejected, None if step == math.inf else step)


def fetch_bool_gauge(
    client: Source, selector: str, span: _Span, series_state: Mapping[str, Sample]
) -> EventBatch:
    """Events of a bool gauge in ``span``: every raw sample of every series of
    ``selector`` is one event, good when 1, in the bucket of its timestamp."""
    books = _Books(dict(series_state))
    return books.batch(_split_gauge_events(client, selector, span, books).get((), {}),
                       span.until)


def _split_gauge_events(
    client: Source, selector: str, span: _Span, books: _Books
) -> dict[GroupKey, dict[float, tuple[float, float]]]:
    """(good, total) per bucket of a bool gauge, per group (``_series_reads``)."""
    events: dict[GroupKey, dict[float, tuple[float, float]]] = {}
    for group, read in _series_reads(client, "gauge", selector, span, books,
                                     read=bool_gauge_events):
        buckets = events.setdefault(group, {})
        for ts, good in read.increases:
            bucket = bucket_start(ts, span.resolution)
            g, t = buckets.get(bucket, (0.0, 0.0))
            buckets[bucket] = (g + good, t + 1.0)
    return {group: dict(sorted(buckets.items())) for group, buckets in events.items()}


# ------------------------------------------------------------------- latency


def _latency_queries(
    client: Source,
    sli: model.LatencySLI,
    at: float,
    cache: MutableMapping[str, str] | None,
) -> tuple[str, model.Selector, model.Selector]:
    cache_key = _le_key(sli)
    le_matcher = cache.get(cache_key) if cache is not None else None
    if le_matcher is None:
        le_matcher = _discover_le(client, sli, at)
        if cache is not None:
            cache[cache_key] = le_matcher
    good = _selector(f"{sli.metric}_bucket", sli.matchers, le_matcher)
    total = _selector(f"{sli.metric}_count", sli.matchers)
    return "good", model.Selector(good), model.Selector(total)


def _le_key(sli: model.LatencySLI) -> str:
    """Where a latency SLI's ``le`` matcher is kept in an ``le_cache``."""
    return f"{sli.histogram.text}|{sli.threshold!r}"


def _discover_le(client: Source, sli: model.LatencySLI, at: float) -> str:
    """The ``le`` matcher whose bucket boundary equals the threshold.

    Exporters spell boundaries differently (``0.3``, ``0.30``, ``3e-01``), so
    the label text is looked up rather than formatted; if several spellings
    of the same boundary exist, all of them are matched.
    """
    buckets = _selector(f"{sli.metric}_bucket", sli.matchers)
    result = client.query(f"count by (le) ({buckets})", at)
    found: dict[str, float] = {}
    for series in result.series:
        text = series.labels.get("le")
        if text is None:
            continue
        try:
            found[text] = float(text)
        except ValueError:
            continue
    matches = sorted(t for t, v in found.items() if math.isclose(v, sli.threshold, rel_tol=1e-9))
    if not matches:
        listed = ", ".join(sorted(found, key=found.__getitem__)) or "none"
        raise errors.HistogramBucketError(
            f"latency threshold {sli.threshold:g}s is not a bucket boundary of {buckets}; "
            f"buckets found: {listed}"
        )
    if len(matches) == 1:
        return f'le="{_promql_escape(matches[0])}"'
    return f'le=~"{_promql_escape("|".join(re.escape(m) for m in matches))}"'


def _selector(metric: str, matchers: str, *extra: str) -> str:
    # A trailing comma is valid in the configured selector but not once we append.
    parts = [m for m in (matchers.strip().rstrip(","), *extra) if m]
    return f"{metric}{{{', '.join(parts)}}}" if parts else metric


def _promql_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


# ------------------------------------------------------------ shared reads


def plain_selectors(
    client: Source, slo: model.SLO, at: float, le_cache: MutableMapping[str, str] | None,
) -> tuple[str, ...]:
    """The plain selectors a read of ``slo`` asks for raw samples (``sharing``
    answers them from one query per metric); templates and raw ratios have none.

    A latency SLI's ``le`` is discovered (and cached) here as its read would.
    """
    sli = slo.sli
    if isinstance(sli, model.BoolGaugeSLI):
        return (sli.gauge.text,)
    if isinstance(sli, model.LatencySLI):
        _, good, total = _latency_queries(client, sli, at, le_cache)
        return (good.text, total.text)
    if isinstance(sli, model.RatioSLI):
        return tuple(q.text for q in (sli.good, sli.bad, sli.total)
                     if isinstance(q, model.Selector))
    return ()
