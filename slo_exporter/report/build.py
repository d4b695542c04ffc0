"""The figures of every SLO over a report's span, and where they came from.

Owns choosing each SLO's source and reading it:

* **store**: the embedded event store, opened read-only beside a running
  daemon, when it holds the SLO's events back to the span's start (a
  bucket or a measured run at or before it) under the SLO's current
  definition;
* **prometheus**: otherwise, for an SLO Prometheus can measure again
  (ratio and latency SLIs), the span is read from Prometheus history with
  the daemon's own accounting (``accounting.fetch_events``: raw samples,
  exact counter increases, the configured chunk, query delay, timeout and
  retries) into a temporary store that is deleted afterwards;
* **unmeasured**: a probe SLO the store holds nothing for in the span. Its
  events existed only in the store, so achieved is null and coverage 0.

A grouped SLO (``group_by``) is reported per group, as the daemon keeps it
(its definition has no events of its own): the groups the store holds keys
for (those retired before the span left out), read from the store when every
one of them reaches back to the span's start; otherwise the span is read
from Prometheus once for all groups (``accounting.fetch_grouped_events``,
the definition's cap applied). With neither, the stored groups keep what
the store holds, and a definition with no group anywhere is listed alone.

A composite SLO is derived once through ``composite.CompositeReader`` over
its components, each from its own source, into the temporary store. It says
``prometheus`` when any component came from there, ``unmeasured`` when none
was measured. One entry comes from one source as a whole: a store that
starts mid-span is not stitched to Prometheus history.

A failed Prometheus read does not stop the report: the SLO falls back to
what the store holds (or to unmeasured), the failure is logged
(``history_read_failed``) and listed in ``Report.failures`` so the command
can exit non-zero.

The figures themselves are ``compliance.period_figures``. Must not read a
clock (``now`` is passed in), render anything, or write to the daemon's store.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from slo_exporter import accounting
from slo_exporter.compliance import period_figures
from slo_exporter.composite import CompositeReader, composite_order
from slo_exporter.errors import SourceError
from slo_exporter.figures import PeriodFigures, Source
from slo_exporter.grouping import Groups, group_of, instance
from slo_exporter.ingest import BACKFILL_LEAD, stored_fingerprint
from slo_exporter.model import ALERT_WINDOWS, SLO, Config
from slo_exporter.report.alerting import alert_seconds
from slo_exporter.report.span import Request, Span, local_midnight
from slo_exporter.slomath import Counts
from slo_exporter.store import Bucket, EventStore, SQLiteStore
from slo_exporter.store import Span as TimeSpan


@dataclass(frozen=True)
class Day:
    """What an SLO achieved on one local day of the report's span (for charts)."""

    date: str  # ISO date in the span's zone
    achieved: float | None
    met: bool | None
    elapsed: bool = True  # False for the days still ahead of ``at``


@dataclass(frozen=True)
class Entry:
    """One SLO's line in a report; ``days`` only when charts were asked for."""

    slo: SLO
    figures: PeriodFigures
    days: tuple[Day, ...] = ()
    #: seconds under the page and ticket conditions, replayed (``alerting``)
    alert_seconds: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """Every configured SLO's figures, in configuration order (a grouped SLO's
    groups in label order)."""

    entries: tuple[Entry, ...]
    generated_at: float
    #: ``service/slo: reason`` of each SLO whose Prometheus history could not be read
    failures: tuple[str, ...] = field(default=())


def build_report(
    config: Config,
    request: Request,
    *,
    store: EventStore | None,
    prometheus: Callable[[], accounting.Source] | None,
    now: float,
    log: Any,
    days: bool = False,
) -> Report:
    """The report ``request`` asks for, as of ``now`` unless it says ``--at``.

    ``prometheus`` makes the client for history reads; it is called at most
    once, and only when some SLO needs Prometheus. ``days`` adds each
    SLO's figures per local day (what the html charts draw). Raises
    ``ReportArgumentError`` when the span does not fit some SLO (it has
    not started by ``--at``).
    """
    spans = {slo.key: request.span(slo, now) for slo in config.slos}
    resolution = config.storage.resolution
    with tempfile.TemporaryDirectory(prefix="slo-exporter-report-") as scratch:
        history = SQLiteStore(scratch, resolution)
        try:
            listed, sources, failures = _read_sources(
                config, spans=spans, store=store, history=history, prometheus=prometheus,
                log=log)
            for slo in listed:  # a group's span is its definition's
                spans.setdefault(slo.key, spans[slo.id.definition.key])
            stored = {key for key, source in sources.items() if source == "store"}
            # CompositeReader takes an EventStore but only reads it; _Routed has every read.
            reader = cast("EventStore", _Routed(resolution, store, history, stored))
            _materialize(config, spans, reader, history)
            entries = tuple(
                Entry(slo, _figures(reader, slo, spans[slo.key], config, sources),
                      _days(reader, slo, spans[slo.key], config) if days else (),
                      alert_seconds(reader, slo, start=spans[slo.key].start,
                                    at=spans[slo.key].at, maintenance=config.maintenance))
                for slo in listed
            )
        finally:
            history.close()
    return Report(entries, generated_at=now, failures=tuple(failures))


def _materialize(config: Config, spans: Mapping[str, Span], reader: EventStore,
                 history: EventStore) -> None:
    """Derive each composite's buckets and measured spans once, into ``history``.

    Every later read (the period, each day, the alert replay) is then a
    plain store read instead of deriving the composite from its components
    again. Composites are derived in dependency order through
    ``CompositeReader``, reaching back as far as the alert replay looks.
    """
    res = history.resolution
    derived = CompositeReader(reader, config.slos)
    reach = max((a.long for s in config.slos for a in s.alerting.windows),
                default=max(a.long for a in ALERT_WINDOWS))
    for slo in composite_order(config.slos):
        if not slo.composite:
            continue
        span = spans[slo.key]
        lo = math.floor(span.start / res) * res - reach
        hi = math.floor(span.at / res) * res + res
        deltas = {b: (g, t) for b, g, t in derived.buckets(slo.key, lo, hi)}
        history.commit(slo.key, deltas)
        for run in derived.measured_spans(slo.key, lo, hi):
            history.commit(slo.key, {}, measured=run)


def _figures(reader: Any, slo: SLO, span: Span, config: Config,
             sources: Mapping[str, Source]) -> PeriodFigures:
    return period_figures(
        reader, slo,
        start=span.start, end=span.end, at=span.at,
        label=span.label, time_zone=span.time_zone,
        maintenance=config.maintenance,
        source=_source_of(slo, sources, config),
    )


def _days(reader: Any, slo: SLO, span: Span, config: Config) -> tuple[Day, ...]:
    """The SLO's figures per local day of the span; the days after ``at`` are empty.

    Each day is its own span, read the same way as the whole (maintenance,
    timeslices, coverage), so a chart never disagrees with the entry's
    worst day. Day bounds are floored to the bucket grid.
    """
    res = config.storage.resolution
    zone = ZoneInfo(span.time_zone)
    plain = replace(slo, sla=None)  # the SLA verdict is per SLA period, not per day
    day = datetime.fromtimestamp(span.start, zone).date()
    out: list[Day] = []
    # bounded: one step per calendar day of the span, plus the partial ends
    for _ in range(math.ceil((span.end - span.start) / 82800) + 2):
        lo = max(span.start, local_midnight(day, span.time_zone))
        hi = min(span.at, local_midnight(day + timedelta(days=1), span.time_zone))
        if lo >= span.end:
            break
        if lo >= span.at:  # ahead of --at: a slot on the chart, nothing to read
            out.append(Day(day.isoformat(), None, None, elapsed=False))
            day += timedelta(days=1)
            continue
        lo, hi_grid = math.floor(lo / res) * res, math.floor(hi / res) * res
        if hi_grid > lo:
            f = period_figures(reader, plain, start=lo, end=hi_grid, at=hi_grid,
                               label=day.isoformat(), time_zone=span.time_zone,
                               maintenance=config.maintenance)
            out.append(Day(day.isoformat(), f.achieved, f.met))
        day += timedelta(days=1)
    return tuple(out)


def _source_of(slo: SLO, sources: Mapping[str, Source], config: Config) -> Source:
    """A measured SLO's own source; a composite's from its components'."""
    if slo.key in sources:
        return sources[slo.key]
    by_id = {s.id: s for s in config.slos}
    parts = [_source_of(by_id[c.slo], sources, config)
             for c in getattr(slo.sli, "components", ()) if c.slo in by_id]
    if "prometheus" in parts:
        return "prometheus"
    if parts and all(p == "unmeasured" for p in parts):
        return "unmeasured"
    return "store"


class _Client:
    """The Prometheus client for history reads, made on first use, at most once."""

    def __init__(self, make: Callable[[], accounting.Source] | None) -> None:
        self._make = make
        self._client: accounting.Source | None = None

    def get(self) -> accounting.Source:
        if self._client is None and self._make is not None:
            self._client = self._make()
        if self._client is None:
            raise SourceError("Prometheus is not configured")
        return self._client


def _read_sources(
    config: Config,
    *,
    spans: Mapping[str, Span],
    store: EventStore | None,
    history: EventStore,
    prometheus: Callable[[], accounting.Source] | None,
    log: Any,
) -> tuple[list[SLO], dict[str, Source], list[str]]:
    """The SLOs the report lists (a grouped definition's groups in its place) and each
    measured (non-composite) one's source; Prometheus history lands in ``history``."""
    listed: list[SLO] = []
    sources: dict[str, Source] = {}
    failures: list[str] = []
    client = _Client(prometheus)
    for slo in config.slos:
        if slo.composite:
            listed.append(slo)
            continue
        span = spans[slo.key]
        if slo.group_by:
            listed += _read_groups(slo, span, store=store, history=history, client=client,
                                   config=config, log=log, sources=sources, failures=failures)
            continue
        listed.append(slo)
        if store is not None and _store_reaches(store, slo, span.start):
            sources[slo.key] = "store"
            continue
        if slo.remeasurable:
            try:
                _read_history(client.get(), slo, span, config=config, history=history,
                              log=log)
            except (SourceError, ValueError) as exc:
                reason = str(exc)
                log.error("history_read_failed", service=slo.service, slo=slo.name,
                          error=reason)
                failures.append(f"{slo.key}: {reason}")
            else:
                sources[slo.key] = "prometheus"
                continue
        held = store is not None and _store_holds(store, slo, span)
        sources[slo.key] = "store" if held else "unmeasured"
    return listed, sources, failures


def _read_groups(
    slo: SLO, span: Span, *, store: EventStore | None, history: EventStore, client: _Client,
    config: Config, log: Any, sources: dict[str, Source], failures: list[str],
) -> list[SLO]:
    """The groups of grouped ``slo`` the report lists, each with its source (see the
    module docstring)."""
    stored = _stored_groups(store, slo, span) if store is not None else []
    if store is not None and stored and all(
            _store_reaches(store, group, span.start) for group in stored):
        sources.update({group.key: "store" for group in stored})
        return stored
    try:
        read = _read_grouped_history(client.get(), slo, span, config=config,
                                     history=history, log=log)
    except (SourceError, ValueError) as exc:
        reason = str(exc)
        log.error("history_read_failed", service=slo.service, slo=slo.name, error=reason)
        failures.append(f"{slo.key}: {reason}")
    else:
        sources.update({group.key: "prometheus" for group in read})
        return read
    listed = stored or [slo]
    for group in listed:
        held = store is not None and _store_holds(store, group, span)
        sources[group.key] = "store" if held else "unmeasured"
    return listed


def _stored_groups(store: EventStore, slo: SLO, span: Span) -> list[SLO]:
    """The groups of ``slo`` the store holds keys for, in label order; a group
    retired before the span started is left out."""
    retired = store.retired()
    found = sorted({group for key in store.slo_keys()
                    if (group := group_of(key, slo)) is not None
                    and retired.get(key, math.inf) > span.start})
    return [instance(slo, group) for group in found]

def _store_reaches(store: EventStore, slo: SLO, start: float) -> bool:
    """Whether the store holds ``slo``'s events, as defined now, back to ``start``.

    A probe's events are kept whatever changed (they exist nowhere else),
    so only a re-measurable SLO is held to its current definition.
    """
    if slo.remeasurable and store.fingerprint(slo.key) != stored_fingerprint(slo):
        return False
    first = store.first_bucket(slo.key)
    if first is not None and first <= start:
        return True
    # A quiet start (no events in the first buckets) was still measured.
    lead = store.measured_spans(slo.key, start - BACKFILL_LEAD, start + store.resolution)
    return any(s <= start < e for s, e in lead)


def _store_holds(store: EventStore, slo: SLO, span: Span) -> bool:
    """Whether the store measured or counted anything of ``slo`` in the span."""
    return bool(store.measured_spans(slo.key, span.start, span.at)
                or store.buckets(slo.key, span.start, span.at))


def _read_history(client: accounting.Source, slo: SLO, span: Span, *, config: Config,
                  history: EventStore, log: Any) -> None:
    """Read ``slo``'s events over the span from Prometheus into ``history``.

    Like the daemon's backfill: from a lead before the span (so every series
    has a baseline sample when it opens) up to ``at``, in chunks, each read
    counting as measured. Committed only once every chunk was read, so a
    failure leaves nothing half-read behind.
    """
    cfg = config.prometheus
    res = history.resolution
    since = math.floor(span.start / res) * res - BACKFILL_LEAD
    state: dict[str, accounting.Sample] = {}
    le_cache: dict[str, str] = {}
    batches: list[tuple[float, accounting.EventBatch]] = []
    for lo, hi in accounting.chunk_bounds(since, span.at, cfg.backfill_chunk):
        batch = accounting.fetch_events(
            client, slo, since=lo, until=hi, series_state=state, resolution=res,
            overlap=cfg.query_delay, chunk=cfg.backfill_chunk + cfg.query_delay,
            le_cache=le_cache, max_increase=cfg.max_counter_increase,
        )
        _log_rejected(log, slo, batch.rejected)
        batches.append((lo, batch))
        state = dict(batch.series)
    for lo, batch in batches:
        history.commit(slo.key, batch.deltas, cursor=batch.covered_until,
                       series=batch.series, measured=(lo, batch.covered_until))
    log.info("history_read", service=slo.service, slo=slo.name, source="prometheus",
             since=since, until=span.at)


def _log_rejected(log: Any, slo: SLO, rejected: Sequence[accounting.Rejection]) -> None:
    """Implausible series data was left out of the report: say which, as the daemon does."""
    for r in rejected:
        log.warning("series_rejected", service=slo.service, slo=slo.name,
                    series=r.series, reason=r.reason, samples=r.samples, at=r.at)


def _read_grouped_history(client: accounting.Source, slo: SLO, span: Span, *,
                          config: Config, history: EventStore, log: Any) -> list[SLO]:
    """Read grouped ``slo``'s events over the span from Prometheus into ``history``,
    once per selector for all groups (at most ``max_groups``, the first seen kept,
    as the daemon does); the groups read, in label order.

    As ``_read_history``: committed only once every chunk was read, each chunk
    measured for every group (a group without samples in a chunk had no events).
    A definition whose read found no group is listed alone, measured and empty.
    """
    cfg = config.prometheus
    res = history.resolution
    since = math.floor(span.start / res) * res - BACKFILL_LEAD
    groups = Groups(slo, log=log)
    state: dict[tuple[str, ...], Mapping[str, accounting.Sample]] = {}
    le_cache: dict[str, str] = {}
    batches: list[tuple[float, accounting.GroupedBatch]] = []
    for lo, hi in accounting.chunk_bounds(since, span.at, cfg.backfill_chunk):
        batch = accounting.fetch_grouped_events(
            client, slo, since=lo, until=hi, series_state=state, resolution=res,
            overlap=cfg.query_delay, chunk=cfg.backfill_chunk + cfg.query_delay,
            admit=groups.admit, le_cache=le_cache, max_increase=cfg.max_counter_increase,
        )
        _log_rejected(log, slo, batch.rejected)
        groups.note_read(batch.dropped, hi)
        batches.append((lo, batch))
        state = {**state, **{g: b.series for g, b in batch.groups.items()}}
    found = sorted(groups.items())
    listed = [group_slo for _, group_slo in found] or [slo]
    for lo, batch in batches:
        for group, group_slo in found or [((), slo)]:
            part = batch.groups.get(group)
            history.commit(group_slo.key, part.deltas if part is not None else {},
                           cursor=batch.covered_until,
                           series=part.series if part is not None else None,
                           measured=(lo, batch.covered_until))
    log.info("history_read", service=slo.service, slo=slo.name, source="prometheus",
             since=since, until=span.at, groups=len(found))
    return listed


class _Routed:
    """The read side of an event store, answering each SLO key from its source.

    Keys read from the store (``stored``) go to the store; everything else
    (Prometheus history, derived composites, and unmeasured SLOs, which it
    holds nothing for) to ``history``.
    """

    def __init__(self, resolution: float, store: EventStore | None, history: EventStore,
                 stored: Set[str]) -> None:
        self._resolution = resolution
        self._store = store
        self._history = history
        self._stored = stored

    def _of(self, key: str) -> EventStore:
        if self._store is not None and key in self._stored:
            return self._store
        return self._history

    @property
    def resolution(self) -> float:
        return self._resolution

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        return self._of(slo_key).buckets(slo_key, start, end)

    def measured_spans(self, slo_key: str, start: float, end: float) -> list[TimeSpan]:
        return self._of(slo_key).measured_spans(slo_key, start, end)

    def measured(self, slo_key: str, start: float, end: float) -> float:
        return self._of(slo_key).measured(slo_key, start, end)

    def sum(self, slo_key: str, start: float, end: float) -> Counts:
        return self._of(slo_key).sum(slo_key, start, end)

    def sums(self, slo_key: str, end: float, windows: Sequence[float]) -> dict[float, Counts]:
        return self._of(slo_key).sums(slo_key, end, windows)

    def first_bucket(self, slo_key: str) -> float | None:
        return self._of(slo_key).first_bucket(slo_key)

