"""Specification of what the PostgreSQL store adds: one writer among replicas, takeover, bounds.

The behaviour both stores share is specified once, in the other files of
this directory, and runs against both.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from slo_exporter.errors import StoreError
from slo_exporter.slomath import Counts
from slo_exporter.store import PostgresStore
from slo_exporter.store.postgres import describe_url
from tests.store.values import KEY, RES, T0
from tests.support.harness import free_port
from tests.support.postgres import SECRET_PASSWORD, SECRET_ROLE, PostgresServer


@pytest.fixture
def url(postgres: PostgresServer) -> str:
    return postgres.new_schema()


# ------------------------------------------------------------ writer role


def test_a_second_writer_is_refused_and_a_standby_reads(url: str) -> None:
    """While one store writes, a second writer open fails clearly; a standby opens read-only."""
    with PostgresStore(url, RES) as writer:
        writer.commit(KEY, {T0: (1, 2)}, cursor=T0 + 60)
        with pytest.raises(StoreError, match="in use by another slo-exporter replica"):
            PostgresStore(url, RES)
        with PostgresStore(url, RES, standby=True) as standby:
            assert standby.readonly
            assert standby.try_promote() is False
            assert standby.sum(KEY, 0, 2 * T0) == Counts(1, 2)
            assert standby.cursor(KEY) == T0 + 60
            with pytest.raises(StoreError, match="another replica holds the writer role"):
                standby.commit(KEY, {T0: (1, 1)})


def test_standby_takes_over_from_the_stored_state_when_the_writer_leaves(url: str) -> None:
    """After the writer closes, try_promote() makes the standby the writer; it continues from
    the stored cursor and sums what the old writer wrote after the standby cached its index."""
    writer = PostgresStore(url, RES)
    standby = PostgresStore(url, RES, standby=True, max_staleness=3600.0)
    try:
        writer.commit(KEY, {T0: (1, 1)}, cursor=T0 + 60)
        assert standby.sum(KEY, 0, 2 * T0) == Counts(1, 1)  # index cached
        writer.commit(KEY, {T0 + 60: (0, 3)}, cursor=T0 + 120)
        writer.close()
        assert standby.try_promote() is True
        assert not standby.readonly
        assert standby.cursor(KEY) == T0 + 120
        assert standby.sum(KEY, 0, 2 * T0) == Counts(1, 4)  # 1 + 0 good, 1 + 3 total
        standby.commit(KEY, {T0 + 120: (2, 2)}, cursor=T0 + 180)
        assert standby.sum(KEY, 0, 2 * T0) == Counts(3, 6)
        with pytest.raises(StoreError, match="in use by another"):
            PostgresStore(url, RES)
    finally:
        writer.close()
        standby.close()


def test_killed_writer_frees_the_role(url: str) -> None:
    """A writer process killed with SIGKILL loses its session; a standby then promotes, and
    everything the killed writer committed is there."""
    child = textwrap.dedent(
        f"""
        import sys, time
        from slo_exporter.store import PostgresStore
        s = PostgresStore(sys.argv[1], {RES})
        for i in range(20):
            s.commit({KEY!r}, {{{T0} + i * 60: (i, 10)}}, cursor={T0} + i * 60 + 59)
        print("committed", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child, url], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "committed"
        with PostgresStore(url, RES, standby=True) as standby:
            assert standby.try_promote() is False
            proc.kill()
            proc.wait(timeout=10)
            deadline = time.monotonic() + 5
            while not standby.try_promote():
                assert time.monotonic() < deadline, "the killed writer's lock was never freed"
                time.sleep(0.05)
            assert standby.sum(KEY, 0, 2 * T0) == Counts(sum(range(20)), 200)
            assert standby.cursor(KEY) == T0 + 19 * 60 + 59
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_writer_whose_session_ended_writes_nothing_more_once_a_standby_took_over(
    postgres: PostgresServer, url: str
) -> None:
    """When the server ends the writer's session and a standby takes the role meanwhile, the
    old writer's next write reconnects, finds the role taken, and writes nothing: no late
    write of the old writer can land."""
    writer = PostgresStore(url, RES)
    try:
        writer.commit(KEY, {T0: (1, 1)})
        postgres.psql(f"SELECT pg_terminate_backend({writer._conn.info.backend_pid})")
        with pytest.raises(StoreError, match=r"terminating connection .* the next use "
                                             r"reconnects"):
            writer.commit(KEY, {T0: (5, 5)})
        with PostgresStore(url, RES, standby=True) as standby:
            assert not standby.readonly  # the role was free: it opened as the writer
            with pytest.raises(StoreError, match="another replica took the writer role"):
                writer.commit(KEY, {T0: (5, 5)})
            assert writer.role_lost
            assert writer.readonly
            assert writer.try_promote() is False
            assert writer.sum(KEY, 0, 2 * T0) == Counts(1, 1)  # it still reads
            assert standby.sum(KEY, 0, 2 * T0) == Counts(1, 1)
    finally:
        writer.close()


def test_writer_and_standby_reconnect_after_their_sessions_end(
    postgres: PostgresServer, url: str
) -> None:
    """A database restart ends every session: each store fails one use, then the writer
    reconnects, wins its role back and writes on, and a standby reconnects and reads on."""
    with PostgresStore(url, RES) as writer, PostgresStore(url, RES, standby=True) as standby:
        writer.commit(KEY, {T0: (1, 1)})
        assert standby.sum(KEY, 0, 2 * T0) == Counts(1, 1)
        postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'slo-exporter'")
        with pytest.raises(StoreError, match="the next use reconnects"):
            writer.commit(KEY, {T0: (1, 1)})
        writer.commit(KEY, {T0 + RES: (0, 1)})
        assert not writer.role_lost
        with pytest.raises(StoreError, match="the next use reconnects"):
            standby.refresh()
        standby.refresh()
        assert standby.sum(KEY, 0, 2 * T0) == Counts(1, 2)
        assert standby.try_promote() is False


def test_stores_in_two_schemas_are_independent(postgres: PostgresServer) -> None:
    """The writer lock follows the schema: two stores in one database both write."""
    with PostgresStore(postgres.new_schema(), RES) as a, \
            PostgresStore(postgres.new_schema(), RES) as b:
        a.commit(KEY, {T0: (1, 1)})
        b.commit(KEY, {T0: (0, 1)})
        assert a.sum(KEY, 0, 2 * T0) == Counts(1, 1)
        assert b.sum(KEY, 0, 2 * T0) == Counts(0, 1)


# ----------------------------------------------------------------- bounds


def test_a_statement_that_waits_ends_at_the_deadline(postgres: PostgresServer, url: str) -> None:
    """A write blocked by another session's table lock fails at the statement deadline
    (1 s here) with a StoreError, and the store writes again once the lock is gone."""
    with PostgresStore(url, RES, statement_timeout=1.0) as store, \
            psycopg.connect(url, autocommit=True) as other:
        store.commit(KEY, {T0: (1, 1)})
        release = threading.Event()
        locked = threading.Event()

        def hold() -> None:
            with other.transaction():
                other.execute("LOCK TABLE bucket IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert locked.wait(5)
            started = time.monotonic()
            with pytest.raises(StoreError, match="timeout"):
                store.commit(KEY, {T0: (1, 1)})
            assert time.monotonic() - started < 3.0
        finally:
            release.set()
            holder.join(10)
        store.commit(KEY, {T0: (1, 1)})
        assert store.sum(KEY, 0, 2 * T0) == Counts(2, 2)


def test_unreachable_database_is_a_clear_error_within_the_connect_timeout() -> None:
    """Nothing listening: StoreError naming the database (without the password) within
    the connect timeout, never a traceback from the driver."""
    url = f"postgresql://slo:{SECRET_PASSWORD}@127.0.0.1:{free_port()}/slo"
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        PostgresStore(url, RES, connect_timeout=2)
    assert time.monotonic() - started < 5.0
    text = str(caught.value)
    assert "cannot open event store postgresql://slo@127.0.0.1:" in text
    assert "is running and reachable" in text
    assert SECRET_PASSWORD not in text
    assert caught.value.__cause__ is None  # no driver traceback chained to it


def test_a_server_that_never_answers_is_an_error_at_the_connect_deadline() -> None:
    """Something accepts the connection and never answers (a hung server, a black hole
    behind a proxy): the open fails with StoreError at the connect timeout, not later."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        url = f"postgresql://slo:{SECRET_PASSWORD}@127.0.0.1:{port}/slo"
        started = time.monotonic()
        with pytest.raises(StoreError, match="cannot open event store") as caught:
            PostgresStore(url, RES, connect_timeout=2)
        took = time.monotonic() - started
    assert 1.5 <= took < 4.0, f"gave up after {took:.1f} s"
    assert SECRET_PASSWORD not in str(caught.value)


def test_wrong_password_never_shows_the_password(postgres: PostgresServer, url: str) -> None:
    """A refused login is a StoreError that names the user, never the password given."""
    schema = url.rsplit("%3D", 1)[1]
    bad = postgres.url(schema, user=SECRET_ROLE, password=SECRET_PASSWORD + "-typo")
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        PostgresStore(bad, RES)
    assert SECRET_PASSWORD not in str(caught.value)
    good = postgres.url(schema, user=SECRET_ROLE, password=SECRET_PASSWORD)
    with PostgresStore(good, RES) as store:
        store.commit(KEY, {T0: (1, 1)})
        assert SECRET_PASSWORD not in store.name


def test_the_password_may_come_from_the_environment(
    postgres: PostgresServer, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PGPASSWORD (or a PGPASSFILE) keeps the password out of the URL and so out of the
    process's arguments, which any local user can list."""
    schema = url.rsplit("%3D", 1)[1]
    monkeypatch.setenv("PGPASSWORD", SECRET_PASSWORD)
    with PostgresStore(postgres.url(schema, user=SECRET_ROLE), RES) as store:
        store.commit(KEY, {T0: (1, 1)})
        assert store.sum(KEY, 0, 2 * T0) == Counts(1, 1)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:pw@host/db", "must be a PostgreSQL URL"),
        ("postgresql://u:hunter2-never-logged@127.0.0.1:notaport/db",
         "cannot open event store postgresql://u@127.0.0.1:notaport/db"),
        ("postgresql://u@host/db?nonsense=1", "not a valid PostgreSQL URL"),
    ],
)
def test_bad_url_is_a_clear_error(url: str, message: str) -> None:
    """A URL that is not a usable PostgreSQL URL is a StoreError saying so, password masked."""
    with pytest.raises(StoreError, match=message) as caught:
        PostgresStore(url, RES)
    assert "hunter2" not in str(caught.value)


def test_describe_url_shows_no_password() -> None:
    """What names the store in errors and logs has user, host, port and database only."""
    assert describe_url("postgresql://slo:s3cret-pw@db.example:5433/events?sslmode=require") == (
        "postgresql://slo@db.example:5433/events"
    )


# --------------------------------------------------------------- opening


def test_read_only_open_of_an_empty_database_is_an_error(url: str) -> None:
    """A read-only open (the report command) never creates tables."""
    with pytest.raises(StoreError, match=r"no event store at .*tables do not exist"):
        PostgresStore(url, RES, readonly=True)


def test_standby_with_another_resolution_is_refused(url: str) -> None:
    """Replicas must agree on the bucket width; a standby cannot re-bucket the writer's data."""
    with PostgresStore(url, 60.0), pytest.raises(StoreError, match="has 60 s buckets, not 300 s"):
        PostgresStore(url, 300.0, standby=True)


def test_newer_schema_is_refused(postgres: PostgresServer, url: str) -> None:
    """Tables written by a newer release are never touched."""
    PostgresStore(url, RES).close()
    schema = url.rsplit("%3D", 1)[1]
    postgres.psql(f"UPDATE {schema}.meta SET value = '99' "  # noqa: S608 - our own schema name
                  "WHERE key = 'schema_version'", database="slo")
    with pytest.raises(StoreError, match="schema version 99, newer than"):
        PostgresStore(url, RES)
