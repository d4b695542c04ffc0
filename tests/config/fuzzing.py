"""Building blocks of the dialect fuzz tests: the values a mutation puts into a
parsed YAML document, and every path at which it can put them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st


def yaml_values(text_size: int, samples: Sequence[str]) -> st.SearchStrategy[Any]:
    """Any value a YAML document can hold (null, booleans, 31-digit integers, NaN and
    infinite floats, text up to ``text_size``, short lists and maps), or one of the
    dialect's telling strings ``samples``."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=text_size),
        st.sampled_from(list(samples)),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
    )


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths(item, (*prefix, index)))
    return found
