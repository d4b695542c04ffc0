"""Small builders shared by unit tests: SLOs and snapshots from plain values."""

from __future__ import annotations

from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO, RatioSLI, RollingPeriod, Selector, frozen_map
from slo_exporter.snapshot import AlertState, SLOStatus, WindowValues


def ratio_slo(service: str = "checkout", name: str = "availability", objective: float = 0.999,
              window: float = 30 * 86400.0, **labels: str) -> SLO:
    """A ratio SLO over plain selectors."""
    return SLO(
        service=service, name=name, objective=objective, period=RollingPeriod(window),
        sli=RatioSLI(total=Selector('http_requests_total{job="api"}'),
                     bad=Selector('http_requests_total{job="api",code=~"5.."}')),
        labels=frozen_map(labels),
    )


def status(slo: SLO, counts: dict[float, tuple[float, float]], *, up: bool = True,
           at: float = 1_700_000_000.0, page: bool = False) -> SLOStatus:
    """An SLOStatus with the given (good, total) per window."""
    windows = []
    for w, (good, total) in counts.items():
        sli = good / total if total else None
        burn = (1 - sli) / (1 - slo.objective) if sli is not None else None
        windows.append(WindowValues(window=w, good=good, total=total, sli=sli, burn_rate=burn))
    period = counts.get(slo.period.longest)
    budget = None
    if period and period[1]:
        budget = 1 - (1 - period[0] / period[1]) / (1 - slo.objective)
    alerts = (AlertState("page", 3600.0, 300.0, 14.4, None, None, page),
              AlertState("ticket", 86400.0, 7200.0, 3.0, None, None, False))
    return SLOStatus(slo=slo, windows=tuple(windows), budget_remaining=budget, alerts=alerts,
                     up=up, evaluated_at=at)


def figures(label: str = "2026-03", *, achieved: float | None = 0.9995, objective: float = 0.999,
            start: float = 1_772_319_600.0, end: float = 1_774_994_400.0,
            at: float = 1_773_100_000.0, time_zone: str = "Europe/Berlin",
            **fields: object) -> PeriodFigures:
    """Current-period figures as the engine would attach them; ``met`` follows ``achieved``.

    The default span is March 2026 in Europe/Berlin: 2026-03-01T00:00+01:00
    (1772319600) to 2026-04-01T00:00+02:00 (1774994400).
    """
    met = None if achieved is None else achieved >= objective
    values: dict[str, object] = {"met": met, "coverage": 1.0, "budgeting": "occurrences"}
    values.update(fields)
    return PeriodFigures(label=label, start=start, end=end, at=at, time_zone=time_zone,
                         objective=objective, achieved=achieved,
                         **values)  # type: ignore[arg-type]
