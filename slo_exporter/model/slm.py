"""The service-level management part of the model: budgeting, composites, maintenance.

Owns the frozen objects the config package builds from ``budgeting:``,
``sli: {composite: ...}`` and the top-level ``maintenance:`` list. The SLA
block is :class:`slo_exporter.sla.SLA`, which lives beside its credit math.

Must not parse YAML, read files or clocks, or expand recurring windows into
spans (that is ``slo_exporter.exclusions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from slo_exporter.model.identity import SLOId

EmptySlices = Literal["skip", "good", "bad"]
CompositeMode = Literal["all_good", "weighted"]
BudgetingMethod = Literal["occurrences", "timeslices", "ratio_timeslices"]


@dataclass(frozen=True)
class Timeslices:
    """Uptime-style budgeting: a slice is good when good/total >= ``target``."""

    slice: float  # seconds, a positive multiple of the storage resolution
    target: Decimal  # a ratio in (0, 1], as written (95 % is Decimal("0.95"))
    empty: EmptySlices = "skip"


@dataclass(frozen=True)
class RatioTimeslices:
    """OpenSLO ``RatioTimeslices``: the SLI is the mean of each slice's good/total.

    Slices without events are skipped; the budget spent is the slices'
    shortfalls, ``sum(1 - ratio)``, over ``1 - objective`` of the period's
    slices.
    """

    slice: float  # seconds, a positive multiple of the storage resolution


@dataclass(frozen=True)
class Budgeting:
    """How the budget is counted: events (the default), timeslices or ratio timeslices."""

    timeslices: Timeslices | None = None
    ratio_timeslices: RatioTimeslices | None = None

    def __post_init__(self) -> None:
        if self.timeslices is not None and self.ratio_timeslices is not None:
            raise ValueError("budgeting is either timeslices or ratio timeslices, not both")

    @property
    def method(self) -> BudgetingMethod:
        if self.ratio_timeslices is not None:
            return "ratio_timeslices"
        return "occurrences" if self.timeslices is None else "timeslices"

    @property
    def slice(self) -> float | None:
        """The slice length of either timeslice method; None for occurrences."""
        if self.ratio_timeslices is not None:
            return self.ratio_timeslices.slice
        return None if self.timeslices is None else self.timeslices.slice


@dataclass(frozen=True)
class CompositeComponent:
    slo: SLOId  # may belong to another service, a vendor's among them
    weight: float = 1.0


@dataclass(frozen=True)
class CompositeSLI:
    """A business service's SLI built from component SLOs.

    ``all_good``: a slice is bad when any component's slice is bad.
    ``weighted``: sum(weight * SLI) / sum(weight) over the span.
    """

    mode: CompositeMode
    components: tuple[CompositeComponent, ...]


@dataclass(frozen=True)
class MaintenanceWindow:
    """A one-off (``end``) or recurring (``duration`` + ``rrule``) excluded span.

    ``start`` and ``end`` are aware datetimes in ``time_zone`` (wall clock);
    ``duration`` is elapsed seconds. Empty ``services`` and ``slos`` mean
    every SLO; ``slos`` narrows to those SLOs.
    """

    name: str
    start: datetime
    time_zone: str = "UTC"
    end: datetime | None = None
    duration: float | None = None
    rrule: str | None = None
    services: tuple[str, ...] = ()
    slos: tuple[SLOId, ...] = ()
    reason: str = ""

    @property
    def recurring(self) -> bool:
        return self.rrule is not None

    def applies_to(self, slo: SLOId) -> bool:
        """Whether this window excludes time from ``slo``."""
        if self.slos:
            return slo in self.slos
        return not self.services or slo.service in self.services
