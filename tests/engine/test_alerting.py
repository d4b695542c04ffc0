"""An SLO's own alert windows in the engine: its catalogue, its holds, its exported windows."""

from __future__ import annotations

import pytest

from slo_exporter.engine import Engine
from slo_exporter.model import Alerting, AlertSettings, AlertWindow, Config
from slo_exporter.store import EventStore
from tests.engine.support import (
    NOW,
    ScriptedSource,
    exported,
    half_failing_probe,
    probe_alerting,
)

#: page when 10m and 2m burn faster than 2 for 2 minutes; a single-window
#: ticket on 20m at 1% of the 1d budget (threshold 0.01 * 86400 / 1200 = 0.72)
CATALOGUE = (
    AlertWindow("page", 600.0, 120.0, factor=2.0, hold=120.0),
    AlertWindow("ticket", 1200.0, None, 0.01),
)


def _config() -> Config:
    """The probe SLO alerts on CATALOGUE, its ticket disabled."""
    return probe_alerting(Alerting(windows=CATALOGUE, ticket=AlertSettings(disabled=True)))


def test_custom_catalogue_and_hold_drive_the_alert_states(store: EventStore) -> None:
    """Half of the probes fail, from 30 minutes before the first evaluation to the second:
    error ratio 0.5, objective 90%, burn rate 5.

    5 > 2 on 10m and 2m: the page holds from the first evaluation but fires only
    once it has held 2 minutes (at +180 s, not at +0). 5 > 0.72 on 20m: the
    disabled ticket still fires and is exported. Nothing else is alerted on.
    """
    first, second, snapshot = half_failing_probe(store, _config())

    page, ticket = first.alerts
    assert (page.long_window, page.short_window, page.factor) == (600.0, 120.0, 2.0)
    assert page.long_burn_rate == pytest.approx(5.0)
    assert (page.since, page.firing) == (NOW, False)
    assert (ticket.long_window, ticket.short_window) == (1200.0, 1200.0)
    assert ticket.factor == pytest.approx(0.72)
    assert ticket.firing

    page, ticket = second.alerts
    assert (page.since, page.firing) == (NOW, True)

    registry = exported(snapshot)
    labels = {"service": "web", "slo": "probe"}
    for window in ("2m", "10m", "20m"):
        assert registry.get_sample_value(
            "slo_burn_rate", {**labels, "window": window}) is not None, window
    for severity in ("page", "ticket"):
        assert registry.get_sample_value(
            "slo_burn_rate_alert", {**labels, "severity": severity}) == 1.0


def test_slo_info_marks_custom_alerting(store: EventStore) -> None:
    """slo_info{alerting="custom"} on the SLO with its own alerting, no such label on the
    other: the generic rules join slo_info{alerting!="custom"}."""
    engine = Engine(_config(), store, ScriptedSource(), clock=lambda: NOW,
                    probe_last_seen=lambda key: NOW)
    try:
        engine.evaluate()
    finally:
        engine.close()
    registry = exported(engine.snapshot)
    infos = {s.labels["slo"]: s.labels.get("alerting")
             for family in registry.collect() if family.name == "slo_info"
             for s in family.samples}
    assert infos == {"probe": "custom", "availability": None}
