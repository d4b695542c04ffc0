"""Service-level fields of /api/v1/slos and the /api/v1/services catalog document."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal
from typing import Any

from slo_exporter import model, snapshot
from slo_exporter.api import SCHEMA_VERSION, render_services, render_slos
from slo_exporter.figures import Evidence, SLAOutcome
from slo_exporter.sla import SLA, CreditTier
from tests.support.helpers import figures, ratio_slo, status

AT = 1_773_100_000.0


def _with_sla(slo: model.SLO) -> model.SLO:
    sla = SLA(objective=Decimal("99.9"), tiers=(CreditTier(Decimal("99.9"), Decimal("10")),
                                                 CreditTier(Decimal("99.0"), Decimal("25"))))
    return model.SLO(**{**slo.__dict__, "sla": sla})


def _outcome(credit: str | None, met: bool | None) -> SLAOutcome:
    return SLAOutcome(objective=Decimal("99.9"), label="2026-03", start=0.0, end=1.0,
                      achieved_percent=Decimal("99.5"), met=met,
                      credit_percent=None if credit is None else Decimal(credit))


def _entry(status: snapshot.SLOStatus) -> dict[str, Any]:
    doc = json.loads(json.dumps(render_slos(snapshot.Snapshot(slos=(status,))), allow_nan=False))
    entry: dict[str, Any] = doc["slos"][0]
    return entry


def test_period_fields_come_from_the_current_period_figures() -> None:
    """An SLA SLO carries commitment, period bounds in its zone, compliance and the SLA outcome.

    The period is March 2026 in Europe/Berlin: it starts in CET (+01:00) and
    ends after the switch to CEST (+02:00).
    """
    evidence = Evidence(confidence=0.95, lower=0.9941, upper=0.9958, verdict="missed")
    period = figures(achieved=0.995, coverage=0.97, excluded_seconds=18000.0,
                     budget_spent_ratio=5.0, exhaustion_at=1_772_900_000.0,
                     evidence=evidence, sla=_outcome("10", met=False))
    entry = _entry(snapshot.SLOStatus(slo=_with_sla(ratio_slo()), up=True, evaluated_at=AT,
                                      period=period))
    assert entry["commitment"] == "sla"
    assert entry["budgeting"] == "occurrences"
    assert entry["period"] == {"label": "2026-03", "start": "2026-03-01T00:00:00+01:00",
                               "end": "2026-04-01T00:00:00+02:00", "time_zone": "Europe/Berlin"}
    assert entry["achieved"] == 0.995
    assert entry["met"] is False
    assert entry["coverage"] == 0.97
    assert entry["excluded_seconds"] == 18000.0
    assert entry["budget_spent_ratio"] == 5.0
    assert entry["exhaustion_at"] == 1_772_900_000.0
    assert entry["sla"] == {"objective": 0.999, "credit_percent": 10, "met": False}
    assert entry["evidence"] == {"confidence": 0.95, "lower": 0.9941, "upper": 0.9958,
                                 "verdict": "missed"}
    assert entry["window"] == "30d"  # the old field is kept as it was


def test_fractional_credit_stays_exact_enough() -> None:
    """A credit of 2.5 % is the number 2.5, a whole one an integer."""
    period = figures(sla=_outcome("2.5", met=False))
    entry = _entry(snapshot.SLOStatus(slo=_with_sla(ratio_slo()), period=period))
    assert entry["sla"]["credit_percent"] == 2.5


def test_slo_without_figures_or_sla_has_nulls_not_missing_keys() -> None:
    """Before the period is computed every new field is present: null, or the configured period."""
    entry = _entry(snapshot.SLOStatus(slo=ratio_slo()))
    assert entry["commitment"] == "slo"
    assert entry["period"] == {"label": "30d", "start": None, "end": None, "time_zone": "UTC"}
    for key in ("achieved", "met", "coverage", "excluded_seconds", "budget_spent_ratio",
                "exhaustion_at", "sla", "evidence"):
        assert entry[key] is None, key


def test_sla_without_outcome_keeps_its_objective() -> None:
    """An SLA SLO not yet evaluated shows its committed level with unknown credit and verdict."""
    entry = _entry(snapshot.SLOStatus(slo=_with_sla(ratio_slo())))
    assert entry["sla"] == {"objective": 0.999, "credit_percent": None, "met": None}


def test_non_finite_period_numbers_become_null() -> None:
    """NaN and infinities in the figures are rendered as null so the JSON stays strict."""
    period = figures(achieved=math.nan, coverage=math.inf, budget_spent_ratio=-math.inf,
                     exhaustion_at=math.nan, start=math.nan)
    entry = _entry(snapshot.SLOStatus(slo=ratio_slo(), period=period))
    assert entry["achieved"] is None
    assert entry["coverage"] is None
    assert entry["budget_spent_ratio"] is None
    assert entry["exhaustion_at"] is None
    assert entry["period"]["start"] is None


def _catalog() -> tuple[tuple[model.Service, ...], snapshot.Snapshot]:
    checkout_sla = _with_sla(ratio_slo("checkout", "availability"))
    checkout_latency = ratio_slo("checkout", "latency", objective=0.99)
    search = ratio_slo("search", "latency")
    services = (
        model.Service("search", (search,)),
        model.Service("checkout", (checkout_sla, checkout_latency),
                      labels=model.frozen_map({"owner": "payments", "tier": "1"}),
                      description="Online checkout", depends_on=("payments-vendor",)),
    )
    statuses = (
        snapshot.SLOStatus(slo=checkout_sla, up=True, evaluated_at=AT, period=figures(
            achieved=0.995, coverage=0.97, sla=_outcome("10", met=False))),
        snapshot.SLOStatus(slo=checkout_latency, up=False, evaluated_at=AT, period=figures(
            achieved=0.995, objective=0.99)),
    )
    return services, snapshot.Snapshot(slos=statuses, taken_at=AT, complete=True)


def test_services_document_lists_each_service_with_its_slos() -> None:
    """Every configured service appears in name order with catalog fields and SLO standing."""
    services, snap = _catalog()
    doc = json.loads(json.dumps(render_services(services, snap), allow_nan=False))
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["generated_at"] == AT
    assert doc["complete"] is True
    assert [s["name"] for s in doc["services"]] == ["checkout", "search"]
    checkout = doc["services"][0]
    assert checkout["description"] == "Online checkout"
    assert checkout["labels"] == {"owner": "payments", "tier": "1"}
    assert checkout["owner"] == "payments"
    assert checkout["depends_on"] == ["payments-vendor"]
    assert checkout["commitment"] == "sla"
    # availability missed (10 % credit), latency met; none unknown
    assert checkout["summary"] == {"slos": 2, "met": 1, "missed": 1, "unknown": 0,
                                   "credit_percent": 10}
    assert checkout["slos"][0] == {
        "service": "checkout", "slo": "availability", "group": {}, "commitment": "sla",
        "objective": 0.999,
        "period": "2026-03", "achieved": 0.995, "met": False, "coverage": 0.97,
        "credit_percent": 10, "up": True}
    assert checkout["slos"][1]["commitment"] == "slo"
    assert checkout["slos"][1]["credit_percent"] is None
    assert checkout["slos"][1]["up"] is False


def test_service_not_yet_evaluated_is_unknown_not_met() -> None:
    """A service whose SLOs the snapshot lacks counts them as unknown, with no owner set."""
    services, snap = _catalog()
    search = json.loads(json.dumps(render_services(services, snap)))["services"][1]
    assert search["owner"] is None
    assert search["commitment"] == "slo"
    assert search["summary"] == {"slos": 1, "met": 0, "missed": 0, "unknown": 1,
                                 "credit_percent": None}
    assert search["slos"][0]["achieved"] is None
    assert search["slos"][0]["period"] == "30d"
    assert search["slos"][0]["up"] is False


def test_services_document_is_deterministic() -> None:
    """The same config and snapshot give byte-identical JSON."""
    services, snap = _catalog()
    assert json.dumps(render_services(services, snap)) == json.dumps(
        render_services(tuple(reversed(services)), snap))


def test_calendar_period_window_is_named_by_the_period() -> None:
    """A month SLO's period window is keyed ``month`` in the API, as on /metrics, not ``32d``."""
    slo = dataclasses.replace(ratio_slo(), period=model.CalendarPeriod("month", "Europe/Berlin"))
    entry = _entry(status(slo, {3600.0: (99.0, 100.0), slo.period.longest: (990.0, 1000.0)}))
    assert set(entry["sli"]) == {"1h", "month"}
    assert set(entry["burn_rate"]) == set(entry["events"]) == {"1h", "month"}
