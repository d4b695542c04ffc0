"""From a failing target to a page in a webhook, with real Prometheus and Alertmanager.

The generated rules (deploy/prometheus/slo-exporter-rules.yml) run in a real
Prometheus; the shipped routing (deploy/alertmanager/alertmanager.yml) runs
in a real Alertmanager whose receivers all post to a webhook in this test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.alerting_chain import (
    AlertmanagerProcess,
    FlakyTarget,
    LoopbackServer,
    QuietHandler,
    WebhookReceiver,
    alert_in,
    alertmanager_config,
    firing,
    probe_slo_config,
    prometheus_config,
    resolved,
    seed_probe_history,
)
from tests.support.harness import (
    HOST,
    ExporterProcess,
    PrometheusServer,
    failing_on_harness_error,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration

RUNBOOK = "https://runbooks.example.com/shop/homepage"


@pytest.fixture
def alertmanager(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[AlertmanagerProcess]:
    """The shipped Alertmanager routing with 1s grouping, posting to the local webhook."""
    with failing_on_harness_error():
        am = AlertmanagerProcess(
            tmp_path / "alertmanager",
            alertmanager_config(webhook.url, group_wait="1s", group_interval="1s"),
        )
        am.start()
    yield am
    am.stop()


def _prometheus(tmp_path: Path, exporter_address: str, am: AlertmanagerProcess,
                interval: str) -> PrometheusServer:
    server = PrometheusServer(tmp_path / "prometheus", scrape_interval=interval)
    server.config_path.write_text(yaml.safe_dump(prometheus_config(
        exporter_address=exporter_address,
        alertmanager_address=f"{HOST}:{am.port}",
        scrape_interval=interval,
        evaluation_interval=interval,
    )))
    return server


class _StaticExporter:
    """Serves a fixed slo-exporter exposition that the test switches between two states."""

    def __init__(self) -> None:
        self.burning = False
        lock = threading.Lock()
        exporter = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                with lock:
                    body = exporter.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = LoopbackServer(Handler)

    def exposition(self) -> str:
        key = 'service="shop",slo="homepage"'
        fast, slow = (40.0, 0.5) if self.burning else (0.2, 0.1)
        lines = [
            f"slo_period_seconds{{{key}}} 2592000",
            f"slo_objective_ratio{{{key}}} 0.999",
            f'slo_info{{{key},owner="platform",tier="critical",runbook_url="{RUNBOOK}"}} 1',
            f"slo_sli_up{{{key}}} 1",
            f"slo_error_budget_remaining_ratio{{{key}}} 0.625",
        ]
        for window, rate in (("5m", fast), ("1h", fast), ("30m", slow), ("6h", slow),
                             ("2h", slow), ("1d", slow), ("3d", slow), ("30d", slow)):
            lines.append(f'slo_burn_rate{{{key},window="{window}"}} {rate}')
            lines.append(f'slo_events{{{key},window="{window}",result="good"}} 1000')
            lines.append(f'slo_events{{{key},window="{window}",result="bad"}} 1')
        return "\n".join(lines) + "\n"


def _assert_page_labels(alert: dict[str, Any] | Any) -> None:
    labels = alert["labels"]
    assert labels["service"] == "shop"
    assert labels["slo"] == "homepage"
    assert labels["severity"] == "page"
    assert labels["owner"] == "platform"
    assert labels["tier"] == "critical"
    assert labels["long_window"] == "1h"
    assert labels["short_window"] == "5m"


def test_rules_page_and_resolve_through_real_alertmanager(
    tmp_path: Path, webhook: WebhookReceiver, alertmanager: AlertmanagerProcess
) -> None:
    """A 1h/5m burn in the exporter's gauges pages the owner's receiver, then resolves."""
    exporter = _StaticExporter()
    exporter.server.start()
    prometheus = _prometheus(tmp_path, f"{HOST}:{exporter.server.port}", alertmanager, "1s")
    with failing_on_harness_error(), running(prometheus):
        prometheus.start()
        time.sleep(3)
        assert not webhook.received, "no alert may fire while the SLO is healthy"

        exporter.burning = True
        page = webhook.wait_for(firing("SLOBurnRatePage", service="shop", slo="homepage"),
                                timeout=30, what="the page notification",
                                on_timeout=alertmanager.log_tail)
        assert page.receiver_path == "/platform-pager"
        alert = alert_in(page, "SLOBurnRatePage", "firing")
        _assert_page_labels(alert)
        annotations = alert["annotations"]
        assert annotations["window_pair"] == "1h/5m"
        assert annotations["budget_remaining"] == "62.5%"
        assert annotations["runbook_url"] == RUNBOOK
        assert annotations["summary"] == (
            "shop/homepage is burning its error budget 40.0x too fast (1h/5m windows)")
        assert "over the last 1h and 40.00 over the last 5m, both above 14.4" in (
            annotations["description"])

        exporter.burning = False
        webhook.wait_for(resolved("SLOBurnRatePage", service="shop", slo="homepage"),
                         timeout=30, what="the resolved notification",
                         on_timeout=alertmanager.log_tail)
    exporter.server.stop()


def test_total_outage_pages_within_goal_and_resolves(
    tmp_path: Path,
    webhook: WebhookReceiver,
    alertmanager: AlertmanagerProcess,
    make_exporter: Any,
    record_property: Any,
) -> None:
    """A 99.9% probe SLO whose target fails every request pages on 1h/5m, then resolves."""
    target = FlakyTarget()
    target.start()
    config = probe_slo_config(
        target_url=f"{target.url}/", prometheus_url="http://127.0.0.1:9",
        objective=99.9, evaluation_interval="5s", runbook_url=RUNBOOK,
    )
    exporter: ExporterProcess = make_exporter(config)
    # Three days of good probes stand in for an exporter that has been
    # running: with full windows the 1h/5m pair is the one that pages (as in
    # production), and a short outage leaves the 6h and ticket pairs quiet.
    now = time.time()
    seed_probe_history(exporter.storage, config, [(now - 3 * 86400, now, 0.0)])
    prometheus = _prometheus(tmp_path, f"{HOST}:{exporter.port}", alertmanager, "5s")
    with failing_on_harness_error(), running(prometheus):
        exporter.start()
        prometheus.start()

        def healthy_in_prometheus() -> bool | None:
            result = prometheus.query(
                'slo_burn_rate{service="shop",slo="homepage",window="5m"} == 0')["result"]
            return True if result else None

        wait_until(healthy_in_prometheus, timeout=60, what="a healthy burn rate in Prometheus",
                   on_timeout=exporter.log_tail)
        assert not webhook.received, "no alert may fire while the SLO is healthy"

        onset = target.set_failure_share(1.0)
        page = webhook.wait_for(
            firing("SLOBurnRatePage", service="shop", slo="homepage"), timeout=180,
            what="the page notification",
            on_timeout=lambda: exporter.log_tail() + "\n" + alertmanager.log_tail())
        detection = page.received_at - onset
        target.set_failure_share(0.0)
        record_property("detection_seconds", round(detection, 1))
        print(f"\ndetection time (failure onset -> webhook): {detection:.1f}s "
              "(floor 52s: 14.4 x 0.1% of 1h)")

        assert page.receiver_path == "/platform-pager"
        alert = alert_in(page, "SLOBurnRatePage", "firing")
        _assert_page_labels(alert)
        annotations = alert["annotations"]
        assert annotations["window_pair"] == "1h/5m"
        assert annotations["runbook_url"] == RUNBOOK
        assert "both above 14.4" in annotations["description"]
        assert annotations["budget_remaining"].endswith("%")
        # The 1h window cannot reach 14.4x before 14.4 x 0.1% of an hour of
        # failures (~52 s); the chain adds at most a few intervals on top.
        assert 50 <= detection <= 120

        # The page resets when the 5m window burns below 14.4x again, i.e.
        # once the failures have aged out of it: about five minutes. That is
        # what makes this test take minutes; the short window is the design.
        done = webhook.wait_for(
            resolved("SLOBurnRatePage", service="shop", slo="homepage", long_window="1h"),
            timeout=420, what="the resolved notification",
            on_timeout=lambda: exporter.log_tail() + "\n" + alertmanager.log_tail())
        record_property("resolved_after_recovery_seconds",
                        round(done.received_at - target.changes[-1][0], 1))
        others = {
            (a["labels"]["alertname"], a["labels"].get("long_window"))
            for n in webhook.received for a in n.alerts
        }
        assert others == {("SLOBurnRatePage", "1h")}, "only the 1h/5m page may fire"
    target.stop()
