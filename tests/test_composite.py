"""Composite SLOs read from their components: all_good and weighted buckets, coverage, order."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from slo_exporter.compliance import period_figures
from slo_exporter.composite import CompositeReader, composite_order
from slo_exporter.model import (
    SLO,
    Budgeting,
    CompositeComponent,
    CompositeMode,
    CompositeSLI,
    RatioSLI,
    RollingPeriod,
    Selector,
    SLOId,
    Timeslices,
)
from slo_exporter.slomath import Counts
from slo_exporter.store import SQLiteStore

T = 1_772_409_600.0  # 2026-03-02T00:00Z, on the one-minute grid
RES = 60.0
RATIO = RatioSLI(total=Selector("requests_total"), good=Selector("requests_ok_total"))


def part(service: str, objective: float, timeslices: Timeslices | None = None) -> SLO:
    return SLO(service=service, name="api", objective=objective, period=RollingPeriod(86_400),
               sli=RATIO, budgeting=Budgeting(timeslices))


CHECKOUT = part("checkout", 0.99)  # occurrences: a bucket is good at >= 99 %
VENDOR = part("vendor", 0.5, Timeslices(RES, Decimal("0.9")))  # good at >= its 90 % target


def journey(mode: CompositeMode, name: str = "journey", *parts: tuple[SLO, float]) -> SLO:
    components = parts or ((CHECKOUT, 3.0), (VENDOR, 1.0))
    return SLO(
        service="shop", name=name, objective=0.5, period=RollingPeriod(300),
        sli=CompositeSLI(mode, tuple(CompositeComponent(p.id, w) for p, w in components)),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """Five minutes from T.

    minute  checkout (w 3)   vendor (w 1)
    0       100/100 good     95/100 good
    1        98/100 bad     100/100 good
    2       100/100 good     measured, no events
    3        50/100 bad      not measured
    4       no events        no events (both measured)
    """
    with SQLiteStore(tmp_path, RES) as s:
        s.commit(CHECKOUT.key, {T: (100.0, 100.0), T + 60: (98.0, 100.0), T + 120: (100.0, 100.0),
                                T + 180: (50.0, 100.0)}, measured=(T, T + 300))
        s.commit(VENDOR.key, {T: (95.0, 100.0), T + 60: (100.0, 100.0)}, measured=(T, T + 180))
        s.commit(VENDOR.key, {}, measured=(T + 240, T + 300))
        yield s


def reader(store: SQLiteStore, *composites: SLO) -> CompositeReader:
    return CompositeReader(store, (CHECKOUT, VENDOR, *composites))


def test_all_good_is_bad_when_any_part_is_bad_and_nothing_where_a_part_is_unmeasured(
    store: SQLiteStore,
) -> None:
    """Minute 0 good, 1 bad (98 % < 99 %), 2 good (the idle vendor is neutral), 3 and 4 nothing."""
    slo = journey("all_good")
    assert reader(store, slo).buckets(slo.key, T, T + 300) == [
        (T, 1.0, 1.0), (T + 60, 0.0, 1.0), (T + 120, 1.0, 1.0),
    ]


def test_weighted_sums_weight_times_sli_over_the_parts_with_events(store: SQLiteStore) -> None:
    """Minute 0: 3*1.0 + 1*0.95 = 3.95 of 4; minute 1: 3*0.98 + 1*1.0 = 3.94 of 4;
    minute 2: the vendor had no events, so 3*1.0 of 3; minute 3 is unmeasured: nothing.
    Window sum: 3.95 + 3.94 + 3 = 10.89 of 11."""
    slo = journey("weighted")
    r = reader(store, slo)
    rows = r.buckets(slo.key, T, T + 300)
    assert [(s, t) for s, _, t in rows] == [(T, 4.0), (T + 60, 4.0), (T + 120, 3.0)]
    assert [g for _, g, _ in rows] == pytest.approx([3.95, 3.94, 3.0])
    counts = r.sums(slo.key, T + 300, (120.0, 300.0))
    assert counts[300.0].good == pytest.approx(10.89)
    assert counts[300.0].total == 11.0
    assert counts[120.0] == Counts(0.0, 0.0)  # minutes 3 and 4: nothing


def test_a_composite_is_measured_only_where_every_part_was(store: SQLiteStore) -> None:
    """Checkout measured [T, T+300), vendor [T, T+180) and [T+240, T+300): the intersection."""
    slo = journey("all_good")
    r = reader(store, slo)
    assert r.measured_spans(slo.key, T, T + 300) == [(T, T + 180), (T + 240, T + 300)]
    assert r.measured(slo.key, T, T + 300) == 240.0
    assert r.first_bucket(slo.key) == T


def test_a_missing_part_lowers_coverage_and_is_never_good(store: SQLiteStore) -> None:
    """Over [T, T+300): coverage 240/300 = 0.8; all_good achieved 2 of 3 buckets."""
    slo = journey("all_good")
    f = period_figures(reader(store, slo), slo, start=T, end=T + 300, at=T + 300, label="5m",
                       time_zone="UTC")
    assert f.coverage == pytest.approx(0.8)
    assert (f.good_events, f.bad_events) == (2.0, 1.0)
    assert f.achieved == pytest.approx(2 / 3)


def test_a_part_without_any_data_leaves_the_composite_unmeasured(store: SQLiteStore) -> None:
    """A component never measured: no buckets, no coverage, nothing achieved."""
    ghost = part("ghost", 0.99)
    slo = journey("weighted", "ghostly", (CHECKOUT, 1.0), (ghost, 1.0))
    r = CompositeReader(store, (CHECKOUT, ghost, slo))
    assert r.buckets(slo.key, T, T + 300) == []
    f = period_figures(r, slo, start=T, end=T + 300, at=T + 300, label="5m", time_zone="UTC")
    assert (f.coverage, f.achieved) == (0.0, None)
    assert r.first_bucket(slo.key) is None


def test_composites_of_composites_and_other_keys(store: SQLiteStore) -> None:
    """A composite of a composite reads through it; a plain SLO's key is the store's."""
    inner = journey("all_good")
    outer = journey("all_good", "outer", (inner, 1.0))
    r = reader(store, inner, outer)
    assert r.buckets(outer.key, T, T + 300) == r.buckets(inner.key, T, T + 300)
    assert r.buckets(CHECKOUT.key, T, T + 60) == [(T, 100.0, 100.0)]
    assert r.sum(CHECKOUT.key, T, T + 300) == store.sum(CHECKOUT.key, T, T + 300)
    assert r.resolution == RES


def test_composite_order_puts_components_first_and_refuses_cycles() -> None:
    """A composite follows every SLO it names; a cycle among composites is a ValueError."""
    inner = journey("all_good")
    outer = journey("all_good", "outer", (inner, 1.0))
    assert composite_order((outer, inner, CHECKOUT, VENDOR)) == (CHECKOUT, VENDOR, inner, outer)
    a = SLO(service="x", name="a", objective=0.9, period=RollingPeriod(300),
            sli=CompositeSLI("all_good", (CompositeComponent(SLOId("x", "b")),)))
    b = SLO(service="x", name="b", objective=0.9, period=RollingPeriod(300),
            sli=CompositeSLI("all_good", (CompositeComponent(SLOId("x", "a")),)))
    with pytest.raises(ValueError, match="cycle: x/a -> x/b -> x/a"):
        composite_order((a, b))
