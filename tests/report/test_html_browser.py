"""The html report opened from a file in real headless Chromium, screenshot kept as an artifact."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
import structlog

from slo_exporter.report import Request, build_report, render
from tests.report import scenario as s
from tests.support.harness import HarnessError, require_binary

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_TIMEOUT = 90


def _chromium(binary: str, *args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--window-size=1280,1700", *args],
            capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT, check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"chromium exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


@pytest.mark.integration
def test_html_report_renders_in_chromium(tmp_path: Path) -> None:
    """Chromium shows the summary with verdicts and the credit, and a chart per SLO."""
    try:
        chromium = require_binary("chromium")
    except HarnessError as exc:
        pytest.fail(f"{exc} (apt-get install chromium)", pytrace=False)
    writer = s.fill(tmp_path / "data")
    report = build_report(s.config(), Request.parse("2026-W10", None, None, None), store=writer,
                          prometheus=None, now=s.NOW, log=structlog.get_logger(), days=True)
    writer.close()
    page = tmp_path / "report.html"
    page.write_text(render(report, "html"), encoding="utf-8")

    dom = _chromium(chromium, "--dump-dom", page.as_uri())
    assert "<title>Service-level report 2026-W10</title>" in dom
    assert dom.count('class="chart"') == 4
    assert "\u2718 MISSED" in dom
    assert '<span class="credit">25 %</span>' in dom
    assert "Orders &lt;placed&gt; &amp; paid" in dom

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    _chromium(chromium, f"--screenshot={screenshot}", page.as_uri())
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000  # a blank page compresses to far less
