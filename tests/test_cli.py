"""The command line in-process: exit codes and messages of check, rules and run."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from slo_exporter import cli
from slo_exporter.daemon import Daemon
from slo_exporter.store import SQLiteStore

GOOD = """\
evaluation_interval: 1s
services:
  - name: shop
    slos:
      - name: homepage
        objective: 99
        window: 1d
        sli:
          probe:
            http: {url: "http://127.0.0.1:9/"}
            interval: 1s
            timeout: 500ms
"""




@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(GOOD)
    return path


def _free_address() -> str:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_rules_prints_the_rule_file(capsys: pytest.CaptureFixture[str]) -> None:
    """`rules` exits 0 and prints Prometheus rule groups."""
    assert cli.main(["rules"]) == 0
    assert "groups:" in capsys.readouterr().out


def test_check_says_ok(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check` on a valid file exits 0 and counts services and SLOs."""
    assert cli.main(["check", f"--config.file={config_file}"]) == 0
    assert capsys.readouterr().out == f"{config_file}: OK, 1 service(s), 1 SLO(s)\n"


def test_check_lists_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`check` on an invalid file exits 1 with the located problem and a count."""
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("objective: 99", "objective: 150"))
    assert cli.main(["check", f"--config.file={path}"]) == 1
    err = capsys.readouterr().err
    assert f"{path}:6: services[0].slos[0].objective" in err
    assert "1 problem(s) found" in err


def test_run_until_stopped_exits_0(config_file: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`run` serves until a stop is requested, then exits 0 having logged starting and stopped."""
    seen: list[Daemon] = []

    def started(daemon: Daemon) -> None:
        seen.append(daemon)
        threading.Timer(0.2, daemon.request_stop, args=("test",)).start()

    code = cli.main(["run", f"--config.file={config_file}",
                     f"--storage.path={tmp_path / 'data'}",
                     f"--web.listen-address={_free_address()}"], started=started)

    assert code == 0
    err = capsys.readouterr().err
    assert "event=starting" in err
    assert "event=stopped" in err
    assert seen
    assert seen[0].stopping


def test_run_stops_on_sigterm(config_file: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """`run` exits 0 on SIGTERM, logging which signal stopped it."""
    before = signal.getsignal(signal.SIGTERM)

    def send() -> None:
        deadline = time.monotonic() + 5
        while signal.getsignal(signal.SIGTERM) is before and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send, daemon=True).start()
    code = cli.main(["run", f"--config.file={config_file}",
                     f"--storage.path={tmp_path / 'data'}",
                     f"--web.listen-address={_free_address()}"])

    assert code == 0
    assert "event=shutdown_requested signal=SIGTERM" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before


def test_storage_path_that_is_a_file_is_a_storage_error(
        config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file where the storage directory should be: storage_unusable naming it, exit 1."""
    storage = tmp_path / "not-a-dir"
    storage.write_text("x")
    code = cli.main(["run", f"--config.file={config_file}", f"--storage.path={storage}",
                     f"--web.listen-address={_free_address()}"])

    err = capsys.readouterr().err
    assert code == 1
    assert "event=storage_unusable" in err
    assert str(storage) in err
    assert "listen_failed" not in err


def test_storage_on_a_full_device_is_a_storage_error(
        config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Storage on a full device (/dev/full) is storage_unusable, not listen_failed."""
    storage = tmp_path / "data"
    storage.mkdir()
    # The store's first write at start is its identity marker, through this
    # temporary file: every write to /dev/full fails with ENOSPC.
    os.symlink("/dev/full", storage / ".store.id.tmp")
    code = cli.main(["run", f"--config.file={config_file}", f"--storage.path={storage}",
                     f"--web.listen-address={_free_address()}", "--log.format=json"],
                    started=lambda daemon: daemon.request_stop("the store should have failed"))

    err = capsys.readouterr().err
    assert code == 1
    assert '"event": "storage_unusable"' in err
    assert str(storage) in err
    assert "listen_failed" not in err
    assert "Traceback" not in err


def test_listen_address_in_use_is_a_listen_error(
        config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A taken port is listen_failed naming the address, and the store is released again."""
    storage = tmp_path / "data"
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        code = cli.main(["run", f"--config.file={config_file}", f"--storage.path={storage}",
                         f"--web.listen-address={address}"])

    err = capsys.readouterr().err
    assert code == 1
    assert "event=listen_failed" in err
    assert address in err
    with SQLiteStore(storage, 60.0) as store:  # the lock was released
        assert store.slo_keys() == ("shop/homepage",)


def test_bad_listen_address_is_a_listen_error(
        config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A listen address without a port is listen_failed, not a traceback."""
    code = cli.main(["run", f"--config.file={config_file}", f"--storage.path={tmp_path / 'd'}",
                     "--web.listen-address=localhost"])

    err = capsys.readouterr().err
    assert code == 1
    assert "event=listen_failed" in err
    assert "host:port" in err


def test_run_with_invalid_config_creates_no_storage(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run` refuses an invalid file with exit 1 before touching the storage path."""
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("objective: 99", "objective: 150"))
    code = cli.main(["run", f"--config.file={path}", f"--storage.path={tmp_path / 'data'}",
                     f"--web.listen-address={_free_address()}"])

    assert code == 1
    assert "objective" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()
