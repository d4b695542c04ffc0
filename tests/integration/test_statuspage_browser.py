"""The status page at / of a running slo-exporter, loaded in real headless Chromium."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.alerting_chain import FlakyTarget
from tests.support.harness import ExporterProcess, HarnessError, require_binary, wait_until

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_TIMEOUT = 90


def _probe_slo(name: str, url: str, objective: float, window: str) -> dict[str, Any]:
    return {
        "name": name,
        "objective": objective,
        "window": window,
        "description": f"{name} answers <ok> & fast",  # markup that must arrive escaped
        "sli": {"probe": {"http": {"url": url}, "interval": "1s", "timeout": "500ms"}},
    }


@pytest.fixture
def chromium() -> str:
    """Path of Debian's chromium; the test fails (never skips) without it."""
    try:
        return require_binary("chromium")
    except HarnessError as exc:
        pytest.fail(f"{exc} (apt-get install chromium)", pytrace=False)


@pytest.fixture
def exporter(make_exporter: Any) -> Iterator[ExporterProcess]:
    """A running exporter probing one healthy and one failing local endpoint."""
    with FlakyTarget() as healthy, FlakyTarget() as failing:
        failing.set_failure_share(1.0)
        config = {
            "evaluation_interval": "1s",
            # Budget history points are whole buckets apart (the stored span /
            # 47, rounded down to the resolution, at least one bucket): with 5s
            # buckets the second point, and so a sparkline, appears within
            # seconds of the first probes, where the default 60s buckets would
            # keep the test waiting for the next whole minute.
            "storage": {"resolution": "5s"},
            "services": [
                {
                    "name": "shop",
                    "labels": {"owner": "web-team", "tier": "critical"},
                    "slos": [
                        _probe_slo("homepage", f"{healthy.url}/ok", 99.0, "1h"),
                        # a total outage on a 30d SLO: both page windows burn at 1000x
                        _probe_slo("checkout", f"{failing.url}/fail", 99.9, "30d"),
                    ],
                }
            ],
        }
        process: ExporterProcess = make_exporter(config)
        try:
            process.start(ready_timeout=60)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield process


def _run_chromium(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        argv = [
            chromium,
            "--headless",
            "--no-sandbox",  # tests may run as root in a container
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1280,900",
            *args,
        ]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False
        )
    if done.returncode != 0:
        pytest.fail(f"chromium exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done


def _wait_for_page_state(url: str) -> None:
    """Wait until both SLOs were evaluated, checkout pages and homepage has budget history."""

    def ready() -> bool | None:
        doc = requests.get(f"{url}/api/v1/slos", timeout=5).json()
        entries = {e["slo"]: e for e in doc["slos"]}
        if set(entries) != {"homepage", "checkout"}:
            return None
        if not entries["checkout"]["alerts"]["page"]:
            return None
        if len(entries["homepage"]["error_budget_history"]) < 2:
            return None
        return True

    wait_until(ready, timeout=90, what="page alert and budget history", interval=0.5)


@pytest.mark.integration
def test_status_page_renders_in_chromium(chromium: str, exporter: ExporterProcess) -> None:
    """Chromium shows both SLOs with budget bars, burn rates, the page alert and a sparkline.

    The same daemon serves /catalog, /api/v1/services and /?sort=burn.
    """
    try:
        _wait_for_page_state(exporter.url)
    except HarnessError as exc:
        pytest.fail(f"{exc}\n{exporter.log_tail()}", pytrace=False)

    dom = _run_chromium(chromium, "--dump-dom", f"{exporter.url}/").stdout
    assert "<title>SLO status</title>" in dom
    assert 'data-service="shop"' in dom
    assert 'data-slo="shop/homepage"' in dom
    assert 'data-slo="shop/checkout"' in dom
    assert "owner=web-team" in dom
    # checkout: every probe failed, so its budget is overspent and it pages
    assert '<span class="badge firing">PAGE</span>' in dom
    assert "overspent by" in dom
    assert '<div class="fill bad" style="width: 0.0%">' in dom
    # homepage: all good, full budget, burn rate 0 in every window
    assert "100.0% left" in dom
    assert '<div class="fill ok" style="width: 100.0%">' in dom
    assert '<span class="burn" data-window="5m"><b>5m</b> 0.00\u00d7</span>' in dom
    assert '<svg class="spark"' in dom
    assert '<div id="summary-paging" class="alarm"><b>1</b>' in dom
    # configured text reaches the page as text, never as markup
    assert "answers &lt;ok&gt; &amp; fast" in dom
    assert "<ok>" not in dom

    # the daemon serves the catalog, its JSON twin and the burn ordering too
    services = requests.get(f"{exporter.url}/api/v1/services", timeout=5).json()
    assert [s["name"] for s in services["services"]] == ["shop"]
    assert services["services"][0]["owner"] == "web-team"
    assert 'data-service="shop"' in requests.get(f"{exporter.url}/catalog", timeout=5).text
    ranked = requests.get(f"{exporter.url}/?sort=burn", timeout=5).text
    assert ranked.index('data-slo="shop/checkout"') < ranked.index('data-slo="shop/homepage"')

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "statuspage.png"
    screenshot.unlink(missing_ok=True)
    _run_chromium(chromium, f"--screenshot={screenshot}", f"{exporter.url}/")
    assert screenshot.exists()
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a blank page compresses to far less
