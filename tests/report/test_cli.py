"""``slo-exporter report`` in-process: reading a store the daemon holds, exit codes, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from slo_exporter import cli
from slo_exporter.config import load_config
from slo_exporter.store import SQLiteStore
from tests.report import scenario as s
from tests.support.harness import free_port

CONFIG = """\
prometheus: {{url: "http://127.0.0.1:{port}", timeout: 1s, retries: 1}}
services:
  - name: checkout
    slos:
      - name: availability
        objective: 99
        window: 7d
        sli:
          ratio:
            total: http_requests_total
            bad: http_requests_total{{code=~"5.."}}
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG.format(port=free_port()))
    return path


@pytest.fixture
def writer(tmp_path: Path, config_file: Path) -> Iterator[SQLiteStore]:
    """The daemon's store, open for writing for the whole test, holding the week's events."""
    slo = load_config(str(config_file)).slos[0]
    store = SQLiteStore(tmp_path / "data", s.RES)
    store.ensure_fingerprint(slo.key, slo.source_fingerprint, keep_events=False)
    store.commit(slo.key, {s.TUE_10: (990.0, 1000.0), s.WED_12: (900.0, 1000.0)},
                 measured=(s.START - 600, s.END + 600))
    yield store
    store.close()


def _report(config_file: Path, tmp_path: Path, *args: str) -> int:
    return cli.main(["report", f"--config.file={config_file}",
                     f"--storage.path={tmp_path / 'data'}", *args])


def test_reads_the_store_the_daemon_holds_open(
    writer: SQLiteStore, config_file: Path, tmp_path: Path
) -> None:
    """A read-only open beside the writer: the week's figures, then the writer still writes.

    A rolling SLO reads 2026-W10 in UTC: 1,890 good of 2,000 = 94.5 %.
    """
    out = tmp_path / "report.json"
    assert _report(config_file, tmp_path, "--period=2026-W10", "--format=json",
                   f"--output={out}") == 0
    entry = json.loads(out.read_text())["slos"][0]
    assert (entry["achieved"], entry["source"], entry["coverage"]) == (0.945, "store", 1.0)
    assert entry["period"]["time_zone"] == "UTC"
    writer.commit("checkout/availability", {s.NOW: (1.0, 1.0)})  # the lock was never taken


def test_markdown_to_stdout_by_default(
    writer: SQLiteStore, config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --format and --output the markdown goes to standard output."""
    assert _report(config_file, tmp_path, "--from=2026-03-02", "--to=2026-03-09") == 0
    out = capsys.readouterr().out
    assert out.startswith("# Service-level report: 2026-03-02/2026-03-09\n")
    assert "| checkout | availability | 99 % | 94.5000 % | **MISSED** |" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--period=2026-13",), "--period: unknown period '2026-13'"),
        (("--from=2026-03-09", "--to=2026-03-02"), "must be before --to"),
        (("--period=2026-03", "--at=2026-02-01"), "has not started by --at '2026-02-01'"),
        (("--period=2026-03", "--at=tomorrow"), "--at 'tomorrow' is not a date"),
        ((), "say what to report on"),
    ],
)
@pytest.mark.usefixtures("writer")
def test_bad_time_arguments_exit_2_without_traceback(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...], message: str,
) -> None:
    """A bad label or time is a usage error: exit 2, one clear line, no traceback."""
    assert _report(config_file, tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("slo-exporter report: error: ")
    assert message in err
    assert "Traceback" not in err


def test_unknown_format_is_a_usage_error(config_file: Path, tmp_path: Path) -> None:
    """--format outside the four is refused by the argument parser with exit 2."""
    with pytest.raises(SystemExit) as exited:
        _report(config_file, tmp_path, "--period=2026-03", "--format=pdf")
    assert exited.value.code == 2


def test_unreachable_prometheus_writes_the_report_and_exits_1(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No store and no Prometheus: the report still says unmeasured, and the exit is 1."""
    out = tmp_path / "report.json"
    assert _report(config_file, tmp_path, "--period=2026-W10", "--format=json",
                   f"--output={out}") == 1
    entry = json.loads(out.read_text())["slos"][0]
    assert (entry["source"], entry["achieved"]) == ("unmeasured", None)
    err = capsys.readouterr().err
    assert "report_without_store" in err
    assert "history_read_failed" in err


def test_unwritable_output_exits_1(
    writer: SQLiteStore, config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output in a missing directory is a logged error, not a traceback."""
    missing = tmp_path / "no-such-dir" / "report.html"
    assert _report(config_file, tmp_path, "--period=2026-W10", "--format=html",
                   f"--output={missing}") == 1
    err = capsys.readouterr().err
    assert "report_write_failed" in err
    assert "Traceback" not in err


def test_reads_a_store_another_process_holds_for_writing(
    config_file: Path, tmp_path: Path
) -> None:
    """While another process holds the writer's lock, the report still reads the store."""
    slo = load_config(str(config_file)).slos[0]
    script = (
        "import sys\n"
        "from slo_exporter.store import SQLiteStore\n"
        f"store = SQLiteStore({str(tmp_path / 'data')!r}, 60.0)\n"
        f"store.ensure_fingerprint({slo.key!r}, {slo.source_fingerprint!r}, keep_events=False)\n"
        f"store.commit({slo.key!r}, {{{s.WED_12!r}: (900.0, 1000.0)}},\n"
        f"             measured=({s.START - 600!r}, {s.END!r}))\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "store.close()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        out = tmp_path / "report.json"
        assert _report(config_file, tmp_path, "--period=2026-W10", "--format=json",
                       f"--output={out}") == 0
        entry = json.loads(out.read_text())["slos"][0]
        assert (entry["achieved"], entry["source"]) == (0.9, "store")
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0


def test_a_prometheus_echoing_a_configured_secret_does_not_put_it_in_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An error answer that repeats the API key header: masked in the report and the log."""
    secret = "k3y-0f-the-reporting-team"

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._echo()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._echo()

        def _echo(self) -> None:
            body = json.dumps({"status": "error", "errorType": "bad_data",
                               "error": f"key {self.headers.get('X-Api-Key')} refused"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = tmp_path / "slo.yaml"
        config.write_text(CONFIG.format(port=server.server_address[1]).replace(
            "retries: 1}", f'retries: 1, headers: {{X-Api-Key: "{secret}"}}}}'))
        out = tmp_path / "report.md"
        assert _report(config, tmp_path, "--period=2026-W10", "--format=markdown",
                       f"--output={out}") == 1
    finally:
        server.shutdown()
        server.server_close()
    written, err = out.read_text(), capsys.readouterr().err
    assert "refused" in written  # the failure is listed ...
    assert secret not in written  # ... without the key
    assert secret not in err


def test_a_shards_report_holds_only_the_slos_its_store_holds(
    writer: SQLiteStore, config_file: Path, tmp_path: Path
) -> None:
    """With a shard's flags the report covers that shard's SLOs only: of 2 shards,
    checkout/availability is shard 1's (from its store, exit 0) and api/availability
    shard 0's, which this store lacks (without the flags the report would read it from the
    unreachable Prometheus and exit 1)."""
    config_file.write_text(config_file.read_text() + """\
  - name: api
    slos:
      - name: availability
        objective: 99
        window: 7d
        sli: {ratio: {total: api_requests_total, bad: 'api_requests_total{code="500"}'}}
""")
    out = tmp_path / "report.json"
    args = ("--period=2026-W10", "--format=json", f"--output={out}")
    assert _report(config_file, tmp_path, *args, "--shard.count=2", "--shard.index=1") == 0
    slos = json.loads(out.read_text())["slos"]
    assert [(e["service"], e["slo"], e["achieved"]) for e in slos] == [
        ("checkout", "availability", 0.945)]
    assert _report(config_file, tmp_path, *args) == 1
    assert {e["service"] for e in json.loads(out.read_text())["slos"]} == {"checkout", "api"}
