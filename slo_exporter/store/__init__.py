"""Durable SLO events: the ``EventStore`` protocol and its SQLite and PostgreSQL implementations.

``protocol`` says what a store must do; ``sqlite`` does it in one file (the
default); ``schema`` holds its tables and upgrades; ``index`` keeps window
sums O(log n); ``marker`` guards against a database deleted behind our back.
``postgres`` does the same in a PostgreSQL database shared by replicas, one
of which writes (``pg_schema`` holds its tables). ``common`` holds the rules
both follow (the checks of ``commit``, how measured runs merge), without SQL.
``PostgresStore`` imports without the driver; opening one without it is a
``StoreError``.
"""

from slo_exporter.store.postgres import PostgresStore
from slo_exporter.store.protocol import (
    Bucket,
    Commit,
    EventStore,
    Pruned,
    Retirement,
    SharedStore,
    Span,
)
from slo_exporter.store.schema import SCHEMA_VERSION
from slo_exporter.store.sqlite import FILENAME, SQLiteStore

__all__ = [
    "FILENAME",
    "SCHEMA_VERSION",
    "Bucket",
    "Commit",
    "EventStore",
    "PostgresStore",
    "Pruned",
    "Retirement",
    "SQLiteStore",
    "SharedStore",
    "Span",
]
