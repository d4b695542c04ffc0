"""SLA commitments and service credits: exact decimal percentages, credit tiers, presets.

Owns what an SLA commits to (a level in percent, the SLA period, whether
scheduled maintenance counts as downtime) and the credit table that says
what a miss costs, plus the published tables of some cloud providers.

All percentages are ``decimal.Decimal``: contracts are written in decimal,
and "99.0000 % is not below 99.0" must hold exactly, which binary floats
cannot promise. A measured level enters through :func:`percent_from_counts`
(exact) or :func:`percent_from_ratio` (from a float ratio), which both cut
it to :data:`PERCENT_PLACES` decimal places rounding *down*.

It must not read a clock, do I/O or know about periods, stores or config
files: levels go in, credits come out. Mapping YAML onto these classes
(and turning a ``ValueError`` into a located config error) is the config
package's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Literal, get_args

SLAPeriod = Literal["week", "month", "quarter"]
MaintenancePolicy = Literal["excluded", "counted"]

PERCENT_PLACES = 4
"""Decimal places a measured level keeps: 99.99995 % is compared as 99.9999 %.

Four places resolve one bad minute in about two years of minutes, finer
than any published tier (the finest is 99.999), and match what a report
shows, so the credit a reader works out from the report is the credit given.
"""

_QUANTUM = Decimal(1).scaleb(-PERCENT_PLACES)
_HUNDRED = Decimal(100)


def _percent(value: object, what: str) -> Decimal:
    # A float here would already have lost the contract's digits (99.9 is
    # 99.900000000000005684...), so callers must say what they mean.
    if not isinstance(value, Decimal):
        raise ValueError(
            f"{what} must be a decimal.Decimal percentage such as Decimal('99.9'), "
            f"got {value!r} ({type(value).__name__})"
        )
    if not value.is_finite():
        raise ValueError(f"{what} must be a finite percentage, got {value!r}")
    return value


@dataclass(frozen=True)
class CreditTier:
    """One row of a credit table: ``credit`` percent is due when the level is under ``below``."""

    below: Decimal
    credit: Decimal

    def __post_init__(self) -> None:
        below = _percent(self.below, "credit tier 'below'")
        credit = _percent(self.credit, "credit tier 'credit'")
        if not Decimal(0) < below <= _HUNDRED:
            raise ValueError(f"credit tier 'below' must be in (0, 100], got {below}")
        if not Decimal(0) <= credit <= _HUNDRED:
            raise ValueError(f"credit tier 'credit' must be in [0, 100], got {credit}")


@dataclass(frozen=True)
class SLA:
    """A committed level with its credit table.

    ``tiers`` are ordered as contracts print them: ``below`` strictly
    decreasing, and the credit never smaller for a lower row (a worse level
    never costs the provider less). The first row's ``below`` is at most the
    objective: a level that meets the commitment owes nothing. An empty table
    is a commitment without credits.
    """

    objective: Decimal
    tiers: tuple[CreditTier, ...] = ()
    period: SLAPeriod = "month"
    maintenance: MaintenancePolicy = "excluded"

    def __post_init__(self) -> None:
        objective = _percent(self.objective, "SLA objective")
        if not Decimal(0) < objective < _HUNDRED:
            raise ValueError(f"SLA objective must be a percentage in (0, 100), got {objective}")
        if not isinstance(self.tiers, tuple) or not all(
            isinstance(t, CreditTier) for t in self.tiers
        ):
            raise ValueError("SLA tiers must be a tuple of CreditTier")
        if self.period not in get_args(SLAPeriod):
            raise ValueError(
                f"SLA period must be one of {', '.join(get_args(SLAPeriod))}, got {self.period!r}"
            )
        if self.maintenance not in get_args(MaintenancePolicy):
            raise ValueError(
                "SLA maintenance must be one of "
                f"{', '.join(get_args(MaintenancePolicy))}, got {self.maintenance!r}"
            )
        if self.tiers and self.tiers[0].below > objective:
            raise ValueError(
                f"the first credit tier (below {self.tiers[0].below}) is above the SLA "
                f"objective {objective}: a level that meets the commitment cannot owe a credit"
            )
        for index, (upper, lower) in enumerate(zip(self.tiers, self.tiers[1:], strict=False)):
            if lower.below >= upper.below:
                raise ValueError(
                    f"credit tiers must have strictly decreasing 'below': tier {index + 1} "
                    f"(below {lower.below}) is not below tier {index} (below {upper.below})"
                )
            if lower.credit < upper.credit:
                raise ValueError(
                    f"credits must not decrease for a lower tier: tier {index + 1} "
                    f"(below {lower.below}) gives {lower.credit}, less than tier {index} "
                    f"(below {upper.below}) with {upper.credit}"
                )


def credit_percent(sla: SLA, achieved: Decimal | None) -> Decimal | None:
    """The credit due in percent for an achieved level; None when nothing was measured.

    The row with the smallest ``below`` that the level is strictly under
    wins; a level under no row earns 0. Exactly on a boundary is not under
    it: 99.0000 owes the ``below: 99.9`` row, not the ``below: 99.0`` one.
    """
    if achieved is None:
        return None
    level = _percent(achieved, "achieved level")
    for tier in reversed(sla.tiers):
        if level < tier.below:
            return tier.credit
    return Decimal(0)


def met(sla: SLA, achieved: Decimal | None) -> bool | None:
    """Whether the level meets the commitment (exactly at the objective does); None unmeasured."""
    if achieved is None:
        return None
    return _percent(achieved, "achieved level") >= sla.objective


def _cut(percent: Fraction) -> Decimal:
    # floor() on the exact value: rounding down is the only direction that
    # can never turn a miss into a hit (98.99995 must stay under 99.0).
    steps = math.floor(percent * 10**PERCENT_PLACES)
    return Decimal(steps).scaleb(-PERCENT_PLACES).quantize(_QUANTUM)


def _as_written(value: float) -> Fraction:
    # The shortest decimal that converts back to the float: what the number
    # prints as, and what it meant before binary rounding (see
    # percent_from_ratio). Integers are exact either way.
    return Fraction(value) if isinstance(value, int) else Fraction(repr(float(value)))


def percent_from_counts(good: float, total: float) -> Decimal | None:
    """``good / total`` as a percentage, divided exactly, cut to PERCENT_PLACES places.

    None without events. The division is exact, so 99 good of 100 is
    99.0000 and 98999 of 100000 is 98.9990, never one step off. Fractional
    counts (extrapolated increases) are read as the decimal they print as,
    so 44193.6 of 44640 is exactly 99.0000. This is the conversion to use
    when the counts are at hand (events, or good and bad timeslices). The
    result is clamped to [0, 100] like the SLI (see ``slomath``).
    """
    if not (math.isfinite(good) and math.isfinite(total)) or total <= 0:
        return None
    ratio = min(max(_as_written(good) / _as_written(total), Fraction(0)), Fraction(1))
    return _cut(ratio * 100)


def percent_from_ratio(ratio: float | None) -> Decimal | None:
    """A ratio from the float math as a percentage cut to PERCENT_PLACES places; None stays None.

    The float is read as the shortest decimal that converts back to it
    (``repr``), not as its exact binary value: ``99 / 100`` is the float
    0.98999999999999999111..., whose exact value would cut to 98.9999 and
    earn a credit for a level that is exactly 99 %. The shortest decimal is
    the true ratio whenever that ratio has up to 15 significant digits, and
    within 1e-16 of it otherwise, far below the 1e-6 step of four percent
    places, so only a level within a float's rounding error of a boundary
    could land on the other side. Then it is cut down, never up, so a provider
    cannot round a miss up to a hit. Prefer :func:`percent_from_counts` where
    the counts are known.
    """
    if ratio is None:
        return None
    if not math.isfinite(ratio) or not 0.0 <= ratio <= 1.0:
        raise ValueError(f"a ratio must be a finite number in [0, 1], got {ratio!r}")
    return _cut(Fraction(repr(ratio)) * 100)


def credit_ratio(percent: Decimal | None) -> float | None:
    """A credit percentage as the exported ratio (10 -> 0.1); None stays None."""
    return None if percent is None else float(percent / _HUNDRED)


def _sla(objective: str, *tiers: tuple[str, str]) -> SLA:
    return SLA(
        objective=Decimal(objective),
        tiers=tuple(CreditTier(Decimal(b), Decimal(c)) for b, c in tiers),
    )


# Published SLAs of cloud providers, as service-credit percentages of the
# monthly bill. Providers revise these pages; a preset is a convenience, and
# the contract that binds is the one in force for the customer, so check the
# page (and its date) before relying on a preset in a claim.
_PRESETS: dict[str, SLA] = {
    # Amazon Compute Service Level Agreement, "Region-Level SLA" for EC2
    # (https://aws.amazon.com/compute/sla/): Monthly Uptime Percentage.
    "aws-ec2-region": _sla("99.99", ("99.99", "10"), ("99.0", "30"), ("95.0", "100")),
    # Same page, "Instance-Level SLA" for a single EC2 instance.
    "aws-ec2-instance": _sla("99.5", ("99.5", "10"), ("99.0", "30"), ("95.0", "100")),
    # Microsoft "Service Level Agreements (SLA) for Online Services",
    # Virtual Machines (https://www.microsoft.com/licensing/docs/view/
    # Service-Level-Agreements-SLA-for-Online-Services): a single instance
    # with Premium SSD or Ultra Disk for all disks.
    "azure-vm-premium-ssd": _sla("99.9", ("99.9", "10"), ("99", "25"), ("95", "100")),
    # Same document: two or more instances in one Availability Set.
    "azure-vm-availability-set": _sla("99.95", ("99.95", "10"), ("99", "25"), ("95", "100")),
    # Same document: two or more instances across two or more Availability Zones.
    "azure-vm-availability-zones": _sla("99.99", ("99.99", "10"), ("99", "25"), ("95", "100")),
}

PRESETS: Mapping[str, SLA] = MappingProxyType(_PRESETS)
"""Published cloud SLAs by preset name (``sla.preset`` in the config)."""
