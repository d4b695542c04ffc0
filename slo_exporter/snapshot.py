"""Immutable results of one evaluation, read by /metrics, /api/v1/slos and /.

The evaluator builds a new ``Snapshot`` and swaps it in with one reference
assignment; readers never lock and never wait on a data source.

Also owns what pages need to find statuses without scanning them: indexes
built once per snapshot, on first use (by key, in page order, by service and
by owner), the selection of one page of them (``Selection``: ``?service=``,
``?owner=``, ``?limit=``, ``?page=``) and ``PerStatus``, a cache of what a
renderer derived from a status object, kept while the status stays in the
current snapshot. Must not read clocks, the store or anything else.
"""

from __future__ import annotations

import threading
import weakref
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO, AlertWindow

if TYPE_CHECKING:
    from slo_exporter.ingest import BackfillProgress


@dataclass(frozen=True, slots=True)
class WindowValues:
    window: float  # seconds
    good: float
    total: float
    sli: float | None  # None when total == 0: no data is not zero errors
    burn_rate: float | None

    @property
    def bad(self) -> float:
        return max(self.total - self.good, 0.0)


@dataclass(frozen=True, slots=True)
class AlertState:
    """One alert condition of an SLO at one evaluation.

    A single-window condition has ``short_window == long_window`` (its one
    window read twice). ``since``: when the condition began to hold (None
    when it does not hold); ``firing`` once it has held ``hold`` seconds.
    """

    severity: str  # "page" | "ticket"
    long_window: float
    short_window: float
    factor: float
    long_burn_rate: float | None
    short_burn_rate: float | None
    firing: bool
    hold: float = 0.0
    since: float | None = None
    #: the condition's definition (name, labels and annotations derive from it)
    window: AlertWindow | None = None

    @property
    def single(self) -> bool:
        """A single-window condition: its one window stands in for the short one."""
        return self.short_window == self.long_window


class Points(Sequence[tuple[float, float]]):
    """``(unix seconds, value)`` pairs, oldest first, packed as 16 bytes each.

    A tuple of float pairs costs about 100 bytes a point, and every SLO
    carries its budget history's ~50 points on its status; packed, the
    points cost an eighth of that. Reads as the tuple it was made from
    (indexing, iteration, equality with a tuple or list of pairs).
    """

    __slots__ = ("_values",)

    def __init__(self, pairs: Iterable[tuple[float, float]] = ()) -> None:
        self._values = array("d", [v for pair in pairs for v in pair])

    def __len__(self) -> int:
        return len(self._values) // 2

    @overload
    def __getitem__(self, index: int) -> tuple[float, float]: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[tuple[float, float], ...]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        i = range(len(self))[index]  # negative indexes, IndexError past the end
        return self._values[2 * i], self._values[2 * i + 1]

    def __iter__(self) -> Iterator[tuple[float, float]]:
        values = iter(self._values)
        return zip(values, values, strict=True)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Points):
            return self._values == other._values
        if isinstance(other, tuple | list):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Points({tuple(self)!r})"


_NO_POINTS = Points()


@dataclass(frozen=True, slots=True)
class BudgetHistory:
    """Remaining error budget at past instants, computed once per status.

    ``past`` holds points on a grid of ``step`` seconds ending at
    ``grid_end`` and starting after ``first`` (the oldest stored bucket);
    all three are kept so a later status can reuse the past points while
    the grid has not moved. ``latest`` is the point at the instant the
    status describes, never later. Any sequence of pairs given as ``past``
    is kept packed (``Points``); a ``Points`` is kept as it is, so a status
    that reuses the previous past points shares them.
    """

    past: Sequence[tuple[float, float]] = _NO_POINTS
    latest: tuple[float, float] | None = None
    grid_end: float | None = None
    first: float | None = None
    step: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.past, Points):
            object.__setattr__(self, "past", Points(self.past) if self.past else _NO_POINTS)

    @property
    def points(self) -> tuple[tuple[float, float], ...]:
        """``(unix seconds, remaining)`` pairs, oldest first."""
        return tuple(self.past) if self.latest is None else (*self.past, self.latest)


@dataclass(frozen=True, slots=True, weakref_slot=True)
class SLOStatus:
    slo: SLO
    windows: tuple[WindowValues, ...] = ()
    budget_remaining: float | None = None
    alerts: tuple[AlertState, ...] = ()
    up: bool = False  # the data source answered at the last evaluation
    evaluated_at: float | None = None  # the instant the values describe
    error: str | None = None  # last error, for humans
    budget_history: BudgetHistory = BudgetHistory()
    #: the current period to date (calendar or rolling), with coverage,
    #: exclusions, forecast and SLA outcome; None until computed
    period: PeriodFigures | None = None

    def window(self, seconds: float) -> WindowValues | None:
        for w in self.windows:
            if w.window == seconds:
                return w
        return None


@dataclass(frozen=True, slots=True)
class GroupCount:
    """One grouped SLO definition's groups as its latest read left them."""

    service: str
    slo: str
    live: int
    dropped: int
    max_groups: int


#: the ``slo_info`` label (from the SLO's or its service's labels) ``?owner=`` matches
OWNER_LABEL = "owner"


@dataclass(frozen=True)
class Snapshot:
    slos: tuple[SLOStatus, ...] = ()
    taken_at: float = 0.0
    #: True once the first full evaluation has finished
    complete: bool = False
    #: each grouped SLO definition's live and dropped groups
    groups: tuple[GroupCount, ...] = ()
    #: the backfill running (a cold start), None when none is
    backfill: BackfillProgress | None = None

    # The indexes below are built once per snapshot, by the first reader that
    # needs one (a snapshot never changes, so they never go stale). Two
    # readers racing build the same value twice; either result is right.

    @cached_property
    def by_key(self) -> Mapping[str, SLOStatus]:
        """Each status by its SLO key (``service/slo``, a group's with its labels)."""
        return {status.slo.key: status for status in self.slos}

    @cached_property
    def positions(self) -> Mapping[str, int]:
        """Where the status of each SLO key is in ``slos``."""
        return {status.slo.key: i for i, status in enumerate(self.slos)}

    def merged(
        self, fresh: Mapping[str, SLOStatus], keep: Callable[[SLOStatus, SLOStatus], SLOStatus],
        *, taken_at: float, complete: bool, groups: tuple[GroupCount, ...],
    ) -> Snapshot:
        """A new snapshot with ``keep(old, new)`` in place of each status that ``fresh``
        has a new one for, and the statuses of keys not held yet after every other,
        in the order of ``fresh``.

        Its cost grows with ``fresh``, not with the snapshot: the statuses are
        copied as one tuple and the key positions carried over (a fast path
        second changes a few statuses among thousands).
        """
        slos = list(self.slos)
        positions = self.positions
        joined: list[SLOStatus] = []
        for key, status in fresh.items():
            i = positions.get(key)
            if i is None:
                joined.append(status)
            else:
                slos[i] = keep(slos[i], status)
        snapshot = Snapshot(slos=(*slos, *joined), taken_at=taken_at, complete=complete,
                            groups=groups)
        if not joined:  # the same keys at the same places
            snapshot.__dict__["positions"] = positions
        known = self.__dict__.get("by_key")
        if known is not None:  # a copy at C speed, then the few changed
            by_key = dict(known)
            for key in fresh:
                i = positions.get(key)
                by_key[key] = slos[i] if i is not None else fresh[key]
            snapshot.__dict__["by_key"] = by_key
        return snapshot

    @cached_property
    def ordered(self) -> tuple[SLOStatus, ...]:
        """Every status by service, SLO name, then group: a definition's groups together."""
        return tuple(sorted(self.slos, key=lambda s: s.slo.id))

    @cached_property
    def by_service(self) -> Mapping[str, tuple[SLOStatus, ...]]:
        """The statuses of each service, in ``ordered`` order."""
        return _index(self.ordered, lambda s: s.slo.service)

    @cached_property
    def by_owner(self) -> Mapping[str, tuple[SLOStatus, ...]]:
        """The statuses of each ``owner`` label value, in ``ordered`` order."""
        return _index(self.ordered, lambda s: s.slo.labels.get(OWNER_LABEL))

    def status(self, key: str) -> SLOStatus | None:
        """The status of the SLO with this key, if the snapshot holds one."""
        return self.by_key.get(key)

    def matching(self, service: str | None = None,
                 owner: str | None = None) -> tuple[SLOStatus, ...]:
        """The statuses of ``service`` and ``owner`` (None: any), in ``ordered`` order."""
        if service is None and owner is None:
            return self.ordered
        if owner is None:
            return self.by_service.get(service or "", ())
        owned = self.by_owner.get(owner, ())
        if service is None:
            return owned
        mine = {id(s) for s in owned}
        return tuple(s for s in self.by_service.get(service, ()) if id(s) in mine)


def _index(statuses: Sequence[SLOStatus],
           key: Callable[[SLOStatus], str | None]) -> dict[str, tuple[SLOStatus, ...]]:
    lists: dict[str, list[SLOStatus]] = {}
    for status in statuses:
        value = key(status)
        if value is not None:
            lists.setdefault(value, []).append(status)
    return {value: tuple(members) for value, members in lists.items()}


#: rows one page shows unless ``?limit=`` says otherwise; covers typical configs whole
DEFAULT_LIMIT = 500
#: the most rows one page may show (``?limit=`` above it is refused)
MAX_LIMIT = 2000
#: the longest ``?service=`` / ``?owner=`` value accepted
MAX_VALUE_CHARS = 200


class SelectionError(ValueError):
    """A query parameter that does not select anything sensible; the page answers 400."""


@dataclass(frozen=True)
class Selection:
    """Which statuses a page shows: a filter, then one page of the matches."""

    service: str | None = None
    owner: str | None = None
    limit: int = DEFAULT_LIMIT
    page: int = 1  # 1-based

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> Selection:
        """``?service=``, ``?owner=``, ``?limit=`` and ``?page=``; SelectionError if bad.

        Other parameters are left to the page (``?sort=``). An empty filter
        value means no filter.
        """
        values: dict[str, str | None] = {}
        for name in ("service", "owner"):
            value = query.get(name) or None
            if value is not None and len(value) > MAX_VALUE_CHARS:
                raise SelectionError(f"{name} must be at most {MAX_VALUE_CHARS} characters")
            values[name] = value
        limit = _whole(query, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        page = _whole(query, "page", 1, None)
        return cls(values["service"], values["owner"], limit, page)

    def of(self, snap: Snapshot) -> Page:
        """This selection of ``snap``'s statuses, in page order."""
        return self.apply(snap.matching(self.service, self.owner))

    def apply(self, matches: Sequence[SLOStatus]) -> Page:
        """This page of ``matches`` (already filtered and in the order shown)."""
        start = (self.page - 1) * self.limit
        return Page(tuple(matches[start:start + self.limit]), len(matches), self)

    def query(self, **changes: int | str | None) -> dict[str, str]:
        """The query parameters that ask for this selection with ``changes``, defaults left out."""
        params: dict[str, int | str | None] = {
            "service": self.service, "owner": self.owner,
            "limit": self.limit if self.limit != DEFAULT_LIMIT else None,
            "page": self.page if self.page != 1 else None,
        }
        params.update(changes)
        defaults: dict[str, object] = {"limit": DEFAULT_LIMIT, "page": 1}
        return {name: str(value) for name, value in params.items()
                if value is not None and value != defaults.get(name)}


def _whole(query: Mapping[str, str], name: str, default: int, most: int | None) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise SelectionError(f"{name} must be a whole number from 1"
                             + (f" to {most}" if most else "") + f", got {text[:20]!r}")
    value = int(text)
    if value < 1 or (most is not None and value > most):
        raise SelectionError(f"{name} must be from 1" + (f" to {most}" if most else "")
                             + f", got {value}")
    return value


@dataclass(frozen=True)
class Page:
    """The statuses one page shows, out of ``total`` matching the selection's filter."""

    rows: tuple[SLOStatus, ...]
    total: int
    selection: Selection = field(default_factory=Selection)

    @property
    def pages(self) -> int:
        """Pages the matches fill (at least 1, so an empty fleet is one empty page)."""
        return max(1, -(-self.total // self.selection.limit))

    @property
    def first(self) -> int:
        """The 1-based position of the first row shown; 0 when none is."""
        return (self.selection.page - 1) * self.selection.limit + 1 if self.rows else 0

    @property
    def whole(self) -> bool:
        """Every match is shown: nothing to page through."""
        return len(self.rows) == self.total


_T = TypeVar("_T")


class PerStatus(Generic[_T]):
    """What ``derive`` made of each status object, kept while it is in the current snapshot.

    The engine carries a status that did not change into the next snapshot
    as the same object, so a renderer pays only for the statuses that did.
    Entries are keyed by object identity and hold a weak reference to the
    status, checked on each read, so a key another object reuses never
    answers for it; at each new snapshot the entries of statuses it no
    longer holds are dropped, which bounds the cache by the snapshot's size.
    Neither the snapshot nor its statuses are held: a page read once does
    not keep that snapshot's statuses alive until the next read. ``most``
    bounds the cache further, for what is large and read a page at a time:
    past that many entries, what is derived is returned but not kept.
    """

    def __init__(self, derive: Callable[[SLOStatus], _T], *, most: int | None = None) -> None:
        self._derive = derive
        self._most = most
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[weakref.ref[SLOStatus], _T]] = {}
        self._snapshot: weakref.ref[Snapshot] | None = None

    def all(self, snap: Snapshot, statuses: Sequence[SLOStatus]) -> list[_T]:
        """``derive(s)`` for each of ``statuses`` (all from ``snap``), in order."""
        with self._lock:
            if self._snapshot is None or self._snapshot() is not snap:
                live = {id(s) for s in snap.slos}
                self._entries = {k: v for k, v in self._entries.items()
                                 if k in live and v[0]() is not None}
                self._snapshot = weakref.ref(snap)
            entries = self._entries
        out: list[_T] = []
        made: dict[int, tuple[weakref.ref[SLOStatus], _T]] = {}
        for status in statuses:
            entry = entries.get(id(status))
            if entry is None or entry[0]() is not status:
                entry = made[id(status)] = (weakref.ref(status), self._derive(status))
            out.append(entry[1])
        if made:
            with self._lock:
                if self._snapshot() is snap:
                    room = (len(made) if self._most is None
                            else max(self._most - len(self._entries), 0))
                    if room >= len(made):
                        self._entries.update(made)
                    elif room:
                        self._entries.update(list(made.items())[:room])
        return out
