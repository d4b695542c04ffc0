"""A throwaway PostgreSQL server for tests: initdb and pg_ctl in a temp dir, Unix socket only.

Owns: finding the server binaries (Debian's ``postgresql`` package puts them
under ``/usr/lib/postgresql/<major>/bin``), a cluster in a fresh temp
directory that listens on no TCP port at all (its socket lives in that
directory, so two test runs never meet), one empty schema per test (cheaper
than a database; the store's tables and its writer lock follow the schema),
and stopping the server whatever happens (``private_postgres()``, for fixtures).

PostgreSQL refuses to run as root. When the tests run as root, the cluster
belongs to an unprivileged account (``postgres`` where Debian created it,
else ``nobody``) and the server runs as that account; the tests still
connect as root over the socket, with ``trust`` authentication, to a role
named ``slo``. One role, ``secretive``, must give a password (SCRAM), so
tests can show that a wrong password never reaches a log or an error.

Must not: touch a system-wide cluster or its port, bind anything but the
private socket, depend on pytest (benchmarks may use it), or wait without
a bound.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

ROLE = "slo"
SECRET_ROLE = "secretive"
SECRET_PASSWORD = "hunter2-never-logged"
DATABASE = "slo"
START_TIMEOUT = 30.0


class PostgresError(RuntimeError):
    """The server binaries are missing, or the cluster could not be made or started."""


def server_binaries() -> Path:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb and pg_ctl."""
    found = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")
         if (Path(p) / "initdb").is_file() and (Path(p) / "pg_ctl").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresError(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; the PostgreSQL "
            "store tests run a real server. Install Debian's `postgresql` package "
            "(`make test` does it) and retry."
        )
    return found[-1]


class PostgresServer:
    """One private cluster; ``url(schema)`` names a fresh, empty schema in it."""

    def __init__(self) -> None:
        self.bin = server_binaries()
        self._owner = _unprivileged_account() if os.geteuid() == 0 else None
        # As root the server's account must reach the directory, which a private
        # TMPDIR may not let it do; a short path also keeps the socket's name
        # under the 107 bytes a Unix socket path may have.
        self.base = Path(tempfile.mkdtemp(prefix="slo-pg-", dir="/tmp" if self._owner else None))
        self.data = self.base / "data"
        self.socket_dir = self.base
        self._schemas = itertools.count()
        self._running = False
        self._admin: Any = None
        if self._owner is not None:
            os.chown(self.base, self._owner.pw_uid, self._owner.pw_gid)
        self.base.chmod(0o755)  # the socket must be reachable by the tests' user

    def start(self) -> Self:
        pwfile = self.base / "pw"
        pwfile.write_text("bootstrap\n", encoding="utf-8")
        if self._owner is not None:
            os.chown(pwfile, self._owner.pw_uid, self._owner.pw_gid)
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--no-sync",
                  "--auth-local=trust", "--auth-host=reject", "-E", "UTF8",
                  "--locale=C", f"--pwfile={pwfile}")
        # The password role first, then trust for everyone else on the socket.
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"local all {SECRET_ROLE} scram-sha-256\nlocal all all trust\n",
                       encoding="utf-8")
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.base / "server.log",
                  "-w", "-t", str(int(START_TIMEOUT)), "start", "-o",
                  f"-c listen_addresses='' -c unix_socket_directories='{self.socket_dir}' "
                  "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                  "-c max_connections=100")
        self._running = True
        self.psql(f"CREATE ROLE {ROLE} LOGIN SUPERUSER")
        self.psql(f"CREATE ROLE {SECRET_ROLE} LOGIN PASSWORD '{SECRET_PASSWORD}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        self.psql(f"GRANT ALL ON DATABASE {DATABASE} TO {SECRET_ROLE}")
        return self

    def url(self, schema: str | None = None, *, user: str = ROLE, password: str = "") -> str:
        """A ``postgresql://`` URL of the test database, its search path set to ``schema``."""
        auth = f"{user}:{password}" if password else user
        query = f"host={self.socket_dir}"
        if schema is not None:
            query += f"&options=-csearch_path%3D{schema}"
        return f"postgresql://{auth}@/{DATABASE}?{query}"

    def new_schema(self) -> str:
        """Create an empty schema and return a URL whose search path is that schema."""
        name = f"t{next(self._schemas)}"
        self.sql(f"CREATE SCHEMA {name} AUTHORIZATION {ROLE}; "
                 f"GRANT ALL ON SCHEMA {name} TO {SECRET_ROLE}")
        return self.url(name)

    def sql(self, statement: str) -> None:
        """Run statements in the test database on one kept connection (no psql per call)."""
        import psycopg  # here: the module imports without the driver

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.url(), autocommit=True, connect_timeout=10)
        self._admin.execute(statement.encode())

    def psql(self, sql: str, *, database: str = "postgres") -> str:
        """Run one statement as the bootstrap superuser; its output."""
        psql = shutil.which("psql") or str(self.bin / "psql")
        done = subprocess.run(
            [psql, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir),
             "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=30, check=False,
        )
        if done.returncode != 0:
            raise PostgresError(f"psql {sql!r} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def stop(self) -> None:
        """Stop the server (fast shutdown, bounded) and delete its directory."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        try:
            if self._running:
                self._running = False
                self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate",
                          "-w", "-t", "20", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self, *argv: object) -> None:
        owner = self._owner
        deadline = time.monotonic() + START_TIMEOUT + 10
        done = subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, check=False,
            timeout=max(1.0, deadline - time.monotonic()),
            user=owner.pw_uid if owner is not None else None,
            group=owner.pw_gid if owner is not None else None,
            extra_groups=[] if owner is not None else None,
            cwd=self.base,
        )
        if done.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresError(
                f"{Path(str(argv[0])).name} failed ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}\n{tail}"
            )


@contextlib.contextmanager
def private_postgres() -> Iterator[PostgresServer]:
    """A started private server, stopped on the way out; the test fails (never skips)
    when there is none."""
    import pytest  # here, so benchmarks import this module without the test tools

    try:
        server = PostgresServer().start()
    except PostgresError as exc:
        problem = str(exc)
    else:
        try:
            yield server
        finally:
            server.stop()
        return
    pytest.fail(problem, pytrace=False)  # outside `except`: no chained traceback


def _unprivileged_account() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresError("running as root and no `postgres` or `nobody` account to run the server")
