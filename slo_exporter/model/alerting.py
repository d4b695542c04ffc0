"""Multiwindow, multi-burn-rate alert windows (Google SRE workbook).

Owns the alert window value type, the default catalogue, and an SLO's own
alert settings (a window catalogue of its own, and per severity the alert
name, labels and annotations, or no alert at all) that Sloth, Pyrra and
OpenSLO specs carry. A window's burn-rate threshold is one line
(``AlertWindow.threshold``); everything else is in ``slomath``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class AlertWindow:
    """One alert condition: the burn rate over ``long`` (and over ``short``,
    when given) is above a threshold, for at least ``hold`` seconds.

    The threshold is either the burn rate that spends ``budget_fraction`` of
    the budget within ``long`` (so it scales with the period's length), or a
    fixed ``factor`` (OpenSLO burn-rate conditions); exactly one is given.
    ``short`` None is a single-window condition. ``hold`` is a rule's
    ``for:`` (OpenSLO ``alertAfter``).
    """

    severity: str
    long: float
    short: float | None
    budget_fraction: float | None = None
    factor: float | None = None
    hold: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 < self.long < math.inf):
            raise ValueError(f"alert window: long must be positive, got {self.long!r}")
        if self.short is not None and not 0.0 < self.short < self.long:
            raise ValueError(
                f"alert window: short ({self.short!r}) must be positive and "
                f"shorter than long ({self.long!r})")
        if (self.budget_fraction is None) == (self.factor is None):
            raise ValueError(
                "alert window: give exactly one of budget_fraction and factor")
        if self.budget_fraction is not None and not 0.0 < self.budget_fraction <= 1.0:
            raise ValueError(
                f"alert window: budget fraction must be in (0, 1], got {self.budget_fraction!r}")
        if self.factor is not None and not 0.0 < self.factor < math.inf:
            raise ValueError(f"alert window: factor must be positive, got {self.factor!r}")
        if not 0.0 <= self.hold < math.inf:
            raise ValueError(f"alert window: hold must be zero or positive, got {self.hold!r}")

    def threshold(self, length: float) -> float:
        """The burn-rate threshold in a period of ``length`` seconds.

        A fixed ``factor`` as given; else ``budget_fraction * length / long``
        (14.4 for 2% within 1h of 30 days).
        """
        if self.factor is not None:
            return self.factor
        assert self.budget_fraction is not None
        return self.budget_fraction * length / self.long

    @property
    def short_or_long(self) -> float:
        """The short window, or the long one for a single-window condition
        (which reads its one window as both)."""
        return self.long if self.short is None else self.short

    @property
    def windows(self) -> tuple[float, ...]:
        """The windows whose burn rates the condition reads: long, then short if any."""
        return (self.long,) if self.short is None else (self.long, self.short)

    @property
    def key(self) -> tuple[str, float, float | None]:
        """What tells two conditions of one SLO apart: severity and windows."""
        return (self.severity, self.long, self.short)


#: Default alert windows, from the SRE workbook (see PRODUCT.md).
ALERT_WINDOWS: tuple[AlertWindow, ...] = (
    AlertWindow("page", 3600.0, 300.0, 0.02),
    AlertWindow("page", 6 * 3600.0, 1800.0, 0.05),
    AlertWindow("ticket", 86400.0, 2 * 3600.0, 0.10),
    AlertWindow("ticket", 3 * 86400.0, 6 * 3600.0, 0.10),
)


#: the one empty read-only map every setting without labels or annotations shares
_EMPTY: Mapping[str, str] = MappingProxyType({})


def _frozen(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted(items.items()))) if items else _EMPTY


@dataclass(frozen=True)
class AlertSettings:
    """What the alerts of one severity of an SLO are called and carry.

    ``labels`` are added to (and override) the alert's own labels, so
    ``severity`` may be renamed for routing; ``annotations`` likewise.
    ``disabled``: the condition is still evaluated and exported
    (``slo_burn_rate_alert``), but no rule is generated and nothing is sent.
    """

    name: str | None = None  # None: SLOBurnRatePage / SLOBurnRateTicket
    labels: Mapping[str, str] = field(default_factory=_frozen)
    annotations: Mapping[str, str] = field(default_factory=_frozen)
    disabled: bool = False


SEVERITIES: tuple[str, ...] = ("page", "ticket")


@dataclass(frozen=True)
class Alerting:
    """An SLO's alerting: its window catalogue and per-severity settings."""

    windows: tuple[AlertWindow, ...] = ALERT_WINDOWS
    page: AlertSettings = field(default_factory=AlertSettings)
    ticket: AlertSettings = field(default_factory=AlertSettings)

    def settings(self, severity: str) -> AlertSettings:
        """The settings of ``page`` or ``ticket``."""
        return self.page if severity == "page" else self.ticket

    @property
    def default(self) -> bool:
        """True when nothing differs from the built-in alerts (the generic rules serve it)."""
        return self is DEFAULT_ALERTING or self == DEFAULT_ALERTING

    def shared(self) -> Alerting:
        """``DEFAULT_ALERTING`` when this equals it, else this: the SLOs of a fleet with
        the built-in alerts hold one object, not one each (about 750 bytes)."""
        return DEFAULT_ALERTING if self.default else self


#: the built-in alerting, shared by every SLO that changes nothing of it
DEFAULT_ALERTING = Alerting()
