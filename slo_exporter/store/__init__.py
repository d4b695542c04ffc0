"""Durable SLO events: the ``EventStore`` protocol and its SQLite implementation.

``protocol`` says what a store must do; ``sqlite`` does it in one file;
``schema`` holds its tables and upgrades; ``index`` keeps window sums
O(log n); ``marker`` guards against a database deleted behind our back.
"""

from slo_exporter.store.protocol import Bucket, EventStore, Pruned, Retirement, Span
from slo_exporter.store.schema import SCHEMA_VERSION
from slo_exporter.store.sqlite import FILENAME, SQLiteStore

__all__ = [
    "FILENAME",
    "SCHEMA_VERSION",
    "Bucket",
    "EventStore",
    "Pruned",
    "Retirement",
    "SQLiteStore",
    "Span",
]
