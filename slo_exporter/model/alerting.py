"""Multiwindow, multi-burn-rate alert windows (Google SRE workbook).

Owns the alert window value type, the default catalogue, and an SLO's own
alert settings (a window catalogue of its own, and per severity the alert
name, labels and annotations, or no alert at all) that Sloth, Pyrra and
OpenSLO specs carry. The factor of a
window is computed by ``slomath.alert_factor``; this module must not do math.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class AlertWindow:
    """A condition fires when both windows burn faster than the factor that
    spends ``budget_fraction`` of the budget within ``long`` seconds."""

    severity: str
    long: float
    short: float
    budget_fraction: float

    def __post_init__(self) -> None:
        if not 0.0 < self.short < self.long:
            raise ValueError(
                f"alert window: short ({self.short!r}) must be positive and "
                f"shorter than long ({self.long!r})")
        if not 0.0 < self.budget_fraction <= 1.0:
            raise ValueError(
                f"alert window: budget fraction must be in (0, 1], got {self.budget_fraction!r}")


#: Default alert windows, from the SRE workbook (see PRODUCT.md).
ALERT_WINDOWS: tuple[AlertWindow, ...] = (
    AlertWindow("page", 3600.0, 300.0, 0.02),
    AlertWindow("page", 6 * 3600.0, 1800.0, 0.05),
    AlertWindow("ticket", 86400.0, 2 * 3600.0, 0.10),
    AlertWindow("ticket", 3 * 86400.0, 6 * 3600.0, 0.10),
)


def _frozen(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted((items or {}).items())))


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
        return self == Alerting()
