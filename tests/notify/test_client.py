"""The Alertmanager client: the v2 wire format, credentials, and bounds against hostile servers."""

from __future__ import annotations

import json
import threading
import time

import pytest

from slo_exporter.notify.client import MAX_ANSWER, AlertmanagerClient, AlertmanagerURL, PostError
from tests.notify.servers import HostileServer, RecordingAlertmanager, basic

ALERTS = [{"labels": {"alertname": "SLOBurnRatePage"}, "annotations": {},
           "startsAt": "2026-01-01T00:00:00.000Z", "endsAt": "2026-01-01T00:04:00.000Z"}]
BODY = json.dumps(ALERTS).encode()


def _client(url: str, timeout: float = 2.0) -> AlertmanagerClient:
    return AlertmanagerClient(AlertmanagerURL.parse(url), timeout=timeout)


def test_posts_the_json_list_to_the_v2_alerts_path() -> None:
    """POST <url>/api/v2/alerts with the alerts as sent; 200 is success."""
    with RecordingAlertmanager() as am:
        assert _client(am.url).post(BODY) == 200
    assert am.posts[0].path == "/api/v2/alerts"
    assert am.posts[0].alerts == ALERTS
    assert am.posts[0].authorization is None


def test_a_route_prefix_and_user_info_are_honoured() -> None:
    """http://user:pass@host/prefix posts to /prefix/api/v2/alerts with basic auth."""
    with RecordingAlertmanager() as am:
        url = am.url.replace("http://", "http://ops:s3cr%40t@") + "/alertmanager/"
        _client(url).post(BODY)
    assert am.posts[0].path == "/alertmanager/api/v2/alerts"
    assert am.posts[0].authorization == basic("ops", "s3cr@t")


def test_a_4xx_answer_is_final_and_a_5xx_may_be_retried() -> None:
    """400 (a bad alert) is not retryable; 503 is; the error carries the server's text."""
    with RecordingAlertmanager() as am:
        am.status = 400
        with pytest.raises(PostError) as bad:
            _client(am.url).post(BODY)
        am.status = 503
        with pytest.raises(PostError) as down:
            _client(am.url).post(BODY)
    assert (bad.value.reason, bad.value.retryable, bad.value.status) == ("http", False, 400)
    assert "bad alert" in str(bad.value)
    assert (down.value.retryable, down.value.status) == (True, 503)


def test_a_refused_connection_is_a_retryable_connection_error() -> None:
    """Nothing listening: reason "connection", retryable."""
    server = HostileServer("silent")  # bound, not accepting: then closed
    url = server.url
    server._sock.close()
    with pytest.raises(PostError) as err:
        _client(url).post(BODY)
    assert (err.value.reason, err.value.retryable) == ("connection", True)


@pytest.mark.parametrize("mode", ["drip", "silent"])
def test_the_timeout_is_a_real_deadline(mode: str) -> None:
    """A server dripping one byte every 0.1 s, or never answering, ends the post at
    its 0.5 s deadline (+ one 0.2 s poll slice at most)."""
    with HostileServer(mode) as server:
        started = time.monotonic()
        with pytest.raises(PostError) as err:
            _client(server.url, timeout=0.5).post(BODY)
        elapsed = time.monotonic() - started
    assert err.value.reason == "timeout"
    assert 0.45 <= elapsed < 0.8


def test_at_most_a_few_kib_of_the_answer_are_read() -> None:
    """A 200 followed by megabytes of body: the status counts, and the client stops
    reading after MAX_ANSWER (4 KiB) and closes."""
    with HostileServer("flood") as server:
        started = time.monotonic()
        assert _client(server.url).post(BODY) == 200
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert MAX_ANSWER == 4096


def test_a_set_stop_event_cancels_a_post_in_flight() -> None:
    """Stop set 0.2 s into a post to a silent server with a 10 s timeout: it ends
    within one poll slice, as "cancelled", not retryable."""
    stop = threading.Event()
    with HostileServer("silent") as server:
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        with pytest.raises(PostError) as err:
            _client(server.url, timeout=10).post(BODY, stop)
        elapsed = time.monotonic() - started
    assert (err.value.reason, err.value.retryable) == ("cancelled", False)
    assert elapsed < 0.6


@pytest.mark.parametrize(("text", "why"), [
    ("ftp://am:9093", "must start with http:// or https://"),
    ("http://", "names no host"),
    ("http://am:9093/?x=1", "must not carry a query"),
    ("http://am:port", "not a URL"),
    ("http://am:9093/a b", "ASCII without spaces"),
    ("http://am:9093/x\r\nX-Injected: 1", "ASCII without spaces"),
    ("http://ämter:9093", "ASCII without spaces"),
])
def test_bad_urls_are_refused_with_a_reason(text: str, why: str) -> None:
    """Each bad URL names what is wrong."""
    with pytest.raises(ValueError, match=why):
        AlertmanagerURL.parse(text)


def test_the_display_form_never_holds_credentials() -> None:
    """display and repr drop user info; the password stays only in the parsed value."""
    url = AlertmanagerURL.parse("https://ops:hunter2-pw@am.example:9093/")
    assert url.display == "https://am.example:9093"
    assert "hunter2" not in repr(url)
    assert url.password == "hunter2-pw"
