"""Service-level management in the live daemon, against a real local target.

Two probe SLOs watch the same local HTTP target. A maintenance window,
added by a reload while the daemon runs, covers an outage for one of them:
that SLO stays met, its page condition never holds, and ``slo-exporter
report`` (run beside the daemon, on its store) lists the excluded time. The
other SLO, outside the window, sees the same outage and pages.

Then the daemon is stopped for a while, during which the target fails: the
report over the whole run shows coverage below 1, and compliance computed on
the measured time only (the outage nobody measured is neither good nor bad).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.alerting_chain import LoopbackServer, QuietHandler
from tests.support.harness import (
    ExporterFactory,
    ExporterProcess,
    HarnessError,
    Scrape,
    exporter_argv,
    wait_until,
)

pytestmark = pytest.mark.integration

SERVICE = "shop"
PATCHED, CONTROL = "patched", "control"
WINDOW = "1h"


class SwitchTarget(LoopbackServer):
    """``GET /`` answers 200, or 500 while failing."""

    def __init__(self) -> None:
        self._failing = threading.Event()
        target = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                self.answer(500 if target._failing.is_set() else 200)

        super().__init__(Handler)

    def fail(self, failing: bool) -> None:
        (self._failing.set if failing else self._failing.clear)()


def wall(ts: float) -> str:
    """``ts`` as the wall-clock text a maintenance window takes (UTC)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def config(target_url: str, maintenance: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Two identical 1h probe SLOs on one target, probed every second, 1 s buckets."""
    probe = {"http": {"url": target_url}, "interval": "1s", "timeout": "500ms"}
    doc: dict[str, Any] = {
        "evaluation_interval": "1s",
        "storage": {"resolution": "1s"},
        "services": [{
            "name": SERVICE,
            "slos": [{"name": name, "objective": 99, "window": WINDOW, "sli": {"probe": probe}}
                     for name in (PATCHED, CONTROL)],
        }],
    }
    if maintenance:
        doc["maintenance"] = maintenance
    return doc


def report(exporter: ExporterProcess, start: float, end: float) -> dict[str, dict[str, Any]]:
    """``slo-exporter report`` as JSON over ``[start, end)``, by SLO name."""
    proc = subprocess.run(
        [*exporter_argv(), "report", f"--config.file={exporter.config_path}",
         f"--storage.path={exporter.storage}", f"--from={rfc3339(start)}",
         f"--to={rfc3339(end)}", f"--at={rfc3339(end)}", "--format=json"],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1
    return {entry["slo"]: entry for entry in doc["slos"] if entry["service"] == SERVICE}


def page(scrape: Scrape, slo: str) -> float:
    return scrape.value("slo_burn_rate_alert", service=SERVICE, slo=slo, severity="page")


def wait_for_events(exporter: ExporterProcess) -> None:
    def counted() -> bool | None:
        scrape = exporter.scrape()
        good = scrape.get("slo_events", service=SERVICE, slo=PATCHED, window="5m", result="good")
        return True if good else None

    wait_until(counted, timeout=30, what="first probe events", on_timeout=exporter.log_tail)


def test_maintenance_added_by_reload_hides_an_outage(
    tmp_path: Path, make_exporter: ExporterFactory
) -> None:
    """Outage in a maintenance window: met, no page, excluded time reported; outside, it pages."""
    with SwitchTarget() as target:
        exporter = make_exporter(config(target.url))
        try:
            exporter.start()
            wait_for_events(exporter)
            begin = math.floor(time.time())
            # The window starts on a whole second (1 s buckets) after the reload lands.
            m_start = begin + 3
            m_end = m_start + 14
            window = {"name": "patching", "start": wall(m_start), "end": wall(m_end),
                      "time_zone": "UTC", "slos": [f"{SERVICE}/{PATCHED}"],
                      "reason": "OS patching"}
            exporter.config_path.write_text(
                yaml.safe_dump(config(target.url, [window]), sort_keys=False))
            reloaded = "slo_exporter_config_last_reload_success_timestamp_seconds"
            reloads = exporter.scrape().value(reloaded)
            assert exporter.pid is not None
            os.kill(exporter.pid, signal.SIGHUP)
            wait_until(
                lambda: True if exporter.scrape().value(reloaded) > reloads else None,
                timeout=15, what="the reload with the maintenance window",
                on_timeout=exporter.log_tail)
            assert time.time() < m_start, "the reload took longer than the lead time"

            pages = {PATCHED: 0.0, CONTROL: 0.0}

            def watch_until(deadline: float) -> None:
                while time.time() < deadline:
                    scrape = exporter.scrape()
                    for slo, worst in pages.items():
                        pages[slo] = max(worst, page(scrape, slo))
                    time.sleep(0.25)

            watch_until(m_start + 2)
            target.fail(True)
            watch_until(m_end - 4)
            target.fail(False)
            watch_until(m_end + 3)

            assert pages[CONTROL] == 1.0, "the same outage outside maintenance must page"
            assert pages[PATCHED] == 0.0, "an outage inside maintenance must not page"

            scrape = exporter.scrape()
            assert scrape.value("slo_excluded_seconds", service=SERVICE, slo=PATCHED,
                                window=WINDOW) == m_end - m_start
            assert (scrape.get("slo_excluded_seconds", service=SERVICE, slo=CONTROL,
                               window=WINDOW) or 0.0) == 0.0

            end = math.floor(time.time())
            entries = report(exporter, begin, end)
            patched, control = entries[PATCHED], entries[CONTROL]
            assert patched["excluded_seconds"] == m_end - m_start
            assert patched["events"]["bad"] == 0
            assert patched["events"]["excluded"] > 0
            assert patched["achieved"] == 1.0
            assert patched["met"] is True
            assert control["excluded_seconds"] == 0
            assert control["events"]["bad"] > 0
            assert control["met"] is False
        except HarnessError as exc:
            pytest.fail(f"{exc}\n{exporter.log_tail()}")


def test_time_the_daemon_was_stopped_lowers_coverage_not_compliance(
    tmp_path: Path, make_exporter: ExporterFactory
) -> None:
    """Stopped for a while during an outage: coverage < 1, achieved on measured time only."""
    down_seconds = 8.0
    with SwitchTarget() as target:
        exporter = make_exporter(config(target.url))
        try:
            exporter.start()
            wait_for_events(exporter)
            begin = math.floor(time.time())
            time.sleep(6)
            assert exporter.terminate() == 0, exporter.log_tail()
            target.fail(True)  # nobody measures this outage
            time.sleep(down_seconds)
            target.fail(False)
            exporter.start()
            wait_for_events(exporter)
            time.sleep(6)
            end = math.floor(time.time())

            entry = report(exporter, begin, end)[PATCHED]
            elapsed = end - begin
            assert entry["events"]["bad"] == 0
            assert entry["achieved"] == 1.0
            assert entry["met"] is True
            coverage = entry["coverage"]
            # The stop went unmeasured, less one probe interval: the last
            # probe before it counts as measuring its target until the next
            # one was due. The daemon measured the 6 s before and after it,
            # less up to a second at either end of the span (both ends are
            # cut to whole seconds).
            interval = 1.0
            assert 10 / elapsed <= coverage <= (elapsed - down_seconds + interval) / elapsed, (
                f"coverage {coverage} over {elapsed} s with {down_seconds} s stopped")
        except HarnessError as exc:
            pytest.fail(f"{exc}\n{exporter.log_tail()}")
