"""Multiwindow, multi-burn-rate alert windows (Google SRE workbook).

Owns the alert window value type and the default catalogue. The factor of a
window is computed by ``slomath.alert_factor``; this module must not do math.
"""

from __future__ import annotations

from dataclasses import dataclass


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
