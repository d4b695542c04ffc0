"""``commit_rows`` (the rows a commit adds, after its checks): the list-at-a-time and
one-delta shortcuts give exactly the rows of the delta-by-delta definition."""

from __future__ import annotations

import math
import random
import re

import pytest

from slo_exporter.slomath import bucket_start
from slo_exporter.store.common import commit_rows

RES = 60.0


def _by_definition(deltas: dict[float, tuple[float, float]]) -> list[tuple[float, float, float]]:
    """Each delta added to its bucket start, zero deltas left out, sorted by start."""
    merged: dict[float, list[float]] = {}
    for ts, (good, total) in deltas.items():
        if not all(math.isfinite(n) for n in (ts, good, total)):
            raise ValueError("not finite")
        if good == 0.0 and total == 0.0:
            continue
        acc = merged.setdefault(bucket_start(ts, RES), [0.0, 0.0])
        acc[0] += good
        acc[1] += total
    return sorted((start, g, t) for start, (g, t) in merged.items())


def test_random_commits_give_the_rows_of_the_definition() -> None:
    """3,000 random commits of 0-3 deltas (aligned or not, zero, NaN, infinite): the same
    rows as the definition, or a ValueError exactly when it has a non-finite number."""
    rng = random.Random(5)
    numbers = [0.0, 1.5, 300.0, 7.25, math.nan, math.inf, 1e308]
    for _ in range(3_000):
        deltas = {}
        for _ in range(rng.randint(0, 3)):
            ts = 1_800_000_000.0 + RES * rng.randint(0, 5) + rng.choice([0.0, 0.0, 17.0])
            deltas[ts] = (rng.choice(numbers), rng.choice(numbers))
        try:
            want = _by_definition(deltas)
        except ValueError:
            with pytest.raises(ValueError, match="must be finite"):
                commit_rows(deltas, RES, cursor=None, series=None, measured=None)
            continue
        assert commit_rows(deltas, RES, cursor=None, series=None, measured=None) == want


def test_one_delta_off_a_bucket_start_goes_to_its_bucket() -> None:
    """One delta at 1,800,000,017 s: its bucket starts at 1,800,000,000 (17 s earlier)."""
    rows = commit_rows({1_800_000_017.0: (2.0, 3.0)}, RES, cursor=None, series=None,
                       measured=None)
    assert rows == [(1_800_000_000.0, 2.0, 3.0)]


def test_a_non_finite_series_state_is_named() -> None:
    """A series state with an infinite value is refused, naming the series."""
    with pytest.raises(ValueError, match=re.escape("series 'total|x'")):
        commit_rows({}, RES, cursor=None, series={"ok": (1.0, 2.0), "total|x": (1.0, math.inf)},
                    measured=None)


@pytest.mark.parametrize(("cursor", "measured", "what"), [
    (math.inf, None, "cursor"),
    (None, (1.0, math.nan), "measured span"),
    (None, (-math.inf, 1.0), "measured span"),
])
def test_a_non_finite_cursor_or_span_is_named(
        cursor: float | None, measured: tuple[float, float] | None, what: str) -> None:
    """An infinite or NaN cursor or measured edge is refused, naming which."""
    with pytest.raises(ValueError, match=f"^{what}: numbers must be finite"):
        commit_rows({}, RES, cursor=cursor, series=None, measured=measured)
