"""Shared fixtures of the event store specifications.

``store`` runs each behaviour test against both implementations of the
``EventStore`` protocol: the embedded SQLite file and a PostgreSQL schema of
a private server started once per session (``tests.support.postgres``).
``backend`` opens more stores on the same location and injects write
failures through the database itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from slo_exporter.store import EventStore, PostgresStore, SQLiteStore
from tests.store.values import RES
from tests.support.postgres import PostgresServer, private_postgres


class Backend(Protocol):
    """One store location of one implementation."""

    name: str

    def open(self, resolution: float = RES, *, readonly: bool = False) -> EventStore: ...

    def fail_writes(self, table: str, message: str, *, on: str = "INSERT") -> None:
        """From now on, ``on`` (INSERT, UPDATE) of ``table`` fails with ``message``."""
        ...

    def heal(self) -> None:
        """Writes work again."""
        ...


class SQLiteBackend:
    name = "sqlite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._triggers: list[str] = []

    def open(self, resolution: float = RES, *, readonly: bool = False) -> EventStore:
        return SQLiteStore(self.directory, resolution, readonly=readonly)

    def _sql(self, statement: str) -> None:
        import sqlite3

        conn = sqlite3.connect(self.directory / "events.db")
        try:
            with conn:
                conn.execute(statement)
        finally:
            conn.close()

    def fail_writes(self, table: str, message: str, *, on: str = "INSERT") -> None:
        name = f"fail{len(self._triggers)}"
        self._sql(f"CREATE TRIGGER {name} BEFORE {on} ON {table} "
                  f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
        self._triggers.append(name)

    def heal(self) -> None:
        while self._triggers:
            self._sql(f"DROP TRIGGER {self._triggers.pop()}")


class PostgresBackend:
    name = "postgres"

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.url = server.new_schema()
        self.schema = self.url.rsplit("%3D", 1)[1]
        self._triggers: list[tuple[str, str]] = []

    def open(self, resolution: float = RES, *, readonly: bool = False) -> EventStore:
        return PostgresStore(self.url, resolution, readonly=readonly, max_staleness=0.0)

    def fail_writes(self, table: str, message: str, *, on: str = "INSERT") -> None:
        name = f"fail{len(self._triggers)}"
        s = self.schema
        self.server.sql(
            f"CREATE FUNCTION {s}.{name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$")
        self.server.sql(f"CREATE TRIGGER {name} BEFORE {on} ON {s}.{table} "
                        f"FOR EACH ROW EXECUTE FUNCTION {s}.{name}()")
        self._triggers.append((name, table))

    def heal(self) -> None:
        while self._triggers:
            name, table = self._triggers.pop()
            self.server.sql(f"DROP TRIGGER {name} ON {self.schema}.{table}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the whole session; fails (never skips) without one."""
    with private_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """An empty store location: a directory, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return SQLiteBackend(tmp_path)
    return PostgresBackend(request.getfixturevalue("postgres"))


@pytest.fixture
def store(backend: Backend) -> Iterator[EventStore]:
    with backend.open() as s:
        yield s


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """For specifications of the SQLite file itself (WAL, the marker, the flock)."""
    with SQLiteStore(tmp_path, RES) as s:
        yield s
