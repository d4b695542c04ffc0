"""A swap builds the next snapshot from the statuses that changed only (``Snapshot.merged``):
the result is the one a full rebuild gives, status by status and in the same order."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from slo_exporter.model import SLO, ProbeSLI, RollingPeriod, TCPProbe
from slo_exporter.snapshot import SLOStatus, Snapshot

BASE = SLO(service="s", name="x", objective=0.99, period=RollingPeriod(86400.0),
           sli=ProbeSLI(TCPProbe("127.0.0.1:1")))


def status(key: int, at: float | None) -> SLOStatus:
    return SLOStatus(slo=dataclasses.replace(BASE, name=f"slo-{key}"), evaluated_at=at)


def newer(old: SLOStatus, new: SLOStatus) -> SLOStatus:
    """The engine's rule, for the test: the later instant wins (None counts as oldest)."""
    if old.evaluated_at is None or (new.evaluated_at or 0.0) >= old.evaluated_at:
        return new
    return old


def rebuilt(current: Snapshot, fresh: dict[str, SLOStatus]) -> tuple[SLOStatus, ...]:
    """The plain rebuild: every status merged in place, new keys after, in fresh's order."""
    known = {s.slo.key for s in current.slos}
    kept = tuple(newer(s, fresh[s.slo.key]) if s.slo.key in fresh else s for s in current.slos)
    return (*kept, *(s for k, s in fresh.items() if k not in known))


@given(
    held=st.lists(st.one_of(st.none(), st.floats(0, 100)), max_size=12),
    fresh=st.dictionaries(st.integers(0, 16), st.floats(0, 100), max_size=8),
)
def test_merged_equals_a_full_rebuild(held: list[float | None], fresh: dict[int, float]) -> None:
    """Replacing, keeping (an older new status loses) and appending give the rebuild's
    statuses in its order, and the carried key positions and key index point at them."""
    current = Snapshot(slos=tuple(status(i, at) for i, at in enumerate(held)))
    current.positions  # noqa: B018 - built, so that the merge carries it over
    current.by_key  # noqa: B018 - likewise
    news = {s.slo.key: s for s in (status(k, at) for k, at in fresh.items())}
    merged = current.merged(news, newer, taken_at=5.0, complete=True, groups=())
    assert merged.slos == rebuilt(current, news)
    assert (merged.taken_at, merged.complete) == (5.0, True)
    assert merged.positions == {s.slo.key: i for i, s in enumerate(merged.slos)}
    assert merged.by_key == {s.slo.key: s for s in merged.slos}
