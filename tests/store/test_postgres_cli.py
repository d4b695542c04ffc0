"""The command line with ``--storage.url``: opening roles, clear errors, no password anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from slo_exporter import cli
from slo_exporter.daemon import Daemon
from slo_exporter.store import PostgresStore
from tests.support.harness import free_port
from tests.support.postgres import SECRET_PASSWORD, PostgresServer
from tests.test_cli import GOOD, _free_address


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(GOOD)
    return path


def run(config_file: Path, url: str, seen: list[Daemon] | None = None) -> int:
    def started(daemon: Daemon) -> None:
        if seen is not None:
            seen.append(daemon)
        daemon.request_stop("test")

    return cli.main(["run", f"--config.file={config_file}", f"--storage.url={url}",
                     f"--web.listen-address={_free_address()}"], started=started)


def test_first_replica_writes_and_the_second_stands_by(
    config_file: Path, postgres: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """run --storage.url opens as the writer when the role is free, else as a standby;
    both start and stop cleanly."""
    url = postgres.new_schema()
    seen: list[Daemon] = []
    assert run(config_file, url, seen) == 0
    assert "event=store_opened" in capsys.readouterr().err
    with PostgresStore(url, 60.0):  # another replica holds the role
        assert run(config_file, url, seen) == 0
    err = capsys.readouterr().err
    assert "role=standby" in err
    assert [d.standby for d in seen] == [False, True]


def test_unreachable_database_is_storage_unusable_without_the_password(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens at the URL: exit 1, storage_unusable naming the database, no password,
    no traceback."""
    url = f"postgresql://slo:{SECRET_PASSWORD}@127.0.0.1:{free_port()}/slo"
    assert run(config_file, url) == 1
    err = capsys.readouterr().err
    assert "event=storage_unusable" in err
    assert "url=postgresql://slo@127.0.0.1:" in err
    assert SECRET_PASSWORD not in err
    assert "Traceback" not in err


def test_bad_url_is_an_argument_error_without_the_password(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A URL that is not PostgreSQL's is refused like a bad flag (exit 2), password unsaid."""
    with pytest.raises(SystemExit) as exited:
        run(config_file, f"mysql://slo:{SECRET_PASSWORD}@db/slo")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--storage.url must be a PostgreSQL URL" in err
    assert SECRET_PASSWORD not in err


def test_report_reads_the_postgres_store_read_only(
    config_file: Path, postgres: PostgresServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """report --storage.url reads beside the running writer and never takes its role."""
    url = postgres.new_schema()
    with PostgresStore(url, 60.0) as writer:
        writer.record("shop/homepage", 1_700_000_040.0, good=False, span=1.0)
        out = tmp_path / "report.json"
        code = cli.main(["report", f"--config.file={config_file}", f"--storage.url={url}",
                         "--from=2023-11-14", "--to=2023-11-16", "--format=json",
                         f"--output={out}"])
        assert code == 0, capsys.readouterr().err
        assert not writer.readonly
    assert '"homepage"' in out.read_text()
