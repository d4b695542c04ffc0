"""The composite chunk cache: the same sums and buckets as the composite reader, closed
hours derived once, the open hour derived again for every status, and forget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slo_exporter.composite import CompositeReader
from slo_exporter.composite_cache import ChunkedReader
from slo_exporter.model import (
    SLO,
    CompositeComponent,
    CompositeSLI,
    RollingPeriod,
    Selector,
    SLOId,
)
from slo_exporter.model.config import RatioSLI
from slo_exporter.store import EventStore, SQLiteStore
from slo_exporter.store.protocol import Bucket

T0 = 1_800_000_000.0 - 1_800_000_000.0 % 3600  # on the hour
KEY = "shop/journey"


def _slo(service: str) -> SLO:
    return SLO(service=service, name="api", objective=0.9, period=RollingPeriod(86400.0),
               sli=RatioSLI(total=Selector("t"), good=Selector("g")))


A, B = _slo("a"), _slo("b")
JOURNEY = SLO(service="shop", name="journey", objective=0.9, period=RollingPeriod(86400.0),
              sli=CompositeSLI(mode="all_good", components=(
                  CompositeComponent(SLOId("a", "api")), CompositeComponent(SLOId("b", "api")))))


class Counting(CompositeReader):
    """The composite reader, counting the buckets calls for the composite key."""

    calls = 0

    def buckets(self, slo_key: str, start: float, end: float) -> list[Bucket]:
        if slo_key == KEY:
            self.calls += 1
        return super().buckets(slo_key, start, end)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventStore]:
    """Three hours of minutes: a always good, b bad every seventh minute, b unmeasured
    in the second hour's first ten minutes."""
    store = SQLiteStore(Path(tmp_path_factory.mktemp("cache")), 60.0)
    for i in range(180):
        t = T0 + 60 * i
        store.record(A.key, t, good=True, span=60.0)
        if not 60 <= i < 70:
            store.record(B.key, t, good=i % 7 != 0, span=60.0)
    yield store
    store.close()


def _readers(store: EventStore) -> tuple[Counting, ChunkedReader]:
    inner = Counting(store, (A, B, JOURNEY))
    return inner, ChunkedReader(inner, {KEY: 86400.0})


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.integers(-10, 200), b=st.integers(-10, 200), horizon=st.integers(0, 180))
def test_sums_and_buckets_equal_the_composite_readers(
    filled: EventStore, a: int, b: int, horizon: int
) -> None:
    """Any range sums and lists the same through the cache as straight from the composite."""
    inner, cached = _readers(filled)
    cached.settle(KEY, T0 + 60 * horizon)
    start, end = T0 + 60 * a, T0 + 60 * b
    assert cached.sum(KEY, start, end) == inner.sum(KEY, start, end)
    assert cached.buckets(KEY, start, end) == inner.buckets(KEY, start, end)
    assert cached.sums(KEY, end, [600.0, 3600.0]) == inner.sums(KEY, end, [600.0, 3600.0])


def test_closed_hours_are_derived_once(filled: EventStore) -> None:
    """With the horizon after three hours, summing them again derives nothing."""
    inner, cached = _readers(filled)
    cached.settle(KEY, T0 + 3 * 3600)
    cached.sum(KEY, T0, T0 + 3 * 3600)
    assert inner.calls == 3
    cached.settle(KEY, T0 + 3 * 3600 + 60)
    cached.sum(KEY, T0 + 30, T0 + 3 * 3600)
    assert inner.calls == 3


def test_the_open_hour_is_derived_again_for_each_status(tmp_path: Path) -> None:
    """A late event in the open hour shows at the next status, not before."""
    store = SQLiteStore(tmp_path, 60.0)
    for key in (A.key, B.key):
        store.record(key, T0, good=True, span=60.0)
    _, cached = _readers(store)
    cached.settle(KEY, T0)
    assert cached.sum(KEY, T0, T0 + 3600).total == 1.0
    for key in (A.key, B.key):
        store.record(key, T0 + 60, good=True, span=60.0)
    assert cached.sum(KEY, T0, T0 + 3600).total == 1.0  # same status: kept
    cached.settle(KEY, T0 + 90)
    assert cached.sum(KEY, T0, T0 + 3600).total == 2.0
    store.close()


def test_forget_derives_closed_hours_again(filled: EventStore) -> None:
    """After forget (a component was down and may backfill), closed hours are read anew."""
    inner, cached = _readers(filled)
    cached.settle(KEY, T0 + 3 * 3600)
    cached.sum(KEY, T0, T0 + 3600)
    cached.forget(KEY)
    cached.sum(KEY, T0, T0 + 3600)
    assert inner.calls == 2


def test_other_keys_go_to_the_store(filled: EventStore) -> None:
    """A component's own key is summed by the store's index, not derived."""
    inner, cached = _readers(filled)
    assert cached.sum(A.key, T0, T0 + 3600) == filled.sum(A.key, T0, T0 + 3600)
    assert inner.calls == 0


def test_a_chunk_must_be_whole_buckets(filled: EventStore) -> None:
    """A chunk that is not a multiple of the resolution is refused at construction."""
    with pytest.raises(ValueError, match="whole number of buckets"):
        ChunkedReader(CompositeReader(filled, (A, B, JOURNEY)), {KEY: 1.0}, chunk=90.0)
