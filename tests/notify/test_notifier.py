"""The notifier: every Alertmanager gets every alert; outages are bounded, counted and logged."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from structlog.testing import capture_logs

from slo_exporter.model import ALERT_WINDOWS
from slo_exporter.notify import AlertmanagerClient, AlertmanagerURL, Notifier, NotifierSettings
from slo_exporter.snapshot import AlertState, SLOStatus, Snapshot
from tests.notify.servers import HostileServer, RecordingAlertmanager
from tests.support.helpers import ratio_slo


class Counts:
    """The notification counter as the daemon's self-metrics see it."""

    def __init__(self) -> None:
        self.by: Counter[tuple[str, str]] = Counter()

    def __call__(self, alertmanager: str, result: str, n: int) -> None:
        self.by[(alertmanager, result)] += n

    def total(self, result: str) -> int:
        return sum(n for (_, r), n in self.by.items() if r == result)


def _snapshot(*firing: str, complete: bool = True) -> Snapshot:
    """One status per SLO name; those in ``firing`` burn on the 1h/5m pair."""
    statuses = []
    for name in ("a", "b"):
        window = ALERT_WINDOWS[0]
        state = AlertState(window.severity, window.long, window.short_or_long, 14.4, 20.0, 20.0,
                           name in firing)
        statuses.append(SLOStatus(slo=ratio_slo("shop", name), alerts=(state,),
                                  budget_remaining=0.5, up=True, evaluated_at=1.0))
    return Snapshot(slos=tuple(statuses), complete=complete)


def _settings(*urls: str, **kw: object) -> NotifierSettings:
    return NotifierSettings(urls=tuple(AlertmanagerURL.parse(u) for u in urls),
                            **kw)  # type: ignore[arg-type]


@pytest.fixture
def am() -> Iterator[RecordingAlertmanager]:
    with RecordingAlertmanager() as server:
        yield server


def test_every_alertmanager_of_a_cluster_gets_every_alert(am: RecordingAlertmanager) -> None:
    """Two URLs: each receives the firing alert once; 'sent' counts 1 per Alertmanager."""
    counts = Counts()
    with RecordingAlertmanager() as other:
        notifier = Notifier(_settings(am.url, other.url), count=counts)
        notifier.start()
        notifier.observe(_snapshot("a"))
        first, second = am.wait_for_alerts(1), other.wait_for_alerts(1)
        assert notifier.stop(1.0)
    assert [a["labels"]["slo"] for a in first] == ["a"]
    assert [a["labels"]["slo"] for a in second] == ["a"]
    assert counts.by[(AlertmanagerURL.parse(am.url).display, "sent")] == 1
    assert counts.total("sent") == 2


def test_a_resolved_alert_and_a_removed_slo_are_sent_resolved(
        am: RecordingAlertmanager) -> None:
    """a and b fire; then a stops burning and b's SLO is gone (a reload removed it):
    both are sent with endsAt = that moment."""
    now = [1_700_000_000.0]
    notifier = Notifier(_settings(am.url), clock=lambda: now[0])
    notifier.start()
    notifier.observe(_snapshot("a", "b"))
    am.wait_for_alerts(2)
    now[0] += 5
    only_a = _snapshot()
    notifier.observe(Snapshot(slos=only_a.slos[:1], complete=True))
    alerts = am.wait_for_alerts(4)
    assert notifier.stop(1.0)
    resolved = {a["labels"]["slo"]: a["endsAt"] for a in alerts[2:]}
    assert resolved == {"a": "2023-11-14T22:13:25.000Z", "b": "2023-11-14T22:13:25.000Z"}


def test_a_snapshot_before_the_first_full_evaluation_resolves_nothing(
        am: RecordingAlertmanager) -> None:
    """An incomplete snapshot has no values yet: it is not read as 'all resolved'."""
    notifier = Notifier(_settings(am.url))
    notifier.start()
    notifier.observe(_snapshot("a"))
    am.wait_for_alerts(1)
    notifier.observe(_snapshot(complete=False))
    time.sleep(0.1)
    assert notifier.stop(1.0)
    assert len(am.alerts()) == 1
    assert [a.labels["slo"] for a in notifier.active] == ["a"]


def test_an_unreachable_alertmanager_never_blocks_observe_and_stop_is_prompt() -> None:
    """Against a server that never answers (timeout 10 s), observe returns at once (100 of
    them well inside the 10 s one blocked post would take) and stop ends the sender within
    one 0.2 s poll slice, with as much again for a busy machine."""
    with HostileServer("silent") as server:
        notifier = Notifier(_settings(server.url, timeout=10.0))
        notifier.start()
        started = time.monotonic()
        for _ in range(100):
            notifier.observe(_snapshot("a", "b"))
        observed = time.monotonic() - started
        time.sleep(0.3)  # the sender is now inside a post
        started = time.monotonic()
        assert notifier.stop(1.0)
        stopped = time.monotonic() - started
    # deadlines far below the 10 s a post that blocked them would take (a busy CI run
    # took 0.16 s for the 100 observes, which a 0.1 s bound failed)
    assert observed < 2.0
    assert stopped < 0.5 + 0.2


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    """Capacity 3, nothing sending: 5 alerts queued -> 2 dropped, the newest 3 kept."""
    counts = Counts()
    notifier = Notifier(_settings("http://127.0.0.1:9", queue_capacity=3), count=counts)
    sender = notifier.senders[0]
    sender.put([{"labels": {"n": str(i)}} for i in range(5)])
    assert counts.total("dropped") == 2
    assert sender.pending() == 3
    assert [a["labels"]["n"] for a in sender._queue.values()] == ["2", "3", "4"]


def test_a_queued_alert_is_replaced_by_its_newer_state() -> None:
    """Firing, then resolved, of one alert while nothing sends: one entry, the newer one,
    so a backlog never posts a stale state after the current one."""
    notifier = Notifier(_settings("http://127.0.0.1:9"))
    sender = notifier.senders[0]
    sender.put([{"labels": {"a": "1"}, "endsAt": "later"}, {"labels": {"a": "2"}}])
    sender.put([{"labels": {"a": "1"}, "endsAt": "now"}])
    assert [(a["labels"]["a"], a.get("endsAt")) for a in sender._queue.values()] == [
        ("2", None), ("1", "now")]


def test_drops_are_logged_once_per_spell_and_always_counted() -> None:
    """Capacity 1: three puts of two new alerts each drop 1 + 2 + 2 = 5, one log line."""
    counts = Counts()
    notifier = Notifier(_settings("http://127.0.0.1:9", queue_capacity=1), count=counts)
    sender = notifier.senders[0]
    with capture_logs() as logs:
        for i in range(3):
            sender.put([{"labels": {"n": f"{i}a"}}, {"labels": {"n": f"{i}b"}}])
    assert counts.total("dropped") == 5
    assert [e["event"] for e in logs] == ["notifications_dropped"]


def test_failures_are_retried_within_bounds_counted_and_logged_once_per_change(
        am: RecordingAlertmanager) -> None:
    """503 on every post: 2 attempts per batch, 'failed' counts each alert, and one
    alertmanager_unreachable for two failed batches; recovery logs alertmanager_reachable."""
    counts = Counts()
    am.status = 503
    notifier = Notifier(_settings(am.url, max_attempts=2, backoff=0.05), count=counts)
    with capture_logs() as logs:
        notifier.start()
        notifier.observe(_snapshot("a"))
        deadline = time.monotonic() + 3
        while counts.total("failed") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        notifier.observe(_snapshot())  # a resolves: a second batch, failing too
        while counts.total("failed") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        am.status = 200
        notifier.observe(_snapshot("b"))
        am.wait_for_alerts(5)
        while counts.total("sent") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert notifier.stop(1.0)
    assert len(am.posts) == 5  # 2 batches x 2 attempts, then 1
    assert counts.total("failed") == 2
    assert counts.total("sent") == 1
    events = [e["event"] for e in logs if e["event"].startswith("alertmanager_")]
    assert events == ["alertmanager_unreachable", "alertmanager_reachable"]
    unreachable = next(e for e in logs if e["event"] == "alertmanager_unreachable")
    assert unreachable["reason"] == "http"


def test_credentials_in_the_url_never_reach_logs_or_metric_labels() -> None:
    """A failing Alertmanager with user:password in its URL: logs and counter labels
    show the URL without them."""
    counts = Counts()
    with HostileServer("silent") as server:
        url = server.url.replace("http://", "http://ops:pa55w0rd-x@")
        notifier = Notifier(_settings(url, timeout=0.3, max_attempts=1), count=counts)
        with capture_logs() as logs:
            notifier.start()
            notifier.observe(_snapshot("a"))
            deadline = time.monotonic() + 3
            while counts.total("failed") < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert notifier.stop(1.0)
    assert counts.total("failed") == 1
    assert "pa55w0rd" not in repr(logs)
    assert "ops:" not in repr(logs)
    assert all("pa55w0rd" not in name for name, _ in counts.by)


@pytest.mark.parametrize(("kw", "why"), [
    ({"timeout": 0}, "timeout must be positive"),
    ({"queue_capacity": 0}, "queue capacity must be at least 1"),
])
def test_bad_settings_fail_in_the_constructor(kw: dict[str, float], why: str) -> None:
    """Settings no sender could use are refused when built, with the reason."""
    with pytest.raises(ValueError, match=why):
        _settings("http://127.0.0.1:9", **kw)


def test_an_unexpected_error_in_a_post_does_not_end_the_sender(
        am: RecordingAlertmanager) -> None:
    """A client that raises a bug once: that batch counts as failed, the next is sent."""
    counts = Counts()
    calls = []

    def client(url: AlertmanagerURL, timeout: float) -> AlertmanagerClient:
        real = AlertmanagerClient(url, timeout=timeout)

        class Flaky(AlertmanagerClient):
            def post(self, body: bytes, stop: object = None) -> int:
                calls.append(body)
                if len(calls) == 1:
                    raise RuntimeError("a bug")
                return real.post(body)

        return Flaky(url, timeout=timeout)

    notifier = Notifier(_settings(am.url), count=counts, client_factory=client)
    with capture_logs() as logs:
        notifier.start()
        notifier.observe(_snapshot("a"))
        deadline = time.monotonic() + 3
        while counts.total("failed") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        notifier.observe(_snapshot("a", "b"))
        am.wait_for_alerts(1)
        assert notifier.stop(1.0)
    assert counts.total("failed") == 1
    assert [a["labels"]["slo"] for a in am.alerts()] == ["b"]
    assert "notification_failed" in [e["event"] for e in logs]
