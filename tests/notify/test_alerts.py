"""The alerts a snapshot implies carry the generated rules' names, labels and annotations."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from slo_exporter.model import (
    ALERT_WINDOWS,
    SLO,
    Alerting,
    AlertSettings,
    AlertWindow,
    frozen_map,
)
from slo_exporter.notify.alerts import Alert, burn_rate, humanize_percentage, implied_alerts
from slo_exporter.rules import rule_groups
from slo_exporter.snapshot import AlertState, SLOStatus, Snapshot
from tests.support.helpers import ratio_slo

RUNBOOK = "https://runbooks.example.com/shop/homepage"


def _slo(**labels: str) -> SLO:
    slo = ratio_slo("shop", "homepage")
    return dataclasses.replace(slo, runbook_url=RUNBOOK, labels=frozen_map(labels))


def _status(slo: SLO, *, firing: tuple[bool, ...] = (True, False, False, False),
            long_rate: float | None = 40.0, short_rate: float | None = 40.0,
            budget: float | None = 0.625) -> SLOStatus:
    alerts = tuple(
        AlertState(w.severity, w.long, w.short_or_long, w.threshold(30 * 86400),
                   long_rate, short_rate, fire)
        for w, fire in zip(ALERT_WINDOWS, firing, strict=True))
    return SLOStatus(slo=slo, alerts=alerts, budget_remaining=budget, up=True,
                     evaluated_at=1_700_000_000.0)


def _page(alerts: dict[Any, Alert]) -> Alert:
    (alert,) = alerts.values()
    return alert


def test_labels_are_those_prometheus_gives_the_rule_alert() -> None:
    """alertname, service, slo, the rule's labels and owner/tier: the rule path's set
    without job/instance (which only Prometheus' scrape knows)."""
    slo = _slo(owner="platform", tier="critical", team_channel="#shop")
    alert = _page(implied_alerts(Snapshot(slos=(_status(slo),), complete=True)))
    rule = next(r for g in rule_groups() for r in g["rules"]
                if r.get("labels", {}).get("long_window") == "1h")
    assert alert.labels == {
        "alertname": rule["alert"], **rule["labels"],
        "service": "shop", "slo": "homepage", "owner": "platform", "tier": "critical",
    }
    assert alert.labels["alertname"] == "SLOBurnRatePage"
    assert (alert.labels["severity"], alert.labels["short_window"]) == ("page", "5m")


def test_annotations_read_as_prometheus_renders_the_rule_templates() -> None:
    """The values of the rule path's end-to-end test (burn 40x, 62.5 % budget left, factor
    14.4 = 0.02 * 30d / 1h) give the same summary, description and lookups."""
    alert = _page(implied_alerts(Snapshot(slos=(_status(_slo(owner="platform")),),
                                          complete=True)))
    assert alert.annotations == {
        "summary": "shop/homepage is burning its error budget 40.0x too fast (1h/5m windows)",
        "description": (
            "SLO shop/homepage: the burn rate is 40.00 over the last 1h and 40.00 over the "
            "last 5m, both above 14.4 (spending 2% of the error budget in 1h). "
            "Error budget left: 62.5%."),
        "window_pair": "1h/5m",
        "budget_remaining": "62.5%",
        "runbook_url": RUNBOOK,
    }


def test_every_firing_pair_is_one_alert_and_quiet_pairs_none() -> None:
    """Two firing pairs (1h/5m page, 1d/2h ticket) give two alerts; the others none."""
    status = _status(_slo(), firing=(True, False, True, False))
    alerts = implied_alerts(Snapshot(slos=(status,), complete=True))
    assert sorted((a.name, a.labels["long_window"]) for a in alerts.values()) == [
        ("SLOBurnRatePage", "1h"), ("SLOBurnRateTicket", "1d")]


def test_missing_values_read_unknown_and_unset_labels_are_absent() -> None:
    """No budget figure reads "unknown" as the rule's template does; an SLO without
    owner/tier has no such labels (Prometheus drops empty labels)."""
    slo = ratio_slo("shop", "homepage")
    alert = burn_rate(_status(slo, budget=None), _status(slo).alerts[0])
    assert alert.annotations["budget_remaining"] == "unknown"
    assert alert.annotations["runbook_url"] == ""
    assert "owner" not in alert.labels
    assert "tier" not in alert.labels


def test_extra_labels_are_added_but_never_override_the_alert_identity() -> None:
    """--alertmanager.label adds job/instance; it cannot rename the SLO or the alert."""
    slo = _slo(owner="platform")
    alert = burn_rate(_status(slo), _status(slo).alerts[0], extra_labels={
        "job": "slo-exporter", "instance": "host:10950", "service": "other",
        "alertname": "Other", "severity": "none", "empty": ""})
    assert "empty" not in alert.labels
    assert alert.labels["job"] == "slo-exporter"
    assert alert.labels["instance"] == "host:10950"
    assert (alert.labels["service"], alert.labels["alertname"], alert.labels["severity"]) == (
        "shop", "SLOBurnRatePage", "page")


@pytest.mark.parametrize(("ratio", "text"), [(0.625, "62.5%"), (1.0, "100%"),
                                             (-0.5, "-50%"), (0.123456, "12.35%")])
def test_percentages_are_shown_as_humanize_percentage_does(ratio: float, text: str) -> None:
    """Go's %.4g of ratio * 100, then "%": 0.123456 -> 12.3456 -> 12.35%."""
    assert humanize_percentage(ratio) == text


def _custom(slo: SLO) -> SLO:
    """``slo`` with its page renamed and relabelled, a summary of its own, the ticket off."""
    page = AlertSettings(
        name="HomepagePage", labels=frozen_map({"severity": "critical", "team": "web"}),
        annotations=frozen_map({"summary": "{{ $labels.slo }} burns {{ $value }}x"}))
    return dataclasses.replace(slo, alerting=Alerting(page=page,
                                                      ticket=AlertSettings(disabled=True)))


def test_custom_alerting_renames_relabels_and_annotates() -> None:
    """The page goes out as HomepagePage with severity critical and team web; its own
    summary fills $labels.slo and $value (40); the other annotations stay the defaults."""
    slo = _custom(_slo(owner="platform"))
    alert = _page(implied_alerts(Snapshot(slos=(_status(slo),), complete=True)))
    assert alert.labels["alertname"] == "HomepagePage"
    assert (alert.labels["severity"], alert.labels["team"]) == ("critical", "web")
    assert (alert.labels["long_window"], alert.labels["owner"]) == ("1h", "platform")
    assert alert.annotations["summary"] == "homepage burns 40x"
    assert alert.annotations["window_pair"] == "1h/5m"
    assert alert.annotations["runbook_url"] == RUNBOOK


def test_disabled_severity_sends_nothing() -> None:
    """Every window firing: the two page pairs are sent, the disabled ticket pairs are not."""
    slo = _custom(_slo())
    status = _status(slo, firing=(True, True, True, True))
    alerts = implied_alerts(Snapshot(slos=(status,), complete=True))
    assert sorted(a.labels["long_window"] for a in alerts.values()) == ["1h", "6h"]
    assert {a.name for a in alerts.values()} == {"HomepagePage"}


def test_single_window_state_is_sent_without_a_short_window() -> None:
    """A single-window fixed-factor condition (6h above 10) has no short_window label and
    its description names one window: burn 12 over 6h, above 10."""
    window = AlertWindow("page", 6 * 3600.0, None, factor=10.0)
    slo = dataclasses.replace(_slo(), alerting=Alerting(windows=(window,)))
    state = AlertState("page", window.long, window.short_or_long, 10.0, 12.0, 12.0, True,
                       window=window)
    status = SLOStatus(slo=slo, alerts=(state,), budget_remaining=0.75, up=True,
                       evaluated_at=1_700_000_000.0)
    alert = _page(implied_alerts(Snapshot(slos=(status,), complete=True)))
    assert "short_window" not in alert.labels
    assert alert.annotations["description"] == (
        "SLO shop/homepage: the burn rate is 12.00 over the last 6h, above 10. "
        "Error budget left: 75%.")
