"""Specification of SLA commitments: exact credit tiers, boundaries, conversions, presets."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slo_exporter import sla
from slo_exporter.sla import PRESETS, SLA, CreditTier

D = Decimal


def table(objective: str, *tiers: tuple[str, str]) -> SLA:
    return SLA(objective=D(objective), tiers=tuple(CreditTier(D(b), D(c)) for b, c in tiers))


AZURE_LIKE = table("99.9", ("99.9", "10"), ("99.0", "25"), ("95.0", "100"))


@pytest.mark.parametrize(
    ("achieved", "credit"),
    [
        ("100", "0"),
        ("99.9000", "0"),
        ("99.8999", "10"),
        ("99.0000", "10"),
        ("99.0", "10"),
        ("98.9999", "25"),
        ("95.0000", "25"),
        ("94.9999", "100"),
        ("0", "100"),
    ],
)
def test_credit_is_the_row_with_the_smallest_below_the_level_is_strictly_under(
    achieved: str, credit: str
) -> None:
    """99.0000 is not below 99.0, so it owes the 10 % row; 98.9999 owes 25 %."""
    assert sla.credit_percent(AZURE_LIKE, D(achieved)) == D(credit)


def test_nothing_measured_has_no_credit_and_no_verdict() -> None:
    """None achieved (no measurement) is None credit and None met, never 0 or True."""
    assert sla.credit_percent(AZURE_LIKE, None) is None
    assert sla.met(AZURE_LIKE, None) is None


def test_met_at_the_objective_and_missed_just_under() -> None:
    """Exactly at the objective meets the commitment; one step under misses it."""
    assert sla.met(AZURE_LIKE, D("99.9000")) is True
    assert sla.met(AZURE_LIKE, D("99.8999")) is False


def test_a_commitment_without_credits_owes_nothing() -> None:
    """An empty credit table is allowed and gives 0 for any measured level."""
    assert sla.credit_percent(table("99.5"), D("10")) == D(0)


def test_defaults_are_a_monthly_period_with_maintenance_excluded() -> None:
    """period defaults to month and maintenance to excluded, as the contract says."""
    assert (AZURE_LIKE.period, AZURE_LIKE.maintenance) == ("month", "excluded")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: table("100"), "objective must be a percentage in (0, 100)"),
        (lambda: table("0"), "objective must be a percentage in (0, 100)"),
        (lambda: SLA(objective=99.9), "must be a decimal.Decimal"),  # type: ignore[arg-type]
        (lambda: table("NaN"), "finite"),
        (lambda: table("99", ("99", "10"), ("99", "25")), "strictly decreasing 'below'"),
        (lambda: table("99", ("95", "10"), ("99", "25")), "strictly decreasing 'below'"),
        (lambda: table("99", ("99", "25"), ("95", "10")), "credits must not decrease"),
        (lambda: table("99", ("99.5", "10")), "above the SLA objective"),
        (lambda: table("99", ("99", "101")), "'credit' must be in [0, 100]"),
        (lambda: table("99", ("99", "-1")), "'credit' must be in [0, 100]"),
        (lambda: table("99", ("0", "10")), "'below' must be in (0, 100]"),
        (lambda: SLA(objective=D(99), period="year"), "period must be one of"),  # type: ignore[arg-type]
        (lambda: SLA(objective=D(99), maintenance="ignored"), "maintenance must be one of"),  # type: ignore[arg-type]
        (lambda: SLA(objective=D(99), tiers=[]), "tuple of CreditTier"),  # type: ignore[arg-type]
    ],
)
def test_bad_sla_is_rejected_in_the_constructor_with_the_reason(
    build: object, message: str
) -> None:
    """Every invalid commitment fails when built, with a message that says what is wrong."""
    assert callable(build)
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_float_achieved_level_is_refused() -> None:
    """A float level cannot be compared exactly, so credit_percent asks for a Decimal."""
    with pytest.raises(ValueError, match=r"decimal\.Decimal"):
        sla.credit_percent(AZURE_LIKE, 99.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("good", "total", "percent"),
    [
        (99, 100, "99.0000"),
        (98999, 100000, "98.9990"),
        (999999999, 1000000000, "99.9999"),  # 99.9999999 cut down, not up to 100
        (2, 3, "66.6666"),
        (0, 5, "0.0000"),
        (5, 5, "100.0000"),
        (6, 5, "100.0000"),  # clamped like the SLI
    ],
)
def test_percent_from_counts_is_exact_and_cut_down(good: int, total: int, percent: str) -> None:
    """good/total in percent keeps four places, rounding down so a miss never becomes a hit."""
    result = sla.percent_from_counts(good, total)
    assert result == D(percent)
    assert str(result) == percent


def test_percent_from_counts_without_events_is_none() -> None:
    """No events (or non-finite counts) is no level, not 0 % or 100 %."""
    assert sla.percent_from_counts(0, 0) is None
    assert sla.percent_from_counts(float("nan"), 10) is None


@pytest.mark.parametrize(
    ("ratio", "percent"),
    [
        (99 / 100, "99.0000"),  # the float is 0.98999999999999999..., still exactly 99 %
        (0.999, "99.9000"),
        (0.9999995, "99.9999"),  # not rounded up to 100.0000
        (0.989999, "98.9999"),
        (1.0, "100.0000"),
        (0.0, "0.0000"),
    ],
)
def test_percent_from_ratio_reads_the_shortest_decimal_and_cuts_down(
    ratio: float, percent: str
) -> None:
    """A float ratio becomes the decimal it prints as, cut down to four places."""
    assert sla.percent_from_ratio(ratio) == D(percent)


def test_a_level_of_exactly_99_percent_from_float_math_owes_the_upper_tier() -> None:
    """99 of 100 good through the float path is 99.0000, so 10 % is due, not 25 %."""
    assert sla.credit_percent(AZURE_LIKE, sla.percent_from_ratio(99 / 100)) == D(10)


@pytest.mark.parametrize("ratio", [float("nan"), float("inf"), -0.1, 1.5])
def test_percent_from_ratio_rejects_values_that_are_not_ratios(ratio: float) -> None:
    """NaN, Inf and values outside [0, 1] are an error with the value in it."""
    with pytest.raises(ValueError, match="ratio must be a finite number in"):
        sla.percent_from_ratio(ratio)


def test_percent_from_ratio_keeps_none() -> None:
    """An unmeasured ratio stays unmeasured."""
    assert sla.percent_from_ratio(None) is None


def test_credit_ratio_is_the_exported_fraction() -> None:
    """10 % credit is exported as 0.1 (slo_sla_credit_ratio); None stays None."""
    assert sla.credit_ratio(D(10)) == pytest.approx(0.1)
    assert sla.credit_ratio(None) is None


@pytest.mark.parametrize(
    ("name", "objective", "rows"),
    [
        ("aws-ec2-region", "99.99", [("99.99", "10"), ("99.0", "30"), ("95.0", "100")]),
        ("aws-ec2-instance", "99.5", [("99.5", "10"), ("99.0", "30"), ("95.0", "100")]),
        ("azure-vm-premium-ssd", "99.9", [("99.9", "10"), ("99", "25"), ("95", "100")]),
    ],
)
def test_presets_of_the_contract_hold_the_published_tables(
    name: str, objective: str, rows: list[tuple[str, str]]
) -> None:
    """The preset names of the contract carry the providers' published objective and credits."""
    preset = PRESETS[name]
    assert preset.objective == D(objective)
    assert [(t.below, t.credit) for t in preset.tiers] == [(D(b), D(c)) for b, c in rows]
    assert (preset.period, preset.maintenance) == ("month", "excluded")


def test_every_preset_is_a_valid_sla_and_the_table_is_read_only() -> None:
    """Each preset passes the constructor's checks again, and PRESETS cannot be changed."""
    for preset in PRESETS.values():
        assert SLA(preset.objective, preset.tiers, preset.period, preset.maintenance) == preset
    with pytest.raises(TypeError):
        PRESETS["mine"] = AZURE_LIKE  # type: ignore[index]


def test_aws_region_boundary_hand_computed() -> None:
    """EC2 region, 31-day month of 44,640 minutes, worked by hand.

    446.4 bad minutes is exactly 1 %: 44,193.6 / 44,640 = 99.0000 %, on the 99.0 boundary,
    so the 10 % row. 447 bad minutes: 44,193 / 44,640 = 98.99865... -> 98.9986 %, the 30 % row.
    """
    region = PRESETS["aws-ec2-region"]
    assert sla.credit_percent(region, sla.percent_from_counts(44193.6, 44640)) == D(10)
    assert sla.percent_from_counts(44193, 44640) == D("98.9986")
    assert sla.credit_percent(region, sla.percent_from_counts(44193, 44640)) == D(30)


levels = st.decimals(min_value=0, max_value=100, places=4)
tier_tables = st.lists(
    st.tuples(
        st.decimals(min_value="0.0001", max_value=100, places=4),
        st.decimals(min_value=0, max_value=100, places=2),
    ),
    max_size=5,
)


def _valid(rows: list[tuple[Decimal, Decimal]]) -> SLA:
    belows = sorted({b for b, _ in rows}, reverse=True)
    credits = sorted(c for _, c in rows)[: len(belows)]
    tiers = tuple(CreditTier(b, c) for b, c in zip(belows, credits, strict=True))
    objective = min(belows[0] if belows else D("99.9"), D("99.9999"))
    return SLA(objective=objective, tiers=tuple(t for t in tiers if t.below <= objective))


@given(tier_tables, levels, levels)
def test_credit_never_grows_when_the_level_improves(
    rows: list[tuple[Decimal, Decimal]], a: Decimal, b: Decimal
) -> None:
    """Property: for any valid table, a higher achieved level never owes a larger credit."""
    commitment = _valid(rows)
    low, high = min(a, b), max(a, b)
    credit_low = sla.credit_percent(commitment, low)
    credit_high = sla.credit_percent(commitment, high)
    assert credit_low is not None
    assert credit_high is not None
    assert credit_high <= credit_low
    if sla.met(commitment, high):
        assert credit_high == 0
