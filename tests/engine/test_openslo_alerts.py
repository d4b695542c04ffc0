"""An OpenSLO alert policy, as the loader maps it, drives the engine's alert state.

The loader tests show a burn-rate AlertCondition becomes an alert window and
a rule; this shows the same loaded ``Alerting`` evaluated: held, fired and
exported as ``slo_burn_rate_alert``, with the policy's windows as
``slo_burn_rate``.
"""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import CollectorRegistry

from slo_exporter.config import parse_config
from slo_exporter.engine import Engine
from slo_exporter.exposition import SnapshotCollector
from slo_exporter.model import SLO, Alerting, Config
from slo_exporter.store import EventStore
from tests.engine.support import CONFIG, NOW, ScriptedSource

PROBE = "web/probe"

#: page when 10m burns faster than 2 for 2m; a `warning` ticket when 20m burns faster than 4
OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: probe}
spec:
  service: web
  indicator:
    metadata: {name: probe-ok}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: probe_ok_total}}}
        total: {metricSource: {type: Prometheus, spec: {query: probe_total}}}
  timeWindow: [{duration: 1d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.9}]
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: fast-burn}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: page}
            spec:
              severity: page
              condition: {kind: burnrate, threshold: 2, lookbackWindow: 10m, alertAfter: 2m}
    - kind: AlertPolicy
      metadata: {name: slow-burn}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: ticket}
            spec:
              severity: warning
              condition: {kind: burnrate, threshold: 4, lookbackWindow: 20m}
"""


def _alerting() -> Alerting:
    [slo] = parse_config(OPENSLO, "probe.yaml").slos
    return slo.alerting


def _config(alerting: Alerting) -> Config:
    """The engine tests' config, its probe SLO given the OpenSLO SLO's alerting (the probe
    stands for the SLI: the alerting is what is under test)."""
    config = parse_config(CONFIG, "t.yaml")

    def change(slo: SLO) -> SLO:
        return dataclasses.replace(slo, alerting=alerting) if slo.key == PROBE else slo

    services = tuple(dataclasses.replace(svc, slos=tuple(change(s) for s in svc.slos))
                     for svc in config.services)
    return dataclasses.replace(config, services=services)


def test_an_openslo_policy_holds_fires_and_is_exported(store: EventStore) -> None:
    """Half of the probes fail from 30 minutes before the first evaluation: error ratio
    0.5, objective 90 %, burn rate 0.5 / 0.1 = 5.

    5 > 2 on 10m: the page holds from the first evaluation and fires once it has held
    alertAfter 2m (at +180 s). 5 > 4 on 20m: the ticket fires at once, named after its
    policy, keeping the condition's `warning` as its severity label.
    """
    for i in range(66):
        store.record(PROBE, NOW - 1800 + 30 * i, good=i % 2 == 0)
    now = [NOW]
    engine = Engine(_config(_alerting()), store, ScriptedSource(), clock=lambda: now[0],
                    probe_last_seen=lambda key: now[0])
    try:
        first = next(s for s in engine.evaluate().slos if s.slo.key == PROBE)
        now[0] = NOW + 180
        second = next(s for s in engine.evaluate().slos if s.slo.key == PROBE)
    finally:
        engine.close()

    page, ticket = first.alerts
    assert (page.long_window, page.short_window, page.factor) == (600.0, 600.0, 2.0)
    assert page.long_burn_rate == pytest.approx(5.0)
    assert (page.since, page.firing) == (NOW, False)
    assert (ticket.long_window, ticket.factor, ticket.firing) == (1200.0, 4.0, True)
    page, _ticket = second.alerts
    assert (page.since, page.firing) == (NOW, True)
    settings = second.slo.alerting
    assert (settings.page.name, settings.ticket.name) == ("fast_burn", "slow_burn")
    assert dict(settings.ticket.labels) == {"severity": "warning"}

    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: engine.snapshot))
    labels = {"service": "web", "slo": "probe"}
    for window in ("10m", "20m"):
        assert registry.get_sample_value(
            "slo_burn_rate", {**labels, "window": window}) is not None, window
    for severity in ("page", "ticket"):
        assert registry.get_sample_value(
            "slo_burn_rate_alert", {**labels, "severity": severity}) == 1.0
