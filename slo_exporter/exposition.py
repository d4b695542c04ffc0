"""Render the current snapshot and the exporter's own health as Prometheus metrics.

``SnapshotCollector.collect()`` only reads the snapshot reference the engine
swaps in, so a scrape never waits on Prometheus or a probe. Self-metrics are
ordinary prometheus-client metrics registered on the registry passed in;
nothing here touches the global registry.

Also owns the text format the web server sends: ``SnapshotCollector.exposition()``
joins the snapshot's families from lines kept per status (an unchanged status
keeps its lines) and ``render_families`` the rest of the registry on each
scrape, taking as they are the families a collector keeps as text
(``RenderedFamily``, offered only inside ``rendering_text()``); all must give
exactly the bytes ``generate_latest`` would, so a scraper cannot tell the fast
path from the library's.

A group instance of a grouped SLO carries its group labels (``route="/a"``;
``exported_service`` for a group label named ``service``) on every
``slo_*`` series after ``service`` and ``slo``; each grouped
definition also gets ``slo_groups``, ``slo_groups_dropped`` and
``slo_groups_max``.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import math
import platform
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from slo_exporter import __version__, sla
from slo_exporter.durations import format_duration
from slo_exporter.grouping import exported_labels
from slo_exporter.model import SLO, Alerting, CalendarPeriod
from slo_exporter.snapshot import PerStatus, SLOStatus, Snapshot

#: query error reasons are a closed set (errors.py ``reason`` values), so the
#: counter's cardinality is bounded
ERROR_REASONS = ("timeout", "connection", "http", "api", "decode", "too_large", "cancelled",
                 "partial", "implausible", "bucket", "source",
                 "query", "store", "internal")


#: gzip level of /metrics: the fastest, since a probe fleet's snapshot changes about every
#: second and so is compressed for nearly every scrape (10,000 probe SLOs: 0.08 s of CPU
#: and 2.1 MB, against 0.19 s and 1.6 MB at level 5)
METRICS_GZIP_LEVEL = 1

#: the per-SLO families, in the order they are exposed: (name, help)
FAMILIES: tuple[tuple[str, str], ...] = (
    ("slo_objective_ratio", "The SLO target as a ratio, e.g. 0.999."),
    ("slo_period_seconds", "Length of the SLO period in seconds."),
    ("slo_info", "Descriptive labels of an SLO; always 1."),
    ("slo_sli_up", "1 when the SLO's data source answered at the last evaluation."),
    ("slo_last_evaluation_timestamp_seconds", "The instant (Unix time) the SLO values describe."),
    ("slo_sli_ratio", "Good events / total events in the window; absent without events."),
    ("slo_events", "Events in the window by result."),
    ("slo_burn_rate", "Error ratio in the window / (1 - objective); absent without events."),
    ("slo_error_budget_remaining_ratio",
     "1 - error budget spent over the SLO period; negative when overspent."),
    ("slo_burn_rate_alert",
     "1 while a multiwindow multi-burn-rate condition of this severity holds."),
    ("slo_period_start_timestamp_seconds", "Start (Unix time) of the current SLO period."),
    ("slo_period_end_timestamp_seconds",
     "End (Unix time) of the current SLO period; now for a rolling window."),
    ("slo_coverage_ratio",
     "Measured time / (elapsed - excluded time) in the current period to date."),
    ("slo_excluded_seconds", "Maintenance time excluded from the current period to date."),
    ("slo_error_budget_exhaustion_timestamp_seconds",
     "When the period's error budget runs out at the current burn (Unix time); "
     "absent when it will not within the period."),
    ("slo_period_objective_met",
     "1 when the current period to date meets the objective, 0 when it misses it; "
     "absent while nothing was measured."),
    ("slo_sla_objective_ratio", "The committed SLA level as a ratio, e.g. 0.999."),
    ("slo_sla_credit_ratio",
     "Projected service credit for the current SLA period, 0.10 = 10 %; "
     "absent while nothing was measured."),
)
(OBJECTIVE, PERIOD, INFO, UP, LAST, SLI, EVENTS, BURN, BUDGET, ALERT, START, END, COVERAGE,
 EXCLUDED, EXHAUSTION, MET, SLA_OBJECTIVE, SLA_CREDIT) = range(len(FAMILIES))

#: each grouped definition's families, after the per-SLO ones: (name, help)
GROUP_FAMILIES: tuple[tuple[str, str], ...] = (
    ("slo_groups", "Groups a grouped SLO definition keeps (at most its max_groups)."),
    ("slo_groups_dropped",
     "Groups over max_groups at the definition's latest read that found samples: "
     "not created, their events not stored."),
    ("slo_groups_max", "The max_groups cap of a grouped SLO definition."),
)

#: one sample of a status: index into FAMILIES, the names and values of its labels
#: beyond the SLO's key, its value
Sample = tuple[int, tuple[str, ...], tuple[str, ...], float]

_WINDOW = ("window",)
_WINDOW_RESULT = ("window", "result")
_RESULT_WINDOW = ("result", "window")  # sorted, as the line holds them
_SEVERITY = ("severity",)


class SnapshotCollector(Collector):
    """Yields fresh metric families from the latest snapshot on every scrape.

    ``exposition()`` is the fast path the web server takes for ``/metrics``:
    the text of the current snapshot's families, joined from each status's
    lines (written once per status object, from prefixes written once per
    SLO definition) and gzipped once per snapshot, when a scraper asks for
    it. A status the engine carried over unchanged from the previous
    snapshot keeps its lines. While a thread is
    inside ``skipped()``, ``collect()`` yields nothing, so the server can
    render the rest of the registry around the cached text.
    """

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot
        self._texts = _SLOTexts()
        self._lines: PerStatus[tuple[str, ...]] = PerStatus(
            lambda status: _status_lines(status, self._texts.of(status.slo)))
        self._local = threading.local()
        self._lock = threading.Lock()
        #: the gzip member of one snapshot (weakly: a scrape does not keep it alive)
        self._zipped: tuple[weakref.ref[Snapshot], bytes] | None = None

    def describe(self) -> Iterator[Metric]:
        # Describing would force a snapshot read at registration; returning
        # nothing makes the registry call collect() lazily instead.
        return iter(())

    @contextlib.contextmanager
    def skipped(self) -> Iterator[None]:
        """``collect()`` yields nothing in this thread while inside."""
        self._local.skip = True
        try:
            yield
        finally:
            self._local.skip = False

    def exposition(self, *, gzipped: bool = False) -> bytes:
        """The text format of the current snapshot's families; a gzip member if ``gzipped``.

        Byte for byte what ``generate_latest`` makes of ``collect()``. The gzip
        member is kept for the snapshot; the plain text is joined anew from the
        statuses' kept lines (tens of milliseconds for 10,000 SLOs), so the
        text is never held twice.
        """
        snap = self._snapshot()
        if not gzipped:
            return self._render(snap)
        with self._lock:
            if self._zipped is not None and self._zipped[0]() is snap:
                return self._zipped[1]
        body = gzip.compress(self._render(snap), compresslevel=METRICS_GZIP_LEVEL)
        with self._lock:
            if self._snapshot() is snap:
                self._zipped = (weakref.ref(snap), body)
        return body

    def _render(self, snap: Snapshot) -> bytes:
        self._texts.keep(snap)
        lines = self._lines.all(snap, snap.slos)
        out: list[str] = []
        for i, (name, doc) in enumerate(FAMILIES):
            out.append(_header(name, doc))
            out.extend(entry[i] for entry in lines)
        counts = [(count.service, count.slo, (count.live, count.dropped, count.max_groups))
                  for count in snap.groups]
        for i, (name, doc) in enumerate(GROUP_FAMILIES):
            out.append(_header(name, doc))
            out.extend(_line(name, {"service": service, "slo": slo}, float(values[i]))
                       for service, slo, values in counts)
        out.append(render_families(backfill_families(snap)).decode())
        return "".join(out).encode()

    def collect(self) -> Iterator[Metric]:
        if getattr(self._local, "skip", False):
            return
        snap = self._snapshot()
        families = [Metric(name, doc, "gauge") for name, doc in FAMILIES]
        for status in snap.slos:
            key = slo_key(status.slo)
            for index, names, texts, value in status_samples(status):
                families[index].add_sample(FAMILIES[index][0],
                                           {**key, **dict(zip(names, texts, strict=True))}, value)
        groups = [Metric(name, doc, "gauge") for name, doc in GROUP_FAMILIES]
        for count in snap.groups:
            key = {"service": count.service, "slo": count.slo}
            for family, value in zip(groups, (count.live, count.dropped, count.max_groups),
                                     strict=True):
                family.add_sample(family.name, key, float(value))
        yield from families
        yield from groups
        yield from backfill_families(snap)


def backfill_families(snap: Snapshot) -> tuple[Metric, ...]:
    """The cold start's progress: SLOs still backfilling, the share read, the ETA
    (0, 1 and 0 while no backfill runs)."""
    progress = snap.backfill
    remaining = GaugeMetricFamily(
        "slo_exporter_backfill_remaining_slos",
        "SLOs whose backfill from Prometheus has not finished (0 when none runs).")
    ratio = GaugeMetricFamily(
        "slo_exporter_backfill_progress_ratio",
        "Share of the history being backfilled that is read (1 when no backfill runs).")
    eta = GaugeMetricFamily(
        "slo_exporter_backfill_eta_seconds",
        "Estimated seconds until the running backfill finishes, at its rate so far "
        "(0 when none runs; absent before its first chunk).")
    remaining.add_metric([], 0 if progress is None else progress.slos_remaining)
    ratio.add_metric([], 1.0 if progress is None else progress.fraction)
    left = 0.0 if progress is None else progress.eta
    if left is not None:
        eta.add_metric([], left)
    return remaining, ratio, eta


def slo_key(slo: SLO) -> dict[str, str]:
    """The labels every series of ``slo`` carries; a group instance's group labels too."""
    return {"service": slo.service, "slo": slo.name, **exported_labels(slo.group)}


def status_samples(status: SLOStatus) -> Iterator[Sample]:
    """Every sample ``status`` contributes to the per-SLO families, each with the
    labels it carries beyond ``slo_key`` (which override the key's)."""
    slo = status.slo
    yield OBJECTIVE, (), (), slo.objective
    at = status.evaluated_at
    # A calendar period is as long as the one running now (alert
    # rules scale their factors with it): 31 days in March.
    yield PERIOD, (), (), slo.period.longest if at is None else slo.period.length(at)
    if slo.sla is not None:
        yield SLA_OBJECTIVE, (), (), float(slo.sla.objective / 100)
    yield INFO, *_info(slo), 1.0
    yield UP, (), (), 1.0 if status.up else 0.0
    if at is None:
        return
    yield LAST, (), (), at
    lo, hi = period_span(slo, at)
    yield START, (), (), lo
    yield END, (), (), hi
    longest = slo.period.longest
    for w in status.windows:
        # slo.window_label(w.window), with the duration text memoised: a fleet has few windows
        window = slo.period.label if w.window == longest else _duration(w.window)
        good = min(w.good, w.total) if w.total > 0 else 0.0
        yield EVENTS, _WINDOW_RESULT, (window, "good"), good
        yield EVENTS, _WINDOW_RESULT, (window, "bad"), w.bad
        if w.sli is not None:
            yield SLI, _WINDOW, (window,), w.sli
        if w.burn_rate is not None:
            yield BURN, _WINDOW, (window,), w.burn_rate
    if status.budget_remaining is not None:
        yield BUDGET, (), (), status.budget_remaining
    fired: dict[str, bool] = {}
    for a in status.alerts:
        fired[a.severity] = fired.get(a.severity, False) or a.firing
    for severity in ("page", "ticket"):
        yield ALERT, _SEVERITY, (severity,), 1.0 if fired.get(severity) else 0.0
    figures = status.period
    if figures is None:
        return
    period = (slo.period.label,)
    if figures.coverage is not None:
        yield COVERAGE, _WINDOW, period, figures.coverage
    yield EXCLUDED, _WINDOW, period, figures.excluded_seconds
    if figures.exhaustion_at is not None:
        yield EXHAUSTION, (), (), figures.exhaustion_at
    if figures.met is not None:
        yield MET, _WINDOW, period, 1.0 if figures.met else 0.0
    if figures.sla is not None and figures.sla.credit_percent is not None:
        yield SLA_CREDIT, (), (), sla.credit_ratio(figures.sla.credit_percent) or 0.0


def _info(slo: SLO) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names and values of the labels ``slo_info`` carries beyond the SLO's key."""
    info = [*slo.labels.items(), ("sli_kind", _sli_kind(slo.sli)),
            ("commitment", slo.commitment)]
    if slo.runbook_url:
        info.append(("runbook_url", slo.runbook_url))
    if slo.alerting != _DEFAULT_ALERTING:  # not slo.alerting.default, without building one
        # the generic burn-rate rules skip it: its own rules alert for it
        info.append(("alerting", "custom"))
    return tuple(name for name, _ in info), tuple(text for _, text in info)


def _status_lines(status: SLOStatus, text: _SLOText | None = None) -> tuple[str, ...]:
    """The exposition lines of ``status``, one string per family (empty where it has none).

    The same samples as ``status_samples`` yields, in the same order (a test
    holds the two equal on every kind of status), each line the text ``text``
    keeps for the SLO's definition around the sample's own label values and
    number. Labels are sorted by name, as ``generate_latest`` sorts them.
    """
    slo = status.slo
    t = text if text is not None and text.slo is slo else _SLOText(slo)
    parts = [""] * len(FAMILIES)
    parts[OBJECTIVE] = t.objective
    parts[SLA_OBJECTIVE] = t.sla_objective
    parts[INFO] = t.info
    at = status.evaluated_at
    # A calendar period is as long as the one running now (alert rules
    # scale their factors with it): 31 days in March.
    parts[PERIOD] = t.kept(PERIOD, slo.period.longest if at is None else slo.period.length(at))
    parts[UP] = t.up if status.up else t.down
    if at is None:
        return tuple(parts)
    parts[LAST] = t.line(LAST, at)
    lo, hi = period_span(slo, at)
    parts[START] = t.line(START, lo)
    parts[END] = t.line(END, hi)
    events: list[str] = []
    sli: list[str] = []
    burn: list[str] = []
    (e0, e1, e2), (w0, w1) = t.events, t.window
    s0, b0 = _NAMES[SLI] + w0, _NAMES[BURN] + w0
    longest = slo.period.longest
    for w in status.windows:
        # slo.window_label(w.window), with the duration text memoised: a fleet has few windows
        window = t.period if w.window == longest else _duration(w.window)
        good = min(w.good, w.total) if w.total > 0 else 0.0
        events.append(f"{e0}good{e1}{window}{e2}{_number(good)}\n"
                      f"{e0}bad{e1}{window}{e2}{_number(w.bad)}\n")
        if w.sli is not None:
            sli.append(f"{s0}{window}{w1}{_number(w.sli)}\n")
        if w.burn_rate is not None:
            burn.append(f"{b0}{window}{w1}{_number(w.burn_rate)}\n")
    parts[EVENTS] = "".join(events)
    parts[SLI] = "".join(sli)
    parts[BURN] = "".join(burn)
    if status.budget_remaining is not None:
        parts[BUDGET] = t.line(BUDGET, status.budget_remaining)
    fired: dict[str, bool] = {}
    for a in status.alerts:
        fired[a.severity] = fired.get(a.severity, False) or a.firing
    parts[ALERT] = t.alerts(bool(fired.get("page")), bool(fired.get("ticket")))
    figures = status.period
    if figures is None:
        return tuple(parts)
    if figures.coverage is not None:
        parts[COVERAGE] = t.windowed(COVERAGE, figures.coverage)
    parts[EXCLUDED] = t.kept(EXCLUDED, figures.excluded_seconds, windowed=True)
    if figures.exhaustion_at is not None:
        parts[EXHAUSTION] = t.line(EXHAUSTION, figures.exhaustion_at)
    if figures.met is not None:
        parts[MET] = t.met if figures.met else t.missed
    if figures.sla is not None and figures.sla.credit_percent is not None:
        parts[SLA_CREDIT] = t.line(SLA_CREDIT,
                                   sla.credit_ratio(figures.sla.credit_percent) or 0.0)
    return tuple(parts)


#: each family's name, by index into FAMILIES
_NAMES = tuple(name for name, _ in FAMILIES)


class _SLOText:
    """The text the lines of one SLO definition share, made once per definition
    object (``_SLOTexts``): the lines whose value the definition fixes, the
    label text after a family's name (``{service="a",slo="b"} ``; every family
    without labels beyond the key shares it) and, for the labels beyond the
    key (``window``, ``result``, ``severity``), the literal pieces around
    their values, so a line is one f-string of its pieces and values.

    Lines most statuses of the definition repeat (the period's length, no
    excluded time, no alert firing) are kept and shared by the statuses'
    lines instead of made again for each. Pieces every definition has alike
    (``{result="``, ``"} ``) are interned, so a fleet holds one copy.
    """

    __slots__ = ("_kept", "alert", "down", "events", "info", "key", "met", "missed",
                 "objective", "period", "sla_objective", "slo", "up", "window")

    def __init__(self, slo: SLO) -> None:
        self.slo = slo
        #: each key label's ``name="escaped value"``
        pairs = {name: _pair(name, value) for name, value in slo_key(slo).items()}
        self.key = _pieces(pairs, ())[0]
        self.objective = self.line(OBJECTIVE, slo.objective)
        self.sla_objective = ("" if slo.sla is None else
                              self.line(SLA_OBJECTIVE, float(slo.sla.objective / 100)))
        extra = dict(zip(*_info(slo), strict=True))  # a later name wins, as in a sample
        names = tuple(sorted(extra))
        info = _pieces(pairs, names)
        self.info = _NAMES[INFO] + "".join(
            p + _escape(extra[n]) for p, n in zip(info, names, strict=False)) + (
            f"{info[-1]}{_number(1.0)}\n")
        self.up = self.line(UP, 1.0)
        self.down = self.line(UP, 0.0)
        self.period = _escape(slo.period.label)
        self.events = _named(EVENTS, _pieces(pairs, _RESULT_WINDOW))
        self.alert = _named(ALERT, _pieces(pairs, _SEVERITY))
        self.window = _pieces(pairs, _WINDOW)
        met = self.windowed(MET, None)
        self.met, self.missed = f"{met}{_number(1.0)}\n", f"{met}{_number(0.0)}\n"
        #: per family index, the last line ``kept`` made; per alert combination its lines
        self._kept: dict[int, str] = {}

    def line(self, index: int, value: float) -> str:
        """The line of a family whose series has no labels beyond the SLO's key."""
        return f"{_NAMES[index]}{self.key}{_number(value)}\n"

    def kept(self, index: int, value: float, *, windowed: bool = False) -> str:
        """``line(index, value)`` (``windowed(index, value)`` if ``windowed``), the
        same string object while the line repeats."""
        text = self.windowed(index, value) if windowed else self.line(index, value)
        last = self._kept.get(index)
        if last is not None and last == text:
            return last
        self._kept[index] = text
        return text

    def windowed(self, index: int, value: float | None) -> str:
        """The line of a family labelled with the period's window; its start without the
        number when ``value`` is None."""
        w0, w1 = self.window
        start = f"{_NAMES[index]}{w0}{self.period}{w1}"
        return start if value is None else f"{start}{_number(value)}\n"

    def alerts(self, page: bool, ticket: bool) -> str:
        """The ``slo_burn_rate_alert`` lines of both severities; kept per combination."""
        index = -(1 + 2 * page + ticket)  # negative: apart from the families' own
        text = self._kept.get(index)
        if text is None:
            a0, a1 = self.alert
            text = self._kept[index] = (f"{a0}page{a1}{'1.0' if page else '0.0'}\n"
                                        f"{a0}ticket{a1}{'1.0' if ticket else '0.0'}\n")
        return text


def _named(index: int, pieces: tuple[str, ...]) -> tuple[str, ...]:
    """``pieces`` with the family's name before the first (interned too)."""
    return (sys.intern(_NAMES[index] + pieces[0]), *pieces[1:])


def _pieces(pairs: Mapping[str, str], extra: tuple[str, ...]) -> tuple[str, ...]:
    """The literal text of a line after the family's name, before, between and after
    the values of ``extra`` labels (escaped values go between the pieces, the number
    after the last): labels sorted by name, a label of ``extra`` overriding the key's
    of the same name. ``extra`` must be in sorted order. Interned: most pieces are
    alike across definitions."""
    pieces: list[str] = []
    current = "{"
    for i, name in enumerate(sorted({*pairs, *extra})):
        current += "," if i else ""
        if name in extra:
            pieces.append(sys.intern(f'{current}{_label_name(name)}="'))
            current = '"'
        else:
            current += pairs[name]
    pieces.append(sys.intern(current + "} "))
    return tuple(pieces)


class _SLOTexts:
    """The ``_SLOText`` of each SLO definition in the current snapshot.

    Keyed by the definition's identity and holding it, so a key is never
    reused for another object while its entry lives; ``keep`` drops the
    definitions a new snapshot no longer holds, which bounds the cache by the
    snapshot's size (a reload brings new definition objects).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_slo: dict[int, _SLOText] = {}
        self._snapshot: weakref.ref[Snapshot] | None = None  # not kept alive by this

    def keep(self, snap: Snapshot) -> None:
        """Forget the definitions ``snap`` does not hold (once per snapshot)."""
        with self._lock:
            if self._snapshot is None or self._snapshot() is not snap:
                live = {id(s.slo) for s in snap.slos}
                self._by_slo = {k: v for k, v in self._by_slo.items() if k in live}
                self._snapshot = weakref.ref(snap)

    def of(self, slo: SLO) -> _SLOText:
        """The text of ``slo``, made on first use."""
        found = self._by_slo.get(id(slo))
        if found is None:  # an entry holds its SLO: no other object has that id meanwhile
            found = _SLOText(slo)
            with self._lock:
                found = self._by_slo.setdefault(id(slo), found)
        return found


_DEFAULT_ALERTING = Alerting()

_duration = functools.lru_cache(maxsize=256)(format_duration)


def _number(value: float, _low: float = -math.inf) -> str:
    """``value`` as ``generate_latest`` prints it (Go's formatting)."""
    # _low: -inf bound at definition, not looked up for each of a fleet's 600,000 samples
    if _low < value < 1e6:  # Python's text is Go's (NaN fails the test)
        return repr(float(value))
    # Go switches to exponents sooner than Python does; the library knows how
    return str(floatToGoString(value))  # type: ignore[no-untyped-call]


def _pair(name: str, value: str) -> str:
    return f'{_label_name(name)}="{_escape(value)}"'


def _header(name: str, doc: str) -> str:
    """HELP and TYPE lines of a gauge family, escaped as ``generate_latest`` does."""
    return family_header(name, doc, "gauge")


def _line(name: str, labels: Mapping[str, str], value: float) -> str:
    """One sample line: labels sorted by name, values escaped, the value as Go prints it."""
    pairs = ",".join(_pair(k, v) for k, v in sorted(labels.items()))
    return f"{name}{{{pairs}}} {_number(value)}\n"


@functools.lru_cache(maxsize=1024)
def _label_name(name: str) -> str:
    return str(openmetrics.escape_label_name(name, openmetrics.UNDERSCORES))


def _escape(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return value


class RenderedFamily(Metric):
    """A family its collector has already written in the text format.

    A collector yields one only while ``text_wanted()``: ``render_families``
    copies ``text`` (HELP and TYPE lines, then the samples) as it is, so it
    must be exactly what ``generate_latest`` would write for the family.
    """

    def __init__(self, name: str, documentation: str, typ: str, text: str) -> None:
        super().__init__(name, documentation, typ)
        self.text = text


_TEXT_MODE = threading.local()


@contextlib.contextmanager
def rendering_text() -> Iterator[None]:
    """While inside, ``text_wanted()`` is true in this thread: collectors may yield
    ``RenderedFamily`` (only ``render_families`` may consume them)."""
    _TEXT_MODE.on = True
    try:
        yield
    finally:
        _TEXT_MODE.on = False


def text_wanted() -> bool:
    """Whether the families collected now in this thread go to ``render_families``."""
    return bool(getattr(_TEXT_MODE, "on", False))


def family_header(name: str, doc: str, typ: str) -> str:
    """HELP and TYPE lines of a family as the text format names it (``name`` with the
    ``_total`` of a counter), the help escaped as ``generate_latest`` escapes it."""
    text = doc.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {text}\n# TYPE {name} {typ}\n"


def label_pairs(labels: Mapping[str, str]) -> str:
    """``a="x",b="y"``: the labels sorted by name, values escaped, as sample lines hold them."""
    return ",".join(_pair(k, v) for k, v in sorted(labels.items()))


#: ``value`` as ``generate_latest`` prints a sample value (Go's formatting)
number_text = _number


_TYPES = {"counter": "counter", "info": "gauge", "stateset": "gauge",
          "gaugehistogram": "histogram", "unknown": "untyped"}
_SUFFIXES = {"counter": "_total", "info": "_info"}
_LEGACY_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def render_families(families: Iterable[Metric]) -> bytes:
    """The text format of ``families``: byte for byte ``generate_latest``'s, faster.

    Each sample line comes from a format template per sample name and label
    names (labels sorted by name, as ``generate_latest`` sorts them). A family
    with a sample this does not handle (a timestamp, a name outside the
    classic character set) is left to ``generate_latest``.
    """
    out: list[str] = []
    for metric in families:
        if isinstance(metric, RenderedFamily):
            out.append(metric.text)
            continue
        if not all(s.timestamp is None and _LEGACY_NAME.match(s.name)
                   for s in metric.samples) or not _LEGACY_NAME.match(metric.name):
            out.append(generate_latest(_Families((metric,))).decode())
            continue
        name = metric.name + _SUFFIXES.get(metric.type, "")
        doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {doc}\n# TYPE {name} {_TYPES.get(metric.type, metric.type)}\n")
        extra: dict[str, list[str]] = {}
        for s in metric.samples:
            labels = s.labels
            line = _sample_template(s.name, tuple(labels)).format(
                *map(_escape, labels.values()), _number(s.value))
            suffix = s.name[len(metric.name):] if s.name.startswith(metric.name) else ""
            if suffix in ("_created", "_gsum", "_gcount"):
                extra.setdefault(suffix, []).append(line)
            else:
                out.append(line)
        for suffix, lines in sorted(extra.items()):
            out.append(f"# HELP {metric.name}{suffix} {doc}\n"
                       f"# TYPE {metric.name}{suffix} gauge\n")
            out.extend(lines)
    return "".join(out).encode()


@functools.lru_cache(maxsize=4096)
def _sample_template(name: str, labels: tuple[str, ...]) -> str:
    """``name{labels} value`` as a format template: ``{i}`` is the i-th label's value
    (labels sorted by name in the text), the last slot the value."""
    if not labels:
        return name + " {0}\n"
    slots = {label: i for i, label in enumerate(labels)}
    pairs = ",".join(f'{_label_name(label)}="{{{slots[label]}}}"' for label in sorted(slots))
    return f"{name}{{{{{pairs}}}}} {{{len(labels)}}}\n"


class _Families(Collector):
    """Families already collected, for ``generate_latest``."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = tuple(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def period_span(slo: SLO, at: float) -> tuple[float, float]:
    """``[start, end)`` of the SLO's period as of ``at``: the calendar period
    holding ``at``, or the rolling window ending at ``at``."""
    period = slo.period
    if isinstance(period, CalendarPeriod):
        return period.current(at)
    return at - period.seconds, at


def _sli_kind(sli: object) -> str:
    return type(sli).__name__.removesuffix("SLI").lower()


class SelfMetrics:
    """The exporter's own health: evaluation time, query errors, last success."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.evaluation_duration = Histogram(
            "slo_exporter_evaluation_duration_seconds",
            "Wall time of one evaluation cycle over all SLOs.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.query_errors = Counter(
            "slo_exporter_query_errors",
            "Failed data-source reads by reason (one SLO in one cycle each).",
            ["reason"], registry=registry,
        )
        for reason in ERROR_REASONS:
            self.query_errors.labels(reason)
        self.last_success = Gauge(
            "slo_exporter_last_successful_evaluation_timestamp_seconds",
            "When the last evaluation cycle with every SLO up finished (Unix time).",
            registry=registry,
        )
        self.reload_success = Gauge(
            "slo_exporter_config_last_reload_successful",
            "1 if the last configuration reload (SIGHUP) succeeded or none was asked, else 0.",
            registry=registry,
        )
        self.reload_success.set(1)
        self.reload_timestamp = Gauge(
            "slo_exporter_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully (Unix time).",
            registry=registry,
        )
        self.reload_timestamp.set_to_current_time()
        self.evaluations = Counter(
            "slo_exporter_evaluations", "Evaluation cycles run.", registry=registry)
        self.notifications = Counter(
            "slo_exporter_notifications",
            "Alerts posted to Alertmanager directly, by Alertmanager (URL without "
            "credentials) and result: sent, failed (after retries) or dropped (queue full).",
            ["alertmanager", "result"], registry=registry,
        )
        build = Info(
            "slo_exporter_build", "Build information; always 1.", registry=registry)
        build.info({"version": __version__, "python_version": platform.python_version()})

    def notification(self, alertmanager: str, result: str, alerts: int) -> None:
        """Count ``alerts`` alerts posted to (or dropped for) one Alertmanager."""
        self.notifications.labels(alertmanager, result).inc(alerts)

    def query_error(self, reason: str) -> None:
        self.query_errors.labels(reason if reason in ERROR_REASONS else "internal").inc()
