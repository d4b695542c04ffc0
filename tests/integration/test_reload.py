"""SIGHUP re-reads the config: good changes apply without losing events, bad ones are refused,
and the running config keeps probing until the new one is ready."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_shutdown import TricklingPrometheus
from tests.support.alerting_chain import FlakyTarget
from tests.support.harness import ExporterProcess, HarnessError, Scrape

pytestmark = pytest.mark.integration


def _probe_slo(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "objective": 99, "window": "1d",
            "sli": {"probe": {"http": {"url": url}, "interval": "1s", "timeout": "500ms"}}}


def _config(*slos: dict[str, Any]) -> dict[str, Any]:
    return {"evaluation_interval": "1s", "services": [{"name": "web", "slos": list(slos)}]}


def _events(scrape: Scrape, slo: str) -> float:
    return sum(scrape.value("slo_events", service="web", slo=slo, window="1h", result=r)
               for r in ("good", "bad"))


def _log_events(exporter: ExporterProcess) -> list[dict[str, Any]]:
    lines = exporter.log_path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def _hup(exporter: ExporterProcess) -> None:
    assert exporter.proc is not None
    assert exporter.alive
    exporter.proc.send_signal(signal.SIGHUP)


def test_sighup_applies_a_good_config_and_refuses_a_bad_one(make_exporter: Any) -> None:
    """An added SLO appears and kept events stay; an invalid file leaves the old config running."""
    with FlakyTarget() as target:
        exporter: ExporterProcess = make_exporter(_config(_probe_slo("home", f"{target.url}/")))
        try:
            exporter.start(ready_timeout=60)
            before = exporter.wait_for_scrape(
                lambda s: (s.get("slo_events", service="web", slo="home", window="1h",
                                 result="good") or 0) >= 3,
                timeout=30, what="three probe events")
            kept = _events(before, "home")

            config_path: Path = exporter.config_path
            config_path.write_text(yaml.safe_dump(_config(
                _probe_slo("home", f"{target.url}/"), _probe_slo("api", f"{target.url}/api"))))
            _hup(exporter)
            after = exporter.wait_for_scrape(
                lambda s: s.get("slo_sli_up", service="web", slo="api") == 1.0,
                timeout=30, what="the added SLO up after the reload")
            assert _events(after, "home") >= kept, "events of an unchanged SLO were lost"
            assert after.value("slo_exporter_config_last_reload_successful") == 1.0

            config_path.write_text("services:\n  - name: web\n    slos:\n      - name: x\n"
                                   "        objective: 150\n")
            _hup(exporter)
            refused = exporter.wait_for_scrape(
                lambda s: s.get("slo_exporter_config_last_reload_successful") == 0.0,
                timeout=30, what="the refused reload")
            assert refused.get("slo_sli_up", service="web", slo="api") == 1.0
            assert exporter.alive
            failures = [e for e in _log_events(exporter) if e["event"] == "config_reload_failed"]
            assert failures, "no config_reload_failed log event"
            assert any("objective" in p for p in failures[-1]["problems"])
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def trickling() -> Iterator[TricklingPrometheus]:
    """A Prometheus that answers one byte per second."""
    with TricklingPrometheus() as server:
        yield server


def test_probes_stay_up_while_a_reload_waits_on_prometheus(
        make_exporter: Any, trickling: TricklingPrometheus) -> None:
    """While an added SLO's backfill hangs on Prometheus, probe SLOs keep counting and stay up."""
    with FlakyTarget() as target:
        probe_only = _config(_probe_slo("home", f"{target.url}/"))
        probe_only["prometheus"] = {"url": trickling.url, "timeout": "30s", "retries": 1}
        # a query may take as long as the interval (the added SLO's first
        # cycle hangs on it for 15 s, half the interval, with its retries)
        probe_only["evaluation_interval"] = "30s"
        exporter: ExporterProcess = make_exporter(probe_only)
        try:
            exporter.start(ready_timeout=60)
            exporter.wait_for_scrape(
                lambda s: s.get("slo_sli_up", service="web", slo="home") == 1.0,
                timeout=30, what="the probe SLO up")

            with_ratio = dict(probe_only)
            with_ratio["services"] = [{"name": "web", "slos": [
                _probe_slo("home", f"{target.url}/"),
                {"name": "api", "objective": 99, "window": "1d",
                 "sli": {"ratio": {"total": "http_requests_total",
                                   "bad": 'http_requests_total{code="500"}'}}}]}]
            exporter.config_path.write_text(yaml.safe_dump(with_ratio))
            _hup(exporter)
            assert trickling.queried.wait(30), "the reload never queried Prometheus"
            before = _events(exporter.scrape(), "home")
            # Longer than the 2 intervals + timeout after which a probe SLO counts as late.
            time.sleep(4.0)
            during = exporter.scrape()
            assert during.value("slo_sli_up", service="web", slo="home") == 1.0
            assert _events(during, "home") > before, "probe events stopped during the reload"
            assert during.get("slo_sli_up", service="web", slo="api") is None, "swapped early"

            started = time.monotonic()
            code = exporter.terminate(timeout=15)
            assert time.monotonic() - started < 10
            assert code == 0, exporter.log_tail()
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)
