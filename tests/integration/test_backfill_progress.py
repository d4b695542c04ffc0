"""The cold start shows its progress, against a real Prometheus.

Prometheus holds the 32-day synthetic history (one sample every 30 s). The
daemon starts on an empty store with six 30-day SLOs read in 1-day chunks,
so its first cycle backfills 6 x 30 days (about 260,000 raw samples per
selector pair) over a few seconds. Meanwhile ``/-/ready``, ``/metrics`` and
``/`` are polled: they must say it is backfilling and how far it got, then
turn ready once the first cycle is complete.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from tests.support.harness import (
    API_BAD,
    API_GOOD,
    API_TOTAL,
    ExporterFactory,
    PrometheusFactory,
    Scrape,
    SLOSpec,
    exporter_config,
    wait_until,
)

pytestmark = pytest.mark.integration

SLOS = tuple(
    SLOSpec("api", f"slo-{i}", total=API_TOTAL,
            **({"bad": API_BAD} if i % 2 else {"good": API_GOOD}),
            objective=99.0 + i / 10, window="30d")
    for i in range(6)
)


def test_cold_start_reports_progress_until_ready(
    make_prometheus: PrometheusFactory, make_exporter: ExporterFactory
) -> None:
    """While 6 SLOs backfill 30 days: /-/ready is 503 "backfilling: X of 6 SLOs",
    the gauges show SLOs left and a share read below 1, / shows a banner; then
    /-/ready is 200, the gauges rest at 0 SLOs left and ratio 1, and the log says
    backfill_finished for 6 SLOs once."""
    prometheus = make_prometheus()
    config = exporter_config(prometheus.url, SLOS, evaluation_interval="10s", query_delay="2s")
    config["prometheus"]["backfill_chunk"] = "1d"
    # every sample read one by one: the hour tier would finish before a poll sees it
    config["prometheus"]["backfill_hourly_after"] = "30d"
    exporter = make_exporter(config)
    exporter.launch()

    bodies: list[str] = []
    remaining: list[float] = []
    ratios: list[float] = []
    banners = 0

    def poll() -> bool | None:
        nonlocal banners
        if not exporter.alive:
            raise AssertionError(f"slo-exporter exited\n{exporter.log_tail()}")
        try:
            ready = requests.get(f"{exporter.url}/-/ready", timeout=5)
        except requests.ConnectionError:
            return None  # not listening yet
        if ready.status_code == 200:
            return True
        bodies.append(ready.text)
        scrape = Scrape(requests.get(f"{exporter.url}/metrics", timeout=5).text)
        remaining.append(scrape.value("slo_exporter_backfill_remaining_slos"))
        ratios.append(scrape.value("slo_exporter_backfill_progress_ratio"))
        banners += 'id="backfilling"' in requests.get(f"{exporter.url}/", timeout=5).text
        return None

    started = time.monotonic()
    wait_until(poll, timeout=120, what="slo-exporter /-/ready", interval=0.1,
               on_timeout=exporter.log_tail)
    took = time.monotonic() - started

    backfilling = [b for b in bodies if "backfilling" in b]
    assert backfilling, f"never saw a backfilling answer in {took:.1f} s: {bodies[:3]}"
    for body in backfilling:
        found = re.fullmatch(r"slo-exporter is not ready: backfilling: (\d) of 6 SLOs\.\n", body)
        assert found is not None, body
        assert int(found.group(1)) < 6
    assert any(r > 0 for r in remaining)
    assert any(0.0 < r < 1.0 for r in ratios), ratios
    assert banners > 0

    scrape = exporter.scrape()
    assert scrape.value("slo_exporter_backfill_remaining_slos") == 0.0
    assert scrape.value("slo_exporter_backfill_progress_ratio") == 1.0
    events = [json.loads(line) for line in exporter.log_path.read_text().splitlines()
              if line.startswith("{")]
    finished = [e for e in events if e.get("event") == "backfill_finished"]
    assert len(finished) == 1
    assert finished[0]["slos"] == 6
    assert finished[0]["samples"] > 6 * 2 * 30 * 2880  # two selectors, 2 series or more each
