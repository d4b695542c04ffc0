"""Shared raw-sample reads: one Prometheus query per metric for the SLOs reading it.

Owns the step between the read plans of many SLOs and Prometheus: every
plain selector that SLOs of at least two definitions read over the same
metric, up to the same instant (on the fast path, of one definition too, so
its selectors of one metric cost one query), is answered from one raw-sample
query of a selector covering them all (``matchers.covering``), over the union of
their spans. ``SharedReads`` then stands in for the client
(``accounting.Source``): a read of a covered selector gets exactly the
series and samples its own query would have returned (each series is
matched locally with ``matchers``, each sample kept only inside the read's
own span), so accounting counts what it counts today, per SLO, with its
own series state. A read it cannot answer so (not covered, wider than the
shared span, a regex ``matchers`` refuses or finds ambiguous) goes to
Prometheus on its own, as before. A shared query too large even after
``accounting``'s halving leaves its selectors to their own queries; any
other failure is given to each read of those selectors, so every SLO fails
with the same error it would have met, without asking again.

Must not count events, touch the store or decide spans: ``ingest`` says
which selectors are read from where, ``accounting`` counts.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from slo_exporter import accounting, errors, matchers
from slo_exporter.prometheus import Series, label_text

#: the longest span one shared query covers by default (the engine widens it
#: to two evaluation intervals plus the late limit); a read reaching back
#: further (a long gap, an SLO far behind) asks on its own
MAX_SHARED_SPAN = 900.0
#: parsed selectors kept between cycles
PARSE_CACHE = 65536

Mapper = Callable[[Callable[["_Query"], "_Answer"], Sequence["_Query"]], Iterable["_Answer"]]


class Need(NamedTuple):
    """One raw-sample read a definition (``owner``) is about to make: ``(lo, hi]``.

    A named tuple, not a dataclass: a cycle plans one per SLO and selector, and
    a tuple is made several times faster."""

    owner: str
    selector: str
    lo: float
    hi: float


@dataclass(frozen=True)
class _Query:
    covering: str
    lo: float
    hi: float
    selectors: tuple[str, ...]


@dataclass
class _Answer:
    """One shared query's series (pieces merged per series, in time order) or its failure."""

    query: _Query
    series: list[Series] = field(default_factory=list)
    error: errors.SourceError | None = None
    #: matched series per selector, and per metric and tuple of equality label names
    #: the series by their name and values of those labels, filled on first use
    matched: dict[str, list[Series]] = field(default_factory=dict)
    index: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], list[Series]]] = field(
        default_factory=dict)
    #: the selectors ``matchers`` finds ambiguous on a series of the answer
    ambiguous: dict[str, matchers.Ambiguous] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        #: the shared span in milliseconds, as reads compare it
        self.lo_ms, self.hi_ms = round(self.query.lo * 1000), round(self.query.hi * 1000)


@functools.lru_cache(maxsize=PARSE_CACHE)
def _parsed(text: str) -> matchers.Selector | str:
    """``text`` parsed, or the reason it is not shared."""
    try:
        return matchers.parse(text)
    except matchers.Unsupported as exc:
        return str(exc)


def metric_of(selector: str) -> str | None:
    """The metric ``selector``'s shared query asks for, or None when it is read on its own."""
    parsed = _parsed(selector)
    return None if isinstance(parsed, str) else parsed.metric


class Sharing:
    """Plans shared reads; lives as long as the ingester (remembers what it has logged)."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def read(self, client: accounting.Source, needs: Sequence[Need],
             mapper: Mapper | None = None, *,
             max_span: float = MAX_SHARED_SPAN, lone: bool = False) -> SharedReads:
        """Ask Prometheus once per shared metric and return the stand-in client.

        Needs spanning more than ``max_span`` seconds are left to their own reads.
        A metric only one definition reads is shared too with ``lone`` (the fast
        path: its selectors of one metric then cost one query, and the answer
        lets a read that finds nothing new skip counting).
        """
        by_metric: dict[tuple[str, float], list[tuple[Need, matchers.Selector]]] = {}
        for need in needs:
            if need.hi - need.lo > max_span or need.hi <= need.lo:
                continue
            parsed = _parsed(need.selector)
            if isinstance(parsed, str):
                self.tell(need.selector, parsed)
                continue
            by_metric.setdefault((parsed.metric, need.hi), []).append((need, parsed))
        queries: list[_Query] = []
        for (_, hi), found in sorted(by_metric.items()):
            if not lone and len({need.owner for need, _ in found}) < 2:
                continue  # a full read of one definition asks per selector anyway
            distinct = {need.selector: sel for need, sel in found}
            queries.append(_Query(
                covering=_covering(tuple(sorted(distinct))),
                lo=min(need.lo for need, _ in found), hi=hi,
                selectors=tuple(sorted(distinct))))
        run = mapper or map
        answers = list(run(functools.partial(_ask, client), queries))
        return SharedReads(client, answers, self.tell)

    def tell(self, selector: str, reason: str) -> None:
        """Log once per selector that it is read on its own, and why."""
        with self._lock:
            if selector in self._told:
                return
            self._told.add(selector)
        self._log.info("read_not_shared", selector=selector, reason=reason)


def _ask(client: accounting.Source, query: _Query) -> _Answer:
    """The covering selector's raw samples over the shared span, halved while too large."""
    answer = _Answer(query)
    try:
        pieces = list(accounting._raw_pieces(client, query.covering, query.lo, query.hi))
    except errors.SourceError as exc:
        if isinstance(exc, errors.QueryError) and accounting._too_large(exc):
            # each selector then asks on its own
            return _Answer(_Query(query.covering, query.lo, query.hi, ()))
        answer.error = exc
        return answer
    # each series' key text made once here, not once per SLO reading it
    if len(pieces) == 1:  # one answer holds each series once
        answer.series = [Series(s.labels, s.samples, label_text(s.labels)) for s in pieces[0]]
    else:
        merged: dict[tuple[tuple[str, str], ...],
                     tuple[Mapping[str, str], list[accounting.Sample]]] = {}
        for piece in pieces:
            for series in piece:
                key = tuple(sorted(series.labels.items()))
                merged.setdefault(key, (series.labels, []))[1].extend(series.samples)
        answer.series = [Series(labels, tuple(samples), label_text(labels))
                         for labels, samples in merged.values()]
    # Every selector matched here, before any read: the reads (of many SLOs, on many
    # threads) then only look their series up, never waiting on the answer's lock.
    for selector in query.selectors:
        try:
            _matched(answer, selector)
        except matchers.Ambiguous as exc:
            answer.ambiguous[selector] = exc
    return answer


class SharedReads(accounting.SourceProxy):
    """An ``accounting.Source`` answering covered raw-sample reads from shared answers.

    Every other call goes to the client. Thread-safe: reads of many SLOs use
    it at once.
    """

    def __init__(self, client: accounting.Source, answers: Sequence[_Answer],
                 tell: Callable[[str, str], None]) -> None:
        super().__init__(client)
        self._tell = tell
        self._by_selector = {s: a for a in answers for s in a.query.selectors}
        #: shared queries asked (for logs and tests)
        self.queries = len(answers)

    def answered(self, selector: str, start: float, end: float) -> list[Series] | None:
        """What ``raw_samples`` returns when a shared answer gives it (no error, a
        match that is not ambiguous), else None: then only ``raw_samples`` reads it."""
        answer = self._by_selector.get(selector)
        start_ms, end_ms = round(start * 1000), round(end * 1000)
        if (answer is None or start_ms < answer.lo_ms or end_ms > answer.hi_ms
                or answer.error is not None):
            return None
        series = answer.matched.get(selector)
        if series is None:
            return None
        return _within(series, start_ms, end_ms)

    def raw_samples(self, selector: str, start: float, end: float) -> list[Series]:
        """The series of ``selector`` with their samples in ``(start, end]``: from the
        shared answer when it covers the read, from Prometheus otherwise."""
        answer = self._by_selector.get(selector)
        start_ms, end_ms = round(start * 1000), round(end * 1000)
        if answer is None or start_ms < answer.lo_ms or end_ms > answer.hi_ms:
            return self._source.raw_samples(selector, start, end)
        if answer.error is not None:
            raise answer.error
        # matched when the answer was made (a dict's get needs no lock); else now
        series = answer.matched.get(selector)
        if series is None:
            ambiguous = answer.ambiguous.get(selector)
            try:
                if ambiguous is None:
                    series = _matched(answer, selector)
            except matchers.Ambiguous as exc:
                ambiguous = exc
            if ambiguous is not None or series is None:
                self._tell(selector, f"ambiguous match {ambiguous}")
                return self._source.raw_samples(selector, start, end)
        return _within(series, start_ms, end_ms)


def _within(series: Sequence[Series], start_ms: int, end_ms: int) -> list[Series]:
    """``series`` with their samples in ``(start_ms, end_ms]``; those without any left out."""
    if end_ms <= start_ms:
        return []
    out: list[Series] = []
    for found in series:
        samples = found.samples
        if (samples and round(samples[0][0] * 1000) > start_ms
                and round(samples[-1][0] * 1000) <= end_ms):
            out.append(found)  # the usual steady read: all of it
            continue
        first = bisect.bisect_right(samples, start_ms, key=_ms)
        last = bisect.bisect_right(samples, end_ms, key=_ms)
        if first < last:
            out.append(found if first == 0 and last == len(samples)
                       else Series(found.labels, samples[first:last], found.text))
    return out


def _ms(sample: accounting.Sample) -> int:
    return round(sample[0] * 1000)


@dataclass(frozen=True)
class _Test:
    """How the series of an answer are tested against one parsed selector, in the
    order Prometheus' result does not depend on: the metric name, every equality
    at once (one tuple comparison, or one look-up in the answer's index), then
    each other matcher. An equality that fails leaves a series out whatever a
    regex says, so a regex that would be ambiguous on it is not asked."""

    metric: str
    #: the names of the equalities (``=``), the answer's index, and their values
    names: tuple[str, ...]
    values: tuple[str, ...]
    others: tuple[matchers.Matcher, ...]
    #: the series' key in the answer's index: the metric name and ``values``
    key: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """``matchers.Selector.matches``; raises ``matchers.Ambiguous`` as it does."""
        if tuple(map(labels.get, self.names, itertools.repeat(""))) != self.values:
            return False
        if labels.get("__name__", self.metric) != self.metric:
            return False
        return all(m.matches(labels) for m in self.others)


@functools.lru_cache(maxsize=PARSE_CACHE)
def _test(text: str) -> _Test:
    """The test of a parsed (shared) selector ``text``."""
    parsed = _parsed(text)
    assert not isinstance(parsed, str)  # only parsed selectors are covered
    equal = sorted((m.name, m.value) for m in parsed.matchers if m.op == "=")
    values = tuple(v for _, v in equal)
    return _Test(parsed.metric, tuple(n for n, _ in equal), values,
                 tuple(m for m in parsed.matchers if m.op != "="), (parsed.metric, *values))


@functools.lru_cache(maxsize=1024)
def _covering(selectors: tuple[str, ...]) -> str:
    """``matchers.covering`` of parsed selectors (the same ones every cycle)."""
    parsed = [_parsed(text) for text in selectors]
    return matchers.covering([p for p in parsed if not isinstance(p, str)])


def _matched(answer: _Answer, selector: str) -> list[Series]:
    """The answer's series that ``selector`` selects (computed once per answer).

    The series whose name (or none) and equalities are the selector's are
    looked up at once, in the answer's order: the answer is indexed by the
    name and the values of each set of equality names asked about, on first
    use. Only the other matchers are then asked, series by series.
    """
    with answer.lock:
        found = answer.matched.get(selector)
        if found is not None:
            return found
        test = _test(selector)
        index = answer.index.get((test.metric, test.names))
        if index is None:
            index = answer.index[test.metric, test.names] = {}
            metric, names, blank = test.metric, test.names, itertools.repeat("")
            for series in answer.series:
                labels = series.labels
                key = (labels.get("__name__", metric), *map(labels.get, names, blank))
                index.setdefault(key, []).append(series)
        found = index.get(test.key, [])
        if test.others:
            found = [s for s in found if all(m.matches(s.labels) for m in test.others)]
        answer.matched[selector] = found
        return found
