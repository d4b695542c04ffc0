"""Shared fixtures of the event store specifications."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slo_exporter.store import SQLiteStore
from tests.store.values import RES


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path, RES) as s:
        yield s
