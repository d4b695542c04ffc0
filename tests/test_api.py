"""The /api/v1/slos document: schema, no-data handling and deterministic output."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, cast

import pytest

from slo_exporter import model, slomath, snapshot
from slo_exporter.api import render_slos

DAY = 86400.0


def _slo(service: str = "checkout", name: str = "availability", **kwargs: object) -> model.SLO:
    sli = model.RatioSLI(
        total=model.Selector('http_requests_total{job="checkout"}'),
        good=model.Selector('http_requests_total{job="checkout",code!~"5.."}'),
    )
    fields: dict[str, object] = {
        "service": service,
        "name": name,
        "objective": 0.999,
        "period": model.RollingPeriod(30 * DAY),
        "sli": sli,
        "labels": model.frozen_map({"owner": "payments", "tier": "critical"}),
    }
    fields.update(kwargs)
    return model.SLO(**fields)  # type: ignore[arg-type]


def _status(slo: model.SLO, **kwargs: object) -> snapshot.SLOStatus:
    fields: dict[str, object] = {
        "slo": slo,
        "windows": (
            snapshot.WindowValues(300.0, good=999.0, total=1000.0, sli=0.999, burn_rate=1.0),
            snapshot.WindowValues(3600.0, good=0.0, total=0.0, sli=None, burn_rate=None),
            snapshot.WindowValues(
                30 * DAY, good=99_950.0, total=100_000.0, sli=0.9995, burn_rate=0.5
            ),
        ),
        "budget_remaining": 0.5,
        "alerts": (
            snapshot.AlertState("page", 3600.0, 300.0, 14.4, None, 1.0, firing=False),
            snapshot.AlertState("page", 6 * 3600.0, 1800.0, 6.0, 7.0, 8.0, firing=True),
            snapshot.AlertState("ticket", DAY, 7200.0, 3.0, 0.5, 0.5, firing=False),
        ),
        "up": True,
        "evaluated_at": 1_700_000_000.0,
    }
    fields.update(kwargs)
    return snapshot.SLOStatus(**fields)  # type: ignore[arg-type]


def test_document_has_the_documented_fields() -> None:
    """Every SLO entry carries exactly the documented keys, with windows in duration text."""
    snap = snapshot.Snapshot(slos=(_status(_slo()),), taken_at=1_700_000_030.0, complete=True)
    doc = render_slos(snap, {"checkout/availability": [(1.0, 0.6), (2.0, 0.5)]})
    assert doc["generated_at"] == 1_700_000_030.0
    assert doc["complete"] is True
    [entry] = cast("list[dict[str, Any]]", doc["slos"])
    assert set(entry) == {
        "service",
        "slo",
        "objective",
        "window",
        "labels",
        "group",
        "description",
        "runbook_url",
        "sli",
        "burn_rate",
        "events",
        "error_budget_remaining",
        "alerts",
        "alert_conditions",
        "up",
        "evaluated_at",
        "error",
        "error_budget_history",
        "commitment",
        "budgeting",
        "period",
        "achieved",
        "met",
        "coverage",
        "excluded_seconds",
        "budget_spent_ratio",
        "exhaustion_at",
        "sla",
        "evidence",
    }
    assert entry["service"] == "checkout"
    assert entry["slo"] == "availability"
    assert entry["objective"] == 0.999
    assert entry["window"] == "30d"
    assert entry["labels"] == {"owner": "payments", "tier": "critical"}
    assert entry["sli"] == {"5m": 0.999, "1h": None, "30d": 0.9995}
    assert entry["burn_rate"] == {"5m": 1.0, "1h": None, "30d": 0.5}
    assert entry["events"]["5m"] == {"good": 999.0, "bad": 1.0, "total": 1000.0}
    assert entry["events"]["1h"] == {"good": 0.0, "bad": 0.0, "total": 0.0}
    assert entry["error_budget_remaining"] == 0.5
    assert entry["up"] is True
    assert entry["evaluated_at"] == 1_700_000_000.0
    assert entry["error"] is None
    assert entry["error_budget_history"] == [[1.0, 0.6], [2.0, 0.5]]


def test_alerts_summarise_any_firing_pair_per_severity() -> None:
    """A severity is firing when any of its window pairs fires; details list every pair."""
    doc = render_slos(snapshot.Snapshot(slos=(_status(_slo()),)))
    [entry] = cast("list[dict[str, Any]]", doc["slos"])
    assert entry["alerts"] == {"page": True, "ticket": False}
    assert entry["alert_conditions"][1] == {
        "severity": "page",
        "long_window": "6h",
        "short_window": "30m",
        "factor": 6.0,
        "for": None,
        "long_burn_rate": 7.0,
        "short_burn_rate": 8.0,
        "firing": True,
    }
    assert entry["alert_conditions"][0]["long_burn_rate"] is None


def _single_window_states() -> tuple[snapshot.AlertState, ...]:
    """An OpenSLO-style condition, 6h over a fixed 14.4x held 5m, and a 1h/5m pair held
    2m, evaluated by slomath at t=1000 after holding since t=600.

    Objective 0.999: 6h has 3 bad of 100 (error ratio 0.03, burn 30 > 14.4); 1h has
    2 bad of 100 (burn 20), 5m 1 bad of 10 (burn 100).
    """
    windows = (
        model.AlertWindow("page", 6 * 3600.0, None, factor=14.4, hold=300.0),
        model.AlertWindow("ticket", 3600.0, 300.0, factor=14.4, hold=120.0),
    )
    counts = {6 * 3600.0: slomath.Counts(97.0, 100.0), 3600.0: slomath.Counts(98.0, 100.0),
              300.0: slomath.Counts(9.0, 10.0)}
    held = tuple(dataclasses.replace(s, since=600.0) for s in slomath.alert_states(
        0.999, 30 * DAY, counts, windows, at=600.0))
    return slomath.alert_states(0.999, 30 * DAY, counts, windows, at=1000.0, previous=held)


def test_a_single_window_condition_has_no_short_window_and_shows_its_hold() -> None:
    """A single-window condition reads short_window null (not 6h/6h), short_burn_rate
    null; every condition gives its hold as for (5m, 2m), null where it has none."""
    status = _status(_slo(), alerts=_single_window_states())
    [entry] = cast("list[dict[str, Any]]", render_slos(snapshot.Snapshot(slos=(status,)))["slos"])
    single, pair = entry["alert_conditions"]
    assert single == {
        "severity": "page", "long_window": "6h", "short_window": None, "factor": 14.4,
        "for": "5m", "long_burn_rate": single["long_burn_rate"], "short_burn_rate": None,
        "firing": True,
    }
    assert single["long_burn_rate"] == pytest.approx(30.0)
    assert (pair["short_window"], pair["for"]) == ("5m", "2m")
    assert pair["short_burn_rate"] == pytest.approx(100.0)


def test_no_alert_states_means_both_severities_quiet() -> None:
    """An SLO not yet evaluated reports page and ticket as false, never a missing key."""
    status = snapshot.SLOStatus(slo=_slo())
    doc = render_slos(snapshot.Snapshot(slos=(status,)))
    [entry] = cast("list[dict[str, Any]]", doc["slos"])
    assert entry["alerts"] == {"page": False, "ticket": False}
    assert entry["error_budget_remaining"] is None
    assert entry["evaluated_at"] is None
    assert entry["up"] is False
    assert entry["sli"] == {}
    assert doc["generated_at"] is None


def test_non_finite_numbers_become_null_and_json_is_strict() -> None:
    """NaN or infinite values are rendered as null so the output is valid strict JSON."""
    status = _status(
        _slo(),
        budget_remaining=-math.inf,
        windows=(snapshot.WindowValues(300.0, 1.0, 1.0, sli=math.nan, burn_rate=math.inf),),
    )
    history = {"checkout/availability": [(1.0, math.nan)]}
    doc = render_slos(snapshot.Snapshot(slos=(status,)), history)
    text = json.dumps(doc, allow_nan=False)
    entry = json.loads(text)["slos"][0]
    assert entry["error_budget_remaining"] is None
    assert entry["sli"] == {"5m": None}
    assert entry["burn_rate"] == {"5m": None}
    assert entry["error_budget_history"] == []


def test_slos_are_ordered_by_service_then_name() -> None:
    """Entries are sorted by service and SLO name regardless of snapshot order."""
    statuses = (
        _status(_slo("search", "latency")),
        _status(_slo("checkout", "latency")),
        _status(_slo("checkout", "availability")),
    )
    doc = render_slos(snapshot.Snapshot(slos=statuses))
    keys = [(e["service"], e["slo"]) for e in doc["slos"]]  # type: ignore[attr-defined]
    assert keys == [("checkout", "availability"), ("checkout", "latency"), ("search", "latency")]


def test_error_and_runbook_are_passed_through() -> None:
    """The last error text and the runbook URL reach the document unchanged."""
    status = _status(
        _slo(runbook_url="https://runbooks.example/checkout", description="Checkout works"),
        up=False,
        error="query timed out",
    )
    [entry] = cast("list[dict[str, Any]]", render_slos(snapshot.Snapshot(slos=(status,)))["slos"])
    assert entry["up"] is False
    assert entry["error"] == "query timed out"
    assert entry["runbook_url"] == "https://runbooks.example/checkout"
    assert entry["description"] == "Checkout works"


def test_rendering_is_deterministic() -> None:
    """The same snapshot gives byte-identical JSON."""
    snap = snapshot.Snapshot(slos=(_status(_slo()),), taken_at=5.0, complete=True)
    assert json.dumps(render_slos(snap)) == json.dumps(render_slos(snap))


def test_history_comes_from_the_status_it_belongs_to() -> None:
    """Without a history argument each entry shows the budget history its status carries."""
    carried = snapshot.BudgetHistory(past=((1.0, 0.7),), latest=(2.0, 0.6))
    statuses = (_status(_slo(), budget_history=carried), _status(_slo("search", "latency")))
    doc = render_slos(snapshot.Snapshot(slos=statuses))
    by_service = {e["service"]: e for e in doc["slos"]}  # type: ignore[attr-defined]
    assert by_service["checkout"]["error_budget_history"] == [[1.0, 0.7], [2.0, 0.6]]
    assert by_service["search"]["error_budget_history"] == []
    override = render_slos(snapshot.Snapshot(slos=statuses),
                           {"checkout/availability": [(3.0, 0.1)]})
    assert override["slos"][0]["error_budget_history"] == [[3.0, 0.1]]  # type: ignore[index]
