"""The daemon limits the C library's malloc arenas unless the environment already does."""

from __future__ import annotations

import pytest

from slo_exporter.daemon import limit_malloc_arenas


def test_arenas_are_limited_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without MALLOC_ARENA_MAX, glibc's mallopt accepts the limit (the image and this
    machine run Debian's glibc)."""
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas() is True


def test_an_explicit_environment_setting_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """MALLOC_ARENA_MAX in the environment wins: the daemon sets nothing itself."""
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
