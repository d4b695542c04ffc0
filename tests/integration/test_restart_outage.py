"""Windows stay exact across a SIGKILLed daemon and a stopped Prometheus.

Prometheus holds the 32-day synthetic history and keeps scraping a live
target that continues it, so events keep arriving while the daemon is dead
or Prometheus is down. The expected values come from Prometheus's own raw
samples at the instant the daemon says its values describe, with the same
exact-increase and bucket rules (tests/support/synth.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pytest
import requests

from tests.support.harness import (
    API_BAD,
    API_GOOD,
    API_TOTAL,
    CounterTarget,
    ExporterFactory,
    ExporterProcess,
    PrometheusFactory,
    PrometheusServer,
    Scrape,
    SLOSpec,
    evaluated_at,
    exporter_config,
    stored_samples,
    up_after,
    wait_until,
    window_mismatches,
)

pytestmark = pytest.mark.integration

SLOS = (
    SLOSpec("api", "availability", total=API_TOTAL, bad=API_BAD, objective=99.9, window="30d"),
    SLOSpec("api", "success", total=API_TOTAL, good=API_GOOD, objective=99.5, window="30d"),
)
#: Every exported window, so the short ones (where live events land) count too.
ALL_WINDOWS: Mapping[str, float] = {
    "5m": 300.0, "30m": 1800.0, "1h": 3600.0, "2h": 7200.0, "6h": 21600.0,
    "1d": 86400.0, "3d": 3 * 86400.0, "30d": 30 * 86400.0,
}
EVALUATION_INTERVAL = 2.0


def config(prometheus: PrometheusServer) -> dict[str, object]:
    return exporter_config(
        prometheus.url, SLOS, evaluation_interval="2s", query_delay="2s", timeout="2s"
    )


def live_prometheus(make_prometheus: PrometheusFactory, target: CounterTarget) -> PrometheusServer:
    """Prometheus with the history, scraping the live target every second."""
    prometheus = make_prometheus(scrape_configs=[target.scrape_config()])
    prometheus.wait_for_sample_after(API_TOTAL, time.time(), timeout=30)
    return prometheus


def assert_exact(scrape: Scrape, prometheus: PrometheusServer) -> None:
    problems = [
        p for slo in SLOS
        for p in window_mismatches(scrape, slo, stored_samples(prometheus), windows=ALL_WINDOWS)
    ]
    assert not problems, "\n".join(problems)


def samples_read(query_log: Path, since: float, until: float) -> int:
    """Raw samples Prometheus touched for queries logged in [since, until] (query stats)."""
    total = 0
    for line in query_log.read_text().splitlines():
        entry = json.loads(line)
        logged = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
        if since <= logged <= until:
            total += int(entry.get("stats", {}).get("samples", {}).get("totalQueryableSamples", 0))
    return total


def full_window_samples(prometheus: PrometheusServer, at: float) -> int:
    """Samples one full 30d read of every SLO selector touches, for comparison."""
    selectors = [s for slo in SLOS for s in (slo.total, slo.good, slo.bad) if s]
    return sum(
        int(prometheus.query(f"{s}[30d]", at, stats=True)["stats"]["samples"]
            ["totalQueryableSamples"])
        for s in selectors
    )


def test_sigkill_and_restart_keep_windows_exact(
    make_prometheus: PrometheusFactory,
    make_exporter: ExporterFactory,
    live_counters: CounterTarget,
) -> None:
    """SIGKILL during backfill and mid-run, restart on the same storage: windows stay exact."""
    prometheus = make_prometheus(
        scrape_configs=[live_counters.scrape_config()], query_log=True
    )
    prometheus.wait_for_sample_after(API_TOTAL, time.time(), timeout=30)
    exporter: ExporterProcess = make_exporter(config(prometheus))

    # killed as soon as it has a store, i.e. during the cold-start backfill
    exporter.launch()
    wait_until(
        lambda: True if exporter.storage.is_dir() and any(exporter.storage.iterdir()) else None,
        timeout=30, interval=0.05, what="the daemon to create its store",
        on_timeout=exporter.log_tail,
    )
    exporter.kill()
    exporter.start(ready_timeout=120)
    scrape = exporter.wait_for_scrape(up_after(SLOS, 0.0), timeout=30, what="a first evaluation")
    assert_exact(scrape, prometheus)

    # killed mid-run; the app restarts meanwhile (counter reset) and
    # Prometheus keeps scraping, so the restarted daemon has a gap to fill
    exporter.wait_for_scrape(
        up_after(SLOS, evaluated_at(scrape, SLOS[0])), timeout=30, what="one more evaluation"
    )
    exporter.kill()
    assert not exporter.alive
    killed_at = time.time()
    live_counters.reset()
    time.sleep(3 * EVALUATION_INTERVAL)
    restarted_at = time.time()
    exporter.start(ready_timeout=60)
    scrape = exporter.wait_for_scrape(
        up_after(SLOS, killed_at), timeout=60, what="an evaluation covering the killed span"
    )
    caught_up_at = time.time()
    assert_exact(scrape, prometheus)

    # a restart reads the gap, not the whole 30 days again
    assert prometheus.query_log_path is not None
    read = samples_read(prometheus.query_log_path, restarted_at, caught_up_at)
    full = full_window_samples(prometheus, time.time())
    print(f"restart read {read} samples; one full-window read of every selector: {full}")
    assert read < 0.05 * full, f"restart read {read} samples, full window is {full}"


def test_prometheus_outage_shows_down_then_backfills_exactly(
    make_prometheus: PrometheusFactory,
    make_exporter: ExporterFactory,
    live_counters: CounterTarget,
) -> None:
    """Prometheus down for several intervals: slo_sli_up 0, daemon alive; then exact again."""
    prometheus = live_prometheus(make_prometheus, live_counters)
    exporter: ExporterProcess = make_exporter(config(prometheus))
    exporter.start(ready_timeout=120)
    scrape = exporter.wait_for_scrape(up_after(SLOS, 0.0), timeout=30, what="a first evaluation")
    assert_exact(scrape, prometheus)

    prometheus.stop()
    stopped_at = time.time()

    def all_down(scrape: Scrape) -> bool:
        return all(
            scrape.get("slo_sli_up", service=s.service, slo=s.name) == 0.0 for s in SLOS
        )

    exporter.wait_for_scrape(all_down, timeout=30, what="slo_sli_up 0 after Prometheus stopped")
    # stay down for several evaluation intervals; every scrape must answer
    # quickly (a scrape never waits on Prometheus) and show the source down
    down_until = time.monotonic() + 4 * EVALUATION_INTERVAL
    observed = 0
    while time.monotonic() < down_until:
        began = time.monotonic()
        scrape = exporter.scrape()
        assert time.monotonic() - began < 1.0, "a scrape waited on the unreachable Prometheus"
        assert all_down(scrape), "slo_sli_up went back to 1 while Prometheus was down"
        assert requests.get(f"{exporter.url}/-/healthy", timeout=2).status_code == 200
        observed += 1
        time.sleep(0.5)
    assert exporter.alive, f"the daemon exited during the outage\n{exporter.log_tail()}"
    assert observed >= 4

    prometheus.start()
    restarted_at = time.time()
    prometheus.wait_for_sample_after(API_TOTAL, restarted_at, timeout=30)
    scrape = exporter.wait_for_scrape(
        up_after(SLOS, restarted_at), timeout=60, what="slo_sli_up back to 1 after the outage"
    )
    assert exporter.alive
    assert restarted_at - stopped_at >= 4 * EVALUATION_INTERVAL
    assert_exact(scrape, prometheus)
