"""The bounded cache behind the period-figure and composite caches."""

from __future__ import annotations

from slo_exporter.lru import BoundedCache


def test_least_recently_used_entry_goes_first() -> None:
    """Past its size, the entry neither read nor written for longest is forgotten."""
    cache: BoundedCache[int] = BoundedCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recent
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_rewriting_a_key_replaces_its_value_without_growing() -> None:
    """A key written twice holds one entry, with the newer value."""
    cache: BoundedCache[int] = BoundedCache(1)
    cache.put("a", 1)
    cache.put("a", 2)
    assert cache.get("a") == 2
