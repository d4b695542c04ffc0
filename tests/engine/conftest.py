"""Fixtures of the engine tests: an event store on a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from slo_exporter.store import EventStore, SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    s = SQLiteStore(tmp_path, 60.0)
    yield s
    s.close()
