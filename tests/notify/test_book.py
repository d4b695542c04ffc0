"""AlertBook: when an alert is sent, resent and resolved, with the clock passed in."""

from __future__ import annotations

from slo_exporter.notify.alerts import Alert
from slo_exporter.notify.notifier import RESOLVED_RETENTION, AlertBook, rfc3339

T0 = 1_700_000_000.0
RESEND = 60.0
PAGE = Alert(labels={"alertname": "SLOBurnRatePage", "service": "shop", "slo": "homepage"},
             annotations={"summary": "burning"})


def _firing(*alerts: Alert) -> dict[tuple[tuple[str, str], ...], Alert]:
    return {a.key: a for a in alerts}


def test_a_new_alert_is_sent_at_once_and_expires_four_resends_ahead() -> None:
    """startsAt = now; endsAt = now + 4 * 60 s, so it lapses if the daemon dies."""
    book = AlertBook(RESEND)
    (sent,) = book.update(_firing(PAGE), T0)
    assert sent["labels"] == dict(PAGE.labels)
    assert sent["startsAt"] == rfc3339(T0) == "2023-11-14T22:13:20.000Z"
    assert sent["endsAt"] == rfc3339(T0 + 240)


def test_a_firing_alert_is_resent_each_interval_with_its_start_kept() -> None:
    """Nothing between resends; at T0 + 60 s the same alert again, endsAt moved on."""
    book = AlertBook(RESEND)
    book.update(_firing(PAGE), T0)
    assert book.update(_firing(PAGE), T0 + 30) == []
    (again,) = book.update(_firing(PAGE), T0 + 60)
    assert again["startsAt"] == rfc3339(T0)
    assert again["endsAt"] == rfc3339(T0 + 60 + 240)


def test_annotations_follow_the_latest_values() -> None:
    """A resend carries the annotations of the latest snapshot."""
    book = AlertBook(RESEND)
    book.update(_firing(PAGE), T0)
    later = Alert(labels=PAGE.labels, annotations={"summary": "burning faster"})
    (again,) = book.update(_firing(later), T0 + 60)
    assert again["annotations"] == {"summary": "burning faster"}


def test_a_resolved_alert_is_sent_at_once_with_ends_at_now_then_resent() -> None:
    """Resolved at T0 + 10: sent then with endsAt = T0 + 10, and again at each resend
    until 15 minutes have passed (so a restarted Alertmanager hears it too)."""
    book = AlertBook(RESEND)
    book.update(_firing(PAGE), T0)
    (resolved,) = book.update({}, T0 + 10)
    assert resolved["endsAt"] == rfc3339(T0 + 10)
    assert resolved["startsAt"] == rfc3339(T0)
    (again,) = book.update({}, T0 + 70)
    assert again["endsAt"] == rfc3339(T0 + 10)
    assert book.update({}, T0 + 10 + RESOLVED_RETENTION + RESEND) == []


def test_an_alert_firing_again_after_resolving_starts_anew() -> None:
    """Resolved, then firing again: a new startsAt, and no more resolved resends."""
    book = AlertBook(RESEND)
    book.update(_firing(PAGE), T0)
    book.update({}, T0 + 10)
    (fresh,) = book.update(_firing(PAGE), T0 + 20)
    assert fresh["startsAt"] == rfc3339(T0 + 20)
    (resend,) = book.update(_firing(PAGE), T0 + 80)
    assert resend["endsAt"] == rfc3339(T0 + 80 + 240)


def test_new_alerts_do_not_wait_for_the_resend_interval() -> None:
    """A second alert firing 5 s after the first is sent at once, alone."""
    book = AlertBook(RESEND)
    book.update(_firing(PAGE), T0)
    ticket = Alert(labels={**PAGE.labels, "alertname": "SLOBurnRateTicket"}, annotations={})
    (sent,) = book.update(_firing(PAGE, ticket), T0 + 5)
    assert sent["labels"]["alertname"] == "SLOBurnRateTicket"


def test_a_clock_stepped_back_does_not_stop_resends() -> None:
    """The wall clock jumps back an hour: the next update resends at once rather than
    after the clock has caught up (the alert would have expired by then), and endsAt
    stays after startsAt (Alertmanager refuses the batch otherwise): T0 + 240; resolved
    then, endsAt = startsAt = T0."""
    book = AlertBook(RESEND)
    book.update(_firing(PAGE), T0)
    (again,) = book.update(_firing(PAGE), T0 - 3600)
    assert again["endsAt"] == rfc3339(T0 + 240)
    (resolved,) = book.update({}, T0 - 3500)
    assert resolved["endsAt"] == resolved["startsAt"] == rfc3339(T0)
