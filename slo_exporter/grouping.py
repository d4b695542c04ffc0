"""The groups of a grouped SLO definition: which exist, the cap, and reporting it.

A definition with ``group_by`` is read as one SLO per value set of those
labels (a group). ``Groups`` owns one definition's groups: the instance SLO
of each (the definition with ``group`` set, whose store key carries the
values), the order they were admitted in, and the cap: at most
``max_groups`` groups exist; a group seen beyond it is not created and none
of its events are stored. How many groups a read had to drop (the latest
read that found any samples: a read of nothing leaves the state) is kept for
``slo_groups_dropped`` and logged on a change of state
(``group_limit_reached``, ``group_limit_still_reached`` every
``REMIND_EVERY``, ``group_limit_cleared``), the way source outages are.

A group label named like one the exporter sets itself (``service``) is
exported as ``exported_service`` (``exported_labels``); store keys and the
API keep the series' own label names.

After a restart the groups come back from the store keys of the
definition's instances (``from_store``), so each keeps its history.

Must not read Prometheus, write events or compute windows.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from slo_exporter.model import SLO, SLOId, frozen_map
from slo_exporter.model.identity import group_text
from slo_exporter.snapshot import GroupCount

#: labels the exporter sets on its own series; a group label of one of these
#: names is exported as ``exported_<name>``, as Prometheus renames a scraped
#: label that collides with a target label (Pyrra groups by ``service``)
EXPORTER_LABELS = ("result", "service", "severity", "slo", "window")
#: a label that cannot be a group label: it splits a histogram's buckets
NOT_GROUPABLE = ("le",)

#: a lasting group limit is logged again this often
REMIND_EVERY = 600.0
#: dropped groups named in one log event, at most
EXAMPLES = 3

GroupKey = tuple[str, ...]


def exported_name(label: str) -> str:
    """The name a group label has on the exporter's series."""
    return f"exported_{label}" if label in EXPORTER_LABELS else label


def exported_labels(group: Mapping[str, str]) -> dict[str, str]:
    """A group's labels as the exporter's series and alerts carry them."""
    return {exported_name(name): value for name, value in group.items()}


def instance(slo: SLO, group: GroupKey) -> SLO:
    """The SLO of one group of ``slo``: the definition with ``group`` set."""
    return dataclasses.replace(slo, group=frozen_map(_pairs(slo, group)))


def group_of(key: str, slo: SLO) -> GroupKey | None:
    """The group of ``slo`` a store key names, or None when it names no group of it."""
    ident = SLOId.parse(key)
    if not ident.group or ident.definition != slo.id:
        return None
    values = dict(ident.group)
    if set(values) != set(slo.group_by):
        return None  # a group of an earlier group_by: retired with its history
    return tuple(values[name] for name in slo.group_by)


class Groups:
    """The groups of one grouped definition, at most ``slo.max_groups``. Thread-safe."""

    def __init__(self, slo: SLO, known: Iterable[GroupKey] = (), *, log: Any = None,
                 remind_every: float = REMIND_EVERY) -> None:
        if not slo.group_by:
            raise ValueError(f"SLO {slo.key} has no group_by")
        self.definition = slo
        self._log = log
        self._remind_every = remind_every
        self._lock = threading.Lock()
        self._instances: dict[GroupKey, SLO] = {}
        self._dropped = 0
        self._limited_since: float | None = None
        self._reminded = 0.0
        for group in sorted(set(known)):
            self.admit(group)

    @classmethod
    def from_store(cls, slo: SLO, keys: Iterable[str], *, log: Any = None) -> Groups:
        """The groups whose instance keys the store holds (the first ``max_groups``
        in sorted order when a lowered cap leaves fewer room)."""
        found = [g for g in (group_of(k, slo) for k in keys) if g is not None]
        return cls(slo, found, log=log)

    def admit(self, group: GroupKey) -> bool:
        """True for a group that exists or fits under the cap (which creates it)."""
        with self._lock:
            if group in self._instances:
                return True
            if len(self._instances) >= self.definition.max_groups:
                return False
            self._instances[group] = instance(self.definition, group)
            return True

    def instance(self, group: GroupKey) -> SLO:
        with self._lock:
            return self._instances[group]

    def instances(self) -> tuple[SLO, ...]:
        """Every group's SLO, in the order the groups were admitted."""
        with self._lock:
            return tuple(self._instances.values())

    def items(self) -> tuple[tuple[GroupKey, SLO], ...]:
        with self._lock:
            return tuple(self._instances.items())

    def count(self) -> GroupCount:
        with self._lock:
            return GroupCount(self.definition.service, self.definition.name,
                              len(self._instances), self._dropped, self.definition.max_groups)

    def note_read(self, dropped: Iterable[GroupKey], at: float) -> None:
        """Record the groups a full read had to drop, logging on a change of state."""
        over = sorted(set(dropped))
        slo = self.definition
        with self._lock:
            self._dropped = len(over)
            live = len(self._instances)
            if not over:
                since, self._limited_since = self._limited_since, None
                event = None if since is None else "group_limit_cleared"
                extra: dict[str, Any] = {} if since is None else {
                    "limited_for": round(at - since)}
            elif self._limited_since is None:
                self._limited_since = self._reminded = at
                event, extra = "group_limit_reached", {}
            elif at - self._reminded >= self._remind_every:
                self._reminded = at
                event, extra = "group_limit_still_reached", {
                    "limited_for": round(at - self._limited_since)}
            else:
                event = None
        if event is None or self._log is None:
            return
        log = self._log.info if event == "group_limit_cleared" else self._log.warning
        if over:
            extra["examples"] = [group_text(_pairs(slo, g)) for g in over[:EXAMPLES]]
        log(event, service=slo.service, slo=slo.name, groups=live,
            max_groups=slo.max_groups, dropped=len(over), **extra)


def _pairs(slo: SLO, group: GroupKey) -> Mapping[str, str]:
    return dict(zip(slo.group_by, group, strict=True))
