"""Grouped SLOs in the service catalog (``/catalog`` and ``/api/v1/services``).

A grouped definition has no events of its own: the catalog lists each of its
groups the snapshot holds, with the group's label values, and the definition
alone only until a group is known.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from slo_exporter import model, snapshot
from slo_exporter.api import render_services
from slo_exporter.catalog import render_catalog
from tests.support.helpers import figures, ratio_slo

AT = 1_773_100_000.0


def _shop() -> tuple[tuple[model.Service, ...], snapshot.Snapshot]:
    """checkout: availability grouped by route (/cart met, /pay missed) and an
    ungrouped latency SLO (met)."""
    grouped = dataclasses.replace(ratio_slo("checkout", "availability"), group_by=("route",))
    latency = ratio_slo("checkout", "latency", objective=0.99)
    cart, pay = (dataclasses.replace(grouped, group=model.frozen_map({"route": r}))
                 for r in ("/cart", "/pay"))
    services = (model.Service("checkout", (latency, grouped)),)
    statuses = (
        snapshot.SLOStatus(slo=pay, up=True, evaluated_at=AT,
                           period=figures(achieved=0.998, coverage=1.0)),
        snapshot.SLOStatus(slo=latency, up=True, evaluated_at=AT,
                           period=figures(achieved=0.995, objective=0.99, coverage=1.0)),
        snapshot.SLOStatus(slo=cart, up=True, evaluated_at=AT,
                           period=figures(achieved=0.9995, coverage=0.9)),
    )
    return services, snapshot.Snapshot(slos=statuses, taken_at=AT, complete=True)


def _checkout(services: tuple[model.Service, ...], snap: snapshot.Snapshot) -> dict[str, Any]:
    doc = json.loads(json.dumps(render_services(services, snap), allow_nan=False))
    (checkout,) = doc["services"]
    return dict(checkout)


def test_services_api_lists_each_group_with_its_labels() -> None:
    """Each group of a grouped SLO is an entry with its group labels and standing, in
    label order after the SLO name; the summary counts groups (2 met, 1 missed)."""
    checkout = _checkout(*_shop())
    entries = [(e["slo"], e["group"], e["achieved"], e["met"]) for e in checkout["slos"]]
    assert entries == [
        ("availability", {"route": "/cart"}, 0.9995, True),
        ("availability", {"route": "/pay"}, 0.998, False),
        ("latency", {}, 0.995, True),
    ]
    assert checkout["summary"] == {"slos": 3, "met": 2, "missed": 1, "unknown": 0,
                                   "credit_percent": None}


def test_a_grouped_slo_without_groups_yet_is_listed_once_as_unknown() -> None:
    """Before its first group is seen, the definition is listed alone, unknown, not
    dropped from the catalog."""
    services, snap = _shop()
    latency_only = dataclasses.replace(snap, slos=(snap.slos[1],))
    checkout = _checkout(services, latency_only)
    assert [(e["slo"], e["group"], e["met"]) for e in checkout["slos"]] == [
        ("availability", {}, None), ("latency", {}, True)]


def test_catalog_page_shows_a_row_per_group_with_its_labels() -> None:
    """The page has one row per group, keyed and labelled by the group; the summary
    counts the missed group."""
    page = render_catalog(*_shop())
    assert 'data-slo="checkout/availability{route=&quot;/cart&quot;}"' in page
    assert 'data-slo="checkout/availability{route=&quot;/pay&quot;}"' in page
    assert 'data-slo="checkout/availability"' not in page
    assert ('<span class="slo-name">availability</span> '
            '<span class="group">{route=&quot;/pay&quot;}</span>') in page
    assert '<div id="catalog-missed" class="alarm"><b>1</b>' in page
