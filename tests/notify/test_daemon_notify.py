"""The daemon with --alertmanager.url: its own pages reach Alertmanager, reloads resolve.

Runs ``slo-exporter run`` in-process against a probe target that fails
every request and a recording stand-in for Alertmanager on 127.0.0.1.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from slo_exporter import cli
from slo_exporter.daemon import Daemon
from tests.notify.servers import RecordingAlertmanager
from tests.support.alerting_chain import FlakyTarget
from tests.support.harness import free_port

CONFIG = """\
evaluation_interval: 1s
storage: {{resolution: 1s}}
services:
  - name: shop
    labels: {{owner: platform, tier: critical}}
    slos:
      - name: {name}
        objective: 99
        window: 1d
        sli:
          probe:
            http: {{url: "{url}"}}
            interval: 1s
            timeout: 500ms
"""


def _ends(alert: dict[str, Any]) -> float:
    return datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00")).timestamp()


def _wait(what: str, check: Any, timeout: float = 8.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_the_daemon_pages_directly_and_resolves_an_slo_a_reload_removed(
        tmp_path: Path) -> None:
    """A failing probe fires SLOBurnRatePage 1h/5m (factor 0.02 * 1d / 1h = 0.48; one
    failed probe in 1 burns 1 / 0.01 = 100) at the Alertmanager with the rule's labels
    plus --alertmanager.label; a reload without that SLO sends it resolved; the
    notification counter counts both posts as sent."""
    config = tmp_path / "slo.yaml"
    seen: list[tuple[Daemon, list[dict[str, Any]], list[dict[str, Any]]]] = []
    with FlakyTarget() as bad, FlakyTarget() as good, RecordingAlertmanager() as am:
        bad.set_failure_share(1.0)
        config.write_text(CONFIG.format(name="homepage", url=f"{bad.url}/"))

        def started(daemon: Daemon) -> None:
            try:
                def page() -> list[dict[str, Any]]:
                    return [a for a in am.alerts()
                            if a["labels"].get("long_window") == "1h"]
                fired = _wait("the page", page)
                config.write_text(CONFIG.format(name="landing", url=f"{good.url}/"))
                assert daemon.reload()

                def resolved() -> list[dict[str, Any]]:
                    # firing alerts end 4 resend intervals ahead; resolved ones now
                    return [a for a in page() if a["labels"]["slo"] == "homepage"
                            and _ends(a) <= time.time()]
                done = _wait("the resolved alert", resolved)
                seen.append((daemon, fired, done))
            finally:
                daemon.request_stop("test")

        code = cli.main(["run", f"--config.file={config}",
                         f"--storage.path={tmp_path / 'data'}",
                         f"--web.listen-address=127.0.0.1:{free_port()}",
                         f"--alertmanager.url={am.url}",
                         "--alertmanager.label=instance=exporter-1:10950"], started=started)
    assert code == 0
    daemon, fired, done = seen[0]
    assert fired[0]["labels"] == {
        "alertname": "SLOBurnRatePage", "service": "shop", "slo": "homepage",
        "severity": "page", "long_window": "1h", "short_window": "5m",
        "owner": "platform", "tier": "critical", "instance": "exporter-1:10950"}
    assert "both above 0.48" in fired[0]["annotations"]["description"]
    assert done[-1]["startsAt"] == fired[0]["startsAt"]
    sent = daemon.registry.get_sample_value(
        "slo_exporter_notifications_total",
        {"alertmanager": f"http://127.0.0.1:{am.port}", "result": "sent"})
    assert sent is not None
    assert sent >= 2


@pytest.mark.parametrize(("flag", "why"), [
    ("--alertmanager.url=ftp://ops:hunter2x@am:9093", "must start with http"),
    ("--alertmanager.timeout=0s", "positive duration"),
    ("--alertmanager.label=no-equals", "NAME=VALUE"),
])
def test_bad_alertmanager_flags_are_usage_errors_without_secrets(
        flag: str, why: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad flag exits 2 with the reason, and never echoes a password."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", f"--config.file={tmp_path / 'x.yaml'}", flag])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert why in err
    assert "hunter2x" not in err
