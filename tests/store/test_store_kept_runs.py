"""Specification of the measured runs a writer keeps in memory: the same spans as its
database holds, whatever commits and prunes did, with no read once they are kept."""

from __future__ import annotations

import random
from typing import cast

from tests.store.conftest import Backend, PostgresBackend, SQLiteBackend
from tests.store.values import KEY, T0


def test_kept_runs_equal_the_database_through_every_kind_of_commit(backend: Backend) -> None:
    """A writer's spans (kept runs) equal a read-only store's (its database) for random
    windows after each commit: reads that follow each other, gaps that start a new
    run, late spans older than the newest run (inside it, bridging closed runs, or
    alone before it), and a prune."""
    rng = random.Random(11)
    with backend.open() as writer, backend.open(readonly=True) as reader:
        cursor = T0
        for step in range(120):
            kind = rng.random()
            if kind < 0.6:  # the next read
                span = (cursor, cursor + 30.0)
            elif kind < 0.75:  # after an outage
                span = (cursor + rng.choice((0.5, 2.0, 300.0)), cursor + 330.0)
            else:  # a late span somewhere in the past
                start = T0 + rng.uniform(-600.0, cursor - T0)
                span = (start, start + rng.choice((1.0, 30.0, 400.0)))
            writer.commit(KEY, {}, cursor=cursor, measured=span)
            cursor = max(cursor, span[1])
            if step == 80:
                writer.prune(T0 + (cursor - T0) / 3)
            for _ in range(3):
                lo = T0 - 900.0 + rng.uniform(0.0, cursor - T0 + 900.0)
                hi = lo + rng.uniform(0.0, 2000.0)
                assert writer.measured_spans(KEY, lo, hi) == reader.measured_spans(KEY, lo, hi)


def test_steady_reads_extend_the_kept_runs_without_a_read(backend: Backend) -> None:
    """Once kept, reads that extend the newest run move the runs in memory: the spans
    still show a run the database no longer has (deleted behind the writer's back)."""
    with backend.open() as writer:
        writer.commit(KEY, {}, cursor=T0, measured=(T0 - 600.0, T0 - 300.0))
        writer.commit(KEY, {}, cursor=T0, measured=(T0, T0 + 30.0))  # closes the first
        assert writer.measured_spans(KEY, 0.0, 2 * T0) == [(T0 - 600.0, T0 - 300.0),
                                                          (T0, T0 + 30.0)]
        _delete_closed_runs(backend)
        for i in range(1, 4):
            writer.commit(KEY, {}, cursor=T0, measured=(T0 + 30.0 * i, T0 + 30.0 * (i + 1)))
        assert writer.measured_spans(KEY, 0.0, 2 * T0) == [(T0 - 600.0, T0 - 300.0),
                                                          (T0, T0 + 120.0)]


def test_a_late_span_inside_the_newest_run_reads_the_runs_again(backend: Backend) -> None:
    """A span before the newest run that leaves it as it is (it only joins closed runs)
    changes runs the writer cannot see from the newest: it reads them again."""
    with backend.open() as writer, backend.open(readonly=True) as reader:
        writer.commit(KEY, {}, cursor=T0, measured=(T0 - 900.0, T0 - 800.0))
        writer.commit(KEY, {}, cursor=T0, measured=(T0 - 600.0, T0 - 500.0))
        writer.commit(KEY, {}, cursor=T0, measured=(T0, T0 + 30.0))
        assert len(writer.measured_spans(KEY, 0.0, 2 * T0)) == 3
        writer.commit(KEY, {}, cursor=T0, measured=(T0 - 800.0, T0 - 600.0))  # joins two
        assert writer.measured_spans(KEY, 0.0, 2 * T0) == [(T0 - 900.0, T0 - 500.0),
                                                          (T0, T0 + 30.0)]
        assert reader.measured_spans(KEY, 0.0, 2 * T0) == writer.measured_spans(KEY, 0.0, 2 * T0)


def _delete_closed_runs(backend: Backend) -> None:
    """Delete the closed runs from the database, as no writer would."""
    if backend.name == "sqlite":
        cast("SQLiteBackend", backend)._sql("DELETE FROM measured")
    else:
        pg = cast("PostgresBackend", backend)
        pg.server.sql(f"DELETE FROM {pg.schema}.measured")  # noqa: S608 - the test's schema
