"""The worked example of README "Service-level management" is what the code does.

The example's config is parsed from the README, its March is written into a
store as the README tells it, and the report's markdown and csv must contain
the README's lines verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog

from slo_exporter.config import parse_config
from slo_exporter.report import Report, Request, build_report, render
from slo_exporter.store import SQLiteStore

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = (README.read_text().split("\n## Service-level management\n", 1)[1]
           .split("\n## Deploying\n", 1)[0])
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", SECTION, flags=re.S)
BERLIN = ZoneInfo("Europe/Berlin")


def _at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=BERLIN).timestamp()


@pytest.fixture(scope="module")
def march(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    """March 2026 as the README tells it, reported from a store."""
    config = parse_config(next(b for kind, b in BLOCKS if kind == "yaml"), "README.md")
    start, end = _at(1, 0), datetime(2026, 4, 1, tzinfo=BERLIN).timestamp()
    store = SQLiteStore(tmp_path_factory.mktemp("store"), config.storage.resolution)
    for slo in config.slos:
        store.ensure_fingerprint(slo.key, slo.source_fingerprint,
                                 keep_events=not slo.remeasurable)
    minutes: dict[float, tuple[float, float]] = {}
    for i in range(int((end - start) // 60)):
        t = start + i * 60
        good = 100.0
        if _at(17, 14) <= t < _at(17, 15) or _at(29, 1, 30) <= t < _at(29, 3, 30):
            good = 0.0  # the outage, and the one inside maintenance
        elif _at(10, 10) <= t < _at(10, 12):
            good = 95.0  # exactly at the slice target
        minutes[t] = (good, 100.0)
    store.commit("checkout/availability", minutes, measured=(start - 600, end + 600))
    down = (_at(12, 9), _at(12, 9, 45))
    probes = {start + i * 60: (0.0 if down[0] <= start + i * 60 < down[1] else 1.0, 1.0)
              for i in range(int((end - start) // 60))}  # one probe a minute, all measured
    store.commit("payments-vendor/api", probes, measured=(start, end))
    yield build_report(config, Request.parse("2026-03", None, None, None), store=store,
                       prometheus=None, now=_at(20, 0) + 86400 * 14, log=structlog.get_logger())
    store.close()


def test_markdown_lines_are_the_reports(march: Report) -> None:
    """Every table row and detail line the README shows is in the report's markdown."""
    shown = next(b for kind, b in BLOCKS if b.startswith("# Service-level report"))
    produced = render(march, "markdown")
    lines = [line for line in shown.splitlines()
             if line.startswith(("|", "- ", "## ")) and line != "..."]
    assert len(lines) > 10
    for line in lines:
        assert line in produced


def test_csv_row_is_the_reports(march: Report) -> None:
    """The README's csv header and checkout row are the report's first two lines."""
    shown = next(b for kind, b in BLOCKS if b.startswith("service,slo,"))
    produced = render(march, "csv").splitlines()
    assert shown.splitlines() == produced[:2]
