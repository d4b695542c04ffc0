"""Direct notification against a real Alertmanager and a webhook receiver.

Notifiers are fed snapshots directly (the daemon-level path is covered in
tests/notify/test_daemon_notify.py), with a 1 s resend interval, so firing,
resending, resolving, an Alertmanager restart and two replicas all fit in
seconds. Alertmanager runs the shipped routing with 1 s grouping and a 2 s
repeat interval; every receiver posts to the local webhook.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from slo_exporter.model import ALERT_WINDOWS, SLO, frozen_map
from slo_exporter.notify import AlertmanagerURL, Notifier, NotifierSettings
from slo_exporter.snapshot import AlertState, SLOStatus, Snapshot
from tests.support.alerting_chain import (
    AlertmanagerProcess,
    FlakyTarget,
    Notification,
    WebhookReceiver,
    alertmanager_config,
    firing,
    probe_slo_config,
    resolved,
)
from tests.support.harness import (
    ExporterProcess,
    failing_on_harness_error,
    wait_until,
)
from tests.support.helpers import ratio_slo

pytestmark = pytest.mark.integration

RESEND = 1.0
PAGE = {"service": "shop", "slo": "homepage", "long_window": "1h"}


@pytest.fixture
def alertmanager(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[AlertmanagerProcess]:
    """The shipped routing with 1 s grouping and a 2 s repeat interval."""
    config = alertmanager_config(webhook.url, group_wait="1s", group_interval="1s")
    routes = [config["route"]]
    while routes:
        route = routes.pop()
        route["repeat_interval"] = "2s"
        routes.extend(route.get("routes", []))
    with failing_on_harness_error():
        am = AlertmanagerProcess(tmp_path / "alertmanager", config)
        am.start()
    yield am
    am.stop()


def _slo() -> SLO:
    return dataclasses.replace(ratio_slo("shop", "homepage", objective=0.999),
                               labels=frozen_map({"owner": "platform", "tier": "critical"}))


def _snapshot(burning: bool) -> Snapshot:
    """shop/homepage burning 40x on the 1h/5m pair (factor 14.4), or not at all."""
    window = ALERT_WINDOWS[0]
    rate = 40.0 if burning else 0.2
    state = AlertState(window.severity, window.long, window.short_or_long, 14.4,
                       rate, rate, burning)
    status = SLOStatus(slo=_slo(), alerts=(state,), budget_remaining=0.625, up=True,
                       evaluated_at=time.time())
    return Snapshot(slos=(status,), complete=True)


class _Counts:
    def __init__(self) -> None:
        self.by: Counter[str] = Counter()

    def __call__(self, _alertmanager: str, result: str, n: int) -> None:
        self.by[result] += n


def _notifier(am: AlertmanagerProcess, counts: _Counts | None = None,
              **labels: str) -> Notifier:
    settings = NotifierSettings(urls=(AlertmanagerURL.parse(am.url),), timeout=2.0,
                                resend_interval=RESEND, backoff=0.2, extra_labels=labels)
    notifier = Notifier(settings, count=counts)
    notifier.start()
    return notifier


def _feed(notifiers: list[Notifier], burning: bool, seconds: float) -> None:
    """Observe the same snapshot every 0.2 s for ``seconds``, as the daemon does."""
    end = time.monotonic() + seconds
    while True:
        for notifier in notifiers:
            notifier.observe(_snapshot(burning))
        if time.monotonic() >= end:
            return
        time.sleep(0.2)


def _page_alerts(webhook: WebhookReceiver, status: str) -> list[Notification]:
    return [n for n in webhook.received
            if any(a.get("status") == status
                   and a.get("labels", {}).get("alertname") == "SLOBurnRatePage"
                   for a in n.alerts)]


def _active(am: AlertmanagerProcess) -> list[Mapping[str, Any]]:
    return [a for a in am.alerts() if a.get("status", {}).get("state") == "active"]


def test_two_replicas_fire_resend_and_resolve_as_one_alert(
        webhook: WebhookReceiver, alertmanager: AlertmanagerProcess) -> None:
    """Two replicas send the same page: Alertmanager holds one alert and the webhook gets
    one alert per notification; resends keep it active past its 4 s endsAt and
    Alertmanager repeats it (2 s); when it stops burning, one resolved notification."""
    replicas = [_notifier(alertmanager), _notifier(alertmanager)]
    try:
        with failing_on_harness_error():
            _feed(replicas, True, 0)
            page = webhook.wait_for(firing("SLOBurnRatePage", **PAGE), timeout=15,
                                    what="the page", on_timeout=alertmanager.log_tail)
            assert page.receiver_path == "/platform-pager"
            (alert,) = page.alerts
            assert alert["labels"] == {
                "alertname": "SLOBurnRatePage", "service": "shop", "slo": "homepage",
                "severity": "page", "long_window": "1h", "short_window": "5m",
                "owner": "platform", "tier": "critical"}
            assert alert["annotations"]["summary"] == (
                "shop/homepage is burning its error budget 40.0x too fast (1h/5m windows)")

            # 6 s > the 4 s an unrefreshed alert would live: resends keep it firing.
            _feed(replicas, True, 6)
            assert len(_active(alertmanager)) == 1
            assert len(_page_alerts(webhook, "firing")) >= 2, "repeat notifications"
            assert all(len(n.alerts) == 1 for n in webhook.received), "deduplicated"
            assert not _page_alerts(webhook, "resolved")

            _feed(replicas, False, 0)
            done = webhook.wait_for(resolved("SLOBurnRatePage", **PAGE), timeout=15,
                                    what="the resolved notification",
                                    on_timeout=alertmanager.log_tail)
            assert len(done.alerts) == 1
            assert not _active(alertmanager)
    finally:
        for notifier in replicas:
            notifier.stop(1.0)


def test_an_alertmanager_restart_is_bridged_by_resends(
        webhook: WebhookReceiver, alertmanager: AlertmanagerProcess) -> None:
    """A page reaches Alertmanager; it restarts (losing its alerts); posts meanwhile are
    counted failed; after it is back the resends reach it again and the page is active
    there; resolving still reaches the webhook."""
    counts = _Counts()
    notifier = _notifier(alertmanager, counts)
    try:
        with failing_on_harness_error():
            _feed([notifier], True, 0)
            webhook.wait_for(firing("SLOBurnRatePage", **PAGE), timeout=15,
                             what="the page", on_timeout=alertmanager.log_tail)
            alertmanager.stop()
            _feed([notifier], True, 2.5)
            assert counts.by["failed"] >= 1
            before = len(webhook.received)
            alertmanager.start()

            def page_back() -> bool | None:
                _feed([notifier], True, 0)
                return True if _active(alertmanager) else None

            wait_until(page_back, timeout=10, what="the page in the restarted Alertmanager",
                       on_timeout=alertmanager.log_tail)
            webhook.wait_for(
                lambda n: webhook.received.index(n) >= before
                and firing("SLOBurnRatePage", **PAGE)(n),
                timeout=10, what="a page after the restart", on_timeout=alertmanager.log_tail)
            _feed([notifier], False, 0)
            webhook.wait_for(resolved("SLOBurnRatePage", **PAGE), timeout=15,
                             what="the resolved notification", on_timeout=alertmanager.log_tail)
    finally:
        notifier.stop(1.0)


def test_replicas_whose_labels_differ_are_two_alerts(
        webhook: WebhookReceiver, alertmanager: AlertmanagerProcess) -> None:
    """What deduplication needs: a replica label that differs (replica="a" / "b") makes
    two alerts in Alertmanager, and the notification carries both."""
    replicas = [_notifier(alertmanager, replica="a"), _notifier(alertmanager, replica="b")]
    try:
        with failing_on_harness_error():
            _feed(replicas, True, 0)
            page = webhook.wait_for(lambda n: len(n.alerts) == 2, timeout=15,
                                    what="one notification with both alerts",
                                    on_timeout=alertmanager.log_tail)
            assert sorted(a["labels"]["replica"] for a in page.alerts) == ["a", "b"]
            assert len(_active(alertmanager)) == 2
    finally:
        for notifier in replicas:
            notifier.stop(1.0)


def test_two_daemon_replicas_page_once_and_stop_promptly(
        webhook: WebhookReceiver, alertmanager: AlertmanagerProcess, make_exporter: Any) -> None:
    """Two `slo-exporter run` processes with the same probe SLO on a target failing every
    request (1h/5m burn 1 / 0.001 = 1000 > 14.4) both post to Alertmanager: it holds one
    alert and the pager gets one alert per notification; SIGTERM still stops each in
    well under the 9 s bound."""
    with FlakyTarget() as target:
        target.set_failure_share(1.0)
        config = probe_slo_config(target_url=f"{target.url}/",
                                  prometheus_url="http://127.0.0.1:9", objective=99.9,
                                  evaluation_interval="5s", resolution="1s")
        args = (f"--alertmanager.url={alertmanager.url}", "--alertmanager.resend-interval=1s")
        replicas: list[ExporterProcess] = [
            make_exporter(config, name=f"replica-{i}", extra_args=args) for i in (0, 1)]
        with failing_on_harness_error():
            for replica in replicas:
                replica.start()
            page = webhook.wait_for(
                firing("SLOBurnRatePage", **PAGE), timeout=20, what="the page",
                on_timeout=lambda: replicas[0].log_tail() + alertmanager.log_tail())
            assert page.receiver_path == "/platform-pager"
            time.sleep(2)  # both replicas have posted (and resent) by now
            pages = [a for a in _active(alertmanager) if a["labels"]["long_window"] == "1h"]
            assert len(pages) == 1
            assert all(len([a for a in n.alerts if a["labels"]["long_window"] == "1h"]) == 1
                       for n in webhook.received)
            for replica in replicas:
                started = time.monotonic()
                assert replica.terminate() == 0
                assert time.monotonic() - started < 5
