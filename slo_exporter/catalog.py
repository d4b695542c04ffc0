"""The service catalog page served at ``/catalog``: every service as the business sees it.

Owns the HTML of the catalog: per service its description, owner,
commitment (SLA or SLO), what it depends on and what depends on it (linked
within the page), and per SLO (per group of a grouped one, its label values
shown) the objective, the current period, what was achieved to date with a
met/missed verdict, coverage and the projected SLA credit. One table, so
columns line up across services; it scrolls sideways inside its container
on a narrow screen. The frame, style and number formats
are the status page's (``slo_exporter.statuspage``).

Must not read clocks, query anything or keep state: configured services and
a snapshot in, one self-contained document out. Every configured string is
escaped; nothing but labels, names and descriptions from the config reaches
the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from urllib.parse import quote

from slo_exporter import snapshot
from slo_exporter.api import catalog_slos, catalog_statuses, decimal_number, period_zone
from slo_exporter.figures import PeriodFigures
from slo_exporter.model import SLO, Service, SLOId
from slo_exporter.statuspage import (
    GRAFANA_OVERVIEW_UID,
    commitment_badge,
    document,
    grafana_base,
    grafana_link,
    group_label,
    percent,
    table_head,
    timestamp,
    verdict_badge,
)

#: (heading, width in percent, shown on narrow screens too)
_COLUMNS = (
    ("SLO", 18, True), ("Commitment", 13, True), ("Objective", 9, True), ("Period", 13, True),
    ("Achieved to date", 12, True), ("Verdict", 10, True), ("Coverage", 10, True),
    ("Credit exposure", 15, True),
)


def render_catalog(
    services: Sequence[Service], snap: snapshot.Snapshot, *, grafana_url: str | None = None
) -> str:
    """The catalog document for the configured ``services`` and their SLOs' standing in ``snap``."""
    statuses = catalog_statuses(snap)
    names = {service.name for service in services}
    used_by: dict[str, list[str]] = {}
    for service in services:
        for dependency in service.depends_on:
            used_by.setdefault(dependency, []).append(service.name)
    grafana = grafana_base(grafana_url)
    header = (
        f"<p>Snapshot taken {escape(timestamp(snap.taken_at if snap.taken_at > 0 else None))}"
        ' &middot; <a href=".">status</a>'
        ' &middot; <a href="api/v1/services">JSON</a></p>'
    )
    body: list[str] = [_summary(services, statuses)]
    if not services:
        body.append('<p class="empty">No services are configured.</p>')
    else:
        body.append(f'<div class="table-wrap"><table class="catalog">{table_head(_COLUMNS)}')
        for service in sorted(services, key=lambda s: s.name):
            body.append(_service(service, statuses, names, used_by.get(service.name, []),
                                 grafana))
        body.append("</table></div>")
    footer = (
        "Achieved to date: the current period so far, on measured time only; coverage is the "
        "share of the period that was measured. Credit exposure is the service credit the SLA "
        "would owe if the SLA period ended at the level reached so far."
    )
    return document("Service catalog", header, body, footer)


def _summary(
    services: Sequence[Service], statuses: Mapping[SLOId, Sequence[snapshot.SLOStatus]]
) -> str:
    listed = [entry for service in services for entry in catalog_slos(service, statuses)]
    figures = [_figures(status) for _, status in listed]
    exposed = sum(
        1 for slo, status in listed
        if (credit := _credit(slo, _figures(status))) is not None and credit > 0
    )
    counts = (
        ("services", "services", len(services), False),
        ("sla", "under SLA", sum(_commitment(s) == "sla" for s in services), False),
        ("missed", "SLOs missed this period",
         sum(f is not None and f.met is False for f in figures), True),
        ("credit", "SLOs owing credit", exposed, True),
    )
    alarm_class = ' class="alarm"'
    cells = "".join(
        f'<div id="catalog-{key}"{alarm_class if alarm and n else ""}>'
        f"<b>{n}</b>{escape(label)}</div>"
        for key, label, n, alarm in counts
    )
    return f'<div class="summary">{cells}</div>'


def _commitment(service: Service) -> str:
    return "sla" if any(slo.sla is not None for slo in service.slos) else "slo"


def _figures(status: snapshot.SLOStatus | None) -> PeriodFigures | None:
    return status.period if status is not None else None


def _credit(slo: SLO, figures: PeriodFigures | None) -> float | None:
    if slo.sla is None or figures is None or figures.sla is None:
        return None
    return decimal_number(figures.sla.credit_percent)


def _anchor(name: str) -> str:
    return f"service-{name}"


def _service_link(name: str, known: set[str]) -> str:
    """A dependency: a link to its row when it is a configured service, plain text if not."""
    if name in known:
        return f'<a href="#{escape(quote(_anchor(name)))}">{escape(name)}</a>'
    return f'<span title="not a configured service">{escape(name)}</span>'


def _service(
    service: Service,
    statuses: Mapping[SLOId, Sequence[snapshot.SLOStatus]],
    known: set[str],
    used_by: Sequence[str],
    grafana: str | None,
) -> str:
    owner = service.labels.get("owner")
    owner_html = (f'<span class="labels">owner {escape(owner)}</span>' if owner
                  else '<span class="labels">no owner</span>')
    commitment = ('<span class="badge sla">SLA</span>' if _commitment(service) == "sla"
                  else '<span class="badge slo">SLO</span>')
    desc = (f'<div class="desc">{escape(service.description)}</div>'
            if service.description else "")
    relations = []
    if service.depends_on:
        links = ", ".join(_service_link(d, known) for d in service.depends_on)
        relations.append(f'<span class="depends">depends on {links}</span>')
    if used_by:
        links = ", ".join(_service_link(u, known) for u in sorted(used_by))
        relations.append(f'<span class="used-by">used by {links}</span>')
    relation_html = (f'<div class="desc">{" &middot; ".join(relations)}</div>'
                     if relations else "")
    link = grafana_link(grafana, GRAFANA_OVERVIEW_UID, service=service.name)
    dashboard = f'<a class="grafana" href="{escape(link)}">Grafana</a>' if link else ""
    head = (
        f'<tr class="service-head" id="{escape(_anchor(service.name))}">'
        f'<th colspan="{len(_COLUMNS)}">{commitment} {escape(service.name)}{owner_html}'
        f"{dashboard}{desc}{relation_html}</th></tr>"
    )
    rows = "".join(_slo_row(slo, status) for slo, status in catalog_slos(service, statuses))
    if not service.slos:
        rows = f'<tr><td colspan="{len(_COLUMNS)}" class="empty">no SLOs</td></tr>'
    return (f'<tbody class="service" data-service="{escape(service.name)}">'
            f"{head}{rows}</tbody>")


def _slo_row(slo: SLO, status: snapshot.SLOStatus | None) -> str:
    figures = _figures(status)
    label = figures.label if figures is not None else slo.period.label
    zone = period_zone(slo, figures)
    budgeting = {"timeslices": "timeslices", "ratio_timeslices": "ratio timeslices"}.get(
        slo.budgeting.method, "events")
    desc = f'<div class="desc">{escape(slo.description)}</div>' if slo.description else ""
    coverage = figures.coverage if figures is not None else None
    return (
        f'<tr class="slo" data-slo="{escape(slo.key)}">'
        f'<td><span class="slo-name">{escape(slo.name)}</span>{group_label(slo)}{desc}</td>'
        f"<td>{commitment_badge(slo)}</td>"
        f'<td class="num">{escape(percent(slo.objective))}</td>'
        f'<td>{escape(label)}<div class="desc">{escape(zone).replace("/", "/<wbr>")} '
        f"&middot; {budgeting}</div></td>"
        f'<td class="num big">{escape(percent(figures.achieved if figures else None))}</td>'
        f"<td>{verdict_badge(figures)}</td>"
        f'<td class="num">{escape(percent(coverage))}</td>'
        f"<td>{_credit_cell(slo, figures)}</td>"
        "</tr>"
    )


def _credit_cell(slo: SLO, figures: PeriodFigures | None) -> str:
    if slo.sla is None:
        return '<span class="desc">no SLA</span>'
    credit = _credit(slo, figures)
    if credit is None:
        return '<span class="empty">no data</span>'
    if credit > 0:
        return f'<span class="credit">{credit:g}% credit</span>'
    return '<span class="desc">none</span>'
