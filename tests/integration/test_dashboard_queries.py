"""Every dashboard query returns data from a real Prometheus scraping a running exporter."""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.alerting_chain import FlakyTarget
from tests.support.harness import (
    HOST,
    ExporterProcess,
    HarnessError,
    PrometheusServer,
    running,
    wait_until,
)

GENERATOR = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "generate.py"

#: samples Prometheus must hold before rate() over the dashboards' interval has two points
MIN_SCRAPES = 4


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grafana_generate", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def exporter(make_exporter: Any) -> Iterator[ExporterProcess]:
    """A running exporter with a probe SLO against a local healthy endpoint, and one under
    an SLA against an endpoint that always fails: so the period verdict, the exhaustion
    forecast and the SLA credit, which only such an SLO has, are exported too."""
    with FlakyTarget() as target, FlakyTarget() as broken:  # failure shares 0 and 1
        broken.set_failure_share(1.0)
        config = {
            "evaluation_interval": "1s",
            "services": [
                {
                    "name": "shop",
                    "labels": {"owner": "web-team"},
                    "slos": [
                        {
                            "name": "homepage",
                            "objective": 99.5,
                            "window": "30d",
                            "sli": {
                                "probe": {
                                    "http": {"url": f"{target.url}/healthz"},
                                    "interval": "1s",
                                    "timeout": "500ms",
                                }
                            },
                        }
                    ],
                },
                {
                    "name": "billing",
                    "labels": {"owner": "finance-team"},
                    "slos": [
                        {
                            "name": "invoices",
                            "objective": 99.9,
                            "calendar": {"period": "month", "time_zone": "Europe/Berlin"},
                            "sla": {
                                "objective": 99.5,
                                "credits": [
                                    {"below": 99.5, "credit": 10},
                                    {"below": 95.0, "credit": 100},
                                ],
                            },
                            "sli": {
                                "probe": {
                                    "http": {"url": f"{broken.url}/invoices"},
                                    "interval": "1s",
                                    "timeout": "500ms",
                                }
                            },
                        }
                    ],
                },
            ],
        }
        process: ExporterProcess = make_exporter(config)
        try:
            process.start(ready_timeout=60)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield process


def _values(data: dict[str, Any]) -> list[float]:
    """Every sample value of an instant or range query result."""
    values: list[float] = []
    for item in data["result"]:
        if "value" in item:
            values.append(float(item["value"][1]))
        values.extend(float(v) for _, v in item.get("values", []))
    return values


@pytest.mark.integration
def test_every_dashboard_query_returns_data(
    exporter: ExporterProcess, prometheus_binaries: tuple[str, str], tmp_path: Path
) -> None:
    """Each panel and variable query, as an instant and a range query, returns finite samples."""
    queries = _load_generator().dashboard_queries()
    assert queries
    prometheus = PrometheusServer(
        tmp_path / "prometheus",
        scrape_configs=[
            {
                "job_name": "slo-exporter",
                "scrape_interval": "1s",
                "static_configs": [{"targets": [f"{HOST}:{exporter.port}"]}],
            }
        ],
    )
    with running(prometheus):
        try:
            prometheus.start()
            wait_until(
                lambda: True
                if prometheus.query(
                    f"count_over_time(slo_probe_latency_seconds_count[1m]) >= {MIN_SCRAPES}"
                    ' and on () count_over_time(slo_burn_rate{window="3d"}[1m]) >= 2'
                )["result"]
                else None,
                timeout=60,
                what=f"{MIN_SCRAPES} scrapes of the exporter with probe and burn-rate samples",
                on_timeout=prometheus.log_tail,
            )
        except HarnessError as exc:
            pytest.fail(f"{exc}\n{exporter.log_tail()}", pytrace=False)

        now = time.time()
        problems = []
        for query in queries:
            instant = prometheus.query(query, now)
            ranged = prometheus.api(
                "query_range", query=query, start=f"{now - 60:.3f}", end=f"{now:.3f}", step="1s"
            )
            for kind, data in (("instant", instant), ("range", ranged)):
                values = _values(data)
                if not values:
                    problems.append(f"{kind} query returned no data: {query}")
                elif not all(math.isfinite(v) for v in values):
                    problems.append(f"{kind} query returned NaN/Inf: {query} -> {values[:5]}")
    assert not problems, "\n".join(problems)
