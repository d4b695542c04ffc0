"""Active alerts, their resends and resolutions, and one bounded sender per Alertmanager.

Owns what Prometheus' notifier does for its rules: ``AlertBook`` (pure, time
passed in) remembers when each alert started, sends a new alert at once,
resends every firing alert each ``resend_interval`` with ``endsAt`` a few
intervals ahead (so Alertmanager lets it expire if this process dies), and
sends a resolved alert (``endsAt`` = the moment it stopped holding) at once
and again at each resend for ``RESOLVED_RETENTION``. An alert of an SLO a
reload removed is resolved the same way: it is no longer implied.

``Notifier`` feeds what the book says into one ``_Sender`` per Alertmanager
(each gets every alert, as Prometheus sends to every member of a cluster).
A sender owns a queue of at most ``queue_capacity`` alerts (the oldest are
dropped and counted when it is full) and a thread that posts batches with
bounded retries inside ``retry_budget``. Evaluation only appends to the
queues: an Alertmanager outage never blocks it and never grows memory.

Must not: evaluate SLOs, read the store, or log a credential (URLs are shown
by ``AlertmanagerURL.display``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from slo_exporter.notify.alerts import Alert, AlertKey, implied_alerts
from slo_exporter.notify.client import AlertmanagerClient, AlertmanagerURL, PostError
from slo_exporter.rules import DEFAULT_INFO_LABELS
from slo_exporter.snapshot import Snapshot

log = structlog.get_logger("slo_exporter.notify")

#: a firing alert's ``endsAt`` is this many resend intervals ahead (Prometheus: 4)
EXPIRY_RESENDS = 4
#: how long a resolved alert is sent again at each resend (Prometheus: 15m)
RESOLVED_RETENTION = 15 * 60.0
#: the results counted by ``slo_exporter_notifications_total``
RESULTS = ("sent", "failed", "dropped")

#: counts ``n`` alerts of one Alertmanager (its display URL) with a result
Count = Callable[[str, str, int], None]
#: builds the client of one Alertmanager
ClientFactory = Callable[[AlertmanagerURL, float], AlertmanagerClient]


def _client(url: AlertmanagerURL, timeout: float) -> AlertmanagerClient:
    return AlertmanagerClient(url, timeout=timeout)


@dataclass(frozen=True)
class NotifierSettings:
    """How alerts reach Alertmanager; bad values fail here, not at first use."""

    urls: tuple[AlertmanagerURL, ...]
    #: deadline of one post, connect to last byte
    timeout: float = 10.0
    #: how often firing alerts are sent again
    resend_interval: float = 60.0
    #: labels added to every alert (e.g. Prometheus' ``job``/``instance`` and
    #: external labels, so both paths give identical label sets)
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    info_labels: tuple[str, ...] = DEFAULT_INFO_LABELS
    #: alerts waiting per Alertmanager; the oldest are dropped beyond it
    queue_capacity: int = 1000
    #: alerts per post (Prometheus: 64)
    batch_size: int = 64
    #: posts of one batch at most, with backoff doubling from ``backoff``
    max_attempts: int = 3
    backoff: float = 0.5

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("at least one Alertmanager URL is needed")
        for name, value in (("timeout", self.timeout), ("resend interval", self.resend_interval),
                            ("backoff", self.backoff)):
            if not value > 0:
                raise ValueError(f"alertmanager {name} must be positive, got {value!r}")
        for name, count in (("queue capacity", self.queue_capacity),
                            ("batch size", self.batch_size), ("attempts", self.max_attempts)):
            if count < 1:
                raise ValueError(f"alertmanager {name} must be at least 1, got {count!r}")

    @property
    def retry_budget(self) -> float:
        """All attempts and waits for one batch fit in this (one resend interval)."""
        return self.resend_interval


# ------------------------------------------------------------------ the book


@dataclass
class _Tracked:
    alert: Alert
    starts_at: float
    ends_at: float | None = None  # set once resolved


class AlertBook:
    """Which alerts are active or recently resolved, and what to send when."""

    def __init__(self, resend_interval: float) -> None:
        self.resend_interval = resend_interval
        self._active: dict[AlertKey, _Tracked] = {}
        self._resolved: dict[AlertKey, _Tracked] = {}
        self._last_resend: float | None = None

    @property
    def active(self) -> tuple[Alert, ...]:
        return tuple(t.alert for t in self._active.values())

    def update(self, firing: Mapping[AlertKey, Alert], now: float) -> list[dict[str, Any]]:
        """Take the alerts firing at ``now``; the postable alerts to send now."""
        out: list[dict[str, Any]] = []
        for key, alert in firing.items():
            tracked = self._active.get(key)
            if tracked is None:
                self._resolved.pop(key, None)
                self._active[key] = tracked = _Tracked(alert, now)
                out.append(self._postable(tracked, now))
            else:
                tracked.alert = alert  # the values in its annotations move on
        for key in [k for k in self._active if k not in firing]:
            tracked = self._active.pop(key)
            tracked.ends_at = now
            self._resolved[key] = tracked
            out.append(self._postable(tracked, now))
        # A wall clock stepped back counts as due: waiting for it to catch up
        # would let firing alerts expire in Alertmanager.
        last = self._last_resend
        if last is None or now < last or now - last >= self.resend_interval:
            self._last_resend = now
            fresh = {self._key(p) for p in out}
            for key, tracked in self._active.items():
                if key not in fresh:
                    out.append(self._postable(tracked, now))
            for key in [k for k, t in self._resolved.items()
                        if t.ends_at is not None and now - t.ends_at > RESOLVED_RETENTION]:
                del self._resolved[key]
            out.extend(self._postable(t, now) for k, t in self._resolved.items()
                       if k not in fresh)
        return out

    @staticmethod
    def _key(postable: Mapping[str, Any]) -> AlertKey:
        return tuple(sorted(postable["labels"].items()))

    def _postable(self, tracked: _Tracked, now: float) -> dict[str, Any]:
        # Never before startsAt, even on a clock stepped back: Alertmanager
        # refuses such an alert, and with it the whole batch.
        base = max(now, tracked.starts_at)
        ends = (base + EXPIRY_RESENDS * self.resend_interval if tracked.ends_at is None
                else max(tracked.ends_at, tracked.starts_at))
        return {
            "labels": dict(tracked.alert.labels),
            "annotations": dict(tracked.alert.annotations),
            "startsAt": rfc3339(tracked.starts_at),
            "endsAt": rfc3339(ends),
        }


def rfc3339(ts: float) -> str:
    """Unix seconds as RFC 3339 UTC with milliseconds, as Alertmanager reads it."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


# ------------------------------------------------------------------ senders


class _Sender:
    """One Alertmanager: a bounded queue and the thread that empties it."""

    def __init__(self, client: AlertmanagerClient, settings: NotifierSettings, count: Count,
                 stop: threading.Event) -> None:
        self.client = client
        self.name = client.url.display
        self._settings = settings
        self._count = count
        self._stop = stop
        # By alert: a newer state of a queued alert replaces it, so a backlog
        # after an outage never posts a stale state after the current one.
        self._queue: OrderedDict[AlertKey, dict[str, Any]] = OrderedDict()
        self._wake = threading.Condition()
        self._healthy: bool | None = None  # None until the first post
        self._dropping = False  # logged once per spell of drops
        self.thread = threading.Thread(target=self._run, name="alertmanager-sender",
                                       daemon=True)
        for result in RESULTS:
            count(self.name, result, 0)

    def put(self, alerts: Sequence[dict[str, Any]]) -> None:
        if not alerts:
            return
        with self._wake:
            for alert in alerts:
                key = tuple(sorted(alert["labels"].items()))
                self._queue.pop(key, None)
                self._queue[key] = alert
            over = len(self._queue) - self._settings.queue_capacity
            for _ in range(max(over, 0)):
                self._queue.popitem(last=False)
            self._wake.notify()
            first = over > 0 and not self._dropping
            self._dropping = self._dropping or over > 0
        if over > 0:
            self._count(self.name, "dropped", over)
        if first:
            log.warning("notifications_dropped", alertmanager=self.name, alerts=over,
                        reason="queue full", capacity=self._settings.queue_capacity)

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def _take(self) -> list[dict[str, Any]]:
        with self._wake:
            while not self._queue and not self._stop.is_set():
                self._wake.wait(1.0)
            size = min(len(self._queue), self._settings.batch_size)
            return [self._queue.popitem(last=False)[1] for _ in range(size)]

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self._take()
            if not batch or self._stop.is_set():
                continue
            try:
                self._deliver(batch)
            except Exception:  # a bug must not end the sender: later alerts still go
                self._count(self.name, "failed", len(batch))
                log.exception("notification_failed", alertmanager=self.name,
                              alerts=len(batch))

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Post ``batch``, retrying within the budget; count and log the outcome."""
        body = json.dumps(batch, separators=(",", ":")).encode()
        started = time.monotonic()
        delay = self._settings.backoff
        error: PostError | None = None
        for attempt in range(1, self._settings.max_attempts + 1):
            try:
                self.client.post(body, self._stop)
            except PostError as exc:
                error = exc
                elapsed = time.monotonic() - started
                if (not exc.retryable or attempt == self._settings.max_attempts
                        or elapsed + delay + self.client.timeout > self._settings.retry_budget
                        or self._stop.wait(delay)):
                    break
                delay *= 2
                continue
            self._count(self.name, "sent", len(batch))
            with self._wake:
                self._dropping = False
            if self._healthy is not True:
                log.info("alertmanager_reachable", alertmanager=self.name, attempts=attempt)
            self._healthy = True
            return
        if error is not None and error.reason == "cancelled":
            return  # a stop, not a failure of Alertmanager
        self._count(self.name, "failed", len(batch))
        if self._healthy is not False:
            log.warning("alertmanager_unreachable", alertmanager=self.name,
                        reason=error.reason if error else "unknown",
                        error=str(error), alerts=len(batch))
        self._healthy = False


class Notifier:
    """Direct notification of one daemon: ``observe`` each new snapshot.

    ``observe`` only computes and enqueues; posting happens on the senders'
    threads, so it never waits on an Alertmanager.
    """

    def __init__(self, settings: NotifierSettings, *, count: Count | None = None,
                 clock: Callable[[], float] = time.time,
                 client_factory: ClientFactory = _client) -> None:
        self.settings = settings
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._book = AlertBook(settings.resend_interval)
        counter: Count = count or (lambda _am, _result, _n: None)
        self.senders = tuple(
            _Sender(client_factory(url, settings.timeout), settings, counter, self._stop)
            for url in settings.urls)
        self._started = False

    @property
    def active(self) -> tuple[Alert, ...]:
        with self._lock:
            return self._book.active

    def start(self) -> None:
        for sender in self.senders:
            sender.thread.start()
        self._started = True
        log.info("notifier_started",
                 alertmanagers=[s.name for s in self.senders],
                 resend_interval=self.settings.resend_interval)

    def observe(self, snapshot: Snapshot) -> None:
        """Take the alerts ``snapshot`` implies; enqueue what must be sent now.

        A snapshot before the first complete evaluation implies nothing
        (its statuses have no values yet), so it is skipped rather than
        read as "everything resolved".
        """
        if not snapshot.complete or self._stop.is_set():
            return
        firing = implied_alerts(snapshot, info_labels=self.settings.info_labels,
                                extra_labels=self.settings.extra_labels)
        # One lock over update and enqueue: two threads observing at once (a
        # cycle and a probe refresh) can never queue a stale state last.
        with self._lock:
            before = {a.key: a for a in self._book.active}
            out = self._book.update(firing, self._clock())
            for sender in self.senders:
                sender.put(out)
            started = [firing[k] for k in firing.keys() - before.keys()]
            ended = [before[k] for k in before.keys() - firing.keys()]
        for alert in started:
            log.info("alert_firing", alertname=alert.name, **_identity(alert))
        for alert in ended:
            log.info("alert_resolved", alertname=alert.name, **_identity(alert))

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop every sender; True when all ended within ``timeout`` seconds.

        A post in flight notices the stop within ``client.STOP_POLL``.
        """
        self._stop.set()
        for sender in self.senders:
            sender.wake()
        if not self._started:
            return True
        deadline = time.monotonic() + timeout
        for sender in self.senders:
            sender.thread.join(max(deadline - time.monotonic(), 0.0))
        return not any(s.thread.is_alive() for s in self.senders)


def _identity(alert: Alert) -> dict[str, str]:
    return {k: alert.labels[k] for k in ("service", "slo", "severity", "long_window")
            if k in alert.labels}
