"""ProbeMetrics: families, labels and values read from a fresh registry."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from slo_exporter import model
from slo_exporter.exposition import render_families, rendering_text
from slo_exporter.probes import ProbeMetrics, ProbeResult
from slo_exporter.probes import metrics as probe_metrics
from slo_exporter.probes.metrics import BUCKETS

URL = "https://shop.example.com/healthz"


def probe_slo(name: str = "homepage", url: str = URL) -> model.SLO:
    return model.SLO(
        service="shop", name=name, objective=0.995, period=model.RollingPeriod(7 * 86400.0),
        sli=model.ProbeSLI(model.HTTPProbe(url=url)),
    )


@pytest.fixture
def setup() -> tuple[ProbeMetrics, CollectorRegistry]:
    metrics = ProbeMetrics()
    registry = CollectorRegistry()
    registry.register(metrics)
    return metrics, registry


def test_last_result_gauges(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """slo_probe_success and slo_probe_duration_seconds show the last probe."""
    metrics, reg = setup
    slo = probe_slo()
    metrics.observe(slo, ProbeResult(True, 0.2, "ok"))
    metrics.observe(slo, ProbeResult(False, 1.5, "timeout"))
    labels = {"service": "shop", "slo": "homepage", "module": "http", "instance": URL}
    assert reg.get_sample_value("slo_probe_success", labels) == 0.0
    assert reg.get_sample_value("slo_probe_duration_seconds", labels) == 1.5


def test_results_counter_by_outcome_and_reason(
    setup: tuple[ProbeMetrics, CollectorRegistry],
) -> None:
    """slo_probe_results_total counts probes by result and reason."""
    metrics, reg = setup
    slo = probe_slo()
    for r in [ProbeResult(True, 0.1, "ok")] * 3 + [ProbeResult(False, 1, "timeout")] * 2:
        metrics.observe(slo, r)
    base = {"service": "shop", "slo": "homepage", "module": "http"}
    assert reg.get_sample_value(
        "slo_probe_results_total", {**base, "result": "success", "reason": "ok"}
    ) == 3
    assert reg.get_sample_value(
        "slo_probe_results_total", {**base, "result": "failure", "reason": "timeout"}
    ) == 2


def test_latency_histogram(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """slo_probe_latency_seconds is cumulative over the fixed buckets."""
    metrics, reg = setup
    slo = probe_slo()
    for d in (0.004, 0.02, 0.02, 0.3, 120.0):
        metrics.observe(slo, ProbeResult(True, d, "ok"))
    base = {"service": "shop", "slo": "homepage", "module": "http"}

    def bucket(le: str) -> float | None:
        return reg.get_sample_value("slo_probe_latency_seconds_bucket", {**base, "le": le})

    assert bucket("0.005") == 1
    assert bucket("0.025") == 3
    assert bucket("0.5") == 4
    assert bucket("60.0") == 4
    assert bucket("+Inf") == 5
    assert reg.get_sample_value("slo_probe_latency_seconds_count", base) == 5
    assert reg.get_sample_value("slo_probe_latency_seconds_sum", base) == pytest.approx(120.344)
    assert len(BUCKETS) == 9


def test_cert_expiry_gauge_only_when_a_cert_was_seen(
    setup: tuple[ProbeMetrics, CollectorRegistry],
) -> None:
    """The expiry gauge appears once a result carried cert_not_after and keeps it."""
    metrics, reg = setup
    slo = probe_slo()
    labels = {"service": "shop", "slo": "homepage", "instance": URL}
    metrics.observe(slo, ProbeResult(True, 0.1, "ok"))
    assert reg.get_sample_value("slo_probe_ssl_earliest_cert_expiry_seconds", labels) is None
    metrics.observe(slo, ProbeResult(True, 0.1, "ok", cert_not_after=1.9e9))
    metrics.observe(slo, ProbeResult(False, 0.1, "connection_refused"))
    assert reg.get_sample_value("slo_probe_ssl_earliest_cert_expiry_seconds", labels) == 1.9e9


def test_retain_drops_removed_slos(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """retain() forgets the series of SLOs no longer configured."""
    metrics, reg = setup
    keep, drop = probe_slo("a"), probe_slo("b")
    metrics.observe(keep, ProbeResult(True, 0.1, "ok"))
    metrics.observe(drop, ProbeResult(True, 0.1, "ok"))
    metrics.retain([keep])
    text = generate_latest(reg).decode()
    assert 'slo="a"' in text
    assert 'slo="b"' not in text


def test_changed_target_resets_series(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """When an SLO's probe target changes, the old instance's series disappear."""
    metrics, reg = setup
    metrics.observe(probe_slo(url="http://old/"), ProbeResult(True, 0.1, "ok"))
    metrics.observe(probe_slo(url="http://new/"), ProbeResult(True, 0.1, "ok"))
    text = generate_latest(reg).decode()
    assert "http://old/" not in text
    assert "http://new/" in text


def test_non_probe_slo_is_rejected(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """observe() on an SLO whose SLI is not a probe raises TypeError."""
    metrics, _ = setup
    slo = model.SLO("s", "ratio", 0.99, model.RollingPeriod(86400.0),
                    model.RatioSLI(total=model.Selector("x")))
    with pytest.raises(TypeError):
        metrics.observe(slo, ProbeResult(True, 0.1, "ok"))


def test_concurrent_observe_loses_nothing(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """Observations from many threads, with scrapes in between, are all counted."""
    metrics, reg = setup
    slo = probe_slo()

    def work() -> None:
        for _ in range(2000):
            metrics.observe(slo, ProbeResult(True, 0.01, "ok"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for _ in range(20):
        generate_latest(reg)
    for t in threads:
        t.join()
    base = {"service": "shop", "slo": "homepage", "module": "http"}
    assert reg.get_sample_value("slo_probe_latency_seconds_count", base) == 16000


def test_scheduler_counters_are_exported(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """After watch(), skipped runs and in-flight probes of the scheduler are exported."""
    from slo_exporter.probes import SchedulerStats

    metrics, reg = setup
    assert reg.get_sample_value("slo_probe_in_flight") is None
    metrics.watch(lambda: SchedulerStats(10, 9, 2, 5, 0, 1))
    assert reg.get_sample_value("slo_probe_skipped_total", {"reason": "overlap"}) == 2
    assert reg.get_sample_value("slo_probe_skipped_total", {"reason": "behind"}) == 5
    assert reg.get_sample_value("slo_probe_in_flight") == 1


def test_self_errors_count_as_skipped_and_leave_the_target_alone(
    setup: tuple[ProbeMetrics, CollectorRegistry],
) -> None:
    """A self error counts in slo_probe_skipped_total{reason} and in no series of the target."""
    metrics, reg = setup
    slo = probe_slo()
    metrics.observe(slo, ProbeResult(True, 0.2, "ok"))
    for reason in ("resource_exhausted", "resource_exhausted", "probe_late"):
        metrics.observe(slo, ProbeResult(False, 0.0, reason, "the daemon, not the target"))
    labels = {"service": "shop", "slo": "homepage", "module": "http", "instance": URL}
    assert reg.get_sample_value("slo_probe_success", labels) == 1.0
    assert reg.get_sample_value("slo_probe_skipped_total", {"reason": "resource_exhausted"}) == 2
    assert reg.get_sample_value("slo_probe_skipped_total", {"reason": "probe_late"}) == 1
    text = generate_latest(reg).decode()
    assert 'result="failure"' not in text
    base = {"service": "shop", "slo": "homepage", "module": "http"}
    assert reg.get_sample_value("slo_probe_latency_seconds_count", base) == 1


def test_instance_label_has_no_user_info(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """A probe URL with user:pass@ is exported without the user info."""
    metrics, reg = setup
    metrics.observe(probe_slo(url="https://bob:s3cr3t@shop.example.com/healthz"),
                    ProbeResult(True, 0.1, "ok"))
    text = generate_latest(reg).decode()
    assert f'instance="{URL}"' in text
    assert "s3cr3t" not in text
    assert "bob" not in text


def _text(reg: CollectorRegistry) -> bytes:
    """/metrics' way of rendering: collectors hand over the text they keep."""
    with rendering_text():
        return render_families(reg.collect())


def test_kept_text_equals_generate_latest(setup: tuple[ProbeMetrics, CollectorRegistry]) -> None:
    """The text /metrics takes equals the library's rendering of collect(), for targets
    with several outcomes, a certificate, self errors and scheduler counters."""
    from slo_exporter.probes import SchedulerStats

    metrics, reg = setup
    metrics.watch(lambda: SchedulerStats(10, 9, 2, 5, 0, 1))
    for name, url in (("b", URL), ("a", 'http://h/"q"\\'), ("c", "http://x/")):
        slo = probe_slo(name, url)
        metrics.observe(slo, ProbeResult(True, 0.2, "ok", cert_not_after=1.9e9))
        metrics.observe(slo, ProbeResult(False, 61.0, "timeout"))
        metrics.observe(slo, ProbeResult(False, 0.0, "probe_late", "the daemon"))
    assert _text(reg) == generate_latest(reg)
    assert _text(reg) == generate_latest(reg)  # from the kept lines this time


def test_a_target_is_written_once_per_result(
    setup: tuple[ProbeMetrics, CollectorRegistry], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Scrapes without new results write nothing; a result re-writes only its target.

    Two targets, two scrapes: 2 writes. One more result of "a", one scrape: 3.
    """
    metrics, reg = setup
    written: list[str] = []
    real = probe_metrics._target_lines

    def counting(values: Any) -> tuple[str, ...]:
        written.append(values.key[1])
        return real(values)

    monkeypatch.setattr(probe_metrics, "_target_lines", counting)
    for name in ("a", "b"):
        metrics.observe(probe_slo(name), ProbeResult(True, 0.2, "ok"))
    _text(reg)
    _text(reg)
    assert sorted(written) == ["a", "b"]
    metrics.observe(probe_slo("a"), ProbeResult(True, 0.3, "ok"))
    assert b"slo_probe_duration_seconds" in _text(reg)
    assert sorted(written) == ["a", "a", "b"]
    assert _text(reg) == generate_latest(reg)


def test_a_result_landing_while_a_scrape_writes_shows_in_the_next(
    setup: tuple[ProbeMetrics, CollectorRegistry], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lines written from values a newer result replaced are served once, never kept."""
    metrics, reg = setup
    slo = probe_slo()
    metrics.observe(slo, ProbeResult(True, 0.2, "ok"))
    real = probe_metrics._target_lines
    landed: list[bool] = []

    def racing(values: Any) -> tuple[str, ...]:
        if not landed:  # the next result arrives while this scrape writes, outside the lock
            landed.append(True)
            metrics.observe(slo, ProbeResult(False, 0.4, "timeout"))
        return real(values)

    monkeypatch.setattr(probe_metrics, "_target_lines", racing)
    assert b'result="failure"' not in _text(reg)
    assert b'result="failure"' in _text(reg)
    assert _text(reg) == generate_latest(reg)


def test_kept_text_follows_new_and_removed_targets(
    setup: tuple[ProbeMetrics, CollectorRegistry],
) -> None:
    """A target first seen after a scrape joins in label order; retain() drops one."""
    metrics, reg = setup
    metrics.observe(probe_slo("b"), ProbeResult(True, 0.2, "ok"))
    _text(reg)
    metrics.observe(probe_slo("a"), ProbeResult(True, 0.2, "ok"))
    assert _text(reg) == generate_latest(reg)
    assert b'slo="a"' in _text(reg)
    metrics.retain([probe_slo("b")])
    assert b'slo="a"' not in _text(reg)
    assert _text(reg) == generate_latest(reg)
