"""Parsed SLOs share what they have alike: the built-in alerting, the events budgeting,
empty label maps (one object each for a whole fleet, not one per SLO)."""

from __future__ import annotations

import textwrap

from slo_exporter import model
from slo_exporter.config import parse_config

FLEET = textwrap.dedent("""\
    prometheus: {url: "http://127.0.0.1:9090"}
    services:
      - name: api
        slos:
          - name: availability
            objective: 99.9
            window: 30d
            sli: {ratio: {total: 'http_requests_total{job="api"}',
                          bad: 'http_requests_total{job="api",code="500"}'}}
          - name: latency
            objective: 99
            window: 30d
            sli: {ratio: {total: 'http_requests_total{job="api"}',
                          bad: 'http_requests_total{job="api",code="503"}'}}
          - name: paged
            objective: 99
            window: 30d
            alerting: {page: {labels: {team: core}}}
            sli: {ratio: {total: 'http_requests_total{job="api"}',
                          bad: 'http_requests_total{job="api",code="504"}'}}
    """)


def test_slos_with_the_built_in_alerting_share_one_object() -> None:
    """Two SLOs that change nothing of the alerting hold the one DEFAULT_ALERTING;
    one with its own page labels keeps its own."""
    first, second, paged = parse_config(FLEET, "fleet.yaml").slos
    assert first.alerting is model.DEFAULT_ALERTING
    assert second.alerting is model.DEFAULT_ALERTING
    assert paged.alerting is not model.DEFAULT_ALERTING
    assert paged.alerting.page.labels == {"team": "core"}
    assert not paged.alerting.default


def test_events_budgeting_and_empty_maps_are_shared() -> None:
    """The default budgeting and the empty group map are one object across SLOs."""
    first, second, _ = parse_config(FLEET, "fleet.yaml").slos
    assert first.budgeting is second.budgeting
    assert first.budgeting.method == "occurrences"
    assert first.group is second.group
    assert dict(first.group) == {}
    assert model.frozen_map() is model.frozen_map({})
    assert model.frozen_map({"a": "1"}) == {"a": "1"}
